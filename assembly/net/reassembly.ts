// IPv4 reassembly (RFC 791 §3.2, RFC 815's hole idea kept as a bitmap of 8-byte blocks).
// A bounded table of contexts keyed by (src, dst, id, proto); each reassembles into one large
// slot and is dropped after a timeout (Linux's 30 s by default). Overlapping fragments drop the
// whole datagram, as Linux does since the FragmentSmack fixes; an exact duplicate is ignored.
import { carve } from "../mem/layout";
import { slotAlloc, slotData, slotUnref, LARGE_CAP } from "../mem/pool";
import { count, D_FRAG_OVERLAP, D_FRAG_TOO_BIG, D_FRAG_TABLE_FULL, D_FRAG_TIMEOUT, D_FRAG_BAD,
         D_FRAG_DUPLICATE, D_NO_BUFFER, C_IP_REASSEMBLED } from "../counters";
import { reasmSlots, reasmTimeoutNs } from "../schema/config";
import { timerStart, timerCancel } from "../sched/timers";
import { T_REASM } from "../sched/kinds";
import { IP_HLEN } from "../wire/ipv4";
import { nowNs } from "./clock";

const MAX_PAYLOAD: u32 = 65535 - IP_HLEN;
const BLOCKS: u32 = 65536 / 8;
const BITMAP_BYTES: usize = BLOCKS / 8;
const C_SIZE: usize = 48;
const C_USED: usize = 0;     // u8
const C_SRC: usize = 4;
const C_DST: usize = 8;
const C_ID: usize = 12;
const C_PROTO: usize = 16;
const C_SLOT: usize = 20;    // large slot holding the payload
const C_GOT: usize = 24;     // bytes received
const C_TOTAL: usize = 28;   // payload length, 0 until the last fragment arrives
const C_TIMER: usize = 32;

let table: usize = 0;
let bitmaps: usize = 0;

export function reasmInit(): bool {
  table = carve(<usize>reasmSlots * C_SIZE, 64);
  bitmaps = carve(<usize>reasmSlots * BITMAP_BYTES, 64);
  return table != 0 && bitmaps != 0;
}

@inline function ctx(i: u32): usize { return table + <usize>i * C_SIZE; }
@inline function bitmap(i: u32): usize { return bitmaps + <usize>i * BITMAP_BYTES; }

function release(i: u32): void {
  const c = ctx(i);
  timerCancel(load<u32>(c + C_TIMER));
  slotUnref(load<u32>(c + C_SLOT));
  store<u8>(c + C_USED, 0);
}

/** Timer: the datagram did not complete in time. */
export function reasmTimer(i: u32): void {
  const c = ctx(i);
  if (load<u8>(c + C_USED) == 0) return;
  store<u32>(c + C_TIMER, 0);
  count(D_FRAG_TIMEOUT);
  release(i);
}

function find(src: u32, dst: u32, id: u32, proto: u32): i32 {
  let free: i32 = -1;
  for (let i: u32 = 0; i < <u32>reasmSlots; i++) {
    const c = ctx(i);
    if (load<u8>(c + C_USED) == 0) { if (free < 0) free = <i32>i; continue; }
    if (load<u32>(c + C_SRC) == src && load<u32>(c + C_DST) == dst
        && load<u32>(c + C_ID) == id && load<u32>(c + C_PROTO) == proto) return <i32>i;
  }
  if (free < 0) return -1;
  const s = slotAlloc(LARGE_CAP);
  if (s < 0) return -2;
  const c = ctx(<u32>free);
  store<u8>(c + C_USED, 1);
  store<u32>(c + C_SRC, src);
  store<u32>(c + C_DST, dst);
  store<u32>(c + C_ID, id);
  store<u32>(c + C_PROTO, proto);
  store<u32>(c + C_SLOT, <u32>s);
  store<u32>(c + C_GOT, 0);
  store<u32>(c + C_TOTAL, 0);
  store<u32>(c + C_TIMER, timerStart(T_REASM, <u32>free, nowNs + reasmTimeoutNs));
  memory.fill(bitmap(<u32>free), 0, BITMAP_BYTES);
  return free;
}

/** Counts how many of blocks [first, last) are already present. */
function blocksPresent(bm: usize, first: u32, last: u32): u32 {
  let n: u32 = 0;
  for (let b = first; b < last; b++) n += (<u32>load<u8>(bm + (b >> 3)) >> (b & 7)) & 1;
  return n;
}

function markBlocks(bm: usize, first: u32, last: u32): void {
  for (let b = first; b < last; b++) {
    const p = bm + (b >> 3);
    store<u8>(p, load<u8>(p) | <u8>(<u32>1 << (b & 7)));
  }
}

/**
 * Takes one fragment (and its slot reference). Returns 0 while the datagram is incomplete or when
 * the fragment was dropped (counted), else the whole datagram: `(length << 32) | slot`, the large
 * slot's reference passing to the caller.
 */
export function reasmInput(slot: u32, src: u32, dst: u32, id: u32, proto: u32,
                           off: u32, mf: bool, p: usize, len: u32): u64 {
  // Every fragment but the last carries a non-zero multiple of 8 bytes (RFC 791 §3.2).
  if (len == 0 || (mf && (len & 7) != 0)) { count(D_FRAG_BAD); slotUnref(slot); return 0; }
  const end = off + len;
  if (end > MAX_PAYLOAD) { count(D_FRAG_TOO_BIG); slotUnref(slot); return 0; }
  const i = find(src, dst, id, proto);
  if (i == -1) { count(D_FRAG_TABLE_FULL); slotUnref(slot); return 0; }
  if (i == -2) { count(D_NO_BUFFER); slotUnref(slot); return 0; }
  const c = ctx(<u32>i);
  const bm = bitmap(<u32>i);
  const total = load<u32>(c + C_TOTAL);
  const first = off >> 3;
  const last = (end + 7) >> 3;
  const present = blocksPresent(bm, first, last);
  if (present == last - first) { count(D_FRAG_DUPLICATE); slotUnref(slot); return 0; }
  const inconsistent = (!mf && total != 0 && total != end) || (total != 0 && end > total)
                    || (!mf && blocksPresent(bm, last, BLOCKS) != 0);
  if (present != 0 || inconsistent) {
    count(present != 0 ? D_FRAG_OVERLAP : D_FRAG_BAD);
    slotUnref(slot);
    release(<u32>i);
    return 0;
  }
  const dstSlot = load<u32>(c + C_SLOT);
  memory.copy(slotData(dstSlot) + off, p, len);
  slotUnref(slot);
  markBlocks(bm, first, last);
  const got = load<u32>(c + C_GOT) + len;
  store<u32>(c + C_GOT, got);
  const t = mf ? total : end;
  store<u32>(c + C_TOTAL, t);
  if (t == 0 || got != t) return 0;
  // Complete: the large slot's reference passes up to the caller.
  timerCancel(load<u32>(c + C_TIMER));
  store<u8>(c + C_USED, 0);
  count(C_IP_REASSEMBLED);
  return (<u64>t << 32) | dstSlot;
}


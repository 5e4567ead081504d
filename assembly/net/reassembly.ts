// Reassembly for IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5), RFC 815's hole idea kept as a
// bitmap of 8-byte blocks. A bounded table of contexts keyed by (src, dst, id, protocol), an
// IPv4 address held as its IPv4-mapped IPv6 form so the two never meet; each reassembles the
// fragmentable part into one large slot and is dropped after a timeout (Linux's 30 s by
// default). Overlapping fragments drop the whole datagram, as Linux does since the FragmentSmack
// fixes and RFC 5722 asks for IPv6; an exact duplicate (the same first and last block as one
// fragment already taken, RFC 8200 §4.5) is ignored. Three bitmaps of 8-byte blocks per context:
// the blocks present, the blocks a fragment started at, the blocks one ended at.
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
const C_SIZE: usize = 64;
const C_USED: usize = 0;     // u8
const C_ID: usize = 4;
const C_PROTO: usize = 8;
const C_SLOT: usize = 12;    // large slot holding the payload
const C_GOT: usize = 16;     // bytes received
const C_TOTAL: usize = 20;   // payload length, 0 until the last fragment arrives
const C_TIMER: usize = 24;
const C_SRC_HI: usize = 32;  // u64 each
const C_SRC_LO: usize = 40;
const C_DST_HI: usize = 48;
const C_DST_LO: usize = 56;

/** Which datagram a fragment belongs to; the caller fills one and passes it. */
@unmanaged export class ReasmKey {
  srcHi: u64;
  srcLo: u64;
  dstHi: u64;
  dstLo: u64;
  id: u32;
  proto: u32;
}

let table: usize = 0;
let bitmaps: usize = 0;

export function reasmInit(): bool {
  table = carve(<usize>reasmSlots * C_SIZE, 64);
  bitmaps = carve(<usize>reasmSlots * BITMAP_BYTES * 3, 64);
  return table != 0 && bitmaps != 0;
}

@inline function ctx(i: u32): usize { return table + <usize>i * C_SIZE; }
@inline function bitmap(i: u32): usize { return bitmaps + <usize>i * BITMAP_BYTES * 3; }
@inline function starts(bm: usize): usize { return bm + BITMAP_BYTES; }
@inline function ends(bm: usize): usize { return bm + 2 * BITMAP_BYTES; }

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

function find(k: ReasmKey): i32 {
  let free: i32 = -1;
  for (let i: u32 = 0; i < <u32>reasmSlots; i++) {
    const c = ctx(i);
    if (load<u8>(c + C_USED) == 0) { if (free < 0) free = <i32>i; continue; }
    if (load<u32>(c + C_ID) == k.id && load<u32>(c + C_PROTO) == k.proto && load<u64>(c + C_SRC_LO) == k.srcLo
        && load<u64>(c + C_DST_LO) == k.dstLo && load<u64>(c + C_SRC_HI) == k.srcHi && load<u64>(c + C_DST_HI) == k.dstHi) return <i32>i;
  }
  if (free < 0) return -1;
  const s = slotAlloc(LARGE_CAP);
  if (s < 0) return -2;
  const c = ctx(<u32>free);
  store<u8>(c + C_USED, 1);
  store<u64>(c + C_SRC_HI, k.srcHi);
  store<u64>(c + C_SRC_LO, k.srcLo);
  store<u64>(c + C_DST_HI, k.dstHi);
  store<u64>(c + C_DST_LO, k.dstLo);
  store<u32>(c + C_ID, k.id);
  store<u32>(c + C_PROTO, k.proto);
  store<u32>(c + C_SLOT, <u32>s);
  store<u32>(c + C_GOT, 0);
  store<u32>(c + C_TOTAL, 0);
  store<u32>(c + C_TIMER, timerStart(T_REASM, <u32>free, nowNs + reasmTimeoutNs));
  memory.fill(bitmap(<u32>free), 0, BITMAP_BYTES * 3);
  return free;
}

/** Counts how many of blocks [first, last) are already present. */
function blocksPresent(bm: usize, first: u32, last: u32): u32 {
  let n: u32 = 0;
  for (let b = first; b < last; b++) n += (<u32>load<u8>(bm + (b >> 3)) >> (b & 7)) & 1;
  return n;
}

/** Blocks [first, last) are exactly one fragment taken before: it started at `first`, ended at
 *  `last - 1`, and no other fragment started or ended in between. */
function exactDuplicate(bm: usize, first: u32, last: u32): bool {
  return blocksPresent(starts(bm), first, first + 1) == 1 && blocksPresent(ends(bm), last - 1, last) == 1
      && blocksPresent(starts(bm), first + 1, last) == 0 && blocksPresent(ends(bm), first, last - 1) == 0;
}

function markBlocks(bm: usize, first: u32, last: u32): void {
  for (let b = first; b < last; b++) {
    const p = bm + (b >> 3);
    store<u8>(p, load<u8>(p) | <u8>(<u32>1 << (b & 7)));
  }
}

/**
 * Takes one fragment (and its slot reference): `len` bytes at `p` of the fragmentable part, at
 * byte `off`. Returns 0 while the datagram is incomplete or when the fragment was dropped
 * (counted), else the whole fragmentable part: `(length << 32) | slot`, the large slot's
 * reference passing to the caller.
 */
export function reasmInput(slot: u32, k: ReasmKey, off: u32, mf: bool, p: usize, len: u32): u64 {
  // Every fragment but the last carries a non-zero multiple of 8 bytes (RFC 791 §3.2, RFC 8200 §4.5).
  if (len == 0 || (mf && (len & 7) != 0)) { count(D_FRAG_BAD); slotUnref(slot); return 0; }
  const end = off + len;
  if (end > MAX_PAYLOAD) { count(D_FRAG_TOO_BIG); slotUnref(slot); return 0; }
  const i = find(k);
  if (i == -1) { count(D_FRAG_TABLE_FULL); slotUnref(slot); return 0; }
  if (i == -2) { count(D_NO_BUFFER); slotUnref(slot); return 0; }
  const c = ctx(<u32>i);
  const bm = bitmap(<u32>i);
  const total = load<u32>(c + C_TOTAL);
  const first = off >> 3;
  const last = (end + 7) >> 3;
  const present = blocksPresent(bm, first, last);
  if (present == last - first && exactDuplicate(bm, first, last)) { count(D_FRAG_DUPLICATE); slotUnref(slot); return 0; }
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
  markBlocks(starts(bm), first, first + 1);
  markBlocks(ends(bm), last - 1, last);
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


// The connection table's index by four-tuple, so that finding the connection of a segment costs
// the same with ten thousand connections as with one: open addressing with linear probing at
// most half full, and deletion by backward shift (Knuth's algorithm R), so no tombstones pile up
// however many connections come and go. Values are connection indices; the owner (tcb.ts) keeps
// at most one live entry per four-tuple. The peer's address is 128 bits (an IPv4 one as
// mapped4), ours a 32-bit key (route.ts): one index for both IP versions, whose peers never
// compare equal (no IPv6 peer has a mapped address: iface.ts drops them).
import { carve } from "../../mem/layout";
import { addrFold } from "../route";

export const SLOT: usize = 32;     // hi, lo, lport << 16 | rport, lip, value + 1 (0: empty), pad
const S_HI: usize = 0, S_LO: usize = 8, S_PORTS: usize = 16, S_LIP: usize = 20, S_VALUE: usize = 24;

let slots: usize = 0;
let mask: u32 = 0;

export function demuxInit(capacity: u32): bool {
  let n: u32 = 16;
  while (n < capacity * 2) n <<= 1;
  mask = n - 1;
  slots = carve(<usize>n * SLOT, 64);
  return slots != 0;
}

function hash(lip: u32, ports: u32, hi: u64, lo: u64): u32 {
  let h = lip * 0x9e3779b1 ^ addrFold(hi, lo) * 0x85ebca77 ^ ports * 0xc2b2ae3d;
  h ^= h >> 15; h *= 0x2c1b3c6d; h ^= h >> 12;
  return h;
}

/** The index's bytes, all connections together. */
export function demuxBytes(): u32 { return (mask + 1) * <u32>SLOT; }

@inline function slot(i: u32): usize { return slots + <usize>(i & mask) * SLOT; }
@inline function matches(s: usize, lip: u32, ports: u32, hi: u64, lo: u64): bool {
  return load<u32>(s, S_PORTS) == ports && load<u64>(s, S_LO) == lo && load<u64>(s, S_HI) == hi && load<u32>(s, S_LIP) == lip;
}

export function demuxInsert(lip: u32, lport: u32, hi: u64, lo: u64, rport: u32, v: u32): void {
  const ports = lport << 16 | rport;
  let i = hash(lip, ports, hi, lo);
  while (load<u32>(slot(i), S_VALUE) != 0) i++;
  const s = slot(i);
  store<u64>(s, hi, S_HI); store<u64>(s, lo, S_LO); store<u32>(s, ports, S_PORTS); store<u32>(s, lip, S_LIP);
  store<u32>(s, v + 1, S_VALUE);
}

/** The value stored for the four-tuple, or -1. */
export function demuxFind(lip: u32, lport: u32, hi: u64, lo: u64, rport: u32): i32 {
  const ports = lport << 16 | rport;
  let i = hash(lip, ports, hi, lo);
  for (let n: u32 = 0; n <= mask; n++, i++) {      // never all full: at most half
    const s = slot(i);
    const v = load<u32>(s, S_VALUE);
    if (v == 0) break;
    if (matches(s, lip, ports, hi, lo)) return <i32>(v - 1);
  }
  return -1;
}

/** Removes the entry holding `v` for the four-tuple, then closes the gap behind it. */
export function demuxRemove(lip: u32, lport: u32, hi: u64, lo: u64, rport: u32, v: u32): void {
  const ports = lport << 16 | rport;
  let i = hash(lip, ports, hi, lo);
  while (true) {
    const s = slot(i);
    const x = load<u32>(s, S_VALUE);
    if (x == 0) return;                                  // not there
    if (x == v + 1 && matches(s, lip, ports, hi, lo)) break;
    i++;
  }
  // Backward shift: pull later entries of the probe run into the hole when their home slot is
  // not inside (hole, them], so that every remaining entry stays reachable from its home.
  let hole = i;
  for (let j = i + 1; load<u32>(slot(j), S_VALUE) != 0; j++) {
    const s = slot(j);
    const home = hash(load<u32>(s, S_LIP), load<u32>(s, S_PORTS), load<u64>(s, S_HI), load<u64>(s, S_LO));
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      memory.copy(slot(hole), s, SLOT);
      hole = j;
    }
  }
  store<u32>(slot(hole), 0, S_VALUE);
}

// The connection table's index by four-tuple, so that finding the connection of a segment costs
// the same with ten thousand connections as with one: open addressing with linear probing at
// most half full, and deletion by backward shift (Knuth's algorithm R), so no tombstones pile up
// however many connections come and go. Values are connection indices; the owner (tcb.ts) keeps
// at most one live entry per four-tuple.
import { carve } from "../../mem/layout";

export const SLOT: usize = 16;     // lip, lport << 16 | rport, rip, value + 1 (0: empty)

let slots: usize = 0;
let mask: u32 = 0;

export function demuxInit(capacity: u32): bool {
  let n: u32 = 16;
  while (n < capacity * 2) n <<= 1;
  mask = n - 1;
  slots = carve(<usize>n * SLOT, 64);
  return slots != 0;
}

function hash(lip: u32, ports: u32, rip: u32): u32 {
  let h = lip * 0x9e3779b1 ^ rip * 0x85ebca77 ^ ports * 0xc2b2ae3d;
  h ^= h >> 15; h *= 0x2c1b3c6d; h ^= h >> 12;
  return h;
}

/** The index's bytes, all connections together. */
export function demuxBytes(): u32 { return (mask + 1) * <u32>SLOT; }

@inline function slot(i: u32): usize { return slots + <usize>(i & mask) * SLOT; }
@inline function matches(s: usize, lip: u32, ports: u32, rip: u32): bool {
  return load<u32>(s, 4) == ports && load<u32>(s, 8) == rip && load<u32>(s) == lip;
}

export function demuxInsert(lip: u32, lport: u32, rip: u32, rport: u32, v: u32): void {
  const ports = lport << 16 | rport;
  let i = hash(lip, ports, rip);
  while (load<u32>(slot(i), 12) != 0) i++;
  const s = slot(i);
  store<u32>(s, lip); store<u32>(s, ports, 4); store<u32>(s, rip, 8); store<u32>(s, v + 1, 12);
}

/** The value stored for the four-tuple, or -1. */
export function demuxFind(lip: u32, lport: u32, rip: u32, rport: u32): i32 {
  const ports = lport << 16 | rport;
  let i = hash(lip, ports, rip);
  for (let n: u32 = 0; n <= mask; n++, i++) {      // never all full: at most half
    const s = slot(i);
    const v = load<u32>(s, 12);
    if (v == 0) break;
    if (matches(s, lip, ports, rip)) return <i32>(v - 1);
  }
  return -1;
}

/** Removes the entry holding `v` for the four-tuple, then closes the gap behind it. */
export function demuxRemove(lip: u32, lport: u32, rip: u32, rport: u32, v: u32): void {
  const ports = lport << 16 | rport;
  let i = hash(lip, ports, rip);
  for (; ; i++) {
    const s = slot(i);
    const x = load<u32>(s, 12);
    if (x == 0) return;                                  // not there
    if (x == v + 1 && matches(s, lip, ports, rip)) break;
  }
  // Backward shift: pull later entries of the probe run into the hole when their home slot is
  // not inside (hole, them], so that every remaining entry stays reachable from its home.
  let hole = i;
  for (let j = i + 1; ; j++) {
    const s = slot(j);
    if (load<u32>(s, 12) == 0) break;
    const home = hash(load<u32>(s), load<u32>(s, 4), load<u32>(s, 8));
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      memory.copy(slot(hole), s, SLOT);
      hole = j;
    }
  }
  store<u32>(slot(hole), 0, 12);
}

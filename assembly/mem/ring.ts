// Single-producer single-consumer descriptor rings shared with the host (AF_XDP's four-ring model):
//   fill: Wasm -> host, empty slots the host may receive into
//   rx:   host -> Wasm, received frames (offset, length)
//   tx:   Wasm -> host, frames to send
//   comp: host -> Wasm, sent frames whose slots the device has released
// Layout (host/rings.ts mirrors it): u32 prod @0, u32 cons @4, u32 mask @8, entries from @16,
// each entry u32 offset, u32 length. Indices run free and wrap at 2^32.

export const RING_HDR: usize = 16;

export function ringSize(entries: u32): usize {
  return RING_HDR + (<usize>entries << 3);
}

export function ringInit(r: usize, entries: u32): void {
  store<u32>(r, 0);
  store<u32>(r, 0, 4);
  store<u32>(r, entries - 1, 8);
}

@inline export function ringCount(r: usize): u32 {
  return load<u32>(r) - load<u32>(r, 4);
}

@inline export function ringFree(r: usize): u32 {
  return load<u32>(r, 8) + 1 - ringCount(r);
}

/** Appends one entry; false when full. */
@inline export function ringPush(r: usize, off: u32, len: u32): bool {
  const prod = load<u32>(r);
  const mask = load<u32>(r, 8);
  if (prod - load<u32>(r, 4) > mask) return false;
  const e = r + RING_HDR + (<usize>(prod & mask) << 3);
  store<u32>(e, off);
  store<u32>(e, len, 4);
  store<u32>(r, prod + 1);
  return true;
}

/** Address of the entry at consumer position cons + i (caller checks the count). */
@inline export function ringPeek(r: usize, i: u32): usize {
  const cons = load<u32>(r, 4);
  return r + RING_HDR + (<usize>((cons + i) & load<u32>(r, 8)) << 3);
}

@inline export function ringConsume(r: usize, n: u32): void {
  store<u32>(r, load<u32>(r, 4) + n, 4);
}

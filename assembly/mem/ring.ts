// Single-producer single-consumer descriptor rings shared with the host (AF_XDP's four-ring model):
//   fill: Wasm -> host, empty slots the host may receive into
//   rx:   host -> Wasm, received frames (offset, length)
//   tx:   Wasm -> host, frames to send
//   comp: host -> Wasm, sent frames whose slots the device has released
// The layout (header words, entry size) is the schema's: assembly/schema/layout.ts, mirrored by
// host/rings.ts and native/dpdk/dpdk.h from the same definition. Indices run free and wrap at 2^32.
import { RING_PROD, RING_CONS, RING_MASK, RING_HDR, RING_ENTRY } from "../schema/layout";

export function ringSize(entries: u32): usize {
  return RING_HDR + <usize>entries * RING_ENTRY;
}

export function ringInit(r: usize, entries: u32): void {
  store<u32>(r + RING_PROD, 0);
  store<u32>(r + RING_CONS, 0);
  store<u32>(r + RING_MASK, entries - 1);
}

@inline export function ringCount(r: usize): u32 {
  return load<u32>(r + RING_PROD) - load<u32>(r + RING_CONS);
}

@inline export function ringFree(r: usize): u32 {
  return load<u32>(r + RING_MASK) + 1 - ringCount(r);
}

/** Address of the entry at free-running index `i`. */
@inline export function ringEntry(r: usize, i: u32): usize {
  return r + RING_HDR + <usize>(i & load<u32>(r + RING_MASK)) * RING_ENTRY;
}

/** Appends one entry; false when full. */
@inline export function ringPush(r: usize, off: u32, len: u32): bool {
  const prod = load<u32>(r + RING_PROD);
  if (prod - load<u32>(r + RING_CONS) > load<u32>(r + RING_MASK)) return false;
  const e = ringEntry(r, prod);
  store<u32>(e, off);
  store<u32>(e, len, 4);
  store<u32>(r + RING_PROD, prod + 1);
  return true;
}

/** Address of the entry at consumer position cons + i (caller checks the count). */
@inline export function ringPeek(r: usize, i: u32): usize {
  return ringEntry(r, load<u32>(r + RING_CONS) + i);
}

@inline export function ringConsume(r: usize, n: u32): void {
  store<u32>(r + RING_CONS, load<u32>(r + RING_CONS) + n);
}

/** Indices and mask, for a burst loop that reads them once and publishes once (ringPublish). */
@inline export function ringProducer(r: usize): u32 { return load<u32>(r + RING_PROD); }
@inline export function ringConsumer(r: usize): u32 { return load<u32>(r + RING_CONS); }
@inline export function ringMask(r: usize): u32 { return load<u32>(r + RING_MASK); }
@inline export function ringPublish(r: usize, prod: u32): void { store<u32>(r + RING_PROD, prod); }

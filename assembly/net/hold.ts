// A hold queue: the frames, and the push operations behind them, that wait on one neighbor entry
// while its link address is resolved. ARP (neighbor.ts) and Neighbor Discovery (neighbor6.ts)
// each keep one per entry; this is the one code that fills, releases and drops them. A frame's
// slot reference passes to the queue and from it to the link (or back to the pool).
import { slotUnref, metaOf, M_NEXT, M_PTR, M_LEN } from "../mem/pool";
import { count } from "../counters";
import { ethEmit } from "../wire/eth";
import { macHi, macLo } from "../schema/config";
import { qListAppend, qListComplete } from "../sched/qtoken";
import { linkTx } from "./link";

/** Bytes of a hold queue inside its owner's entry: u32 head, tail (slot + 1), count, then the
 *  waiting operations' list head and tail (qtoken + 1). */
export const HOLD_BYTES: usize = 20;
const H_HEAD: usize = 0;
const H_TAIL: usize = 4;
const H_COUNT: usize = 8;
const H_WHEAD: usize = 12;
const H_WTAIL: usize = 16;

@inline export function holdCount(h: usize): u32 { return load<u32>(h + H_COUNT); }

/** Appends a frame (its Ethernet header still to be written) to the queue at `h`. */
export function holdFrame(h: usize, slot: u32, frame: usize, len: u32): void {
  const m = metaOf(slot);
  store<u32>(m + M_NEXT, 0);
  store<u32>(m + M_PTR, <u32>frame);
  store<u32>(m + M_LEN, len);
  const tail = load<u32>(h + H_TAIL);
  if (tail != 0) store<u32>(metaOf(tail - 1) + M_NEXT, slot + 1);
  else store<u32>(h + H_HEAD, slot + 1);
  store<u32>(h + H_TAIL, slot + 1);
  store<u32>(h + H_COUNT, load<u32>(h + H_COUNT) + 1);
}

/** Operation `q` completes when the queue is released or dropped. */
export function holdWait(h: usize, q: u32): void {
  qListAppend(h + H_WHEAD, h + H_WTAIL, q);
}

/** The address is known: every frame goes to the link in order, then the operations complete. */
export function holdRelease(h: usize, dstHi: u32, dstLo: u32, ethertype: u32): void {
  let s = load<u32>(h + H_HEAD);
  while (s != 0) {
    const m = metaOf(s - 1);
    const next = load<u32>(m + M_NEXT);
    const frame = <usize>load<u32>(m + M_PTR);
    ethEmit(frame, dstHi, dstLo, macHi, macLo, ethertype);
    linkTx(s - 1, frame, load<u32>(m + M_LEN));
    s = next;
  }
  clear(h, 0);
}

/** Resolution failed: every frame is dropped and counted as `reason`, the operations fail with `ret`. */
export function holdDrop(h: usize, reason: i32, ret: i32): void {
  let s = load<u32>(h + H_HEAD);
  while (s != 0) {
    const next = load<u32>(metaOf(s - 1) + M_NEXT);
    count(reason);
    slotUnref(s - 1);
    s = next;
  }
  clear(h, ret);
}

function clear(h: usize, ret: i32): void {
  store<u32>(h + H_HEAD, 0);
  store<u32>(h + H_TAIL, 0);
  store<u32>(h + H_COUNT, 0);
  qListComplete(load<u32>(h + H_WHEAD), ret);
  store<u32>(h + H_WHEAD, 0);
  store<u32>(h + H_WTAIL, 0);
}

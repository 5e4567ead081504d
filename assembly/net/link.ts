// The device side of the stack: the four descriptor rings (DPDK l2fwd's shape: drain a burst,
// process each frame, refill). It checks descriptors and moves slot references; what a frame
// means is iface.ts's business, so nothing here calls up.
import { carve } from "../mem/layout";
import { ringSize, ringInit, ringCount, ringFree, ringPush, ringPeek, ringConsume, ringConsumer, ringProducer, ringMask,
         ringPublish } from "../mem/ring";
import { RING_HDR, RING_ENTRY, RX_FORWARD, LEN_MASK, EGRESS_SHIFT, EGRESS_PORTS } from "../schema/layout";
import { slotOf, slotAlloc, slotData, slotCap, slotUnref, slotRc, slotInFill, setSlotInFill, frameCap } from "../mem/pool";
import { count, countN, C_RX_FRAMES, C_RX_BYTES, C_TX_FRAMES, C_TX_BYTES, D_RX_BAD_DESCRIPTOR, D_RX_TOO_LONG,
         D_TX_RING_FULL, D_RX_FILTERED, C_LINK_FORWARDED } from "../counters";
import { ETH_HLEN } from "../wire/eth";

export let fillRing: usize = 0;
export let rxRing: usize = 0;
export let txRing: usize = 0;
export let compRing: usize = 0;
let fillTarget: u32 = 0;

export function linkInit(entries: u32): bool {
  fillRing = carve(ringSize(entries), 64);
  rxRing = carve(ringSize(entries), 64);
  txRing = carve(ringSize(entries), 64);
  compRing = carve(ringSize(entries), 64);
  if (fillRing == 0 || rxRing == 0 || txRing == 0 || compRing == 0) return false;
  ringInit(fillRing, entries);
  ringInit(rxRing, entries);
  ringInit(txRing, entries);
  ringInit(compRing, entries);
  fillTarget = entries >> 1;
  return true;
}

/** No room for another frame until the device takes some (the next turn). */
export function linkTxFull(): bool { return ringFree(txRing) == 0; }

/** Hands a finished frame to the device; the slot's reference moves to the TX ring. */
export function linkTx(slot: u32, frame: usize, len: u32): bool {
  if (!ringPush(txRing, <u32>frame, len)) {
    count(D_TX_RING_FULL);
    slotUnref(slot);
    return false;
  }
  count(C_TX_FRAMES);
  countN(C_TX_BYTES, len);
  return true;
}

/** Keeps the fill ring stocked with empty frame slots for the device to receive into. */
export function linkRefill(): void {
  while (ringCount(fillRing) < fillTarget && ringFree(fillRing) > 0) {
    const s = slotAlloc(frameCap);
    if (s < 0) return;
    setSlotInFill(<u32>s, true);
    ringPush(fillRing, <u32>slotData(<u32>s), frameCap);
  }
}

/** Releases slots the device has finished sending. A descriptor we never issued is counted, not trusted. */
export function linkPollComp(): i32 {
  const n = ringCount(compRing);
  for (let i: u32 = 0; i < n; i++) {
    const ptr = load<u32>(ringPeek(compRing, i));
    const s = slotOf(ptr);
    if (s < 0 || slotRc(<u32>s) == 0 || slotInFill(<u32>s)) { count(D_RX_BAD_DESCRIPTOR); continue; }
    slotUnref(<u32>s);
  }
  ringConsume(compRing, n);
  return <i32>n;
}

/** Received frames waiting in the RX ring, at most `budget`; read with linkRxTake, then linkRxRelease. */
export function linkRxCount(budget: u32): u32 {
  const n = ringCount(rxRing);
  return n > budget ? budget : n;
}

/**
 * The burst's `i`-th received frame, checked: its slot (whose reference passes to the caller) or
 * -1 when the descriptor was bad, filtered by the host or too long (counted, slot given back).
 */
export function linkRxTake(i: u32): i32 {
  const e = ringPeek(rxRing, i);
  const ptr = <usize>load<u32>(e);
  const len = load<u32>(e, 4);
  const s = slotOf(ptr);
  // Only a slot we put in the fill ring, at the place we said, may come back as a frame.
  if (s < 0 || !slotInFill(<u32>s) || ptr != slotData(<u32>s)) { count(D_RX_BAD_DESCRIPTOR); return -1; }
  setSlotInFill(<u32>s, false);
  // The host's NF chain sends the frame out again (TX, or REDIRECT with its egress port in the
  // word): it leaves from this slot, whose reference moves to the TX ring; the device gives it
  // back through the completion ring like a frame the stack sent.
  if ((len & RX_FORWARD) != 0) {
    const word = len & ~RX_FORWARD, n = word & LEN_MASK;
    if (n == 0 || n > slotCap(<u32>s) || (word >> EGRESS_SHIFT) > EGRESS_PORTS) { count(D_RX_BAD_DESCRIPTOR); slotUnref(<u32>s); return -1; }
    if (!ringPush(txRing, <u32>ptr, word)) { count(D_TX_RING_FULL); slotUnref(<u32>s); return -1; }
    count(C_LINK_FORWARDED);
    return -1;
  }
  // Length 0: the host's NF chain dropped the frame (or sent it elsewhere); the slot comes back.
  if (len == 0) { count(D_RX_FILTERED); slotUnref(<u32>s); return -1; }
  if (len > slotCap(<u32>s)) { count(D_RX_TOO_LONG); slotUnref(<u32>s); return -1; }
  count(C_RX_FRAMES);
  countN(C_RX_BYTES, len);
  return s;
}

/** The length of the burst's `i`-th frame (valid after linkRxTake(i) gave a slot). */
@inline export function linkRxLen(i: u32): u32 { return load<u32>(ringPeek(rxRing, i), 4); }

/** Gives the first `n` RX descriptors back to the device. */
export function linkRxRelease(n: u32): void { ringConsume(rxRing, n); }

export function fillCount(): u32 { return ringCount(fillRing); }

/**
 * L2 reflect, the DPDK benchmark's forwarding step: moves up to `budget` frames from the rx ring
 * to the tx ring with source and destination MACs swapped, in place. The frames belong to the
 * device in this mode (a raw port), so no slot reference changes hands.
 */
export function linkReflect(budget: u32): u32 {
  let n = ringCount(rxRing);
  const room = ringFree(txRing);
  if (n > budget) n = budget;
  if (n > room) n = room;
  // Indices and masks read once and published once per burst, like the host side of the rings.
  const rxCons = ringConsumer(rxRing), rxMask = ringMask(rxRing);
  const txProd = ringProducer(txRing), txMask = ringMask(txRing);
  const rxBase = rxRing + RING_HDR, txBase = txRing + RING_HDR;
  for (let i: u32 = 0; i < n; i++) {
    const e = rxBase + <usize>((rxCons + i) & rxMask) * RING_ENTRY;
    const p = <usize>load<u32>(e);
    const len = load<u32>(e, 4);
    if (len >= ETH_HLEN) {
      // Bytes 0-5 (destination) and 6-11 (source) swapped with two loads and two stores.
      const a = load<u64>(p), b = <u64>load<u32>(p, 8);
      const dst = a & 0xffffffffffff;
      store<u64>(p, (a >> 48) | (b << 16) | (dst << 48));
      store<u32>(p, <u32>(dst >> 16), 8);
    }
    store<u64>(txBase + <usize>((txProd + i) & txMask) * RING_ENTRY, load<u64>(e));
  }
  ringConsume(rxRing, n);
  ringPublish(txRing, txProd + n);
  return n;
}

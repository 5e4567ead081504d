// The buffer pool: one page-aligned region of fixed-size slots in two size classes, frame slots
// (DPDK's 2048-byte data room plus headroom, or one jumbo frame when the MTU asks for more) and
// large slots for reassembled or application datagrams up to 64 KiB. Later backends register
// exactly [poolBase, poolBase+poolBytes) with DPDK (rte_extmem_register) and libfabric (fi_mr_reg).
//
// Ownership is a reference count per slot plus an "app owns it" flag: the application holds at
// most one reference (from sgaalloc or pop), and every other holder (TX ring, fill ring, a socket
// queue, an ARP wait queue, reassembly) holds one each. A slot returns to its free stack only when
// the count reaches zero, so a buffer handed to push lives until the link is done with it.
import { carve } from "./layout";
import { HEADROOM, SMALL_SIZE, LARGE_SIZE, ETH_HLEN } from "../schema/layout";

export { HEADROOM };
export const LARGE_CAP: u32 = LARGE_SIZE - HEADROOM;

/**
 * A frame slot's size for an MTU: SMALL_SIZE (DPDK's mbuf) up to MBUF_MTU_MAX, beyond it (jumbo
 * frames, up to MTU_MAX) the headroom, Ethernet header and MTU rounded up to 128 bytes.
 */
export function frameSlotSize(mtu: u32): u32 {
  return max<u32>(SMALL_SIZE, (HEADROOM + ETH_HLEN + mtu + 127) & ~127);
}

// Slot metadata, 32 bytes each, outside the pool so a device never sees it.
export const META_SIZE: usize = 32;
const M_RC: usize = 0;       // u8 reference count
const M_APP: usize = 1;      // u8 1 while the application owns a reference
const M_FILL: usize = 2;     // u8 1 while the slot sits in the fill ring
export const M_NEXT: usize = 4;   // u32 slot index + 1 of the next slot in whatever queue holds it
export const M_PTR: usize = 8;    // u32 payload offset (socket queues, ARP queue)
export const M_LEN: usize = 12;   // u32 payload length
export const M_IP: usize = 16;    // u32 peer address (socket queues) / next hop (ARP queue)
export const M_PORT: usize = 20;  // u32 peer port
export const M_APPPTR: usize = 24; // u32 the pointer the application was given (sgafree must name it)

let smallCount: u32 = 0;
let smallSize: u32 = SMALL_SIZE;
/** What a frame slot holds after its headroom: every frame the link carries fits. */
export let frameCap: u32 = SMALL_SIZE - HEADROOM;
// slotOf's division by smallSize: by 128 with a shift, then by smallSize / 128 as a multiply by
// its reciprocal scaled by 2^40 (exact for offsets below 2^32: the error stays under 2^-15,
// below 1/k for every k a frame slot can have).
let smallRecip: u64 = 0;
let largeCount: u32 = 0;
let total: u32 = 0;
export let poolBase: usize = 0;
let largeBase: usize = 0;
export let poolBytes: usize = 0;
let meta: usize = 0;
let freeSmall: usize = 0;   // stack of small slot indices
let freeLarge: usize = 0;
let nSmallFree: u32 = 0;
let nLargeFree: u32 = 0;

/** Bytes poolInit carves for a pool of this many slots, metadata and alignment included. */
export function poolBytesFor(small: u32, large: u32, frameSize: u32): usize {
  const total = <usize>small + <usize>large;
  return total * (META_SIZE + 4) + <usize>small * frameSize + <usize>large * LARGE_SIZE + 2 * 65536;
}

/** Lays out `small` frame slots of `frameSize` bytes (frameSlotSize) and `large` large ones. */
export function poolInit(small: u32, large: u32, frameSize: u32): bool {
  smallCount = small;
  smallSize = frameSize;
  frameCap = frameSize - HEADROOM;
  smallRecip = (<u64>1 << 40) / <u64>(frameSize >> 7) + 1;
  largeCount = large;
  total = small + large;
  meta = carve(<usize>total * META_SIZE, 64);
  freeSmall = carve(<usize>small << 2, 4);
  freeLarge = carve(<usize>large << 2, 4);
  poolBytes = (<usize>small * smallSize + <usize>large * LARGE_SIZE + 65535) & ~<usize>65535;
  poolBase = carve(poolBytes, 65536);
  if (meta == 0 || freeSmall == 0 || freeLarge == 0 || poolBase == 0) return false;
  largeBase = poolBase + <usize>small * smallSize;
  // Lowest index on top of the stack, so a fresh pool hands out ascending addresses.
  for (let i: u32 = 0; i < small; i++) store<u32>(freeSmall + (<usize>i << 2), small - 1 - i);
  for (let i: u32 = 0; i < large; i++) store<u32>(freeLarge + (<usize>i << 2), total - 1 - i);
  nSmallFree = small;
  nLargeFree = large;
  return true;
}

@inline export function metaOf(slot: u32): usize {
  return meta + <usize>slot * META_SIZE;
}

@inline export function slotBase(slot: u32): usize {
  return slot < smallCount
    ? poolBase + <usize>slot * smallSize
    : largeBase + <usize>(slot - smallCount) * LARGE_SIZE;
}

@inline export function slotData(slot: u32): usize {
  return slotBase(slot) + HEADROOM;
}

@inline export function slotCap(slot: u32): u32 {
  return slot < smallCount ? frameCap : LARGE_CAP;
}

/** The slot containing `ptr`, or -1 when `ptr` lies outside the pool. */
export function slotOf(ptr: usize): i32 {
  if (ptr < poolBase) return -1;
  if (ptr < largeBase) return <i32>((<u64>((ptr - poolBase) >> 7) * smallRecip) >> 40);
  const i = (ptr - largeBase) / LARGE_SIZE;
  if (i >= <usize>largeCount) return -1;
  return <i32>(smallCount + <u32>i);
}

/** Allocates a slot able to hold `len` bytes after the headroom; -1 when none is free. */
export function slotAlloc(len: u32): i32 {
  let s: u32;
  if (len <= frameCap && nSmallFree > 0) {
    s = load<u32>(freeSmall + (<usize>(--nSmallFree) << 2));
  } else if (len <= LARGE_CAP && nLargeFree > 0) {
    s = load<u32>(freeLarge + (<usize>(--nLargeFree) << 2));
  } else {
    return -1;
  }
  const m = metaOf(s);
  store<u8>(m + M_RC, 1);
  store<u8>(m + M_APP, 0);
  store<u8>(m + M_FILL, 0);
  store<u32>(m + M_NEXT, 0);
  return <i32>s;
}

@inline export function slotRef(slot: u32): void {
  const m = metaOf(slot);
  store<u8>(m + M_RC, load<u8>(m + M_RC) + 1);
}

export function slotUnref(slot: u32): void {
  const m = metaOf(slot);
  const rc = load<u8>(m + M_RC);
  if (rc == 0) return; // already free: a stale release must never double-push the free stack
  store<u8>(m + M_RC, rc - 1);
  if (rc == 1) {
    if (slot < smallCount) store<u32>(freeSmall + (<usize>(nSmallFree++) << 2), slot);
    else store<u32>(freeLarge + (<usize>(nLargeFree++) << 2), slot);
  }
}

@inline export function slotRc(slot: u32): u32 { return load<u8>(metaOf(slot) + M_RC); }
@inline export function slotApp(slot: u32): bool { return load<u8>(metaOf(slot) + M_APP) != 0; }
@inline export function setSlotApp(slot: u32, v: bool): void { store<u8>(metaOf(slot) + M_APP, v ? 1 : 0); }

/** Hands the slot's queue reference to the application, which will free it by naming `ptr`. */
@inline export function giveToApp(slot: u32, ptr: usize): void {
  const m = metaOf(slot);
  store<u8>(m + M_APP, 1);
  store<u32>(m + M_APPPTR, <u32>ptr);
}

/** The pointer the application was given for this slot. */
@inline export function appPtr(slot: u32): usize { return <usize>load<u32>(metaOf(slot) + M_APPPTR); }
@inline export function slotInFill(slot: u32): bool { return load<u8>(metaOf(slot) + M_FILL) != 0; }
@inline export function setSlotInFill(slot: u32, v: bool): void { store<u8>(metaOf(slot) + M_FILL, v ? 1 : 0); }

export function poolFreeCount(): u32 { return nSmallFree + nLargeFree; }
export function poolTotal(): u32 { return total; }

// The loopback interface, Linux's `lo`: a datagram to one of our own addresses (our IPv4 address,
// 127.0.0.0/8, our IPv6 addresses, ::1) never reaches the link. The egress layers hand its frame
// here instead of to the neighbor layer, and iface.ts takes it back up from this queue in the
// same turn, as the link's receive ring. A queue rather than a call up keeps every layer below
// iface calling only down, and keeps a protocol from re-entering itself mid-send (Linux's
// loopback_xmit queues to the backlog for the same reason).
import { carve } from "../mem/layout";
import { ringSize, ringInit, ringCount, ringPush, ringPeek, ringConsume } from "../mem/ring";
import { slotAlloc, slotData, slotUnref, slotRc, slotApp } from "../mem/pool";
import { count, C_LOOP_FRAMES, C_LOOP_COPIED, D_LOOP_FULL, D_NO_BUFFER } from "../counters";
import { ethEmit } from "../wire/eth";
import { macHi, macLo } from "../schema/config";
import { ENOBUFS } from "../schema/errno";

// Linux's netdev_max_backlog is 1000; a power of two for the ring.
const ENTRIES: u32 = 1024;
let queue: usize = 0;

export function loopInit(): bool {
  queue = carve(ringSize(ENTRIES), 64);
  if (queue == 0) return false;
  ringInit(queue, ENTRIES);
  return true;
}

/**
 * Queues the frame at `frame` (`len` bytes, its Ethernet header to be written with `type`) for
 * our own input; the slot reference passes on. A buffer that someone else still holds (an
 * application's sga sent zero-copy) is copied, so the receiver never shares memory with the
 * sender; a slot the stack alone holds is handed over as it is. Returns 0 or -ENOBUFS.
 */
export function loopSend(slot: u32, frame: usize, len: u32, type: u32): i32 {
  let s = slot, f = frame;
  if (slotRc(slot) > 1 || slotApp(slot)) {
    const c = slotAlloc(len);
    if (c < 0) { count(D_NO_BUFFER); slotUnref(slot); return -ENOBUFS; }
    s = <u32>c;
    f = slotData(s);
    memory.copy(f, frame, len);
    slotUnref(slot);
    count(C_LOOP_COPIED);
  }
  ethEmit(f, macHi, macLo, macHi, macLo, type);
  if (!ringPush(queue, <u32>f, len)) { count(D_LOOP_FULL); slotUnref(s); return -ENOBUFS; }
  count(C_LOOP_FRAMES);
  return 0;
}

/** Frames waiting to go back up. */
@inline export function loopPending(): u32 { return ringCount(queue); }

/**
 * Takes the oldest queued frame off the queue (before it climbs, so that the replies it causes
 * find room): its address and length as (len << 32 | address). Its slot's reference passes to
 * the caller (slotOf the address).
 */
export function loopTake(): u64 {
  const e = ringPeek(queue, 0);
  const r = (<u64>load<u32>(e, 4) << 32) | <u64>load<u32>(e);
  ringConsume(queue, 1);
  return r;
}

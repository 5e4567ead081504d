// A connection's memory follows its traffic. The send ring holds what the application pushed and
// the peer has not acknowledged, the receive ring what arrived and was not popped, the segment
// log (rack.ts) one entry per segment in flight; each is a block of the buddy allocator
// (mem/buddy.ts) taken when the first byte needs it, doubled when it is full (the bytes move by
// sequence number) and given back when it empties, so an idle connection holds none of them.
// Taken again, a ring starts at the size it had when it last emptied: a request/response
// connection that fills 2 KiB per burst would otherwise allocate and copy its way up from
// 256 bytes every burst (perf: buddyAlloc, buddyFree and the moves, 3-4% of bench tcp's
// request/response loop).
//
// How much a connection may hold is a separate, growing figure, as in Linux: the receive window
// is offered from t.rCap, 64 KiB at first and grown by dynamic right-sizing (what the application
// read in one round trip, doubled, plus 16 segments: Linux's tcp_rcv_space_adjust) up to
// tcp.buffer_bytes. The send buffer takes up to tcp.buffer_bytes of what the application pushed
// (its memory, not a promise to the peer, so it needs no tuning beyond the ring that follows its
// bytes): measured against Linux under 2% loss, a send limit tied to cwnd (Linux's
// tcp_sndbuf_expand) stalled an echo, whose pushes then waited and whose window closed.
// Memory that runs short costs speed, never bytes: a push waits, an arriving segment is dropped
// and counted (its sender retransmits it). Send rings together hold at most half the memory:
// data waiting for an ACK can never take the room the ACK-bringing receives need (two stacks
// whose memory was all send rings would each wait for the other forever).
import { buddyInit, buddyAlloc, buddyFree, buddyTotalBytes, shiftFor } from "../../mem/buddy";
import { count, D_TCP_NO_MEMORY, C_TCP_SEND_MEMORY_SHORT, C_TCP_RCV_BUFFER_GROWN } from "../../counters";
import { tcpBuffer } from "../../schema/config";
import { nowNs } from "../clock";
import { Tcb, ringWrite, ringRead, LOG_ENTRY, sendBlocksFree, sendBlockBytes, receiveBlockFree, sendBytesHeld, sendBytesChange } from "./tcb";
import { logEntriesFor, logMoveTo } from "./rack";

const MIN_RING: u32 = 256;                  // the smallest ring: a request or a reply of a few hundred bytes
const NO_RTT_NS: f64 = 100e6;               // the sizing interval before any round trip is known

/** Takes `bytes` of memory for every connection's rings and logs. */
export function buffersInit(bytes: usize): bool {
  return buddyInit(bytes, shiftFor(<u32>tcpBuffer));
}

// ---- send ----

/**
 * Of `want` more bytes the application pushes, how many the send ring takes now (0 when it is
 * at its limit, or when memory is short: the push then waits for an ACK or the retry timer).
 */
export function sendReserve(t: Tcb, want: u32): u32 {
  const limit = <u32>tcpBuffer;
  if (t.slen >= limit) return 0;
  const n = min(want, limit - t.slen);
  if (t.slen + n <= t.sSize) return n;
  if (growSend(t, t.slen + n)) return n;
  count(C_TCP_SEND_MEMORY_SHORT);
  return t.sSize - t.slen;
}

function growSend(t: Tcb, bytes: u32): bool {
  return t.sbuf == 0 && t.sLast > bytes && growSendTo(t, t.sLast) || growSendTo(t, bytes);
}

function growSendTo(t: Tcb, bytes: u32): bool {
  const shift = shiftFor(max(bytes, MIN_RING));
  const size: u32 = 1 << shift;
  const cap = logEntriesFor(size);
  const oldBytes = sendBlockBytes(t);
  const newBytes = <usize>size + <usize>max(cap, t.logCap) * LOG_ENTRY;
  if (sendBytesHeld() - oldBytes + newBytes > buddyTotalBytes() >> 1) return false;
  const ring = buddyAlloc(shift);
  if (ring == 0) return false;
  let log: usize = 0;
  if (cap != t.logCap) {
    log = buddyAlloc(shiftFor(cap * LOG_ENTRY));
    if (log == 0) { buddyFree(ring, shift); return false; }
  }
  if (t.sbuf != 0) {
    moveRing(t.sbuf, t.sSize, <u32>ring, size, t.sndUna, t.slen);
    buddyFree(t.sbuf, ctz(t.sSize));
  }
  if (log != 0) {
    const oldLog = t.logBase, oldLogBytes = t.logCap * LOG_ENTRY;
    logMoveTo(t, log, cap);
    if (oldLog != 0) buddyFree(oldLog, ctz(oldLogBytes));
  }
  t.sbuf = <u32>ring;
  t.sSize = size;
  sendBytesChange(sendBlockBytes(t), oldBytes);
  return true;
}

/** The peer acknowledged everything queued: the ring and the log go back. */
export function sendDrained(t: Tcb): void {
  if (t.slen == 0 && t.logN == 0) sendBlocksFree(t);
}

// ---- receive ----

/** The first sequence number the receive ring holds: the oldest byte the application has not popped. */
@inline function rcvBase(t: Tcb): u32 { return t.rcvNxt - t.peerFin - t.rlen; }

/**
 * Makes the receive ring hold every byte up to sequence number `end` (inside the window, so at
 * most rCap from the base). False, counted, when memory is short: the segment is not kept.
 */
export function receiveReserve(t: Tcb, end: u32): bool {
  const need = end - rcvBase(t);
  if (need <= t.rSize) return true;
  // rLast is at most rCap (which only grows), as every need is.
  let shift = shiftFor(max(need, MIN_RING));
  let ring: usize = 0;
  if (t.rbuf == 0 && t.rLast > (<u32>1 << shift)) { ring = buddyAlloc(ctz(t.rLast)); if (ring != 0) shift = ctz(t.rLast); }
  if (ring == 0) ring = buddyAlloc(shift);
  if (ring == 0) { count(D_TCP_NO_MEMORY); return false; }
  if (t.rbuf != 0) {
    // Everything held, in order or not, lies within the old ring's span from the base.
    moveRing(t.rbuf, t.rSize, <u32>ring, 1 << shift, rcvBase(t), t.rSize);
    buddyFree(t.rbuf, ctz(t.rSize));
  }
  t.rbuf = <u32>ring;
  t.rSize = 1 << shift;
  return true;
}

/** Copies data into the receive ring (receiveReserve made room). */
export function receiveWrite(t: Tcb, seq: u32, src: usize, n: u32): void {
  ringWrite(t.rbuf, t.rSize, seq, src, n);
}

/**
 * The application took n bytes: they leave the ring, which goes back once nothing is held, and
 * dynamic right-sizing sees them. Once per round trip the buffer grows to twice what was read
 * plus 16 segments when that is more, so the window stays ahead of what the reader drains (a slow
 * reader keeps a small buffer: the window, not memory, holds its sender).
 */
export function receiveTake(t: Tcb, dst: usize, n: u32): void {
  ringRead(t.rbuf, t.rSize, rcvBase(t), dst, n);
  t.rlen -= n;
  if (t.rlen == 0 && t.ooN == 0) receiveBlockFree(t);
  t.rcvCopied += n;
  const rtt = t.rcvRttMs != 0 ? <f64>t.rcvRttMs * 1e6 : t.srtt > 0 ? t.srtt : NO_RTT_NS;
  if (nowNs - t.rcvSpaceTime < rtt) return;
  const most = <u32>tcpBuffer;
  const want = <u64>t.rcvCopied * 2 + <u64>t.mss * 16;
  if (want > <u64>t.rCap && t.rCap < most) {
    t.rCap = 1 << shiftFor(<u32>min<u64>(want, <u64>most));
    count(C_TCP_RCV_BUFFER_GROWN);
  }
  t.rcvCopied = 0;
  t.rcvSpaceTime = nowNs;
}

/**
 * A round-trip sample for a receiver (Linux's tcp_rcv_rtt_measure_ts): a data segment echoes our
 * timestamp (RFC 7323, 1 ms ticks). Smoothed by 1/8 and at least 1 ms.
 */
export function receiveRttSample(t: Tcb, ms: u32): void {
  const s = max<u32>(ms, 1);
  t.rcvRttMs = t.rcvRttMs == 0 ? s : (7 * t.rcvRttMs + s + 7) >> 3;
}

/** Copies `len` bytes from sequence number `from` out of one ring into another of a different size. */
function moveRing(src: u32, srcSize: u32, dst: u32, dstSize: u32, from: u32, len: u32): void {
  const at = from & (srcSize - 1);
  const first = min(len, srcSize - at);
  ringWrite(dst, dstSize, from, <usize>src + at, first);
  if (first < len) ringWrite(dst, dstSize, from + first, <usize>src, len - first);
}

// The sending and receiving machinery of an established connection: what to transmit now
// (RFC 9293 §3.8, windows and congestion), acknowledgments, RTT and RTO (RFC 6298), loss
// recovery (fast retransmit and NewReno's partial ACKs, RFC 5681, RFC 6582; the window sizes
// come from cc.ts), zero-window probes (RFC 9293 §3.8.6.1), receive
// reassembly into the ring with out-of-order ranges, and the connection timers.
import { count, C_TCP_RETRANSMITS, C_TCP_FAST_RETRANSMITS } from "../../counters";
import { SYN, ACK, FIN, PSH } from "../../wire/tcp";
import { tcpRtoMinNs, tcpTimeWaitNs, tcpSynRetries, tcpMaxRetries, tcpDelayedAckNs, tcpKeepIdleNs, tcpKeepIntervalNs,
         tcpKeepProbes } from "../../config";
import { timerStart, timerCancel } from "../../sched/timers";
import { ETIMEDOUT } from "../../errno";
import { nowNs } from "../clock";
import { sendSegment } from "./output";
import { Tcb, tcbIndex, tcbFree, tcbTakeOutput, ringWrite, bufSize, seqLt, seqLe, seqGt, seqGe, MAX_OOO,
         SYN_SENT, SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT, DONE } from "./tcb";
import { connReset, wakePushers, wakePops } from "./events";
import { ccOnLoss, ccOnAck } from "./cc";
import { sackUpdate, sackPipe, sackRetransmit, sackReset } from "./sack";
import { rangeStart, rangeEnd, rangeRemove, rangeInsert } from "./ranges";

export const T_TCP_RTO: u32 = 3;
export const T_TCP_TIME_WAIT: u32 = 4;
export const T_TCP_DELACK: u32 = 5;
export const T_TCP_KEEPALIVE: u32 = 6;
const RTO_MAX_NS: f64 = 60e9;          // RFC 6298 §2.5 allows a cap of at least 60 s
const CLOCK_G_NS: f64 = 1e6;           // our timer granularity

/** Bytes sent and not yet acknowledged (a FIN counts one). */
@inline export function inFlight(t: Tcb): u32 { return t.sndNxt - t.sndUna; }

/** The sequence number of our FIN: right after the last queued byte. */
@inline function finSeq(t: Tcb): u32 { return t.sndUna + t.slen; }

export function armRto(t: Tcb): void {
  timerCancel(t.rtoTimer);
  t.rtoTimer = timerStart(T_TCP_RTO, tcbIndex(t), nowNs + t.rto);
}

export function stopRto(t: Tcb): void {
  timerCancel(t.rtoTimer);
  t.rtoTimer = 0;
}

/** RFC 6298 §2.2–2.3 with a configurable floor. */
export function rttSample(t: Tcb, r: f64): void {
  if (r < 0) return;
  if (t.srtt == 0) { t.srtt = r; t.rttvar = r / 2; }
  else {
    const d = t.srtt > r ? t.srtt - r : r - t.srtt;
    t.rttvar = 0.75 * t.rttvar + 0.25 * d;
    t.srtt = 0.875 * t.srtt + 0.125 * r;
  }
  t.rto = min(RTO_MAX_NS, max(tcpRtoMinNs, t.srtt + max(CLOCK_G_NS, 4 * t.rttvar)));
}

/** Output marked during the turn (tcbQueueOutput), sent at its end; returns how many connections. */
export function tcpFlushOutput(): u32 { return tcbTakeOutput(flushOne); }

function flushOne(t: Tcb): void { if (t.state >= ESTABLISHED && t.state <= TIME_WAIT) tcpOutput(t); }

/**
 * Sends whatever the send and congestion windows allow, then a FIN once the data is out.
 * `force` is the sender's SWS override timeout (RFC 9293 §3.8.6.2.1): one short segment may go.
 */
export function tcpOutput(t: Tcb, force: bool = false): void {
  if (t.state < ESTABLISHED) return;
  if (t.sndWnd > t.maxSndWnd) t.maxSndWnd = t.sndWnd;
  for (;;) {
    const end = t.sndUna + t.slen;                      // first sequence number not queued
    const unsent: u32 = seqLt(t.sndNxt, end) ? end - t.sndNxt : 0;
    const wnd = min(t.sndWnd, t.cwnd);
    // In SACK recovery the window is measured against the pipe estimate (RFC 6675 §5).
    const used = t.inRecovery != 0 && t.skN > 0 ? sackPipe(t) : inFlight(t);
    const usable: u32 = wnd > used ? wnd - used : 0;
    if (unsent > 0 && usable > 0) {
      const n = min(min(t.mss, unsent), usable);
      // Sender-side SWS avoidance (RFC 9293 §3.8.6.2.1): send a full segment, or all that is
      // queued, or at least half the largest window the peer has offered; otherwise wait for
      // the window to open (an ACK is due for what is in flight; else the override timer).
      if (n < t.mss && n < unsent && n < (t.maxSndWnd >> 1) && !force) {
        if (inFlight(t) == 0 && t.rtoTimer == 0) armRto(t);
        break;
      }
      force = false;
      // Nagle (RFC 896, RFC 1122 §4.2.3.4), when asked for: hold a small segment while data is
      // unacknowledged, unless it is the last before our FIN.
      if (t.nagle != 0 && n < t.mss && inFlight(t) > 0 && t.finQueued == 0) break;
      if (!sendSegment(t, t.sndNxt, n, n == unsent ? ACK | PSH : ACK)) return;
      if (t.rttTime == 0 && t.retransmitting == 0) { t.rttTime = nowNs; t.rttSeq = t.sndNxt + n; }
      t.sndNxt += n;
      if (seqGt(t.sndNxt, t.sndMax)) t.sndMax = t.sndNxt;
      if (t.rtoTimer == 0) armRto(t);
      continue;
    }
    if (unsent == 0 && t.finQueued != 0 && t.sndNxt == end && (t.finSent == 0 || seqLt(t.sndNxt, t.sndMax))) {
      if (!sendSegment(t, t.sndNxt, 0, FIN | ACK)) return;
      t.finSent = 1;
      t.sndNxt += 1;
      if (seqGt(t.sndNxt, t.sndMax)) t.sndMax = t.sndNxt;
      if (t.state == ESTABLISHED) t.state = FIN_WAIT_1;
      else if (t.state == CLOSE_WAIT) t.state = LAST_ACK;
      if (t.rtoTimer == 0) armRto(t);
      continue;
    }
    // Data waits behind a zero window: the RTO timer doubles as the persist timer.
    if (unsent > 0 && t.sndWnd == 0 && t.rtoTimer == 0) armRto(t);
    break;
  }
  if (t.ackPending != 0) sendAckNow(t);
}

/**
 * A pure ACK carries SND.MAX, not SND.NXT (as BSD's tcp_output does): after a timeout rewinds
 * SND.NXT, an older sequence number would look like an old duplicate to a peer that already has
 * those bytes, it would answer with an ACK of its own, and two rewound senders would trade ACKs
 * forever.
 */
export function sendAckNow(t: Tcb): void {
  timerCancel(t.ackTimer);
  t.ackTimer = 0;
  sendSegment(t, t.sndMax, 0, ACK);
}

/** Acknowledge now, or within the delayed-ACK time (RFC 1122 §4.2.3.2: at least every second segment). */
export function scheduleAck(t: Tcb, immediate: bool): void {
  t.ackPending++;
  if (immediate || t.ackPending >= 2 || tcpDelayedAckNs <= 0) { sendAckNow(t); return; }
  if (t.ackTimer == 0) t.ackTimer = timerStart(T_TCP_DELACK, tcbIndex(t), nowNs + tcpDelayedAckNs);
}

/** Retransmits the first unacknowledged segment (fast retransmit, partial ACKs). */
function retransmitFirst(t: Tcb): void {
  if (t.slen > 0) sendSegment(t, t.sndUna, min(t.mss, t.slen), ACK);
  else if (t.finSent != 0) sendSegment(t, t.sndUna, 0, FIN | ACK);
  count(C_TCP_RETRANSMITS);
}

/**
 * A segment acknowledges `ack` with window `wnd` (already scaled). Returns false when the ACK
 * was for data never sent (the caller answers with an ACK and drops the segment).
 */
export function processAck(t: Tcb, ack: u32, wnd: u32, seq: u32, dlen: u32, tsEcr: u32, hasTs: bool, flagsFin: bool): bool {
  if (seqGt(ack, t.sndMax)) return false;
  const flight = inFlight(t);
  if (seqGt(ack, t.sndUna)) {
    let acked = ack - t.sndUna;
    // RTT: the echoed timestamp, or the timed segment when nothing was retransmitted (Karn).
    if (hasTs && tsEcr != 0) rttSample(t, (<f64>(<u32>(<u64>(nowNs / 1e6)) - tsEcr)) * 1e6);
    else if (t.rttTime != 0 && seqGe(ack, t.rttSeq)) rttSample(t, nowNs - t.rttTime);
    if (t.rttTime != 0 && seqGe(ack, t.rttSeq)) t.rttTime = 0;
    const finAcked = t.finSent != 0 && seqGe(ack, finSeq(t) + 1);
    const dataAcked = min(acked, t.slen);
    t.slen -= dataAcked;
    t.sndUna = ack;
    if (seqLt(t.sndNxt, t.sndUna)) t.sndNxt = t.sndUna;
    t.retries = 0;
    t.retransmitting = 0;
    // Congestion control: NewReno.
    sackUpdate(t);
    if (t.inRecovery != 0) {
      if (seqGe(ack, t.recover)) {                     // full ACK: leave recovery (RFC 6582 §3.2 step 3)
        t.cwnd = min(t.ssthresh, max(flight - acked, t.mss) + t.mss);
        t.inRecovery = 0;
        sackReset(t);
      } else if (t.sackOk != 0 && t.skN > 0) {         // RFC 6675: fill the holes the pipe allows
        sackRetransmit(t);
      } else {                                         // NewReno partial ACK: next hole, deflate
        retransmitFirst(t);
        t.cwnd = t.cwnd > acked ? t.cwnd - acked + t.mss : t.mss;
      }
    } else if (t.cwnd < t.ssthresh) {
      t.cwnd += min(acked, t.mss);                     // slow start (RFC 5681 §3.1, ABC L=1)
    } else {
      ccOnAck(t, acked);                               // congestion avoidance: CUBIC or NewReno
    }
    t.dupAcks = 0;
    if (t.sndUna == t.sndMax) stopRto(t); else armRto(t);
    if (finAcked) {
      if (t.state == FIN_WAIT_1) t.state = FIN_WAIT_2;
      else if (t.state == CLOSING) enterTimeWait(t);
      else if (t.state == LAST_ACK) { tcbFinish(t); return true; }
    }
    wakePushers(t);
  } else if (ack == t.sndUna && dlen == 0 && !flagsFin && flight > 0 && (sackUpdate(t) || wnd == t.sndWnd)) {
    // A duplicate ACK: RFC 5681 §2 asks for an unchanged window; RFC 6675 §2 also counts an ACK
    // that SACKs new data whatever its window (Linux grows its window while asking for a hole).
    t.dupAcks++;
    if (t.dupAcks == 3 && t.inRecovery == 0 && seqGe(ack, t.recover)) {
      t.ssthresh = ccOnLoss(t, flight);
      t.recover = t.sndMax;
      t.inRecovery = 1;
      count(C_TCP_FAST_RETRANSMITS);
      if (t.sackOk != 0 && t.skN > 0) {
        // RFC 6675 §5: cwnd = ssthresh, then every hole the pipe allows, first one included.
        t.cwnd = t.ssthresh;
        t.highRxt = t.sndUna;
        if (!sackRetransmit(t)) retransmitFirst(t);
      } else {
        t.cwnd = t.ssthresh + 3 * t.mss;              // RFC 5681 §3.2: inflate by the three
        retransmitFirst(t);
      }
    } else if (t.dupAcks > 3 && t.inRecovery != 0) {
      if (t.sackOk != 0 && t.skN > 0) sackRetransmit(t);
      else t.cwnd += t.mss;                            // each further dup ACK: a segment left
    }
  }
  // Window update (RFC 9293 §3.10.7.4, SND.WL1/WL2 rule).
  if (seqLt(t.sndWl1, seq) || (t.sndWl1 == seq && seqLe(t.sndWl2, ack))) {
    t.sndWnd = wnd;
    t.sndWl1 = seq;
    t.sndWl2 = ack;
  }
  return true;
}

/** Accepts segment data into the receive ring; true when it should be acknowledged at once (out of order, or filling a gap). */
export function receiveData(t: Tcb, seq: u32, data: usize, dlen: u32): bool {
  if (seqLt(seq, t.rcvNxt)) {                          // trim what we already have
    const skip = t.rcvNxt - seq;
    if (skip >= dlen) return false;
    data += skip; dlen -= skip; seq = t.rcvNxt;
  }
  const maxEnd = t.rcvNxt + (bufSize - t.rlen);        // never past the window we offered
  if (seqGt(seq + dlen, maxEnd)) dlen = maxEnd - seq;
  if (dlen == 0 || seqGe(seq, maxEnd)) return true;
  ringWrite(t.rbuf, seq, data, dlen);
  if (seq != t.rcvNxt) { addRange(t, seq, seq + dlen); return true; }
  // RFC 5681 §4.2: a segment that fills a gap is acknowledged at once.
  const filledGap = t.ooN > 0;
  t.rcvNxt += dlen;
  t.rlen += dlen;
  // Pull in out-of-order ranges the new data reaches.
  for (let merged = true; merged;) {
    merged = false;
    for (let i: u32 = 0; i < t.ooN; i++) {
      const s = rangeStart(oo(t), i), e = rangeEnd(oo(t), i);
      if (seqLe(s, t.rcvNxt)) {
        if (seqGt(e, t.rcvNxt)) { t.rlen += e - t.rcvNxt; t.rcvNxt = e; }
        removeRange(t, i);
        merged = true;
        break;
      }
    }
  }
  wakePops(t);
  return filledGap || t.ooN > 0;
}

@inline function oo(t: Tcb): usize { return changetype<usize>(t) + offsetof<Tcb>("ooS0"); }

function removeRange(t: Tcb, i: u32): void {
  rangeRemove(oo(t), t.ooN, i);
  t.ooN--;
}

/** Records [s, e), merging with ranges it touches; the newest range goes first (RFC 2018 §4). */
function addRange(t: Tcb, s: u32, e: u32): void {
  for (let i: u32 = 0; i < t.ooN;) {
    const rs = rangeStart(oo(t), i), re = rangeEnd(oo(t), i);
    if (seqLe(rs, e) && seqLe(s, re)) {
      if (seqLt(rs, s)) s = rs;
      if (seqGt(re, e)) e = re;
      removeRange(t, i);
    } else i++;
  }
  // Full: forget the oldest range (its bytes will simply be sent again).
  if (<i32>t.ooN >= MAX_OOO) t.ooN--;
  rangeInsert(oo(t), t.ooN, 0, s, e);
  t.ooN++;
}

export function enterTimeWait(t: Tcb): void {
  t.state = TIME_WAIT;
  stopRto(t);
  timerCancel(t.twTimer);
  t.twTimer = timerStart(T_TCP_TIME_WAIT, tcbIndex(t), nowNs + tcpTimeWaitNs);
}

/** The connection is over on our side: free it now if the application has let go of it. */
export function tcbFinish(t: Tcb): void {
  stopRto(t);
  if (t.qd < 0) tcbFree(t);
  else { timerCancel(t.twTimer); timerCancel(t.ackTimer); t.twTimer = 0; t.ackTimer = 0; t.state = DONE; }
}

/** (Re)arms the keepalive timer from the last segment received. */
export function armKeepalive(t: Tcb): void {
  timerCancel(t.keepTimer);
  t.keepTimer = t.keepalive != 0 ? timerStart(T_TCP_KEEPALIVE, tcbIndex(t), t.lastRx + tcpKeepIdleNs) : 0;
}

/** RFC 1122 §4.2.3.6: after the idle time, probe (Linux's form, SEQ = SND.UNA - 1, no data). */
function keepaliveTimer(t: Tcb): void {
  t.keepTimer = 0;
  if (t.keepalive == 0 || t.state != ESTABLISHED && t.state != CLOSE_WAIT) return;
  if (nowNs - t.lastRx < tcpKeepIdleNs && t.keepProbes == 0) { armKeepalive(t); return; }
  if (<i32>t.keepProbes >= tcpKeepProbes) { connReset(t, ETIMEDOUT); return; }
  t.keepProbes++;
  sendSegment(t, t.sndUna - 1, 0, ACK);
  t.keepTimer = timerStart(T_TCP_KEEPALIVE, tcbIndex(t), nowNs + tcpKeepIntervalNs);
}

/** Timers. */
export function tcpTimer(kind: u32, t: Tcb): void {
  if (kind == T_TCP_KEEPALIVE) { keepaliveTimer(t); return; }
  if (kind == T_TCP_TIME_WAIT) { t.twTimer = 0; tcbFinish(t); return; }
  if (kind == T_TCP_DELACK) { t.ackTimer = 0; if (t.ackPending != 0) sendAckNow(t); return; }
  t.rtoTimer = 0;
  if (t.state == SYN_SENT || t.state == SYN_RCVD) {
    if (<i32>t.retries >= tcpSynRetries) { connReset(t, ETIMEDOUT); return; }
    t.retries++;
    t.rto = min(RTO_MAX_NS, t.rto * 2);
    count(C_TCP_RETRANSMITS);
    sendSegment(t, t.iss, 0, t.state == SYN_SENT ? SYN : SYN | ACK);
    armRto(t);
    return;
  }
  if (t.sndWnd > 0 && t.slen > 0 && inFlight(t) == 0) {
    tcpOutput(t, true);                                // SWS override: the window stayed small
    return;
  }
  if (t.sndWnd == 0 && t.slen > 0 && inFlight(t) == 0) {
    // Persist (RFC 9293 §3.8.6.1): probe the zero window, backing off, without counting toward
    // giving up. The probe is Linux's: no data, SEQ = SND.UNA - 1, which any receiver finds
    // unacceptable and answers with an ACK carrying its current window.
    sendSegment(t, t.sndUna - 1, 0, ACK);
    t.rto = min(RTO_MAX_NS, t.rto * 2);
    armRto(t);
    return;
  }
  if (t.sndMax != t.sndUna) {
    // RFC 6298 §5.4–5.7 and RFC 5681 §3.1: back off, collapse the window, go back to SND.UNA.
    if (<i32>t.retries >= tcpMaxRetries) { connReset(t, ETIMEDOUT); return; }
    t.retries++;
    t.ssthresh = ccOnLoss(t, inFlight(t));
    t.cwnd = t.mss;
    t.inRecovery = 0;
    t.dupAcks = 0;
    t.recover = t.sndMax;
    sackReset(t);                                      // RFC 6675 §5.1: after a timeout, start over
    t.sndNxt = t.sndUna;
    t.retransmitting = 1;
    t.rttTime = 0;
    t.rto = min(RTO_MAX_NS, t.rto * 2);
    count(C_TCP_RETRANSMITS);
    tcpOutput(t);
    if (t.rtoTimer == 0) armRto(t);
    return;
  }
}

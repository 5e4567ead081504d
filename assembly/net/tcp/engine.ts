// The sending and receiving machinery of an established connection: what to transmit now
// (RFC 9293 §3.8, windows and congestion), acknowledgments, RTT and RTO (RFC 6298), loss
// recovery (fast retransmit and NewReno's partial ACKs, RFC 5681, RFC 6582; the window sizes
// come from cc.ts), zero-window probes (RFC 9293 §3.8.6.1), receive
// reassembly into the ring with out-of-order ranges, and the connection timers.
import { count, D_TCP_OOO_FULL, C_TCP_RETRANSMITS, C_TCP_FAST_RETRANSMITS, C_TCP_RTO_RETRANSMITS, C_TCP_TLP_PROBES, C_TCP_UNDOS } from "../../counters";
import { TcpRepr, SYN, ACK, FIN, PSH } from "../../wire/tcp";
import { tcpRtoMinNs, tcpTimeWaitNs, tcpSynRetries, tcpMaxRetries, tcpDelayedAckNs, tcpKeepIdleNs, tcpKeepIntervalNs,
         tcpKeepProbes } from "../../schema/config";
import { timerStart, timerCancel } from "../../sched/timers";
import { T_TCP_RTO, T_TCP_TIME_WAIT, T_TCP_DELACK, T_TCP_KEEPALIVE, T_TCP_REORDER, T_TCP_PTO, T_TCP_MEMORY } from "../../sched/kinds";
import { ETIMEDOUT } from "../../schema/errno";
import { nowNs } from "../clock";
import { sendSegment, tsNow, rcvWindow, pathMss } from "./output";
import { sendDrained, receiveReserve, receiveWrite } from "./buffers";
import { linkTxFull } from "../link";
import { Tcb, tcbIndex, tcbFree, tcbDone, tcbTakeOutput, tcbQueueOutput, seqLt, seqLe, seqGt, seqGe, MAX_OOO, oo,
         SYN_SENT, SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT, DONE } from "./tcb";
import { connReset, wakePushers, wakePops } from "./events";
import { ccOnLoss, ccOnAck } from "./cc";
import { sackUpdate, retransmitLost } from "./sack";
import { logAcked, logPipe, logAllLost, logClearLost, lostBytes, sackedBytes, lastSent, rackDetectLoss, eStart, eEnd } from "./rack";
import { rangeStart, rangeEnd, rangeRemove, rangeInsert } from "./ranges";

const MEMORY_RETRY_NS: f64 = 1e6;
const TLP_MAX_ACK_DELAY_NS: f64 = 200e6; // RFC 8985 §7.2 WCDelAckT
const RTO_MAX_NS: f64 = 60e9;          // RFC 6298 §2.5 allows a cap of at least 60 s
const CLOCK_G_NS: f64 = 1e6;           // our timer granularity
const ACK_EVERY_BYTES: u32 = 65536;    // a burst's segments get an ACK at least this often (scheduleAck)

/** Bytes sent and not yet acknowledged (a FIN counts one). */
@inline export function inFlight(t: Tcb): u32 { return t.sndNxt - t.sndUna; }

/** Bytes queued and not yet sent (a FIN sent counts none). */
export function unsentBytes(t: Tcb): u32 {
  const end = t.sndUna + t.slen;
  return seqLt(t.sndNxt, end) ? end - t.sndNxt : 0;
}

/** The sequence number of our FIN: right after the last queued byte. */
@inline function finSeq(t: Tcb): u32 { return t.sndUna + t.slen; }

export function armRto(t: Tcb): void {
  timerCancel(t.rtoTimer);
  t.ptoArmed = 0;
  t.rtoTimer = timerStart(T_TCP_RTO, tcbIndex(t), nowNs + t.rto);
}

export function stopRto(t: Tcb): void {
  timerCancel(t.rtoTimer);
  t.rtoTimer = 0;
  t.ptoArmed = 0;
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

function flushOne(t: Tcb): void {
  if (t.state < ESTABLISHED || t.state > TIME_WAIT) return;
  tcpOutput(t);
  if (t.ackPending >= 2) sendAckNow(t);                // the burst's ACK, unless data carried it
}

/**
 * Sends whatever the send and congestion windows allow: first the segments deemed lost, then
 * new data, then a FIN once the data is out. `force` is the sender's SWS override timeout
 * (RFC 9293 §3.8.6.2.1): one short segment may go.
 */
export function tcpOutput(t: Tcb, force: bool = false): void {
  if (t.state < ESTABLISHED) return;
  if (t.sndWnd > t.maxSndWnd) t.maxSndWnd = t.sndWnd;
  // After the last retransmission of a recovery only ACKs can end it: the probe timer watches
  // for their loss (see armRetransmitTimer).
  if (t.sackOk != 0 && retransmitLost(t) && t.inRecovery != 0 && lostBytes(t) == 0) armRetransmitTimer(t);
  while (true) {
    const end = t.sndUna + t.slen;                      // first sequence number not queued
    const unsent = unsentBytes(t);
    const usable = sendRoom(t);
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
      if (!sendNew(t, n, n == unsent ? ACK | PSH : ACK)) { retryLater(t); return; }
      continue;
    }
    if (unsent == 0 && t.finQueued != 0 && t.sndNxt == end && (t.finSent == 0 || seqLt(t.sndNxt, t.sndMax))) {
      if (sendSegment(t, t.sndNxt, 0, FIN | ACK) < 0) { retryLater(t); return; }
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
}

/**
 * A send failed: with the transmit ring full it is tried again next turn, once the device has
 * taken frames (thousands of connections sending at once drain at the link's pace instead of
 * each waiting out an RTO); with buffers short, when the RTO timer fires.
 */
function retryLater(t: Tcb): void {
  if (linkTxFull()) tcbQueueOutput(t);
  else if (t.rtoTimer == 0) armRto(t);
}

/** A push found no memory for the send ring, or a pop no buffer, and nothing else will wake it: it tries again shortly. */
export function armMemoryRetry(t: Tcb): void {
  if (t.memTimer == 0) t.memTimer = timerStart(T_TCP_MEMORY, tcbIndex(t), nowNs + MEMORY_RETRY_NS);
}

/**
 * Room for new data: the congestion window less the pipe (what is in flight and neither SACKed
 * nor lost, RFC 6675 §4), and the peer's window less everything outstanding. Without SACK, the
 * first two duplicate ACKs each let one more segment go (limited transmit, RFC 3042); with SACK
 * the pipe already counts what those ACKs reported as having left the network.
 */
function sendRoom(t: Tcb): u32 {
  const flight = inFlight(t);
  const used = t.sackOk != 0 ? logPipe(t) : flight;
  let cwnd = t.cwnd;
  if (t.sackOk == 0 && t.inRecovery == 0 && t.dupAcks > 0) cwnd += min<u32>(t.dupAcks, 2) * t.mss;
  const cwndRoom: u32 = cwnd > used ? cwnd - used : 0;
  const wndRoom: u32 = t.sndWnd > flight ? t.sndWnd - flight : 0;
  return min(cwndRoom, wndRoom);
}

/** Sends up to n new bytes from SND.NXT, times them for an RTT sample and arms a timer. */
function sendNew(t: Tcb, want: u32, flags: u32): bool {
  const sent = sendSegment(t, t.sndNxt, want, flags);
  if (sent < 0) return false;
  const n = <u32>sent;
  if (t.rttTime == 0 && t.retransmitting == 0) { t.rttTime = nowNs; t.rttSeq = t.sndNxt + n; }
  t.sndNxt += n;
  if (seqGt(t.sndNxt, t.sndMax)) t.sndMax = t.sndNxt;
  // A running RTO keeps its deadline (RFC 6298 §5.1); the PTO moves with every transmission of
  // new data (RFC 8985 §7.2), so that it is 2·SRTT after the last segment, not the first.
  if (t.rtoTimer == 0 || t.ptoArmed != 0) armRetransmitTimer(t);
  return true;
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

/**
 * Acknowledge now, at the end of the turn, or within the delayed-ACK time. RFC 1122 §4.2.3.2
 * asks for an ACK at least every second segment: from the second on, the ACK waits for the end
 * of the turn (tcpFlushOutput), so a burst of segments received together gets one ACK, as Linux
 * acknowledges what GRO merged; and like GRO's 64 KiB, a burst gets an ACK at least every 64 KiB.
 */
export function scheduleAck(t: Tcb, immediate: bool): void {
  t.ackPending++;
  if (immediate || tcpDelayedAckNs <= 0 || t.ackPending * t.mss >= ACK_EVERY_BYTES) { sendAckNow(t); return; }
  if (t.ackPending == 2) tcbQueueOutput(t);
  if (t.ackTimer == 0) t.ackTimer = timerStart(T_TCP_DELACK, tcbIndex(t), nowNs + tcpDelayedAckNs);
}

/** Retransmits the first unacknowledged segment (NewReno's fast retransmit and partial ACKs; a lost FIN). */
function retransmitFirst(t: Tcb): void {
  if (t.slen > 0) sendSegment(t, t.sndUna, min(t.mss, t.slen), ACK);
  else if (t.finSent != 0) { sendSegment(t, t.sndUna, 0, FIN | ACK); count(C_TCP_RETRANSMITS); t.nRetrans++; }
}

/**
 * The timer for what is outstanding: a tail loss probe timeout (RFC 8985 §7.2) while SACK is on,
 * no probe is out and either no recovery runs and nothing is SACKed (RFC 8985's conditions) or a
 * recovery has retransmitted everything it deemed lost; else the retransmission timeout.
 *
 * The second case goes beyond RFC 8985, which leaves it to the RTO: the recovery can then only
 * end by ACKs, and when the peer's own data has stopped (our receive window closed, as in an
 * echo whose sender is the slower side) a single lost ACK of the peer's — a cumulative one for
 * everything — cost 200 ms each time against Linux at 2% loss. The probe costs at most one
 * segment, reported back as a D-SACK when it was not needed.
 */
export function armRetransmitTimer(t: Tcb): void {
  timerCancel(t.rtoTimer);
  t.ptoArmed = 0;
  const probeable = t.inRecovery == 0 ? sackedBytes(t) == 0 : lostBytes(t) == 0;
  if (t.sackOk != 0 && probeable && t.tlpActive == 0 && t.srtt > 0 && t.logN > 0) {
    // PTO = 2·SRTT, plus the peer's delayed-ACK allowance when one segment is out (RFC 8985 §7.2).
    let pto = 2 * t.srtt;
    if (inFlight(t) <= t.mss) pto += TLP_MAX_ACK_DELAY_NS;
    t.ptoArmed = 1;
    t.rtoTimer = timerStart(T_TCP_PTO, tcbIndex(t), nowNs + min(pto, t.rto));
    return;
  }
  t.rtoTimer = timerStart(T_TCP_RTO, tcbIndex(t), nowNs + t.rto);
}

/** RFC 8985 §7.3: the probe is new data if the windows allow, else the last segment sent again. */
export function tailLossProbe(t: Tcb): void {
  t.rtoTimer = 0;
  t.ptoArmed = 0;
  if (t.sndMax == t.sndUna) return;
  const unsent = unsentBytes(t);
  const wndRoom: u32 = t.sndWnd > inFlight(t) ? t.sndWnd - inFlight(t) : 0;
  let sent = false;
  if (unsent > 0 && wndRoom > 0) {
    sent = sendNew(t, min(min(t.mss, unsent), wndRoom), ACK | PSH);
    t.tlpRetx = 0;
  } else {
    const x = lastSent(t);
    if (x != 0) {
      const s = seqGt(eStart(x), eEnd(x) - t.mss) ? eStart(x) : eEnd(x) - t.mss;
      sent = sendSegment(t, s, eEnd(x) - s, ACK | PSH) >= 0;
      t.tlpRetx = 1;
    }
  }
  if (sent) {
    t.tlpActive = 1;
    t.tlpEnd = t.sndMax;
    t.nTlp++;
    count(C_TCP_TLP_PROBES);
  }
  armRto(t);
}

/** A congestion response begins (recovery or timeout): remember what undoing it restores. */
function beginUndoEpisode(t: Tcb): void {
  t.priorCwnd = t.cwnd;
  t.priorSsthresh = t.ssthresh;
  t.undoRetrans = 0;
  t.undoMarker = t.sndUna;
  t.undoPossible = 1;
}

/** The congestion response was needless: restore the window (RFC 3522 §3, RFC 2883 §5). */
function undo(t: Tcb): void {
  t.cwnd = max(t.cwnd, t.priorCwnd);
  t.ssthresh = max(t.ssthresh, t.priorSsthresh);
  t.undoPossible = 0;
  t.retxTsVal = 0;
  t.reordSeen = 1;                                     // what looked like loss was reordering or delay
  t.inRecovery = 0;
  logClearLost(t);                                     // nothing outstanding was lost after all
  t.nUndo++;
  count(C_TCP_UNDOS);
}

/** A D-SACK: one retransmission of this episode was needless; when none was needed, undo. */
function onDsack(t: Tcb, s: u32, e: u32): void {
  t.reordSeen = 1;
  if (t.tlpActive != 0 && t.tlpRetx != 0 && e == t.tlpEnd) { t.tlpActive = 0; return; }   // the probe was needless
  if (t.undoPossible == 0 || seqLt(s, t.undoMarker)) return;
  t.undoRetrans -= <i32>((e - s + t.mss - 1) / t.mss);
  if (t.undoRetrans <= 0 && (t.inRecovery == 0 || t.retxTsVal != 0)) undo(t);
}

/** Fast recovery begins (RFC 6675 §5 with SACK, RFC 6582 without): the loss response, once per episode. */
function enterRecovery(t: Tcb, flight: u32): void {
  beginUndoEpisode(t);
  t.ssthresh = ccOnLoss(t, flight);
  t.recover = t.sndMax;
  t.inRecovery = 1;
  t.nFastRecoveries++;
  count(C_TCP_FAST_RETRANSMITS);
}

/** SACK loss recovery for one ACK: RACK marks losses, recovery begins, PRR sizes the window. */
function sackRecovery(t: Tcb, delivered: u32, flight: u32): void {
  const wait = rackDetectLoss(t, t.inRecovery != 0, <u32>(t.srtt / 1e3));
  armReorderTimer(t, wait);
  if (t.inRecovery == 0 && lostBytes(t) > 0) {
    enterRecovery(t, flight);
    t.recoverFs = flight;
    t.prrDelivered = 0;
    t.prrOut = 0;
    if (t.ptoArmed != 0) armRetransmitTimer(t);        // no probe while losses wait to be resent
  }
  if (t.inRecovery != 0) prr(t, delivered);
}

/**
 * Proportional rate reduction (RFC 6937 §3): during recovery, send in proportion to what is
 * delivered so the window comes down to ssthresh smoothly, and (PRR-SSRB) rebuild it by slow
 * start when the pipe fell below. The result becomes cwnd = pipe + sndcnt, as Linux does.
 */
function prr(t: Tcb, delivered: u32): void {
  t.prrDelivered += delivered;
  const pipe = logPipe(t);
  let sndcnt: i64;
  if (pipe > t.ssthresh) {
    const fs = max<u32>(t.recoverFs, 1);
    sndcnt = (<i64>t.prrDelivered * <i64>t.ssthresh + <i64>fs - 1) / <i64>fs - <i64>t.prrOut;
  } else {
    const limit = max<i64>(<i64>t.prrDelivered - <i64>t.prrOut, <i64>delivered) + <i64>t.mss;
    sndcnt = min<i64>(<i64>t.ssthresh - <i64>pipe, limit);
  }
  if (t.prrOut == 0 && sndcnt < <i64>t.mss) sndcnt = <i64>t.mss;   // the fast retransmit goes at once
  if (sndcnt < 0) sndcnt = 0;
  t.cwnd = pipe + <u32>sndcnt;
}

function armReorderTimer(t: Tcb, waitUs: u32): void {
  timerCancel(t.rackTimer);
  t.rackTimer = waitUs > 0 ? timerStart(T_TCP_REORDER, tcbIndex(t), nowNs + <f64>waitUs * 1e3) : 0;
}

/** RFC 8985 §6.2: the reordering window ran out for a segment still neither SACKed nor ACKed. */
export function reorderTimer(t: Tcb): void {
  t.rackTimer = 0;
  if (t.state < ESTABLISHED || t.sndUna == t.sndMax) return;
  sackRecovery(t, 0, inFlight(t));
  tcpOutput(t);
}

/**
 * Segment `seg` (carrying `dlen` bytes, and a FIN when `flagsFin`) acknowledges what it does.
 * Returns false when the ACK was for data never sent (the caller answers with an ACK and drops
 * the segment).
 */
export function processAck(t: Tcb, seg: TcpRepr, dlen: u32, flagsFin: bool): bool {
  const ack = seg.ack, seq = seg.seq, tsEcr = seg.tsEcr, hasTs = seg.hasTs;
  const wnd = seg.window << t.sndShift;
  if (seqGt(ack, t.sndMax)) return false;
  const flight = inFlight(t);
  const advanced = seqGt(ack, t.sndUna);
  // DeliveredData (RFC 6937 §3): bytes newly acknowledged or SACKed.
  let deliveredBytes: u32 = 0;
  if (advanced) deliveredBytes += logAcked(t, ack);
  const newlySacked = sackUpdate(t, seg, onDsack);
  deliveredBytes += newlySacked;
  if (advanced) {
    let acked = ack - t.sndUna;
    // RTT: the echoed timestamp, or the timed segment when nothing was retransmitted (Karn).
    if (hasTs && tsEcr != 0) rttSample(t, <f64>(tsNow() - tsEcr) * 1e6);
    else if (t.rttTime != 0 && seqGe(ack, t.rttSeq)) rttSample(t, nowNs - t.rttTime);
    if (t.rttTime != 0 && seqGe(ack, t.rttSeq)) t.rttTime = 0;
    // Eifel (RFC 3522 §3): the first ACK after a timeout echoes a timestamp older than the
    // retransmission: the original arrived, the timeout was spurious. Undo, and go on from
    // SND.MAX rather than send everything again (RFC 4015 §2).
    if (t.retxTsVal != 0) {
      if (t.undoPossible != 0 && hasTs && tsEcr != 0 && seqLt(tsEcr, t.retxTsVal)) {
        undo(t);                                       // which also forgets what was deemed lost
        t.sndNxt = t.sndMax;
        t.retransmitting = 0;
      }
      t.retxTsVal = 0;
    }
    const finAcked = t.finSent != 0 && seqGe(ack, finSeq(t) + 1);
    const dataAcked = min(acked, t.slen);
    t.slen -= dataAcked;
    sendDrained(t);
    t.sndUna = ack;
    if (seqLt(t.sndNxt, t.sndUna)) t.sndNxt = t.sndUna;
    t.retries = 0;
    t.retransmitting = 0;
    if (t.tlpActive != 0 && seqGe(ack, t.tlpEnd)) {
      // RFC 8985 §7.4: a probe that retransmitted and was needed repaired a real tail loss.
      if (t.tlpRetx != 0 && t.inRecovery == 0) { t.ssthresh = ccOnLoss(t, flight); t.cwnd = t.ssthresh; }
      t.tlpActive = 0;
    }
    if (t.inRecovery != 0) {
      if (seqGe(ack, t.recover)) {                     // full ACK: leave recovery (RFC 6582 §3.2, RFC 6937 §3)
        t.cwnd = t.sackOk != 0 ? max(t.ssthresh, t.mss) : min(t.ssthresh, max(flight - acked, t.mss) + t.mss);
        t.inRecovery = 0;
      } else if (t.sackOk == 0) {                      // NewReno partial ACK: next hole, deflate
        retransmitFirst(t);
        t.cwnd = t.cwnd > acked ? t.cwnd - acked + t.mss : t.mss;
      }
    } else if (t.cwnd < t.ssthresh) {
      // Slow start (RFC 5681 §3.1) by every byte the ACK covers, up to ssthresh, as Linux counts
      // it (tcp_slow_start): with receivers that acknowledge a burst at once (ours, scheduleAck;
      // Linux's after GRO), counting one segment per ACK (ABC's L = 1, RFC 3465) made it linear.
      t.cwnd = min(t.cwnd + acked, t.ssthresh);
    } else {
      ccOnAck(t, acked);                               // congestion avoidance: CUBIC or NewReno
    }
    t.dupAcks = 0;
    if (t.sndUna == t.sndMax) { stopRto(t); t.tlpActive = 0; } else armRetransmitTimer(t);
    if (finAcked) {
      if (t.state == FIN_WAIT_1) { t.state = FIN_WAIT_2; finWait2Orphaned(t); }
      else if (t.state == CLOSING) enterTimeWait(t);
      else if (t.state == LAST_ACK) { tcbFinish(t); return true; }
    }
    wakePushers(t);
  } else if (ack == t.sndUna && dlen == 0 && !flagsFin && flight > 0 && (newlySacked > 0 || wnd == t.sndWnd)) {
    // A duplicate ACK: RFC 5681 §2 asks for an unchanged window; RFC 6675 §2 also counts an ACK
    // that SACKs new data whatever its window (Linux grows its window while asking for a hole).
    t.dupAcks++;
    if (t.sackOk == 0) newRenoDupAck(t, ack, flight);
  }
  if (t.sackOk != 0 && (advanced || newlySacked > 0)) sackRecovery(t, deliveredBytes, flight);
  // Window update (RFC 9293 §3.10.7.4, SND.WL1/WL2 rule).
  if (seqLt(t.sndWl1, seq) || (t.sndWl1 == seq && seqLe(t.sndWl2, ack))) {
    t.sndWnd = wnd;
    t.sndWl1 = seq;
    t.sndWl2 = ack;
  }
  return true;
}

/** Without SACK: three duplicate ACKs start fast retransmit, more inflate the window (RFC 5681 §3.2, RFC 6582). */
function newRenoDupAck(t: Tcb, ack: u32, flight: u32): void {
  if (t.dupAcks == 3 && t.inRecovery == 0 && seqGe(ack, t.recover)) {
    enterRecovery(t, flight);
    t.cwnd = t.ssthresh + 3 * t.mss;                  // inflate by the three
    retransmitFirst(t);
  } else if (t.dupAcks > 3 && t.inRecovery != 0) {
    t.cwnd += t.mss;                                   // each further dup ACK: a segment left
  }
}

/** Accepts segment data into the receive ring; true when it should be acknowledged at once (out of order, or filling a gap). */
export function receiveData(t: Tcb, seq: u32, data: usize, dlen: u32): bool {
  if (seqLt(seq, t.rcvNxt)) {                          // trim what we already have, and say so
    const skip = t.rcvNxt - seq;
    noteDuplicate(t, seq, seq + min(skip, dlen));
    if (skip >= dlen) return true;
    data += skip; dlen -= skip; seq = t.rcvNxt;
  }
  const maxEnd = t.rcvNxt + rcvWindow(t);               // never past the window we offered
  if (seqGt(seq + dlen, maxEnd)) dlen = maxEnd - seq;
  if (dlen == 0 || seqGe(seq, maxEnd)) return true;
  if (!receiveReserve(t, seq + dlen)) return false;    // memory short: dropped, counted; it comes again
  receiveWrite(t, seq, data, dlen);
  if (seq != t.rcvNxt) {
    if (heldOutOfOrder(t, seq, seq + dlen)) noteDuplicate(t, seq, seq + dlen);
    else if (!addRange(t, seq, seq + dlen)) count(D_TCP_OOO_FULL);
    return true;
  }
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


/**
 * A segment brought bytes we already hold: our next ACK reports them first, as a D-SACK block
 * (RFC 2883 §4), so the sender learns its retransmission was needless.
 */
export function noteDuplicate(t: Tcb, s: u32, e: u32): void {
  if (t.sackOk == 0) return;
  t.dsackS = s;
  t.dsackE = e;
  t.dsackPending = 1;
}

/** Whether an out-of-order range already holds all of [s, e). */
function heldOutOfOrder(t: Tcb, s: u32, e: u32): bool {
  for (let i: u32 = 0; i < t.ooN; i++) if (seqLe(rangeStart(oo(t), i), s) && seqLe(e, rangeEnd(oo(t), i))) return true;
  return false;
}

function removeRange(t: Tcb, i: u32): void {
  rangeRemove(oo(t), t.ooN, i);
  t.ooN--;
}

/**
 * Records [s, e), merging with ranges it touches; the newest range goes first (RFC 2018 §4).
 * With every range in use and none touched, the segment is not kept (false): forgetting a range
 * we have SACKed instead would renege, and a sender that trusts its scoreboard (Linux's does)
 * would not resend those bytes until its retransmission timer fired.
 */
function addRange(t: Tcb, s: u32, e: u32): bool {
  for (let i: u32 = 0; i < t.ooN;) {
    const rs = rangeStart(oo(t), i), re = rangeEnd(oo(t), i);
    if (seqLe(rs, e) && seqLe(s, re)) {
      if (seqLt(rs, s)) s = rs;
      if (seqGt(re, e)) e = re;
      removeRange(t, i);
    } else i++;
  }
  if (t.ooN >= MAX_OOO) return false;                  // no merge happened, or there would be room
  rangeInsert(oo(t), t.ooN, 0, s, e);
  t.ooN++;
  return true;
}

/**
 * FIN_WAIT_2 with the application gone waits for a FIN that a vanished peer never sends: like
 * Linux (tcp_fin_timeout), it ends after the TIME_WAIT interval. A half-closed socket the
 * application still holds waits as long as it likes.
 */
export function finWait2Orphaned(t: Tcb): void {
  if (t.state != FIN_WAIT_2 || t.qd >= 0 || t.twTimer != 0) return;
  t.twTimer = timerStart(T_TCP_TIME_WAIT, tcbIndex(t), nowNs + tcpTimeWaitNs);
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
  else { timerCancel(t.twTimer); timerCancel(t.ackTimer); t.twTimer = 0; t.ackTimer = 0; tcbDone(t); }
}

/** (Re)arms the keepalive timer from the last segment received. */
export function armKeepalive(t: Tcb): void {
  timerCancel(t.keepTimer);
  t.keepTimer = t.keepalive != 0 ? timerStart(T_TCP_KEEPALIVE, tcbIndex(t), t.lastRx + tcpKeepIdleNs) : 0;
}

/** RFC 1122 §4.2.3.6: after the idle time, probe (Linux's form, SEQ = SND.UNA - 1, no data). */
export function keepaliveTimer(t: Tcb): void {
  t.keepTimer = 0;
  if (t.keepalive == 0 || t.state != ESTABLISHED && t.state != CLOSE_WAIT) return;
  if (nowNs - t.lastRx < tcpKeepIdleNs && t.keepProbes == 0) { armKeepalive(t); return; }
  if (<i32>t.keepProbes >= tcpKeepProbes) { connReset(t, ETIMEDOUT); return; }
  t.keepProbes++;
  sendSegment(t, t.sndUna - 1, 0, ACK);
  t.keepTimer = timerStart(T_TCP_KEEPALIVE, tcbIndex(t), nowNs + tcpKeepIntervalNs);
}

/** TIME_WAIT's 2MSL (or an orphaned FIN_WAIT_2's limit) ended: the connection is gone. */
export function timeWaitTimer(t: Tcb): void { t.twTimer = 0; tcbFinish(t); }

/** The delayed ACK is due. */
export function delayedAckTimer(t: Tcb): void { t.ackTimer = 0; if (t.ackPending != 0) sendAckNow(t); }

/** Memory was short and nothing else would wake the waiting pushes and pops: they try again. */
export function memoryTimer(t: Tcb): void { t.memTimer = 0; wakePushers(t); wakePops(t); }

/**
 * The path to the peer carries at most `mtu` bytes (a Packet Too Big, RFC 8201 §5.2): segments
 * sized by the old MSS were dropped on the way. What is outstanding goes again at once at the new
 * size: with SACK every unSACKed segment is deemed lost and resent in pieces of the new MSS (as
 * after a timeout, RFC 8985 §6.3), without it from SND.UNA. Not a congestion signal: the window
 * and ssthresh stay (Linux's tcp_simple_retransmit); no RTT sample from what is resent (Karn).
 */
export function pathMtuReduced(t: Tcb, mtu: u32): void {
  const mss = pathMss(t, mtu);
  if (mss >= t.mss) return;
  t.mss = mss;
  if (t.sndMax == t.sndUna) return;
  if (t.sackOk != 0) logAllLost(t);
  else t.sndNxt = t.sndUna;
  t.retransmitting = 1;
  t.rttTime = 0;
  tcpOutput(t);
}

/** The retransmission timer: SYN retries, a stalled send, the persist probe, or RTO recovery. */
export function rtoTimer(t: Tcb): void {
  t.rtoTimer = 0;
  t.ptoArmed = 0;
  if (t.state == SYN_SENT || t.state == SYN_RCVD) {
    if (<i32>t.retries >= tcpSynRetries) { connReset(t, ETIMEDOUT); return; }
    t.retries++;
    t.rto = min(RTO_MAX_NS, t.rto * 2);
    count(C_TCP_RETRANSMITS);
    sendSegment(t, t.iss, 0, t.state == SYN_SENT ? SYN : SYN | ACK);
    armRto(t);
    return;
  }
  if (inFlight(t) == 0 && (t.sndWnd > 0 && t.slen > 0 || t.finQueued != 0 && t.finSent == 0)) {
    tcpOutput(t, true);                                // SWS override, or a send that had failed
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
    // RFC 6298 §5.4–5.7 and RFC 5681 §3.1: back off and collapse the window. With SACK every
    // outstanding segment is deemed lost and resent as the window allows (RFC 8985 §6.3);
    // without, go back to SND.UNA.
    if (<i32>t.retries >= tcpMaxRetries) { connReset(t, ETIMEDOUT); return; }
    t.retries++;
    if (t.retries == 1) {
      if (t.inRecovery == 0) beginUndoEpisode(t);
      t.retxTsVal = tsNow();                           // Eifel: an echo older than this says "spurious"
    }
    t.ssthresh = ccOnLoss(t, inFlight(t));
    t.cwnd = t.mss;
    t.inRecovery = 0;
    t.dupAcks = 0;
    t.recover = t.sndMax;
    t.tlpActive = 0;
    t.nRtoRetrans++;
    count(C_TCP_RTO_RETRANSMITS);
    if (t.sackOk != 0) {
      logAllLost(t);
      if (lostBytes(t) == 0) retransmitFirst(t);       // no data is out, only our FIN
    } else t.sndNxt = t.sndUna;
    t.retransmitting = 1;
    t.rttTime = 0;
    t.rto = min(RTO_MAX_NS, t.rto * 2);
    tcpOutput(t);
    if (t.rtoTimer == 0) armRto(t);
    return;
  }
}

// Segment arrival, in the order of RFC 9293 §3.10.7: no connection (RST, or a SYN for a
// listener), SYN-SENT, then for synchronized states: sequence check (with PAWS, RFC 7323 §5),
// RST (RFC 5961 §3 challenge ACK unless exact), SYN (RFC 5961 §4 challenge ACK), ACK, data, FIN.
import { slotUnref } from "../../mem/pool";
import { count, D_TCP_BAD_CHECKSUM, D_TCP_MALFORMED, D_TCP_NO_LISTENER, D_TCP_OUT_OF_WINDOW,
         D_TCP_SYN_QUEUE_FULL, D_TCP_NO_TCB, D_IP_NOT_FOR_US, C_TCP_SEGMENTS_IN, C_TCP_CHALLENGE_ACKS, C_TCP_SYN_COOKIES_SENT,
         C_TCP_SYN_COOKIES_ACCEPTED } from "../../counters";
import { TcpRepr, tcpParse, TCP_OK, TCP_BAD_CHECKSUM, SYN, ACK, FIN, RST } from "../../wire/tcp";
import { pseudoAddr4 } from "../../wire/checksum";
import { Ipv6Repr, pseudoAddr6, mapped4 } from "../../wire/ipv6";
import { addrFold } from "../route";
import { addr6Index } from "../addr6";
import { tcpRtoInitialNs } from "../../schema/config";
import { ECONNREFUSED, ECONNRESET } from "../../schema/errno";
import { qComplete } from "../../sched/qtoken";
import { sock, S_BACKLOG, S_PENDING } from "../socket";
import { Tcb, tcb, tcbAlloc, tcbLookup, tcbBind, tcbScratch, seqLt, seqLe, seqGt, seqGe,
         SYN_SENT, SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, TIME_WAIT } from "./tcb";
import { tcpOutput, pathMtuReduced, processAck, receiveData, scheduleAck, sendAckNow, enterTimeWait, armRto, armKeepalive, stopRto, noteDuplicate } from "./engine";
import { nowNs } from "../clock";
import { sendSegment, sendReset, resetPeer, rcvWindow, tsNow } from "./output";
import { receiveRttSample } from "./buffers";
import { connReset, wakePops } from "./events";
import { listenerFor, tcpIsn, negotiate, queueAccepted } from "./stream";
import { cookieMake, cookieCheck } from "./cookie";

// The segment being received: parsed once here and handed to every step that reads it, and
// where it came from: the IP version, our address's key and the peer (route.ts).
const seg = changetype<TcpRepr>(memory.data(offsetof<TcpRepr>()));
let fromV6 = false;
let fromLocal: u32 = 0;
let fromHi: u64 = 0;
let fromLo: u64 = 0;

export function tcpInput(slot: u32, src: u32, dst: u32, p: usize, len: u32): void {
  if (dst == 0xffffffff) { count(D_IP_NOT_FOR_US); slotUnref(slot); return; }   // TCP is unicast only
  fromV6 = false; fromLocal = dst; fromHi = 0; fromLo = mapped4(src);
  segmentInput(slot, p, len, pseudoAddr4(src, dst));
}

/** A segment over IPv6 (`ip` its header), to one of our addresses. */
export function tcpInput6(slot: u32, ip: Ipv6Repr, p: usize, len: u32): void {
  const local = addr6Index(ip.dstHi, ip.dstLo);
  if (local < 0) { count(D_IP_NOT_FOR_US); slotUnref(slot); return; }            // a group: TCP is unicast only
  fromV6 = true; fromLocal = <u32>local; fromHi = ip.srcHi; fromLo = ip.srcLo;
  segmentInput(slot, p, len, pseudoAddr6(ip));
}

/** A Packet Too Big (iface) for a segment of ours from `local`:`lport` to hi:lo:`rport`. */
export function tcpPathMtu(local: u32, lport: u32, hi: u64, lo: u64, rport: u32, mtu: u32): void {
  const i = tcbLookup(local, lport, hi, lo, rport);
  if (i >= 0 && tcb(<u32>i).v6 != 0) pathMtuReduced(tcb(<u32>i), mtu);
}

function segmentInput(slot: u32, p: usize, len: u32, pseudo: u64): void {
  const r = tcpParse(p, len, pseudo, seg);
  if (r != TCP_OK) { count(r == TCP_BAD_CHECKSUM ? D_TCP_BAD_CHECKSUM : D_TCP_MALFORMED); slotUnref(slot); return; }
  count(C_TCP_SEGMENTS_IN);
  const i = tcbLookup(fromLocal, seg.dstPort, fromHi, fromLo, seg.srcPort);
  if (i < 0) noConnection(seg, p + seg.hlen, len - seg.hlen);
  else {
    const t = tcb(<u32>i);
    if (t.state == SYN_SENT) synSent(t, seg);
    else segment(t, seg, p + seg.hlen, len - seg.hlen);
  }
  slotUnref(slot);
}

/** A reset to the sender of the segment being received. */
function resetSender(seq: u32, ack: u32, withAck: bool): void {
  sendReset(fromV6, fromLocal, fromHi, fromLo, seg.dstPort, seg.srcPort, seq, ack, withAck);
}

/** The keyed-hash inputs of the segment's four-tuple (ISN, cookie): our key and the folded peer. */
@inline function peerKey(): u32 { return addrFold(fromHi, fromLo); }

/**
 * RFC 9293 §3.10.7.1–2: a SYN for a listener opens a connection, an ACK with a valid SYN cookie
 * completes one (RFC 4987); anything else gets a RST.
 */
function noConnection(seg: TcpRepr, data: usize, dlen: u32): void {
  const flags = seg.flags;
  if ((flags & RST) != 0) return;
  const l = listenerFor(fromV6, fromLocal, seg.dstPort);
  if (l >= 0 && (flags & (SYN | ACK)) == SYN) { passiveOpen(seg, l); return; }
  if (l >= 0 && (flags & (SYN | ACK)) == ACK) {
    const mss = cookieCheck(fromLocal, seg.dstPort, peerKey(), seg.srcPort, seg.seq - 1, seg.ack - 1);
    if (mss != 0) { cookieOpen(seg, l, mss, data, dlen); return; }
  }
  count(D_TCP_NO_LISTENER);
  if ((flags & ACK) != 0) resetSender(seg.ack, 0, false);
  else {
    const segLen = dlen + ((flags & SYN) != 0 ? 1 : 0) + ((flags & FIN) != 0 ? 1 : 0);
    resetSender(0, seg.seq + segLen, true);
  }
}

function passiveOpen(seg: TcpRepr, lqd: i32): void {
  const s = sock(<u32>lqd);
  const pending = load<u32>(s + S_PENDING);
  if (pending >= load<u32>(s + S_BACKLOG)) {
    // The queue is full (a burst, or a flood): answer with a cookie and hold nothing.
    count(D_TCP_SYN_QUEUE_FULL);
    const t = tcbScratch();
    t.v6 = fromV6 ? 1 : 0;
    t.lip = fromLocal; t.lport = seg.dstPort; t.ripHi = fromHi; t.ripLo = fromLo; t.rport = seg.srcPort;
    t.rcvNxt = seg.seq + 1; t.rcvAdv = t.rcvNxt;
    t.state = SYN_RCVD;
    sendSegment(t, cookieMake(fromLocal, seg.dstPort, peerKey(), seg.srcPort, seg.seq, seg.mss), 0, SYN | ACK);
    count(C_TCP_SYN_COOKIES_SENT);
    return;
  }
  const i = tcbAlloc();
  if (i < 0) {
    // The table is full of live connections: refuse at once (the peer sees ECONNREFUSED) rather
    // than leave it retrying SYNs into silence. A full SYN queue stays silent, as Linux's: that
    // is a burst, and the peer's retry will find room.
    count(D_TCP_NO_TCB);
    resetSender(0, seg.seq + 1, true);
    return;
  }
  const t = tcb(<u32>i);
  tcbBind(t, fromV6, fromLocal, seg.dstPort, fromHi, fromLo, seg.srcPort);
  t.listener = lqd;
  t.irs = seg.seq; t.rcvNxt = seg.seq + 1;
  t.rcvAdv = t.rcvNxt;                                 // no window advertised yet in this sequence space
  t.iss = tcpIsn(fromLocal, seg.dstPort, peerKey(), seg.srcPort);
  t.sndUna = t.iss; t.sndNxt = t.iss + 1; t.sndMax = t.iss + 1;
  negotiate(t, seg.mss, seg.wscale, seg.sackPerm, seg.hasTs, seg.tsVal, true);
  t.sndWnd = seg.window;                                // never scaled in a SYN (RFC 7323 §2.2)
  t.sndWl1 = seg.seq; t.sndWl2 = t.iss;
  t.rto = tcpRtoInitialNs;
  t.state = SYN_RCVD;
  store<u32>(s + S_PENDING, pending + 1);
  sendSegment(t, t.iss, 0, SYN | ACK);
  armRto(t);
}

/**
 * An ACK that returns a SYN cookie: the connection its SYN asked for, established at once, with
 * the MSS the cookie kept and no other option (RFC 4987 §3.6); data riding on the ACK is taken.
 */
function cookieOpen(seg: TcpRepr, lqd: i32, mss: u32, data: usize, dlen: u32): void {
  const i = tcbAlloc();
  if (i < 0) { count(D_TCP_NO_TCB); resetSender(seg.ack, 0, false); return; }
  const t = tcb(<u32>i);
  tcbBind(t, fromV6, fromLocal, seg.dstPort, fromHi, fromLo, seg.srcPort);
  t.listener = lqd;
  t.irs = seg.seq - 1; t.rcvNxt = seg.seq; t.rcvAdv = t.rcvNxt;
  t.iss = seg.ack - 1; t.sndUna = seg.ack; t.sndNxt = seg.ack; t.sndMax = seg.ack;
  negotiate(t, mss, -1, false, false, 0, false);
  t.sndWnd = seg.window;
  t.sndWl1 = seg.seq; t.sndWl2 = seg.ack;
  t.rto = tcpRtoInitialNs;
  t.state = ESTABLISHED;
  const s = sock(<u32>lqd);
  store<u32>(s + S_PENDING, load<u32>(s + S_PENDING) + 1);
  count(C_TCP_SYN_COOKIES_ACCEPTED);
  queueAccepted(t);
  t.lastRx = nowNs;
  if (dlen > 0 || (seg.flags & FIN) != 0) segment(t, seg, data, dlen);
}

/** RFC 9293 §3.10.7.3. */
function synSent(t: Tcb, seg: TcpRepr): void {
  const flags = seg.flags;
  const ack = seg.ack;
  const hasAck = (flags & ACK) != 0;
  if (hasAck && (seqLe(ack, t.iss) || seqGt(ack, t.sndNxt))) {
    if ((flags & RST) == 0) resetPeer(t, ack);
    return;
  }
  if ((flags & RST) != 0) { if (hasAck) connReset(t, ECONNREFUSED); return; }
  if ((flags & SYN) == 0) return;
  t.irs = seg.seq;
  t.rcvNxt = seg.seq + 1;
  t.rcvAdv = t.rcvNxt;                                 // no window advertised yet in this sequence space
  negotiate(t, seg.mss, seg.wscale, seg.sackPerm, seg.hasTs, seg.tsVal, true);
  t.sndWnd = seg.window;
  t.sndWl1 = seg.seq;
  t.sndWl2 = ack;
  t.retries = 0;
  if (hasAck) {
    t.sndUna = ack;
    t.state = ESTABLISHED;
    stopRto(t);                                   // nothing in flight after the handshake
    if (t.connectQt != 0) { qComplete(t.connectQt - 1, 0); t.connectQt = 0; }
    t.lastRx = nowNs;
    armKeepalive(t);
    sendAckNow(t);
    tcpOutput(t);
  } else {
    t.state = SYN_RCVD;                                // simultaneous open (RFC 9293 §3.5, figure 8)
    sendSegment(t, t.iss, 0, SYN | ACK);
  }
}


/** RFC 9293 §3.10.7.4: the acceptability test, for a window of `wnd` bytes. */
function acceptable(t: Tcb, seq: u32, segLen: u32, wnd: u32): bool {
  // A segment without data may sit at the right edge: a sender that filled our window and lost
  // a segment in it sends its ACKs from there, and they carry what it acknowledges of ours.
  // RFC 9293 §3.10.7.4 asks for "special allowance" for such ACKs; Linux's tcp_sequence() takes
  // SEG.SEQ <= RCV.NXT + RCV.WND, and so do we (for a zero window: SEG.SEQ = RCV.NXT).
  if (segLen == 0) return seqGe(seq, t.rcvNxt) && seqLe(seq, t.rcvNxt + wnd);
  if (wnd == 0) return false;
  return (seqGe(seq, t.rcvNxt) && seqLt(seq, t.rcvNxt + wnd))
      || (seqGe(seq + segLen - 1, t.rcvNxt) && seqLt(seq + segLen - 1, t.rcvNxt + wnd));
}

function challengeAck(t: Tcb): void {
  count(C_TCP_CHALLENGE_ACKS);
  sendAckNow(t);
}

function segment(t: Tcb, seg: TcpRepr, data: usize, dlen: u32): void {
  const flags = seg.flags;
  const seq = seg.seq;
  const segLen = dlen + ((flags & SYN) != 0 ? 1 : 0) + ((flags & FIN) != 0 ? 1 : 0);
  // Simultaneous open (RFC 9293 §3.5, figure 8): the peer's SYN-ACK repeats its SYN (SEQ = IRS,
  // which the acceptability test below would refuse) and acknowledges ours: established.
  if (t.state == SYN_RCVD && (flags & (SYN | ACK | RST)) == (SYN | ACK) && seq == t.irs
      && seqLt(t.sndUna, seg.ack) && seqLe(seg.ack, t.sndNxt)) {
    t.state = ESTABLISHED;
    t.sndUna = seg.ack;
    t.sndWnd = seg.window;
    t.sndWl1 = seq; t.sndWl2 = seg.ack;
    t.retries = 0;
    stopRto(t);
    if (t.connectQt != 0) { qComplete(t.connectQt - 1, 0); t.connectQt = 0; }
    t.lastRx = nowNs;
    armKeepalive(t);
    sendAckNow(t);
    return;
  }
  // PAWS (RFC 7323 §5.3): an older timestamp marks an old duplicate.
  const paws = t.tsOk != 0 && seg.hasTs && (flags & RST) == 0 && seqLt(seg.tsVal, t.tsRecent);
  if (paws || !acceptable(t, seq, segLen, rcvWindow(t))) {
    count(D_TCP_OUT_OF_WINDOW);
    if ((flags & RST) != 0) return;
    if (dlen > 0 && seqLe(seq + dlen, t.rcvNxt)) noteDuplicate(t, seq, seq + dlen);   // an old duplicate
    // RFC 9293 §3.10.7.4: with the window closed no segment is acceptable, "but special allowance
    // should be made to accept valid ACKs". Linux's zero-window probes (SEQ = RCV.NXT - 1) and its
    // retransmissions of data we hold carry its latest ACK and SACK blocks; with its real ACKs lost,
    // ignoring them left our sender to its RTO (seen in a capture under 5% loss). Taken only when
    // they tell something new, so repeated probes are not duplicate ACKs.
    if (!paws && (flags & (ACK | SYN)) == ACK && t.state >= ESTABLISHED
        && (seqGt(seg.ack, t.sndUna) || (t.sackOk != 0 && seg.sackCount > 0))) {
      if (processAck(t, seg, 0, false)) tcpOutput(t);
      if (t.state == 0 || t.state > TIME_WAIT) return;
    }
    sendAckNow(t);
    return;
  }
  if ((flags & RST) != 0) {
    if (seq == t.rcvNxt) connReset(t, ECONNRESET);    // RFC 5961 §3.2: exact match only
    else challengeAck(t);
    return;
  }
  if ((flags & SYN) != 0) { challengeAck(t); return; } // RFC 5961 §4.2
  if ((flags & ACK) == 0) return;
  // Anything acceptable from the peer proves it alive: keepalive starts over.
  t.lastRx = nowNs;
  if (t.keepalive != 0) { t.keepProbes = 0; armKeepalive(t); }
  // Timestamps: remember the peer's for echoing (RFC 7323 §4.3), from segments at the left edge.
  if (t.tsOk != 0 && seg.hasTs && seqLe(seq, t.rcvNxt)) t.tsRecent = seg.tsVal;
  if (t.state == SYN_RCVD) {
    if (!(seqLt(t.sndUna, seg.ack) && seqLe(seg.ack, t.sndNxt))) {
      resetPeer(t, seg.ack);
      return;
    }
    t.state = ESTABLISHED;
    t.sndUna = seg.ack;
    t.sndWnd = seg.window << t.sndShift;
    t.sndWl1 = seq; t.sndWl2 = seg.ack;
    t.retries = 0;
    stopRto(t);
    if (t.listener >= 0) queueAccepted(t);
    else if (t.connectQt != 0) { qComplete(t.connectQt - 1, 0); t.connectQt = 0; }   // simultaneous open
  } else if (!processAck(t, seg, dlen, (flags & FIN) != 0)) {
    sendAckNow(t);                                      // ACK for data never sent
    return;
  }
  if (t.state == 0 || t.state > TIME_WAIT) return;     // the ACK closed it (LAST_ACK)
  if (dlen > 0 && t.qd < 0 && t.listener < 0) {
    // RFC 1122 §4.2.2.13: data for a connection the application has closed is lost; say so.
    resetPeer(t, t.sndNxt);
    connReset(t, ECONNRESET);
    return;
  }
  let outOfOrder = false;
  if (dlen > 0 && (t.state == ESTABLISHED || t.state == FIN_WAIT_1 || t.state == FIN_WAIT_2)) {
    if (t.tsOk != 0 && seg.hasTs && seg.tsEcr != 0) receiveRttSample(t, tsNow() - seg.tsEcr);
    outOfOrder = receiveData(t, seq, data, dlen);
  }
  if ((flags & FIN) != 0 && seq + dlen == t.rcvNxt && t.peerFin == 0) {
    t.rcvNxt += 1;
    t.peerFin = 1;
    if (t.state == ESTABLISHED || t.state == SYN_RCVD) t.state = CLOSE_WAIT;
    else if (t.state == FIN_WAIT_1) t.state = CLOSING;
    else if (t.state == FIN_WAIT_2) enterTimeWait(t);
    wakePops(t);
    sendAckNow(t);
  } else if ((flags & FIN) != 0 && t.state == TIME_WAIT) {
    enterTimeWait(t);                                  // a retransmitted FIN: ACK it again, restart 2·MSL
    sendAckNow(t);
  } else if (dlen > 0) {
    scheduleAck(t, outOfOrder);
  }
  if (t.state == CLOSING || t.state == CLOSE_WAIT || t.state == ESTABLISHED || t.state == FIN_WAIT_1) tcpOutput(t);
}

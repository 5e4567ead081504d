// TCP sockets on the PDPIX API: bind, listen with a bounded backlog, accept, connect with
// retries, push (completes once the data is in the send buffer, back-pressure when it is full),
// pop (in-order bytes; a zero-length result at end of stream) and close (FIN after the data).
import { slotOf, slotAlloc, slotData, slotCap, slotApp, giveToApp, frameCap, LARGE_CAP } from "../../mem/pool";
import { count, D_NO_BUFFER } from "../../counters";
import { qAlloc, qComplete, qWake, qEntry, qListAppend, qListShift, qListRemove, qListComplete, Q_PTR, Q_LEN, Q_IP, Q_PORT, Q_QD, Q_AUX, Q_NEWQD,
         Q_V6, Q_HI, Q_LO,
         OP_ACCEPT, OP_CONNECT, OP_PUSH, OP_POP } from "../../sched/qtoken";
import { mtu, tcpRtoInitialNs, tcpBuffer } from "../../schema/config";
import { EINVAL, EISCONN, ENOTCONN, ENOBUFS, ENOMEM, ECANCELED, EPIPE, ENOPROTOOPT, EAFNOSUPPORT, ENETUNREACH } from "../../schema/errno";
import { hostRandom } from "../../host";
import { SYN } from "../../wire/tcp";
import { mapped4, isMapped4, IP6_HLEN } from "../../wire/ipv6";
import { pmtu6For } from "../pmtu6";
import { sock, sockAlloc, sockV6, S_BOUND, S_LIP, S_LIDX, S_LPORT, S_TCB, S_BACKLOG, S_ACCEPT_HEAD, S_ACCEPT_TAIL, S_LISTENING,
         S_POPHEAD, S_POPTAIL, S_OPTS, SOCK_STREAM, ANY6 } from "../socket";
import { PortMap, portMapInit, bindSocket, bindSocket6, portOwner, portRelease } from "../ports";
import { addr6Reaches } from "../addr6";
import { nowNs } from "../clock";
import { addrFold, netSource } from "../route";
import { Tcb, tcb, tcbInit, tcbAlloc, tcbFree, tcbBind, tcbIndex, tcbQueueOutput, nTcb, ringWrite,
         CLOSED, SYN_SENT, SYN_RCVD, ESTABLISHED, CLOSE_WAIT, DONE } from "./tcb";
import { tcpOutput, sendAckNow, armRto, armKeepalive, armMemoryRetry, finWait2Orphaned } from "./engine";
import { sendSegment, resetPeer, mssFor, windowToAdvertise, advertisedWindow } from "./output";
import { unlistenOne } from "./events";
import { sendReserve, receiveTake } from "./buffers";
import { cookieInit } from "./cookie";
import { K_TCP_POP, K_TCP_PUSH, K_TCP_ACCEPT } from "../../sched/kinds";


// Socket options (PDPIX setsockopt): bits in S_OPTS, copied to the connection when it exists.
export const OPT_NODELAY: u32 = 1;     // TCP_NODELAY; set by default: Nagle is off
export const OPT_KEEPALIVE: u32 = 2;   // SO_KEEPALIVE
export const OPT_LINGER0: u32 = 4;     // SO_LINGER with a zero timeout: close resets (node:net's resetAndDestroy)
const OPT_SET: u32 = 0x80000000;       // the options were chosen explicitly

function applyOptions(t: Tcb, opts: u32): void {
  t.nagle = (opts & OPT_SET) != 0 && (opts & OPT_NODELAY) == 0 ? 1 : 0;
  t.keepalive = (opts & OPT_KEEPALIVE) != 0 ? 1 : 0;
  t.lastRx = nowNs;
  armKeepalive(t);
}

/** Sets TCP_NODELAY (1), SO_KEEPALIVE (2) or SO_LINGER with a zero timeout (4) on a stream socket; 0 or an errno. */
export function tcpSetOption(qd: u32, opt: u32, on: bool): i32 {
  if (opt != OPT_NODELAY && opt != OPT_KEEPALIVE && opt != OPT_LINGER0) return ENOPROTOOPT;
  const s = sock(qd);
  let opts = load<u32>(s + S_OPTS);
  if ((opts & OPT_SET) == 0) opts = OPT_SET | OPT_NODELAY;
  opts = on ? opts | opt : opts & ~opt;
  store<u32>(s + S_OPTS, opts);
  const t = tcbOf(qd);
  if (t !== null) { applyOptions(t, opts); tcpOutput(t); }
  return 0;
}

export function tcpGetOption(qd: u32, opt: u32): i32 {
  if (opt != OPT_NODELAY && opt != OPT_KEEPALIVE && opt != OPT_LINGER0) return -ENOPROTOOPT;
  const opts = load<u32>(sock(qd) + S_OPTS);
  if ((opts & OPT_SET) == 0) return opt == OPT_NODELAY ? 1 : 0;
  return (opts & opt) != 0 ? 1 : 0;
}

// Ports of IPv4 and of IPv6 sockets.
const tcpPorts = changetype<PortMap>(memory.data(16, 8));
const tcpPorts6 = changetype<PortMap>(memory.data(16, 8));
@inline function portsOf(qd: u32): PortMap { return sockV6(qd) ? tcpPorts6 : tcpPorts; }
let isnKey: u32 = 0;

export function tcpInit(): bool {
  isnKey = hostRandom();
  cookieInit();
  return tcbInit() && portMapInit(tcpPorts) && portMapInit(tcpPorts6);
}

/** RFC 6528: a 4 µs clock plus a keyed hash of the connection's addresses (the peer's folded:
 *  route.ts addrFold). */
export function tcpIsn(lip: u32, lport: u32, rip: u32, rport: u32): u32 {
  let h = isnKey ^ lip ^ (rip * 0x9e3779b1) ^ ((lport << 16) | rport);
  h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16;
  return h + <u32>(<u64>(nowNs / 4000));
}

/** Our window-scale shift: the smallest that fits the largest receive buffer in 16 bits (RFC 7323 §2.3). */
export function ourWindowShift(): u32 {
  let s: u32 = 0;
  while ((<u32>tcpBuffer >> s) > 65535) s++;
  return s;
}

/** The socket's control block, or null. */
export function tcbOf(qd: u32): Tcb | null {
  const i = load<u32>(sock(qd) + S_TCB);
  return i == 0 ? null : tcb(i - 1);
}

export function tcpBind(qd: u32, ip: u32, port: u32): i32 {
  return sockV6(qd) ? EAFNOSUPPORT : bindSocket(tcpPorts, qd, ip, port);
}

/** tcpBind for an IPv6 socket: `hi:lo` is :: or one of our addresses. */
export function tcpBind6(qd: u32, hi: u64, lo: u64, port: u32): i32 {
  return sockV6(qd) ? bindSocket6(tcpPorts6, qd, hi, lo, port) : EAFNOSUPPORT;
}

export function tcpListen(qd: u32, backlog: i32): i32 {
  const s = sock(qd);
  if (load<u8>(s + S_BOUND) == 0 || load<u32>(s + S_TCB) != 0) return EINVAL;
  store<u32>(s + S_LISTENING, 1);
  store<u32>(s + S_BACKLOG, <u32>min(max(backlog, 1), 4096));
  return 0;
}

/** The listening socket for a segment to our `local` (route.ts) and `port`, or -1. An IPv6
 *  listener bound to one of our addresses hears only segments to that one. */
export function listenerFor(v6: bool, local: u32, port: u32): i32 {
  const owner = portOwner(v6 ? tcpPorts6 : tcpPorts, port);
  if (owner == 0) return -1;
  const s = sock(owner - 1);
  if (load<u32>(s + S_LISTENING) == 0) return -1;
  if (v6 && load<u8>(s + S_LIDX) != ANY6 && <u32>load<u8>(s + S_LIDX) != local) return -1;
  return <i32>(owner - 1);
}

/** Writes connection t's peer into a completed operation's entry. */
function peerToEntry(e: usize, t: Tcb): void {
  store<u32>(e + Q_IP, t.v6 != 0 ? 0 : <u32>t.ripLo);
  store<u32>(e + Q_PORT, t.rport);
  store<u8>(e + Q_V6, t.v6);
  store<u64>(e + Q_HI, t.ripHi);
  store<u64>(e + Q_LO, t.ripLo);
}

export function tcpAccept(qd: u32): i32 {
  const s = sock(qd);
  if (load<u32>(s + S_LISTENING) == 0) return -EINVAL;
  const q = qAlloc(OP_ACCEPT, K_TCP_ACCEPT, <i32>qd);
  if (q < 0) return -ENOBUFS;
  qListAppend(s + S_POPHEAD, s + S_POPTAIL, <u32>q);
  if (load<u32>(s + S_POPHEAD) == <u32>q + 1) tcpAcceptPoll(<u32>q);
  return q;
}

/** A connection finished its handshake: queue it for accept (RFC 9293's "LISTEN queue"). */
export function queueAccepted(t: Tcb): void {
  const s = sock(<u32>t.listener);
  const me = tcbIndex(t) + 1;
  t.nextAccept = 0;
  const tail = load<u32>(s + S_ACCEPT_TAIL);
  if (tail != 0) tcb(tail - 1).nextAccept = me;
  else store<u32>(s + S_ACCEPT_HEAD, me);
  store<u32>(s + S_ACCEPT_TAIL, me);
  const w = load<u32>(s + S_POPHEAD);
  if (w != 0) qWake(w - 1);
}

export function tcpAcceptPoll(q: u32): void {
  const e = qEntry(q);
  const lqd = <u32>load<i32>(e + Q_QD);
  const s = sock(lqd);
  if (load<u32>(s + S_POPHEAD) != q + 1) return;
  while (true) {
    const head = load<u32>(s + S_ACCEPT_HEAD);
    if (head == 0) return;
    const t = tcb(head - 1);
    store<u32>(s + S_ACCEPT_HEAD, t.nextAccept);
    if (t.nextAccept == 0) store<u32>(s + S_ACCEPT_TAIL, 0);
    t.nextAccept = 0;
    unlistenOne(t);
    if (t.state == DONE || t.state == CLOSED) { tcbFree(t); continue; }  // reset while queued
    const nqd = sockAlloc(SOCK_STREAM, t.v6 != 0);
    if (nqd < 0) { resetPeer(t, t.sndNxt); tcbFree(t); qComplete(q, ENOMEM); qListShift(s + S_POPHEAD, s + S_POPTAIL, q); return; }
    const ns = sock(<u32>nqd);
    store<u32>(ns + S_TCB, tcbIndex(t) + 1);
    if (t.v6 != 0) store<u8>(ns + S_LIDX, <u8>t.lip);
    else store<u32>(ns + S_LIP, t.lip);
    store<u32>(ns + S_LPORT, t.lport);
    t.qd = nqd;
    // An accepted connection inherits the listener's options, as on Linux.
    store<u32>(ns + S_OPTS, load<u32>(s + S_OPTS));
    applyOptions(t, load<u32>(s + S_OPTS));
    store<i32>(e + Q_NEWQD, nqd);
    peerToEntry(e, t);
    const next = qListShift(s + S_POPHEAD, s + S_POPTAIL, q);
    qComplete(q, 0);
    if (next != 0 && load<u32>(s + S_ACCEPT_HEAD) != 0) qWake(next - 1);
    return;
  }
}

/** Settles what both SYNs offered (RFC 9293 §3.7.1, RFC 7323, RFC 2018). */
export function negotiate(t: Tcb, peerMss: u32, peerWs: i32, peerSackPerm: bool, peerTs: bool, tsVal: u32, ourTs: bool): void {
  // Ours is the path's (pmtu6.ts: an IPv6 destination may have a smaller one than the link).
  t.mss = min(peerMss != 0 ? peerMss : 536, t.v6 != 0 ? pmtu6For(t.ripHi, t.ripLo) - IP6_HLEN - 20 : mssFor(false));
  t.tsOk = peerTs && ourTs ? 1 : 0;
  if (t.tsOk != 0) { t.tsRecent = tsVal; t.mss -= 12; }
  t.sackOk = peerSackPerm ? 1 : 0;
  if (peerWs >= 0) { t.sndShift = <u32>peerWs; t.rcvShift = ourWindowShift(); }
  else { t.sndShift = 0; t.rcvShift = 0; }
  t.cwnd = 10 * t.mss;                                 // RFC 6928 initial window
  t.ssthresh = 0xffffffff;
  // RFC 6582 §3.2: "recover" starts at the initial send sequence number. Left at zero, three
  // duplicate ACKs would not start fast retransmit when the ISS lies in the upper half of the
  // sequence space from 0 (half of all connections).
  t.recover = t.iss;
}

export function tcpConnect(qd: u32, ip: u32, port: u32): i32 {
  if (sockV6(qd)) return -EAFNOSUPPORT;
  if (ip == 0) return -EINVAL;
  return open(qd, false, 0, mapped4(ip), port);
}

/** tcpConnect for an IPv6 socket. An IPv4-mapped peer is out of its reach (ENETUNREACH, as
 *  Linux's IPV6_V6ONLY). */
export function tcpConnect6(qd: u32, hi: u64, lo: u64, port: u32): i32 {
  if (!sockV6(qd)) return -EAFNOSUPPORT;
  if (hi == 0 && lo == 0) return -EINVAL;
  if (isMapped4(hi, lo) || !addr6Reaches(hi, lo)) return -ENETUNREACH;
  return open(qd, true, hi, lo, port);
}

/** Active open (RFC 9293 §3.5) to hi:lo (an IPv4 peer as mapped4). */
function open(qd: u32, v6: bool, hi: u64, lo: u64, port: u32): i32 {
  const s = sock(qd);
  if (load<u32>(s + S_TCB) != 0) return -EISCONN;
  if (load<u32>(s + S_LISTENING) != 0) return -EINVAL;
  if (port == 0 || port > 65535) return -EINVAL;
  if (load<u8>(s + S_BOUND) == 0) {
    const r = v6 ? tcpBind6(qd, 0, 0, 0) : tcpBind(qd, 0, 0);
    if (r != 0) return -r;
  }
  const i = tcbAlloc();
  if (i < 0) return -ENOBUFS;
  const q = qAlloc(OP_CONNECT, 0, <i32>qd);
  if (q < 0) { tcbFree(tcb(<u32>i)); return -ENOBUFS; }
  const t = tcb(<u32>i);
  const local = netSource(v6, s, hi, lo);
  tcbBind(t, v6, local, load<u32>(s + S_LPORT), hi, lo, port);
  t.iss = tcpIsn(t.lip, t.lport, addrFold(hi, lo), port);
  t.sndUna = t.iss; t.sndNxt = t.iss + 1; t.sndMax = t.iss + 1;
  t.rcvShift = ourWindowShift();
  t.mss = mssFor(v6);
  t.rto = tcpRtoInitialNs;
  t.qd = <i32>qd;
  t.state = SYN_SENT;
  t.connectQt = <u32>q + 1;
  store<u32>(s + S_TCB, <u32>i + 1);
  t.nagle = (load<u32>(s + S_OPTS) & OPT_SET) != 0 && (load<u32>(s + S_OPTS) & OPT_NODELAY) == 0 ? 1 : 0;
  t.keepalive = (load<u32>(s + S_OPTS) & OPT_KEEPALIVE) != 0 ? 1 : 0;
  sendSegment(t, t.iss, 0, SYN);
  armRto(t);
  return q;
}

export function tcpPush(qd: u32, ptr: usize, len: u32): i32 {
  const t = tcbOf(qd);
  if (t === null) return -ENOTCONN;
  const src = slotOf(ptr);
  if (src < 0 || !slotApp(<u32>src) || ptr < slotData(<u32>src) || ptr + len > slotData(<u32>src) + slotCap(<u32>src)) return -EINVAL;
  const q = qAlloc(OP_PUSH, K_TCP_PUSH, <i32>qd);
  if (q < 0) return -ENOBUFS;
  if (t.reset != 0) { qComplete(<u32>q, t.reset); return q; }
  if (t.finQueued != 0) { qComplete(<u32>q, EPIPE); return q; }
  if (t.state != ESTABLISHED && t.state != CLOSE_WAIT) { qComplete(<u32>q, ENOTCONN); return q; }
  const e = qEntry(<u32>q);
  store<u32>(e + Q_PTR, <u32>ptr);
  store<u32>(e + Q_LEN, len);
  store<u32>(e + Q_AUX, 0);
  const tp = changetype<usize>(t);
  qListAppend(tp + offsetof<Tcb>("pushHead"), tp + offsetof<Tcb>("pushTail"), <u32>q);
  if (t.pushHead == <u32>q + 1) tcpPushPoll(<u32>q);
  return q;
}

/** Copies as much of the oldest push as the send buffer takes; completes it when all is in. */
export function tcpPushPoll(q: u32): void {
  const e = qEntry(q);
  const t = tcbOf(<u32>load<i32>(e + Q_QD));
  if (t === null || t.pushHead != q + 1) return;
  const len = load<u32>(e + Q_LEN);
  let done = load<u32>(e + Q_AUX);
  const n = sendReserve(t, len - done);
  if (n == 0 && t.slen == 0) armMemoryRetry(t);       // no ACK is coming to wake it
  if (n > 0) {
    ringWrite(t.sbuf, t.sSize, t.sndUna + t.slen, <usize>load<u32>(e + Q_PTR) + done, n);
    t.slen += n;
    done += n;
    store<u32>(e + Q_AUX, done);
  }
  if (done == len) {
    const tp = changetype<usize>(t);
    const next = qListShift(tp + offsetof<Tcb>("pushHead"), tp + offsetof<Tcb>("pushTail"), q);
    store<u32>(e + Q_PTR, 0);
    store<u32>(e + Q_LEN, 0);
    qComplete(q, 0);
    if (next != 0) qWake(next - 1);
  }
  if (n > 0) tcbQueueOutput(t);
}

export function tcpPop(qd: u32): i32 {
  const t = tcbOf(qd);
  if (t === null) return -ENOTCONN;
  const q = qAlloc(OP_POP, K_TCP_POP, <i32>qd);
  if (q < 0) return -ENOBUFS;
  const tp = changetype<usize>(t);
  qListAppend(tp + offsetof<Tcb>("popHead"), tp + offsetof<Tcb>("popTail"), <u32>q);
  if (t.popHead == <u32>q + 1) tcpPopPoll(<u32>q);
  return q;
}

/** Hands the oldest pop the bytes that are in order, or end of stream, or the reset. */
export function tcpPopPoll(q: u32): void {
  const e = qEntry(q);
  const t = tcbOf(<u32>load<i32>(e + Q_QD));
  if (t === null || t.popHead != q + 1) return;
  const tp = changetype<usize>(t);
  if (t.reset != 0) {
    qListShift(tp + offsetof<Tcb>("popHead"), tp + offsetof<Tcb>("popTail"), q);
    qComplete(q, t.reset);
    return;
  }
  if (t.rlen == 0 && t.peerFin == 0) return;
  if (t.rlen > 0) {
    // As much as one buffer holds: a large one when there is more than a small one takes, a
    // small one when the large ones are all out; none at all, and the pop tries again shortly.
    let n = min(t.rlen, LARGE_CAP - 2);
    let s = slotAlloc(n + 2);
    if (s < 0 && n > frameCap - 2) { n = frameCap - 2; s = slotAlloc(n + 2); }
    if (s < 0) { count(D_NO_BUFFER); armMemoryRetry(t); return; }
    const dst = slotData(<u32>s) + 2;
    receiveTake(t, dst, n);
    giveToApp(<u32>s, dst);
    store<u32>(e + Q_PTR, <u32>dst);
    store<u32>(e + Q_LEN, n);
    // Announce the window the read opened when it at least doubles what the peer may send now
    // (Linux's rule) by a step SWS avoidance allows: a closed window reopens at once.
    const offered = advertisedWindow(t);
    const now = windowToAdvertise(t);
    if (now > offered && now >= 2 * offered) t.ackPending++;
  } else {
    store<u32>(e + Q_PTR, 0);                         // end of stream: a zero-length result
    store<u32>(e + Q_LEN, 0);
  }
  peerToEntry(e, t);
  const next = qListShift(tp + offsetof<Tcb>("popHead"), tp + offsetof<Tcb>("popTail"), q);
  qComplete(q, 0);
  if (t.ackPending != 0 && t.state >= ESTABLISHED) sendAckNow(t);
  if (next != 0 && (t.rlen > 0 || t.peerFin != 0)) qWake(next - 1);
}

/** Withdraws a pending accept; the next in line is woken if a connection waits. */
export function tcpAcceptCancel(q: u32): void {
  const s = sock(<u32>load<i32>(qEntry(q) + Q_QD));
  const head = qListRemove(s + S_POPHEAD, s + S_POPTAIL, q);
  if (head != 0 && load<u32>(s + S_ACCEPT_HEAD) != 0) qWake(head - 1);
}

/** Withdraws a pending pop; the next in line is woken if it can go on. */
export function tcpPopCancel(q: u32): void {
  const t = tcbOf(<u32>load<i32>(qEntry(q) + Q_QD));
  if (t === null) return;
  const tp = changetype<usize>(t);
  const head = qListRemove(tp + offsetof<Tcb>("popHead"), tp + offsetof<Tcb>("popTail"), q);
  if (head != 0 && (t.rlen > 0 || t.peerFin != 0 || t.reset != 0)) qWake(head - 1);
}

/** Withdraws a pending push; bytes it already put in the send buffer are sent. */
export function tcpPushCancel(q: u32): void {
  const t = tcbOf(<u32>load<i32>(qEntry(q) + Q_QD));
  if (t === null) return;
  const tp = changetype<usize>(t);
  const head = qListRemove(tp + offsetof<Tcb>("pushHead"), tp + offsetof<Tcb>("pushTail"), q);
  if (head != 0) qWake(head - 1);
}

/**
 * shutdown(SHUT_WR): a FIN after the queued data while the socket still receives (RFC 9293
 * §3.6 "half-closed"). Returns 0, or ENOTCONN before the connection exists or after it died.
 */
export function tcpShutdown(qd: u32): i32 {
  const t = tcbOf(qd);
  if (t === null || t.state == SYN_SENT || t.state == CLOSED || t.state == DONE || t.reset != 0) return ENOTCONN;
  if (t.finQueued != 0) return 0;
  if (t.state == SYN_RCVD || t.state == ESTABLISHED || t.state == CLOSE_WAIT) {
    t.finQueued = 1;
    tcpOutput(t);
  }
  return 0;
}

export function tcpClose(qd: u32): void {
  const s = sock(qd);
  if (load<u8>(s + S_BOUND) != 0 && portOwner(portsOf(qd), load<u32>(s + S_LPORT)) == qd + 1) {
    portRelease(portsOf(qd), load<u32>(s + S_LPORT));
  }
  if (load<u32>(s + S_LISTENING) != 0) {
    // Embryonic and unaccepted connections die with their listener.
    for (let i: u32 = 0; i < nTcb; i++) {
      const t = tcb(i);
      if (t.state == CLOSED || t.listener != <i32>qd) continue;
      if (t.state != DONE) resetPeer(t, t.sndNxt);
      tcbFree(t);
    }
    qListComplete(load<u32>(s + S_POPHEAD), ECANCELED);
    return;
  }
  const t = tcbOf(qd);
  if (t === null) return;
  qListComplete(t.popHead, ECANCELED);
  qListComplete(t.pushHead, ECANCELED);
  t.popHead = t.popTail = t.pushHead = t.pushTail = 0;
  if (t.connectQt != 0) { qComplete(t.connectQt - 1, ECANCELED); t.connectQt = 0; }
  t.qd = -1;
  if (t.state == SYN_SENT || t.state == DONE || t.state == CLOSED) { tcbFree(t); return; }
  // SO_LINGER with a zero timeout: an abortive close (RFC 9293 §3.10.4 ABORT) sends RST at once.
  if ((load<u32>(s + S_OPTS) & OPT_LINGER0) != 0) { resetPeer(t, t.sndNxt); tcbFree(t); return; }
  if (t.rlen > 0 && t.state >= ESTABLISHED) {
    // RFC 1122 §4.2.2.13: closing with received data unread loses it: reset, as Linux does.
    resetPeer(t, t.sndNxt);
    tcbFree(t);
    return;
  }
  if (t.state == SYN_RCVD || t.state == ESTABLISHED || t.state == CLOSE_WAIT) {
    t.finQueued = 1;
    tcpOutput(t);
  }
  finWait2Orphaned(t);                                 // closed after shutdown(SHUT_WR) and the peer's ACK
}


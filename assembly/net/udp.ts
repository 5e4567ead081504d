// UDP (RFC 768) sockets: bind, connect (a default peer and a filter, as POSIX does), pushto,
// pop and close. Push sends the application's buffer in place when the headroom allows and no
// one else holds it (zero copy); otherwise it copies into a fresh slot.
import { PortMap, portMapInit, bindSocket, bindSocket6, portOwner, portRelease } from "./ports";
import { slotOf, slotAlloc, slotBase, slotData, slotCap, slotRef, slotUnref, slotRc, slotApp, giveToApp,
         metaOf, M_NEXT, M_PTR, M_LEN, M_IP, M_PORT } from "../mem/pool";
import { count, D_UDP_TRUNCATED, D_UDP_BAD_LENGTH, D_UDP_BAD_CHECKSUM, D_UDP_NO_SOCKET, D_UDP_QUEUE_FULL,
         C_UDP_DELIVERED, C_UDP_SENT } from "../counters";
import { UdpRepr, udpParse, udpEmit, UDP_OK, UDP_TRUNCATED, UDP_BAD_LENGTH, UDP_HLEN } from "../wire/udp";
import { pseudoAddr4 } from "../wire/checksum";
import { IP_HLEN, PROTO_UDP } from "../wire/ipv4";
import { Ipv6Repr, pseudoAddr6, mapped4, isMapped4 } from "../wire/ipv6";
import { ETH_HLEN } from "../wire/eth";
import { udpQueueDepth } from "../schema/config";
import { EINVAL, EDESTADDRREQ, EMSGSIZE, ENOBUFS, ECANCELED, EAFNOSUPPORT, ENETUNREACH } from "../schema/errno";
import { qAlloc, qComplete, qWake, qEntry, qListAppend, qListShift, qListRemove, qListComplete, Q_PTR, Q_LEN, Q_IP, Q_PORT, Q_QD,
         Q_V6, Q_HI, Q_LO, OP_POP, OP_PUSH } from "../sched/qtoken";
import { sock, sockV6, S_BOUND, S_CONNECTED, S_LPORT, S_LIDX, S_RPORT, S_RHI, S_RLO, S_RXHEAD, S_RXTAIL, S_RXCOUNT,
         S_POPHEAD, S_POPTAIL, S_V6, ANY6 } from "./socket";
import { netHeaderLen, netPseudo, netSend, netWait, netSource } from "./route";
import { addr6Reaches, addr6Index, isMulticast6 } from "./addr6";
import { K_UDP_POP, K_UDP_PUSH } from "../sched/kinds";

const MAX_PAYLOAD: u32 = 65535 - IP_HLEN - UDP_HLEN;   // IPv4's total length; IPv6's payload length allows 20 more
// Ports of IPv4 and of IPv6 sockets.
const ports = changetype<PortMap>(memory.data(16, 8));
const ports6 = changetype<PortMap>(memory.data(16, 8));

export function udpInit(): bool {
  return portMapInit(ports) && portMapInit(ports6);
}

/** Binds qd to (ip, port); port 0 picks an ephemeral port. Returns 0 or an errno. */
export function udpBind(qd: u32, ip: u32, port: u32): i32 {
  return bindSocket(ports, qd, ip, port);
}

/** udpBind for an IPv6 socket: `hi:lo` is :: or one of our addresses. */
export function udpBind6(qd: u32, hi: u64, lo: u64, port: u32): i32 {
  return bindSocket6(ports6, qd, hi, lo, port);
}

/** Binds to any address and an ephemeral port, in the socket's own version. */
function bindAny(qd: u32): i32 {
  return sockV6(qd) ? udpBind6(qd, 0, 0, 0) : udpBind(qd, 0, 0);
}

/** Sets the default peer; (0, 0) dissolves it, as connect with AF_UNSPEC does (POSIX). */
export function udpConnect(qd: u32, ip: u32, port: u32): i32 {
  if (ip == 0 && port == 0) { store<u8>(sock(qd) + S_CONNECTED, 0); return 0; }
  if (sockV6(qd)) return EAFNOSUPPORT;
  if (ip == 0 || port == 0 || port > 65535) return EINVAL;
  return setPeer(qd, 0, mapped4(ip), port);
}

/** udpConnect for an IPv6 socket; (::, 0) dissolves the default peer. An IPv4-mapped peer is
 *  out of reach of an IPv6-only socket (ENETUNREACH, as Linux's IPV6_V6ONLY). */
export function udpConnect6(qd: u32, hi: u64, lo: u64, port: u32): i32 {
  if (hi == 0 && lo == 0 && port == 0) { store<u8>(sock(qd) + S_CONNECTED, 0); return 0; }
  if (!sockV6(qd)) return EAFNOSUPPORT;
  if ((hi == 0 && lo == 0) || port == 0 || port > 65535) return EINVAL;
  if (isMapped4(hi, lo)) return ENETUNREACH;
  return setPeer(qd, hi, lo, port);
}

function setPeer(qd: u32, hi: u64, lo: u64, port: u32): i32 {
  const s = sock(qd);
  if (load<u8>(s + S_BOUND) == 0) { const r = bindAny(qd); if (r != 0) return r; }
  store<u8>(s + S_CONNECTED, 1);
  store<u64>(s + S_RHI, hi);
  store<u64>(s + S_RLO, lo);
  store<u32>(s + S_RPORT, port);
  return 0;
}

/**
 * Starts a push of the application's sga (ptr, len) to (ip, port); (0, 0) means the connected
 * peer (of either version). Returns the qtoken index, or -errno when the call itself is invalid.
 */
export function udpPushTo(qd: u32, ptr: usize, len: u32, ip: u32, port: u32): i32 {
  if (ip == 0 && port == 0) return pushConnected(qd, ptr, len);
  if (sockV6(qd)) return -EAFNOSUPPORT;
  if (ip == 0) return -EINVAL;
  return send(qd, ptr, len, false, 0, mapped4(ip), port);
}

/** udpPushTo for an IPv6 socket; (::, 0) means the connected peer. */
export function udpPushTo6(qd: u32, ptr: usize, len: u32, hi: u64, lo: u64, port: u32): i32 {
  if (hi == 0 && lo == 0 && port == 0) return pushConnected(qd, ptr, len);
  if (!sockV6(qd)) return -EAFNOSUPPORT;
  if (hi == 0 && lo == 0) return -EINVAL;
  if (isMapped4(hi, lo)) return -ENETUNREACH;
  return send(qd, ptr, len, true, hi, lo, port);
}

function pushConnected(qd: u32, ptr: usize, len: u32): i32 {
  const s = sock(qd);
  if (load<u8>(s + S_CONNECTED) == 0) return -EDESTADDRREQ;
  return send(qd, ptr, len, sockV6(qd), load<u64>(s + S_RHI), load<u64>(s + S_RLO), load<u32>(s + S_RPORT));
}

/**
 * Sends the sga to hi:lo (an IPv4 peer as mapped4). In place when the headroom allows and no one
 * else holds the buffer (zero copy); otherwise copied into a fresh slot.
 */
function send(qd: u32, ptr: usize, len: u32, v6: bool, hi: u64, lo: u64, port: u32): i32 {
  const s = sock(qd);
  if (port == 0 || port > 65535) return -EINVAL;
  if (len > MAX_PAYLOAD) return -EMSGSIZE;
  if (v6 && !addr6Reaches(hi, lo)) return -ENETUNREACH;        // IPv6 is off: only ::1 is ours
  // The sga must lie inside one buffer the application owns.
  const src = slotOf(ptr);
  if (src < 0 || !slotApp(<u32>src) || ptr < slotData(<u32>src)
      || ptr + len > slotData(<u32>src) + slotCap(<u32>src)) return -EINVAL;
  if (load<u8>(s + S_BOUND) == 0) { const r = bindAny(qd); if (r != 0) return -r; }
  const q = qAlloc(OP_PUSH, K_UDP_PUSH, <i32>qd);
  if (q < 0) return -ENOBUFS;
  const headers = ETH_HLEN + netHeaderLen(v6) + UDP_HLEN;
  let slot: u32;
  let payload: usize;
  if (slotRc(<u32>src) == 1 && ptr - slotBase(<u32>src) >= headers) {
    slot = <u32>src;                 // zero copy: the stack takes its own reference
    payload = ptr;
    slotRef(slot);
  } else {
    const d = slotAlloc(len + headers);
    if (d < 0) { qComplete(<u32>q, ENOBUFS); return q; }
    slot = <u32>d;
    payload = slotData(slot) + headers;
    memory.copy(payload, ptr, len);
  }
  const local = netSource(v6, s, hi, lo);
  udpEmit(payload - UDP_HLEN, load<u32>(s + S_LPORT), port, len, netPseudo(v6, local, hi, lo));
  const r = netSend(slot, payload - UDP_HLEN, len + UDP_HLEN, v6, local, hi, lo, PROTO_UDP);
  if (r == 0) { count(C_UDP_SENT); qComplete(<u32>q, 0); }
  else if (r > 0) { count(C_UDP_SENT); netWait(v6, r, <u32>q); }
  else qComplete(<u32>q, -r);
  return q;
}

/** Starts a pop; it completes at once when a datagram is queued and no earlier pop waits. */
export function udpPop(qd: u32): i32 {
  const q = qAlloc(OP_POP, K_UDP_POP, <i32>qd);
  if (q < 0) return -ENOBUFS;
  const s = sock(qd);
  qListAppend(s + S_POPHEAD, s + S_POPTAIL, <u32>q);
  if (load<u32>(s + S_RXCOUNT) != 0 && load<u32>(s + S_POPHEAD) == <u32>q + 1) udpPopPoll(<u32>q);
  return q;
}

/** Task poll for a pop: hands the oldest datagram to the oldest waiting pop. */
export function udpPopPoll(q: u32): void {
  const e = qEntry(q);
  const s = sock(<u32>load<i32>(e + Q_QD));
  if (load<u32>(s + S_POPHEAD) != q + 1 || load<u32>(s + S_RXCOUNT) == 0) return;
  const slot = load<u32>(s + S_RXHEAD) - 1;
  const m = metaOf(slot);
  const next = load<u32>(m + M_NEXT);
  store<u32>(s + S_RXHEAD, next);
  if (next == 0) store<u32>(s + S_RXTAIL, 0);
  store<u32>(s + S_RXCOUNT, load<u32>(s + S_RXCOUNT) - 1);
  const qnext = qListShift(s + S_POPHEAD, s + S_POPTAIL, q);
  // The queue's reference becomes the application's: it frees the buffer with sgafree.
  giveToApp(slot, load<u32>(m + M_PTR));
  store<u32>(e + Q_PTR, load<u32>(m + M_PTR));
  store<u32>(e + Q_LEN, load<u32>(m + M_LEN));
  store<u32>(e + Q_IP, load<u32>(m + M_IP));
  store<u32>(e + Q_PORT, load<u32>(m + M_PORT));
  if (load<u8>(s + S_V6) != 0) {
    // udpInput6 left the sender's address in the 16 bytes before the UDP header.
    const a = <usize>load<u32>(m + M_PTR) - UDP_HLEN - 16;
    store<u8>(e + Q_V6, 1);
    store<u64>(e + Q_HI, load<u64>(a));
    store<u64>(e + Q_LO, load<u64>(a, 8));
  }
  qComplete(q, 0);
  if (qnext != 0 && load<u32>(s + S_RXCOUNT) != 0) qWake(qnext - 1);
}

/** Withdraws a pending pop: it takes no datagram; the next pop in line may. */
export function udpPopCancel(q: u32): void {
  const s = sock(<u32>load<i32>(qEntry(q) + Q_QD));
  const head = qListRemove(s + S_POPHEAD, s + S_POPTAIL, q);
  if (head != 0 && load<u32>(s + S_RXCOUNT) != 0) qWake(head - 1);
}

// The header of the datagram being received.
const hdr = changetype<UdpRepr>(memory.data(offsetof<UdpRepr>()));

export function udpInput(slot: u32, src: u32, dst: u32, p: usize, len: u32): void {
  if (!parsed(slot, p, len, pseudoAddr4(src, dst))) return;
  const owner = portOwner(ports, hdr.dstPort);
  if (owner == 0) { count(D_UDP_NO_SOCKET); slotUnref(slot); return; }
  const s = sock(owner - 1);
  if (load<u8>(s + S_CONNECTED) != 0
      && (load<u32>(s + S_RLO) != src || load<u32>(s + S_RPORT) != hdr.srcPort)) {
    count(D_UDP_NO_SOCKET); slotUnref(slot); return;
  }
  deliver(s, slot, p, src);
}

/**
 * A datagram over IPv6 (`ip` its header). Returns false when no socket takes its port: the slot
 * is still the caller's, who owes the sender a port unreachable (RFC 4443 §3.1); otherwise the
 * slot reference ends here.
 */
export function udpInput6(slot: u32, ip: Ipv6Repr, p: usize, len: u32): bool {
  if (!parsed(slot, p, len, pseudoAddr6(ip))) return true;
  const owner = portOwner(ports6, hdr.dstPort);
  if (owner == 0) { count(D_UDP_NO_SOCKET); return false; }
  const s = sock(owner - 1);
  const bound = load<u8>(s + S_LIDX);
  // A socket bound to one address takes only what was sent to it; one bound to :: also takes
  // what was sent to a group we listen to.
  if (bound != ANY6 && (isMulticast6(ip.dstHi) || addr6Index(ip.dstHi, ip.dstLo) != <i32>bound)) {
    count(D_UDP_NO_SOCKET); return false;
  }
  if (load<u8>(s + S_CONNECTED) != 0 && (load<u64>(s + S_RHI) != ip.srcHi || load<u64>(s + S_RLO) != ip.srcLo
      || load<u32>(s + S_RPORT) != hdr.srcPort)) {
    count(D_UDP_NO_SOCKET); slotUnref(slot); return true;
  }
  // The sender's address goes where the IPv6 header (or, reassembled, the headroom) was, just
  // before the UDP header: the metadata has no room for 16 bytes, the slot does.
  store<u64>(p - 16, ip.srcHi);
  store<u64>(p - 8, ip.srcLo);
  deliver(s, slot, p, 0);
  return true;
}

/** Checks the datagram into `hdr`; a bad one is counted and its slot released (false). */
function parsed(slot: u32, p: usize, len: u32, pseudo: u64): bool {
  const r = udpParse(p, len, pseudo, hdr);
  if (r == UDP_OK) return true;
  count(r == UDP_TRUNCATED ? D_UDP_TRUNCATED : r == UDP_BAD_LENGTH ? D_UDP_BAD_LENGTH : D_UDP_BAD_CHECKSUM);
  slotUnref(slot);
  return false;
}

/** Queues the datagram `hdr` describes on socket s for pops, or drops it when the queue is full. */
function deliver(s: usize, slot: u32, p: usize, src: u32): void {
  const n = load<u32>(s + S_RXCOUNT);
  if (<i32>n >= udpQueueDepth) { count(D_UDP_QUEUE_FULL); slotUnref(slot); return; }
  const m = metaOf(slot);
  store<u32>(m + M_NEXT, 0);
  store<u32>(m + M_PTR, <u32>(p + UDP_HLEN));
  store<u32>(m + M_LEN, hdr.len - UDP_HLEN);
  store<u32>(m + M_IP, src);
  store<u32>(m + M_PORT, hdr.srcPort);
  const tail = load<u32>(s + S_RXTAIL);
  if (tail != 0) store<u32>(metaOf(tail - 1) + M_NEXT, slot + 1);
  else store<u32>(s + S_RXHEAD, slot + 1);
  store<u32>(s + S_RXTAIL, slot + 1);
  store<u32>(s + S_RXCOUNT, n + 1);
  count(C_UDP_DELIVERED);
  const waiter = load<u32>(s + S_POPHEAD);
  if (waiter != 0) qWake(waiter - 1);
}

/** Releases the port and queued datagrams, and fails pending pops with ECANCELED. */
export function udpClose(qd: u32): void {
  const s = sock(qd);
  if (load<u8>(s + S_BOUND) != 0) portRelease(load<u8>(s + S_V6) != 0 ? ports6 : ports, load<u32>(s + S_LPORT));
  let slot = load<u32>(s + S_RXHEAD);
  while (slot != 0) {
    const next = load<u32>(metaOf(slot - 1) + M_NEXT);
    slotUnref(slot - 1);
    slot = next;
  }
  qListComplete(load<u32>(s + S_POPHEAD), ECANCELED);
}


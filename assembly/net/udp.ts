// UDP (RFC 768) sockets: bind, connect (a default peer and a filter, as POSIX does), pushto,
// pop and close. Push sends the application's buffer in place when the headroom allows and no
// one else holds it (zero copy); otherwise it copies into a fresh slot.
import { PortMap, portMapInit, bindSocket, portOwner, portRelease } from "./ports";
import { slotOf, slotAlloc, slotBase, slotData, slotCap, slotRef, slotUnref, slotRc, slotApp, giveToApp,
         metaOf, M_NEXT, M_PTR, M_LEN, M_IP, M_PORT } from "../mem/pool";
import { count, D_UDP_TRUNCATED, D_UDP_BAD_LENGTH, D_UDP_BAD_CHECKSUM, D_UDP_NO_SOCKET, D_UDP_QUEUE_FULL,
         C_UDP_DELIVERED, C_UDP_SENT } from "../counters";
import { UdpRepr, udpParse, udpEmit, UDP_OK, UDP_TRUNCATED, UDP_BAD_LENGTH, UDP_HLEN } from "../wire/udp";
import { pseudoAddr4 } from "../wire/checksum";
import { IP_HLEN, PROTO_UDP } from "../wire/ipv4";
import { ETH_HLEN } from "../wire/eth";
import { localIp, udpQueueDepth } from "../schema/config";
import { EINVAL, EDESTADDRREQ, EMSGSIZE, ENOBUFS, ECANCELED } from "../schema/errno";
import { qAlloc, qComplete, qWake, qEntry, qListAppend, qListShift, qListRemove, qListComplete, Q_PTR, Q_LEN, Q_IP, Q_PORT, Q_QD, OP_POP, OP_PUSH } from "../sched/qtoken";
import {sock, S_BOUND, S_CONNECTED, S_LPORT, S_RIP, S_RPORT, S_RXHEAD, S_RXTAIL, S_RXCOUNT, S_POPHEAD, S_POPTAIL } from "./socket";
import { egressSend, egressWait } from "./egress";
import { K_UDP_POP, K_UDP_PUSH } from "../sched/kinds";

const HEADERS: u32 = ETH_HLEN + IP_HLEN + UDP_HLEN;
const MAX_PAYLOAD: u32 = 65535 - IP_HLEN - UDP_HLEN;
const ports = changetype<PortMap>(memory.data(16, 8));

export function udpInit(): bool {
  return portMapInit(ports);
}

/** Binds qd to (ip, port); port 0 picks an ephemeral port. Returns 0 or an errno. */
export function udpBind(qd: u32, ip: u32, port: u32): i32 {
  return bindSocket(ports, qd, ip, port);
}

/** Sets the default peer; (0, 0) dissolves it, as connect with AF_UNSPEC does (POSIX). */
export function udpConnect(qd: u32, ip: u32, port: u32): i32 {
  const s = sock(qd);
  if (ip == 0 && port == 0) { store<u8>(s + S_CONNECTED, 0); return 0; }
  if (ip == 0 || port == 0 || port > 65535) return EINVAL;
  if (load<u8>(s + S_BOUND) == 0) { const r = udpBind(qd, 0, 0); if (r != 0) return r; }
  store<u8>(s + S_CONNECTED, 1);
  store<u32>(s + S_RIP, ip);
  store<u32>(s + S_RPORT, port);
  return 0;
}

/**
 * Starts a push of the application's sga (ptr, len) to (ip, port); (0, 0) means the connected
 * peer. Returns the qtoken index, or -errno when the call itself is invalid.
 */
export function udpPushTo(qd: u32, ptr: usize, len: u32, ip: u32, port: u32): i32 {
  const s = sock(qd);
  if (ip == 0 && port == 0) {
    if (load<u8>(s + S_CONNECTED) == 0) return -EDESTADDRREQ;
    ip = load<u32>(s + S_RIP);
    port = load<u32>(s + S_RPORT);
  }
  if (ip == 0 || port == 0 || port > 65535) return -EINVAL;
  if (len > MAX_PAYLOAD) return -EMSGSIZE;
  // The sga must lie inside one buffer the application owns.
  const src = slotOf(ptr);
  if (src < 0 || !slotApp(<u32>src) || ptr < slotData(<u32>src)
      || ptr + len > slotData(<u32>src) + slotCap(<u32>src)) return -EINVAL;
  if (load<u8>(s + S_BOUND) == 0) { const r = udpBind(qd, 0, 0); if (r != 0) return -r; }
  const q = qAlloc(OP_PUSH, K_UDP_PUSH, <i32>qd);
  if (q < 0) return -ENOBUFS;
  let slot: u32;
  let payload: usize;
  if (slotRc(<u32>src) == 1 && ptr - slotBase(<u32>src) >= HEADERS) {
    slot = <u32>src;                 // zero copy: the stack takes its own reference
    payload = ptr;
    slotRef(slot);
  } else {
    const d = slotAlloc(len + HEADERS);
    if (d < 0) { qComplete(<u32>q, ENOBUFS); return q; }
    slot = <u32>d;
    payload = slotData(slot) + HEADERS;
    memory.copy(payload, ptr, len);
  }
  udpEmit(payload - UDP_HLEN, load<u32>(s + S_LPORT), port, len, pseudoAddr4(localIp, ip));
  const r = egressSend(slot, payload - UDP_HLEN, len + UDP_HLEN, ip, PROTO_UDP);
  if (r == 0) { count(C_UDP_SENT); qComplete(<u32>q, 0); }
  else if (r > 0) { count(C_UDP_SENT); egressWait(r, <u32>q); }
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
  const r = udpParse(p, len, pseudoAddr4(src, dst), hdr);
  if (r != UDP_OK) {
    count(r == UDP_TRUNCATED ? D_UDP_TRUNCATED : r == UDP_BAD_LENGTH ? D_UDP_BAD_LENGTH : D_UDP_BAD_CHECKSUM);
    slotUnref(slot);
    return;
  }
  const owner = portOwner(ports, hdr.dstPort);
  if (owner == 0) { count(D_UDP_NO_SOCKET); slotUnref(slot); return; }
  const s = sock(owner - 1);
  if (load<u8>(s + S_CONNECTED) != 0
      && (load<u32>(s + S_RIP) != src || load<u32>(s + S_RPORT) != hdr.srcPort)) {
    count(D_UDP_NO_SOCKET); slotUnref(slot); return;
  }
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
  if (load<u8>(s + S_BOUND) != 0) portRelease(ports, load<u32>(s + S_LPORT));
  let slot = load<u32>(s + S_RXHEAD);
  while (slot != 0) {
    const next = load<u32>(metaOf(slot - 1) + M_NEXT);
    slotUnref(slot - 1);
    slot = next;
  }
  qListComplete(load<u32>(s + S_POPHEAD), ECANCELED);
}


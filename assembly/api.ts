// The datapath's exports: lifecycle, the burst poll, PDPIX queue operations and introspection.
// Calls that yield a value (qd, qt, pointer) return it, or -errno; status calls return 0 or errno.
import { ld64, st64 } from "./wire/bytes";
import { layoutBegin, layoutEnd, layoutRemaining, carve } from "./mem/layout";
import { buddyFreeBytes } from "./mem/buddy";
import {poolInit, poolBytesFor, frameSlotSize, poolBase, poolBytes, slotOf, slotAlloc, slotData, slotApp, setSlotApp, slotUnref, slotRef, slotRc, giveToApp, appPtr, poolFreeCount, poolTotal, LARGE_CAP } from "./mem/pool";
import { qtInit, qAlloc, qComplete, qIndex, qEntry, qState, qOp, qFree, qOrphan, qRunReady, qNextDone, qtOf, qFreeCount, QS_DONE, OP_POP, OP_ACCEPT,
         Q_KIND, Q_QD, Q_RET, Q_PTR, Q_LEN, Q_IP, Q_PORT, Q_NEWQD, Q_V6, Q_HI, Q_LO } from "./sched/qtoken";
import { timersInit, timersAdvance, timersNextDeadline, timersActive } from "./sched/timers";
import { countersInit, countersPtr as counters, NUM_COUNTERS } from "./counters";
import { localIp, mtu, poolSmall, poolLarge, tcpMaxConnections, K_TCP_MAX_CONNECTIONS, configure as setConfig } from "./schema/config";
import { MAX_CONNECTIONS, RESULT_OPCODE, RESULT_QD, RESULT_QT, RESULT_RET, RESULT_SGA_BUF, RESULT_SGA_LEN, RESULT_ADDR, RESULT_PORT,
         RESULT_NEWQD, RESULT_FAMILY, RESULT_ADDR6, RESULT_SIZE, AF_INET, AF_INET6 } from "./schema/layout";
import { EBADF, EINVAL, EAGAIN, ENOMEM, ENOTSUP, EAFNOSUPPORT, EPROTONOSUPPORT, ENOTCONN, ENOPROTOOPT } from "./schema/errno";
import { linkInit, linkPollComp, linkRefill, linkReflect, fillRing, rxRing, txRing, compRing, fillCount } from "./net/link";
import { arpInit, arpAddStatic as addStatic, arpDump as dumpArp } from "./net/neighbor";
import { addr6Init, addr6Add as addAddress6, addr6Dump as dumpAddresses6, MAX_ADDRESSES } from "./net/addr6";
import { ndpInit, ndpDump as dumpNdp, ndpAddStatic as addStatic6, dadTick } from "./net/neighbor6";
import { egressInit } from "./net/egress";
import { pmtu6Init } from "./net/pmtu6";
import { mldTick } from "./net/mld";
import { ifacePollRx, ifacePollLoop } from "./net/iface";
import { loopInit, loopPending } from "./net/loopback";
import { reasmInit } from "./net/reassembly";
import { udpInit, udpBind, udpBind6, udpConnect, udpConnect6, udpPushTo, udpPushTo6, udpPop, udpClose } from "./net/udp";
import { socketsInit, qdValid, sockAlloc, sockFree, sock, sockV6, socketsOpen, S_TYPE, S_BOUND, S_CONNECTED, S_LIP, S_LIDX, S_LPORT,
         S_RPORT, S_RHI, S_RLO, SOCK_DGRAM, SOCK_STREAM, ANY6 } from "./net/socket";
import { addr6Hi, addr6Lo } from "./net/addr6";
import { setNow } from "./net/clock";
import { tcpInit, tcpBind, tcpBind6, tcpListen, tcpAccept, tcpConnect, tcpConnect6, tcpPush, tcpPop, tcpClose,
         tcpShutdown, tcpSetOption, tcpGetOption } from "./net/tcp/stream";
import { tcpFlushOutput, unsentBytes } from "./net/tcp/engine";
import { runTask, cancelTask, fireTimer } from "./handlers";
import { buffersInit } from "./net/tcp/buffers";
import { advertisedWindow } from "./net/tcp/output";
import { tcb, tcbCount, tcbBytesEach, tcbBytesBound, nTcb, sendBlockBytes } from "./net/tcp/tcb";
import { tcbOf } from "./net/tcp/stream";
import { SYN_SENT } from "./net/tcp/tcb";
import { lostBytes, logPipe } from "./net/tcp/rack";
import { tcpCongestion } from "./schema/config";
import { S_SIZE, SMAX } from "./net/socket";
import { Q_BYTES_EACH, qCapacity } from "./sched/qtoken";
import { T_BYTES_EACH, timersCapacity } from "./sched/timers";

export { heapTop } from "./mem/layout";

const RING_ENTRIES: u32 = 1024;
const RX_BUDGET: u32 = 256;
const LOOP_ROUNDS: i32 = 4;    // send-and-answer exchanges to ourselves one turn carries

let result: usize = 0;          // the result block take() fills: see host/abi.ts
let scratch: usize = 0;         // 4 KiB the host may use for arguments and dumps
let ready: bool = false;
let laidOut: bool = false;      // init ran (carve's zeroed memory holds only once)

export function configure(key: i32, value: f64): i32 {
  return ready ? EINVAL : setConfig(key, value);
}

/** Lays out memory and builds every table, once. Returns 0, or ENOMEM when the memory is too
 *  small (the instance is then of no further use), EINVAL when called again. */
export function init(): i32 {
  if (laidOut) return EINVAL;
  laidOut = true;
  layoutBegin();
  countersInit(carve(<usize>NUM_COUNTERS * 8, 64));
  result = carve(RESULT_SIZE, 64);
  scratch = carve(4096, 64);
  if (counters() == 0 || result == 0 || scratch == 0) return ENOMEM;
  if (tcpMaxConnections == 0) setConfig(K_TCP_MAX_CONNECTIONS, connectionsThatFit());
  // Every connection may be a socket with operations pending and timers running: the tables of
  // sockets, qtokens and timers grow with tcp.max_connections (1024 sockets at least).
  const sockets = max<u32>(1024, <u32>tcpMaxConnections + 64);
  if (!qtInit(sockets) || !timersInit(max<u32>(2048, sockets * 4)) || !linkInit(RING_ENTRIES) || !arpInit() || !reasmInit()
      || !loopInit() || !addr6Init() || !ndpInit() || !pmtu6Init()
      || !socketsInit(sockets) || !udpInit() || !tcpInit()) return ENOMEM;
  // The pool comes last so that it can take the rest of a small memory without a second layout.
  if (!poolInit(<u32>poolSmall, <u32>poolLarge, frameSlotSize(<u32>mtu))) return ENOMEM;
  // TCP's rings and segment logs take the rest (net/tcp/buffers.ts).
  if (!buffersInit(layoutRemaining())) return ENOMEM;
  egressInit();
  linkRefill();
  ready = true;
  return 0;
}


// The smaller tables (ports, ARP, reassembly, rings) and the least the TCP buffers need.
const FIXED_TABLES: usize = 3 << 20;

/**
 * At most what the tables carve per connection: its socket, four qtokens (the table rounds to a
 * power of two: twice that), four timers, its control block and index share.
 */
function bytesPerConnection(): usize {
  return S_SIZE + 4 * 2 * Q_BYTES_EACH + 4 * T_BYTES_EACH + tcbBytesBound();
}

/**
 * tcp.max_connections left to the datapath: the memory left after the pool and the smaller
 * tables, half for the connection tables and half for buffered bytes (64 connections at least).
 */
function connectionsThatFit(): u32 {
  const left = layoutRemaining();
  const fixed = poolBytesFor(<u32>poolSmall, <u32>poolLarge, frameSlotSize(<u32>mtu)) + FIXED_TABLES;
  const n = left > fixed ? (left - fixed) / 2 / bytesPerConnection() : 0;
  return <u32>min<usize>(<usize>MAX_CONNECTIONS, max<usize>(64, n));
}

@inline function isStream(qd: i32): bool { return load<u8>(sock(<u32>qd) + S_TYPE) == SOCK_STREAM; }

/**
 * One turn of the datapath at time `now` (ns): TX completions, the TCP output pushes left
 * waiting, a burst of RX, ready tasks, then timers (so that an ACK which arrived in time cancels
 * the retransmission it makes needless), the output of the turn's pushes, fill-ring refill.
 * Returns the number of frames, tasks and timers handled (0 means idle).
 */
export function poll(now: f64): i32 {
  setNow(now);
  mldTick();                                   // groups joined since the last turn, before their DAD probes
  dadTick();
  let work = linkPollComp();
  work += tcpFlushOutput();                    // what the application pushed since the last turn
  work += ifacePollRx(RX_BUDGET);
  work += qRunReady(runTask);
  work += timersAdvance(now, fireTimer);
  work += qRunReady(runTask);                 // tasks the timers woke
  work += tcpFlushOutput();                    // pushes those tasks completed
  // What the turn sent to ourselves climbs back in the same turn: a SYN, its SYN-ACK and the
  // handshake's ACK, or a request and its data's ACK, all before the host takes completions.
  for (let round = 0; round < LOOP_ROUNDS && loopPending() > 0; round++) {
    work += ifacePollLoop(RX_BUDGET);
    work += qRunReady(runTask);
    work += tcpFlushOutput();
  }
  linkRefill();
  // Frames still looped (more than the rounds took) are work: the driver turns again at once.
  return work + <i32>loopPending();
}

/**
 * Moves the datapath's clock to `now` (ns) between turns, never back: an event-loop driver calls
 * it when an application call wakes it from a sleep, so that timers the call arms (ARP, a SYN's
 * retransmission) count from the call, not from the last turn before the sleep.
 */
export function advanceClock(now: f64): void { setNow(now); }

// ---- PDPIX ----

export function socket(domain: i32, type: i32, protocol: i32): i32 {
  if (!ready) return -EINVAL;
  if (domain != AF_INET && domain != AF_INET6) return -EAFNOSUPPORT;
  if (type != SOCK_DGRAM && type != SOCK_STREAM) return -EPROTONOSUPPORT;
  if (protocol != 0 && protocol != (type == SOCK_STREAM ? 6 : 17)) return -EPROTONOSUPPORT;
  const qd = sockAlloc(<u8>type, domain == AF_INET6);
  return qd < 0 ? -ENOMEM : qd;
}

export function bind(qd: i32, ip: u32, port: u32): i32 {
  if (!qdValid(qd)) return EBADF;
  if (sockV6(<u32>qd)) return EAFNOSUPPORT;
  return isStream(qd) ? tcpBind(<u32>qd, ip, port) : udpBind(<u32>qd, ip, port);
}

// The IPv6 forms of bind, connect and pushto take the address as 16 bytes in network order at
// `a`, in the scratch area (:: for any); an IPv4 socket refuses them with EAFNOSUPPORT.
@inline function inScratch(a: u32): bool { return <usize>a >= scratch && <usize>a + 16 <= scratch + 4096; }

export function bind6(qd: i32, a: u32, port: u32): i32 {
  if (!qdValid(qd)) return EBADF;
  if (!inScratch(a)) return EINVAL;
  if (!sockV6(<u32>qd)) return EAFNOSUPPORT;
  return isStream(qd) ? tcpBind6(<u32>qd, ld64(a), ld64(a + 8), port) : udpBind6(<u32>qd, ld64(a), ld64(a + 8), port);
}

export function connect6(qd: i32, a: u32, port: u32): i32 {
  if (!qdValid(qd)) return -EBADF;
  if (!inScratch(a)) return -EINVAL;
  if (isStream(qd)) {
    const q = tcpConnect6(<u32>qd, ld64(a), ld64(a + 8), port);
    return q < 0 ? q : <i32>qtOf(<u32>q);
  }
  const r = udpConnect6(<u32>qd, ld64(a), ld64(a + 8), port);
  if (r != 0) return -r;
  return completedToken(4 /* OP_CONNECT */, qd);
}

export function pushto6(qd: i32, ptr: u32, len: u32, a: u32, port: u32): i32 {
  if (!qdValid(qd)) return -EBADF;
  if (!inScratch(a)) return -EINVAL;
  const q = isStream(qd) ? tcpPush(<u32>qd, ptr, len) : udpPushTo6(<u32>qd, ptr, len, ld64(a), ld64(a + 8), port);
  return q < 0 ? q : <i32>qtOf(<u32>q);
}

export function listen(qd: i32, backlog: i32): i32 {
  if (!qdValid(qd)) return EBADF;
  return isStream(qd) ? tcpListen(<u32>qd, backlog) : ENOTSUP;   // datagram sockets do not listen
}

export function accept(qd: i32): i32 {
  if (!qdValid(qd)) return -EBADF;
  if (!isStream(qd)) return -ENOTSUP;
  const q = tcpAccept(<u32>qd);
  return q < 0 ? q : <i32>qtOf(<u32>q);
}

/** UDP connect completes at once ((0, 0) dissolves the default peer); TCP's completes when the handshake does (or fails). */
export function connect(qd: i32, ip: u32, port: u32): i32 {
  if (!qdValid(qd)) return -EBADF;
  if (isStream(qd)) {
    const q = tcpConnect(<u32>qd, ip, port);
    return q < 0 ? q : <i32>qtOf(<u32>q);
  }
  const r = udpConnect(<u32>qd, ip, port);
  if (r != 0) return -r;
  return completedToken(4 /* OP_CONNECT */, qd);
}

function completedToken(op: u8, qd: i32): i32 {
  const q = qAlloc(op, 0, qd);
  if (q < 0) return -ENOMEM;
  qComplete(<u32>q, 0);
  return <i32>qtOf(<u32>q);
}

export function close(qd: i32): i32 {
  if (!qdValid(qd)) return EBADF;
  if (isStream(qd)) tcpClose(<u32>qd);
  else udpClose(<u32>qd);
  sockFree(<u32>qd);
  return 0;
}

/** shutdown(SHUT_WR) of a stream socket: FIN after the queued data; pops go on. 0 or an errno. */
export function shutdown(qd: i32): i32 {
  if (!qdValid(qd)) return EBADF;
  return isStream(qd) ? tcpShutdown(<u32>qd) : ENOTSUP;
}

export function pushto(qd: i32, ptr: u32, len: u32, ip: u32, port: u32): i32 {
  if (!qdValid(qd)) return -EBADF;
  // A stream goes to its peer whatever address pushto names, as sendto on a connected socket.
  const q = isStream(qd) ? tcpPush(<u32>qd, ptr, len) : udpPushTo(<u32>qd, ptr, len, ip, port);
  return q < 0 ? q : <i32>qtOf(<u32>q);
}

export function pop(qd: i32): i32 {
  if (!qdValid(qd)) return -EBADF;
  const q = isStream(qd) ? tcpPop(<u32>qd) : udpPop(<u32>qd);
  return q < 0 ? q : <i32>qtOf(<u32>q);
}

/** setsockopt: TCP_NODELAY (1), SO_KEEPALIVE (2) and SO_LINGER with a zero timeout (4) on stream sockets. Returns 0 or an errno. */
export function setsockopt(qd: i32, opt: u32, value: u32): i32 {
  if (!qdValid(qd)) return EBADF;
  if (!isStream(qd)) return ENOPROTOOPT;
  return tcpSetOption(<u32>qd, opt, value != 0);
}

/** getsockopt: the option's value (0 or 1), or -errno. */
export function getsockopt(qd: i32, opt: u32): i32 {
  if (!qdValid(qd)) return -EBADF;
  if (!isStream(qd)) return -ENOPROTOOPT;
  return tcpGetOption(<u32>qd, opt);
}

/** The sockaddr of qd's local (peer = 0) or remote (peer = 1) end, written to the result block
 *  (family, address and port; an unbound socket's port is 0, its address any). */
export function sockname(qd: i32, peer: i32): i32 {
  if (!qdValid(qd)) return EBADF;
  const s = sock(<u32>qd);
  const v6 = sockV6(<u32>qd);
  const t = isStream(qd) ? tcbOf(<u32>qd) : null;
  if (peer != 0) {
    if (t !== null) {
      if (t.state == SYN_SENT) return ENOTCONN;
      putAddress(v6, <u32>t.ripLo, t.ripHi, t.ripLo, t.rport);
    } else {
      if (isStream(qd) || load<u8>(s + S_CONNECTED) == 0) return ENOTCONN;
      putAddress(v6, load<u32>(s + S_RLO), load<u64>(s + S_RHI), load<u64>(s + S_RLO), load<u32>(s + S_RPORT));
    }
    return 0;
  }
  const port = t !== null ? t.lport : load<u8>(s + S_BOUND) != 0 ? load<u32>(s + S_LPORT) : 0;
  if (!v6) { putAddress(false, t !== null ? t.lip : load<u32>(s + S_LIP), 0, 0, port); return 0; }
  // A connection knows which of our addresses it uses; a socket bound to :: says ::.
  const i = t !== null ? t.lip : <u32>load<u8>(s + S_LIDX);
  if (i == ANY6) putAddress(true, 0, 0, 0, port);
  else putAddress(true, 0, addr6Hi(i), addr6Lo(i), port);
  return 0;
}

/** An address into the result block: an IPv4 one as `ip`, an IPv6 one as hi:lo. */
function putAddress(v6: bool, ip: u32, hi: u64, lo: u64, port: u32): void {
  store<u32>(result + RESULT_FAMILY, v6 ? AF_INET6 : AF_INET);
  store<u32>(result + RESULT_ADDR, v6 ? 0 : ip);
  st64(result + RESULT_ADDR6, v6 ? hi : 0);
  st64(result + RESULT_ADDR6 + 8, v6 ? lo : 0);
  store<u32>(result + RESULT_PORT, port);
}

// Application data starts 2 bytes into the slot's data area, so that the 42 bytes of Ethernet,
// IPv4 and UDP headers that push builds in front of it start the frame on an 8-byte boundary
// (Linux's NET_IP_ALIGN, turned around): devices and the loopback link copy aligned words.
const APP_ALIGN: u32 = 2;

export function sgaalloc(len: u32): i32 {
  if (!ready) return -EINVAL;
  if (len == 0 || len > LARGE_CAP - APP_ALIGN) return -EINVAL;
  const s = slotAlloc(len + APP_ALIGN);
  if (s < 0) return -ENOMEM;
  const p = slotData(<u32>s) + APP_ALIGN;
  giveToApp(<u32>s, p);
  return <i32>p;
}

/**
 * Frees an application buffer. It must name the pointer the stack handed out (by sgaalloc or
 * pop): a pointer into the middle of a buffer, a foreign one or a second free is EINVAL and
 * changes nothing.
 */
export function sgafree(ptr: u32): i32 {
  const s = slotOf(ptr);
  if (s < 0 || !slotApp(<u32>s) || appPtr(<u32>s) != <usize>ptr) return EINVAL;
  setSlotApp(<u32>s, false);
  slotUnref(<u32>s);
  return 0;
}

/**
 * A transport backend (libfabric) takes its own reference to an application buffer while a device
 * reads or writes it, so that sgafree before the completion cannot hand the slot to someone else.
 * `ptr` must lie in a buffer the application owns; returns 0 or EINVAL.
 */
export function bufHold(ptr: u32): i32 {
  const s = slotOf(ptr);
  if (s < 0 || !slotApp(<u32>s) || <usize>ptr < slotData(<u32>s)) return EINVAL;
  slotRef(<u32>s);
  return 0;
}

/** Drops a reference taken by bufHold (or the one a backend holds on a posted receive). */
export function bufRelease(ptr: u32): i32 {
  const s = slotOf(ptr);
  if (s < 0 || slotRc(<u32>s) == 0) return EINVAL;
  slotUnref(<u32>s);
  return 0;
}

/** True when qt has completed (wait() polls this between datapath turns). */
export function done(qt: u32): i32 {
  const i = qIndex(qt);
  if (i < 0) return -EINVAL;
  return qState(<u32>i) == QS_DONE ? 1 : 0;
}

/** Moves a completed operation's result into the result block and releases its qtoken. */
export function take(qt: u32): i32 {
  const i = qIndex(qt);
  if (i < 0) return EINVAL;
  if (qState(<u32>i) != QS_DONE) return EAGAIN;
  const e = qEntry(<u32>i);
  store<i32>(result + RESULT_OPCODE, qOp(<u32>i));
  store<i32>(result + RESULT_QD, load<i32>(e + Q_QD));
  store<u32>(result + RESULT_QT, qt);
  store<i32>(result + RESULT_RET, load<i32>(e + Q_RET));
  store<u32>(result + RESULT_SGA_BUF, load<u32>(e + Q_PTR));
  store<u32>(result + RESULT_SGA_LEN, load<u32>(e + Q_LEN));
  const v6 = load<u8>(e + Q_V6) != 0;
  putAddress(v6, load<u32>(e + Q_IP), load<u64>(e + Q_HI), load<u64>(e + Q_LO), load<u32>(e + Q_PORT));
  store<i32>(result + RESULT_NEWQD, load<i32>(e + Q_NEWQD));
  qFree(<u32>i);
  return 0;
}

/**
 * Cancels qt (demi's missing cancel). A pending pop or accept leaves its wait list and will take
 * nothing; a pending TCP push leaves its queue (bytes it already put in the send buffer are sent);
 * a connect under way or a datagram waiting for ARP goes on, its qtoken released when it ends. A
 * completed operation is released with what it held: a popped buffer is freed, an accepted socket
 * closed. Returns 0, or EINVAL for a stale or foreign qtoken.
 */
export function cancel(qt: u32): i32 {
  const i = qIndex(qt);
  if (i < 0) return EINVAL;
  const q = <u32>i;
  const e = qEntry(q);
  if (qState(q) == QS_DONE) {
    const op = qOp(q);
    if (op == OP_POP && load<u32>(e + Q_LEN) != 0) sgafree(load<u32>(e + Q_PTR));
    else if (op == OP_ACCEPT) close(load<i32>(e + Q_NEWQD));
    qFree(q);
    return 0;
  }
  if (cancelTask(q)) qFree(q);
  else qOrphan(q);
  return 0;
}

/** The next completed qtoken at or after table index `from` (waitNextN scans with it), or -1. */
export function nextDone(from: u32): i32 {
  const i = qNextDone(from);
  return i < 0 ? -1 : <i32>qtOf(<u32>i);
}

export function arpAddStatic(ip: u32, hi: u32, lo: u32): i32 { return addStatic(ip, hi, lo); }
export function arpDump(max: u32): u32 { return dumpArp(scratch, min(max, 256)); }
/** Adds an IPv6 address (16 bytes in network order at `p`, in the scratch area) with its prefix
 *  length, after init(): 0, EINVAL (not unicast, prefix past 128, p outside scratch) or ENOMEM. */
export function addr6Add(p: u32, prefix: u32): i32 {
  if (!ready || <usize>p < scratch || <usize>p + 16 > scratch + 4096) return EINVAL;
  return addAddress6(ld64(p), ld64(p + 8), prefix);
}
/** A static IPv6 neighbor (16 bytes in network order at `p`, in scratch) at a MAC: 0, EINVAL
 *  (p outside scratch, a group address) or ENOBUFS (the cache is full). */
export function ndpAddStatic(p: u32, hi: u32, lo: u32): i32 {
  if (!ready || <usize>p < scratch || <usize>p + 16 > scratch + 4096) return EINVAL;
  const a = ld64(p);
  if ((a >> 56) == 0xff) return EINVAL;
  return addStatic6(a, ld64(p + 8), hi, lo);
}
/** Our IPv6 addresses into scratch: rows of (hi u64, lo u64, prefix u32, pad), native order. */
export function addr6Dump(): u32 { return dumpAddresses6(scratch, MAX_ADDRESSES); }
/** The neighbor cache into scratch: up to 128 rows of (hi u64, lo u64, macHi, macLo, state, pad). */
export function ndpDump(max: u32): u32 { return dumpNdp(scratch, min(max, 128)); }

// ---- introspection (host/abi.ts reads these once) ----
export function resultPtr(): u32 { return <u32>result; }
export function scratchPtr(): u32 { return <u32>scratch; }
export function countersPtr(): u32 { return <u32>counters(); }
export function countersLen(): u32 { return <u32>NUM_COUNTERS; }
export function ringFill(): u32 { return <u32>fillRing; }
export function ringRx(): u32 { return <u32>rxRing; }
export function ringTx(): u32 { return <u32>txRing; }
export function ringComp(): u32 { return <u32>compRing; }
/** The DPDK benchmark's L2 reflect: rx ring to tx ring, MACs swapped (raw ports only). In the
 *  release build because `bench dpdk` measures the release build against the all-C loop. */
export function l2Reflect(budget: u32): u32 { return linkReflect(budget); }
/** A frame slot's size at the configured MTU (pool.ts), for the host's error messages. */
export function frameSlotBytes(): u32 { return frameSlotSize(<u32>mtu); }
export function poolRegionBase(): u32 { return <u32>poolBase; }
export function poolRegionBytes(): u32 { return <u32>poolBytes; }
export function layoutTop(): u32 { return <u32>layoutEnd(); }
/** Buffers not held by anyone: free in the pool, or waiting empty in the fill ring. */
export function poolAvailable(): u32 { return poolFreeCount() + fillCount(); }
export function poolSize(): u32 { return poolTotal(); }
export function qtokensFree(): u32 { return qFreeCount(); }
/** The qtoken table's size (sized from the socket count at init). */
export function qtokensTotal(): u32 { return qCapacity(); }
export function timersPending(): u32 { return timersActive(); }
export function nextDeadline(): f64 { return timersNextDeadline(); }
export function openSockets(): u32 { return socketsOpen(); }
export function localAddress(): u32 { return localIp; }
/**
 * TCP_INFO for a socket, written to the scratch area as u32s: state, mss, cwnd, ssthresh,
 * srtt (µs), rto (µs), snd wnd, rcv wnd, bytes unacked, consecutive timeouts, the congestion
 * algorithm, the advertised window, then what loss recovery did (host/libos.ts TcpInfo names
 * them in this order). Returns 0, EBADF or ENOTCONN.
 */
export function tcpInfo(qd: i32): i32 {
  if (!qdValid(qd) || !isStream(qd)) return EBADF;
  const t = tcbOf(<u32>qd);
  if (t === null) return ENOTCONN;
  const o = scratch;
  store<u32>(o, t.state);
  store<u32>(o + 4, t.mss);
  store<u32>(o + 8, t.cwnd);
  store<u32>(o + 12, t.ssthresh);
  store<u32>(o + 16, <u32>(t.srtt / 1e3));
  store<u32>(o + 20, <u32>(t.rto / 1e3));
  store<u32>(o + 24, t.sndWnd);
  store<u32>(o + 28, t.rCap - t.rlen);
  store<u32>(o + 32, t.sndNxt - t.sndUna);
  store<u32>(o + 36, t.retries);
  store<u32>(o + 40, <u32>tcpCongestion);
  store<u32>(o + 44, advertisedWindow(t));
  store<u32>(o + 48, t.nRetrans);
  store<u32>(o + 52, t.nFastRecoveries);
  store<u32>(o + 56, t.nRtoRetrans);
  store<u32>(o + 60, t.nTlp);
  store<u32>(o + 64, t.nRackLost);
  store<u32>(o + 68, t.nSpurious);
  store<u32>(o + 72, t.nUndo);
  store<u32>(o + 76, t.nDsackSent);
  store<u32>(o + 80, lostBytes(t));
  store<u32>(o + 84, t.minRttUs);
  store<u32>(o + 88, logPipe(t));
  store<u32>(o + 92, unsentBytes(t));
  store<u32>(o + 96, t.inRecovery);
  store<u32>(o + 100, <u32>sendBlockBytes(t));
  store<u32>(o + 104, t.rSize);
  return 0;
}

/**
 * Bytes the stack sets aside per TCP connection, whatever it holds: its socket, its share of the
 * qtoken and timer tables, and the connection table's (control block, out-of-order ranges, index).
 * Rings and segment logs come on top only while bytes are buffered (tcpBufferBytesFree).
 */
export function tcpBytesPerConnection(): u32 {
  const n = max<u32>(nTcb, 1);
  return tcbBytesEach() + <u32>((<usize>SMAX * S_SIZE + <usize>qCapacity() * Q_BYTES_EACH + <usize>timersCapacity() * T_BYTES_EACH) / n);
}

/** tcp.max_connections as the datapath settled it. */
export function tcpMaxConnectionCount(): u32 { return nTcb; }

/** Bytes of TCP buffer memory not handed out: back to its start once every connection is gone. */
export function tcpBufferBytesFree(): u32 { return <u32>buddyFreeBytes(); }

/** Connections in a TCP state (tcb.ts numbering), for tests and stats. */
export function tcpConnections(state: u32): u32 { return tcbCount(<u8>state); }

// The posix backend (Demikernel's catnap): PDPIX over the kernel's own sockets, for machines
// without DPDK or RDMA and for talking to ordinary clients. A transport backend: queue
// operations run directly on non-blocking sockets (native/posix.c) that poll() retries, and data
// moves between the socket and pool slots of the Wasm memory without a JS copy.
import { posixNative, type PosixNative } from "../native.js";
import { TransportQueues, type Pending } from "./transport.js";
import { DemiError, EAGAIN, EBADF, ECANCELED, EINVAL, EAFNOSUPPORT, EPROTONOSUPPORT, EDESTADDRREQ, ENOPROTOOPT, ENOTSUP } from "../errno.js";
import { RealClock, type Clock } from "../clock.js";
import type { Config } from "../config.js";
import { Opcode, AF_INET, SOCK_STREAM, SOCK_DGRAM, type Sga, type SockAddr } from "../libos.js";

const EINPROGRESS = 115;
const STREAM_POP_BYTES = 2046;                  // one small pool slot per stream pop

interface PushOp { qt: number; buf: number; len: number; sent: number; ip: number; port: number }

interface Sock {
  fd: number;
  stream: boolean;
  connecting: number;                           // the connect qtoken while a stream connect is pending
  pops: number[];
  pushes: PushOp[];
  accepts: number[];
  watching: number;                             // the readiness events libuv watches for (native/watch.c)
  shutdownPending: boolean;                     // shutdownWrite waits for the pushes before it
}

function newSock(fd: number, stream: boolean): Sock {
  return { fd, stream, connecting: 0, pops: [], pushes: [], accepts: [], watching: 0, shutdownPending: false };
}

const READABLE = 1, WRITABLE = 2;

/**
 * Who turns when a watched fd is ready: the native waker is one per process, the stacks many
 * (two posix stacks in one process each watch their own fds).
 */
const wakers = new Map<number, () => void>();
let wakerSet = false;
function dispatchReady(fd: number): void { wakers.get(fd)?.(); }

export class PosixLibOS extends TransportQueues {
  private readonly nat: PosixNative;
  private readonly socks = new Map<number, Sock>();
  private nextQd = 1;
  private readonly addr = new Uint32Array(2);
  private wake: (() => void) | null = null;

  constructor(config: Config, clock: Clock = new RealClock()) {
    const nat = posixNative();                  // one clear line if the bridge is missing
    super(config, clock);
    this.nat = nat;
  }

  socket(domain = AF_INET, type = SOCK_DGRAM, protocol = 0): number {
    if (domain !== AF_INET) throw new DemiError(EAFNOSUPPORT, "socket");
    if (type !== SOCK_DGRAM && type !== SOCK_STREAM) throw new DemiError(EPROTONOSUPPORT, "socket");
    if (protocol !== 0 && protocol !== (type === SOCK_STREAM ? 6 : 17)) throw new DemiError(EPROTONOSUPPORT, "socket");
    const fd = this.nat.socket(type === SOCK_STREAM);
    if (fd < 0) throw new DemiError(-fd, "socket");
    const qd = this.nextQd++;
    this.socks.set(qd, newSock(fd, type === SOCK_STREAM));
    return qd;
  }

  bind(qd: number, local: SockAddr): void { this.status(this.nat.bind(this.sock(qd, "bind").fd, local.addr, local.port), "bind"); }

  listen(qd: number, backlog = 16): void {
    const s = this.sock(qd, "listen");
    if (!s.stream) throw new DemiError(ENOTSUP, "listen");
    this.status(this.nat.listen(s.fd, backlog), "listen");
  }

  accept(qd: number): number {
    const s = this.sock(qd, "accept");
    const qt = this.newQt(Opcode.ACCEPT, qd);
    s.accepts.push(qt);
    this.progress(s);
    return qt;
  }

  connect(qd: number, remote: SockAddr): number {
    const s = this.sock(qd, "connect");
    const qt = this.newQt(Opcode.CONNECT, qd);
    const r = this.nat.connect(s.fd, remote.addr, remote.port);
    if (r === 0) this.complete(qt, 0);
    else if (r === -EINPROGRESS && s.stream) { s.connecting = qt; this.watch(s); }
    else this.complete(qt, -r);
    return qt;
  }

  /** As LibOS.setsockopt: TCP_NODELAY (on by default here too) and SO_KEEPALIVE. */
  setsockopt(qd: number, opt: "TCP_NODELAY" | "SO_KEEPALIVE", value: boolean): void {
    const s = this.sock(qd, "setsockopt");
    if (!s.stream) throw new DemiError(ENOPROTOOPT, "setsockopt");
    this.status(this.nat.setsockopt(s.fd, opt === "TCP_NODELAY" ? 1 : 2, value ? 1 : 0), "setsockopt");
  }

  /** shutdown(SHUT_WR) of a stream: FIN once the pushes before it are sent; pops go on. */
  shutdownWrite(qd: number): void {
    const s = this.sock(qd, "shutdownWrite");
    if (!s.stream) throw new DemiError(ENOTSUP, "shutdownWrite");
    this.progress(s);
    if (s.pushes.length > 0) { s.shutdownPending = true; return; }
    this.status(this.nat.shutdown(s.fd), "shutdownWrite");
  }

  pushto(qd: number, sga: Sga, to: SockAddr): number {
    return this.enqueuePush(qd, sga, to.addr, to.port, "pushto");
  }

  push(qd: number, sga: Sga): number {
    return this.enqueuePush(qd, sga, 0, 0, "push");
  }

  pop(qd: number): number {
    const s = this.sock(qd, "pop");
    const qt = this.newQt(Opcode.POP, qd);
    s.pops.push(qt);
    this.progress(s);
    return qt;
  }

  close(qd: number): void {
    const s = this.sock(qd, "close");
    for (const qt of [...s.pops, ...s.accepts]) this.complete(qt, ECANCELED);
    for (const p of s.pushes) { this.dp.exports.bufRelease(p.buf); this.complete(p.qt, ECANCELED); }
    if (s.connecting) this.complete(s.connecting, ECANCELED);
    if (s.watching !== 0) wakers.delete(s.fd);
    this.nat.close(s.fd);                       // also stops its readiness watcher
    this.socks.delete(qd);
  }

  protected withdraw(qt: number, p: Pending): boolean {
    const s = this.socks.get(p.qd);
    if (s === undefined) return false;
    const drop = (list: number[]) => { const i = list.indexOf(qt); if (i >= 0) list.splice(i, 1); return i >= 0; };
    if (drop(s.pops) || drop(s.accepts)) { this.watch(s); return true; }
    const i = s.pushes.findIndex((op) => op.qt === qt);
    if (i < 0) return false;                    // a connect under way: it goes on, unwatched
    this.dp.exports.bufRelease(s.pushes[i].buf);
    s.pushes.splice(i, 1);
    this.watch(s);
    return true;
  }

  /**
   * Readiness through libuv instead of spinning: while on, each socket's fd is watched for what
   * its pending operations wait for, and a ready fd calls `wake` (an event-loop driver's turn).
   */
  setReadiness(wake: (() => void) | null): void {
    if (!wakerSet) { this.nat.setWaker(dispatchReady); wakerSet = true; }
    this.wake = wake;
    for (const s of this.socks.values()) this.watch(s);
  }

  /** Brings the fd's libuv watcher in line with the socket's pending operations. */
  private watch(s: Sock): void {
    let want = 0;
    if (this.wake !== null) {
      if (s.pops.length > 0 || s.accepts.length > 0) want |= READABLE;
      if (s.pushes.length > 0 || s.connecting !== 0) want |= WRITABLE;
    }
    if (want === s.watching) return;
    s.watching = want;
    if (want !== 0) wakers.set(s.fd, this.wake!);
    else wakers.delete(s.fd);
    this.nat.watch(s.fd, want);
  }

  getsockname(qd: number): SockAddr { return this.name(qd, false); }
  getpeername(qd: number): SockAddr { return this.name(qd, true); }

  /** Retries every pending operation once; returns how many completed. */
  poll(): number {
    let n = 0;
    for (const s of this.socks.values()) n += this.progress(s);
    return n;
  }

  private enqueuePush(qd: number, sga: Sga, ip: number, port: number, what: string): number {
    const s = this.sock(qd, what);
    if (!s.stream && ip === 0 && this.nat.sockname(s.fd, true, this.addr) !== 0) throw new DemiError(EDESTADDRREQ, what);
    // The kernel copies when the send happens; until then the buffer is held for us.
    if (this.dp.exports.bufHold(sga.buf) !== 0) throw new DemiError(EINVAL, what);
    const qt = this.newQt(Opcode.PUSH, qd);
    s.pushes.push({ qt, buf: sga.buf, len: sga.len, sent: 0, ip, port });
    this.progress(s);
    return qt;
  }

  private progress(s: Sock): number {
    let n = 0;
    if (s.connecting) {
      const r = this.nat.connected(s.fd);
      if (r !== 0) { this.complete(s.connecting, r > 0 ? 0 : -r); s.connecting = 0; n++; }
    }
    while (s.accepts.length > 0) {
      const fd = this.nat.accept(s.fd, this.addr);
      if (fd === -EAGAIN) break;
      const qt = s.accepts.shift()!;
      n++;
      if (fd < 0) { this.complete(qt, -fd); continue; }
      const nqd = this.nextQd++;
      this.socks.set(nqd, newSock(fd, true));
      const p = this.pending.get(qt)!;
      p.newQd = nqd;
      p.addr = { addr: this.addr[0], port: this.addr[1] };
      this.complete(qt, 0);
    }
    while (s.pushes.length > 0) {
      const p = s.pushes[0];
      const r = this.nat.send(s.fd, this.u8, p.buf + p.sent, p.len - p.sent, p.ip, p.port);
      if (r === -EAGAIN) break;
      if (r >= 0 && s.stream && p.sent + r < p.len) { p.sent += r; continue; }
      s.pushes.shift();
      this.dp.exports.bufRelease(p.buf);
      this.complete(p.qt, r < 0 ? -r : 0);
      n++;
    }
    if (s.shutdownPending && s.pushes.length === 0) { s.shutdownPending = false; this.nat.shutdown(s.fd); }
    while (s.pops.length > 0) {
      const size = s.stream ? STREAM_POP_BYTES : this.nat.pending(s.fd);
      if (size === -EAGAIN) break;
      if (size < 0) { this.complete(s.pops.shift()!, -size); n++; continue; }
      const buf = this.dp.exports.sgaalloc(Math.max(1, size));
      if (buf < 0) break;                        // pool empty: retried on a later poll
      const r = this.nat.recv(s.fd, this.u8, buf, Math.max(1, size), this.addr);
      if (r === -EAGAIN) { this.dp.exports.sgafree(buf); break; }
      const qt = s.pops.shift()!;
      n++;
      if (r < 0) { this.dp.exports.sgafree(buf); this.complete(qt, -r); continue; }
      const p = this.pending.get(qt)!;
      if (r === 0 && s.stream) { this.dp.exports.sgafree(buf); p.buf = 0; p.len = 0; }   // end of stream
      else { p.buf = buf; p.len = r; }
      p.addr = { addr: this.addr[0], port: this.addr[1] };
      this.complete(qt, 0);
    }
    this.watch(s);
    return n;
  }

  private name(qd: number, peer: boolean): SockAddr {
    this.status(this.nat.sockname(this.sock(qd, peer ? "getpeername" : "getsockname").fd, peer, this.addr), peer ? "getpeername" : "getsockname");
    return { addr: this.addr[0], port: this.addr[1] };
  }

  private sock(qd: number, what: string): Sock {
    const s = this.socks.get(qd);
    if (!s) throw new DemiError(EBADF, what);
    return s;
  }

  private status(r: number, what: string): void {
    if (r !== 0) throw new DemiError(-r, what);
  }

  /** Closes every socket; pending operations fail with ECANCELED. */
  shutdown(): void {
    for (const qd of [...this.socks.keys()]) this.close(qd);
  }
}

// The posix backend (Demikernel's catnap): PDPIX over the kernel's own sockets, for machines
// without DPDK or RDMA and for talking to ordinary clients. A transport backend: queue
// operations run directly on non-blocking sockets (native/posix.c) that poll() retries, and data
// moves between the socket and pool slots of the Wasm memory without a JS copy.
import { posixNative, type PosixNative } from "../native.js";
import { TransportQueues, type Pending } from "./transport.js";
import { DemiError, EAGAIN, EBADF, ECANCELED, EINVAL, EAFNOSUPPORT, EPROTONOSUPPORT, EDESTADDRREQ, ENOPROTOOPT, ENOTSUP } from "../errno.js";
import { RealClock, type Clock } from "../clock.js";
import type { Config } from "../config.js";
import { Opcode, AF_INET, AF_INET6, SOCK_STREAM, SOCK_DGRAM, type Sga, type SockAddr, type SockOpt } from "../libos.js";

const EINPROGRESS = 115;
// A stream pop reads up to 64 KiB into a large pool slot (as Node reads 64 KiB at a time), or
// into a small one (2046 bytes) while the few large ones are all in use.
const STREAM_POP_BYTES = 65536, STREAM_POP_SMALL = 2046;

interface PushOp { qt: number; buf: number; len: number; sent: number; to: Uint32Array | null }

/**
 * The address block native/posix.c reads and writes: u32 family (4 or 6), u32 port, u32 IPv4
 * address (host order), then the IPv6 address's 16 bytes (network order).
 */
function blockOf(a: SockAddr, out = new Uint32Array(7)): Uint32Array {
  out[0] = a.addr6 !== undefined ? 6 : 4;
  out[1] = a.port;
  out[2] = a.addr6 !== undefined ? 0 : a.addr;
  new Uint8Array(out.buffer, out.byteOffset + 12, 16).set(a.addr6 ?? new Uint8Array(16));
  return out;
}

function addressOf(b: Uint32Array): SockAddr {
  if (b[0] !== 6) return { addr: b[2], port: b[1] };
  return { addr: 0, port: b[1], addr6: new Uint8Array(b.buffer, b.byteOffset + 12, 16).slice() };
}

interface Sock {
  fd: number;
  stream: boolean;
  v6: boolean;
  connecting: number;                           // the connect qtoken while a stream connect is pending
  pops: number[];
  pushes: PushOp[];
  accepts: number[];
  watching: number;                             // the readiness events libuv watches for (native/watch.c)
  shutdownPending: boolean;                     // shutdownWrite waits for the pushes before it
}

function newSock(fd: number, stream: boolean, v6: boolean): Sock {
  return { fd, stream, v6, connecting: 0, pops: [], pushes: [], accepts: [], watching: 0, shutdownPending: false };
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
  private readonly addr = new Uint32Array(7);
  private wake: (() => void) | null = null;

  constructor(config: Config, clock: Clock = new RealClock()) {
    const nat = posixNative();                  // one clear line if the bridge is missing
    super(config, clock);
    this.nat = nat;
  }

  socket(domain = AF_INET, type = SOCK_DGRAM, protocol = 0): number {
    if (domain !== AF_INET && domain !== AF_INET6) throw new DemiError(EAFNOSUPPORT, "socket");
    if (type !== SOCK_DGRAM && type !== SOCK_STREAM) throw new DemiError(EPROTONOSUPPORT, "socket");
    if (protocol !== 0 && protocol !== (type === SOCK_STREAM ? 6 : 17)) throw new DemiError(EPROTONOSUPPORT, "socket");
    const fd = this.nat.socket(type === SOCK_STREAM, domain === AF_INET6);
    if (fd < 0) throw new DemiError(-fd, "socket");
    const qd = this.nextQd++;
    this.socks.set(qd, newSock(fd, type === SOCK_STREAM, domain === AF_INET6));
    return qd;
  }

  bind(qd: number, local: SockAddr): void {
    const s = this.sock(qd, "bind");
    this.sameFamily(s, local, "bind");
    this.status(this.nat.bind(s.fd, blockOf(local, this.addr)), "bind");
  }

  /** As the Wasm stack: an address of the other version is EAFNOSUPPORT (the kernel says EINVAL). */
  private sameFamily(s: Sock, a: SockAddr, what: string): void {
    if ((a.addr6 !== undefined) !== s.v6) throw new DemiError(EAFNOSUPPORT, what);
  }

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
    const dissolve = remote.addr === 0 && remote.port === 0 && remote.addr6 === undefined;   // { addr: 0, port: 0 }, either version
    if (!dissolve) this.sameFamily(s, remote, "connect");
    const qt = this.newQt(Opcode.CONNECT, qd);
    const r = this.nat.connect(s.fd, blockOf(dissolve ? { addr: 0, port: 0, addr6: s.v6 ? new Uint8Array(16) : undefined } : remote, this.addr));
    if (r === 0) this.complete(qt, 0);
    else if (r === -EINPROGRESS && s.stream) { s.connecting = qt; this.watch(s); }
    else this.complete(qt, -r);
    return qt;
  }

  /** As LibOS.setsockopt: TCP_NODELAY (on by default here too), SO_KEEPALIVE, SO_LINGER (zero). */
  setsockopt(qd: number, opt: SockOpt, value: boolean): void {
    const s = this.sock(qd, "setsockopt");
    if (!s.stream) throw new DemiError(ENOPROTOOPT, "setsockopt");
    this.status(this.nat.setsockopt(s.fd, opt === "TCP_NODELAY" ? 1 : opt === "SO_KEEPALIVE" ? 2 : 4, value ? 1 : 0), "setsockopt");
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
    this.sameFamily(this.sock(qd, "pushto"), to, "pushto");
    return this.enqueuePush(qd, sga, blockOf(to), "pushto");
  }

  push(qd: number, sga: Sga): number {
    return this.enqueuePush(qd, sga, null, "push");
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

  private enqueuePush(qd: number, sga: Sga, to: Uint32Array | null, what: string): number {
    const s = this.sock(qd, what);
    if (!s.stream && to === null && this.nat.sockname(s.fd, true, this.addr) !== 0) throw new DemiError(EDESTADDRREQ, what);
    // The kernel copies when the send happens; until then the buffer is held for us.
    if (this.dp.exports.bufHold(sga.buf) !== 0) throw new DemiError(EINVAL, what);
    const qt = this.newQt(Opcode.PUSH, qd);
    s.pushes.push({ qt, buf: sga.buf, len: sga.len, sent: 0, to: s.stream ? null : to });
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
      this.socks.set(nqd, newSock(fd, true, s.v6));
      const p = this.pending.get(qt)!;
      p.newQd = nqd;
      p.addr = addressOf(this.addr);
      this.complete(qt, 0);
    }
    while (s.pushes.length > 0) {
      const p = s.pushes[0];
      const r = this.nat.send(s.fd, this.u8, p.buf + p.sent, p.len - p.sent, p.to);
      if (r === -EAGAIN) break;
      if (r >= 0 && s.stream && p.sent + r < p.len) { p.sent += r; continue; }
      s.pushes.shift();
      this.dp.exports.bufRelease(p.buf);
      this.complete(p.qt, r < 0 ? -r : 0);
      n++;
    }
    if (s.shutdownPending && s.pushes.length === 0) { s.shutdownPending = false; this.nat.shutdown(s.fd); }
    while (s.pops.length > 0) {
      let size = s.stream ? STREAM_POP_BYTES : this.nat.pending(s.fd);
      if (size === -EAGAIN) break;
      if (size < 0) { this.complete(s.pops.shift()!, -size); n++; continue; }
      let buf = this.dp.exports.sgaalloc(Math.max(1, size));
      if (buf < 0 && s.stream) { size = STREAM_POP_SMALL; buf = this.dp.exports.sgaalloc(size); }
      if (buf < 0) break;                        // pool empty: retried on a later poll
      const r = this.nat.recv(s.fd, this.u8, buf, Math.max(1, size), this.addr);
      if (r === -EAGAIN) { this.dp.exports.sgafree(buf); break; }
      const qt = s.pops.shift()!;
      n++;
      if (r < 0) { this.dp.exports.sgafree(buf); this.complete(qt, -r); continue; }
      const p = this.pending.get(qt)!;
      if (r === 0 && s.stream) { this.dp.exports.sgafree(buf); p.buf = 0; p.len = 0; }   // end of stream
      else { p.buf = buf; p.len = r; }
      p.addr = addressOf(this.addr);
      this.complete(qt, 0);
    }
    this.watch(s);
    return n;
  }

  private name(qd: number, peer: boolean): SockAddr {
    this.status(this.nat.sockname(this.sock(qd, peer ? "getpeername" : "getsockname").fd, peer, this.addr), peer ? "getpeername" : "getsockname");
    return addressOf(this.addr);
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

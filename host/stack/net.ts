// node:net on the stack: Socket is a stream.Duplex over one PDPIX stream queue, Server accepts
// from a listening one. Events, members and error codes follow node:net, so a program (or
// Node's own http) moves onto the stack by taking its sockets from here.
//
// Data: one pop is outstanding while the readable side wants data; each popped slot is copied
// once into a Buffer and freed. A write is copied once into pool slots (up to 64 KiB a push) and
// its callback runs when the push completes, i.e. once the stack's send buffer has taken it: the
// Writable's back-pressure is the TCP send buffer's.
import { Duplex } from "node:stream";
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { AF_INET, AF_INET6, SOCK_STREAM, Opcode, type QResultBuffer, type Sga } from "../libos.js";
import { DemiError, ECANCELED, ENOMEM, ENOTCONN, EINVAL } from "../errno.js";
import { systemError, codedError, errnoOf } from "./errors.js";
import { resolveHost, checkPort, addressInfo, parseIp, formatIp, familyName, withPort, type IpAddr, type LookupFn } from "./addr.js";
import type { StackCore, StackHandle } from "./core.js";

/** The most one push carries: a large pool slot. */
const MAX_PUSH = 65536;

export interface SocketOptions {
  allowHalfOpen?: boolean;
  /** Do not start reading until resume() (node:net's pauseOnConnect, for accepted sockets). */
  pauseOnCreate?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  signal?: AbortSignal;
}

export interface TcpConnectOptions {
  port: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: number;
  lookup?: LookupFn;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
  path?: string;
  allowHalfOpen?: boolean;
  signal?: AbortSignal;
}

export class Socket extends Duplex implements StackHandle {
  connecting = false;
  bytesRead = 0;
  remoteAddress?: string;
  remotePort?: number;
  remoteFamily?: string;
  localAddress?: string;
  localPort?: number;
  timeout?: number;
  /** The server that accepted this socket, as node:net sets it. */
  server?: Server;
  private qd = -1;
  private popQt = 0;
  private wantRead = false;
  private eof = false;
  private written = 0;
  private alive = false;          // holds a qd (connecting or connected)
  private refed = true;
  private holding = false;        // holds a ref of the driver
  private afterConnect: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerFired = false;
  private lastActive = 0;
  private noDelay: boolean | undefined;
  private keepAlive: boolean | undefined;

  constructor(protected readonly stack: StackCore, options: SocketOptions & { qd?: number } = {}) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, emitClose: false, autoDestroy: true });
    this.noDelay = options.noDelay;
    this.keepAlive = options.keepAlive;
    if (options.signal) {
      const signal = options.signal;
      if (signal.aborted) process.nextTick(() => this.destroy(codedError("ABORT_ERR", "The operation was aborted")));
      else signal.addEventListener("abort", () => this.destroy(codedError("ABORT_ERR", "The operation was aborted")), { once: true });
    }
    if (options.qd !== undefined) {
      this.qd = options.qd;
      this.opened();
      this.connected();
      if (options.pauseOnCreate) this.pause();
      else this.read(0);
    }
  }

  get bytesWritten(): number { return this.written; }
  get pending(): boolean { return this.qd < 0 || this.connecting; }
  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable && !this.writable) return "readOnly";
    if (!this.readable && this.writable) return "writeOnly";
    return "closed";
  }

  // ---- connect ----

  connect(options: TcpConnectOptions, listener?: () => void): this;
  connect(port: number | string, host?: string, listener?: () => void): this;
  connect(port: number | string, listener?: () => void): this;
  connect(...args: unknown[]): this {
    const [opts, listener] = normalizeConnectArgs(args);
    if (opts.path !== undefined) throw codedError("ERR_INVALID_ARG_VALUE", "demiwasm: IPC paths are not supported; connect to a port", TypeError);
    if (this.alive || this.destroyed) throw codedError("ERR_SOCKET_CONNECTING", "Socket is already connecting or connected");
    const port = checkPort(opts.port, false);
    const host = opts.host ?? "localhost";
    if (opts.noDelay !== undefined) this.noDelay = opts.noDelay;
    if (opts.keepAlive !== undefined) this.keepAlive = opts.keepAlive;
    if (listener) this.once("connect", listener);
    if (opts.timeout) this.setTimeout(opts.timeout);
    this.connecting = true;
    this.opened();
    resolveHost(host, opts.family ?? 0, opts.lookup, (err, ip) => {
      if (this.destroyed) return;
      if (parseIp(host) === null) this.emit("lookup", err, err ? undefined : formatIp(ip), ip.addr6 !== undefined ? 6 : 4, host);
      if (err) { this.destroy(err); return; }
      this.start(ip, port, opts);
    });
    return this;
  }

  private start(ip: IpAddr, port: number, opts: TcpConnectOptions): void {
    const l = this.stack.libos;
    const v6 = ip.addr6 !== undefined;
    let qt: number;
    try {
      this.qd = l.socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      if (opts.localAddress !== undefined || opts.localPort !== undefined) {
        const local = parseIp(opts.localAddress ?? (v6 ? "::" : "0.0.0.0"));
        if (local === null) throw new DemiError(EINVAL, "bind");
        l.bind(this.qd, withPort(local, opts.localPort ?? 0));
      }
      this.applyOptions();
      qt = l.connect(this.qd, withPort(ip, port));
    } catch (e) {
      this.destroy(systemError(errnoOf(e), "connect", formatIp(ip), port));
      return;
    }
    this.stack.expect(qt, (r) => {
      if (this.destroyed) return;
      if (r.opcode === Opcode.FAILED) { this.destroy(systemError(r.ret, "connect", formatIp(ip), port)); return; }
      this.connecting = false;
      this.connected();
      this.emit("connect");
      this.emit("ready");
      for (const f of this.afterConnect.splice(0)) f();
      // A _read that came while connecting is still owed its data (Readable will not ask twice).
      if (this.wantRead) this.startRead();
      else if (!this.isPaused()) this.read(0);
    });
  }

  private opened(): void {
    this.alive = true;
    this.stack.track(this);
    this.holdRef();
  }

  private connected(): void {
    const l = this.stack.libos;
    try {
      const peer = l.getpeername(this.qd);
      this.remoteAddress = formatIp(peer);
      this.remotePort = peer.port;
      this.remoteFamily = familyName(peer);
      const local = l.getsockname(this.qd);
      this.localAddress = formatIp(local);
      this.localPort = local.port;
    } catch { /* reset already: the first pop will say so */ }
    this.applyOptions();
    this.touch();
  }

  private applyOptions(): void {
    const l = this.stack.libos;
    if (this.qd < 0 || l.setsockopt === undefined) return;
    try {
      if (this.noDelay !== undefined) l.setsockopt(this.qd, "TCP_NODELAY", this.noDelay);
      if (this.keepAlive !== undefined) l.setsockopt(this.qd, "SO_KEEPALIVE", this.keepAlive);
    } catch { /* the connection is gone; reads and writes will say so */ }
  }

  // ---- reading ----

  _read(): void {
    this.wantRead = true;
    if (this.qd >= 0 && !this.connecting) this.startRead();
  }

  private startRead(): void {
    if (this.popQt !== 0 || this.eof || this.destroyed || this.qd < 0) return;
    try {
      this.popQt = this.stack.libos.pop(this.qd);
    } catch (e) {
      this.destroy(systemError(errnoOf(e), "read"));
      return;
    }
    this.stack.expect(this.popQt, this.onPop);
  }

  private readonly onPop = (r: QResultBuffer): void => {
    this.popQt = 0;
    const l = this.stack.libos;
    const failed = r.opcode === Opcode.FAILED;
    const buf = r.sga.buf, len = r.sga.len;
    if (this.destroyed) { if (!failed && len > 0) l.sgafree(r.sga); return; }
    if (failed) { if (r.ret !== ECANCELED) this.destroy(systemError(r.ret, "read")); return; }
    if (len === 0) { this.eof = true; this.push(null); return; }
    const b = Buffer.allocUnsafe(len);
    b.set(l.u8.subarray(buf, buf + len));
    l.sgafree({ buf, len });
    this.bytesRead += len;
    this.touch();
    this.wantRead = false;
    if (this.push(b)) this.startRead();
  };

  // ---- writing ----

  _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send([chunk], cb);
  }

  _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.send(chunks.map((c) => c.chunk), cb);
  }

  private send(list: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.connecting || this.qd < 0) { this.afterConnect.push(() => this.send(list, cb)); return; }
    let i = 0, off = 0;
    const next = (): void => {
      while (i < list.length && off === list[i].length) { i++; off = 0; }
      if (i === list.length) { cb(); return; }
      if (this.qd < 0) { cb(codedError("ERR_STREAM_DESTROYED", "Cannot call write after a stream was destroyed")); return; }
      let n = 0;
      for (let j = i; j < list.length && n < MAX_PUSH; j++) n += list[j].length - (j === i ? off : 0);
      n = Math.min(n, MAX_PUSH);
      const l = this.stack.libos;
      let sga: Sga;
      try { sga = l.sgaalloc(n); } catch (e) {
        if (errnoOf(e) === ENOMEM) { this.stack.defer(next); return; }   // the pool is empty: after the next turn
        cb(systemError(errnoOf(e), "write"));
        return;
      }
      for (let at = sga.buf, left = n; left > 0;) {
        const c = list[i];
        const k = Math.min(left, c.length - off);
        l.u8.set(k === c.length ? c : c.subarray(off, off + k), at);
        at += k; left -= k; off += k;
        if (off === c.length && left > 0) { i++; off = 0; }
      }
      let qt: number;
      try { qt = l.push(this.qd, sga); } catch (e) { l.sgafree(sga); cb(systemError(errnoOf(e), "write")); return; }
      this.stack.expect(qt, (r) => {
        const failed = r.opcode === Opcode.FAILED, ret = r.ret;
        l.sgafree(sga);
        if (failed) { cb(systemError(ret, "write")); return; }
        this.written += n;
        this.touch();
        next();
      });
    };
    next();
  }

  _final(cb: (err?: Error | null) => void): void {
    if (this.connecting || this.qd < 0) { this.afterConnect.push(() => this._final(cb)); return; }
    try { this.stack.libos.shutdownWrite?.(this.qd); } catch (e) {
      if (errnoOf(e) !== ENOTCONN) { cb(systemError(errnoOf(e), "shutdown")); return; }
    }
    cb();
  }

  /** node:net's destroySoon: end, then destroy once everything is written. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearTimer();
    this.afterConnect = [];
    if (this.popQt !== 0) { this.stack.forget(this.popQt); this.popQt = 0; }
    if (this.qd >= 0) {
      // Pushes still queued complete as ECANCELED and hand their buffers back on the next turn.
      try { this.stack.libos.close(this.qd); } catch { /* the stack is gone */ }
      this.qd = -1;
    }
    this.connecting = false;
    this.alive = false;
    this.releaseRef();
    this.stack.untrack(this);
    cb(err);
    const hadError = err !== null && err !== undefined;
    setImmediate(() => this.emit("close", hadError));
  }

  stackClosing(): void { this.destroy(); }

  // ---- options, timers, liveness ----

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    this.applyOptions();
    return this;
  }

  setKeepAlive(enable = false, _initialDelay = 0): this {
    this.keepAlive = enable;                       // the probes' timing is tcp.keepalive_* (config)
    this.applyOptions();
    return this;
  }

  setTimeout(ms: number, cb?: () => void): this {
    if (!Number.isFinite(ms) || ms < 0) throw codedError("ERR_OUT_OF_RANGE", `The value of "msecs" is out of range. Received ${ms}`, RangeError);
    this.clearTimer();
    this.timeout = ms;
    if (ms === 0) { if (cb) this.removeListener("timeout", cb); return this; }
    if (cb) this.once("timeout", cb);
    this.lastActive = performance.now();
    this.armTimer(ms);
    return this;
  }

  private armTimer(ms: number): void {
    this.timerFired = false;
    this.timer = setTimeout(this.onTimer, ms);
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.destroyed || !this.timeout) return;
    const idle = performance.now() - this.lastActive;
    if (idle + 1 < this.timeout) { this.armTimer(this.timeout - idle); return; }
    this.timerFired = true;                       // re-armed by the next activity, as node:net does
    this.emit("timeout");
  };

  private touch(): void {
    if (!this.timeout) return;
    this.lastActive = performance.now();
    if (this.timerFired && this.timer === null) this.armTimer(this.timeout);
  }

  private clearTimer(): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    if (this.qd < 0) return {};
    try {
      return addressInfo(this.stack.libos.getsockname(this.qd));
    } catch { return {}; }
  }

  ref(): this { this.refed = true; this.holdRef(); return this; }
  unref(): this { this.refed = false; this.releaseRef(); return this; }

  private holdRef(): void {
    if (this.alive && this.refed && !this.holding) { this.holding = true; this.stack.ref(); }
  }

  private releaseRef(): void {
    if (this.holding) { this.holding = false; this.stack.unref(); }
  }
}

export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export interface ListenOptions { port?: number | string; host?: string; backlog?: number; signal?: AbortSignal; path?: string }

export class Server extends EventEmitter implements StackHandle {
  maxConnections?: number;
  private qd = -1;
  private acceptQt = 0;
  private readonly conns = new Set<Socket>();
  private closing = false;
  private closeEmitted = false;
  private refed = true;
  private holding = false;
  private readonly options: ServerOptions;

  constructor(private readonly stack: StackCore, options: ServerOptions = {}, listener?: (s: Socket) => void) {
    super();
    this.options = options;
    if (listener) this.on("connection", listener);
  }

  get listening(): boolean { return this.qd >= 0; }

  listen(port?: number | string, host?: string, backlog?: number, listener?: () => void): this;
  listen(port?: number | string, host?: string, listener?: () => void): this;
  listen(port?: number | string, listener?: () => void): this;
  listen(options: ListenOptions, listener?: () => void): this;
  listen(listener?: () => void): this;
  listen(...args: unknown[]): this {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() as () => void : undefined;
    let o: ListenOptions;
    if (typeof args[0] === "object" && args[0] !== null) o = args[0] as ListenOptions;
    else o = { port: args[0] as number | undefined, host: typeof args[1] === "string" ? args[1] : undefined,
               backlog: typeof args[1] === "number" ? args[1] : args[2] as number | undefined };
    if (o.path !== undefined) throw codedError("ERR_INVALID_ARG_VALUE", "demiwasm: IPC paths are not supported; listen on a port", TypeError);
    if (this.qd >= 0) throw codedError("ERR_SERVER_ALREADY_LISTEN", "Listen method has been called more than once without closing.");
    const port = checkPort(o.port ?? 0);
    if (cb) this.once("listening", cb);
    this.closing = false;
    this.closeEmitted = false;
    const host = o.host ?? "0.0.0.0";
    resolveHost(host, 0, undefined, (err, ip) => {
      if (err) { this.emit("error", err); return; }
      this.open(ip, port, o.backlog ?? 511, host);
    });
    if (o.signal) o.signal.addEventListener("abort", () => this.close(), { once: true });
    return this;
  }

  private open(ip: IpAddr, port: number, backlog: number, host: string): void {
    const l = this.stack.libos;
    let qd = -1;
    try {
      qd = l.socket(ip.addr6 !== undefined ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      l.bind(qd, withPort(ip, port));
      l.listen(qd, backlog);
    } catch (e) {
      if (qd >= 0) try { l.close(qd); } catch { /* nothing to undo */ }
      const err = systemError(errnoOf(e), "listen", host, port);
      process.nextTick(() => this.emit("error", err));
      return;
    }
    this.qd = qd;
    this.stack.track(this);
    if (this.refed) { this.holding = true; this.stack.ref(); }
    this.armAccept();
    process.nextTick(() => this.emit("listening"));
  }

  private armAccept(): void {
    try { this.acceptQt = this.stack.libos.accept(this.qd); } catch (e) {
      this.emit("error", systemError(errnoOf(e), "accept"));
      return;
    }
    this.stack.expect(this.acceptQt, this.onAccept);
  }

  private readonly onAccept = (r: QResultBuffer): void => {
    this.acceptQt = 0;
    const l = this.stack.libos;
    if (r.opcode === Opcode.FAILED) {
      if (r.ret !== ECANCELED && this.qd >= 0) { this.emit("error", systemError(r.ret, "accept")); this.armAccept(); }
      return;
    }
    const qd = r.acceptedQd, peer = addressInfo(r.addr);
    if (this.qd < 0) { l.close(qd); return; }
    this.armAccept();
    if (this.maxConnections !== undefined && this.conns.size >= this.maxConnections) {
      const local = l.getsockname(qd);
      l.close(qd);
      this.emit("drop", { localAddress: formatIp(local), localPort: local.port, localFamily: familyName(local),
                          remoteAddress: peer.address, remotePort: peer.port, remoteFamily: peer.family });
      return;
    }
    const s = new Socket(this.stack, { qd, allowHalfOpen: this.options.allowHalfOpen, pauseOnCreate: this.options.pauseOnConnect,
                                       noDelay: this.options.noDelay, keepAlive: this.options.keepAlive });
    s.server = this;
    this.conns.add(s);
    s.once("close", () => { this.conns.delete(s); this.maybeEmitClose(); });
    this.emit("connection", s);
  };

  /** Stops accepting; 'close' comes once every connection has ended (node:net's semantics). */
  close(cb?: (err?: Error) => void): this {
    if (this.qd < 0) {
      if (cb) process.nextTick(() => cb(codedError("ERR_SERVER_NOT_RUNNING", "Server is not running.")));
      return this;
    }
    if (cb) this.once("close", cb);
    if (this.acceptQt !== 0) { this.stack.forget(this.acceptQt); this.acceptQt = 0; }
    try { this.stack.libos.close(this.qd); } catch { /* the stack is gone */ }
    this.qd = -1;
    if (this.holding) { this.holding = false; this.stack.unref(); }
    this.closing = true;
    this.maybeEmitClose();
    return this;
  }

  private maybeEmitClose(): void {
    if (!this.closing || this.conns.size > 0 || this.closeEmitted) return;
    this.closeEmitted = true;
    this.stack.untrack(this);
    process.nextTick(() => this.emit("close"));
  }

  stackClosing(): void {
    for (const s of [...this.conns]) s.destroy();
    if (this.qd >= 0) this.close();
  }

  address(): { address: string; family: string; port: number } | null {
    if (this.qd < 0) return null;
    return addressInfo(this.stack.libos.getsockname(this.qd));
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.conns.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  ref(): this {
    this.refed = true;
    if (this.qd >= 0 && !this.holding) { this.holding = true; this.stack.ref(); }
    return this;
  }

  unref(): this {
    this.refed = false;
    if (this.holding) { this.holding = false; this.stack.unref(); }
    return this;
  }
}

function normalizeConnectArgs(args: unknown[]): [TcpConnectOptions, (() => void) | undefined] {
  const cb = typeof args[args.length - 1] === "function" ? args[args.length - 1] as () => void : undefined;
  if (typeof args[0] === "object" && args[0] !== null) return [args[0] as TcpConnectOptions, cb];
  return [{ port: args[0] as number | string, host: typeof args[1] === "string" ? args[1] : undefined }, cb];
}

export interface NetFace {
  createServer(listener?: (s: Socket) => void): Server;
  createServer(options: ServerOptions, listener?: (s: Socket) => void): Server;
  connect(options: TcpConnectOptions, listener?: () => void): Socket;
  connect(port: number | string, host?: string, listener?: () => void): Socket;
  createConnection: NetFace["connect"];
  /** new stack.net.Socket([options]) as new net.Socket([options]). */
  Socket: new (options?: SocketOptions) => Socket;
  Server: new (options?: ServerOptions, listener?: (s: Socket) => void) => Server;
}

export function netFace(stack: StackCore): NetFace {
  class StackSocket extends Socket { constructor(options?: SocketOptions) { super(stack, options); } }
  class StackServer extends Server {
    constructor(options?: ServerOptions, listener?: (s: Socket) => void) { super(stack, options, listener); }
  }
  const createServer = (a?: ServerOptions | ((s: Socket) => void), b?: (s: Socket) => void): Server =>
    typeof a === "function" ? new StackServer({}, a) : new StackServer(a ?? {}, b);
  const connect = (...args: unknown[]): Socket => {
    const [opts] = normalizeConnectArgs(args);
    const s = new StackSocket({ allowHalfOpen: opts.allowHalfOpen, signal: opts.signal });
    return (s.connect as (...a: unknown[]) => Socket)(...args);
  };
  return { createServer: createServer as NetFace["createServer"], connect: connect as NetFace["connect"],
           createConnection: connect as NetFace["connect"], Socket: StackSocket, Server: StackServer };
}

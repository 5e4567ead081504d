// node:net's Socket on the stack: a stream.Duplex over one PDPIX stream queue. Construction,
// events, members, argument checks and error codes follow node:net (its behaviour as Node's own
// test suite pins it), so a program, or Node's own http and tls, takes its sockets from here.
//
// Data: one pop is outstanding while the readable side wants data; each popped slot is copied
// once into a Buffer and freed. A write is copied once into pool slots (up to 64 KiB a push) and
// its callback runs when the push completes, i.e. once the stack's send buffer has taken it: the
// Writable's back-pressure is the TCP send buffer's.
//
// End of stream as node:net: the EOF is pushed and read(0) follows, so 'end' comes even when no
// one reads; without allowHalfOpen the writable side then ends (Duplex) and the socket is
// destroyed once both sides are done (autoDestroy); 'close' follows the queue's close.
import { Duplex } from "node:stream";
import { lookup as dnsLookup, ADDRCONFIG, ALL, V4MAPPED } from "node:dns";
import { isIP, BlockList, connect as kernelConnect, type Socket as KernelSocket } from "node:net";
import { performance } from "node:perf_hooks";
import { AF_INET, AF_INET6, SOCK_STREAM, Opcode, type QResultBuffer, type Sga } from "../libos.js";
import { ECANCELED, ENOMEM, ENOTCONN, EISCONN } from "../errno.js";
import { systemError, codedError, errnoOf, abortError } from "./errors.js";
import { addressInfo, parseIp, withPort } from "./addr.js";
import { invalidArgType, invalidArgValue, validateNumber, validateFunction, validateBoolean, validateInt32, validateAbortSignal, isBlockList,
         validatePort, timerDuration, missingArgs } from "./validate.js";
import type { StackCore, StackHandle } from "./core.js";
import { normalizeConnectArgs, type SocketOptions, type OnRead, type TcpConnectOptions, type AddrInfo } from "./netargs.js";

/** What an accepted socket knows of its server (server.ts): it tells it when it is gone. */
export interface AcceptingServer { _connectionGone(): void }

/** The most one push carries: a large pool slot. */
const MAX_PUSH = 65536;

export class Socket extends Duplex implements StackHandle {
  connecting = false;
  /** The server that accepted this socket, as node:net sets it. */
  server: AcceptingServer | null = null;
  _server: AcceptingServer | null = null;
  _host: string | null = null;
  /** node:net's wrapping parent (null here): Node's TLSSocket walks the _parent chain to null. */
  _parent: null = null;
  timeout?: number;
  blockList?: BlockList;
  /** Data written while connecting (node:net's _pendingData, counted by bytesWritten). */
  _pendingData: Buffer[] | null = null;
  private qd = -1;
  private popQt = 0;
  private wantRead = false;
  private dispatched = 0;         // bytes handed to the stack (node's handle.bytesWritten)
  private readBytes = 0;
  private peer: AddrInfo | null = null;
  private local: AddrInfo | null = null;
  private alive = false;          // holds a qd (connecting or connected)
  private refed = true;
  private holding = false;        // holds a ref of the driver
  private eof = false;            // the peer's FIN has been read
  private dataThisTurn = false;   // data was pushed in the driver turn now running (until its ticks)
  private onread: OnRead | null = null;
  private ipc: KernelSocket | null = null;   // an IPC path's socket (connectIpc)
  private userBuf: Uint8Array | null = null;
  private userStopped = false;    // onread: the callback returned false, or pause()
  private userRest: Buffer | null = null;  // what was left undelivered when it stopped
  private pushing = 0;            // pushes not yet completed
  private closeAfterPushes: (() => void) | null = null;   // destroy() waits for pushes in flight
  private resetting = false;
  private timer: NodeJS.Timeout | null = null;
  private timerFired = false;
  private lastActive = 0;
  private noDelay: boolean | undefined;
  private keepAlive: boolean | undefined;

  constructor(protected readonly stack: StackCore, options: SocketOptions & { qd?: number } = {}) {
    if (options.objectMode) throw invalidArgValue("options.objectMode", options.objectMode, "is not supported");
    if (options.readableObjectMode || options.writableObjectMode) {
      const k = options.readableObjectMode ? "readableObjectMode" : "writableObjectMode";
      throw invalidArgValue(`options.${k}`, options[k], "is not supported");
    }
    if (options.keepAliveInitialDelay !== undefined) validateNumber(options.keepAliveInitialDelay, "options.keepAliveInitialDelay");
    super({ ...options, allowHalfOpen: Boolean(options.allowHalfOpen), emitClose: false, autoDestroy: true, signal: undefined });
    const onread = options.onread;
    if (onread !== null && typeof onread === "object" && (onread.buffer instanceof Uint8Array || typeof onread.buffer === "function")
        && typeof onread.callback === "function") this.onread = onread;
    if (options.noDelay !== undefined) this.noDelay = Boolean(options.noDelay);
    if (options.keepAlive !== undefined) this.keepAlive = Boolean(options.keepAlive);
    // Without half-open, the peer's FIN ends our writing too: a later write is node's EPIPE.
    this.on("end", onReadableStreamEnd);
    if (options.signal !== undefined) {
      validateAbortSignal(options.signal, "options.signal");
      const signal = options.signal;
      if (signal.aborted) process.nextTick(() => this.destroy(abortError(signal)));
      else {
        const onAbort = () => this.destroy(abortError(signal));
        signal.addEventListener("abort", onAbort, { once: true });
        this.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
    if (options.blockList !== undefined) {
      if (!isBlockList(options.blockList)) throw invalidArgType("options.blockList", "net.BlockList", options.blockList);
      this.blockList = options.blockList;
    }
    if (options.qd !== undefined) {
      this.qd = options.qd;
      this.opened();
      this.connected();
      if (options.pauseOnCreate) this.pause();
      else this.read(0);
    }
  }

  // ---- node:net's members ----

  get _connecting(): boolean { return this.connecting; }
  get pending(): boolean { return !this.alive || this.connecting; }
  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable && !this.writable) return "readOnly";
    if (!this.readable && this.writable) return "writeOnly";
    return "closed";
  }
  get bytesRead(): number { return this.readBytes; }
  /** What has been handed to the stack, plus what waits in the Writable and for the connection. */
  get bytesWritten(): number | undefined {
    const buffered = (this as unknown as { writableBuffer?: unknown }).writableBuffer as { chunk: Buffer | string; encoding: BufferEncoding }[] | undefined;
    if (!buffered) return undefined;
    let n = this.dispatched;
    for (const el of buffered) n += typeof el.chunk === "string" ? Buffer.byteLength(el.chunk, el.encoding) : el.chunk.length;
    for (const b of this._pendingData ?? []) n += b.length;
    return n;
  }
  get _bytesDispatched(): number { return this.dispatched; }
  get bufferSize(): number | undefined { return this.alive ? this.writableLength : undefined; }
  get remoteAddress(): string | undefined { return this.peername().address; }
  get remotePort(): number | undefined { return this.peername().port; }
  get remoteFamily(): string | undefined { return this.peername().family; }
  get localAddress(): string | undefined { return this.sockname().address; }
  get localPort(): number | undefined { return this.sockname().port; }
  get localFamily(): string | undefined { return this.sockname().family; }

  address(): AddrInfo | Record<string, never> | string {
    return this.ipc !== null ? this.ipc.address() as string : this.sockname();
  }

  private peername(): Partial<AddrInfo> {
    if (this.peer === null && this.qd >= 0 && !this.connecting) {
      try { this.peer = addressInfo(this.stack.libos.getpeername(this.qd)); } catch { return {}; }
    }
    return this.peer ?? {};
  }

  private sockname(): AddrInfo | Record<string, never> {
    if (this.qd < 0) return {};
    if (this.local === null) {
      try { this.local = addressInfo(this.stack.libos.getsockname(this.qd)); } catch { return {}; }
    }
    return this.local;
  }

  // ---- connect ----

  connect(options: TcpConnectOptions, listener?: () => void): this;
  connect(port: number | string, host?: string, listener?: () => void): this;
  connect(port: number | string, listener?: () => void): this;
  connect(...args: unknown[]): this {
    const [options, cb] = normalizeConnectArgs(args);
    if (cb !== null) this.once("connect", cb);
    if (options.port === undefined && options.path == null) throw missingArgs(["options", "port", "path"]);
    if (Object.prototype.hasOwnProperty.call(this, "write")) delete (this as { write?: unknown }).write;
    if (this.destroyed) {
      // node:net lets a closed socket connect again.
      (this as unknown as { _undestroy(): void })._undestroy();
      this.peer = this.local = null;
      this.wantRead = false;
      this.resetting = false;
    }
    if (this.connecting) return this;
    if (options.path !== undefined && options.path !== null) { this.connectIpc(options.path); return this; }
    if (this.qd >= 0) {
      process.nextTick(() => this.destroy(systemError(EISCONN, "connect")));
      return this;
    }
    this.connecting = true;
    this.readBytes = this.dispatched = 0;        // a new queue counts from zero, as a new handle
    this.lookupAndConnect(options);
    return this;
  }

  /** An IPC path is the kernel's (the stack has no local sockets): a node:net socket carries it,
   *  its data and events passed through, so a program's Unix-socket clients keep working. */
  private connectIpc(path: string): void {
    const k = kernelConnect({ path });
    this.ipc = k;
    this.connecting = true;
    k.on("connect", () => { this.connecting = false; this.emit("connect"); this.emit("ready"); });
    k.on("data", (d: Buffer) => { this.readBytes += d.length; if (!this.push(d)) k.pause(); });
    k.on("end", () => { this.push(null); this.read(0); });
    k.on("error", (e: Error) => this.destroy(e));
    k.on("close", () => { if (!this.destroyed) this.destroy(); });
  }

  private lookupAndConnect(options: TcpConnectOptions): void {
    const { localAddress, localPort } = options;
    const host = options.host || "localhost";
    if (typeof host !== "string") throw invalidArgType("options.host", "string", host);
    if (host.includes("\u0000")) throw invalidArgValue("options.host", host, "must be a string without null bytes");
    if (localAddress && !isIP(localAddress)) throw codedError("ERR_INVALID_IP_ADDRESS", `Invalid IP address: ${localAddress}`, TypeError);
    if (localPort) validateNumber(localPort, "options.localPort");
    let port = options.port;
    if (port !== undefined) {
      if (typeof port !== "number" && typeof port !== "string") throw invalidArgType("options.port", ["number", "string"], port);
      validatePort(port);
    }
    port = Number(port) | 0;
    if (options.autoSelectFamily != null) validateBoolean(options.autoSelectFamily, "options.autoSelectFamily");
    if (options.autoSelectFamilyAttemptTimeout != null) validateInt32(options.autoSelectFamilyAttemptTimeout, "options.autoSelectFamilyAttemptTimeout", 1);
    this.opened();
    this.touch();
    const p = port;
    if (isIP(host)) {
      process.nextTick(() => { if (this.connecting) this.internalConnect(host, p, localAddress, localPort); });
      return;
    }
    if (options.lookup != null) validateFunction(options.lookup, "options.lookup");
    const hints = options.hints ?? 0;
    if ((hints & ~(ADDRCONFIG | ALL | V4MAPPED)) !== 0) throw invalidArgValue("hints", hints);
    const family = options.family === 6 || options.family === "IPv6" as unknown ? 6 : options.family === 4 || options.family === "IPv4" as unknown ? 4 : 0;
    this._host = host;
    const done = (err: Error | null, ip: unknown, type?: number): void => {
      this.emit("lookup", err, ip, type, host);
      if (!this.connecting) return;
      if (err) { process.nextTick(() => this.destroy(err)); return; }
      if (typeof ip !== "string" || !isIP(ip)) { this.destroy(codedError("ERR_INVALID_IP_ADDRESS", `Invalid IP address: ${String(ip)}`, TypeError)); return; }
      if (type !== undefined && type !== 4 && type !== 6) {
        const e = codedError("ERR_INVALID_ADDRESS_FAMILY", `Invalid address family: ${type} ${host}:${p}`, RangeError) as Error & { host?: string; port?: number };
        e.host = host; e.port = p;
        this.destroy(e);
        return;
      }
      this.internalConnect(ip, p, localAddress, localPort);
    };
    if (options.lookup != null) {
      options.lookup(host, { family, hints: options.hints ?? 0 }, (err: Error | null, address: unknown, type?: number) => {
        // A lookup that answers as dns.lookup with `all` (a list) is taken at its first address.
        if (Array.isArray(address)) { const a = address[0]; done(err, a?.address, a?.family); } else done(err, address, type);
      });
      return;
    }
    // The stack's own names need no resolver: 'localhost' is its 127.0.0.1 and ::1.
    if (host === "localhost") { process.nextTick(() => done(null, family === 6 ? "::1" : "127.0.0.1", family === 6 ? 6 : 4)); return; }
    dnsLookup(host, { family: family === 6 ? 6 : 4 }, (err, address, type) => done(err, address, type));
  }

  private internalConnect(address: string, port: number, localAddress?: string, localPort?: number): void {
    const type = isIP(address);
    if (this.blockList?.check(address, type === 6 ? "ipv6" : "ipv4")) {
      this.destroy(codedError("ERR_IP_BLOCKED", `IP(${address}) is blocked by net.BlockList`));
      return;
    }
    this.emit("connectionAttempt", address, port, type);
    const l = this.stack.libos;
    // As Linux: the unspecified address as a destination means this host.
    const ip = parseIp(address === "0.0.0.0" ? "127.0.0.1" : address === "::" ? "::1" : address)!;
    const v6 = ip.addr6 !== undefined;
    let qt: number;
    try {
      this.qd = l.socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    } catch (e) { this.destroy(systemError(errnoOf(e), "connect", address, port)); return; }
    if (localAddress || localPort) {
      const local = localAddress || (v6 ? "::" : "0.0.0.0");
      try { l.bind(this.qd, withPort(parseIp(local)!, localPort ?? 0)); } catch (e) {
        this.destroy(systemError(errnoOf(e), "bind", local, localPort)); return;
      }
    }
    try {
      this.applyOptions();
      qt = l.connect(this.qd, withPort(ip, port));
    } catch (e) { this.destroy(systemError(errnoOf(e), "connect", address, port)); return; }
    this.updateRef();
    this.stack.expect(qt, (r) => {
      if (this.destroyed) return;
      if (r.opcode === Opcode.FAILED) {
        const err = systemError(r.ret, "connect", address, port);
        this.emit("connectionAttemptFailed", address, port, type, err);
        this.destroy(err);
        return;
      }
      this.connecting = false;
      this.local = null;
      this.connected();
      this.updateRef();
      this.emit("connect");
      this.emit("ready");
      // A _read that came while connecting is still owed its data (Readable will not ask twice).
      if (this.wantRead) this.startRead();
      else if (!this.isPaused()) this.read(0);
    });
  }

  private opened(): void {
    this.alive = true;
    this.eof = false;
    this.stack.track(this);
    this.updateRef();
  }

  private connected(): void {
    this.peer = null;
    this.peername();
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
    if (this.ipc !== null) { this.ipc.resume(); return; }
    this.wantRead = true;
    if (this.qd >= 0 && !this.connecting) this.startRead();
  }

  private startRead(): void {
    if (this.userStopped) return;                  // onread: stopped by the callback or pause()
    if (this.popQt !== 0 || this.destroyed || this.qd < 0 || this.readableEnded) return;
    try {
      this.popQt = this.stack.libos.pop(this.qd);
    } catch (e) {
      this.destroy(systemError(errnoOf(e), "read"));
      return;
    }
    this.stack.expect(this.popQt, this.onPop);
    this.updateRef();
  }

  private readonly onPop = (r: QResultBuffer): void => {
    this.popQt = 0;
    const l = this.stack.libos;
    const failed = r.opcode === Opcode.FAILED;
    const buf = r.sga.buf, len = r.sga.len;
    if (this.destroyed) { if (!failed && len > 0) l.sgafree(r.sga); return; }
    if (failed) { if (r.ret !== ECANCELED) this.destroy(systemError(r.ret, "read")); return; }
    this.touch();
    if (len === 0) {
      // As node:net's onStreamRead: the EOF, then read(0) so that 'end' comes without a reader.
      // A kernel socket reports an EOF in a read callback of its own, after the ticks that data
      // read just before it caused (http's request 'end' and its response): an EOF that follows
      // data of this same turn waits one macrotask; one alone is reported at once.
      this.eof = true;
      this.updateRef();
      const end = () => { if (!this.destroyed) { this.push(null); this.read(0); } };
      if (this.dataThisTurn) setImmediate(end); else end();
      return;
    }
    const b = Buffer.allocUnsafe(len);
    b.set(l.u8.subarray(buf, buf + len));
    l.sgafree({ buf, len });
    if (this.onread !== null) { this.deliver(b); return; }
    this.readBytes += len;
    this.wantRead = false;
    if (!this.dataThisTurn) { this.dataThisTurn = true; process.nextTick(() => { this.dataThisTurn = false; }); }
    // A 'data' handler that throws (an uncaught exception the process survives) must not stop
    // the reading: the next pop is issued whatever push did, unless it asked to stop.
    let more = true;
    try { more = this.push(b); } finally {
      if (more) this.startRead(); else this.updateRef();
    }
  };

  /** onread: the data into the caller's buffer, a buffer at a time; false from the callback stops. */
  private deliver(b: Buffer): void {
    const o = this.onread!;
    let off = 0;
    while (off < b.length) {
      const dst = this.userBuf ??= typeof o.buffer === "function" ? o.buffer() : o.buffer;
      const k = Math.min(dst.length, b.length - off);
      dst.set(b.subarray(off, off + k));
      off += k;
      this.readBytes += k;
      const stop = o.callback.call(this, k, dst) === false;
      // A generator is asked for the next read's buffer after each read, as node:net does.
      if (typeof o.buffer === "function") this.userBuf = o.buffer();
      if (stop) this.userStopped = true;
      if (this.userStopped) {
        this.userRest = off < b.length ? b.subarray(off) : null;
        this.updateRef();
        return;
      }
    }
    this.startRead();
  }

  pause(): this {
    if (this.onread !== null) this.userStopped = true;
    return super.pause();
  }

  resume(): this {
    if (this.onread !== null && this.userStopped) {
      const rest = this.userRest;
      this.userStopped = false;
      this.userRest = null;
      if (rest !== null) this.deliver(rest); else this.startRead();
    }
    return super.resume();
  }

  // ---- writing ----

  _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void { this.writeGeneric([chunk], cb); }

  _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void { this.writeGeneric(chunks.map((c) => c.chunk), cb); }

  private writeGeneric(list: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      // Kept for the connection (and counted by bytesWritten); a close before it fails the write.
      this._pendingData = list;
      const onClose = () => cb(codedError("ERR_SOCKET_CLOSED_BEFORE_CONNECTION", "Socket closed before the connection was established"));
      this.once("close", onClose);
      this.once("connect", () => { this.off("close", onClose); this.writeGeneric(list, cb); });
      return;
    }
    this._pendingData = null;
    if (this.ipc !== null) {
      for (const b of list) this.dispatched += b.length;
      this.ipc.write(list.length === 1 ? list[0] : Buffer.concat(list), cb);
      return;
    }
    if (this.qd < 0) { cb(codedError("ERR_SOCKET_CLOSED", "Socket is closed")); return; }
    this.touch();
    // Handed to the stack as a whole (node's handle.bytesWritten), though pushed 64 KiB at a time.
    for (const b of list) this.dispatched += b.length;
    this.send(list, cb);
  }

  private send(list: Buffer[], cb: (err?: Error | null) => void): void {
    let i = 0, off = 0;
    const next = (): void => {
      while (i < list.length && off === list[i].length) { i++; off = 0; }
      if (i === list.length) { cb(); return; }
      if (this.qd < 0) { cb(codedError("ERR_SOCKET_CLOSED", "Socket is closed")); return; }
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
      this.pushing++;
      this.updateRef();
      this.stack.expect(qt, (r) => {
        const failed = r.opcode === Opcode.FAILED, ret = r.ret;
        l.sgafree(sga);
        this.pushing--;
        if (this.pushing === 0 && this.closeAfterPushes !== null) { const close = this.closeAfterPushes; this.closeAfterPushes = null; close(); }
        this.updateRef();
        if (failed) { cb(systemError(ret, "write")); return; }
        this.touch();
        next();
      });
    };
    next();
  }

  _final(cb: (err?: Error | null) => void): void {
    if (this.connecting) { this.once("connect", () => this._final(cb)); return; }
    if (this.ipc !== null) { this.ipc.end(); cb(); return; }
    if (this.qd < 0) { cb(); return; }
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

  /** Closes with a reset (RST) instead of a FIN, as node:net's resetAndDestroy. */
  resetAndDestroy(): this {
    if (this.qd >= 0 || this.connecting) {
      if (this.connecting) this.once("connect", () => { this.resetting = true; this.destroy(); });
      else { this.resetting = true; this.destroy(); }
    } else {
      this.destroy(codedError("ERR_SOCKET_CLOSED", "Socket is closed"));
    }
    return this;
  }

  _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.connecting = false;
    this.clearTimer();
    if (this.popQt !== 0) { this.stack.forget(this.popQt); this.popQt = 0; }
    if (this.ipc !== null) { this.ipc.destroy(); this.ipc = null; }
    const hadHandle = this.qd >= 0;
    if (hadHandle) {
      const l = this.stack.libos, qd = this.qd, reset = this.resetting;
      const close = () => {
        // A backend without SO_LINGER closes with a FIN instead; the queue is closed either way.
        if (reset) try { l.setsockopt?.(qd, "SO_LINGER", true); } catch { /* no abortive close here */ }
        try { l.close(qd); } catch { /* the stack is gone */ }
      };
      // What was written before destroy() is on its way, as a kernel socket's write is on the wire
      // once write() returns: the queue closes once the stack has taken the pushes in flight (a
      // turn), unless this is a reset. Later writes fail (ERR_SOCKET_CLOSED, the qd is gone).
      if (this.pushing > 0 && !reset) this.closeAfterPushes = close;
      else close();
      this.resetting = false;
      this.qd = -1;
      this.local = null;
    }
    this.alive = false;
    this.releaseRef();
    this.stack.untrack(this);
    cb(err);
    const hadError = err !== null && err !== undefined;
    // With a queue the 'close' follows its close (a later turn of the loop), without one the next tick.
    if (hadHandle) setImmediate(() => this.emit("close", hadError));
    else process.nextTick(() => this.emit("close", hadError));
    const server = this._server;
    if (server !== null) server._connectionGone();
  }

  stackClosing(): void { this.destroy(); }

  // ---- options, timers, liveness ----

  setNoDelay(noDelay?: boolean): this {
    this.noDelay = noDelay === undefined ? true : Boolean(noDelay);
    this.applyOptions();
    return this;
  }

  setKeepAlive(enable?: boolean, _initialDelay?: number): this {
    this.keepAlive = Boolean(enable);               // the probes' timing is tcp.keepalive_* (config)
    this.applyOptions();
    return this;
  }

  setTimeout(msecs: number, callback?: () => void): this {
    if (this.destroyed) return this;
    this.timeout = msecs;
    const ms = timerDuration(msecs, "msecs");
    this.clearTimer();
    if (ms === 0) {
      if (callback !== undefined) { validateFunction(callback, "callback"); this.removeListener("timeout", callback); }
      return this;
    }
    if (callback !== undefined) { validateFunction(callback, "callback"); this.once("timeout", callback); }
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

  ref(): this { this.refed = true; this.updateRef(); return this; }
  unref(): this { this.refed = false; this.updateRef(); return this; }

  /**
   * Keeps the process alive as a libuv stream handle does: while connecting, reading (a pop
   * waits, the peer has not ended) or writing; a paused socket, or one whose peer has ended and
   * that has nothing left to send, lets the process exit.
   */
  private updateRef(): void {
    const active = this.alive && this.refed && ((this.connecting && this.qd >= 0) || (this.popQt !== 0 && !this.eof) || this.pushing > 0);
    if (active && !this.holding) { this.holding = true; this.stack.ref(); }
    else if (!active) this.releaseRef();
  }

  private releaseRef(): void {
    if (this.holding) { this.holding = false; this.stack.unref(); }
  }
}

/** The peer ended: without half-open a later write is node's EPIPE ("ended by the other party"). */
function onReadableStreamEnd(this: Socket): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN as Socket["write"];
}

function writeAfterFIN(this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) return Duplex.prototype.write.call(this, chunk, encoding as BufferEncoding, cb as () => void);
  if (typeof encoding === "function") cb = encoding;
  const er = codedError("EPIPE", "This socket has been ended by the other party");
  if (typeof cb === "function") process.nextTick(cb as (e: Error) => void, er);
  this.destroy(er);
  return false;
}

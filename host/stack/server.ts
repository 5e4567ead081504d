// node:net's Server on the stack: listens on one queue (or an IPv6 and an IPv4 one sharing a port,
// as node's dual-stack "::"), accepts into Sockets, and closes once its connections are gone, with
// node:net's events, members and argument checks.
import { EventEmitter } from "node:events";
import { createServer as kernelCreateServer, type Server as KernelServer } from "node:net";
import { lookup as dnsLookup } from "node:dns";
import type { BlockList } from "node:net";
import { AF_INET, AF_INET6, SOCK_STREAM, Opcode, type QResultBuffer } from "../libos.js";
import { ECANCELED, EADDRINUSE } from "../errno.js";
import { systemError, codedError, errnoOf } from "./errors.js";
import { addressInfo, parseIp, formatIp, withPort, type IpAddr } from "./addr.js";
import { invalidArgType, invalidArgValue, validateNumber, validateAbortSignal, isBlockList, validatePort } from "./validate.js";
import type { StackCore, StackHandle } from "./core.js";
import { Socket } from "./socket.js";
import { normalizeConnectArgs, type SocketOptions, type AddrInfo } from "./netargs.js";

export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
  blockList?: BlockList;
}

export interface ListenOptions {
  port?: number | string | null; host?: string; backlog?: number; signal?: AbortSignal; path?: string;
  exclusive?: boolean; ipv6Only?: boolean; reusePort?: boolean; fd?: number; handle?: unknown;
}

export class Server extends EventEmitter implements StackHandle {
  maxConnections?: number;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  highWaterMark?: number;
  blockList?: BlockList;
  _connections = 0;
  /** node:net's "family:address:port" of the listen call (the port as asked). */
  _connectionKey?: string;
  /** The listening queues: one, or an IPv6 and an IPv4 one sharing a port (node's dual-stack "::"). */
  private qds: number[] = [];
  private ipcServer: KernelServer | null = null;   // listen(path): the kernel's (listenIpc)
  private acceptQts = new Map<number, number>();
  private listeningId = 1;
  private refed = true;
  private holding = false;

  constructor(private readonly stack: StackCore, options?: ServerOptions | ((s: Socket) => void) | null, listener?: (s: Socket) => void) {
    super();
    let o: ServerOptions;
    if (typeof options === "function") { this.on("connection", options); o = {}; }
    else if (options == null || typeof options === "object") {
      o = { ...options };
      if (typeof listener === "function") this.on("connection", listener);
    } else throw invalidArgType("options", "Object", options);
    if (o.keepAliveInitialDelay !== undefined) validateNumber(o.keepAliveInitialDelay, "options.keepAliveInitialDelay");
    if (o.highWaterMark !== undefined) validateNumber(o.highWaterMark, "options.highWaterMark");
    this.allowHalfOpen = o.allowHalfOpen || false;
    this.pauseOnConnect = Boolean(o.pauseOnConnect);
    this.noDelay = Boolean(o.noDelay);
    this.keepAlive = Boolean(o.keepAlive);
    if (o.highWaterMark !== undefined && o.highWaterMark >= 0) this.highWaterMark = o.highWaterMark;
    if (o.blockList) {
      if (!isBlockList(o.blockList)) throw invalidArgType("options.blockList", "net.BlockList", o.blockList);
      this.blockList = o.blockList;
    }
  }

  /** A socket for an accepted queue; the face makes it of its own Socket class. */
  protected newSocket(options: SocketOptions & { qd: number }): Socket { return new Socket(this.stack, options); }

  get listening(): boolean { return this.qds.length > 0 || this.ipcServer !== null && this.ipcServer.listening; }

  listen(port?: number | string | null, host?: string, backlog?: number, listener?: () => void): this;
  listen(port?: number | string | null, host?: string, listener?: () => void): this;
  listen(port?: number | string | null, listener?: () => void): this;
  listen(options: ListenOptions, listener?: () => void): this;
  listen(listener?: () => void): this;
  listen(...args: unknown[]): this {
    const [o0, cb] = normalizeConnectArgs(args);
    const options = o0 as ListenOptions;
    if (this.listening) throw codedError("ERR_SERVER_ALREADY_LISTEN", "Listen method has been called more than once without closing.");
    if (cb !== null) this.once("listening", cb);
    const num = (x: unknown) => { const n = Number(x); return n >= 0 ? n : 0; };
    const backlogFromArgs = (args.length > 1 && num(args[1])) || (args.length > 2 && num(args[2])) || 0;
    this.listeningId++;
    if (options.signal !== undefined) {
      validateAbortSignal(options.signal, "options.signal");
      const signal = options.signal;
      if (signal.aborted) process.nextTick(() => this.close());
      else {
        const onAbort = () => this.close();
        signal.addEventListener("abort", onAbort, { once: true });
        this.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
    if (typeof options.fd === "number" || options.handle !== undefined) {
      throw invalidArgValue("options", options, "names a handle or fd: those stay on the kernel (use node:net)");
    }
    if (args.length === 0 || typeof args[0] === "function" || (options.port === undefined && "port" in options) || options.port === null) {
      options.port = 0;
    }
    if (typeof options.port === "number" || typeof options.port === "string") {
      const port = validatePort(options.port, "options.port");
      const backlog = options.backlog || backlogFromArgs || 511;
      if (options.host) this.lookupAndListen(port, options.host, backlog, options.ipv6Only === true);
      else this.open(null, port, backlog, options.ipv6Only === true);
      return this;
    }
    if (options.path) { this.listenIpc(options.path, options.backlog || backlogFromArgs || 511); return this; }
    if (!("port" in options) && !("path" in options)) throw invalidArgValue("options", options, 'must have the property "port" or "path"');
    throw invalidArgValue("options", options);
  }

  /** An IPC path is the kernel's: a node:net server listens on it and its connections (Node's own
   *  sockets) are this server's, counted and closed with it. */
  private listenIpc(path: string, backlog: number): void {
    const k = kernelCreateServer({ allowHalfOpen: this.allowHalfOpen, pauseOnConnect: this.pauseOnConnect }, (s) => {
      this._connections++;
      s.once("close", () => this._connectionGone());
      this.emit("connection", s);
    });
    this.ipcServer = k;
    k.on("listening", () => this.emit("listening"));
    k.on("error", (e: Error) => { this.ipcServer = null; this.emit("error", e); });
    k.listen(path, backlog);
  }

  private lookupAndListen(port: number, host: string, backlog: number, ipv6Only: boolean): void {
    const ip = parseIp(host);
    if (ip !== null) { this.open(ip, port, backlog, ipv6Only); return; }
    const id = this.listeningId;
    const answer = (err: Error | null, address: string) => {
      if (id !== this.listeningId) return;
      if (err) { this.emit("error", err); return; }
      this.open(parseIp(address)!, port, backlog, ipv6Only);
    };
    if (host === "localhost") { process.nextTick(answer, null, "127.0.0.1"); return; }
    dnsLookup(host, { family: 4 }, (err, address) => answer(err, address));
  }

  /** Listens on `ip` (null: any address of either family, as node's "::" with IPv4 beside it). */
  private open(ip: IpAddr | null, port: number, backlog: number, ipv6Only: boolean): void {
    const l = this.stack.libos;
    const qds: number[] = [];
    const listenOn = (a: IpAddr, p: number): number => {
      const qd = l.socket(a.addr6 !== undefined ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      qds.push(qd);
      l.bind(qd, withPort(a, p));
      l.listen(qd, backlog);
      return qd;
    };
    const undo = () => { for (const qd of qds.splice(0)) try { l.close(qd); } catch { /* nothing to undo */ } };
    try {
      if (ip !== null) listenOn(ip, port);
      else {
        // IPv6 first, then IPv4 on the port it got (a few tries when an ephemeral one is taken
        // for IPv4); a stack without IPv6 sockets listens on IPv4 alone.
        for (let attempt = 0; ; attempt++) {
          let qd6: number;
          try { qd6 = listenOn({ addr: 0, addr6: new Uint8Array(16) }, port); } catch { undo(); listenOn({ addr: 0 }, port); break; }
          if (ipv6Only) break;
          const p = l.getsockname(qd6).port;
          try { listenOn({ addr: 0 }, p); break; } catch (e) {
            undo();
            if (port !== 0 || attempt >= 8 || errnoOf(e) !== EADDRINUSE) throw e;
          }
        }
      }
    } catch (e) {
      undo();
      const err = systemError(errnoOf(e), "listen", ip === null ? "::" : formatIp(ip), port);
      process.nextTick(() => this.emit("error", err));
      return;
    }
    this.qds = qds;
    const bound = addressInfo(l.getsockname(qds[0]));
    this._connectionKey = `${bound.family === "IPv6" ? 6 : 4}:${bound.address}:${port}`;
    this.stack.track(this);
    if (this.refed) { this.holding = true; this.stack.ref(); }
    for (const qd of qds) this.armAccept(qd);
    process.nextTick(() => { if (this.qds.length > 0) this.emit("listening"); });
  }

  private armAccept(qd: number): void {
    let qt: number;
    try { qt = this.stack.libos.accept(qd); } catch (e) {
      this.emit("error", systemError(errnoOf(e), "accept"));
      return;
    }
    this.acceptQts.set(qd, qt);
    this.stack.expect(qt, (r) => this.onAccept(qd, r));
  }

  private onAccept(lqd: number, r: QResultBuffer): void {
    this.acceptQts.delete(lqd);
    const l = this.stack.libos;
    if (r.opcode === Opcode.FAILED) {
      if (r.ret !== ECANCELED && this.qds.includes(lqd)) { this.emit("error", systemError(r.ret, "accept")); this.armAccept(lqd); }
      return;
    }
    const qd = r.acceptedQd;
    if (!this.qds.includes(lqd)) { l.close(qd); return; }
    this.armAccept(lqd);
    const peer = addressInfo(r.addr);
    if (this.maxConnections != null && this._connections >= this.maxConnections) {
      const local = addressInfo(l.getsockname(qd));
      l.close(qd);
      this.emit("drop", { localAddress: local.address, localPort: local.port, localFamily: local.family,
                          remoteAddress: peer.address, remotePort: peer.port, remoteFamily: peer.family });
      return;
    }
    if (this.blockList?.check(peer.address, peer.family === "IPv6" ? "ipv6" : "ipv4")) { l.close(qd); return; }
    const s = this.newSocket({ qd, allowHalfOpen: this.allowHalfOpen, pauseOnCreate: this.pauseOnConnect,
                               readableHighWaterMark: this.highWaterMark, writableHighWaterMark: this.highWaterMark,
                               noDelay: this.noDelay || undefined, keepAlive: this.keepAlive || undefined });
    this._connections++;
    s.server = this;
    s._server = this;
    this.emit("connection", s);
  }

  /** An accepted socket was destroyed (node:net's _connections--, then _emitCloseIfDrained). */
  _connectionGone(): void {
    this._connections--;
    this.emitCloseIfDrained();
  }

  /** Stops accepting; 'close' comes once every connection has been destroyed (node:net's semantics). */
  close(cb?: (err?: Error) => void): this {
    this.listeningId++;
    if (typeof cb === "function") {
      if (!this.listening) this.once("close", () => cb(codedError("ERR_SERVER_NOT_RUNNING", "Server is not running.")));
      else this.once("close", cb);
    }
    if (this.qds.length > 0) {
      for (const qt of this.acceptQts.values()) this.stack.forget(qt);
      this.acceptQts.clear();
      for (const qd of this.qds) try { this.stack.libos.close(qd); } catch { /* the stack is gone */ }
      this.qds = [];
      if (this.holding) { this.holding = false; this.stack.unref(); }
      this.stack.untrack(this);
    }
    if (this.ipcServer !== null) { this.ipcServer.close(); this.ipcServer = null; }
    this.emitCloseIfDrained();
    return this;
  }

  private emitCloseIfDrained(): void {
    if (this.qds.length > 0 || this.ipcServer !== null || this._connections > 0) return;
    process.nextTick(() => this.emit("close"));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.qds.length === 0) return;
    await new Promise<void>((resolve, reject) => this.close((e) => e ? reject(e) : resolve()));
  }

  /** events.captureRejections: a rejected 'connection' handler destroys that socket. */
  [EventEmitter.captureRejectionSymbol](err: Error, event: string, sock?: Socket): void {
    if (event === "connection" && sock !== undefined) sock.destroy(err);
    else this.emit("error", err);
  }

  stackClosing(): void {
    if (this.listening) this.close();
  }

  address(): AddrInfo | string | null {
    if (this.ipcServer !== null) return this.ipcServer.address() as string | null;
    if (this.qds.length === 0) return null;
    return addressInfo(this.stack.libos.getsockname(this.qds[0]));
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this._connections;
    process.nextTick(() => cb(null, n));
    return this;
  }

  ref(): this {
    this.refed = true;
    if (this.qds.length > 0 && !this.holding) { this.holding = true; this.stack.ref(); }
    return this;
  }

  unref(): this {
    this.refed = false;
    if (this.holding) { this.holding = false; this.stack.unref(); }
    return this;
  }
}

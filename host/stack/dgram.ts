// node:dgram on the stack: a UDP socket over one PDPIX datagram queue. Several pops stay
// outstanding once bound, so a burst of datagrams is taken in one turn; each is copied once into
// the Buffer that 'message' carries. send copies once into a pool slot (the stack sends it
// zero-copy from there).
import { EventEmitter } from "node:events";
import { AF_INET, AF_INET6, SOCK_DGRAM, Opcode, type QResultBuffer, type Sga, type SockAddr } from "../libos.js";
import { ECANCELED } from "../errno.js";
import { systemError, codedError, errnoOf } from "./errors.js";
import { resolveHost, checkPort, addressInfo, formatIp, familyName, withPort, type LookupFn } from "./addr.js";
import type { StackCore, StackHandle } from "./core.js";

/** Pops kept outstanding while bound: up to this many datagrams per turn. */
const POPS = 16;

export interface DgramOptions { type: "udp4" | "udp6"; lookup?: LookupFn; signal?: AbortSignal; reuseAddr?: boolean; recvBufferSize?: number; sendBufferSize?: number }
export interface RemoteInfo { address: string; family: "IPv4" | "IPv6"; port: number; size: number }
type SendCb = (err: Error | null, bytes: number) => void;

export class DgramSocket extends EventEmitter implements StackHandle {
  private qd: number;
  private bound = false;
  private binding = false;
  private closed = false;
  private connectedTo: SockAddr | null = null;
  private readonly family: 4 | 6;
  private readonly pops = new Set<number>();
  private refed = true;
  private holding = false;
  private readonly lookup?: LookupFn;
  private queued: (() => void)[] = [];        // sends waiting for the implicit bind

  constructor(private readonly stack: StackCore, options: DgramOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    if (options.type !== "udp4" && options.type !== "udp6") {
      throw codedError("ERR_SOCKET_BAD_TYPE", `Bad socket type specified. Valid types are: udp4, udp6 (got ${String(options.type)})`, TypeError);
    }
    this.lookup = options.lookup;
    this.family = options.type === "udp6" ? 6 : 4;
    this.qd = stack.libos.socket(this.family === 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    stack.track(this);
    if (listener) this.on("message", listener);
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  bind(port?: number | { port?: number; address?: string; exclusive?: boolean }, address?: string | (() => void), cb?: () => void): this {
    this.healthCheck();
    if (this.bound || this.binding) throw codedError("ERR_SOCKET_ALREADY_BOUND", "Socket is already bound");
    if (typeof address === "function") { cb = address; address = undefined; }
    let p: number | undefined, host: string | undefined;
    if (typeof port === "object" && port !== null) { p = port.port; host = port.address; }
    else if (typeof port === "function") { cb = port as () => void; }
    else { p = port; host = address as string | undefined; }
    const num = checkPort(p ?? 0);
    if (cb) this.once("listening", cb);
    this.binding = true;
    const any = this.family === 6 ? "::" : "0.0.0.0";
    resolveHost(host ?? any, this.family, this.lookup, (err, ip) => {
      if (this.closed) return;
      if (err) { this.binding = false; this.emit("error", err); return; }
      try { this.stack.libos.bind(this.qd, withPort(ip, num)); } catch (e) {
        this.binding = false;
        const error = systemError(errnoOf(e), "bind", host ?? any, num);
        process.nextTick(() => this.emit("error", error));
        return;
      }
      this.becameBound();
      process.nextTick(() => this.emit("listening"));
    });
    return this;
  }

  private becameBound(): void {
    this.binding = false;
    this.bound = true;
    if (this.refed) { this.holding = true; this.stack.ref(); }
    for (let i = 0; i < POPS; i++) this.armPop();
    for (const f of this.queued.splice(0)) f();
  }

  private armPop(): void {
    if (this.closed) return;
    let qt: number;
    try { qt = this.stack.libos.pop(this.qd); } catch (e) { this.emit("error", systemError(errnoOf(e), "recvmsg")); return; }
    this.pops.add(qt);
    this.stack.expect(qt, (r) => this.onPop(qt, r));
  }

  private onPop(qt: number, r: QResultBuffer): void {
    this.pops.delete(qt);
    const l = this.stack.libos;
    if (r.opcode === Opcode.FAILED) { if (r.ret !== ECANCELED && !this.closed) this.emit("error", systemError(r.ret, "recvmsg")); return; }
    const { buf, len } = r.sga;
    const rinfo: RemoteInfo = { address: formatIp(r.addr), family: familyName(r.addr), port: r.addr.port, size: len };
    const msg = Buffer.allocUnsafe(len);
    msg.set(l.u8.subarray(buf, buf + len));
    l.sgafree({ buf, len });
    if (this.closed) return;
    this.armPop();
    this.emit("message", msg, rinfo);
  }

  /**
   * send(msg[, offset, length][, port][, address][, callback]) in every node:dgram form: msg is a
   * Buffer, TypedArray, DataView, string or an array of them; port and address are left out on a
   * connected socket.
   */
  send(msg: unknown, ...rest: unknown[]): void {
    this.healthCheck();
    const cb: SendCb | undefined = typeof rest[rest.length - 1] === "function" ? rest.pop() as SendCb : undefined;
    let data: Buffer;
    if (typeof rest[0] === "number" && typeof rest[1] === "number" && (rest.length > 2 || this.connectedTo !== null)) {
      // (msg, offset, length[, port[, address]])
      const whole = toBuffer(msg);
      data = whole.subarray(rest[0], rest[0] + rest[1]);
      rest = rest.slice(2);
    } else data = toBuffer(msg);
    const port = rest[0] as number | undefined;
    const address = rest[1] as string | undefined;
    if (this.connectedTo !== null && port !== undefined) throw codedError("ERR_SOCKET_DGRAM_IS_CONNECTED", "Already connected");
    if (this.connectedTo === null && port === undefined) throw codedError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    const start = () => {
      if (this.connectedTo !== null) { this.sendNow(data, null, cb); return; }
      const p = checkPort(port, false);
      resolveHost(address ?? "localhost", this.family, this.lookup, (err, ip) => {
        if (err) { if (cb) cb(err, 0); else this.emit("error", err); return; }
        this.sendNow(data, withPort(ip, p), cb);
      });
    };
    if (!this.bound) {
      this.queued.push(start);
      if (!this.binding) this.bind(0);
      return;
    }
    start();
  }

  /** Sends to `to`, or to the connected peer (null). */
  private sendNow(data: Buffer, to: SockAddr | null, cb: SendCb | undefined): void {
    if (this.closed) return;
    const l = this.stack.libos;
    const fail = (e: Error) => { if (cb) process.nextTick(cb, e, 0); else process.nextTick(() => this.emit("error", e)); };
    let sga: Sga;
    try { sga = l.sgaalloc(Math.max(1, data.length)); } catch (e) { fail(systemError(errnoOf(e), "send")); return; }
    sga.len = data.length;
    l.u8.set(data, sga.buf);
    let qt: number;
    try { qt = to === null ? l.push(this.qd, sga) : l.pushto(this.qd, sga, to); } catch (e) {
      l.sgafree(sga);
      fail(systemError(errnoOf(e), "send", to === null ? undefined : formatIp(to), to?.port));
      return;
    }
    this.stack.expect(qt, (r) => {
      const failed = r.opcode === Opcode.FAILED, ret = r.ret;
      l.sgafree(sga);
      if (failed) fail(systemError(ret, "send"));
      else if (cb) cb(null, data.length);
    });
  }

  connect(port: number, address?: string | (() => void), cb?: () => void): void {
    this.healthCheck();
    if (typeof address === "function") { cb = address; address = undefined; }
    if (this.connectedTo !== null) throw codedError("ERR_SOCKET_DGRAM_IS_CONNECTED", "Already connected");
    const p = checkPort(port, false);
    if (cb) this.once("connect", cb);
    const go = () => resolveHost((address as string | undefined) ?? "localhost", this.family, this.lookup, (err, ip) => {
      if (this.closed) return;
      if (err) { this.emit("error", err); return; }
      const to = withPort(ip, p);
      try { this.stack.libos.connect(this.qd, to); } catch (e) {
        this.emit("error", systemError(errnoOf(e), "connect", formatIp(ip), p));
        return;
      }
      this.connectedTo = to;
      process.nextTick(() => this.emit("connect"));
    });
    if (!this.bound) { this.queued.push(go); if (!this.binding) this.bind(0); } else go();
  }

  disconnect(): void {
    this.healthCheck();
    if (this.connectedTo === null) throw codedError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    this.stack.libos.connect(this.qd, { addr: 0, port: 0 });
    this.connectedTo = null;
  }

  remoteAddress(): { address: string; family: "IPv4" | "IPv6"; port: number } {
    this.healthCheck();
    if (this.connectedTo === null) throw codedError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    return addressInfo(this.connectedTo);
  }

  address(): { address: string; family: "IPv4" | "IPv6"; port: number } {
    this.healthCheck();
    if (!this.bound) throw systemError(9 /* EBADF */, "getsockname");
    return addressInfo(this.stack.libos.getsockname(this.qd));
  }

  close(cb?: () => void): this {
    if (this.closed) { if (cb) process.nextTick(cb); return this; }
    if (cb) this.once("close", cb);
    this.closed = true;
    for (const qt of this.pops) this.stack.forget(qt);
    this.pops.clear();
    this.queued = [];
    try { this.stack.libos.close(this.qd); } catch { /* the stack is gone */ }
    if (this.holding) { this.holding = false; this.stack.unref(); }
    this.stack.untrack(this);
    process.nextTick(() => this.emit("close"));
    return this;
  }

  stackClosing(): void { this.close(); }

  ref(): this { this.refed = true; if (this.bound && !this.closed && !this.holding) { this.holding = true; this.stack.ref(); } return this; }
  unref(): this { this.refed = false; if (this.holding) { this.holding = false; this.stack.unref(); } return this; }

  // Socket options the stack does not have: accepted and ignored where node:dgram would only tune.
  setBroadcast(_flag: boolean): void { this.healthCheck(); }
  setTTL(ttl: number): number { this.healthCheck(); return ttl; }
  setRecvBufferSize(_n: number): void { this.healthCheck(); }
  setSendBufferSize(_n: number): void { this.healthCheck(); }

  private healthCheck(): void {
    if (this.closed) throw codedError("ERR_SOCKET_DGRAM_NOT_RUNNING", "Not running");
  }
}

function toBuffer(msg: unknown): Buffer {
  if (typeof msg === "string") return Buffer.from(msg);
  if (Buffer.isBuffer(msg)) return msg;
  if (ArrayBuffer.isView(msg)) return Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  if (Array.isArray(msg)) return Buffer.concat(msg.map(toBuffer));
  throw codedError("ERR_INVALID_ARG_TYPE", 'The "buffer" argument must be of type string or an instance of Buffer, TypedArray, or DataView', TypeError);
}

export interface DgramFace {
  createSocket(type: "udp4" | "udp6" | DgramOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): DgramSocket;
}

export function dgramFace(stack: StackCore): DgramFace {
  return {
    createSocket: (type, listener) => new DgramSocket(stack, typeof type === "string" ? { type } : type, listener),
  };
}

// node:dgram on the stack: a UDP socket over one PDPIX datagram queue. Several pops stay
// outstanding once bound, so a burst of datagrams is taken in one turn; each is copied once into
// the Buffer that 'message' carries. send copies once into a pool slot (the stack sends it
// zero-copy from there).
//
// The life of a socket follows node:dgram (as Node's own tests pin it): bind resolves its
// address asynchronously, sends and connects made before the bind completes wait in a queue that
// the bind (implicit for send and connect) releases, a close made meanwhile waits in the same
// queue, and a send whose lookup completes after the close is dropped silently. Options a kernel
// socket would refuse before it has an fd (setBroadcast, setTTL, multicast) are EBADF until bound.
import { EventEmitter } from "node:events";
import { lookup as dnsLookup } from "node:dns";
import { isIP, BlockList } from "node:net";
import { AF_INET, AF_INET6, SOCK_DGRAM, Opcode, type QResultBuffer, type Sga, type SockAddr } from "../libos.js";
import { ECANCELED, EBADF, EINVAL, EMSGSIZE, EADDRNOTAVAIL } from "../errno.js";
import { systemError, codedError, errnoOf } from "./errors.js";
import { addressInfo, parseIp, withPort } from "./addr.js";
import { invalidArgType, validateNumber, validateString, validateUint32, validateFunction, validateAbortSignal, isBlockList,
         validatePort, missingArgs } from "./validate.js";
import type { StackCore, StackHandle } from "./core.js";
import { callable } from "./callable.js";

/** Pops kept outstanding while bound: up to this many datagrams per turn. */
const POPS = 16;
/** The largest UDP payload an IPv4 / IPv6 datagram carries (65535 - headers), above which the
 *  kernel answers EMSGSIZE. */
const MAX_UDP4 = 65507, MAX_UDP6 = 65527;

export type DgramLookup = (address: string, family: number, cb: (err: Error | null, address: string, family?: number) => void) => void;

export interface DgramOptions {
  type: "udp4" | "udp6"; lookup?: DgramLookup; signal?: AbortSignal; reuseAddr?: boolean; reusePort?: boolean; ipv6Only?: boolean;
  recvBufferSize?: number; sendBufferSize?: number; receiveBlockList?: BlockList; sendBlockList?: BlockList;
}
export interface RemoteInfo { address: string; family: "IPv4" | "IPv6"; port: number; size: number }
type SendCb = (err: Error | null, bytes?: number) => void;
type Bind = "unbound" | "binding" | "bound";
type Connect = "disconnected" | "connecting" | "connected";


/** A literal of the socket's family resolves to itself (after a tick); 'localhost' is ours. */
function defaultLookup(address: string, family: number, cb: (err: Error | null, address: string, family?: number) => void): void {
  if (isIP(address) === family) { process.nextTick(cb, null, address, family); return; }
  if (address === "localhost") { process.nextTick(cb, null, family === 6 ? "::1" : "127.0.0.1", family); return; }
  dnsLookup(address, family, cb);
}

export class DgramSocket extends EventEmitter implements StackHandle {
  readonly type: "udp4" | "udp6";
  private qd: number | null;
  private bindState: Bind = "unbound";
  private connectState: Connect = "disconnected";
  private peer: SockAddr | null = null;
  private queue: (() => void)[] | undefined;
  private readonly family: 4 | 6;
  private readonly pops = new Set<number>();
  private refed = true;
  private holding = false;
  private readonly lookupFn: DgramLookup;
  private readonly receiveBlockList?: BlockList;
  private readonly sendBlockList?: BlockList;
  private sendQueueSize = 0;
  private sendQueueCount = 0;
  private readonly groups = new Set<string>();
  /** SO_RCVBUF / SO_SNDBUF as Linux reports them (Debian's default 212992; a set size doubled). */
  private readonly sizes = { recv: 212992, send: 212992 };

  constructor(private readonly stack: StackCore, type: "udp4" | "udp6" | DgramOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    let options: DgramOptions | undefined;
    let t: unknown = type;
    if (type !== null && typeof type === "object") {
      options = type;
      t = options.type;
      if (options.recvBufferSize) validateUint32(options.recvBufferSize, "options.recvBufferSize");
      if (options.sendBufferSize) validateUint32(options.sendBufferSize, "options.sendBufferSize");
      if (options.receiveBlockList) {
        if (!isBlockList(options.receiveBlockList)) throw invalidArgType("options.receiveBlockList", "net.BlockList", options.receiveBlockList);
        this.receiveBlockList = options.receiveBlockList;
      }
      if (options.sendBlockList) {
        if (!isBlockList(options.sendBlockList)) throw invalidArgType("options.sendBlockList", "net.BlockList", options.sendBlockList);
        this.sendBlockList = options.sendBlockList;
      }
    }
    if (options?.lookup !== undefined) validateFunction(options.lookup, "lookup");
    if (t !== "udp4" && t !== "udp6") throw codedError("ERR_SOCKET_BAD_TYPE", "Bad socket type specified. Valid types are: udp4, udp6", TypeError);
    this.type = t;
    this.family = t === "udp6" ? 6 : 4;
    this.lookupFn = options?.lookup ?? defaultLookup;
    if (options?.recvBufferSize) this.sizes.recv = options.recvBufferSize * 2;
    if (options?.sendBufferSize) this.sizes.send = options.sendBufferSize * 2;
    this.qd = stack.libos.socket(this.family === 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    stack.track(this);
    if (typeof listener === "function") this.on("message", listener);
    if (options?.signal !== undefined) {
      validateAbortSignal(options.signal, "options.signal");
      const signal = options.signal;
      const onAbort = () => { if (this.qd !== null) this.close(); };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        this.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
  }

  /** The address a lookup of the socket's family starts from: the empty one is the loopback. */
  private lookup(address: string | undefined, cb: (err: Error | null, ip: string) => void): void {
    this.lookupFn(address || (this.family === 6 ? "::1" : "127.0.0.1"), this.family, (err, ip) => cb(err, ip));
  }

  bind(...args: unknown[]): this {
    this.healthCheck();
    if (this.bindState !== "unbound") throw codedError("ERR_SOCKET_ALREADY_BOUND", "Socket is already bound");
    this.bindState = "binding";
    const cb = args.length > 0 ? args[args.length - 1] : undefined;
    if (typeof cb === "function") {
      const onListening = () => { this.off(EventEmitter.errorMonitor, remove); (cb as () => void).call(this); };
      const remove = () => { this.off(EventEmitter.errorMonitor, remove); this.off("listening", onListening); };
      this.on(EventEmitter.errorMonitor, remove);
      this.on("listening", onListening);
    }
    let port = args[0], address: unknown;
    if (port !== null && typeof port === "object") {
      const o = port as { port?: unknown; address?: string; fd?: number };
      if (typeof o.fd === "number") throw codedError("ERR_INVALID_FD_TYPE", "Unsupported fd type: the stack binds addresses, fds stay on the kernel", TypeError);
      address = o.address || "";
      port = o.port;
    } else address = typeof args[1] === "function" ? "" : args[1];
    if (!address) address = this.family === 4 ? "0.0.0.0" : "::";
    const host = address as string;
    this.lookupFn(host, this.family, (err, ip) => {
      if (this.qd === null) return;               // closed meanwhile
      if (err) { this.bindState = "unbound"; this.emit("error", err); return; }
      const p = typeof port === "number" || typeof port === "string" ? Number(port) | 0 : 0;
      const addr = parseIp(ip);
      try {
        if (addr === null || (addr.addr6 !== undefined) !== (this.family === 6)) throw systemError(EINVAL, "bind");
        this.stack.libos.bind(this.qd, withPort(addr, p));
      } catch (e) {
        const ex = systemError(errnoOrEinval(e), "bind", ip, p || undefined);
        this.bindState = "unbound";
        this.emit("error", ex);
        return;
      }
      this.startReceiving();
      this.emit("listening");
    });
    return this;
  }

  private startReceiving(): void {
    this.bindState = "bound";
    this.updateRef();
    for (let i = 0; i < POPS; i++) this.armPop();
  }

  private armPop(): void {
    if (this.qd === null) return;
    let qt: number;
    try { qt = this.stack.libos.pop(this.qd); } catch (e) { this.emit("error", systemError(errnoOf(e), "recvmsg")); return; }
    this.pops.add(qt);
    this.stack.expect(qt, (r) => this.onPop(qt, r));
  }

  private onPop(qt: number, r: QResultBuffer): void {
    this.pops.delete(qt);
    const l = this.stack.libos;
    if (r.opcode === Opcode.FAILED) { if (r.ret !== ECANCELED && this.qd !== null) this.emit("error", systemError(r.ret, "recvmsg")); return; }
    const { buf, len } = r.sga;
    const from = addressInfo(r.addr);
    const msg = Buffer.allocUnsafe(len);
    msg.set(l.u8.subarray(buf, buf + len));
    l.sgafree({ buf, len });
    if (this.qd === null) return;
    this.armPop();
    if (this.receiveBlockList?.check(from.address, from.family === "IPv6" ? "ipv6" : "ipv4")) return;
    this.emit("message", msg, { ...from, size: len });
  }

  /** Runs `f` once the bind completes (node:dgram's queue); the bind is implicit. */
  private enqueue(f: () => void): void {
    if (this.queue === undefined) {
      this.queue = [];
      const onError = () => { this.off("listening", onListening); this.queue = undefined; };
      const onListening = () => {
        this.off(EventEmitter.errorMonitor, onError);
        const q = this.queue ?? [];
        this.queue = undefined;
        for (const g of q) g();
      };
      this.once(EventEmitter.errorMonitor, onError);
      this.once("listening", onListening);
    }
    this.queue.push(f);
  }

  connect(port: unknown, address?: unknown, callback?: () => void): void {
    const p = validatePort(port, "Port", false);
    if (typeof address === "function") { callback = address as () => void; address = ""; }
    else if (address === undefined) address = "";
    validateString(address, "address");
    if (this.connectState !== "disconnected") throw codedError("ERR_SOCKET_DGRAM_IS_CONNECTED", "Already connected");
    this.connectState = "connecting";
    if (this.bindState === "unbound") this.bind({ port: 0, exclusive: true }, null);
    const go = () => this.doConnect(p, address as string, callback);
    if (this.bindState !== "bound") { this.enqueue(go); return; }
    go();
  }

  private doConnect(port: number, address: string, callback?: (err?: Error) => void): void {
    if (callback) this.once("connect", callback);
    this.lookup(address, (err, ip) => {
      if (this.qd === null) return;
      let ex: Error | null = err;
      if (!ex && this.sendBlockList?.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4")) ex = codedError("ERR_IP_BLOCKED", `IP(${ip}) is blocked by net.BlockList`);
      let to: SockAddr | null = null;
      if (!ex) {
        const a = parseIp(ip);
        to = a === null ? null : withPort(a, port);
        try {
          if (to === null) throw systemError(EINVAL, "connect");
          this.stack.libos.connect(this.qd, to);
        } catch (e) { ex = systemError(errnoOrEinval(e), "connect", address, port); }
      }
      if (ex) {
        this.connectState = "disconnected";
        const e = ex;
        process.nextTick(() => {
          if (callback) { this.removeListener("connect", callback); callback(e); } else this.emit("error", e);
        });
        return;
      }
      this.peer = to;
      this.connectState = "connected";
      process.nextTick(() => this.emit("connect"));
    });
  }

  disconnect(): void {
    if (this.connectState !== "connected") throw codedError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    this.stack.libos.connect(this.qd!, { addr: 0, port: 0 });
    this.peer = null;
    this.connectState = "disconnected";
  }

  /** node:dgram's legacy sendto(buffer, offset, length, port, address[, callback]). */
  sendto(buffer: unknown, offset: unknown, length: unknown, port: unknown, address: unknown, callback?: SendCb): void {
    validateNumber(offset, "offset");
    validateNumber(length, "length");
    validateNumber(port, "port");
    validateString(address, "address");
    this.send(buffer, offset, length, port, address, callback);
  }

  /**
   * send(msg[, offset, length][, port][, address][, callback]) in every node:dgram form: msg is a
   * Buffer, TypedArray, DataView, string or an array of them; port and address are left out on a
   * connected socket.
   */
  send(buffer: unknown, offset?: unknown, length?: unknown, port?: unknown, address?: unknown, callback?: unknown): void {
    let list: Buffer[] | null;
    const connected = this.connectState === "connected";
    if (!connected) {
      if (address || (port && typeof port !== "function")) buffer = sliceBuffer(buffer, offset, length);
      else { callback = port; port = offset; address = length; }
    } else {
      if (typeof length === "number") {
        buffer = sliceBuffer(buffer, offset, length);
        if (typeof port === "function") { callback = port; port = null; }
      } else callback = offset;
      if (port || address) throw codedError("ERR_SOCKET_DGRAM_IS_CONNECTED", "Already connected");
    }
    if (!Array.isArray(buffer)) {
      if (typeof buffer === "string") list = [Buffer.from(buffer)];
      else if (!ArrayBuffer.isView(buffer)) throw invalidArgType("buffer", ["Buffer", "TypedArray", "DataView", "string"], buffer);
      else list = [asBuffer(buffer)];
    } else if ((list = fixBufferList(buffer)) === null) {
      throw invalidArgType("buffer list arguments", ["Buffer", "TypedArray", "DataView", "string"], buffer);
    }
    let p = 0;
    if (!connected) p = validatePort(port, "Port", false);
    let cb = typeof callback === "function" ? callback as SendCb : undefined;
    if (typeof address === "function") { cb = address as SendCb; address = undefined; }
    else if (address != null) validateString(address, "address");
    this.healthCheck();
    if (this.bindState === "unbound") this.bind({ port: 0, exclusive: true }, null);
    if (list.length === 0) list.push(Buffer.alloc(0));
    const data = list;
    if (this.bindState !== "bound") {
      this.enqueue(() => this.send(data, p, address as string | undefined, cb));
      return;
    }
    if (!connected) this.lookup(address as string | undefined, (err, ip) => this.doSend(err, ip, data, address as string | undefined, p, cb));
    else this.doSend(null, null, data, undefined, 0, cb);
  }

  private doSend(ex: Error | null, ip: string | null, list: Buffer[], address: string | undefined, port: number, cb?: SendCb): void {
    if (ex) {
      if (cb) process.nextTick(cb, ex);
      else process.nextTick(() => this.emit("error", ex));
      return;
    }
    if (this.qd === null) return;                 // closed while the address was looked up
    if (ip && this.sendBlockList?.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4")) {
      if (cb) process.nextTick(cb, codedError("ERR_IP_BLOCKED", `IP(${ip}) is blocked by net.BlockList`));
      return;
    }
    const data = list.length === 1 ? list[0] : Buffer.concat(list);
    const to = ip === null ? null : parseIp(ip);
    const fail = (errno: number) => {
      // As node:dgram: a send that fails at once reports to its callback only.
      if (cb) process.nextTick(cb, systemError(errno, "send", address ?? ip ?? undefined, port || undefined));
    };
    if (data.length > (this.family === 6 ? MAX_UDP6 : MAX_UDP4)) { fail(EMSGSIZE); return; }
    if (ip !== null && (to === null || (to.addr6 !== undefined) !== (this.family === 6))) { fail(EINVAL); return; }
    const l = this.stack.libos;
    let sga: Sga;
    try { sga = l.sgaalloc(Math.max(1, data.length)); } catch (e) { fail(errnoOrEinval(e)); return; }
    sga.len = data.length;
    l.u8.set(data, sga.buf);
    let qt: number;
    try { qt = to === null ? l.push(this.qd, sga) : l.pushto(this.qd, sga, withPort(to, port)); } catch (e) {
      l.sgafree(sga);
      fail(errnoOrEinval(e));
      return;
    }
    this.sendQueueCount++;
    this.sendQueueSize += data.length;
    this.updateRef();
    this.stack.expect(qt, (r) => {
      const failed = r.opcode === Opcode.FAILED, ret = r.ret;
      l.sgafree(sga);
      this.sendQueueCount--;
      this.sendQueueSize -= data.length;
      this.updateRef();
      if (failed) { if (ret !== ECANCELED && cb) cb(systemError(ret, "send", address ?? ip ?? undefined, port || undefined)); }
      else if (cb) cb(null, data.length);
    });
  }

  remoteAddress(): { address: string; family: "IPv4" | "IPv6"; port: number } {
    this.healthCheck();
    if (this.connectState !== "connected" || this.peer === null) throw codedError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    return addressInfo(this.peer);
  }

  address(): { address: string; family: "IPv4" | "IPv6"; port: number } {
    this.healthCheck();
    if (this.bindState !== "bound") throw systemError(EBADF, "getsockname");
    return addressInfo(this.stack.libos.getsockname(this.qd!));
  }

  close(callback?: () => void): this {
    if (typeof callback === "function") this.on("close", callback);
    if (this.queue !== undefined) { this.queue.push(() => this.close()); return this; }
    this.healthCheck();
    for (const qt of this.pops) this.stack.forget(qt);
    this.pops.clear();
    try { this.stack.libos.close(this.qd!); } catch { /* the stack is gone */ }
    this.qd = null;
    this.updateRef();
    this.stack.untrack(this);
    process.nextTick(() => this.emit("close"));
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.qd === null) return;
    await new Promise<void>((r) => this.close(r));
  }

  stackClosing(): void { if (this.qd !== null) { this.queue = undefined; this.close(); } }

  ref(): this { this.refed = true; this.updateRef(); return this; }
  unref(): this { this.refed = false; this.updateRef(); return this; }

  /** A bound socket receives (libuv keeps it active); a send in flight also holds the loop. */
  private updateRef(): void {
    const active = this.qd !== null && this.refed && (this.bindState === "bound" || this.sendQueueCount > 0);
    if (active && !this.holding) { this.holding = true; this.stack.ref(); }
    else if (!active && this.holding) { this.holding = false; this.stack.unref(); }
  }

  getSendQueueSize(): number { return this.sendQueueSize; }
  getSendQueueCount(): number { return this.sendQueueCount; }

  // ---- socket options: checked as the kernel checks them (EBADF before the bind, as a socket
  // without an fd; EINVAL out of range). The datapath sends every datagram with TTL 64 and
  // delivers broadcasts to a bound port whatever the flag, so the values are not kept. ----

  private option(syscall: string): void {
    this.healthCheck();
    if (this.bindState !== "bound") throw systemError(EBADF, syscall);
  }

  setBroadcast(_flag: unknown): void { this.option("setBroadcast"); }

  setTTL(ttl: unknown): number {
    validateNumber(ttl, "ttl");
    this.option("setTTL");
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw systemError(EINVAL, "setTTL");
    return ttl;
  }

  setMulticastTTL(ttl: unknown): number {
    validateNumber(ttl, "ttl");
    this.option("setMulticastTTL");
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw systemError(EINVAL, "setMulticastTTL");
    return ttl;
  }

  setMulticastLoopback(flag: unknown): unknown { this.option("setMulticastLoopback"); return flag; }

  setMulticastInterface(interfaceAddress: unknown): void {
    this.healthCheck();
    validateString(interfaceAddress, "interfaceAddress");
    this.option("setMulticastInterface");
    const a = parseIp(interfaceAddress.split("%")[0]);
    if (a === null || (a.addr6 !== undefined) !== (this.family === 6)) throw systemError(EINVAL, "setMulticastInterface");
    // The stack has one interface: its own address (or any) is the only one to name.
    const own = addressInfo(this.stack.libos.getsockname(this.qd!));
    if (a.addr6 === undefined && a.addr !== 0 && interfaceAddress !== own.address && !isLoopback4(interfaceAddress)) throw systemError(EADDRNOTAVAIL, "setMulticastInterface");
  }

  addMembership(multicastAddress?: unknown, _interfaceAddress?: unknown): void { this.membership(true, multicastAddress); }
  dropMembership(multicastAddress?: unknown, _interfaceAddress?: unknown): void { this.membership(false, multicastAddress); }

  addSourceSpecificMembership(sourceAddress: unknown, groupAddress: unknown, _interfaceAddress?: unknown): void {
    this.healthCheck();
    validateString(sourceAddress, "sourceAddress");
    validateString(groupAddress, "groupAddress");
    this.membership(true, groupAddress, "addSourceSpecificMembership", sourceAddress);
  }

  dropSourceSpecificMembership(sourceAddress: unknown, groupAddress: unknown, _interfaceAddress?: unknown): void {
    this.healthCheck();
    validateString(sourceAddress, "sourceAddress");
    validateString(groupAddress, "groupAddress");
    this.membership(false, groupAddress, "dropSourceSpecificMembership", sourceAddress);
  }

  /**
   * Group membership as the kernel checks it: a group address of the socket's family (EINVAL),
   * joined once (EADDRINUSE again), dropped only when joined (EADDRNOTAVAIL). Joins are kept per
   * socket; the datapath does not yet speak IGMP or MLD for them on the link.
   */
  private membership(join: boolean, group: unknown, syscall = join ? "addMembership" : "dropMembership", source?: string): void {
    this.healthCheck();
    if (!group) throw missingArgs("multicastAddress");
    const g = String(group);
    const a = parseIp(g);
    const multicast = a !== null && (a.addr6 !== undefined ? a.addr6[0] === 0xff : (a.addr >>> 28) === 0xe);
    if (!multicast || (a!.addr6 !== undefined) !== (this.family === 6)) throw systemError(EINVAL, syscall);
    if (source !== undefined && parseIp(source) === null) throw systemError(EINVAL, syscall);
    const key = source === undefined ? g : `${source}>${g}`;
    if (join) {
      if (this.groups.has(key)) throw systemError(98 /* EADDRINUSE */, syscall);
      if (this.bindState === "unbound") this.bind({ port: 0, exclusive: true }, null);
      this.groups.add(key);
    } else {
      if (!this.groups.has(key)) throw systemError(EADDRNOTAVAIL, syscall);
      this.groups.delete(key);
    }
  }

  // ---- buffer sizes: the stack's queues are sized by config; these report and record ----

  private bufferSize(size: number, kind: "recv" | "send"): number {
    if (size >>> 0 !== size) throw codedError("ERR_SOCKET_BAD_BUFFER_SIZE", "Buffer size must be a positive integer", TypeError);
    if (this.qd === null || this.bindState !== "bound") {
      const e = codedError("ERR_SOCKET_BUFFER_SIZE", `Could not get or set buffer size: uv_${kind}_buffer_size returned EBADF (bad file descriptor)`);
      e.name = "SystemError";
      throw e;
    }
    // As Linux: a size set is doubled for bookkeeping overhead, and that is what reads back.
    if (size > 0) this.sizes[kind] = size * 2;
    return this.sizes[kind];
  }

  setRecvBufferSize(size: number): void { this.bufferSize(size, "recv"); }
  setSendBufferSize(size: number): void { this.bufferSize(size, "send"); }
  getRecvBufferSize(): number { return this.bufferSize(0, "recv"); }
  getSendBufferSize(): number { return this.bufferSize(0, "send"); }

  private healthCheck(): void {
    if (this.qd === null) throw codedError("ERR_SOCKET_DGRAM_NOT_RUNNING", "Not running");
  }
}

const isLoopback4 = (s: string) => s.startsWith("127.");

/** The errno a PDPIX call threw, or EINVAL for an argument our own checks refused. */
function errnoOrEinval(e: unknown): number {
  if (e instanceof Error && typeof (e as { errno?: unknown }).errno === "number" && (e as { syscall?: unknown }).syscall !== undefined) {
    return -(e as unknown as { errno: number }).errno;
  }
  return errnoOf(e);
}

function asBuffer(v: ArrayBufferView): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): Buffer {
  let b: ArrayBufferView;
  if (typeof buffer === "string") b = Buffer.from(buffer);
  else if (!ArrayBuffer.isView(buffer)) throw invalidArgType("buffer", ["Buffer", "TypedArray", "DataView", "string"], buffer);
  else b = buffer;
  const off = Number(offset) >>> 0, len = Number(length) >>> 0;
  if (off > b.byteLength) throw codedError("ERR_BUFFER_OUT_OF_BOUNDS", '"offset" is outside of buffer bounds', RangeError);
  if (off + len > b.byteLength) throw codedError("ERR_BUFFER_OUT_OF_BOUNDS", '"length" is outside of buffer bounds', RangeError);
  return Buffer.from(b.buffer, b.byteOffset + off, len);
}

function fixBufferList(list: unknown[]): Buffer[] | null {
  const out: Buffer[] = [];
  for (const b of list) {
    if (typeof b === "string") out.push(Buffer.from(b));
    else if (ArrayBuffer.isView(b)) out.push(asBuffer(b));
    else return null;
  }
  return out;
}

export interface DgramFace {
  createSocket(type: "udp4" | "udp6" | DgramOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): DgramSocket;
  /** stack.dgram.Socket(type[, listener]), with or without new. */
  Socket: new (type: "udp4" | "udp6" | DgramOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) => DgramSocket;
}

export function dgramFace(stack: StackCore): DgramFace {
  class StackDgramSocket extends DgramSocket {
    constructor(type: "udp4" | "udp6" | DgramOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) { super(stack, type, listener); }
  }
  Object.defineProperty(StackDgramSocket, "name", { value: "Socket" });
  const Socket = callable(StackDgramSocket);
  return { createSocket: (type, listener) => new StackDgramSocket(type, listener), Socket };
}

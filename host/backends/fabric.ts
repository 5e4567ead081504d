// The fabric backend (Demikernel's Catmint, on libfabric): a transport backend in the sense of
// DESIGN.md principle 5, implementing the queue operations directly over one RDM endpoint per
// LibOS. The buffer pool of a Wasm datapath is the one registered memory region: messages are
// sent from and received into its slots without a copy, and one-sided RMA reads and writes them.
//
// Queues: a stream-like "connection" is a pair of connection ids exchanged at connect/accept;
// data for connection c travels as tagged messages with tag c, so that receives pre-posted for c
// match only c's messages. Control messages (hello, ack, bye) use tags with CTRL_BIT set.
import { fabricNative, type FabricNative } from "../native.js";
import { TransportQueues, type Pending } from "./transport.js";
import { DemiError, EAGAIN, EAFNOSUPPORT, EBADF, ECANCELED, EINVAL, EISCONN, EMSGSIZE, ENOTCONN, ENOTSUP, ETIMEDOUT,
         ECONNRESET, ENOMEM } from "../errno.js";
import { RealClock, type Clock } from "../clock.js";
import { type Config } from "../config.js";
import { Opcode, AF_INET, AF_INET6, sockaddr, type Sga, type SockAddr } from "../libos.js";
import { formatIp } from "../stack/addr.js";

const CTRL_BIT = 0x40000000;
const HELLO_TAG = CTRL_BIT;            // to a listener: [u32 client conn id][client endpoint name]
const ACK_BIT = 0x10000000;            // CTRL_BIT | ACK_BIT | c: [u32 server conn id]
const BYE_BIT = 0x20000000;            // CTRL_BIT | BYE_BIT | c: the peer closed c
const CTRL_BYTES = 512;
const MAX_CTX = 65536;
/** Completion errors that mean the peer is gone (a rejected key or range is not one of them). */
const CONNECTION_ERRORS = new Set([5 /* EIO */, 32 /* EPIPE */, 103 /* ECONNABORTED */, 104 /* ECONNRESET */,
  107 /* ENOTCONN */, 110 /* ETIMEDOUT */, 111 /* ECONNREFUSED */, 113 /* EHOSTUNREACH */]);

/** A remote region as exported by its owner: the registration's key and an offset into it. */
export interface RegionRef { key: number; offset: number; length: number }

type OpKind = "recv-data" | "recv-hello" | "recv-ack" | "recv-bye" | "send-data" | "send-ctrl" | "rma";

interface Op { kind: OpKind; qt: number; conn: number; buf: number; len: number; deadline: number }


interface Queue {
  kind: "listener" | "conn";
  local: number;               // our connection id (conn), 0 for a listener
  remote: number;              // the peer's connection id, 0 until connected
  fiAddr: number;              // the peer's address vector entry
  state: "idle" | "connecting" | "connected" | "broken" | "listening";
  rx: Sga[];                   // received messages not yet popped
  pops: number[];              // pending pop qtokens, oldest first
  accepts: number[];           // listener: pending accept qtokens
  backlog: number[];           // listener: accepted connections not yet handed out
  posted: Set<number>;         // contexts of receives posted for this queue
  peer: SockAddr;
  connectQt: number;
}

export class FabricLibOS extends TransportQueues {
  private readonly nat: FabricNative;
  private h: unknown = null;
  private key = 0;
  private regionOff = 0;
  private regionLen = 0;
  private name: Buffer = Buffer.alloc(0);
  private readonly queues = new Map<number, Queue>();
  private readonly byConn = new Map<number, number>();   // local conn id -> qd
  private nextQd = 1;
  private nextConn = 1;
  private readonly ops: (Op | undefined)[] = new Array(MAX_CTX);
  private readonly freeCtx: number[] = [];
  private readonly cq = new Int32Array(4 * 64);
  private readonly provider: string;
  private boundPort = 0;
  private deferred: { ctx: number; start: (ctx: number) => number }[] = [];
  /** Sends and RMA in flight by context, with their deadlines, oldest first. */
  private readonly timed = new Map<number, number>();
  private lastTimeoutCheck = 0;

  constructor(config: Config, clock: Clock = new RealClock()) {
    const nat = fabricNative();                       // one clear line if the bridge is missing
    super(config, clock);
    this.nat = nat;
    this.provider = process.env.FI_PROVIDER ?? config.fabric.provider;
    for (let i = MAX_CTX - 1; i >= 0; i--) this.freeCtx.push(i);
  }

  // ---- endpoint ----

  private open(service: string): void {
    if (this.h !== null) return;
    this.regionOff = this.dp.exports.poolRegionBase();
    this.regionLen = this.dp.exports.poolRegionBytes();
    this.h = this.nat.open(this.provider, this.config.fabric.node, service, this.u8, this.regionOff, this.regionLen, 4096);
    const info = this.nat.info(this.h);
    this.key = info.key;
    this.name = info.name;
  }

  /** The provider and domain in use, and the registered region (for docs/backends.md and tests). */
  describe(): { provider: string; domain: string; key: number; regionBase: number; regionBytes: number } | null {
    if (this.h === null) return null;
    const i = this.nat.info(this.h);
    return { provider: i.provider, domain: i.domain, key: i.key, regionBase: this.regionOff, regionBytes: this.regionLen };
  }

  // ---- PDPIX ----

  /** The endpoint's address family: that of fabric.node (the provider opens it there). */
  private get family(): number { return this.config.fabric.node.includes(":") ? AF_INET6 : AF_INET; }

  socket(domain = this.family, type = 1, protocol = 0): number {
    if (domain !== this.family) throw new DemiError(EAFNOSUPPORT, "socket");
    if (type !== 1 || (protocol !== 0 && protocol !== 6)) throw new DemiError(ENOTSUP, "socket");
    const qd = this.nextQd++;
    this.queues.set(qd, { kind: "conn", local: 0, remote: 0, fiAddr: -1, state: "idle", rx: [], pops: [], accepts: [],
      backlog: [], posted: new Set(), peer: { addr: 0, port: 0 }, connectQt: 0 });
    return qd;
  }

  bind(qd: number, local: SockAddr): void {
    this.queue(qd, "bind");
    if (this.h !== null) throw new DemiError(EINVAL, "bind");   // one endpoint per LibOS
    this.open(String(local.port));
    this.boundPort = local.port;
  }

  listen(qd: number, _backlog = 16): void {
    const q = this.queue(qd, "listen");
    if (this.h === null || q.state !== "idle") throw new DemiError(EINVAL, "listen");
    q.kind = "listener";
    q.state = "listening";
    for (let i = 0; i < 16; i++) this.postCtrl(q, HELLO_TAG, "recv-hello");
  }

  accept(qd: number): number {
    const q = this.queue(qd, "accept");
    if (q.kind !== "listener") throw new DemiError(EINVAL, "accept");
    const qt = this.newQt(Opcode.ACCEPT, qd);
    q.accepts.push(qt);
    this.matchAccepts(q);
    return qt;
  }

  connect(qd: number, remote: SockAddr): number {
    const q = this.queue(qd, "connect");
    if (q.state !== "idle") throw new DemiError(q.state === "connected" ? EISCONN : EINVAL, "connect");
    // The endpoint is opened on fabric.node: a peer of the other family is out of its reach.
    if ((remote.addr6 !== undefined) !== (this.family === AF_INET6)) throw new DemiError(EAFNOSUPPORT, "connect");
    this.open("0");
    const peerName = this.nat.resolve(this.provider, formatIp(remote), String(remote.port));
    q.fiAddr = this.nat.avInsert(this.h, peerName);
    q.local = this.nextConn++;
    q.peer = remote;
    q.state = "connecting";
    this.byConn.set(q.local, qd);
    this.postData(q);
    this.postCtrl(q, CTRL_BIT | ACK_BIT | q.local, "recv-ack");
    const qt = this.newQt(Opcode.CONNECT, qd);
    q.connectQt = qt;
    const hello = Buffer.alloc(4 + this.name.length);
    hello.writeUInt32LE(q.local, 0);
    this.name.copy(hello, 4);
    this.sendCtrl(q, HELLO_TAG, hello);
    return qt;
  }

  push(qd: number, sga: Sga): number {
    const q = this.queue(qd, "push");
    if (q.state !== "connected") throw new DemiError(q.state === "broken" ? ECONNRESET : ENOTCONN, "push");
    if (sga.len > this.config.fabric.message_bytes) throw new DemiError(EMSGSIZE, "push");
    if (this.dp.exports.bufHold(sga.buf) !== 0 || !this.inRegion(sga)) throw new DemiError(EINVAL, "push");
    const qt = this.newQt(Opcode.PUSH, qd);
    this.submit({ kind: "send-data", qt, conn: q.local, buf: sga.buf, len: sga.len, deadline: this.deadline() },
      (ctx) => this.nat.send(this.h, q.fiAddr, q.remote, sga.buf, sga.len, ctx));
    return qt;
  }

  pushto(qd: number, sga: Sga, _to: SockAddr): number {
    return this.push(qd, sga);                    // RDM queues are connected: the address is the peer's
  }

  pop(qd: number): number {
    const q = this.queue(qd, "pop");
    if (q.kind !== "conn") throw new DemiError(EINVAL, "pop");
    const qt = this.newQt(Opcode.POP, qd);
    if (q.state === "broken") { this.complete(qt, ECONNRESET); return qt; }
    q.pops.push(qt);
    this.matchPops(q);
    return qt;
  }

  close(qd: number): void {
    const q = this.queue(qd, "close");
    if (q.state === "connected") this.sendCtrl(q, CTRL_BIT | BYE_BIT | q.remote, Buffer.alloc(4));
    for (const ctx of q.posted) this.nat.cancel(this.h, ctx);
    for (const qt of q.pops) this.complete(qt, ECANCELED);
    for (const qt of q.accepts) this.complete(qt, ECANCELED);
    for (const s of q.rx) this.dp.exports.sgafree(s.buf);
    q.pops = []; q.accepts = []; q.rx = [];
    this.queues.delete(qd);
    if (q.local) this.byConn.delete(q.local);
  }

  /** Pops and accepts leave their queue; sends and RMA stay with the provider (it holds their buffers). */
  protected withdraw(qt: number, p: Pending): boolean {
    const q = this.queues.get(p.qd);
    if (q === undefined) return false;
    for (const list of [q.pops, q.accepts]) {
      const i = list.indexOf(qt);
      if (i >= 0) { list.splice(i, 1); return true; }
    }
    return false;
  }

  /** Sends and RMA time out (fabric.op_timeout_ms): the driver must look again by then. */
  nextEvent(): number {
    for (const deadline of this.timed.values()) return deadline;     // oldest first: the earliest
    return Infinity;
  }

  getsockname(qd: number): SockAddr {
    this.queue(qd, "getsockname");
    return sockaddr(this.config.fabric.node, this.boundPort);
  }

  getpeername(qd: number): SockAddr {
    const q = this.queue(qd, "getpeername");
    if (q.state !== "connected") throw new DemiError(ENOTCONN, "getpeername");
    return q.peer;
  }

  // ---- one-sided ----

  /** Describes a local buffer for a peer's rdmaRead/rdmaWrite (send the three numbers over). */
  exportRegion(sga: Sga): RegionRef {
    if (this.h === null || !this.inRegion(sga)) throw new DemiError(EINVAL, "exportRegion");
    return { key: this.key, offset: sga.buf - this.regionOff, length: sga.len };
  }

  /** Writes sga into the peer's region at region.offset + at; completes once delivered there. */
  rdmaWrite(qd: number, sga: Sga, region: RegionRef, at = 0): number {
    return this.rma(qd, true, sga, region, at);
  }

  /** Reads sga.len bytes from the peer's region at region.offset + at into sga. */
  rdmaRead(qd: number, sga: Sga, region: RegionRef, at = 0): number {
    return this.rma(qd, false, sga, region, at);
  }

  private rma(qd: number, write: boolean, sga: Sga, region: RegionRef, at: number): number {
    const q = this.queue(qd, write ? "rdmaWrite" : "rdmaRead");
    if (q.state !== "connected") throw new DemiError(q.state === "broken" ? ECONNRESET : ENOTCONN, "rdma");
    if (!Number.isInteger(at) || at < 0 || this.dp.exports.bufHold(sga.buf) !== 0 || !this.inRegion(sga)) throw new DemiError(EINVAL, "rdma");
    const qt = this.newQt(Opcode.PUSH, qd);
    this.submit({ kind: "rma", qt, conn: q.local, buf: sga.buf, len: sga.len, deadline: this.deadline() },
      (ctx) => this.nat.rma(this.h, write, q.fiAddr, sga.buf, sga.len, region.offset + at, region.key, ctx));
    return qt;
  }

  /** Reads completions and advances every operation they finish. Returns how many. */
  poll(): number {
    if (this.h === null) return 0;
    const n = this.nat.poll(this.h, this.cq, 64);
    if (this.deferred.length > 0) this.retryDeferred();
    for (let i = 0; i < n; i++) {
      const ctx = this.cq[4 * i], err = this.cq[4 * i + 1], len = this.cq[4 * i + 2];
      const op = ctx >= 0 ? this.ops[ctx] : undefined;
      if (op === undefined) continue;
      this.ops[ctx] = undefined;
      this.timed.delete(ctx);
      this.freeCtx.push(ctx);
      this.completion(op, ctx, err, len);
    }
    if (this.timed.size > 0) this.expire();
    return n;
  }

  // ---- internals ----

  private completion(op: Op, ctx: number, err: number, len: number): void {
    const qd = this.byConn.get(op.conn) ?? (op.kind === "recv-hello" ? this.listenerQd() : undefined);
    const q = qd === undefined ? undefined : this.queues.get(qd);
    if (q) q.posted.delete(ctx);
    switch (op.kind) {
      case "send-data":
      case "rma":
        this.dp.exports.bufRelease(op.buf);
        if (CONNECTION_ERRORS.has(err) && q && q.state === "connected") this.breakConn(q);
        this.complete(op.qt, err);
        return;
      case "send-ctrl":
        this.dp.exports.sgafree(op.buf);
        return;
      case "recv-data":
        if (err !== 0 || !q) { this.dp.exports.sgafree(op.buf); return; }
        q.rx.push({ buf: op.buf, len });
        this.postOneData(q);
        this.matchPops(q);
        return;
      case "recv-hello": {
        const buf = op.buf;
        if (err === 0 && q && len > 4) this.onHello(q, buf, len);
        this.dp.exports.sgafree(buf);
        if (err === 0 && q && q.state === "listening") this.postCtrl(q, HELLO_TAG, "recv-hello");
        return;
      }
      case "recv-ack":
        if (err === 0 && q && q.state === "connecting") {
          q.remote = new DataView(this.u8.buffer, op.buf, 4).getUint32(0, true);
          q.state = "connected";
          this.postCtrl(q, CTRL_BIT | BYE_BIT | q.local, "recv-bye");
          this.complete(q.connectQt, 0);
        }
        this.dp.exports.sgafree(op.buf);
        return;
      case "recv-bye":
        this.dp.exports.sgafree(op.buf);
        if (err === 0 && q) this.breakConn(q);
        return;
    }
  }

  private deadline(): number {
    return this.clock.now() + this.config.fabric.op_timeout_ms * 1e6;
  }

  /**
   * A send or RMA that outlives fabric.op_timeout_ms fails with ETIMEDOUT and breaks its
   * connection: libfabric's rxm retries a dead peer forever, and its errors for a dead peer and a
   * rejected key look alike. The operation keeps its context and buffer reference until the
   * provider really completes it, so a late completion never touches a reused buffer.
   */
  private expire(): void {
    const now = this.clock.now();
    if (now - this.lastTimeoutCheck < 1e6) return;
    this.lastTimeoutCheck = now;
    for (const [ctx, deadline] of this.timed) {
      if (deadline > now) break;
      this.timed.delete(ctx);
      const op = this.ops[ctx];
      if (op === undefined) continue;
      if (op.qt !== 0) this.complete(op.qt, ETIMEDOUT);
      const qd = this.byConn.get(op.conn);
      const q = qd === undefined ? undefined : this.queues.get(qd);
      if (q && q.state === "connected") this.breakConn(q);
    }
  }

  private onHello(l: Queue, buf: number, len: number): void {
    const remote = new DataView(this.u8.buffer, buf, 4).getUint32(0, true);
    const name = Buffer.from(this.u8.subarray(buf + 4, buf + len));
    const qd = this.socket();
    const q = this.queues.get(qd)!;
    q.fiAddr = this.nat.avInsert(this.h, name);
    q.local = this.nextConn++;
    q.remote = remote;
    q.state = "connected";
    this.byConn.set(q.local, qd);
    this.postData(q);
    this.postCtrl(q, CTRL_BIT | BYE_BIT | q.local, "recv-bye");
    const ack = Buffer.alloc(4);
    ack.writeUInt32LE(q.local, 0);
    this.sendCtrl(q, CTRL_BIT | ACK_BIT | remote, ack);
    l.backlog.push(qd);
    this.matchAccepts(l);
  }

  private breakConn(q: Queue): void {
    q.state = "broken";
    for (const qt of q.pops) this.complete(qt, ECONNRESET);
    q.pops = [];
  }

  private listenerQd(): number | undefined {
    for (const [qd, q] of this.queues) if (q.kind === "listener") return qd;
    return undefined;
  }

  private matchPops(q: Queue): void {
    while (q.pops.length > 0 && q.rx.length > 0) {
      const qt = q.pops.shift()!;
      const m = q.rx.shift()!;
      const p = this.pending.get(qt)!;
      p.buf = m.buf; p.len = m.len; p.addr = q.peer;
      this.complete(qt, 0);
    }
  }

  private matchAccepts(l: Queue): void {
    while (l.accepts.length > 0 && l.backlog.length > 0) {
      const qt = l.accepts.shift()!;
      const qd = l.backlog.shift()!;
      const p = this.pending.get(qt)!;
      p.newQd = qd;
      this.complete(qt, 0);
    }
  }

  private postData(q: Queue): void {
    for (let i = 0; i < this.config.fabric.recv_depth; i++) this.postOneData(q);
  }

  private postOneData(q: Queue): void {
    const size = this.config.fabric.message_bytes;
    const buf = this.dp.exports.sgaalloc(size);
    if (buf < 0) return;                              // pool empty: fewer receives posted
    const ctx = this.submit({ kind: "recv-data", qt: 0, conn: q.local, buf, len: size, deadline: Infinity },
      (c) => this.nat.recv(this.h, q.local, buf, size, c));
    if (ctx >= 0) q.posted.add(ctx);
  }

  private postCtrl(q: Queue, tag: number, kind: OpKind): void {
    const buf = this.dp.exports.sgaalloc(CTRL_BYTES);
    if (buf < 0) throw new DemiError(ENOMEM, "post");
    const ctx = this.submit({ kind, qt: 0, conn: q.local, buf, len: CTRL_BYTES, deadline: Infinity }, (c) => this.nat.recv(this.h, tag, buf, CTRL_BYTES, c));
    if (ctx >= 0) q.posted.add(ctx);
  }

  private sendCtrl(q: Queue, tag: number, payload: Buffer): void {
    const buf = this.dp.exports.sgaalloc(Math.max(1, payload.length));
    if (buf < 0) throw new DemiError(ENOMEM, "send");
    this.u8.set(payload, buf);
    this.submit({ kind: "send-ctrl", qt: 0, conn: q.local, buf, len: payload.length, deadline: this.deadline() },
      (c) => this.nat.send(this.h, q.fiAddr, tag, buf, payload.length, c));
  }

  /**
   * Starts a native operation under a fresh context. When the provider says EAGAIN (no credits,
   * or a connection still being set up) the start waits in a queue that poll() retries: a call
   * never spins, and operations to one peer keep their order.
   */
  private submit(op: Op, start: (ctx: number) => number): number {
    const ctx = this.freeCtx.pop();
    if (ctx === undefined) { this.fail(op, ENOMEM); return -1; }
    this.ops[ctx] = op;
    if (op.deadline !== Infinity) this.timed.set(ctx, op.deadline);
    if (this.deferred.length > 0) { this.deferred.push({ ctx, start }); return ctx; }
    this.start(ctx, start);
    return ctx;
  }

  /** Tries a start; false when it was deferred. */
  private start(ctx: number, start: (ctx: number) => number): boolean {
    const r = start(ctx);
    if (r === 0) return true;
    if (r === -EAGAIN) { this.deferred.push({ ctx, start }); return false; }
    const op = this.ops[ctx]!;
    this.ops[ctx] = undefined;
    this.timed.delete(ctx);
    this.freeCtx.push(ctx);
    this.fail(op, -r);
    return true;
  }

  private retryDeferred(): void {
    const d = this.deferred;
    this.deferred = [];
    for (let i = 0; i < d.length; i++) {
      if (this.ops[d[i].ctx] === undefined) continue;           // cancelled meanwhile
      if (!this.start(d[i].ctx, d[i].start)) { this.deferred.push(...d.slice(i + 1)); return; }
    }
  }

  private fail(op: Op, errno: number): void {
    if (op.kind === "send-data" || op.kind === "rma") { this.dp.exports.bufRelease(op.buf); this.complete(op.qt, errno); }
    else this.dp.exports.sgafree(op.buf);
  }

  private queue(qd: number, what: string): Queue {
    const q = this.queues.get(qd);
    if (!q) throw new DemiError(EBADF, what);
    return q;
  }

  private inRegion(sga: Sga): boolean {
    return sga.buf >= this.regionOff && sga.buf + sga.len <= this.regionOff + this.regionLen;
  }

  /** Closes the endpoint; every pending operation fails with ECANCELED. */
  shutdown(): void {
    for (const qd of [...this.queues.keys()]) this.close(qd);
    for (const [qt, p] of this.pending) if (!p.done) this.complete(qt, ECANCELED);
    if (this.h !== null) { this.nat.close(this.h); this.h = null; }
  }
}


// The PDPIX API for TypeScript applications (Demikernel's include/demi/*.h): sockets, queue
// operations that return qtokens, and wait/waitAny/waitNextN that run the datapath until an
// operation completes. Synchronous failures throw DemiError with a positive errno; asynchronous
// ones arrive as results with opcode FAILED and `ret` set, as demi_qresult_t reports them.
import { instantiate, readCounters, RES, RES_ADDR6, QT_INDEX_MASK, type Datapath, type DatapathExports } from "./abi.js";
import { AF_INET, AF_INET6 } from "./schema/layout.js";
import { loadConfig, parseIpv4, parseMac, formatIpv4, formatMac, datapathSettings, ConfigError, type Config } from "./config.js";
import { DemiError, EAGAIN, EINVAL, ENOMEM, ERRNO_NAMES } from "./errno.js";
import { parseIpv6, parseIpv6Prefix, formatIpv6 } from "./ipv6.js";
import { Rng, randomSeed } from "./rng.js";
import type { Clock } from "./clock.js";
import { Rings } from "./rings.js";
import type { Counters } from "./counters.js";
import { LoopbackLink } from "./backends/loopback.js";
import { DpdkLink } from "./backends/dpdk.js";
import type { Link } from "./link/link.js";
import { backendUnavailable } from "./backends/index.js";
import { WaitFamily } from "./waiting.js";

export { AF_INET, AF_INET6 } from "./schema/layout.js";
export { sockaddr, parseSockAddr, formatSockAddr } from "./sockaddr.js";
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;

import { Opcode, type SockAddr, type Sga, type QResult, type QResultBuffer } from "./results.js";
export { Opcode, newResultBuffer, type SockAddr, type Sga, type QResult, type QResultBuffer } from "./results.js";

/** TCP states in the numbering of assembly/net/tcp/tcb.ts (tcpInfo, tcpConnections). */
export const TCP_STATES = ["CLOSED", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT",
  "CLOSING", "LAST_ACK", "TIME_WAIT", "DONE"] as const;

/** SO_LINGER true: a zero linger timeout, so that close resets the connection (RST). */
export type SockOpt = "TCP_NODELAY" | "SO_KEEPALIVE" | "SO_LINGER";
const SOCKOPTS: Record<SockOpt, number> = { TCP_NODELAY: 1, SO_KEEPALIVE: 2, SO_LINGER: 4 };

export interface TcpInfo {
  state: string; mss: number; cwnd: number; ssthresh: number; srttUs: number; rtoUs: number;
  sendWindow: number; receiveWindow: number; unacked: number; retransmits: number; congestion: "cubic" | "newreno";
  /** The window our last ACK offered (the receive buffer's free space may be larger: RFC 9293 §3.8.6.2.2). */
  advertisedWindow: number;
  /** Segments retransmitted over the connection's life (Linux's tcpi_total_retrans). */
  totalRetransmits: number;
  /** Loss recoveries entered: fast retransmit on SACK/RACK or three duplicate ACKs. */
  fastRecoveries: number;
  /** Retransmission timeouts that fired with data outstanding (RFC 6298), the last resort. */
  rtoTimeouts: number;
  /** Tail loss probes sent (RFC 8985 §7). */
  tlpProbes: number;
  /** Segments RACK deemed lost (RFC 8985 §6.2). */
  rackLosses: number;
  /** Retransmissions the peer reported as duplicates with a D-SACK (RFC 2883). */
  spuriousRetransmits: number;
  /** Congestion responses undone as spurious (D-SACK, or Eifel timestamps, RFC 3522). */
  undos: number;
  /** D-SACK blocks we sent for duplicate segments. */
  dsacksSent: number;
  /** Bytes deemed lost now and not yet retransmitted (Linux's tcpi_lost, in bytes). */
  lostBytes: number;
  /** The smallest RTT measured (RACK's min_RTT), µs. */
  minRttUs: number;
  /** Bytes in flight by RFC 6675's reckoning: sent, neither acknowledged, SACKed nor lost. */
  pipe: number;
  /** Bytes queued and not yet sent (Linux's tcpi_notsent_bytes). */
  notSent: number;
  /** In fast recovery (RFC 6675, RFC 6937). */
  inRecovery: boolean;
  /** Buffer memory the connection holds now: its send ring and segment log, its receive ring (0 when empty). */
  sendBufferBytes: number; receiveBufferBytes: number;
}

export interface LibOSOptions {
  config?: Config;
  /** The link to join; by default the config's: the process-wide loopback link named by
   *  link.name, or a DPDK port (dpdk.device). */
  link?: Link;
  clock?: Clock;
  /** Load the debug build of the datapath (assertions on). */
  debug?: boolean;
  /** Count calls into the datapath (`crossings()`); slower, for tests and bench udp's count. */
  countCrossings?: boolean;
}

/**
 * An IPv6 address (16 bytes) from one view to another, once per datagram: unrolled, it costs a
 * third of what TypedArray.prototype.set does for so few bytes (measured on V8 12: 7 vs 22 ns).
 */
function copy16(d: Uint8Array, s: Uint8Array): void {
  d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; d[3] = s[3]; d[4] = s[4]; d[5] = s[5]; d[6] = s[6]; d[7] = s[7];
  d[8] = s[8]; d[9] = s[9]; d[10] = s[10]; d[11] = s[11]; d[12] = s[12]; d[13] = s[13]; d[14] = s[14]; d[15] = s[15];
}

export class LibOS extends WaitFamily {
  readonly config: Config;
  readonly dp: Datapath;
  readonly rings: Rings;
  readonly link: Link;
  readonly clock: Clock;
  readonly seed: number;
  /** The datapath's memory as bytes: sga.buf indexes it. */
  readonly u8: Uint8Array;
  readonly mac: [number, number];
  readonly ip: number;
  /** Called by every queue operation, so that an event-loop driver knows to turn the datapath. */
  onActivity: (() => void) | null = null;
  private readonly x: DatapathExports;
  private readonly res: Int32Array;
  private readonly resBase: number;
  private readonly scratch: number;
  // The IPv6 address fields of the scratch area (an argument) and of the result block, viewed
  // once: a datagram's address moves without a new view each time.
  private readonly scratch6: Uint8Array;
  private readonly res6: Uint8Array;

  constructor(opts: LibOSOptions = {}) {
    super();
    const config = opts.config ?? loadConfig();
    this.config = config;
    if (config.backend !== "loopback" && config.backend !== "dpdk") throw new Error(backendUnavailable(config.backend));
    this.seed = config.seed ?? randomSeed();
    const rng = new Rng(this.seed);
    this.dp = instantiate(config.memory_mb * 16, () => rng.u32(), opts.debug, opts.countCrossings);
    this.x = this.dp.exports;
    this.u8 = this.dp.u8;
    this.ip = parseIpv4(config.local_ipv4)!;
    this.mac = parseMac(config.mac)!;
    this.configure(config);
    this.rings = new Rings(this.dp);
    this.resBase = this.x.resultPtr();
    this.scratch = this.x.scratchPtr();
    this.scratch6 = this.u8.subarray(this.scratch, this.scratch + 16);
    this.res6 = this.u8.subarray(this.resBase + RES_ADDR6, this.resBase + RES_ADDR6 + 16);
    this.res = new Int32Array(this.dp.memory.buffer, this.resBase, RES.WORDS);
    this.link = opts.link ?? (config.backend === "dpdk" ? new DpdkLink(config, opts.clock)
      : LoopbackLink.named(config.link.name, config.link, opts.clock));
    this.clock = this.link.clock;
    this.link.attach(this);
    // Timers started before the next link turn count from now, not from time zero.
    this.x.poll(this.clock.now());
  }

  private configure(c: Config): void {
    const set = (k: number, v: number, key: string) => {
      if (this.x.configure(k, v) !== 0) throw new ConfigError(key, `value ${v} refused by the datapath`);
    };
    for (const [id, value, key] of datapathSettings(c)) set(id, value, key);
    const r = this.x.init();
    if (r === ENOMEM) {
      throw new ConfigError("memory_mb", `${c.memory_mb} MiB cannot hold ${c.pool.small_buffers} frame buffers (${this.x.frameSlotBytes()} bytes each at mtu ${c.mtu}) and ${c.pool.large_buffers} large ones, ${c.tcp.max_connections ?? "the"} TCP connections and a TCP buffer of ${c.tcp.buffer_bytes} bytes; raise memory_mb or lower them`);
    }
    if (r !== 0) throw new ConfigError("mtu", `the datapath refused its configuration (errno ${r})`);
    for (const [ip, mac] of Object.entries(c.arp.table)) {
      const [hi, lo] = parseMac(mac)!;
      if (this.x.arpAddStatic(parseIpv4(ip)!, hi, lo) !== 0) throw new ConfigError("arp.table", "more static entries than the ARP cache holds");
    }
    const scratch = this.x.scratchPtr();
    for (const a of c.local_ipv6) {
      const { addr, prefix } = parseIpv6Prefix(a)!;
      this.u8.set(addr, scratch);
      const r6 = this.x.addr6Add(scratch, prefix);
      if (r6 !== 0) throw new ConfigError("local_ipv6", `${a} refused by the datapath (${ERRNO_NAMES[r6] ?? r6})`);
    }
    for (const [ip, mac] of Object.entries(c.ndp.table)) {
      const [hi, lo] = parseMac(mac)!;
      this.u8.set(parseIpv6(ip)!, scratch);
      if (this.x.ndpAddStatic(scratch, hi, lo) !== 0) throw new ConfigError("ndp.table", "more static entries than the neighbor cache holds");
    }
  }

  // ---- sockets ----

  socket(domain = AF_INET, type = SOCK_DGRAM, protocol = 0): number {
    this.onActivity?.();
    return this.check(this.x.socket(domain, type, protocol), "socket");
  }

  bind(qd: number, local: SockAddr): void {
    if (local.addr6 !== undefined) this.status(this.x.bind6(qd, this.address6(local.addr6), local.port), "bind");
    else this.status(this.x.bind(qd, local.addr, local.port), "bind");
  }

  listen(qd: number, backlog = 16): void {
    this.status(this.x.listen(qd, backlog), "listen");
  }

  accept(qd: number): number {
    this.onActivity?.();
    return this.check(this.x.accept(qd), "accept");
  }

  /** TCP: starts the handshake. UDP: sets the default peer at once; { addr: 0, port: 0 } dissolves it. */
  connect(qd: number, remote: SockAddr): number {
    this.onActivity?.();
    if (remote.addr6 !== undefined) return this.check(this.x.connect6(qd, this.address6(remote.addr6), remote.port), "connect");
    return this.check(this.x.connect(qd, remote.addr, remote.port), "connect");
  }

  close(qd: number): void {
    this.onActivity?.();
    this.status(this.x.close(qd), "close");
  }

  /** shutdown(SHUT_WR) of a stream: a FIN after the data pushed so far; pops go on to end of stream. */
  shutdownWrite(qd: number): void {
    this.onActivity?.();
    this.status(this.x.shutdown(qd), "shutdownWrite");
  }

  pushto(qd: number, sga: Sga, to: SockAddr): number {
    this.onActivity?.();
    if (to.addr6 !== undefined) return this.check(this.x.pushto6(qd, sga.buf, sga.len, this.address6(to.addr6), to.port), "pushto");
    return this.check(this.x.pushto(qd, sga.buf, sga.len, to.addr, to.port), "pushto");
  }

  /** An IPv6 address into the scratch area, where the datapath's IPv6 calls read it. */
  private address6(a: Uint8Array): number {
    if (a.length !== 16) throw new DemiError(EINVAL, "IPv6 address of 16 bytes");
    copy16(this.scratch6, a);
    return this.scratch;
  }

  /** The address take() or sockname() left in the result block: a fresh SockAddr. */
  private address(): SockAddr {
    const a: SockAddr = { addr: 0, port: 0 };
    this.addressInto(a);
    return a;
  }

  /** The same into a caller's SockAddr, reusing its 16 bytes when it has them (waitInto). */
  private addressInto(out: SockAddr): void {
    const res = this.res;
    out.port = res[RES.PORT];
    if (res[RES.FAMILY] === AF_INET6) {
      out.addr = 0;
      const a = out.addr6 ?? new Uint8Array(16);
      copy16(a, this.res6);
      out.addr6 = a;
    } else {
      out.addr = res[RES.ADDR] >>> 0;
      if (out.addr6 !== undefined) out.addr6 = undefined;
    }
  }


  /** Push on a connected socket. */
  push(qd: number, sga: Sga): number {
    this.onActivity?.();
    return this.check(this.x.pushto(qd, sga.buf, sga.len, 0, 0), "push");
  }

  pop(qd: number): number {
    this.onActivity?.();
    return this.check(this.x.pop(qd), "pop");
  }

  /**
   * Cancels qt: a pending pop or accept will take nothing (no data is lost to it), a pending push
   * stops (bytes already in the send buffer go out), a connect goes on without its qtoken. A
   * completed result that was never taken is released with what it held (the popped buffer, the
   * accepted socket). EINVAL for a stale or foreign qtoken.
   */
  cancel(qt: number): void {
    this.status(this.x.cancel(qt), "cancel");
  }

  /**
   * demi_setsockopt for stream sockets: TCP_NODELAY (on by default: Nagle is off until set to
   * false) and SO_KEEPALIVE (probes after tcp.keepalive_idle_ms). Set before connect or listen,
   * or on an open connection; accepted connections inherit the listener's options.
   */
  setsockopt(qd: number, opt: SockOpt, value: boolean): void {
    this.status(this.x.setsockopt(qd, SOCKOPTS[opt] ?? 0, value ? 1 : 0), "setsockopt");
  }

  getsockopt(qd: number, opt: SockOpt): boolean {
    return this.check(this.x.getsockopt(qd, SOCKOPTS[opt] ?? 0), "getsockopt") === 1;
  }

  getsockname(qd: number): SockAddr {
    this.status(this.x.sockname(qd, 0), "getsockname");
    return this.address();
  }

  getpeername(qd: number): SockAddr {
    this.status(this.x.sockname(qd, 1), "getpeername");
    return this.address();
  }

  // ---- buffers ----

  sgaalloc(size: number): Sga {
    if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) throw new DemiError(EINVAL, "sgaalloc");
    return { buf: this.check(this.x.sgaalloc(size), "sgaalloc"), len: size };
  }

  sgafree(sga: Sga): void {
    this.status(this.x.sgafree(sga.buf), "sgafree");
  }

  /** A view of an sga's bytes (no copy). */
  bytes(sga: Sga): Uint8Array {
    return this.u8.subarray(sga.buf, sga.buf + sga.len);
  }

  // ---- waiting ----

  /** The result if qt has completed (consuming qt), else null; never runs the datapath. */
  tryWait(qt: number): QResult | null {
    const r = this.x.take(qt);
    if (r === 0) return this.result();
    if (r === EAGAIN) return null;
    throw new DemiError(r, "wait");
  }

  /**
   * As tryWait, but fills a result the caller owns, as demi_wait fills a demi_qresult_t: a hot
   * loop allocates nothing. `out.sga` and `out.addr` are overwritten in place for POP and ACCEPT
   * (copy them before the next call if they must outlive it); true when qt had completed.
   */
  tryWaitInto(out: QResultBuffer, qt: number): boolean {
    const r = this.x.take(qt);
    if (r === EAGAIN) return false;
    if (r !== 0) throw new DemiError(r, "wait");
    const res = this.res;
    out.opcode = res[RES.OPCODE] as Opcode;
    out.qd = res[RES.QD];
    out.qt = res[RES.QT] >>> 0;
    out.ret = res[RES.RET];
    out.sga.buf = res[RES.SGA_BUF] >>> 0;
    out.sga.len = res[RES.SGA_LEN] >>> 0;
    this.addressInto(out.addr);
    out.acceptedQd = res[RES.NEWQD];
    return true;
  }

  /** Completed already? (no datapath turn) */
  isDone(qt: number): boolean {
    const d = this.x.done(qt);
    if (d < 0) throw new DemiError(-d, "isDone");
    return d === 1;
  }

  /**
   * Hands every completed qtoken not yet taken to `fn`, lowest table index first, until `fn`
   * returns false (an event-loop driver takes the ones it watches; a later call reports the others
   * again). Returns how many it handed over.
   */
  drainDone(fn: (qt: number) => boolean | void): number {
    let from = 0, n = 0;
    for (;;) {
      const qt = this.x.nextDone(from);
      if (qt < 0) return n;
      from = (qt & QT_INDEX_MASK) + 1;              // the table index: the qtoken's low bits
      n++;
      if (fn(qt >>> 0) === false) return n;
    }
  }

  protected eachDone(fn: (qt: number) => boolean): void { this.drainDone(fn); }

  /** Brings the datapath's clock to now between turns (see the export advanceClock): the
   *  event-loop driver calls it when an application call wakes it from a sleep. */
  syncClock(): void { this.x.advanceClock(this.clock.now()); }

  /** The earliest time (ns) anything on this backend is due, Infinity when nothing is. */
  nextEvent(): number { return this.link.nextEvent(); }

  /** One turn of the backend (every stack on this link). Returns the work done. */
  poll(): number {
    return this.link.poll();
  }

  /** The result block take() just filled, as a QResult (always the same shape, for V8). */
  private result(): QResult {
    const res = this.res;
    const opcode = res[RES.OPCODE] as Opcode;
    const pop = opcode === Opcode.POP;
    const accept = opcode === Opcode.ACCEPT;
    return {
      opcode, qd: res[RES.QD], qt: res[RES.QT] >>> 0, ret: res[RES.RET],
      sga: pop ? { buf: res[RES.SGA_BUF] >>> 0, len: res[RES.SGA_LEN] >>> 0 } : undefined,
      addr: pop || accept ? this.address() : undefined,
      acceptedQd: accept ? res[RES.NEWQD] : undefined,
    };
  }

  private check(v: number, what: string): number {
    if (v < 0) throw new DemiError(-v, what);
    return v;
  }

  private status(r: number, what: string): void {
    if (r !== 0) throw new DemiError(r, what);
  }

  // ---- introspection ----

  counters(): Counters { return readCounters(this.dp); }

  /** Calls into the datapath so far (the link's polls of it included); needs countCrossings. */
  crossings(): number {
    if (this.dp.crossings === null) throw new Error("demiwasm: crossings() needs a LibOS made with countCrossings: true");
    return this.dp.crossings.calls;
  }

  /** TCP_INFO of a stream socket: the connection's state, windows, RTT and congestion control. */
  tcpInfo(qd: number): TcpInfo {
    this.status(this.x.tcpInfo(qd), "tcpInfo");
    const u = new Uint32Array(this.dp.memory.buffer, this.x.scratchPtr(), 27);
    return { state: TCP_STATES[u[0]], mss: u[1], cwnd: u[2], ssthresh: u[3], srttUs: u[4], rtoUs: u[5], sendWindow: u[6],
             receiveWindow: u[7], unacked: u[8], retransmits: u[9], congestion: u[10] === 1 ? "newreno" : "cubic",
             advertisedWindow: u[11], totalRetransmits: u[12], fastRecoveries: u[13], rtoTimeouts: u[14], tlpProbes: u[15],
             rackLosses: u[16], spuriousRetransmits: u[17], undos: u[18], dsacksSent: u[19], lostBytes: u[20], minRttUs: u[21],
             pipe: u[22], notSent: u[23], inRecovery: u[24] === 1, sendBufferBytes: u[25], receiveBufferBytes: u[26] };
  }

  /** Buffers that nobody holds (free, or empty in the fill ring), and the pool's size. */
  poolAvailable(): number { return this.x.poolAvailable(); }
  poolSize(): number { return this.x.poolSize(); }
  /** The region later backends register with DPDK and libfabric. */
  poolRegion(): { base: number; bytes: number } {
    return { base: this.x.poolRegionBase(), bytes: this.x.poolRegionBytes() };
  }
  heapTop(): number { return this.x.heapTop(); }

  arpTable(): { ip: string; mac: string; state: "pending" | "resolved" | "static" }[] {
    const n = this.x.arpDump(256);
    const base = this.x.scratchPtr() >>> 2;
    const u32 = this.dp.u32;
    const states = ["free", "pending", "resolved", "static"] as const;
    const out = [];
    for (let i = 0; i < n; i++) {
      const r = base + i * 4;
      out.push({ ip: formatIpv4(u32[r]), mac: formatMac(u32[r + 1], u32[r + 2]), state: states[u32[r + 3]] as "pending" | "resolved" | "static" });
    }
    return out;
  }

  /** Our IPv6 addresses ("addr/prefix"), the link-local one (from the MAC) first, each with its
   *  duplicate address detection state (RFC 4862 §5.4): used only once "preferred". */
  addresses6(): { address: string; state: "tentative" | "preferred" | "duplicate" }[] {
    const n = this.x.addr6Dump();
    const dv = new DataView(this.dp.memory.buffer, this.x.scratchPtr(), n * 24);
    const states = ["tentative", "preferred", "duplicate"] as const;
    return Array.from({ length: n }, (_, i) => ({
      address: `${formatIpv6(addrAt(dv, i * 24))}/${dv.getUint32(i * 24 + 16, true)}`, state: states[dv.getUint8(i * 24 + 20)],
    }));
  }

  /** The IPv6 neighbor cache (RFC 4861 §7.3.2 states). */
  neighbors6(): { ip: string; mac: string; state: NeighborState }[] {
    const n = this.x.ndpDump(128);
    const dv = new DataView(this.dp.memory.buffer, this.x.scratchPtr(), n * 32);
    const states = ["free", "incomplete", "reachable", "stale", "delay", "probe", "static"] as const;
    return Array.from({ length: n }, (_, i) => ({
      ip: formatIpv6(addrAt(dv, i * 32)), mac: formatMac(dv.getUint32(i * 32 + 16, true), dv.getUint32(i * 32 + 20, true)),
      state: states[dv.getUint32(i * 32 + 24, true)] as NeighborState,
    }));
  }

  /** Ends this datapath: it leaves its link (a DPDK port it opened is closed). The instance must
   *  not be used afterwards. */
  shutdown(): void { this.link.detach(this); }
}

export type NeighborState = "incomplete" | "reachable" | "stale" | "delay" | "probe" | "static";

/** The address a dump row holds as two native u64 halves (each the address's bytes as a big-endian number). */
function addrAt(dv: DataView, at: number): Uint8Array {
  const b = new Uint8Array(16), o = new DataView(b.buffer);
  o.setBigUint64(0, dv.getBigUint64(at, true));
  o.setBigUint64(8, dv.getBigUint64(at + 8, true));
  return b;
}

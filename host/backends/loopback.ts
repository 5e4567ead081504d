// The in-memory link: several datapaths in one process joined like hosts on one Ethernet
// segment. A physical backend in the sense of DESIGN.md principle 5: it moves frames between
// descriptor rings and never looks past the destination MAC. A seeded fault injector can lose,
// reorder, duplicate, corrupt and delay frames; its seed is printed so a run can be replayed.
import { openSync, writeSync, closeSync } from "node:fs";
import { Rng, randomSeed } from "../rng.js";
import { pcapHeader, pcapRecord } from "../pcap.js";
import { RealClock, type Clock } from "../clock.js";
import { RING } from "../rings.js";

const { PROD, CONS, MASK, ENTRIES, SHIFT } = RING;
import type { Link, LinkNode } from "../link.js";
import type { Chain } from "../nf/chain.js";
import { newBatch, Verdict, MAX_BURST, type FrameBatch } from "../nf/abi.js";

export interface LinkFaults {
  loss: number;        // probability a frame is lost
  reorder: number;     // probability a frame is held back behind the next one
  duplicate: number;   // probability a frame is delivered twice
  corrupt: number;     // probability one bit of a frame is flipped
  delay_ms: number;    // frames are delayed uniformly in [0, delay_ms]
  seed: number | null;
}

export interface LinkStats {
  delivered: number; lost: number; reordered: number; duplicated: number; corrupted: number;
  delayed: number; noDestination: number; rxNoBuffer: number; rxRingFull: number;
}


/**
 * A scripted host on the link: it sends frames it built itself and keeps every frame addressed to
 * it (or broadcast). Tests use it to speak to a stack byte by byte; a pcap replay uses it too.
 */
export class RawPort {
  readonly frames: Uint8Array[] = [];
  constructor(private readonly link: LoopbackLink, readonly mac: [number, number]) {}
  /** Puts a frame on the wire now; the stack sees it on its next poll. */
  send(frame: Uint8Array): void { this.link.sendRaw(this, frame); }
  /** Removes and returns what arrived so far. */
  take(): Uint8Array[] { return this.frames.splice(0, this.frames.length); }
}

type Endpoint = LinkNode | RawPort;

/**
 * The link's view of one endpoint. For a stack it caches the ring offsets and, during a burst,
 * the receive side's indices: read once by begin(), published once by commit().
 */
class Station {
  readonly macHi: number;
  readonly macLo: number;
  readonly raw: RawPort | null;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  /** The MAC as the first frame word and the low half of the second, read little-endian. */
  readonly macW0: number;
  readonly macW1: number;
  readonly fill: number; readonly rx: number; readonly tx: number; readonly comp: number;
  fillMask = 0; rxMask = 0;
  open = false;
  fillCons = 0; fillLeft = 0; rxProd = 0; rxLeft = 0;

  constructor(readonly endpoint: Endpoint) {
    [this.macHi, this.macLo] = endpoint.mac;
    const m = new Uint8Array(8);
    new DataView(m.buffer).setUint16(0, this.macHi);
    new DataView(m.buffer).setUint32(2, this.macLo);
    this.macW0 = new Int32Array(m.buffer)[0];
    this.macW1 = new Int32Array(m.buffer)[1] & 0xffff;
    if (endpoint instanceof RawPort) {
      this.raw = endpoint;
      this.u8 = new Uint8Array(0); this.i32 = new Int32Array(0); this.f64 = new Float64Array(0); this.u32 = new Uint32Array(0);
      this.fill = this.rx = this.tx = this.comp = 0;
    } else {
      this.raw = null;
      this.u8 = endpoint.dp.u8; this.i32 = endpoint.dp.i32;
      this.f64 = new Float64Array(endpoint.dp.memory.buffer);
      const r = endpoint.rings;
      this.u32 = r.u32; this.fill = r.fill; this.rx = r.rx; this.tx = r.tx; this.comp = r.comp;
    }
  }

  begin(): void {
    const u32 = this.u32;
    this.fillMask = u32[this.fill + MASK];
    this.rxMask = u32[this.rx + MASK];
    this.fillCons = u32[this.fill + CONS];
    this.fillLeft = (u32[this.fill + PROD] - this.fillCons) >>> 0;
    this.rxProd = u32[this.rx + PROD];
    this.rxLeft = this.rxMask + 1 - ((this.rxProd - u32[this.rx + CONS]) >>> 0);
    this.open = true;
  }

  commit(): void {
    this.u32[this.fill + CONS] = this.fillCons;
    this.u32[this.rx + PROD] = this.rxProd;
    this.open = false;
  }
}

interface Held { bytes: Uint8Array; due: number; src: Station }

const NO_FAULTS: LinkFaults = { loss: 0, reorder: 0, duplicate: 0, corrupt: 0, delay_ms: 0, seed: null };
const links = new Map<string, LoopbackLink>();

export class LoopbackLink implements Link {
  readonly clock: Clock;
  readonly seed: number;
  readonly faults: LinkFaults;
  readonly stats: LinkStats = {
    delivered: 0, lost: 0, reordered: 0, duplicated: 0, corrupted: 0, delayed: 0,
    noDestination: 0, rxNoBuffer: 0, rxRingFull: 0,
  };
  private readonly nodes: LinkNode[] = [];
  private readonly stations: Station[] = [];
  private readonly byMac = new Map<number, Station>();
  private readonly touched: Station[] = [];
  private readonly rng: Rng;
  private readonly faulty: boolean;
  private lastDst: Station | null = null;
  private pcap: { fd: number; pending: Uint8Array[]; bytes: number } | null = null;
  private held: Held[] = [];          // reordered: delivered on the next turn
  private readonly chains = new Map<Station, { in?: Chain; out?: Chain }>();
  private readonly batch: FrameBatch = newBatch(new Uint8Array(0));
  private readonly groupBatch: FrameBatch = newBatch(new Uint8Array(0));
  private delayed: Held[] = [];       // delayed: delivered when due (kept sorted by due time)

  constructor(faults: Partial<LinkFaults> = {}, clock: Clock = new RealClock(), quiet = false) {
    this.faults = { ...NO_FAULTS, ...faults };
    this.clock = clock;
    this.seed = this.faults.seed ?? randomSeed();
    this.rng = new Rng(this.seed);
    const f = this.faults;
    this.faulty = f.loss > 0 || f.reorder > 0 || f.duplicate > 0 || f.corrupt > 0 || f.delay_ms > 0;
    if (this.faulty && !quiet) {
      process.stderr.write(`demiwasm: loopback link faults ${JSON.stringify({ ...f, seed: this.seed })} ` +
        `(replay with DEMIWASM_LINK_SEED=${this.seed})\n`);
    }
  }

  /** The process-wide link of that name, created on first use. */
  static named(name: string, faults: Partial<LinkFaults>, clock?: Clock): LoopbackLink {
    let l = links.get(name);
    if (!l) { l = new LoopbackLink(faults, clock); links.set(name, l); }
    return l;
  }

  attach(node: LinkNode): void {
    this.addEndpoint(node);
    this.nodes.push(node);
  }

  /** A scripted host with this MAC. */
  attachRaw(mac: [number, number]): RawPort {
    const p = new RawPort(this, mac);
    this.addEndpoint(p);
    return p;
  }

  private addEndpoint(e: Endpoint): void {
    const key = macKey(e.mac[0], e.mac[1]);
    if (this.byMac.has(key)) throw new Error(`demiwasm: loopback link already has a host with MAC ${e.mac}`);
    const st = new Station(e);
    this.stations.push(st);
    this.byMac.set(key, st);
  }

  private stationOf(e: Endpoint): Station | undefined {
    return this.byMac.get(macKey(e.mac[0], e.mac[1]));
  }

  detach(e: Endpoint): void {
    const i = this.nodes.indexOf(e as LinkNode);
    if (i >= 0) this.nodes.splice(i, 1);
    const st = this.stationOf(e);
    if (st) this.stations.splice(this.stations.indexOf(st), 1);
    this.byMac.delete(macKey(e.mac[0], e.mac[1]));
    this.lastDst = null;
    for (const [name, l] of links) if (l === this && this.stations.length === 0) links.delete(name);
  }

  /**
   * Writes every frame that crosses the link to a classic pcap file (what the wire carried, once
   * per transmission, before any injected fault), readable by tshark and Wireshark.
   */
  capture(path: string): void {
    this.stopCapture();
    const fd = openSync(path, "w");
    writeSync(fd, pcapHeader());
    this.pcap = { fd, pending: [], bytes: 0 };
  }

  /** Flushes and closes the capture file. */
  stopCapture(): void {
    if (this.pcap === null) return;
    this.flushCapture();
    closeSync(this.pcap.fd);
    this.pcap = null;
  }

  private record(u8: Uint8Array, off: number, len: number): void {
    const c = this.pcap!;
    const r = pcapRecord(this.clock.now(), u8.subarray(off, off + len));
    c.pending.push(r);
    c.bytes += r.length;
    if (c.bytes > 1 << 20) this.flushCapture();
  }

  private flushCapture(): void {
    const c = this.pcap!;
    for (const r of c.pending) writeSync(c.fd, r);
    c.pending = [];
    c.bytes = 0;
  }

  /** A frame from a scripted host, through the same faults as any other. */
  sendRaw(from: RawPort, frame: Uint8Array): void {
    const st = this.stationOf(from)!;
    if (this.pcap !== null) this.record(frame, 0, frame.length);
    if (this.faulty) this.transmitFaulty(st, frame, 0, frame.length, this.clock.now());
    else this.route(st, frame, 0, frame.length);
    this.commitAll();
  }

  /**
   * One turn: move every frame waiting in a TX ring to its destination's RX ring, then let every
   * stack poll once. Returns the work done (0 when the whole segment is idle).
   */
  poll(): number {
    const now = this.clock.now();
    let work = 0;
    if (this.held.length > 0 || this.delayed.length > 0) work += this.releaseHeld(now);
    for (let n = 0; n < this.nodes.length; n++) work += this.drain(this.nodes[n], now);
    for (let n = 0; n < this.nodes.length; n++) work += this.nodes[n].dp.exports.poll(now);
    return work;
  }

  /** The earliest time something is due on this segment (a stack's timer, a delayed frame). */
  nextEvent(): number {
    let t = Infinity;
    for (const n of this.nodes) {
      const d = n.dp.exports.nextDeadline();
      if (d >= 0 && d < t) t = d;
    }
    if (this.delayed.length > 0 && this.delayed[0].due < t) t = this.delayed[0].due;
    if (this.held.length > 0) t = Math.min(t, this.clock.now());
    return t;
  }

  /**
   * Puts an NF chain on a host's port: "out" sees the frames it sends, "in" the unicast frames
   * sent to it (broadcasts reach every host unfiltered). A chain's port numbers are the hosts'
   * places on the link (attach order), for REDIRECT. null takes the chain off.
   */
  attachChain(e: Endpoint, dir: "in" | "out", chain: Chain | null): void {
    const st = this.stationOf(e);
    if (!st) throw new Error("demiwasm: that host is not on this link");
    const c = this.chains.get(st) ?? {};
    if (chain === null) delete c[dir];
    else c[dir] = chain;
    this.chains.set(st, c);
  }

  /** The hosts on this link in port order (REDIRECT's argument indexes it). */
  get ports(): number { return this.stations.length; }

  private drain(src: LinkNode, now: number): number {
    const st = this.stationOf(src)!;
    const u32 = st.u32;
    const tx = st.tx, comp = st.comp;
    const txCons = u32[tx + CONS];
    const compProd = u32[comp + PROD];
    const n = Math.min((u32[tx + PROD] - txCons) >>> 0, u32[comp + MASK] + 1 - ((compProd - u32[comp + CONS]) >>> 0));
    if (n === 0) return 0;
    if (this.chains.size > 0) return this.drainThroughChains(st, n, now);
    const u8 = st.u8, i32 = st.i32;
    const txMask = u32[tx + MASK], compMask = u32[comp + MASK];
    for (let i = 0; i < n; i++) {
      const e = tx + ENTRIES + (((txCons + i) & txMask) << SHIFT);
      const off = u32[e];
      const len = u32[e + 1];
      if (this.pcap !== null) this.record(u8, off, len);
      const last = this.lastDst;
      if (this.faulty) this.transmitFaulty(st, u8, off, len, now);
      // Fast path: an aligned frame for the same station as the last one.
      else if (last !== null && last !== st && (off & 7) === 0 && len >= 14 && i32[off >> 2] === last.macW0
               && (i32[(off >> 2) + 1] & 0xffff) === last.macW1) this.deliver(last, st, off, len);
      else this.route(st, u8, off, len);
      // The frame has left: its slot goes back to its stack.
      u32[comp + ENTRIES + (((compProd + i) & compMask) << SHIFT)] = off;
    }
    u32[tx + CONS] = txCons + n;
    u32[comp + PROD] = compProd + n;
    this.commitAll();
    return n;
  }

  /** drain() when NF chains are attached: bursts of up to 32 frames through the sender's out
   *  chain, then each receiver's in chain, then their verdicts. */
  private drainThroughChains(st: Station, n: number, now: number): number {
    const u32 = st.u32, u8 = st.u8;
    const tx = st.tx, comp = st.comp;
    const txCons = u32[tx + CONS], compProd = u32[comp + PROD];
    const txMask = u32[tx + MASK], compMask = u32[comp + MASK];
    const out = this.chains.get(st)?.out;
    const b = this.batch;
    b.mem = u8;
    for (let first = 0; first < n; first += MAX_BURST) {
      const k = Math.min(MAX_BURST, n - first);
      for (let i = 0; i < k; i++) {
        const e = tx + ENTRIES + (((txCons + first + i) & txMask) << SHIFT);
        b.off[i] = u32[e]; b.len[i] = u32[e + 1]; b.cap[i] = u32[e + 1];
        if (this.pcap !== null) this.record(u8, b.off[i], b.len[i]);
      }
      b.count = k;
      if (out) out.run(b); else b.verdict.fill(Verdict.PASS, 0, k);
      // Unicast frames for a host with an in chain wait for a burst of their own.
      const groups = new Map<Station, number[]>();
      for (let i = 0; i < k; i++) {
        const dst = b.verdict[i] === Verdict.PASS ? this.unicastDestination(u8, b.off[i], b.len[i]) : null;
        if (dst !== null && dst !== st && this.chains.get(dst)?.in) {
          const g = groups.get(dst);
          if (g) g.push(i); else groups.set(dst, [i]);
          continue;
        }
        this.applyVerdict(st, st, b.verdict[i], b.arg[i], b.off[i], b.len[i], now);
      }
      for (const [dst, idx] of groups) {
        const g = this.groupBatch;
        g.mem = u8;
        idx.forEach((i, j) => { g.off[j] = b.off[i]; g.len[j] = b.len[i]; g.cap[j] = b.len[i]; });
        g.count = idx.length;
        this.chains.get(dst)!.in!.run(g);
        for (let j = 0; j < g.count; j++) {
          if (g.verdict[j] === Verdict.PASS) this.deliver(dst, st, g.off[j], g.len[j]);
          else this.applyVerdict(st, dst, g.verdict[j], g.arg[j], g.off[j], g.len[j], now);
        }
      }
    }
    for (let i = 0; i < n; i++) u32[comp + ENTRIES + (((compProd + i) & compMask) << SHIFT)] = u32[tx + ENTRIES + (((txCons + i) & txMask) << SHIFT)];
    u32[tx + CONS] = txCons + n;
    u32[comp + PROD] = compProd + n;
    this.commitAll();
    return n;
  }

  /** What a chain's verdict does with a frame that `from` sent and `at` (its chain's host) saw. */
  private applyVerdict(from: Station, at: Station, v: number, arg: number, off: number, len: number, now: number): void {
    if (v === Verdict.PASS) {
      if (this.faulty) this.transmitFaulty(from, from.u8, off, len, now);
      else this.route(from, from.u8, off, len);
    } else if (v === Verdict.TX) {
      // Back out the port it came in on: onto the segment from the chain's host, switched by the
      // frame's (perhaps rewritten) destination MAC — a one-armed load balancer's path.
      this.route(at, from.u8, off, len);
    } else if (v === Verdict.REDIRECT) {
      const to = this.stations[arg];
      if (to) this.deliver(to, from, off, len); else this.stats.noDestination++;
    }
  }

  private unicastDestination(u8: Uint8Array, off: number, len: number): Station | null {
    if (len < 6 || (u8[off] & 1) !== 0) return null;
    const hi = (u8[off] << 8) | u8[off + 1];
    const lo = ((u8[off + 2] << 24) | (u8[off + 3] << 16) | (u8[off + 4] << 8) | u8[off + 5]) >>> 0;
    return this.byMac.get(macKey(hi, lo)) ?? null;
  }

  private route(src: Station, u8: Uint8Array, off: number, len: number): void {
    if (len < 6) { this.stats.noDestination++; return; }
    const hi = (u8[off] << 8) | u8[off + 1];
    const lo = ((u8[off + 2] << 24) | (u8[off + 3] << 16) | (u8[off + 4] << 8) | u8[off + 5]) >>> 0;
    if (hi === 0xffff && lo === 0xffffffff) {
      for (const s of this.stations) if (s !== src) this.deliverBytes(s, src, u8, off, len);
      return;
    }
    // Most frames go where the previous one went: skip the map (its keys are not small integers).
    let dst = this.lastDst;
    if (dst === null || dst.macLo !== lo || dst.macHi !== hi) {
      dst = this.byMac.get(macKey(hi, lo)) ?? null;
      if (dst === null) { this.stats.noDestination++; return; }
      this.lastDst = dst;
    }
    // A switch never sends a frame back out of the port it came in on.
    if (dst === src) { this.stats.noDestination++; return; }
    this.deliverBytes(dst, src, u8, off, len);
  }

  /** Delivers from a station's memory (word copies when aligned) or from a copy held aside. */
  private deliverBytes(dst: Station, src: Station, u8: Uint8Array, off: number, len: number): void {
    if (u8 === src.u8) this.deliver(dst, src, off, len);
    else this.deliverCopy(dst, u8, off, len);
  }

  private deliver(dst: Station, src: Station, off: number, len: number): void {
    if (dst.raw !== null) { dst.raw.frames.push(src.u8.slice(off, off + len)); this.stats.delivered++; return; }
    const slot = this.takeSlot(dst, len);
    if (slot < 0) return;
    if (len <= 256 && ((off | slot) & 7) === 0) {
      // Aligned small frames move as 8-byte words: a Float64Array copy keeps every bit pattern
      // (NaNs included; tests/link.test.ts checks it) and beats set() on a subarray several times.
      const from = src.f64, to = dst.f64;
      const n = len >> 3, o = off >> 3, d = slot >> 3;
      for (let i = 0; i < n; i++) to[d + i] = from[o + i];
      const tu8 = dst.u8, fu8 = src.u8;
      for (let i = n << 3; i < len; i++) tu8[slot + i] = fu8[off + i];
    } else {
      dst.u8.set(src.u8.subarray(off, off + len), slot);
    }
    this.putRx(dst, slot, len);
  }

  /** Delivers bytes that do not live in a stack's memory (scripted hosts, held or faulty frames). */
  private deliverCopy(dst: Station, u8: Uint8Array, off: number, len: number): void {
    if (dst.raw !== null) { dst.raw.frames.push(u8.slice(off, off + len)); this.stats.delivered++; return; }
    const slot = this.takeSlot(dst, len);
    if (slot < 0) return;
    dst.u8.set(u8.subarray(off, off + len), slot);
    this.putRx(dst, slot, len);
  }

  /** An empty receive slot of dst able to hold len bytes, or -1 (counted). */
  private takeSlot(dst: Station, len: number): number {
    if (!dst.open) { dst.begin(); this.touched.push(dst); }
    if (dst.rxLeft === 0) { this.stats.rxRingFull++; return -1; }
    if (dst.fillLeft === 0) { this.stats.rxNoBuffer++; return -1; }
    const u32 = dst.u32;
    const fe = dst.fill + ENTRIES + ((dst.fillCons & dst.fillMask) << SHIFT);
    if (u32[fe + 1] < len) { this.stats.rxNoBuffer++; return -1; }
    dst.fillCons++;
    dst.fillLeft--;
    return u32[fe];
  }

  private putRx(dst: Station, slot: number, len: number): void {
    const u32 = dst.u32;
    const re = dst.rx + ENTRIES + ((dst.rxProd & dst.rxMask) << SHIFT);
    u32[re] = slot;
    u32[re + 1] = len;
    dst.rxProd++;
    dst.rxLeft--;
    this.stats.delivered++;
  }

  /** Publishes every destination's ring indices once for the whole burst. */
  private commitAll(): void {
    const t = this.touched;
    for (let i = 0; i < t.length; i++) t[i].commit();
    t.length = 0;
  }

  private transmitFaulty(src: Station, u8: Uint8Array, off: number, len: number, now: number): void {
    const f = this.faults;
    const rng = this.rng;
    if (rng.float() < f.loss) { this.stats.lost++; return; }
    let bytes = u8.slice(off, off + len);
    if (rng.float() < f.corrupt) {
      const bit = rng.below(len * 8);
      bytes[bit >> 3] ^= 1 << (bit & 7);
      this.stats.corrupted++;
    }
    const copies = rng.float() < f.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      if (f.delay_ms > 0) {
        const due = now + rng.float() * f.delay_ms * 1e6;
        this.insertDelayed({ bytes, due, src });
        this.stats.delayed++;
      } else if (rng.float() < f.reorder) {
        this.held.push({ bytes, due: now, src });
        this.stats.reordered++;
      } else {
        this.route(src, bytes, 0, len);
      }
      if (c === 0 && copies === 2) bytes = bytes.slice();
    }
  }

  private insertDelayed(h: Held): void {
    let i = this.delayed.length;
    while (i > 0 && this.delayed[i - 1].due > h.due) i--;
    this.delayed.splice(i, 0, h);
  }

  private releaseHeld(now: number): number {
    let n = 0;
    const held = this.held;
    this.held = [];
    for (const h of held) { this.route(h.src, h.bytes, 0, h.bytes.length); n++; }
    while (this.delayed.length > 0 && this.delayed[0].due <= now) {
      const h = this.delayed.shift()!;
      this.route(h.src, h.bytes, 0, h.bytes.length);
      n++;
    }
    this.commitAll();
    return n;
  }
}

function macKey(hi: number, lo: number): number {
  return hi * 0x100000000 + lo;
}

// The in-memory link: several datapaths in one process joined like hosts on one Ethernet switch.
// A physical backend in the sense of DESIGN.md principle 5: it moves frames between descriptor
// rings and never looks past the destination MAC. What it does not do itself it wraps: faults
// (link/faults.ts), capture (pcap.ts) and NF chains on a host's port (link/chains.ts) are the same
// wrappers a DPDK port uses.
import { RealClock, type Clock } from "../clock.js";
import { PcapWriter } from "../pcap.js";
import { NO_RX_ROOM, TOO_LONG, type Rings } from "../rings.js";
import { FaultInjector, type FaultStats, type LinkFaults } from "../link/faults.js";
import { PortChains, type Direction, type PortActions } from "../link/chains.js";
import type { Link, LinkNode } from "../link/link.js";
import { copyIntoSlot } from "../link/copy.js";
import type { Chain } from "../nf/chain.js";

export type { LinkFaults } from "../link/faults.js";

/** The switch's own counters. */
interface SwitchStats {
  delivered: number; noDestination: number; rxNoBuffer: number; rxRingFull: number;
  /** Frames longer than the receiver's frame slots hold (a jumbo frame to a smaller MTU). */
  rxTooLong: number;
  /** Frames still unfiltered after MAX_FILTER_PASSES (chains bouncing frames between ports). */
  filterLoops: number;
}
export type LinkStats = SwitchStats & FaultStats;

/** In chains may send frames on to other hosts with chains: this many passes per turn at most. */
const MAX_FILTER_PASSES = 8;

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

/** The switch's view of one port: a stack's rings and memory, or a scripted host's inbox. */
class Station implements PortActions {
  readonly macHi: number;
  readonly macLo: number;
  readonly raw: RawPort | null;
  readonly rings: Rings | null;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly dv: DataView;
  /** The MAC as the first frame word and the low half of the second, read little-endian. */
  readonly macW0: number;
  readonly macW1: number;
  chains: PortChains | null = null;
  /** Received frames before this rx index have been through the in chain. */
  rxFiltered = 0;
  /** A scripted host's frames waiting for its in chain. */
  inbox: Uint8Array[] = [];

  constructor(readonly link: LoopbackLink, readonly endpoint: Endpoint) {
    [this.macHi, this.macLo] = endpoint.mac;
    const m = new Uint8Array(8);
    new DataView(m.buffer).setUint16(0, this.macHi);
    new DataView(m.buffer).setUint32(2, this.macLo);
    this.macW0 = new Int32Array(m.buffer)[0];
    this.macW1 = new Int32Array(m.buffer)[1] & 0xffff;
    if (endpoint instanceof RawPort) {
      this.raw = endpoint; this.rings = null;
      this.u8 = new Uint8Array(0); this.i32 = new Int32Array(0); this.f64 = new Float64Array(0); this.dv = new DataView(this.u8.buffer);
    } else {
      this.raw = null; this.rings = endpoint.rings;
      this.u8 = endpoint.dp.u8; this.i32 = endpoint.dp.i32;
      this.f64 = new Float64Array(endpoint.dp.memory.buffer);
      this.dv = new DataView(endpoint.dp.memory.buffer);
    }
  }

  /** Has frames its in chain has not seen. */
  get unfiltered(): boolean {
    return this.chains?.in != null && (this.rings !== null ? this.rings.rxEnd() !== this.rxFiltered : this.inbox.length > 0);
  }

  // PortActions: what this port's chains' verdicts do. Stations are separate memories: by copy.
  egress(): number { return -1; }
  transmit(mem: Uint8Array, off: number, len: number): void { this.link.transmitFrom(this, mem, off, len); }
  redirect(port: number, mem: Uint8Array, off: number, len: number): void { this.link.redirectFrom(this, port, mem, off, len); }
}

const links = new Map<string, LoopbackLink>();

export class LoopbackLink implements Link {
  readonly clock: Clock;
  private readonly injector: FaultInjector<Station>;
  private readonly counts: SwitchStats = { delivered: 0, noDestination: 0, rxNoBuffer: 0, rxRingFull: 0, rxTooLong: 0, filterLoops: 0 };
  private readonly nodes: LinkNode[] = [];
  private readonly nodeStations: Station[] = [];      // nodes[i]'s station
  private readonly stations: Station[] = [];
  private readonly byMac = new Map<number, Station>();
  private readonly touched: Station[] = [];
  private readonly chained: Station[] = [];
  private lastDst: Station | null = null;
  private pcap: PcapWriter | null = null;
  private readonly routeOut = (from: Station, bytes: Uint8Array, off: number, len: number): void => this.route(from, bytes, off, len);

  constructor(faults: Partial<LinkFaults> = {}, clock: Clock = new RealClock(), quiet = false) {
    this.clock = clock;
    this.injector = new FaultInjector(faults, "loopback link", quiet);
  }

  get seed(): number { return this.injector.seed; }
  get faults(): LinkFaults { return this.injector.faults; }
  get stats(): LinkStats { return { ...this.counts, ...this.injector.stats }; }

  /** The process-wide link of that name, created on first use. */
  static named(name: string, faults: Partial<LinkFaults>, clock?: Clock): LoopbackLink {
    let l = links.get(name);
    if (!l) { l = new LoopbackLink(faults, clock); links.set(name, l); }
    return l;
  }

  attach(node: LinkNode): void {
    this.addEndpoint(node);
    this.nodes.push(node);
    this.nodeStations.push(this.stationOf(node)!);
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
    const st = new Station(this, e);
    this.stations.push(st);
    this.byMac.set(key, st);
  }

  private stationOf(e: Endpoint): Station | undefined {
    return this.byMac.get(macKey(e.mac[0], e.mac[1]));
  }

  detach(e: Endpoint): void {
    const i = this.nodes.indexOf(e as LinkNode);
    if (i >= 0) { this.nodes.splice(i, 1); this.nodeStations.splice(i, 1); }
    const st = this.stationOf(e);
    if (st) {
      this.stations.splice(this.stations.indexOf(st), 1);
      const c = this.chained.indexOf(st);
      if (c >= 0) this.chained.splice(c, 1);
    }
    this.byMac.delete(macKey(e.mac[0], e.mac[1]));
    this.lastDst = null;
    for (const [name, l] of links) if (l === this && this.stations.length === 0) links.delete(name);
  }

  /**
   * Writes every frame that crosses the link to a classic pcap file (what the wire carried, once
   * per transmission, after a sender's out chain and before any injected fault).
   */
  capture(path: string): void {
    this.stopCapture();
    this.pcap = new PcapWriter(path);
  }

  /** Flushes and closes the capture file. */
  stopCapture(): void {
    this.pcap?.close();
    this.pcap = null;
  }

  /** A frame from a scripted host, through the same faults as any other. */
  sendRaw(from: RawPort, frame: Uint8Array): void {
    this.transmitFrom(this.stationOf(from)!, frame, 0, frame.length);
    this.commitAll();
  }

  /**
   * One turn: release held frames, move every frame waiting in a TX ring (through its out chain)
   * to its destination's RX ring, run the receivers' in chains, then let every stack poll once.
   * Returns the work done (0 when the whole segment is idle).
   */
  poll(): number {
    const now = this.clock.now();
    let work = 0;
    if (this.injector.active) { work += this.injector.release(now, this.routeOut); this.commitAll(); }
    const st = this.nodeStations;
    if (this.chained.length > 0) {
      for (let n = 0; n < st.length; n++) if (st[n].chains?.out) st[n].chains!.filterTx(st[n].rings!, st[n].u8, st[n]);
    }
    for (let n = 0; n < st.length; n++) work += this.drain(st[n], now);
    if (this.chained.length > 0) this.filterArrivals();
    for (let n = 0; n < this.nodes.length; n++) work += this.nodes[n].dp.exports.poll(now);
    return work;
  }

  /** The earliest time something is due on this segment (a stack's timer, a held frame). */
  nextEvent(): number {
    let t = this.injector.active ? this.injector.nextDue(this.clock.now()) : Infinity;
    for (const n of this.nodes) {
      const d = n.dp.exports.nextDeadline();
      if (d >= 0 && d < t) t = d;
    }
    return t;
  }

  /**
   * Puts an NF chain on a host's port: "out" sees the frames it sends, "in" every frame it
   * receives (broadcasts and what other chains send it included), as on a DPDK port. A chain's
   * port numbers are the hosts' places on the link (attach order), for REDIRECT. null takes the
   * chain off.
   */
  attachChain(e: Endpoint, dir: Direction, chain: Chain | null): void {
    const st = this.stationOf(e);
    if (!st) throw new Error("demiwasm: that host is not on this link");
    if (st.chains === null) { st.chains = new PortChains(); this.chained.push(st); }
    if (dir === "in" && chain !== null && st.chains.in === null && st.rings !== null) st.rxFiltered = st.rings.rxEnd();
    st.chains.set(dir, chain);
  }

  /** The hosts on this link in port order (REDIRECT's argument indexes it). */
  get ports(): number { return this.stations.length; }

  /** A chain's TX: onto the segment from that host's port, switched by the destination MAC. */
  transmitFrom(st: Station, u8: Uint8Array, off: number, len: number): void {
    if (this.pcap !== null) this.pcap.record(this.clock.now(), u8, off, len);
    if (this.injector.active) this.injector.transmit(st, u8, off, len, this.clock.now(), this.routeOut);
    else this.route(st, u8, off, len);
  }

  /** A chain's REDIRECT: straight to the host at that port. */
  redirectFrom(st: Station, port: number, u8: Uint8Array, off: number, len: number): void {
    const to = this.stations[port];
    if (to) this.deliverBytes(to, st, u8, off, len); else this.counts.noDestination++;
  }

  /** Sends what a stack queued (after its out chain ran): each frame to its destination. */
  private drain(st: Station, now: number): number {
    const rings = st.rings!;
    const n = rings.sendBegin();
    if (n === 0) return 0;
    const u8 = st.u8, i32 = st.i32, pcap = this.pcap, faulty = this.injector.active;
    for (let i = 0; i < n; i++) {
      const off = rings.sendOff(i);
      const len = rings.sendLen(i);
      if (pcap !== null) pcap.record(now, u8, off, len);
      const last = this.lastDst;
      if (faulty) this.injector.transmit(st, u8, off, len, now, this.routeOut);
      // Fast path: an aligned frame for the same station as the last one.
      else if (last !== null && last !== st && (off & 3) === 0 && len >= 14 && i32[off >> 2] === last.macW0
               && (i32[(off >> 2) + 1] & 0xffff) === last.macW1) this.deliver(last, st, off, len);
      else this.route(st, u8, off, len);
      // The frame has left: its slot goes back to its stack.
      rings.sent(i, off);
    }
    rings.sendEnd(n);
    this.commitAll();
    return n;
  }

  /** Runs in chains over what arrived; chains may send frames on, so pass again, boundedly. */
  private filterArrivals(): void {
    for (let pass = 0; pass < MAX_FILTER_PASSES; pass++) {
      let any = false;
      for (const st of this.chained) {
        if (!st.unfiltered) continue;
        any = true;
        if (st.rings !== null) st.rxFiltered = st.chains!.filterRx(st.rings, st.u8, st.rxFiltered, st);
        else {
          const inbox = st.inbox;
          st.inbox = [];
          for (const f of st.chains!.filterFrames(inbox, st)) st.raw!.frames.push(f);
        }
        this.commitAll();
      }
      if (!any) return;
    }
    // Still unfiltered: chains keep bouncing frames. The stacks must not see them unfiltered.
    for (const st of this.chained) {
      if (!st.unfiltered) continue;
      if (st.rings !== null) {
        const end = st.rings.rxEnd();
        for (let i = st.rxFiltered; i !== end; i = (i + 1) >>> 0) { st.rings.rxSetLen(i, 0); this.counts.filterLoops++; }
        st.rxFiltered = end;
      } else {
        this.counts.filterLoops += st.inbox.length;
        st.inbox = [];
      }
    }
  }

  private route(src: Station, u8: Uint8Array, off: number, len: number): void {
    if (len < 6) { this.counts.noDestination++; return; }
    const hi = (u8[off] << 8) | u8[off + 1];
    const lo = ((u8[off + 2] << 24) | (u8[off + 3] << 16) | (u8[off + 4] << 8) | u8[off + 5]) >>> 0;
    // Broadcast and multicast (the group bit, IEEE 802.3 §3.2.3: IPv6's 33:33:… groups) are
    // flooded, as a switch without MLD snooping does; each stack filters its own groups.
    if ((hi & 0x0100) !== 0) {
      for (const s of this.stations) if (s !== src) this.deliverBytes(s, src, u8, off, len);
      return;
    }
    // Most frames go where the previous one went: skip the map (its keys are not small integers).
    let dst = this.lastDst;
    if (dst === null || dst.macLo !== lo || dst.macHi !== hi) {
      dst = this.byMac.get(macKey(hi, lo)) ?? null;
      if (dst === null) { this.counts.noDestination++; return; }
      this.lastDst = dst;
    }
    // A switch never sends a frame back out of the port it came in on.
    if (dst === src) { this.counts.noDestination++; return; }
    this.deliverBytes(dst, src, u8, off, len);
  }

  /** Delivers from a station's memory (word copies when aligned) or from a copy held aside. */
  private deliverBytes(dst: Station, src: Station, u8: Uint8Array, off: number, len: number): void {
    if (u8 === src.u8) this.deliver(dst, src, off, len);
    else this.deliverCopy(dst, u8, off, len);
  }

  private deliver(dst: Station, src: Station, off: number, len: number): void {
    if (dst.raw !== null) { this.deliverRaw(dst, src.u8.slice(off, off + len)); return; }
    const slot = this.takeSlot(dst, len);
    if (slot < 0) return;
    // Small frames move as 8-byte words (../link/copy). A frame 4 bytes off (IPv6/UDP: 62 bytes
    // of headers in front of application data that sgaalloc aligns for IPv4's 42) is read
    // through a DataView at the same speed. The last word may run up to 7 bytes past the frame:
    // into the rest of the slot (which holds at least 2048).
    if ((slot & 7) === 0) copyIntoSlot(dst, slot, src, off, len);
    else dst.u8.set(src.u8.subarray(off, off + len), slot);
    dst.rings!.rxPut(slot, len);
    this.counts.delivered++;
  }

  /** Delivers bytes that do not live in a stack's memory (scripted hosts, held or faulty frames). */
  private deliverCopy(dst: Station, u8: Uint8Array, off: number, len: number): void {
    if (dst.raw !== null) { this.deliverRaw(dst, u8.slice(off, off + len)); return; }
    const slot = this.takeSlot(dst, len);
    if (slot < 0) return;
    dst.u8.set(u8.subarray(off, off + len), slot);
    dst.rings!.rxPut(slot, len);
    this.counts.delivered++;
  }

  private deliverRaw(dst: Station, frame: Uint8Array): void {
    if (dst.chains?.in) dst.inbox.push(frame); else dst.raw!.frames.push(frame);
    this.counts.delivered++;
  }

  /** An empty receive slot of dst able to hold len bytes, or -1 (counted). */
  private takeSlot(dst: Station, len: number): number {
    const rings = dst.rings!;
    if (!rings.rxOpen) { rings.rxBegin(); this.touched.push(dst); }
    const slot = rings.rxTake(len);
    if (slot < 0) {
      if (slot === NO_RX_ROOM) this.counts.rxRingFull++;
      else if (slot === TOO_LONG) this.counts.rxTooLong++;
      else this.counts.rxNoBuffer++;
      return -1;
    }
    return slot;
  }

  /** Publishes every destination's ring indices once for the whole burst. */
  private commitAll(): void {
    const t = this.touched;
    for (let i = 0; i < t.length; i++) t[i].rings!.rxCommit();
    t.length = 0;
  }
}

function macKey(hi: number, lo: number): number {
  return hi * 0x100000000 + lo;
}

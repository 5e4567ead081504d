// The DPDK backend, demiwasm's Catnip: a physical backend (DESIGN.md principle 5) that binds one
// ethdev queue pair to one Wasm datapath. In zero-copy mode the mbufs' data buffers are the
// datapath's own pool slots, so a burst only moves descriptors between the Wasm rings and the
// device (native/dpdk). One native call per turn does the TX burst and then the RX burst.
import { dpdkNative, type DpdkNative, type DpdkPortHandle } from "../native.js";
import { RealClock, type Clock } from "../clock.js";
import { ConfigError, type Config } from "../config.js";
import type { Link, LinkNode } from "../link/link.js";
import { PortChains, type Direction, type PortActions } from "../link/chains.js";
import { FaultInjector, type LinkFaults } from "../link/faults.js";
import { PcapWriter } from "../pcap.js";
import type { Chain } from "../nf/chain.js";
import { EGRESS_SHIFT, EGRESS_PORTS, LEN_MASK, MBUF_MTU_MAX, SMALL_SIZE } from "../schema/layout.js";

/** Per-port counters, in the order native/dpdk/dpdk.h keeps them, then the ethdev's own. */
export const DPDK_STAT_NAMES = [
  "rx", "tx", "rxBytes", "txBytes", "rxCopied", "txCopied",
  "dropChained", "dropTooLong", "dropBadLength", "dropNoFill", "dropRxRingFull",
  "dropTxFull", "dropTxBadDesc", "dropTxNoMbuf", "badFree",
  "ethIpackets", "ethOpackets", "ethImissed", "ethIerrors", "ethOerrors", "ethRxNombuf",
  "poolIdle", "compWaiting",
] as const;
export type DpdkStats = Record<(typeof DPDK_STAT_NAMES)[number], number>;

let ealArgs: string | null = null;
const STACK_SLOTS = 1024;

/** Starts EAL once per process; a second config with other arguments is an error, not ignored. */
export function dpdkInit(args: string): DpdkNative {
  const n = dpdkNative();
  if (ealArgs !== null && ealArgs !== args) {
    throw new Error(`demiwasm: DPDK EAL already started in this process with '${ealArgs}'; dpdk.eal_args '${args}' cannot apply`);
  }
  n.init(args.split(/\s+/).filter(Boolean));
  ealArgs = args;
  return n;
}

export interface DpdkLinkOptions {
  /** Benchmark mode: the port's pool is an ordinary free list and frames never enter the stack. */
  raw?: boolean;
}

export class DpdkLink implements Link, PortActions {
  readonly clock: Clock;
  private readonly native: DpdkNative;
  private node: LinkNode | null = null;
  private handle: DpdkPortHandle | null = null;
  private readonly statBuf = new Float64Array(DPDK_STAT_NAMES.length);

  constructor(private readonly config: Config, clock: Clock = new RealClock(), private readonly opts: DpdkLinkOptions = {}) {
    if (config.mtu > MBUF_MTU_MAX) {
      throw new ConfigError("mtu", `${config.mtu} is more than a DPDK port carries: its mbufs are the datapath's ${SMALL_SIZE}-byte ` +
        `frame slots, which hold an MTU of at most ${MBUF_MTU_MAX}`);
    }
    this.clock = clock;
    this.native = dpdkInit(config.dpdk.eal_args);
  }

  /** Binds the port to this datapath: its fill ring is stocked first, since the PMD takes receive
   *  buffers from it at queue setup. */
  attach(node: LinkNode): void {
    if (this.node !== null) throw new Error("demiwasm: a DPDK port serves one datapath; open another port (or queue) for another");
    const x = node.dp.exports, d = this.config.dpdk;
    // The PMD keeps rx_desc buffers posted and tx_desc in flight; the stack keeps its fill ring
    // (half of 1024 entries) stocked and needs as many again for sockets and reassembly.
    const need = d.rx_desc + d.tx_desc + STACK_SLOTS;
    if (!this.opts.raw && this.config.pool.small_buffers < need) {
      throw new ConfigError("pool.small_buffers", `${this.config.pool.small_buffers} buffers cannot feed dpdk.rx_desc ${d.rx_desc} + ` +
        `dpdk.tx_desc ${d.tx_desc} and the stack's own ${STACK_SLOTS}: raise it to at least ${need}`);
    }
    x.poll(this.clock.now());
    const rings = node.rings.byteOffsets();
    const flags = (d.mode === "zerocopy" ? 1 : 0) | (this.opts.raw ? 2 : 0);
    this.handle = this.native.open(d.device, node.dp.u8, x.poolRegionBase(), this.config.pool.small_buffers,
      x.poolRegionBase(), x.poolRegionBytes(), rings, flags, d.queue, d.rx_desc, d.tx_desc, d.burst);
    this.node = node;
    this.wireEgress();
  }

  detach(node: LinkNode): void {
    if (node !== this.node) return;
    this.close();
  }

  /** Stops the port and, when we created the device (a TAP interface, say), removes it. */
  close(): void {
    this.stopCapture();
    if (this.handle !== null) this.native.close(this.handle);
    this.handle = null;
    // The others stop naming this port: a REDIRECT to it still on their tx rings is dropped and
    // counted (dropTxBadDesc), never sent to a closed device.
    for (const l of this.group) {
      l.egressWired = false;
      if (l.handle !== null) this.native.setEgress(l.handle, []);
    }
    this.node = null;
  }

  /** Ports turned together: a wait on one stack must let the others (its peer in one process) run. */
  private group: DpdkLink[] = [this];

  /** Joins ports into one group: polling any of them turns them all, as on one loopback link. */
  static group(...links: DpdkLink[]): void {
    if (links.length > EGRESS_PORTS) throw new Error(`demiwasm: a DPDK link group has at most ${EGRESS_PORTS} ports`);
    for (const l of links) l.group = links;
    links[0].wireEgress();
  }

  poll(): number {
    let work = 0;
    for (let i = 0; i < this.group.length; i++) work += this.group[i].turn();
    return work;
  }

  private turn(): number {
    const n = this.node;
    if (n === null) return 0;
    const rings = n.rings, now = this.clock.now();
    if (this.chains.out !== null) this.chains.filterTx(rings, n.dp.u8, this);
    if (this.pcap !== null) for (let i = rings.txFirst(); i !== rings.txEnd(); i = (i + 1) >>> 0) this.pcap.record(now, n.dp.u8, rings.txOff(i), rings.txLen(i) & LEN_MASK);
    const rxBefore = rings.rxEnd();
    const moved = this.native.burst(this.handle!);
    if (rings.rxEnd() !== rxBefore) this.received(n, rxBefore, now);
    if (this.injector !== null && this.injector.active) this.releaseHeld(n, now);
    return moved + n.dp.exports.poll(now);
  }

  /** What the device just delivered, through the wrappers: capture, faults, the in chain. */
  private received(n: LinkNode, from: number, now: number): void {
    const rings = n.rings, u8 = n.dp.u8;
    const end = rings.rxEnd();
    if (this.pcap !== null) for (let i = from; i !== end; i = (i + 1) >>> 0) this.pcap.record(now, u8, rings.rxOff(i), rings.rxLen(i));
    let filterFrom = from;
    if (this.injector !== null && this.injector.active) {
      // Every frame crosses the faulty wire as a copy; what survives now is put back behind them
      // (the originals get length 0: the stack frees them and counts drop.rx_filtered).
      for (let i = from; i !== end; i = (i + 1) >>> 0) {
        this.injector.transmit(null, u8, rings.rxOff(i), rings.rxLen(i), now, this.redeliver);
        rings.rxSetLen(i, 0);
      }
      filterFrom = end;
    }
    if (this.chains.in !== null) this.chains.filterRx(rings, u8, filterFrom, this);
  }

  /** A frame the fault injector lets through: into a fresh receive slot behind the others. */
  private readonly redeliver = (_: null, bytes: Uint8Array, off: number, len: number): void => {
    const rings = this.node!.rings;
    if (rings.rxFree() === 0 || rings.fillCapacity() < len) { this.faultDrops++; return; }
    const slot = rings.fillTake();
    this.node!.dp.u8.set(bytes.subarray(off, off + len), slot);
    rings.rxPush(slot, len);
  };

  private releaseHeld(n: LinkNode, now: number): void {
    const from = n.rings.rxEnd();
    this.injector!.release(now, this.redeliver);
    if (this.chains.in !== null && n.rings.rxEnd() !== from) this.chains.filterRx(n.rings, n.dp.u8, from, this);
  }

  private readonly chains = new PortChains();
  private pcap: PcapWriter | null = null;
  private injector: FaultInjector<null> | null = null;
  /** Frames the fault injector let through that found no receive slot. */
  faultDrops = 0;

  /** Puts an NF chain on this port: "in" sees what the device received, "out" what the stack
   *  sends. REDIRECT names a port of this link's group (DpdkLink.group order). */
  attachChain(node: LinkNode, dir: Direction, chain: Chain | null): void {
    if (node !== this.node) throw new Error("demiwasm: that datapath is not on this DPDK port");
    this.chains.set(dir, chain);
  }

  /** Ports a REDIRECT can name: this link's group. */
  get ports(): number { return this.group.length; }

  /** PortActions: TX and REDIRECT leave from the frame's own slot, by this port's burst: the
   *  egress field names the port of the group (this one for TX), so a forwarded frame is told
   *  from one the stack sent (the out chain and capture read that). -1 when that port is closed. */
  egress(port: number | null): number {
    const to = port ?? this.group.indexOf(this);
    return this.egressWired && this.group[to]?.handle ? (to + 1) << EGRESS_SHIFT : -1;
  }

  /** Frames a chain sent to a port of the group that is closed (egress said -1). */
  forwardDrops = 0;
  transmit(): void { this.forwardDrops++; }
  redirect(): void { this.forwardDrops++; }

  /** Tells each open port of the group where the others are, once all are open. */
  private egressWired = false;
  private wireEgress(): void {
    const handles = this.group.map((l) => l.handle);
    if (handles.some((h) => h === null)) return;
    for (const l of this.group) { this.native.setEgress(l.handle!, handles as DpdkPortHandle[]); l.egressWired = true; }
  }

  /**
   * Puts the loopback link's fault injector on this port's receive side: every frame the device
   * delivers crosses it (loss, corruption, duplicates, reordering, delay), as a copy.
   */
  injectFaults(faults: Partial<LinkFaults>, quiet = false): FaultInjector<null> {
    this.injector = new FaultInjector<null>(faults, "dpdk port", quiet);
    return this.injector;
  }

  /** Benchmark turn of a raw port: one native call (the tx ring sent, up to four bursts
   *  received: native/dpdk/port.c's RAW_BURSTS), one Wasm reflect of all that arrived. */
  reflectTurn(): number {
    const moved = this.native.rawBurst(this.handle!);
    return moved + this.node!.dp.exports.l2Reflect(256);
  }

  /**
   * The datapath's next timer deadline (Infinity when none). The device delivers whenever it
   * likes and has no readiness to wait on: an event-loop driver naps between polls for that.
   */
  nextEvent(): number {
    const d = this.node === null ? -1 : this.node.dp.exports.nextDeadline();
    return d >= 0 ? d : Infinity;
  }

  get portHandle(): DpdkPortHandle {
    if (this.handle === null) throw new Error("demiwasm: dpdk port is closed");
    return this.handle;
  }

  /** The DPDK port's own MAC (a TAP's DPDK side, say); the stack's MAC is the config's. */
  portMac(): string { return this.native.mac(this.portHandle); }

  stats(): DpdkStats {
    this.native.stats(this.portHandle, this.statBuf);
    const out = {} as DpdkStats;
    DPDK_STAT_NAMES.forEach((k, i) => { out[k] = this.statBuf[i]; });
    return out;
  }

  /** Writes what this port hands the device and what the device delivers to a pcap file (before
   *  faults and the in chain on the way in; after the out chain on the way out). */
  capture(path: string): void {
    this.stopCapture();
    this.pcap = new PcapWriter(path);
  }

  stopCapture(): void {
    this.pcap?.close();
    this.pcap = null;
  }
}

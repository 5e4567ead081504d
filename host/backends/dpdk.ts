// The DPDK backend, demiwasm's Catnip: a physical backend (DESIGN.md principle 5) that binds one
// ethdev queue pair to one Wasm datapath. In zero-copy mode the mbufs' data buffers are the
// datapath's own pool slots, so a burst only moves descriptors between the Wasm rings and the
// device (native/dpdk). One native call per turn does the TX burst and then the RX burst.
import { dpdkNative, type DpdkNative, type DpdkPortHandle } from "../native.js";
import { RealClock, type Clock } from "../clock.js";
import { ConfigError, type Config } from "../config.js";
import type { Link, LinkNode } from "../link.js";
import { RING } from "../rings.js";
import type { Chain } from "../nf/chain.js";
import { newBatch, Verdict, MAX_BURST, type FrameBatch } from "../nf/abi.js";

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

export class DpdkLink implements Link {
  readonly clock: Clock;
  private readonly native: DpdkNative;
  private node: LinkNode | null = null;
  private handle: DpdkPortHandle | null = null;
  private readonly statBuf = new Float64Array(DPDK_STAT_NAMES.length);

  constructor(private readonly config: Config, clock: Clock = new RealClock(), private readonly opts: DpdkLinkOptions = {}) {
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
    const r = node.rings;
    const rings = new Uint32Array([r.fill << 2, r.rx << 2, r.tx << 2, r.comp << 2]);
    const flags = (d.mode === "zerocopy" ? 1 : 0) | (this.opts.raw ? 2 : 0);
    this.handle = this.native.open(d.device, node.dp.u8, x.poolRegionBase(), this.config.pool.small_buffers,
      x.poolRegionBase(), x.poolRegionBytes(), rings, flags, d.queue, d.rx_desc, d.tx_desc, d.burst);
    this.node = node;
  }

  detach(node: LinkNode): void {
    if (node !== this.node) return;
    this.close();
  }

  /** Stops the port and, when we created the device (a TAP interface, say), removes it. */
  close(): void {
    if (this.handle !== null) this.native.close(this.handle);
    this.handle = null;
    this.node = null;
  }

  /** Ports turned together: a wait on one stack must let the others (its peer in one process) run. */
  private group: DpdkLink[] = [this];

  /** Joins ports into one group: polling any of them turns them all, as on one loopback link. */
  static group(...links: DpdkLink[]): void {
    for (const l of links) l.group = links;
  }

  poll(): number {
    let work = 0;
    for (let i = 0; i < this.group.length; i++) work += this.group[i].turn();
    return work;
  }

  private turn(): number {
    const n = this.node;
    if (n === null) return 0;
    if (this.outChain) this.filterTx(n, this.outChain);
    const rxBefore = this.inChain ? n.dp.u32[n.rings.rx + RING.PROD] : 0;
    const moved = this.native.burst(this.handle!);
    if (this.inChain) this.filterRx(n, this.inChain, rxBefore);
    return moved + n.dp.exports.poll(this.clock.now());
  }

  private inChain: Chain | null = null;
  private outChain: Chain | null = null;
  private readonly batch: FrameBatch = newBatch(new Uint8Array(0));

  /** Puts an NF chain on this port: "in" sees what the device received, "out" what the stack
   *  sends. REDIRECT names a port of this link's group (DpdkLink.group order). */
  attachChain(dir: "in" | "out", chain: Chain | null): void {
    if (dir === "in") this.inChain = chain; else this.outChain = chain;
  }

  /** Ports a REDIRECT can name: this link's group. */
  get ports(): number { return this.group.length; }

  /** Runs the in chain over what the last burst put in the rx ring; a frame that does not pass
   *  gets length 0 (the stack frees its slot and counts drop.rx_filtered). */
  private filterRx(n: LinkNode, chain: Chain, from: number): void {
    const u32 = n.dp.u32, rx = n.rings.rx, mask = u32[rx + RING.MASK];
    const total = (u32[rx + RING.PROD] - from) >>> 0;
    const b = this.batch;
    b.mem = n.dp.u8;
    for (let first = 0; first < total; first += MAX_BURST) {
      const k = Math.min(MAX_BURST, total - first);
      for (let i = 0; i < k; i++) {
        const e = rx + RING.ENTRIES + (((from + first + i) & mask) << RING.SHIFT);
        b.off[i] = u32[e]; b.len[i] = u32[e + 1]; b.cap[i] = u32[e + 1];
      }
      b.count = k;
      chain.run(b);
      for (let i = 0; i < k; i++) {
        const e = rx + RING.ENTRIES + (((from + first + i) & mask) << RING.SHIFT);
        const v = b.verdict[i];
        if (v === Verdict.PASS) { u32[e + 1] = b.len[i]; continue; }
        if (v === Verdict.TX) this.native.sendCopy(this.handle!, b.mem, b.off[i], b.len[i]);
        else if (v === Verdict.REDIRECT) this.redirect(b.arg[i], b.mem, b.off[i], b.len[i]);
        u32[e + 1] = 0;
      }
    }
  }

  /** Runs the out chain over the frames the stack queued; what does not pass leaves the tx ring
   *  (its slot goes back through the completion ring) and what passes keeps its order. */
  private filterTx(n: LinkNode, chain: Chain): void {
    const u32 = n.dp.u32, tx = n.rings.tx, comp = n.rings.comp;
    const cons = u32[tx + RING.CONS], prod = u32[tx + RING.PROD], mask = u32[tx + RING.MASK];
    const total = (prod - cons) >>> 0;
    if (total === 0) return;
    const b = this.batch;
    b.mem = n.dp.u8;
    let keep = cons;
    for (let first = 0; first < total; first += MAX_BURST) {
      const k = Math.min(MAX_BURST, total - first);
      for (let i = 0; i < k; i++) {
        const e = tx + RING.ENTRIES + (((cons + first + i) & mask) << RING.SHIFT);
        b.off[i] = u32[e]; b.len[i] = u32[e + 1]; b.cap[i] = u32[e + 1];
      }
      b.count = k;
      chain.run(b);
      for (let i = 0; i < k; i++) {
        const v = b.verdict[i];
        if (v === Verdict.PASS || v === Verdict.TX) {       // on the way out, "back out its port" is out
          const e = tx + RING.ENTRIES + ((keep & mask) << RING.SHIFT);
          u32[e] = b.off[i]; u32[e + 1] = b.len[i];
          keep++;
          continue;
        }
        if (v === Verdict.REDIRECT) this.redirect(b.arg[i], b.mem, b.off[i], b.len[i]);
        this.complete(u32, comp, b.off[i]);
      }
    }
    u32[tx + RING.PROD] = keep;
  }

  /** Gives a slot back to the stack as a sent frame would come back. */
  private complete(u32: Uint32Array, comp: number, off: number): void {
    const p = u32[comp + RING.PROD];
    u32[comp + RING.ENTRIES + ((p & u32[comp + RING.MASK]) << RING.SHIFT)] = off;
    u32[comp + RING.PROD] = p + 1;
  }

  private redirect(port: number, mem: Uint8Array, off: number, len: number): void {
    const to = this.group[port];
    if (to && to.handle !== null) this.native.sendCopy(to.handle, mem, off, len);
  }

  /** Benchmark turn of a raw port: one native burst, one Wasm reflect of what arrived. */
  reflectTurn(): number {
    const moved = this.native.rawBurst(this.handle!);
    return moved + this.node!.dp.exports.l2Reflect(64);
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

  capture(): void {
    throw new Error("demiwasm: --pcap is not supported on the dpdk backend; capture on the peer (tcpdump -i the TAP) instead");
  }

  stopCapture(): void {}
}

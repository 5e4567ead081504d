// What every transport backend (Demikernel's catnap and catmint: libfabric, kernel sockets)
// shares: a Wasm datapath used for its buffer pool (sgaalloc/sgafree and zero-copy I/O into its
// slots), qtokens kept in JS; the PDPIX wait family (waiting.ts) runs over the backend's own poll().
import { instantiate, CFG, type Datapath } from "../abi.js";
import { DemiError, EINVAL } from "../errno.js";
import { Rng, randomSeed } from "../rng.js";
import { RealClock, type Clock } from "../clock.js";
import type { Config } from "../config.js";
import { Opcode, newResultBuffer, type QResult, type QResultBuffer, type Sga, type SockAddr } from "../results.js";
import { WaitFamily } from "../waiting.js";

export interface Pending {
  done: boolean; op: Opcode; qd: number; ret: number; buf: number; len: number; newQd: number; addr: SockAddr;
  orphan: boolean;             // cancelled while under way: forgotten when it completes
}

export abstract class TransportQueues extends WaitFamily {
  readonly config: Config;
  readonly dp: Datapath;
  readonly u8: Uint8Array;
  readonly clock: Clock;
  protected readonly pending = new Map<number, Pending>();
  /** Completed since the last drainDone, in order. */
  private completed: number[] = [];
  private nextQt = 1;
  /** Called by every queue operation, so that an event-loop driver knows to turn the backend. */
  onActivity: (() => void) | null = null;

  constructor(config: Config, clock: Clock = new RealClock()) {
    super();
    this.config = config;
    this.clock = clock;
    const rng = new Rng(config.seed ?? randomSeed());
    this.dp = instantiate(config.memory_mb * 16, () => rng.u32());
    // Only the buffer pool is used: size it from the config, and keep the Wasm stack's TCP
    // tables (not used by a transport backend) at their minimum.
    const x = this.dp.exports;
    x.configure(CFG.POOL_SMALL_BUFFERS, config.pool.small_buffers);
    x.configure(CFG.POOL_LARGE_BUFFERS, config.pool.large_buffers);
    x.configure(CFG.TCP_MAX_CONNECTIONS, 1);
    x.configure(CFG.TCP_BUFFER_BYTES, 4096);
    if (x.init() !== 0) {
      throw new Error(`demiwasm: config key 'memory_mb': ${config.memory_mb} MiB cannot hold ${config.pool.small_buffers} small and ${config.pool.large_buffers} large buffers`);
    }
    this.u8 = this.dp.u8;
  }

  /** Advances every pending operation the backend can; returns how many it moved. */
  abstract poll(): number;

  /** Takes a pending operation off the backend's wait lists; false when it cannot be taken back. */
  protected abstract withdraw(qt: number, p: Pending): boolean;

  /** Closes a socket (an accepted one nobody took, when its accept is cancelled). */
  abstract close(qd: number): void;

  /** The earliest time (ns) a deadline of the backend falls due; Infinity when none does. */
  nextEvent(): number { return Infinity; }

  protected newQt(op: Opcode, qd: number): number {
    const qt = this.nextQt++;
    this.onActivity?.();
    this.pending.set(qt, { done: false, op, qd, ret: 0, buf: 0, len: 0, newQd: -1, addr: { addr: 0, port: 0 }, orphan: false });
    return qt;
  }

  protected complete(qt: number, ret: number): void {
    const p = this.pending.get(qt);
    if (!p || p.done) return;
    if (p.orphan) { this.pending.delete(qt); return; }
    p.done = true;
    p.ret = ret;
    if (this.onActivity !== null) this.completed.push(qt);   // only a driver drains them
  }

  /** As LibOS.cancel: withdraws a pending operation, or releases a completed one and what it holds. */
  cancel(qt: number): void {
    const p = this.pending.get(qt);
    if (p === undefined || p.orphan) throw new DemiError(EINVAL, "cancel");
    if (p.done) {
      this.pending.delete(qt);
      if (p.ret !== 0) return;
      if (p.op === Opcode.POP && p.len > 0) this.dp.exports.sgafree(p.buf);
      else if (p.op === Opcode.ACCEPT) this.close(p.newQd);
      return;
    }
    if (this.withdraw(qt, p)) this.pending.delete(qt);
    else p.orphan = true;
  }

  /** As LibOS.drainDone: each completed, untaken qtoken to `fn`, at least once after it completes. */
  drainDone(fn: (qt: number) => void): number {
    const list = this.completed;
    if (list.length === 0) return 0;
    this.completed = [];
    let n = 0;
    for (const qt of list) {
      const p = this.pending.get(qt);
      if (p !== undefined && p.done) { n++; fn(qt); }
    }
    return n;
  }

  sgaalloc(size: number): Sga {
    const p = this.dp.exports.sgaalloc(size);
    if (p < 0) throw new DemiError(-p, "sgaalloc");
    return { buf: p, len: size };
  }

  sgafree(sga: Sga): void {
    const r = this.dp.exports.sgafree(sga.buf);
    if (r !== 0) throw new DemiError(r, "sgafree");
  }

  bytes(sga: Sga): Uint8Array { return this.u8.subarray(sga.buf, sga.buf + sga.len); }

  tryWaitInto(out: QResultBuffer, qt: number): boolean {
    const p = this.pending.get(qt);
    if (p === undefined) throw new DemiError(EINVAL, "wait");
    if (!p.done) return false;
    this.pending.delete(qt);
    out.opcode = p.ret === 0 ? p.op : Opcode.FAILED;
    out.qd = p.qd; out.qt = qt; out.ret = p.ret;
    out.sga.buf = p.buf; out.sga.len = p.len;
    out.addr.addr = p.addr.addr; out.addr.port = p.addr.port;
    if (p.addr.addr6 !== undefined || out.addr.addr6 !== undefined) out.addr.addr6 = p.addr.addr6;
    out.acceptedQd = p.newQd;
    return true;
  }

  tryWait(qt: number): QResult | null {
    const r = newResultBuffer();
    if (!this.tryWaitInto(r, qt)) return null;
    const pop = r.opcode === Opcode.POP, acc = r.opcode === Opcode.ACCEPT;
    return { opcode: r.opcode, qd: r.qd, qt, ret: r.ret, sga: pop ? r.sga : undefined,
             addr: pop || acc ? r.addr : undefined, acceptedQd: acc ? r.acceptedQd : undefined };
  }

  isDone(qt: number): boolean {
    const p = this.pending.get(qt);
    if (p === undefined) throw new DemiError(EINVAL, "isDone");
    return p.done;
  }

  protected eachDone(fn: (qt: number) => boolean): void {
    for (const [qt, p] of this.pending) if (p.done && !fn(qt)) return;
  }
}

// A Stack: one datapath driven from Node's event loop, with PDPIX as Promises and the sockets
// Node programs already know on top (stack.net, stack.dgram, stack.http). `openStack(config)`
// opens one on any backend; `await stack.close()` ends it and everything opened on it.
import { LibOS, Opcode, newResultBuffer, type LibOSOptions, type QResult, type QResultBuffer, type Sga, type SockAddr } from "../libos.js";
import { PosixLibOS } from "../backends/posix.js";
import { FabricLibOS } from "../backends/fabric.js";
import { LoopbackLink } from "../backends/loopback.js";
import { openLibOS } from "../open.js";
import { loadConfig, type Config } from "../config.js";
import { DemiError, ECANCELED } from "../errno.js";
import type { Pdpix } from "../pdpix.js";
import { Driver, type SleepKind, type TurnClient } from "./driver.js";
import { abortError } from "./errors.js";
import type { StackCore, StackHandle } from "./core.js";
import { netFace, type NetFace } from "./net.js";
import { dgramFace, type DgramFace } from "./dgram.js";
import { httpFace, type HttpFace } from "./http.js";

export type AnyLibOS = LibOS | PosixLibOS | FabricLibOS;

export interface OpOptions { signal?: AbortSignal }

/** One driver per thing that moves frames: stacks on one loopback link share it. */
const drivers = new Map<object, Driver>();

function driverKey(l: AnyLibOS): object { return l instanceof LibOS ? l.link : l; }

function driverFor(l: AnyLibOS, config: Config): Driver {
  const key = driverKey(l);
  let d = drivers.get(key);
  if (d !== undefined) return d;
  const sleep: SleepKind = l instanceof PosixLibOS ? "readiness"
    : l instanceof LibOS && l.link instanceof LoopbackLink ? "deadline" : "nap";
  const target = l instanceof LibOS ? l.link : l;
  d = new Driver(target, l.clock, { mode: config.poll.mode, spinUs: config.poll.spin_us, sleepMaxMs: config.poll.sleep_max_ms, sleep });
  if (l instanceof PosixLibOS && config.poll.mode === "adaptive") l.setReadiness(d.kick);
  drivers.set(key, d);
  return d;
}

function copyResult(r: QResultBuffer): QResult {
  const pop = r.opcode === Opcode.POP, accept = r.opcode === Opcode.ACCEPT;
  return { opcode: r.opcode, qd: r.qd, qt: r.qt, ret: r.ret, sga: pop ? { buf: r.sga.buf, len: r.sga.len } : undefined,
           addr: pop || accept ? copyAddress(r.addr) : undefined, acceptedQd: accept ? r.acceptedQd : undefined };
}

function copyAddress(a: SockAddr): SockAddr {
  return a.addr6 !== undefined ? { addr: 0, port: a.port, addr6: a.addr6.slice() } : { addr: a.addr, port: a.port };
}

export class Stack implements StackCore, TurnClient {
  readonly libos: AnyLibOS;
  readonly config: Config;
  readonly driver: Driver;
  readonly wasm: boolean;
  /** node:net's createServer/connect/createConnection/Socket/Server on this stack. */
  readonly net: NetFace;
  /** node:dgram's createSocket on this stack. */
  readonly dgram: DgramFace;
  /** node:http's createServer/request/get/Agent on this stack. */
  readonly http: HttpFace;
  private readonly watchers = new Map<number, (r: QResultBuffer) => void>();
  private readonly rejecters = new Map<number, (e: Error) => void>();
  private readonly res = newResultBuffer();
  private deferred: (() => void)[] = [];
  private readonly hooks = new Set<() => number | void>();
  private readonly handles = new Set<StackHandle>();
  private taken = 0;
  private _closed = false;

  constructor(libos: AnyLibOS, config: Config = libos.config) {
    this.libos = libos;
    this.config = config;
    this.wasm = libos instanceof LibOS;
    this.driver = driverFor(libos, config);
    // A call that wakes the driver from a sleep first brings the Wasm clock to now: the timers it
    // arms must not count from the turn before the sleep (they would fire on the next turn).
    const d = this.driver;
    libos.onActivity = libos instanceof LibOS ? () => { if (d.asleep) libos.syncClock(); d.kick(); } : d.kick;
    this.driver.add(this);
    this.net = netFace(this);
    this.dgram = dgramFace(this);
    this.http = httpFace(this.net);
  }

  get closed(): boolean { return this._closed; }

  // ---- the driver's side ----

  afterTurn(): number {
    this.taken = 0;
    this.libos.drainDone(this.takeOne);
    let n = this.taken;
    if (this.deferred.length > 0) {
      const d = this.deferred;
      this.deferred = [];
      for (const f of d) f();
    }
    for (const h of this.hooks) n += h() || 0;
    return n;
  }

  private readonly takeOne = (qt: number): void => {
    const fn = this.watchers.get(qt);
    if (fn === undefined) return;               // someone else's (a raw PDPIX application's)
    this.watchers.delete(qt);
    if (!this.libos.tryWaitInto(this.res, qt)) return;
    this.taken++;
    fn(this.res);
  };

  /**
   * Runs `step` after every turn, for applications written as PDPIX state machines (the CLI's
   * servers); it returns the work it did (0 or nothing when idle). Returns the remover.
   */
  onTurn(step: () => number | void): () => void {
    this.hooks.add(step);
    this.driver.kick();
    return () => { this.hooks.delete(step); };
  }

  // ---- StackCore ----

  expect(qt: number, fn: (r: QResultBuffer) => void): void { this.watchers.set(qt, fn); }

  forget(qt: number): void {
    this.watchers.delete(qt);
    this.rejecters.delete(qt);
    try { this.libos.cancel(qt); } catch { /* taken already, or the stack is gone */ }
  }

  defer(fn: () => void): void { this.deferred.push(fn); this.driver.kick(); }
  track(h: StackHandle): void { this.handles.add(h); }
  untrack(h: StackHandle): void { this.handles.delete(h); }
  ref(): void { this.driver.ref(); }
  unref(): void { this.driver.unref(); }

  // ---- PDPIX as Promises ----

  /**
   * Resolves with qt's result once it completes; FAILED rejects with a DemiError (its errno), an
   * abort with an AbortError (the operation is cancelled). While pending it keeps the process
   * alive, as a pending operation on a node:net handle does.
   */
  wait(qt: number, opts: OpOptions = {}, what = "wait"): Promise<QResult> {
    const signal = opts.signal;
    return new Promise<QResult>((resolve, reject) => {
      if (signal?.aborted) { this.forget(qt); reject(abortError(signal)); return; }
      this.ref();
      const settle = () => { this.rejecters.delete(qt); signal?.removeEventListener("abort", onAbort); this.unref(); };
      const onAbort = () => { settle(); this.forget(qt); reject(abortError(signal!)); };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.rejecters.set(qt, (e) => { settle(); reject(e); });
      this.expect(qt, (r) => {
        settle();
        if (r.opcode === Opcode.FAILED) reject(new DemiError(r.ret, what));
        else resolve(copyResult(r));
      });
    });
  }

  pop(qd: number, opts?: OpOptions): Promise<QResult> { return this.wait(this.libos.pop(qd), opts, "pop"); }
  push(qd: number, sga: Sga, opts?: OpOptions): Promise<QResult> { return this.wait(this.libos.push(qd, sga), opts, "push"); }
  pushto(qd: number, sga: Sga, to: SockAddr, opts?: OpOptions): Promise<QResult> {
    return this.wait(this.libos.pushto(qd, sga, to), opts, "pushto");
  }
  accept(qd: number, opts?: OpOptions): Promise<QResult> { return this.wait(this.libos.accept(qd), opts, "accept"); }
  connect(qd: number, remote: SockAddr, opts?: OpOptions): Promise<QResult> {
    return this.wait(this.libos.connect(qd, remote), opts, "connect");
  }

  // ---- the end ----

  /**
   * Ends the stack: its servers stop listening and emit 'close', its sockets are destroyed (they
   * emit 'close'; writes still queued fail with ERR_STREAM_DESTROYED), pending promises reject
   * with ECANCELED, and the datapath leaves its link (transport backends close their sockets).
   */
  async close(): Promise<void> {
    if (this._closed) return;
    for (const h of [...this.handles]) h.stackClosing();
    this.afterTurn();                           // the cancelled pushes hand their buffers back
    this._closed = true;
    for (const reject of [...this.rejecters.values()]) reject(new DemiError(ECANCELED, "stack closed"));
    this.rejecters.clear();
    this.watchers.clear();
    this.hooks.clear();
    this.deferred = [];
    this.libos.onActivity = null;
    if (this.driver.remove(this)) {
      drivers.delete(driverKey(this.libos));
      if (this.libos instanceof PosixLibOS) this.libos.setReadiness(null);
    }
    this.libos.shutdown();
    await new Promise((r) => setImmediate(r));  // let the sockets' 'close' events out first
  }
}

export interface OpenStackOptions extends Omit<LibOSOptions, "config"> {}

/** Opens a datapath on the config's backend and drives it from the event loop. */
export function openStack(config: Config = loadConfig(), opts: OpenStackOptions = {}): Stack {
  return new Stack(openLibOS(config, opts), config);
}

export type { Pdpix };

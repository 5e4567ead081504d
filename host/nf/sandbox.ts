// One network function in its sandbox: its own instance and memory (at most the manifest's
// pages), the only imports the ABI allows, a fuel budget per burst, and trap containment: a
// trap applies the failure policy to that burst, re-creates the instance from the compiled
// module and counts; K traps within T ms quarantine the NF (bypass or drop-all). The NF sees
// only the packets of its burst, copied into its memory; it never sees the datapath's memory.
import { randomFillSync } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Manifest } from "./manifest.js";
import { loadNfModule, type NfModule } from "./loader.js";
import { MapSet } from "./maps.js";
import { Views, copyIntoSlot } from "../link/copy.js";
import { SLOT, DESC, DESC_SIZE, DATA, AREA_BYTES, AREA_COUNT, AREA_PORT, AREA_DIR, AREA_NOW, AREA_COUNTERS, Verdict, SHARED, NF_COUNTERS } from "./abi.js";

const LOG_PER_SECOND = 20;
const TIME_EVERY = 16;

export interface NfStats {
  name: string; bursts: number; packetsIn: number; passed: number; dropped: number; transmitted: number; redirected: number;
  traps: number; trapsByKind: Record<string, number>; badVerdicts: number; restarts: number; reloads: number;
  quarantined: boolean; fuelUsed: number; lastFuel: number;
  nsTotal: number;       // time in the NF over the bursts that were timed (one in 16)
  nsPerBurst: number;    // the median of the last 31 timed (a GC pause in one does not move it)
  counters: number[];
  logs: number; logsDropped: number;
}

/**
 * An NF's live stats: plain fields the hot path adds to, and the two derived figures as class
 * getters. (Accessors defined on the object itself turn it into a dictionary for V8, and every
 * `+=` per burst then went through a slow inline cache.) `snapshot()` gives a plain copy.
 */
class LiveStats implements NfStats {
  bursts = 0; packetsIn = 0; passed = 0; dropped = 0; transmitted = 0; redirected = 0; traps = 0;
  trapsByKind: Record<string, number> = {};
  badVerdicts = 0; restarts = 0; reloads = 0; quarantined = false; fuelUsed = 0; lastFuel = 0; nsTotal = 0;
  logs = 0; logsDropped = 0;
  constructor(readonly name: string, private readonly readCounters: () => number[], private readonly medianNs: () => number) {}
  /** The NF's own counters (it counts into its burst area: read from there). */
  get counters(): number[] { return this.readCounters(); }
  get nsPerBurst(): number { return this.medianNs(); }
  snapshot(): NfStats {
    const { readCounters: _c, medianNs: _m, ...plain } = this;
    return { ...plain, trapsByKind: { ...this.trapsByKind }, counters: this.counters, nsPerBurst: this.nsPerBurst };
  }
}

interface NfExports {
  nf_area(): number;
  nf_init(): number;
  nf_process(count: number): void;
  nf_tick?(nowMs: number): void;
  __fuel?: WebAssembly.Global;
  __nf_process_fueled?(count: number, fuel: number): number;   // added by metering (./meter)
}

/** The NF called WASI proc_exit: a trap of its own kind. */
class ProcExit extends Error {}

/** What a trap was, from the engine's message. */
export function trapKind(e: unknown, fuelLeft: bigint | null): string {
  if (e instanceof ProcExit) return "exit";
  if (fuelLeft !== null && fuelLeft < 0n) return "fuel";
  const m = e instanceof Error ? e.message : String(e);
  if (/call stack/i.test(m)) return "stack_overflow";
  if (/divi(de|sion) by zero|remainder by zero/i.test(m)) return "division_by_zero";
  if (/out of bounds/i.test(m)) return "out_of_bounds";
  if (/unreachable/i.test(m)) return "unreachable";
  return "other";
}

export class Nf {
  readonly stats: LiveStats;
  private mod!: NfModule;
  private x!: NfExports;
  private mem!: WebAssembly.Memory;
  private u8!: Uint8Array;
  private u32!: Uint32Array;
  private f64!: Float64Array;
  private i64!: BigInt64Array;
  /** Views of the NF's memory for frame copies (./copy). */
  views!: Views;
  private area = 0;
  private maps!: MapSet;
  private trapTimes: number[] = [];
  private timedBursts = 0;
  private readonly recentNs = new Float64Array(31);
  private logBudget = LOG_PER_SECOND;
  private logSecond = 0;
  /** Lines the NF logged (bounded), for `nf stats` and tests. */
  readonly logLines: string[] = [];

  constructor(public manifest: Manifest, private readonly shared: MapSet, private readonly now: () => number = () => performance.now() * 1e6) {
    this.stats = new LiveStats(manifest.name, () => this.counters(), () => {
      const n = Math.min(this.timedBursts, this.recentNs.length);
      return n === 0 ? 0 : Array.from(this.recentNs.subarray(0, n)).sort((a, b) => a - b)[n >> 1];
    });
    this.mod = loadNfModule(manifest.name, manifest.module, manifest.fuel > 0);
    this.maps = new MapSet(manifest.maps.filter((m) => !m.shared));
    this.start();
  }

  get name(): string { return this.manifest.name; }
  /** The NF's private maps (its state), for inspection. */
  get privateMaps(): MapSet { return this.maps; }
  get memory(): Uint8Array { if (this.u8.length === 0) this.refreshViews(); return this.u8; }
  get areaOffset(): number { return this.area; }

  /** The NF's counters as its area holds them (zeros before it first started). */
  private rawCounters(): BigInt64Array {
    if (this.mem === undefined) return new BigInt64Array(NF_COUNTERS);
    if (this.u8.length === 0) this.refreshViews();
    const at = (this.area + AREA_COUNTERS) >> 3;
    return this.i64.slice(at, at + NF_COUNTERS);
  }

  private counters(): number[] { return Array.from(this.rawCounters(), Number); }

  /**
   * A fresh instance from the compiled module, initialised with the config; throws on failure.
   * The counters carry over from the instance it replaces (after a trap, or a hot reload).
   */
  private start(): void {
    const m = this.manifest, mod = this.mod;
    const carried = this.mem === undefined ? null : this.rawCounters();
    const initial = Math.max(mod.memoryInitial, Math.ceil((AREA_BYTES + 65536) / 65536));
    const maximum = Math.min(m.memoryPages, mod.memoryMaximum ?? Infinity);
    if (initial > maximum) throw new Error(`demiwasm: NF '${m.name}' needs ${initial} pages of memory; its manifest allows ${maximum}`);
    const mem = new WebAssembly.Memory({ initial, maximum });
    const priv = this.maps.exports, shared = this.shared.exports;
    const text = (p: number, n: number) => Buffer.from(new Uint8Array(mem.buffer, p, n)).toString("utf8");
    const inBounds = (p: number, n: number) => p >= 0 && n >= 0 && p + n <= mem.buffer.byteLength;
    const imports = {
      env: { memory: mem },
      nf: {
        map_get: priv.map_get, map_put: priv.map_put, map_del: priv.map_del,
        shared_get: shared.map_get, shared_put: shared.map_put, shared_del: shared.map_del,
        map_open: (p: number, n: number) => {
          if (!inBounds(p, n) || n > 64) return -22;
          const name = text(p, n);
          const spec = m.maps.find((s) => s.name === name);
          if (!spec) return -2;
          return spec.shared ? SHARED + this.shared.id(name) : this.maps.id(name);
        },
        config: (kp: number, kn: number, out: number, cap: number) => {
          if (!inBounds(kp, kn) || !inBounds(out, cap) || kn > 256) return -22;
          const v = m.config[text(kp, kn)];
          if (v === undefined) return -2;
          const b = Buffer.from(v, "utf8");
          new Uint8Array(mem.buffer, out, Math.min(cap, b.length)).set(b.subarray(0, cap));
          return b.length;
        },
        log: (p: number, n: number) => { if (inBounds(p, n)) this.log(text(p, Math.min(n, 512))); },
      },
      wasi_snapshot_preview1: {
        clock_time_get: (_id: number, _prec: bigint, out: number) => {
          if (!inBounds(out, 8)) return 28;
          new DataView(mem.buffer).setBigUint64(out, BigInt(Math.round(this.now())), true);
          return 0;
        },
        random_get: (p: number, n: number) => { if (!inBounds(p, n)) return 28; randomFillSync(new Uint8Array(mem.buffer, p, n)); return 0; },
        fd_write: (fd: number, iovs: number, iovcnt: number, nwritten: number) => {
          if ((fd !== 1 && fd !== 2) || !inBounds(iovs, iovcnt * 8) || !inBounds(nwritten, 4) || iovcnt > 64) return 8;
          const v = new DataView(mem.buffer);
          let total = 0, s = "";
          for (let i = 0; i < iovcnt; i++) {
            const p = v.getUint32(iovs + i * 8, true), n = v.getUint32(iovs + i * 8 + 4, true);
            if (!inBounds(p, n)) return 28;
            s += text(p, Math.min(n, 512));
            total += n;
          }
          this.log(s.replace(/\n$/, ""));
          v.setUint32(nwritten, total, true);
          return 0;
        },
        proc_exit: (code: number) => { throw new ProcExit(`NF exit ${code}`); },
      },
    };
    let x: NfExports;
    try {
      x = new WebAssembly.Instance(mod.module, imports).exports as unknown as NfExports;   // runs its start function
    } catch (e) {
      throw new Error(`demiwasm: NF '${m.name}' could not start: ${(e as Error).message.split("\n")[0]}`);
    }
    this.x = x;
    this.mem = mem;
    this.refreshViews();
    if (this.mod.metered) x.__fuel!.value = BigInt(m.initFuel);
    let area: number;
    try { area = x.nf_area() >>> 0; } catch (e) { throw new Error(`demiwasm: NF '${m.name}' trapped in nf_area: ${trapKind(e, null)}`); }
    if (area % 8 !== 0 || area + AREA_BYTES > mem.buffer.byteLength) throw new Error(`demiwasm: NF '${m.name}' puts its burst area at ${area}, outside its memory or unaligned`);
    this.area = area;
    if (carried !== null) this.i64.set(carried, (area + AREA_COUNTERS) >> 3);
    let rc: number;
    try {
      rc = x.nf_init();
    } catch (e) {
      throw new Error(`demiwasm: NF '${m.name}' trapped in nf_init: ${trapKind(e, this.mod.metered ? (x.__fuel!.value as bigint) : null)}`);
    }
    if (rc !== 0) throw new Error(`demiwasm: NF '${m.name}' refused its config (nf_init returned ${rc})`);
    if (this.u8.length === 0) this.refreshViews();     // nf_init grew the memory
  }

  private refreshViews(): void {
    const b = this.mem.buffer;
    this.u8 = new Uint8Array(b);
    this.u32 = new Uint32Array(b);
    this.f64 = new Float64Array(b);
    this.i64 = new BigInt64Array(b);
    this.views = new Views(this.u8);
  }

  private log(line: string): void {
    const sec = Math.floor(this.now() / 1e9);
    if (sec !== this.logSecond) { this.logSecond = sec; this.logBudget = LOG_PER_SECOND; }
    if (this.logBudget <= 0) { this.stats.logsDropped++; return; }
    this.logBudget--;
    this.stats.logs++;
    this.logLines.push(line);
    if (this.logLines.length > 100) this.logLines.shift();
  }

  /**
   * Runs one burst already written into the area (see write()): returns false when the NF
   * trapped (the caller applies the failure policy) — the instance is then already replaced.
   */
  run(count: number, port: number, dir: number): boolean {
    if (this.u8.length === 0) this.refreshViews();     // grown outside a burst (nf_tick)
    const u32 = this.u32, a = this.area;
    u32[(a + AREA_COUNT) >> 2] = count; u32[(a + AREA_PORT) >> 2] = port; u32[(a + AREA_DIR) >> 2] = dir;
    this.f64[(a + AREA_NOW) >> 3] = this.now();
    const fuel = this.manifest.fuel;
    // Time one burst in TIME_EVERY (a clock read costs about a packet's work).
    const timed = (this.stats.bursts & (TIME_EVERY - 1)) === 0;
    const t0 = timed ? performance.now() : 0;
    let ok = true;
    let left = 0;
    try {
      if (this.mod.metered) left = this.x.__nf_process_fueled!(count, fuel);
      else this.x.nf_process(count);
    } catch (e) {
      ok = false;
      this.trapped(e);
    }
    const s = this.stats;
    if (timed) {
      const ns = (performance.now() - t0) * 1e6;
      s.nsTotal += ns;
      this.recentNs[this.timedBursts++ % this.recentNs.length] = ns;
    }
    s.bursts++;
    s.packetsIn += count;
    if (ok && this.mod.metered) {
      const used = fuel - left;
      s.lastFuel = used;
      s.fuelUsed += used;
    }
    if (this.u8.length === 0) this.refreshViews();     // the NF grew its memory: the old views are detached
    return ok;
  }

  private trapped(e: unknown): void {
    const fuelLeft = this.mod.metered ? (this.x.__fuel!.value as bigint) : null;
    const kind = trapKind(e, fuelLeft);
    const s = this.stats;
    s.traps++;
    s.trapsByKind[kind] = (s.trapsByKind[kind] ?? 0) + 1;
    if (kind === "fuel") { s.lastFuel = this.manifest.fuel; s.fuelUsed += this.manifest.fuel; }
    const now = this.now() / 1e6;
    this.trapTimes.push(now);
    while (this.trapTimes.length > 0 && this.trapTimes[0] < now - this.manifest.quarantineWindowMs) this.trapTimes.shift();
    if (this.trapTimes.length >= this.manifest.quarantineAfter) {
      s.quarantined = true;
      this.log(`quarantined after ${this.trapTimes.length} traps in ${this.manifest.quarantineWindowMs} ms (last: ${kind})`);
      return;
    }
    try {
      this.start();
      s.restarts++;
    } catch (err) {
      s.quarantined = true;                     // it cannot even start again: keep it out of the way
      this.log(`quarantined: restart failed: ${(err as Error).message}`);
    }
  }

  /**
   * Writes packet i of the burst into the NF's area: its first `snaplen` bytes (the manifest's;
   * the whole frame by default). The descriptor's len is what was copied, its arg the frame's
   * whole length.
   */
  write(i: number, src: Views, off: number, len: number): void {
    if (this.u8.length === 0) this.refreshViews();     // grown outside a burst (nf_init, nf_tick): detached
    const n = Math.min(len, this.manifest.snaplen, SLOT);
    const d = (this.area + DESC + i * DESC_SIZE) >> 2, u32 = this.u32;   // off, len, verdict, arg
    const at = DATA + i * SLOT;
    u32[d] = at; u32[d + 1] = n; u32[d + 2] = Verdict.PASS; u32[d + 3] = len;
    copyIntoSlot(this.views, this.area + at, src, off, n);
  }

  /** Where the last verdict() put packet i in this NF's memory, and the REDIRECT port (one object, reused). */
  readonly got = { off: 0, len: 0, arg: 0 };

  /** The NF's verdict for packet i (its place and arg in `got`); -1 when it is not a verdict the ABI knows. */
  verdict(i: number, ports: number): number {
    const d = (this.area + DESC + i * DESC_SIZE) >> 2, u32 = this.u32;   // off, len, verdict, arg
    const off = u32[d], len = u32[d + 1], v = u32[d + 2], arg = u32[d + 3];
    // The descriptor is the NF's to scribble on: everything is checked before it is believed.
    const sane = off >= DATA && off + len <= AREA_BYTES && len <= SLOT && v <= Verdict.REDIRECT && (v !== Verdict.REDIRECT || arg < ports);
    if (!sane) return -1;
    const g = this.got;
    g.off = this.area + off; g.len = len; g.arg = arg;
    return v;
  }

  /** Replaces the module (hot reload) between bursts. Maps carry over when their schema matches. */
  reload(next: Manifest): void {
    const old = { manifest: this.manifest, mod: this.mod, maps: this.maps, x: this.x, mem: this.mem, area: this.area };
    try {
      this.manifest = next;
      this.mod = loadNfModule(next.name, next.module, next.fuel > 0);
      const priv = next.maps.filter((m) => !m.shared);
      if (!this.maps.sameSchema(priv)) this.maps = new MapSet(priv);
      this.start();
    } catch (e) {
      Object.assign(this, { manifest: old.manifest, mod: old.mod, maps: old.maps, x: old.x, mem: old.mem, area: old.area });
      this.refreshViews();
      throw e;
    }
    this.stats.reloads++;
    this.stats.quarantined = false;
    this.trapTimes = [];
  }

  tick(nowMs: number): void {
    if (!this.mod.hasTick || this.stats.quarantined) return;
    if (this.mod.metered) this.x.__fuel!.value = BigInt(this.manifest.fuel);
    try { this.x.nf_tick!(nowMs); } catch (e) { this.trapped(e); }
  }
}

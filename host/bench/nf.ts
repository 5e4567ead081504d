// bench nf, in one run: each sample NF as Wasm (metering off and on) against the same logic in C
// (native/nf), and that C compiled by clang to Wasm (the engine's share of the difference), all
// called per burst of 32 by one harness (below). The figure is ns per packet of the NF call: the
// loop with the call minus the same loop without it, after a warm-up; medians of interleaved
// rounds.
import { performance } from "node:perf_hooks";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Config } from "../config.js";
import type { BenchOptions } from "./options.js";
import { parseManifest, type Manifest } from "../nf/manifest.js";
import { Nf } from "../nf/sandbox.js";
import { AREA_BYTES, DESC, DESC_SIZE, DATA, MAX_BURST } from "../nf/abi.js";
import { MapSet } from "../nf/maps.js";
import { Chain } from "../nf/chain.js";
import { newBatch, type FrameBatch } from "../nf/abi.js";
import { nfNative } from "../native.js";
import { median } from "../stats.js";

const BURST = MAX_BURST;
const FLOWS = 1024;
const nfDir = fileURLToPath(new URL("../../../build/nf/", import.meta.url));

function frame(src: number, sport: number, dst: number, dport: number): Uint8Array {
  const f = new Uint8Array(64);
  const v = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
  v.setUint16(12, 0x0800);
  f[14] = 0x45; v.setUint16(16, 50); f[22] = 64; f[23] = 17;
  v.setUint32(26, src); v.setUint32(30, dst);
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += v.getUint16(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  v.setUint16(24, ~s & 0xffff);
  v.setUint16(34, sport); v.setUint16(36, dport); v.setUint16(38, 30); v.setUint16(40, 0x1234);
  return f;
}

const ip = (s: string) => s.split(".").reduce((a, b) => (a * 256 + Number(b)) >>> 0, 0);

export interface Workload {
  name: string; lang: string; file: string; dir: number; manifest: Record<string, unknown>; params: number[]; extra: number[]; frames: Uint8Array[];
}

/** bench nf's traffic and parameters per sample (the Wasm sample's manifest, the native baseline's numbers). */
export function workloads(): Workload[] {
  const inside = Array.from({ length: FLOWS }, (_, i) => frame(ip("10.0.0.0") + (i >> 4), 1000 + (i & 15), ip("198.51.100.7"), 53));
  const toUs = Array.from({ length: FLOWS }, (_, i) => frame(ip("10.1.0.0") + i, 4000 + i, ip("198.18.0.1"), 7));
  const toVip = Array.from({ length: FLOWS }, (_, i) => frame(ip("10.1.0.0") + i, 4000 + i, ip("198.18.0.100"), 80));
  const backends = ["10.2.0.1", "10.2.0.2", "10.2.0.3", "10.2.0.4"], macs = ["02:00:00:00:20:01", "02:00:00:00:20:02", "02:00:00:00:20:03", "02:00:00:00:20:04"];
  // portblock's traffic: a quarter to a blocked port, a quarter to a rewritten one.
  const ports = Array.from({ length: FLOWS }, (_, i) => frame(ip("10.1.0.0") + i, 4000 + i, ip("198.18.0.1"), [53, 8080, 80, 443][i & 3]));
  const portblock = { maps: [{ name: "hits", kind: "array", capacity: 65536 }], memory_pages: 16, config: { block: [53, 6379], rewrite: "8080=80" } };
  const as = (w: Omit<Workload, "lang" | "file">): Workload => ({ ...w, lang: "assemblyscript", file: `${w.name}.wasm` });
  return [
    as({ name: "flowmon", dir: 0, manifest: { maps: [{ name: "flows", kind: "lru", capacity: 65536 }] }, params: [65536], extra: [], frames: toUs }),
    as({ name: "ratelimit", dir: 0, manifest: { maps: [{ name: "buckets", kind: "lru", capacity: 65536 }], config: { rate: 1e9, burst: 1e6 } },
      params: [1e9, 1e6, 65536], extra: [], frames: toUs }),
    as({ name: "firewall", dir: 0, manifest: { maps: [{ name: "conntrack", kind: "lru", capacity: 65536 }], config: { allow: "icmp,tcp/22,udp/7" } },
      params: [60000, 65536], extra: [1, -1, 6, 22, 17, 7], frames: toUs }),
    as({ name: "nat", dir: 1, manifest: { maps: [{ name: "snat", kind: "hash", capacity: 16384 }, { name: "dnat", kind: "hash", capacity: 16384 }],
      config: { public_ip: "203.0.113.1", inside: "10.0.0.0/16", port_min: 20000, port_max: 35000 } },
      params: [ip("203.0.113.1"), ip("10.0.0.0"), 0xffff0000, 20000, 35000, 16384], extra: [], frames: inside }),
    as({ name: "maglev", dir: 0, manifest: { config: { vip: "198.18.0.100", backends, macs } }, params: [ip("198.18.0.100")],
      extra: backends.flatMap((b, i) => [ip(b), parseInt(macs[i].replace(/:/g, ""), 16)]), frames: toVip }),
    // One logic in three languages (tests/nf.test.ts holds them to the same verdicts and bytes).
    ...[["assemblyscript", "portblock-as.wasm"], ["c", "portblock.wasm"], ["rust", "portblock-rs.wasm"]].map(([lang, file]) =>
      ({ name: "portblock", lang, file, dir: 0, manifest: portblock, params: [], extra: [53, 6379, -1, 8080, 80], frames: ports })),
  ];
}

/**
 * The manifest that runs the workload's native baseline (native/nf/samples.c) compiled by clang
 * to Wasm (build/nf/baseline.wasm, native/nf/wasm.c): the same C through the engine, so the gap
 * between it and the native build is the engine's, and the gap between it and the sample's own
 * Wasm is the toolchain's and the SDK's.
 */
export function baselineManifest(w: Workload, fuel = 0): Manifest {
  const config = { sample: w.name, params: w.params.join(","), extra: w.extra.join(",") };
  return parseManifest({ name: `${w.name}-baseline`, module: `${nfDir}baseline.wasm`, fuel, memory_pages: 256, config });
}

/**
 * The harness, the same for Wasm and C: the 1024 frames of a workload lie 64 bytes apart in the
 * area's packet region; each burst points its 32 descriptors at the next 32 and restores them
 * from a pristine copy first (NAT and Maglev rewrite what they see), as 8-byte words.
 */
function harness(area: Uint8Array, areaOff: number, pristine: Float64Array, call: ((n: number) => void) | null, bursts: number): number {
  const u32 = new Uint32Array(area.buffer, area.byteOffset + areaOff, DATA >> 2);
  const f64 = new Float64Array(area.buffer, area.byteOffset + areaOff + DATA, FLOWS * 8);
  const t0 = performance.now();
  let next = 0;
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < BURST; i++) {
      const j = next, w = j * 8;
      next = (next + 1) & (FLOWS - 1);
      for (let k = 0; k < 8; k++) f64[w + k] = pristine[w + k];
      const d = (DESC + i * DESC_SIZE) >> 2;             // off, len, verdict, arg
      u32[d] = DATA + j * 64; u32[d + 1] = 64; u32[d + 2] = 0; u32[d + 3] = 0;
    }
    if (call) call(BURST);
  }
  return (performance.now() - t0) * 1e6 / (bursts * BURST);
}

/** The same frames as a link hands them to a chain (a batch in a datapath's memory), through `chain` (or not). */
function chainHarness(b: FrameBatch, pristine: Float64Array, chain: Chain | null, bursts: number): number {
  const f64 = new Float64Array(b.mem.buffer, b.mem.byteOffset, FLOWS * 8);
  const t0 = performance.now();
  let next = 0;
  for (let r = 0; r < bursts; r++) {
    for (let i = 0; i < BURST; i++) {
      const j = next, w = j * 8;
      next = (next + 1) & (FLOWS - 1);
      for (let k = 0; k < 8; k++) f64[w + k] = pristine[w + k];
      b.off[i] = j * 64; b.len[i] = 64; b.cap[i] = 64;
    }
    b.count = BURST;
    if (chain) chain.run(b);
  }
  return (performance.now() - t0) * 1e6 / (bursts * BURST);
}

function pristineOf(frames: Uint8Array[]): Float64Array {
  const b = new Uint8Array(FLOWS * 64);
  frames.forEach((f, i) => b.set(f, i * 64));
  return new Float64Array(b.buffer);
}

export async function benchNf(_config: Config, o: BenchOptions): Promise<Record<string, unknown>> {
  const say = (s: string) => { if (!o.json) process.stdout.write(s + "\n"); else process.stderr.write(s + "\n"); };
  const native = nfNative();
  const bursts = o.quick ? 2000 : 20_000, rounds = o.quick ? 3 : 25;
  let clock = 1e12;
  const now = () => clock;
  const hasBaseline = existsSync(`${nfDir}baseline.wasm`);
  if (!hasBaseline) say("the native baselines as Wasm: not built here (scripts/build-nf.mjs needs clang for wasm32)");
  const nfs: { name: string; lang: string; wasmNs: number; nativeNs: number; meteredNs: number; copyNs: number; clangWasmNs: number | null; wasmToNative: number; meteringOverhead: number }[] = [];
  for (const w of workloads()) {
    if (!existsSync(`${nfDir}${w.file}`)) { say(`${w.name} (${w.lang}): not built here (scripts/build-nf.mjs says which toolchain is missing)`); continue; }
    const man = (fuel: number): Manifest => parseManifest({ name: w.name, module: `${nfDir}${w.file}`, fuel, ...w.manifest });
    const plain = new Nf(man(0), new MapSet([]), now), metered = new Nf(man(10_000_000), new MapSet([]), now);
    const clang = hasBaseline ? new Nf(baselineManifest(w), new MapSet([]), now) : null;
    const c = native.open(w.name, Float64Array.from(w.params), Float64Array.from(w.extra));
    const carea = new Uint8Array(AREA_BYTES);
    const chdr = new Uint32Array(carea.buffer, 0, 4);
    chdr[2] = w.dir;
    const cnow = new Float64Array(carea.buffer, 16, 1);
    const pf = pristineOf(w.frames);
    const chain = new Chain([man(0)], 0, w.dir as 0 | 1, 1, new MapSet([]), now), batch = newBatch(new Uint8Array(FLOWS * 64));
    const runs = {
      chainBase: () => chainHarness(batch, pf, null, bursts),
      chain: () => chainHarness(batch, pf, chain, bursts),
      copy: () => harness(carea, 0, pf, null, bursts),
      wasm: () => harness(plain.memory, plain.areaOffset, pf, (n) => plain.run(n, 0, w.dir), bursts),
      metered: () => harness(metered.memory, metered.areaOffset, pf, (n) => metered.run(n, 0, w.dir), bursts),
      clang: () => clang === null ? 0 : harness(clang.memory, clang.areaOffset, pf, (n) => clang.run(n, 0, w.dir), bursts),
      native: () => harness(carea, 0, pf, (n) => { chdr[0] = n; cnow[0] = clock; native.process(c, carea, n); }, bursts),
    };
    for (let k = 0; k < 3; k++) for (const r of Object.values(runs)) r();   // warm-up: V8 tiers up (in the background), maps fill
    const t: Record<keyof typeof runs, number[]> = { chainBase: [], chain: [], copy: [], wasm: [], metered: [], clang: [], native: [] };
    for (let r = 0; r < rounds; r++) for (const k of Object.keys(runs) as (keyof typeof runs)[]) { clock += 1e6; t[k].push(runs[k]()); }
    const copy = median(t.copy);
    const wasmNs = +Math.max(0.01, median(t.wasm) - copy).toFixed(2);
    const meteredNs = +Math.max(0.01, median(t.metered) - copy).toFixed(2);
    const nativeNs = +Math.max(0.01, median(t.native) - copy).toFixed(2);
    const clangWasmNs = clang === null ? null : +Math.max(0.01, median(t.clang) - copy).toFixed(2);
    // What the chain adds to the NF's own work per packet: the copy in and out, descriptors, verdicts.
    const copyNs = +Math.max(0.01, median(t.chain) - median(t.chainBase) - wasmNs).toFixed(2);
    const traps = plain.stats.traps + metered.stats.traps + chain.nfs[0].stats.traps + (clang?.stats.traps ?? 0);
    if (traps > 0) throw new Error(`demiwasm: bench nf: ${w.name} trapped ${traps} times`);
    const row = { name: w.name, lang: w.lang, wasmNs, nativeNs, meteredNs, copyNs, clangWasmNs, wasmToNative: +(wasmNs / nativeNs).toFixed(2), meteringOverhead: +(meteredNs / wasmNs - 1).toFixed(3) };
    nfs.push(row);
    say(`${`${w.name} (${w.lang === "assemblyscript" ? "AS" : w.lang === "c" ? "C" : "Rust"})`.padEnd(17)} Wasm ${wasmNs.toFixed(2)} ns/pkt, metered ${meteredNs.toFixed(2)} (+${(row.meteringOverhead * 100).toFixed(1)}%), ` +
        `native C ${nativeNs.toFixed(2)} (Wasm/C ${row.wasmToNative})` +
        (clangWasmNs === null ? "" : `, that C as Wasm ${clangWasmNs.toFixed(2)} (${(clangWasmNs / nativeNs).toFixed(2)}×)`) + `; chain copy ${copyNs.toFixed(2)} ns/pkt`);
  }
  return { nfs, burst: BURST, goals: { wasmToNative: 1.2, meteredToWasm: 1.05 } };
}

// `demiwasm nf run CHAIN` and `demiwasm nf stats`: a chain file puts NF chains on the server's
// port ("in": frames arriving, "out": frames leaving), UDP echo traffic runs through them on the
// loopback link or DPDK, and per-NF stats go to a file `nf stats` prints. With --watch, a changed
// manifest or module is hot-reloaded between bursts.
import { readFileSync, writeFileSync, watch, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Config } from "../config.js";
import { Chain, sharedMaps } from "./chain.js";
import { loadManifest, parseManifest, ManifestError, type Manifest } from "./manifest.js";
import type { NfStats } from "./sandbox.js";

export const DEFAULT_STATS_FILE = join(tmpdir(), "demiwasm-nf-stats.json");

export interface ChainFile { in: Manifest[]; out: Manifest[]; sources: Map<string, string> }

/** Reads a chain file: `in:` and `out:` lists of manifest paths (relative to it) or inline manifests. */
export function loadChainFile(path: string): ChainFile {
  let doc: unknown;
  try { doc = parseYaml(readFileSync(path, "utf8")); } catch (e) { throw new ManifestError(path, (e as Error).message.split("\n")[0]); }
  if (typeof doc !== "object" || doc === null) throw new ManifestError(path, "expected a mapping with in: and/or out:");
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== "in" && k !== "out") throw new ManifestError(`${path} key '${k}'`, "unknown key (a chain file has in: and out:)");
  const base = dirname(resolve(path));
  const sources = new Map<string, string>();
  const list = (k: "in" | "out"): Manifest[] => {
    const v = d[k] ?? [];
    if (!Array.isArray(v)) throw new ManifestError(`${path} key '${k}'`, "expected a list of manifests");
    return v.map((item) => {
      if (typeof item === "string") {
        const file = resolve(base, item);
        const m = loadManifest(file);
        sources.set(m.name, file);
        return m;
      }
      return parseManifest(item, base, `${path} ${k}`);
    });
  };
  const out = { in: list("in"), out: list("out"), sources };
  if (out.in.length + out.out.length === 0) throw new ManifestError(path, "names no NF");
  return out;
}

export function formatStats(all: NfStats[]): string {
  const head = ["nf", "in", "passed", "dropped", "tx", "redirect", "traps", "quarantined", "fuel/burst", "ns/burst"];
  const rows = all.map((s) => [s.name, s.packetsIn, s.passed, s.dropped, s.transmitted, s.redirected,
    s.traps + (s.traps ? ` (${Object.entries(s.trapsByKind).map(([k, n]) => `${k} ${n}`).join(", ")})` : ""),
    s.quarantined ? "yes" : "no", s.bursts ? Math.round(s.fuelUsed / s.bursts) : 0, Math.round(s.nsPerBurst)].map(String));
  return table(head, rows, false);
}

/** Columns two spaces apart, each as wide as its widest cell; numbers right-aligned when asked. */
function table(head: string[], rows: string[][], numbersRight: boolean): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => (numbersRight && i > 0 ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ")).join("\n");
}

/** One NF's figures over the last interval: what `nf run` on a terminal and `nf stats --watch` draw. */
export interface NfRate {
  name: string; pps: number; passedPerS: number; droppedPerS: number; trapsPerS: number;
  fuelPerPacket: number; nsPerPacket: number; quarantined: boolean;
}

/** Rates between two snapshots of the same NFs taken `seconds` apart (from zero when `prev` is null). */
export function nfRates(prev: readonly NfStats[] | null, cur: readonly NfStats[], seconds: number): NfRate[] {
  return cur.map((s, i) => {
    const p = prev?.[i]?.name === s.name ? prev[i] : null;
    const d = (k: "packetsIn" | "passed" | "dropped" | "traps" | "fuelUsed") => s[k] - (p ? p[k] : 0);
    const perBurst = s.bursts > 0 ? s.packetsIn / s.bursts : 0;
    return {
      name: s.name, pps: d("packetsIn") / seconds, passedPerS: d("passed") / seconds, droppedPerS: d("dropped") / seconds,
      trapsPerS: d("traps") / seconds, fuelPerPacket: d("packetsIn") > 0 ? d("fuelUsed") / d("packetsIn") : 0,
      nsPerPacket: perBurst > 0 ? s.nsPerBurst / perBurst : 0, quarantined: s.quarantined,
    };
  });
}

const rate = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));

export function formatRates(rows: readonly NfRate[]): string {
  const head = ["nf", "pkt/s", "passed/s", "dropped/s", "traps/s", "fuel/pkt", "ns/pkt", "quarantined"];
  const cells = rows.map((r) => [r.name, rate(r.pps), rate(r.passedPerS), rate(r.droppedPerS), rate(r.trapsPerS),
    r.fuelPerPacket.toFixed(0), r.nsPerPacket.toFixed(1), r.quarantined ? "yes" : "no"]);
  return table(head, cells, true);
}

/** Draws `text` over what the last call drew (a terminal's cursor moved up, lines cleared). */
export class Redraw {
  private lines = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}
  draw(text: string): void {
    this.out.write((this.lines > 0 ? `\x1b[${this.lines}F\x1b[J` : "") + text + "\n");
    this.lines = text.split("\n").length;
  }
}

export interface NfRunTarget {
  /** Puts chains on the server's port. */
  attach(dir: "in" | "out", chain: Chain): void;
  ports: number;
  now(): number;
}

/** Builds the chains of a chain file on a target; returns them and a reload function. */
export function installChains(file: ChainFile, target: NfRunTarget): { chains: Chain[]; reload(name: string): void } {
  const shared = sharedMaps([...file.in, ...file.out]);
  const chains: Chain[] = [];
  if (file.in.length) { const c = new Chain(file.in, 0, 0, target.ports, shared, target.now); target.attach("in", c); chains.push(c); }
  if (file.out.length) { const c = new Chain(file.out, 0, 1, target.ports, shared, target.now); target.attach("out", c); chains.push(c); }
  return {
    chains,
    reload: (name: string) => {
      const src = file.sources.get(name);
      if (!src) return;
      for (const c of chains) if (c.nfs.some((n) => n.name === name)) c.replace(name, src);
    },
  };
}

/** Watches each manifest and its module; calls `changed(name)` (debounced by the caller's loop). */
export function watchSources(file: ChainFile, changed: (name: string) => void): () => void {
  const modules = new Map([...file.in, ...file.out].map((m) => [m.name, m.module]));
  const watchers = [...file.sources.entries()].flatMap(([name, path]) =>
    [path, modules.get(name)!].filter(existsSync).map((p) => watch(p, () => changed(name))));
  return () => { for (const w of watchers) w.close(); };
}

export function writeStats(path: string, chains: Chain[]): void {
  const all = chains.flatMap((c) => c.nfStats().map((s) => ({ ...s, dir: c.dir === 0 ? "in" : "out" })));
  writeFileSync(path, JSON.stringify({ at: new Date().toISOString(), pid: process.pid, nfs: all }, null, 2));
}

interface StatsDoc { at: string; pid: number; nfs: NfStats[] }

function readStatsFile(path: string): StatsDoc {
  try { return JSON.parse(readFileSync(path, "utf8")); } catch {
    throw new Error(`demiwasm: no NF stats at ${path}: run 'demiwasm nf run CHAIN' first (or give the file it wrote)`);
  }
}

export function printStatsFile(path: string): string {
  const doc = readStatsFile(path);
  return `NF stats of pid ${doc.pid} at ${doc.at}\n${formatStats(doc.nfs)}`;
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch (e) { return (e as { code?: string }).code === "EPERM"; } };

/**
 * `nf stats --watch`: once a second, the rates between the last two snapshots `nf run` wrote —
 * redrawn on a terminal, one JSON object per line with `json`, nothing while piped otherwise —
 * until the writer exits; then the totals. Resolves when done.
 */
export function watchStatsFile(path: string, json: boolean, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  let prev = readStatsFile(path);
  const redraw = out.isTTY && !json ? new Redraw(out) : null;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      let cur: StatsDoc;
      try { cur = readStatsFile(path); } catch { cur = prev; }
      const seconds = (Date.parse(cur.at) - Date.parse(prev.at)) / 1000;
      if (seconds > 0) {
        const rows = nfRates(prev.nfs, cur.nfs, seconds);
        if (json) out.write(JSON.stringify({ at: cur.at, pid: cur.pid, nfs: rows }) + "\n");
        else redraw?.draw(`NF rates of pid ${cur.pid} at ${cur.at}\n${formatRates(rows)}`);
        prev = cur;
      }
      if (!alive(cur.pid)) {
        clearInterval(timer);
        if (!json) out.write(`pid ${cur.pid} has exited; its last stats:\n${formatStats(cur.nfs)}\n`);
        resolve();
      }
    }, 1000);
  });
}

export function nfTargetOf(config: Config): string | null {
  return config.backend === "loopback" || config.backend === "dpdk" ? null
    : `nf run needs a physical backend (loopback or dpdk): the ${config.backend} backend carries no frames to hand to an NF`;
}

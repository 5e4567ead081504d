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
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i])).join("  ")).join("\n");
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

export function printStatsFile(path: string): string {
  let doc: { at: string; pid: number; nfs: NfStats[] };
  try { doc = JSON.parse(readFileSync(path, "utf8")); } catch {
    throw new Error(`demiwasm: no NF stats at ${path}: run 'demiwasm nf run CHAIN' first (or give the file it wrote)`);
  }
  return `NF stats of pid ${doc.pid} at ${doc.at}\n${formatStats(doc.nfs)}`;
}

export function nfTargetOf(config: Config): string | null {
  return config.backend === "loopback" || config.backend === "dpdk" ? null
    : `nf run needs a physical backend (loopback or dpdk): the ${config.backend} backend carries no frames to hand to an NF`;
}

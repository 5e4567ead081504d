// The NF sandbox from code: `import { attachChain, loadManifest } from "demiwasm/nf"`. A module of
// its own so that `import "demiwasm"` does not load binaryen (the loader's structural check and
// fuel metering) unless a program uses NFs.
import { LibOS } from "../libos.js";
import { Stack } from "../stack/stack.js";
import { Chain, sharedMaps } from "./chain.js";
import { loadManifest, type Manifest } from "./manifest.js";
import type { NfStats } from "./sandbox.js";

export { Chain, sharedMaps, type ChainStats } from "./chain.js";
export { loadManifest, parseManifest, ManifestError, type Manifest, type MapSpec, type MapKind } from "./manifest.js";
export { NfLoadError, ALLOWED_IMPORTS } from "./loader.js";
export { loadChainFile, installChains, formatStats, type ChainFile } from "./run.js";
export { Verdict, newBatch, MAX_BURST, type FrameBatch } from "./abi.js";
export type { NfStats } from "./sandbox.js";

/** A chain on a port, as attachChain returns it. */
export interface AttachedChain {
  readonly chain: Chain;
  /** Per-NF counters: packets in, verdicts, traps by kind, fuel, time, the NF's own counters. */
  stats(): NfStats[];
  /** Replaces one NF (by manifest name) between bursts: a manifest, or a manifest file's path. */
  replace(name: string, next: Manifest | string): void;
  /** Takes the chain off the port; frames pass it by from the next burst on. */
  detach(): void;
}

/**
 * Puts a chain of NFs on the port of a Wasm stack: "in" sees the frames the port receives for the
 * stack, "out" the frames the stack sends. `on` is a LibOS on the loopback link or a DPDK port,
 * or a Stack over one (then its driver also calls the NFs' nf_tick, at most once a millisecond).
 * Each entry of `nfs` is a manifest or a manifest file's path. A chain replaces the one already
 * in that direction. Throws one line (ManifestError, NfLoadError) for a manifest or module that
 * is refused.
 */
export function attachChain(on: LibOS | Stack, dir: "in" | "out", nfs: readonly (Manifest | string)[]): AttachedChain {
  const stack = on instanceof Stack ? on : null;
  const libos = stack !== null ? stack.libos : on;
  if (!(libos instanceof LibOS)) throw new Error("demiwasm: NF chains go on a physical port (loopback or dpdk); this backend carries no frames");
  const manifests = nfs.map((m) => typeof m === "string" ? loadManifest(m) : m);
  const link = libos.link;
  const now = () => libos.clock.now() / 1e6;
  const set = (c: Chain | null) => link.attachChain(libos, dir, c);
  const chain = new Chain(manifests, 0, dir === "in" ? 0 : 1, link.ports, sharedMaps(manifests), now);
  set(chain);
  let lastTick = -Infinity;
  const untick = stack?.onTurn(() => {
    const t = now();
    if (t - lastTick >= 1) { lastTick = t; chain.tick(t); }
  }) ?? (() => {});
  return {
    chain,
    stats: () => chain.nfStats(),
    replace: (name, next) => chain.replace(name, next),
    detach: () => { untick(); set(null); },
  };
}

// An ordered chain of NFs for one port and direction. A burst of frames goes through the NFs in
// order: a frame an NF passes goes on to the next one, any other verdict ends its way through
// the chain. The chain leaves the frames rewritten in place and tells the backend, per frame,
// what to do: pass (on to the stack, or to the wire), drop, transmit back out the port it came
// in on, or redirect to another port. Replacing an NF happens between bursts, so a running flow
// loses and reorders nothing.
import { Nf, type NfStats } from "./sandbox.js";
import { Verdict, MAX_BURST, type FrameBatch } from "./abi.js";
import { MapSet } from "./maps.js";
import { loadManifest, type Manifest } from "./manifest.js";
import { Views, copyExact } from "../link/copy.js";

export interface ChainStats { frames: number; passed: number; dropped: number; transmitted: number; redirected: number; tooLong: number }

export class Chain {
  readonly nfs: Nf[];
  readonly stats: ChainStats = { frames: 0, passed: 0, dropped: 0, transmitted: 0, redirected: 0, tooLong: 0 };
  private readonly idx = new Int32Array(MAX_BURST);
  // Where each live frame's current bytes are: in the batch's memory (null), or in the area of
  // the NF that last passed it, at `at`. A frame moves from NF to NF and back to the batch once,
  // when its way through the chain ends.
  private readonly holder: (Nf | null)[] = new Array(MAX_BURST).fill(null);
  private readonly at = new Uint32Array(MAX_BURST);
  private mem: Views | null = null;

  /** `ports`: how many ports a REDIRECT may name; `shared`: the maps NFs of this chain share. */
  constructor(manifests: Manifest[], readonly port: number, readonly dir: 0 | 1, readonly ports = 1,
              readonly shared: MapSet = sharedMaps(manifests), now?: () => number) {
    this.nfs = manifests.map((m) => new Nf(m, shared, now));
  }

  /** Frame i's bytes back into the batch's memory, when an NF holds them. */
  private settle(b: FrameBatch, i: number): void {
    const nf = this.holder[i];
    if (nf === null) return;
    copyExact(this.mem!, b.off[i], nf.views, this.at[i], b.len[i]);
    this.holder[i] = null;
  }

  /** Runs a burst (at most MAX_BURST frames) through the chain, setting each frame's verdict. */
  run(b: FrameBatch): void {
    const n = b.count, idx = this.idx, holder = this.holder, at = this.at;
    const mem = this.mem = Views.of(this.mem, b.mem);
    let live = 0;
    for (let i = 0; i < n; i++) {
      holder[i] = null;
      if (b.len[i] > 2048) { b.verdict[i] = Verdict.DROP; this.stats.tooLong++; continue; }   // larger than an NF slot
      b.verdict[i] = Verdict.PASS;
      idx[live++] = i;
    }
    for (const nf of this.nfs) {
      if (live === 0) break;
      const s = nf.stats;
      if (s.quarantined) {
        if (nf.manifest.quarantined === "drop") {
          for (let k = 0; k < live; k++) b.verdict[idx[k]] = Verdict.DROP;
          s.dropped += live;
          live = 0;
        }
        continue;                                  // bypass
      }
      const snap = nf.manifest.snaplen;
      for (let k = 0; k < live; k++) {
        const i = idx[k], h = holder[i];
        // An NF that sees part of a frame needs the rest where it stays: in the batch.
        if (h !== null && b.len[i] > snap) this.settle(b, i);
        const from = holder[i];
        nf.write(k, from === null ? mem : from.views, from === null ? b.off[i] : at[i], b.len[i]);
      }
      if (!nf.run(live, this.port, this.dir)) {
        // Trapped: the whole burst gets the NF's failure policy; the others go on unchanged.
        if (nf.manifest.onTrap === "drop") {
          for (let k = 0; k < live; k++) { b.verdict[idx[k]] = Verdict.DROP; holder[idx[k]] = null; }
          s.dropped += live;
          live = 0;
        } else {
          s.passed += live;
        }
        continue;
      }
      const got = nf.got;
      // Counted in locals, added once per burst: per-packet stores into the stats object cost
      // more than the rest of the verdict's handling.
      let kept = 0, passed = 0, dropped = 0, bad = 0, sent = 0, redirected = 0;
      for (let k = 0; k < live; k++) {
        const i = idx[k];
        const v = nf.verdict(k, this.ports);
        // A snapped frame keeps its length: the NF saw only its first bytes.
        const snapped = b.len[i] > snap;
        if (v < 0 || got.len > b.cap[i] || (snapped && got.len !== snap)) {
          bad++;
          if (nf.manifest.onTrap === "drop") { b.verdict[i] = Verdict.DROP; holder[i] = null; dropped++; } else { idx[kept++] = i; passed++; }
          continue;
        }
        b.verdict[i] = v;
        b.arg[i] = got.arg;
        if (v === Verdict.DROP) { holder[i] = null; dropped++; continue; }
        // The NF's bytes become the frame's: rewrites stay within the frame's own buffer.
        if (snapped) { copyExact(mem, b.off[i], nf.views, got.off, got.len); holder[i] = null; }
        else { holder[i] = nf; at[i] = got.off; b.len[i] = got.len; }
        if (v === Verdict.PASS) { idx[kept++] = i; passed++; continue; }
        this.settle(b, i);
        if (v === Verdict.TX) sent++; else redirected++;
      }
      s.passed += passed; s.dropped += dropped; s.badVerdicts += bad; s.transmitted += sent; s.redirected += redirected;
      live = kept;
    }
    for (let k = 0; k < live; k++) this.settle(b, idx[k]);
    let passed = 0, dropped = 0, sent = 0;
    for (let i = 0; i < n; i++) {
      const v = b.verdict[i];
      if (v === Verdict.PASS) passed++; else if (v === Verdict.DROP) dropped++; else if (v === Verdict.TX) sent++;
    }
    const c = this.stats;
    c.frames += n; c.passed += passed; c.dropped += dropped; c.transmitted += sent; c.redirected += n - passed - dropped - sent;
  }

  nf(name: string): Nf {
    const nf = this.nfs.find((x) => x.name === name);
    if (!nf) throw new Error(`demiwasm: no NF '${name}' in this chain (have: ${this.nfs.map((x) => x.name).join(", ")})`);
    return nf;
  }

  /** Hot reload: the NF of that name runs `next` from the next burst on. */
  replace(name: string, next: Manifest | string): void {
    this.nf(name).reload(typeof next === "string" ? loadManifest(next) : next);
  }

  tick(nowMs: number): void { for (const nf of this.nfs) nf.tick(nowMs); }

  nfStats(): NfStats[] { return this.nfs.map((n) => n.stats.snapshot()); }
}

/** The chain's shared maps: every map some NF declares `shared` (the first declaration wins). */
export function sharedMaps(manifests: Manifest[]): MapSet {
  const specs = new Map<string, Manifest["maps"][number]>();
  for (const m of manifests) for (const s of m.maps) if (s.shared && !specs.has(s.name)) specs.set(s.name, s);
  return new MapSet([...specs.values()]);
}

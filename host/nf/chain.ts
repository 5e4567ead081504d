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

export interface ChainStats { frames: number; passed: number; dropped: number; transmitted: number; redirected: number; tooLong: number }

export class Chain {
  readonly nfs: Nf[];
  readonly stats: ChainStats = { frames: 0, passed: 0, dropped: 0, transmitted: 0, redirected: 0, tooLong: 0 };
  private readonly idx = new Int32Array(MAX_BURST);

  /** `ports`: how many ports a REDIRECT may name; `shared`: the maps NFs of this chain share. */
  constructor(manifests: Manifest[], readonly port: number, readonly dir: 0 | 1, readonly ports = 1,
              readonly shared: MapSet = sharedMaps(manifests), now?: () => number) {
    this.nfs = manifests.map((m) => new Nf(m, shared, now));
  }

  /** Runs a burst (at most MAX_BURST frames) through the chain, setting each frame's verdict. */
  run(b: FrameBatch): void {
    const n = b.count, idx = this.idx;
    let live = 0;
    for (let i = 0; i < n; i++) {
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
      for (let k = 0; k < live; k++) nf.write(k, b.mem, b.off[idx[k]], b.len[idx[k]]);
      if (!nf.run(live, this.port, this.dir)) {
        // Trapped: the whole burst gets the NF's failure policy; the others go on unchanged.
        if (nf.manifest.onTrap === "drop") {
          for (let k = 0; k < live; k++) b.verdict[idx[k]] = Verdict.DROP;
          s.dropped += live;
          live = 0;
        } else {
          s.passed += live;
        }
        continue;
      }
      const mem = nf.memory;
      let kept = 0;
      for (let k = 0; k < live; k++) {
        const i = idx[k];
        const r = nf.verdict(k, this.ports);
        if (r.v < 0 || r.len > b.cap[i]) {
          s.badVerdicts++;
          if (nf.manifest.onTrap === "drop") { b.verdict[i] = Verdict.DROP; s.dropped++; } else { idx[kept++] = i; s.passed++; }
          continue;
        }
        // The NF's bytes become the frame's: rewrites stay within the frame's own buffer.
        b.mem.set(mem.subarray(r.off, r.off + r.len), b.off[i]);
        b.len[i] = r.len;
        b.verdict[i] = r.v;
        b.arg[i] = r.arg;
        if (r.v === Verdict.PASS) { idx[kept++] = i; s.passed++; }
        else if (r.v === Verdict.DROP) s.dropped++;
        else if (r.v === Verdict.TX) s.transmitted++;
        else s.redirected++;
      }
      live = kept;
    }
    const c = this.stats;
    c.frames += n;
    for (let i = 0; i < n; i++) {
      const v = b.verdict[i];
      if (v === Verdict.PASS) c.passed++; else if (v === Verdict.DROP) c.dropped++; else if (v === Verdict.TX) c.transmitted++; else c.redirected++;
    }
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

  nfStats(): NfStats[] { return this.nfs.map((n) => ({ ...n.stats, trapsByKind: { ...n.stats.trapsByKind }, counters: [...n.stats.counters] })); }
}

/** The chain's shared maps: every map some NF declares `shared` (the first declaration wins). */
export function sharedMaps(manifests: Manifest[]): MapSet {
  const specs = new Map<string, Manifest["maps"][number]>();
  for (const m of manifests) for (const s of m.maps) if (s.shared && !specs.has(s.name)) specs.set(s.name, s);
  return new MapSet([...specs.values()]);
}

// A seeded fault injector for any link: it loses, corrupts, duplicates, reorders and delays
// frames, and prints its seed so a run can be replayed. It decides and holds; the link it wraps
// says where a frame goes (`out`), so the loopback switch and a DPDK port share one behaviour.
import { Rng, randomSeed } from "../rng.js";

export interface LinkFaults {
  loss: number;        // probability a frame is lost
  reorder: number;     // probability a frame is held back behind the next one
  duplicate: number;   // probability a frame is delivered twice
  corrupt: number;     // probability one bit of a frame is flipped
  delay_ms: number;    // frames are delayed uniformly in [0, delay_ms]
  seed: number | null;
}

export const NO_FAULTS: LinkFaults = { loss: 0, reorder: 0, duplicate: 0, corrupt: 0, delay_ms: 0, seed: null };

export interface FaultStats { lost: number; reordered: number; duplicated: number; corrupted: number; delayed: number }

/** Where a frame that survived goes: `from` is the link's own tag for its sender. */
export type FaultOut<T> = (from: T, bytes: Uint8Array, off: number, len: number) => void;

interface Held<T> { bytes: Uint8Array; due: number; from: T }

export class FaultInjector<T> {
  readonly faults: LinkFaults;
  readonly seed: number;
  /** False when every probability is 0: the link skips the injector (and its copies) entirely. */
  readonly active: boolean;
  readonly stats: FaultStats = { lost: 0, reordered: 0, duplicated: 0, corrupted: 0, delayed: 0 };
  private readonly rng: Rng;
  private held: Held<T>[] = [];       // reordered: released on the next turn
  private delayed: Held<T>[] = [];    // delayed: released when due, kept sorted by due time

  constructor(faults: Partial<LinkFaults>, what: string, quiet = false) {
    this.faults = { ...NO_FAULTS, ...faults };
    this.seed = this.faults.seed ?? randomSeed();
    this.rng = new Rng(this.seed);
    const f = this.faults;
    this.active = f.loss > 0 || f.reorder > 0 || f.duplicate > 0 || f.corrupt > 0 || f.delay_ms > 0;
    if (this.active && !quiet) {
      process.stderr.write(`demiwasm: ${what} faults ${JSON.stringify({ ...f, seed: this.seed })} ` +
        `(replay with DEMIWASM_LINK_SEED=${this.seed})\n`);
    }
  }

  /** One frame onto the faulty wire: sent on now through `out`, held, or lost. Copies the bytes. */
  transmit(from: T, u8: Uint8Array, off: number, len: number, now: number, out: FaultOut<T>): void {
    const f = this.faults, rng = this.rng;
    if (rng.float() < f.loss) { this.stats.lost++; return; }
    let bytes = u8.slice(off, off + len);
    if (rng.float() < f.corrupt) {
      const bit = rng.below(len * 8);
      bytes[bit >> 3] ^= 1 << (bit & 7);
      this.stats.corrupted++;
    }
    const copies = rng.float() < f.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      if (f.delay_ms > 0) {
        this.insertDelayed({ bytes, due: now + rng.float() * f.delay_ms * 1e6, from });
        this.stats.delayed++;
      } else if (rng.float() < f.reorder) {
        this.held.push({ bytes, due: now, from });
        this.stats.reordered++;
      } else {
        out(from, bytes, 0, len);
      }
      if (c === 0 && copies === 2) bytes = bytes.slice();
    }
  }

  /** Releases what was reordered last turn and what is due; returns how many frames. */
  release(now: number, out: FaultOut<T>): number {
    if (this.held.length === 0 && (this.delayed.length === 0 || this.delayed[0].due > now)) return 0;
    let n = 0;
    const held = this.held;
    this.held = [];
    for (const h of held) { out(h.from, h.bytes, 0, h.bytes.length); n++; }
    while (this.delayed.length > 0 && this.delayed[0].due <= now) {
      const h = this.delayed.shift()!;
      out(h.from, h.bytes, 0, h.bytes.length);
      n++;
    }
    return n;
  }

  /** When the next held frame is due (now when one was reordered), Infinity when none is held. */
  nextDue(now: number): number {
    if (this.held.length > 0) return now;
    return this.delayed.length > 0 ? this.delayed[0].due : Infinity;
  }

  private insertDelayed(h: Held<T>): void {
    let i = this.delayed.length;
    while (i > 0 && this.delayed[i - 1].due > h.due) i--;
    this.delayed.splice(i, 0, h);
  }
}

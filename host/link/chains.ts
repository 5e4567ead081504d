// NF chains on one port of any link: an "out" chain over the frames the stack queued before the
// link takes them, an "in" chain over what the link delivered before the stack polls. Verdicts
// act through the link (PortActions), so the loopback switch and a DPDK port carry chains the
// same way. The Chain itself (and binaryen, which loads NF modules) is only a type here: a link
// without chains never loads the sandbox.
import type { Chain } from "../nf/chain.js";
import { newBatch, Verdict, MAX_BURST, SLOT, type FrameBatch } from "../nf/abi.js";
import type { Rings } from "../rings.js";
import { RX_FORWARD, LEN_MASK } from "../schema/layout.js";

/** What a verdict other than PASS and DROP does: the link's business. */
export interface PortActions {
  /**
   * Zero-copy: the bits a ring entry's length word gets so the frame leaves from its own slot by
   * port `port` of the link (null: back out of this one, an in chain's TX) — for an rx entry with
   * RX_FORWARD beside them; or -1 when this link cannot (the frame then goes by copy, below).
   */
  egress(port: number | null): number;
  /** TX from an in chain, as a copy: the frame goes back out of the port it arrived on. */
  transmit(mem: Uint8Array, off: number, len: number): void;
  /** REDIRECT as a copy: the frame goes out of port `port` of the link (Chain checked it is below `ports`). */
  redirect(port: number, mem: Uint8Array, off: number, len: number): void;
}

export type Direction = "in" | "out";

export class PortChains {
  in: Chain | null = null;
  out: Chain | null = null;
  private readonly batch: FrameBatch = newBatch(new Uint8Array(0));
  /** The tx ring index up to which the out chain has run (its verdicts are in the ring). */
  private txFiltered = 0;
  private scratch: Uint8Array | null = null;

  /** Puts a chain on (or, with null, takes it off) one direction. */
  set(dir: Direction, chain: Chain | null): void {
    if (dir === "in") this.in = chain; else this.out = chain;
  }

  get empty(): boolean { return this.in === null && this.out === null; }

  /**
   * The out chain over the stack's unsent frames. PASS keeps a frame (and TX: on the way out,
   * "back out of its port" is out); what is kept keeps its order. A REDIRECT goes through
   * `act`; it and a DROP give their slot back to the stack as a sent frame's would come back.
   * A frame already forwarded (an egress port in its length word: an in chain's TX or REDIRECT,
   * or this chain's REDIRECT on an earlier turn) stays as it is.
   */
  filterTx(rings: Rings, mem: Uint8Array, act: PortActions): void {
    const chain = this.out;
    if (chain === null) return;
    // Entries the device did not take last turn (more than a burst queued) were filtered then:
    // start after them, so an NF sees each frame once.
    const unsent = rings.txFirst(), end = rings.txEnd();
    const first = ((this.txFiltered - unsent) >>> 0) <= ((end - unsent) >>> 0) ? this.txFiltered : unsent;
    const total = (end - first) >>> 0;
    if (total === 0) return;
    const b = this.batch;
    b.mem = mem;
    let keep = first;
    for (let done = 0; done < total; done += MAX_BURST) {
      const k = Math.min(MAX_BURST, total - done);
      let n = 0;
      for (let i = 0; i < k; i++) {
        const at = first + done + i, len = rings.txLen(at);
        if (len > LEN_MASK) continue;                       // forwarded: not this chain's
        b.off[n] = rings.txOff(at); b.len[n] = len; b.cap[n] = len; n++;
      }
      b.count = n;
      if (n > 0) chain.run(b);
      let j = 0;
      for (let i = 0; i < k; i++) {
        const at = first + done + i, word = rings.txLen(at);
        if (word > LEN_MASK) { rings.txSet(keep++, rings.txOff(at), word); continue; }
        const v = b.verdict[j], off = b.off[j], len = b.len[j], arg = b.arg[j];
        j++;
        if (v === Verdict.PASS || v === Verdict.TX) { rings.txSet(keep++, off, len); continue; }
        if (v === Verdict.REDIRECT) {
          const tag = act.egress(arg);
          if (tag >= 0) { rings.txSet(keep++, off, tag | len); continue; }
          act.redirect(arg, mem, off, len);
        }
        rings.compPush(off);
      }
    }
    rings.txTruncate(keep);
    this.txFiltered = keep;
  }

  /**
   * The in chain over received frames from index `from` up to the ring's end; returns the end
   * (where the next call starts). A frame that does not pass gets length 0: the stack frees its
   * slot and counts drop.rx_filtered.
   */
  filterRx(rings: Rings, mem: Uint8Array, from: number, act: PortActions): number {
    const end = rings.rxEnd();
    const chain = this.in;
    if (chain === null) return end;
    const total = (end - from) >>> 0;
    const b = this.batch;
    b.mem = mem;
    for (let done = 0; done < total; done += MAX_BURST) {
      const k = Math.min(MAX_BURST, total - done);
      for (let i = 0; i < k; i++) {
        const at = from + done + i;
        b.off[i] = rings.rxOff(at); b.len[i] = rings.rxLen(at); b.cap[i] = b.len[i];
      }
      b.count = k;
      chain.run(b);
      for (let i = 0; i < k; i++) {
        const at = from + done + i, v = b.verdict[i];
        if (v === Verdict.PASS) { rings.rxSetLen(at, b.len[i]); continue; }
        if (v !== Verdict.DROP) {
          // TX or REDIRECT: from the receive slot itself where the link can (the datapath moves
          // the slot to its tx ring), else as a copy.
          const tag = act.egress(v === Verdict.TX ? null : b.arg[i]);
          if (tag >= 0) { rings.rxSetLen(at, RX_FORWARD | tag | b.len[i]); continue; }
          if (v === Verdict.TX) act.transmit(mem, b.off[i], b.len[i]); else act.redirect(b.arg[i], mem, b.off[i], b.len[i]);
        }
        rings.rxSetLen(at, 0);
      }
    }
    return end;
  }

  /** The in chain over frames that live in no datapath (a scripted host's): those that pass. */
  filterFrames(frames: readonly Uint8Array[], act: PortActions): Uint8Array[] {
    const chain = this.in;
    if (chain === null) return frames.slice();
    const mem = this.scratch ??= new Uint8Array(MAX_BURST * SLOT);
    const b = this.batch;
    b.mem = mem;
    const passed: Uint8Array[] = [];
    for (let done = 0; done < frames.length; done += MAX_BURST) {
      const k = Math.min(MAX_BURST, frames.length - done);
      for (let i = 0; i < k; i++) {
        const f = frames[done + i].subarray(0, SLOT);
        mem.set(f, i * SLOT);
        b.off[i] = i * SLOT; b.len[i] = f.length; b.cap[i] = SLOT;
      }
      b.count = k;
      chain.run(b);
      for (let i = 0; i < k; i++) {
        const v = b.verdict[i], off = b.off[i], len = b.len[i];
        if (v === Verdict.PASS) passed.push(mem.slice(off, off + len));
        else if (v === Verdict.TX) act.transmit(mem, off, len);
        else if (v === Verdict.REDIRECT) act.redirect(b.arg[i], mem, off, len);
      }
    }
    return passed;
  }
}

// The host's side of the four descriptor rings of assembly/mem/ring.ts, and the only host code
// that knows their layout (the schema's): a link moves descriptors with these methods and never
// parses a frame. Indices run free and wrap at 2^32; an entry is (u32 offset, u32 length).
//
// The stack produces on tx and fill and consumes rx and comp; the link does the opposite. The
// receive side of a burst is batched: rxBegin() reads the indices once, rxTake()/rxPut() work on
// the cached copies, rxCommit() publishes them once (a burst of 32 frames costs two stores).
import type { Datapath } from "./abi.js";
import { RING_PROD, RING_CONS, RING_MASK, RING_HDR, RING_ENTRY } from "./schema/layout.js";

// In u32 words from the ring's start.
const PROD = RING_PROD >> 2, CONS = RING_CONS >> 2, MASK = RING_MASK >> 2, ENTRIES = RING_HDR >> 2;
const SHIFT = Math.log2(RING_ENTRY >> 2);   // words per entry, as a shift

export class Rings {
  private readonly u32: Uint32Array;
  private readonly fill: number;
  private readonly rx: number;
  private readonly tx: number;
  private readonly comp: number;
  // The receive side of the burst under way (rxBegin .. rxCommit).
  private fillCons = 0; private fillLeft = 0; private fillMask = 0;
  private rxProd = 0; private rxLeft = 0; private rxMask = 0;
  /** True between rxBegin and rxCommit. */
  rxOpen = false;

  constructor(dp: Datapath) {
    this.u32 = dp.u32;
    this.fill = dp.exports.ringFill() >>> 2;
    this.rx = dp.exports.ringRx() >>> 2;
    this.tx = dp.exports.ringTx() >>> 2;
    this.comp = dp.exports.ringComp() >>> 2;
  }

  /** Byte offsets of the fill, rx, tx and completion rings, for a device that moves them itself. */
  byteOffsets(): Uint32Array { return new Uint32Array([this.fill << 2, this.rx << 2, this.tx << 2, this.comp << 2]); }

  private count(r: number): number { return (this.u32[r + PROD] - this.u32[r + CONS]) >>> 0; }
  private free(r: number): number { return this.u32[r + MASK] + 1 - this.count(r); }
  private entry(r: number, i: number): number { return r + ENTRIES + ((i & this.u32[r + MASK]) << SHIFT); }

  private push(r: number, off: number, len: number): boolean {
    const prod = this.u32[r + PROD];
    if (((prod - this.u32[r + CONS]) >>> 0) > this.u32[r + MASK]) return false;
    const e = this.entry(r, prod);
    this.u32[e] = off;
    this.u32[e + 1] = len;
    this.u32[r + PROD] = prod + 1;
    return true;
  }

  // ---- tx: frames the stack wants sent, from txFirst() up to txEnd() ----
  txCount(): number { return this.count(this.tx); }
  txFirst(): number { return this.u32[this.tx + CONS]; }
  txEnd(): number { return this.u32[this.tx + PROD]; }
  /** Offset and length of unsent frame i (an absolute index from txFirst). */
  txOff(i: number): number { return this.u32[this.entry(this.tx, i)]; }
  txLen(i: number): number { return this.u32[this.entry(this.tx, i) + 1]; }
  /** The i-th unsent frame's offset, counted from the first. */
  txOffset(i: number): number { return this.txOff(this.txFirst() + i); }
  /** A filter keeps a frame at index i (compacting what it keeps toward txFirst). */
  txSet(i: number, off: number, len: number): void {
    const e = this.entry(this.tx, i);
    this.u32[e] = off;
    this.u32[e + 1] = len;
  }
  /** A filter took frames off the end: the ring ends at index end. */
  txTruncate(end: number): void { this.u32[this.tx + PROD] = end; }

  // ---- comp: slots of sent frames going back to the stack ----
  compPush(off: number): boolean { return this.push(this.comp, off, 0); }

  // ---- tx to comp, a burst at a time (links): sendBegin() reads the indices once; the k-th
  // frame of the burst is sendOff(k)/sendLen(k); sent(k, off) returns its slot; sendEnd(n)
  // publishes both rings once.
  private txCons = 0; private txMask = 0; private compProd = 0; private compMask = 0;
  /** Frames that can leave in this burst: unsent ones, as far as the completion ring has room. */
  sendBegin(): number {
    const u32 = this.u32;
    this.txCons = u32[this.tx + CONS]; this.txMask = u32[this.tx + MASK];
    this.compProd = u32[this.comp + PROD]; this.compMask = u32[this.comp + MASK];
    return Math.min((u32[this.tx + PROD] - this.txCons) >>> 0, this.compMask + 1 - ((this.compProd - u32[this.comp + CONS]) >>> 0));
  }
  sendOff(k: number): number { return this.u32[this.tx + ENTRIES + (((this.txCons + k) & this.txMask) << SHIFT)]; }
  sendLen(k: number): number { return this.u32[this.tx + ENTRIES + (((this.txCons + k) & this.txMask) << SHIFT) + 1]; }
  sent(k: number, off: number): void { this.u32[this.comp + ENTRIES + (((this.compProd + k) & this.compMask) << SHIFT)] = off; }
  sendEnd(n: number): void {
    this.u32[this.tx + CONS] = this.txCons + n;
    this.u32[this.comp + PROD] = this.compProd + n;
  }

  // ---- fill and rx, one frame at a time (scripted hosts, tests) ----
  /** Takes one empty receive slot; -1 when the stack has none to give. */
  fillTake(): number {
    if (this.count(this.fill) === 0) return -1;
    const cons = this.u32[this.fill + CONS];
    this.u32[this.fill + CONS] = cons + 1;
    return this.u32[this.entry(this.fill, cons)];
  }
  /** Capacity of the next fill slot (the stack's small-slot data room). */
  fillCapacity(): number {
    return this.count(this.fill) === 0 ? 0 : this.u32[this.entry(this.fill, this.u32[this.fill + CONS]) + 1];
  }
  fillCount(): number { return this.count(this.fill); }
  rxFree(): number { return this.free(this.rx); }
  rxPush(off: number, len: number): boolean { return this.push(this.rx, off, len); }

  // ---- rx, a burst at a time (links) ----
  rxBegin(): void {
    const u32 = this.u32;
    this.fillMask = u32[this.fill + MASK];
    this.rxMask = u32[this.rx + MASK];
    this.fillCons = u32[this.fill + CONS];
    this.fillLeft = (u32[this.fill + PROD] - this.fillCons) >>> 0;
    this.rxProd = u32[this.rx + PROD];
    this.rxLeft = this.rxMask + 1 - ((this.rxProd - u32[this.rx + CONS]) >>> 0);
    this.rxOpen = true;
  }
  /** An empty slot able to hold len bytes: its offset, NO_RX_ROOM, NO_BUFFER or TOO_LONG (the
   *  frame is larger than the receiver's frame slots: a jumbo frame to a stack at a smaller MTU). */
  rxTake(len: number): number {
    if (this.rxLeft === 0) return NO_RX_ROOM;
    if (this.fillLeft === 0) return NO_BUFFER;
    const fe = this.fill + ENTRIES + ((this.fillCons & this.fillMask) << SHIFT);
    if (this.u32[fe + 1] < len) return TOO_LONG;
    this.fillCons++;
    this.fillLeft--;
    return this.u32[fe];
  }
  /** A frame written into a slot rxTake gave. */
  rxPut(slot: number, len: number): void {
    const re = this.rx + ENTRIES + ((this.rxProd & this.rxMask) << SHIFT);
    this.u32[re] = slot;
    this.u32[re + 1] = len;
    this.rxProd++;
    this.rxLeft--;
  }
  rxCommit(): void {
    this.u32[this.fill + CONS] = this.fillCons;
    this.u32[this.rx + PROD] = this.rxProd;
    this.rxOpen = false;
  }

  // ---- rx, as a filter sees what the link delivered ----
  /** The index the next received frame will take (published frames are before it). */
  rxEnd(): number { return this.u32[this.rx + PROD]; }
  rxOff(i: number): number { return this.u32[this.entry(this.rx, i)]; }
  rxLen(i: number): number { return this.u32[this.entry(this.rx, i) + 1]; }
  /** A filter's answer for received frame i: its new length, 0 when the stack must not see it
   *  (the stack frees the slot and counts drop.rx_filtered). */
  rxSetLen(i: number, len: number): void { this.u32[this.entry(this.rx, i) + 1] = len; }
}

/** rxTake: the rx ring is full. */
export const NO_RX_ROOM = -1;
/** rxTake: no fill slot. */
export const NO_BUFFER = -2;
/** rxTake: the frame is longer than a fill slot holds. */
export const TOO_LONG = -3;

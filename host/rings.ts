// The host's side of the four descriptor rings of assembly/mem/ring.ts. A backend moves
// descriptors with these; it never parses a frame. The layout is the schema's.
import type { Datapath } from "./abi.js";
import { RING_PROD, RING_CONS, RING_MASK, RING_HDR, RING_ENTRY } from "./schema/layout.js";

// In u32 words from the ring's start.
const PROD = RING_PROD >> 2, CONS = RING_CONS >> 2, MASK = RING_MASK >> 2, ENTRIES = RING_HDR >> 2;
const ENTRY_SHIFT = Math.log2(RING_ENTRY >> 2);   // words per entry, as a shift

export const RING = { PROD, CONS, MASK, ENTRIES, SHIFT: ENTRY_SHIFT } as const;

export class Rings {
  /** Word offsets of each ring in `u32`, for backends that batch a burst by hand. */
  readonly u32: Uint32Array;
  readonly fill: number;
  readonly rx: number;
  readonly tx: number;
  readonly comp: number;

  constructor(dp: Datapath) {
    this.u32 = dp.u32;
    this.fill = dp.exports.ringFill() >>> 2;
    this.rx = dp.exports.ringRx() >>> 2;
    this.tx = dp.exports.ringTx() >>> 2;
    this.comp = dp.exports.ringComp() >>> 2;
  }

  private count(r: number): number { return (this.u32[r + PROD] - this.u32[r + CONS]) >>> 0; }
  private free(r: number): number { return this.u32[r + MASK] + 1 - this.count(r); }
  private entry(r: number, i: number): number { return r + ENTRIES + ((i & this.u32[r + MASK]) << ENTRY_SHIFT); }

  private push(r: number, off: number, len: number): boolean {
    const prod = this.u32[r + PROD];
    if (((prod - this.u32[r + CONS]) >>> 0) > this.u32[r + MASK]) return false;
    const e = this.entry(r, prod);
    this.u32[e] = off;
    this.u32[e + 1] = len;
    this.u32[r + PROD] = prod + 1;
    return true;
  }

  /** Frames the stack wants sent. */
  txCount(): number { return this.count(this.tx); }
  /** Offset and length of the i-th unsent frame. */
  txOffset(i: number): number { return this.u32[this.entry(this.tx, this.u32[this.tx + CONS] + i)]; }
  txLength(i: number): number { return this.u32[this.entry(this.tx, this.u32[this.tx + CONS] + i) + 1]; }
  txConsume(n: number): void { this.u32[this.tx + CONS] += n; }

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

  compFree(): number { return this.free(this.comp); }
  compPush(off: number): boolean { return this.push(this.comp, off, 0); }
}

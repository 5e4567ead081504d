// The PDPIX wait family, once for every backend (the Wasm stack's LibOS and the transport
// backends): a backend says how to take one completed operation and how to turn itself; waiting
// is written here, with one timeout rule.
//
// Timeouts: a wait runs the backend turn by turn and gives up (ETIMEDOUT, the qtoken still valid)
// on the first turn that ends past the deadline, counted from the wait's first turn. When a turn
// did nothing, the clock is told (Clock.idle): a real clock busy-polls on, a virtual clock jumps
// to the earlier of the deadline and the backend's next event.
import { ETIMEDOUT } from "./errno.js";
import { Opcode, timedOut, type QResult, type QResultBuffer } from "./results.js";
import type { Clock } from "./clock.js";

export abstract class WaitFamily {
  abstract readonly clock: Clock;
  /** The result if qt has completed (consuming qt), else null; never turns the backend. */
  abstract tryWait(qt: number): QResult | null;
  /** As tryWait, filling a result the caller owns; true when qt had completed. */
  abstract tryWaitInto(out: QResultBuffer, qt: number): boolean;
  /** One turn of the backend; the work done (0 when idle). */
  abstract poll(): number;
  /** The earliest time (ns) something on the backend is due; Infinity when nothing is. */
  abstract nextEvent(): number;
  /** Hands completed, untaken qtokens to `fn`, oldest first, until it returns false. */
  protected abstract eachDone(fn: (qt: number) => boolean): void;

  /** Runs the backend until qt completes, or returns a FAILED/ETIMEDOUT result (qt stays valid). */
  wait(qt: number, timeoutMs = Infinity): QResult {
    let deadline = NaN;
    for (;;) {
      const r = this.tryWait(qt);
      if (r !== null) return r;
      if (deadline !== deadline) deadline = this.clock.now() + timeoutMs * 1e6;
      if (this.turn(deadline)) return timedOut(qt);
    }
  }

  /** As wait, filling a caller-owned result; false (and `out.ret` = ETIMEDOUT) on timeout. */
  waitInto(out: QResultBuffer, qt: number, timeoutMs = Infinity): boolean {
    let deadline = NaN;
    for (;;) {
      if (this.tryWaitInto(out, qt)) return true;
      if (deadline !== deadline) deadline = this.clock.now() + timeoutMs * 1e6;
      if (this.turn(deadline)) { out.opcode = Opcode.FAILED; out.qt = qt; out.ret = ETIMEDOUT; return false; }
    }
  }

  /** Waits for the first of several qtokens; the others stay pending. */
  waitAny(qts: readonly number[], timeoutMs = Infinity): { index: number; result: QResult } {
    let deadline = NaN;
    for (;;) {
      for (let i = 0; i < qts.length; i++) {
        const r = this.tryWait(qts[i]);
        if (r !== null) return { index: i, result: r };
      }
      if (deadline !== deadline) deadline = this.clock.now() + timeoutMs * 1e6;
      if (this.turn(deadline)) return { index: -1, result: timedOut(-1) };
    }
  }

  /** Collects up to n completed operations, whichever they are; fewer when the timeout passes. */
  waitNextN(n: number, timeoutMs = Infinity): QResult[] {
    const out: QResult[] = [];
    let deadline = NaN;
    for (;;) {
      if (out.length < n) this.eachDone((qt) => { out.push(this.taken(qt)); return out.length < n; });
      if (out.length >= n) return out;
      if (deadline !== deadline) deadline = this.clock.now() + timeoutMs * 1e6;
      if (this.turn(deadline)) return out;
    }
  }

  private taken(qt: number): QResult {
    const r = this.tryWait(qt);
    if (r === null) throw new Error(`demiwasm: qtoken ${qt} was reported completed but could not be taken`);
    return r;
  }

  /** A turn of the backend; true once the deadline has passed. On an idle turn the clock may jump. */
  protected turn(deadline: number): boolean {
    const work = this.poll();
    if (this.clock.now() >= deadline) return true;
    // A real clock passes by itself; only a virtual one needs the next event (a timer scan) to jump.
    if (work === 0 && this.clock.virtual) this.clock.idle(deadline, this.nextEvent());
    return false;
  }
}

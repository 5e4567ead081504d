// Time for the datapath, in nanoseconds as a double (exact up to 104 days). The stack sees only
// what poll() is given, so a virtual clock makes every run replayable.
import { performance } from "node:perf_hooks";

export interface Clock {
  now(): number;
  /** Called when a wait found nothing to do; `next` is the earliest pending event (ns) or Infinity. */
  idle(deadline: number, next: number): void;
  readonly virtual: boolean;
}

export class RealClock implements Clock {
  readonly virtual = false;
  private readonly origin = performance.timeOrigin;
  now(): number { return (this.origin + performance.now()) * 1e6; }
  idle(): void { /* busy-poll, as a datapath does */ }
}

/** Advances only when told to, or when every stack is idle: then it jumps to the next event. */
export class VirtualClock implements Clock {
  readonly virtual = true;
  constructor(private t = 1e9) {}
  now(): number { return this.t; }
  advance(ns: number): void { this.t += ns; }
  set(ns: number): void { if (ns > this.t) this.t = ns; }
  idle(deadline: number, next: number): void {
    const to = Math.min(deadline, next);
    // Nothing scheduled and no deadline: time has nowhere to go, so step a millisecond.
    this.t = Number.isFinite(to) && to > this.t ? to : this.t + 1e6;
  }
}

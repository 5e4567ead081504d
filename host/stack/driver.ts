// The event-loop driver: turns a backend from Node's event loop and never blocks it. One driver
// per thing that moves frames (a loopback link, a DPDK port group, a transport LibOS); every stack
// on it takes its completions after each turn.
//
// Poll modes (config poll.*):
//   busy      a turn on every event-loop iteration (setImmediate): lowest latency, a core at 100%.
//   adaptive  the same while work arrives and for poll.spin_us after the last of it; then sleep:
//             - loopback: until the next timer deadline, or until an application call (every
//               queue operation kicks the driver; nothing else can put a frame on the link);
//             - posix: until a socket with pending operations is ready (libuv's epoll, see
//               native/watch.c) or an application call;
//             - dpdk, fabric: naps of 1 ms doubling up to poll.sleep_max_ms, as DPDK's
//               power-management examples back off after empty polls (a device has no readiness
//               the driver could wait on here), cut short by an application call or a deadline.
// Liveness follows node:net: the driver keeps the process alive only while a ref'd handle (a
// listening server, an open socket, a bound dgram socket) asks it to.
import type { Clock } from "../clock.js";

/** What the driver turns. */
export interface Turnable {
  /** One turn; the work done (0 when idle). */
  poll(): number;
  /** The earliest time (ns) something is due; Infinity when nothing is. */
  nextEvent(): number;
}

/** Something taking results after each turn (a Stack), or a raw application's step. */
export interface TurnClient {
  /** Takes what completed; returns how much it handled. */
  afterTurn(): number;
}

export type SleepKind = "deadline" | "readiness" | "nap";

export interface DriverOptions {
  mode: "busy" | "adaptive";
  spinUs: number;
  sleepMaxMs: number;
  sleep: SleepKind;
}

/** Turns run back to back while their own callbacks keep asking for more. */
const TURNS_PER_ITERATION = 4;

/** The longest a Node timer takes (2^31 - 1 ms): "no deadline" while something keeps us alive. */
const FOREVER_MS = 0x7fffffff;

export class Driver {
  private readonly clients = new Set<TurnClient>();
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inTurn = false;
  private again = false;
  private lastWork = 0;
  private napMs = 1;
  private refs = 0;
  private stopped = false;
  /** Turns run, and sleeps entered (for tests and `bench http`). */
  turns = 0;
  sleeps = 0;

  constructor(private readonly target: Turnable, private readonly clock: Clock, private readonly o: DriverOptions) {
    this.lastWork = clock.now();
  }

  add(c: TurnClient): void { this.clients.add(c); this.kick(); }

  /** No turn is running or scheduled: the clock of the last turn may be long past. */
  get asleep(): boolean { return this.immediate === null && !this.inTurn; }

  /** Removes a client; true when none is left (the driver has stopped). */
  remove(c: TurnClient): boolean {
    this.clients.delete(c);
    if (this.clients.size > 0) return false;
    this.stop();
    return true;
  }

  /** Something may have work: turn soon (on this event-loop iteration's check phase). */
  readonly kick = (): void => {
    if (this.stopped) return;
    if (this.inTurn) { this.again = true; return; }
    if (this.immediate !== null) return;
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    this.immediate = setImmediate(this.turn);
    // Busy polling must not keep a process alive by itself. An adaptive turn is work asked for
    // (a call, a frame, the spin after them), like a pending I/O callback: unref'd, libuv's poll
    // phase would block on the next timer and leave the turn waiting behind it.
    if (this.refs === 0 && this.o.mode === "busy") this.immediate.unref();
  };

  /** A handle that keeps the process alive (node:net's ref()). */
  ref(): void {
    if (this.refs++ !== 0) return;
    this.immediate?.ref();
    this.timer?.ref();
    // Asleep with nothing due and no timer: take one so that the process stays alive.
    if (this.immediate === null && this.timer === null && !this.inTurn) this.kick();
  }

  unref(): void {
    if (this.refs === 0) return;
    if (--this.refs === 0) { if (this.o.mode === "busy") this.immediate?.unref(); this.timer?.unref(); }
  }

  stop(): void {
    this.stopped = true;
    if (this.immediate !== null) { clearImmediate(this.immediate); this.immediate = null; }
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
  }

  private readonly turn = (): void => {
    this.immediate = null;
    this.timer = null;
    if (this.stopped) return;
    this.turns++;
    this.inTurn = true;
    let work = 0;
    try {
      // A callback of this turn that asked for more (a write, a close) gets it in this same
      // event-loop iteration, as a kernel socket's write completes at once (libuv's try_write):
      // a few turns back to back, then the loop's other work goes first.
      for (let i = 0; i < TURNS_PER_ITERATION; i++) {
        this.again = false;
        work += this.target.poll();
        for (const c of this.clients) work += c.afterTurn();
        if (!this.again || this.stopped) break;
      }
    } catch (e) {
      // An application's callback threw: it surfaces as Node's uncaught exception would, and
      // the stack goes on turning if the process does.
      this.inTurn = false;
      this.again = false;
      this.kick();
      throw e;
    }
    this.inTurn = false;
    if (this.stopped) return;
    const now = this.clock.now();
    if (work > 0 || this.again) {
      this.again = false;
      this.lastWork = now;
      this.napMs = 1;
      this.kick();
      return;
    }
    if (this.o.mode === "busy" || now - this.lastWork < this.o.spinUs * 1e3) { this.kick(); return; }
    this.sleep(now);
  };

  private sleep(now: number): void {
    this.sleeps++;
    const next = this.target.nextEvent();
    if (this.clock.virtual) {
      // A virtual clock does not pass by itself: jump to the next event and turn again.
      this.clock.idle(Infinity, next);
      this.kick();
      return;
    }
    let ms = next === Infinity ? FOREVER_MS : Math.max(0, Math.ceil((next - now) / 1e6));
    if (this.o.sleep === "nap") {
      // A device may deliver at any time and cannot wake us: nap, and a sooner deadline cuts it.
      ms = Math.min(ms, this.napMs);
      this.napMs = Math.min(this.napMs * 2, this.o.sleepMaxMs);
    }
    if (ms >= FOREVER_MS && this.refs === 0) return;   // nothing due, nothing keeps us alive: a kick wakes us
    this.timer = setTimeout(this.turn, Math.min(ms, FOREVER_MS));
    if (this.refs === 0) this.timer.unref();
  }
}

// The wait family is written once (host/waiting.ts) for the Wasm stack and the transport
// backends: one timeout rule on every backend, and a virtual clock that jumps only when idle.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { WaitFamily } from "../host/waiting.js";
import { VirtualClock } from "../host/clock.js";
import { Opcode, newResultBuffer, type QResult, type QResultBuffer } from "../host/results.js";
import { ETIMEDOUT } from "../host/errno.js";
import { loadConfig } from "../host/config.js";
import { LibOS, sockaddr } from "../host/libos.js";
import { PosixLibOS } from "../host/backends/posix.js";

/** A backend whose operations complete at given times; each turn costs `turnNs` of clock. */
class Timed extends WaitFamily {
  readonly clock = new VirtualClock(0);
  turns = 0;
  constructor(private readonly due: Map<number, number>, private readonly busy: boolean, private readonly turnNs = 1000) { super(); }
  tryWait(qt: number): QResult | null {
    const t = this.due.get(qt);
    if (t === undefined || t > this.clock.now()) return null;
    this.due.delete(qt);
    return { opcode: Opcode.PUSH, qd: 1, qt, ret: 0 };
  }
  tryWaitInto(out: QResultBuffer, qt: number): boolean {
    const r = this.tryWait(qt);
    if (r === null) return false;
    out.opcode = r.opcode; out.qt = qt; out.ret = 0;
    return true;
  }
  poll(): number { this.turns++; this.clock.advance(this.turnNs); return this.busy ? 1 : 0; }
  nextEvent(): number { let t = Infinity; for (const d of this.due.values()) t = Math.min(t, d); return t; }
  protected eachDone(fn: (qt: number) => boolean): void {
    for (const [qt, t] of this.due) if (t <= this.clock.now() && !fn(qt)) return;
  }
}

test("a busy backend times out too: the deadline counts from the first turn, whatever work is done", () => {
  const b = new Timed(new Map([[1, 1e12]]), true);
  const r = b.wait(1, 1);                          // 1 ms = 1000 turns of 1 µs
  assert.equal([r.opcode, r.ret, r.qt], [Opcode.FAILED, ETIMEDOUT, 1]);
  assert.is(b.turns, 1000);
  const out = newResultBuffer();
  assert.is(b.waitInto(out, 1, 0.5), false);
  assert.equal([out.opcode, out.ret], [Opcode.FAILED, ETIMEDOUT]);
  assert.is(b.waitAny([1], 0.5).index, -1);
});

test("an idle backend on a virtual clock jumps to its next event, not past it, and not past the deadline", () => {
  const b = new Timed(new Map([[1, 5e6], [2, 7e6], [3, 9e9]]), false);
  assert.equal(b.wait(1).qt, 1);
  assert.is(b.clock.now(), 5e6, "one idle turn, one jump to the event");
  assert.ok(b.turns <= 3, `${b.turns} turns`);
  const r = b.waitNextN(5, 10);                    // 2 is due at 7 ms; 3 is not within 10 ms
  assert.equal(r.map((x) => x.qt), [2]);
  assert.ok(b.clock.now() >= 5e6 + 10e6 && b.clock.now() <= 5e6 + 10e6 + 1000, `${b.clock.now()}`);
});

test("the Wasm stack and the posix backend answer a timed-out pop the same way", () => {
  const l = new LibOS({ config: loadConfig({ env: {}, overrides: { backend: "loopback" } }) });
  const q = l.socket();
  l.bind(q, sockaddr("198.18.0.1", 4000));
  const qt = l.pop(q);
  const r = l.wait(qt, 2);
  assert.equal([r.opcode, r.ret, r.qt], [Opcode.FAILED, ETIMEDOUT, qt]);
  l.cancel(qt);
  l.shutdown();
  const p = new PosixLibOS(loadConfig({ env: {}, overrides: { backend: "posix" } }));
  const pq = p.socket();
  p.bind(pq, sockaddr("127.0.0.1", 0));
  const pqt = p.pop(pq);
  const t0 = performance.now();
  const pr = p.wait(pqt, 20);
  assert.equal([pr.opcode, pr.ret, pr.qt], [Opcode.FAILED, ETIMEDOUT, pqt]);
  assert.ok(performance.now() - t0 >= 19, "the real clock ran the whole timeout");
  p.cancel(pqt);
  p.shutdown();
});

test.run();

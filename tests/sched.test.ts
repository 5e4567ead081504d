// Qtokens, wait/waitAny/waitNextN and the timer wheel, on a virtual clock.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pair, withHost, A_IP, B_IP, errno } from "./helpers.js";
import { Rng } from "../host/rng.js";
import { sockaddr, Opcode, type LibOS } from "../host/libos.js";
import { DemiError, EINVAL, ETIMEDOUT, ECANCELED, ENOBUFS } from "../host/errno.js";

function send(from: LibOS, qd: number, text: string, to: string, port: number): void {
  const s = from.sgaalloc(text.length);
  from.bytes(s).set(new TextEncoder().encode(text));
  assert.is(from.wait(from.pushto(qd, s, sockaddr(to, port))).ret, 0);
  from.sgafree(s);
}

test("wait times out on the virtual clock exactly, and the qtoken stays usable", () => {
  const { a, b, clock } = pair();
  const qd = a.socket();
  a.bind(qd, sockaddr(A_IP, 7));
  const qt = a.pop(qd);
  const t0 = clock.now();
  const r = a.wait(qt, 25);
  assert.is(r.opcode, Opcode.FAILED);
  assert.is(r.ret, ETIMEDOUT);
  assert.is(clock.now() - t0, 25e6);
  const tx = b.socket();
  send(b, tx, "late", A_IP, 7);
  const r2 = a.wait(qt, 1000);
  assert.is(r2.opcode, Opcode.POP);
  assert.is(new TextDecoder().decode(a.bytes(r2.sga!)), "late");
  a.sgafree(r2.sga!);
});

test("nextDeadline is the earliest timer's deadline: past, this turn of the wheel or later ones (random sets)", () => {
  const { link, s } = withHost({}, true);
  const x = s.dp.exports;
  link.poll();                                                      // the wheel has a current tick
  const now = link.clock.now(), own = x.nextDeadline();
  const rng = new Rng(11);
  for (let round = 0; round < 300; round++) {
    // Up to three revolutions of the 256 ms wheel ahead, some in the past, some in one bucket.
    const ds = Array.from({ length: 1 + rng.below(40) }, () => now + (rng.below(800_000) - 20_000) * 1e3 + (rng.below(4) === 0 ? 0.5 : 0));
    const ids = ds.map((d) => x.timerStartAt!(d));
    const want = Math.min(...ds, own < 0 ? Infinity : own);
    assert.is(x.nextDeadline(), want, `round ${round}`);
    for (const id of ids) x.timerStop!(id);
  }
  assert.is(x.nextDeadline(), own);
});

test("a taken or forged qtoken is EINVAL", () => {
  const { a } = pair();
  const qd = a.socket();
  a.bind(qd, sockaddr(A_IP, 7));
  const qt = a.connect(qd, sockaddr(B_IP, 9));
  assert.is(a.wait(qt).opcode, Opcode.CONNECT);
  assert.is(errno(() => a.wait(qt)), EINVAL);
  assert.is(errno(() => a.wait(qt + 4096 * 5)), EINVAL);
  assert.is(errno(() => a.wait(123)), EINVAL);
});

test("waitAny returns the first completed and leaves the others pending", () => {
  const { a, b } = pair();
  const q1 = a.socket(); a.bind(q1, sockaddr(A_IP, 1001));
  const q2 = a.socket(); a.bind(q2, sockaddr(A_IP, 1002));
  const t1 = a.pop(q1);
  const t2 = a.pop(q2);
  const tx = b.socket();
  send(b, tx, "two", A_IP, 1002);
  const { index, result } = a.waitAny([t1, t2], 1000);
  assert.is(index, 1);
  assert.is(result.qd, q2);
  a.sgafree(result.sga!);
  assert.is(a.isDone(t1), false);
  assert.is(a.waitAny([t1], 10).index, -1);
});

test("waitNextN collects completions in any order, up to n", () => {
  const { a, b } = pair();
  const qd = a.socket(); a.bind(qd, sockaddr(A_IP, 7));
  const pops = [a.pop(qd), a.pop(qd), a.pop(qd)];
  const tx = b.socket();
  for (const m of ["x", "y", "z"]) send(b, tx, m, A_IP, 7);
  const rs = a.waitNextN(3, 1000);
  assert.is(rs.length, 3);
  // Pops complete in the order they were issued, each with the next datagram.
  assert.equal(rs.map((r) => r.qt), pops);
  assert.equal(rs.map((r) => new TextDecoder().decode(a.bytes(r.sga!))), ["x", "y", "z"]);
  for (const r of rs) a.sgafree(r.sga!);
  assert.equal(a.waitNextN(1, 5), []);
});

test("ARP retries on the timer wheel, then fails the push with ETIMEDOUT", () => {
  const { a, clock } = pair({}, { "arp.request_timeout_ms": 100, "arp.retry_count": 3 });
  const qd = a.socket();
  const s = a.sgaalloc(10);
  const t0 = clock.now();
  const qt = a.pushto(qd, s, sockaddr("198.18.0.77", 9));
  const r = a.wait(qt, 10_000);
  assert.is(r.opcode, Opcode.FAILED);
  assert.is(r.ret, ETIMEDOUT);
  // One request and three retries, 100 ms apart; the failure comes 100 ms after the last.
  assert.is(a.counters()["arp.requests_sent"], 4);
  assert.is(clock.now() - t0, 400e6);
  assert.is(a.counters()["drop.arp_timeout"], 1);
  assert.is(a.dp.exports.timersPending(), 0);
  a.sgafree(s);
});

test("the qtoken table is bounded: ENOBUFS when full, ECANCELED for pending pops on close", () => {
  const { a } = pair();
  const total = a.dp.exports.qtokensTotal();
  const qd = a.socket(); a.bind(qd, sockaddr(A_IP, 7));
  const qts: number[] = [];
  for (;;) {
    try { qts.push(a.pop(qd)); } catch (e) { assert.is((e as DemiError).errno, ENOBUFS); break; }
  }
  assert.is(qts.length, total);
  a.close(qd);
  const r = a.wait(qts[total - 1]);
  assert.is(r.opcode, Opcode.FAILED);
  assert.is(r.ret, ECANCELED);
  assert.is(a.waitNextN(total + 1000, 0).length, total - 1);
  assert.is(a.dp.exports.qtokensFree(), a.dp.exports.qtokensTotal());
});

test.run();

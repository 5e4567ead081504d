// TCP in the Wasm stack: byte-exact transfers (SHA-256) both ways, clean and under seeded loss,
// reordering, duplication and corruption; connection setup and teardown with their errnos; the
// exact bytes of a handshake and of a reset, against a scripted host and the Linux capture.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sockaddr, Opcode, AF_INET, SOCK_STREAM, type LibOS, type Sga } from "../host/libos.js";
import { ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTCONN, EINVAL } from "../host/errno.js";
import { pair, withHost, pcapFrames, stack, mac, eth, ipv4, hex, checksum, A_IP, A_MAC, HOST_IP, HOST_MAC, type Pair } from "./helpers.js";
import { connectPair, transfer, runUntil, states, hostSegment } from "./tcp.helpers.js";
import { Rng } from "../host/rng.js";
import { LoopbackLink } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";
import { DEFAULTS } from "../host/config.js";

const SOAK = !!process.env.DEMIWASM_SOAK;

test("1 MiB each way at once over a clean link, byte-exact", () => {
  const p = pair();
  const { sa, cb } = connectPair(p);
  const r = transfer(p, [
    { from: p.b, fromQd: cb, to: p.a, toQd: sa, total: 1 << 20, seed: 1 },
    { from: p.a, fromQd: sa, to: p.b, toQd: cb, total: 1 << 20, seed: 2 },
  ]);
  for (const x of r) assert.is(x.got, x.sent);
  assert.is(p.a.counters()["tcp.retransmits"], 0);
});

test("jumbo frames (MTU 9000): 1 MiB each way byte-exact in segments of the 8960-byte MSS; a 1500-MTU peer gets 1500-byte frames", () => {
  const jumbo = { mtu: 9000, memory_mb: 64 };
  const p = pair({}, jumbo);
  const { sa, cb } = connectPair(p);
  const r = transfer(p, [
    { from: p.b, fromQd: cb, to: p.a, toQd: sa, total: 1 << 20, seed: 1 },
    { from: p.a, fromQd: sa, to: p.b, toQd: cb, total: 1 << 20, seed: 2 },
  ], 65536);
  for (const x of r) assert.is(x.got, x.sent);
  // A full segment is 14 + 20 + 32 (header with timestamps) + 8948 bytes: most frames are full.
  const c = p.b.counters();
  assert.ok(c["tx.bytes"] / c["tx.frames"] > 4000, `${c["tx.bytes"]} bytes in ${c["tx.frames"]} frames`);
  assert.ok(c["tcp.segments_out"] < 2 * ((1 << 20) / 8948) + 200, String(c["tcp.segments_out"]));
  assert.is(p.link.stats.rxNoBuffer + p.link.stats.rxTooLong, 0);
  // MSS negotiation (RFC 9293 §3.7.1) holds a jumbo stack to its peer's 1500.
  const q = pair({}, {}, jumbo);
  const k = connectPair(q);
  const r2 = transfer(q, [{ from: q.b, fromQd: k.cb, to: q.a, toQd: k.sa, total: 256 << 10, seed: 3 }], 65536);
  assert.is(r2[0].got, r2[0].sent);
  const tx = q.b.counters();
  assert.ok(tx["tx.bytes"] <= tx["tx.frames"] * 1514 && tx["tx.bytes"] / tx["tx.frames"] > 1000, `${tx["tx.bytes"]} bytes in ${tx["tx.frames"]} frames`);
  assert.is(q.link.stats.rxNoBuffer + q.link.stats.rxTooLong, 0);
});

test("a burst of segments gets one ACK at the end of the turn, and one at least every 64 KiB; slow start still doubles", () => {
  const p = pair();
  const { cb } = connectPair(p);
  const mss = p.b.tcpInfo(cb).mss;
  const cwnd0 = p.b.tcpInfo(cb).cwnd;
  const big = p.b.sgaalloc(60000);
  const tx = () => p.a.counters()["tcp.segments_out"], rx = () => p.a.counters()["rx.frames"];
  // The initial window goes out in one turn and arrives in the next as one burst.
  p.b.push(cb, big);
  let r0 = rx(), t0 = tx();
  while (rx() === r0) { r0 = rx(); t0 = tx(); p.link.poll(); }
  assert.is(rx() - r0, cwnd0 / mss, "the initial window in one burst");
  assert.is(tx() - t0, 1, "one ACK for it");
  p.link.poll();
  assert.is(p.b.tcpInfo(cb).cwnd, 2 * cwnd0, "slow start counts every byte the ACK covered");
  // A burst longer than 64 KiB gets an ACK per 64 KiB and one at the end (jumbo segments: a
  // window of 128 KiB holds more than 64 KiB of them).
  const j = pair({}, { mtu: 9000, memory_mb: 64 });
  const k = connectPair(j);
  transfer(j, [{ from: j.b, fromQd: k.cb, to: j.a, toQd: k.sa, total: 4 << 20, seed: 9 }], 65536);
  const jmss = j.b.tcpInfo(k.cb).mss, huge = j.b.sgaalloc(65536);
  const jtx = () => j.a.counters()["tcp.segments_out"], jrx = () => j.a.counters()["rx.frames"];
  j.b.push(k.cb, huge); j.b.push(k.cb, huge);
  r0 = jrx(); t0 = jtx();
  while (jrx() === r0) { r0 = jrx(); t0 = jtx(); j.link.poll(); }
  const n = jrx() - r0, per64k = Math.ceil(65536 / jmss);
  assert.ok(n > per64k, `${n} segments of ${jmss} bytes in the burst`);
  assert.is(jtx() - t0, Math.floor(n / per64k) + (n % per64k >= 2 ? 1 : 0));
});

const SEEDS = SOAK ? 50 : 20;
const BYTES = SOAK ? 64 << 20 : 192 << 10;
test(`${SEEDS} seeds of 5% loss, 5% reordering, 1% duplication, 0.1% corruption: ${BYTES >> 10} KiB each way byte-exact`, () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    const p = pair({ loss: 0.05, reorder: 0.05, duplicate: 0.01, corrupt: 0.001, seed }, { seed });
    const { sa, cb } = connectPair(p);
    const r = transfer(p, [
      { from: p.b, fromQd: cb, to: p.a, toQd: sa, total: BYTES, seed },
      { from: p.a, fromQd: sa, to: p.b, toQd: cb, total: BYTES, seed: seed + 1000 },
    ]);
    for (const x of r) assert.is(x.got, x.sent, `seed ${seed}`);
    assert.ok(p.link.stats.lost > 0, `seed ${seed}: the link lost nothing`);
  }
});

test("NewReno, selectable by config: 5 lossy seeds byte-exact", () => {
  for (let seed = 101; seed <= 105; seed++) {
    const p = pair({ loss: 0.05, reorder: 0.05, duplicate: 0.01, corrupt: 0.001, seed }, { seed, "tcp.congestion": "newreno" });
    const { sa, cb } = connectPair(p);
    assert.is(p.b.tcpInfo(cb).congestion, "newreno");
    const r = transfer(p, [{ from: p.b, fromQd: cb, to: p.a, toQd: sa, total: BYTES, seed }]);
    assert.is(r[0].got, r[0].sent, `seed ${seed}`);
  }
});

test("connect to a port with no listener is ECONNREFUSED; to a silent address, ETIMEDOUT after the SYN retries", () => {
  const p = pair({}, { "tcp.syn_retries": 2, "tcp.rto_initial_ms": 100, "arp.table": { "198.18.0.77": "02:00:00:00:00:77" } });
  const q = p.b.socket(AF_INET, SOCK_STREAM);
  const r = p.b.wait(p.b.connect(q, sockaddr(A_IP, 81)), 10_000);
  assert.is(r.opcode, Opcode.FAILED);
  assert.is(r.ret, ECONNREFUSED);
  assert.is(p.a.counters()["drop.tcp_no_listener"], 1);
  const q2 = p.b.socket(AF_INET, SOCK_STREAM);
  const t0 = p.clock.now();
  const r2 = p.b.wait(p.b.connect(q2, sockaddr("198.18.0.77", 80)), 60_000);
  assert.is(r2.ret, ETIMEDOUT);
  // SYN at 0, retries at 100 and 300 ms (doubling), failure at 700 ms.
  assert.is(p.clock.now() - t0, 700e6);
  assert.is(p.b.counters()["tcp.retransmits"], 2);
});

/**
 * `n` connections at once to one server stack from `k` client stacks, `rounds` times: each client
 * asks with its index, the server answers on the connection the question came on, all close;
 * afterwards every control block is free again on every stack, the pools are back where they
 * started and so is the server's TCP buffer memory. `server` configures the server stack.
 */
function manyConnections(n: number, rounds: number, k: number, server: Record<string, unknown>): void {
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1 }, clock, true);
  const a = stack(link, A_IP, A_MAC, { "tcp.time_wait_ms": 500, ...server });
  const perClient = Math.ceil(n / k);
  const cs = Array.from({ length: k }, (_, i) => stack(link, `198.18.0.${2 + i}`, `02:00:00:00:01:${(2 + i).toString(16).padStart(2, "0")}`,
    { "tcp.max_connections": perClient + 8, "tcp.time_wait_ms": 500, memory_mb: 32 + (perClient >> 8), "arp.table": { [A_IP]: A_MAC } }));
  // The server knows its clients' addresses, as they know its, so that what is measured is TCP.
  for (const c of cs) a.dp.exports.arpAddStatic(c.ip, ...mac(c.config.mac));
  const p = { clock, link };
  const all = [a, ...cs];
  const start = all.map((s) => s.poolAvailable());
  const heap = a.dp.exports.tcpBufferBytesFree();
  const lqd = a.socket(AF_INET, SOCK_STREAM);
  a.bind(lqd, sockaddr("198.18.0.1", 80));
  a.listen(lqd, 4096);
  let aq = a.accept(lqd);                   // always one accept pending, across rounds
  const show = (s: LibOS) => `${JSON.stringify(states(s))} ${JSON.stringify(s.counters(), (_, v) => v === 0 ? undefined : v)}`;
  const until = (what: string, cond: () => boolean) => {
    try { runUntil(p as Pair, cond); } catch {
      assert.unreachable(`${what}: never happened; server ${show(a)}; clients ${cs.map(show).join("; ")}`);
    }
  };
  const u32 = (s: LibOS, g: Sga) => new DataView(s.bytes(g).buffer, s.bytes(g).byteOffset, 4);
  // A wave's question, answer ACK and FIN reach the server in one turn: three frames a connection
  // must fit its 1024 receive descriptors, or the FINs of the last clients on the link are lost
  // and wait out their retransmission timers.
  const WAVE = 300;
  for (let round = 0; round < rounds; round++) {
    // Clients come in waves, as a real crowd ramps up: ten thousand SYNs in one turn would
    // overrun any receive ring and leave most to their SYN retries. Connection j is client j % k's.
    const clients: [LibOS, number][] = [];
    const accepted: number[] = [];
    while (clients.length < n) {
      const wave = Array.from({ length: Math.min(WAVE, n - clients.length) }, (_, i): [LibOS, number] => {
        const c = cs[(clients.length + i) % k];
        return [c, c.socket(AF_INET, SOCK_STREAM)];
      });
      const connects = wave.map(([c, qd]) => c.connect(qd, sockaddr("198.18.0.1", 80)));
      clients.push(...wave);
      until(`${clients.length} connections accepted`, () => {
        for (let r = a.tryWait(aq); r !== null; r = a.tryWait(aq)) { accepted.push(r.acceptedQd!); aq = a.accept(lqd); }
        return accepted.length === clients.length;
      });
      wave.forEach(([c], i) => assert.is(c.wait(connects[i], 0).opcode, Opcode.CONNECT));
    }
    assert.is(states(a).ESTABLISHED, n);
    // Questions go in waves too; the server has a pop on every connection and answers each on
    // the connection it came on.
    const byIndex = new Map<number, number>();
    const pops = new Map(accepted.map((qd) => [qd, a.pop(qd)]));
    for (let w = 0; w < n; w += WAVE) {
      const wave = clients.slice(w, w + WAVE);
      wave.forEach(([c, qd], i) => { const g = c.sgaalloc(4); u32(c, g).setUint32(0, w + i); c.wait(c.push(qd, g), 0); c.sgafree(g); });
      const answered = wave.map(([c, qd]) => c.pop(qd));
      until(`questions ${w}..${w + wave.length} arrived`, () => {
        for (const [qd, qt] of pops) {
          const r = a.tryWait(qt);
          if (r === null) continue;
          assert.is(r.ret, 0);
          assert.is(r.sga!.len, 4);
          byIndex.set(qd, u32(a, r.sga!).getUint32(0));
          a.wait(a.push(qd, r.sga!), 0);
          a.sgafree(r.sga!);
          pops.delete(qd);
        }
        return byIndex.size === w + wave.length;
      });
      wave.forEach(([c, qd], i) => {
        const r = c.wait(answered[i], 60_000);
        assert.is(r.ret, 0, `connection ${w + i}: answer ret ${r.ret}`);
        assert.is(u32(c, r.sga!).getUint32(0), w + i, "the answer came back on its own connection");
        c.sgafree(r.sga!);
        c.close(qd);
      });
    }
    assert.equal([...byIndex.values()].sort((x, y) => x - y), clients.map((_, i) => i));
    for (const qd of accepted) a.close(qd);
    until("every connection closed", () => all.every((s) => s.dp.exports.tcpConnections(0) === s.dp.exports.tcpMaxConnectionCount()));
  }
  a.close(lqd);
  assert.equal(all.map((s) => s.poolAvailable()), start);
  assert.is(a.dp.exports.tcpBufferBytesFree(), heap, "every ring and log given back");
  assert.is(all.reduce((m, s) => m + s.dp.exports.openSockets(), 0), 0);
}

test("1000 connections at once, three rounds: asked, answered, closed; tables and pools come back", () => manyConnections(1000, 3, 1, {}));

// The server as configured by default (memory_mb, pool and tcp.* as DEFAULTS has them): the
// connection table is sized from memory_mb and holds these ten thousand.
const DEFAULT_SERVER = { memory_mb: DEFAULTS.memory_mb, "pool.small_buffers": DEFAULTS.pool.small_buffers, "tcp.time_wait_ms": DEFAULTS.tcp.time_wait_ms };
test("10,000 connections at once to a stack with the default configuration: asked, answered, closed; tables, pools and buffer memory come back",
  () => manyConnections(10_000, 1, 1, DEFAULT_SERVER));

test("100,000 connections at once from seven client stacks to one configured for them (tcp.max_connections 100,000, pool.small_buffers 16,384, memory_mb 384): asked, answered, closed; everything comes back",
  () => manyConnections(100_000, 1, 7, { "tcp.max_connections": 100_000, "pool.small_buffers": 16384, memory_mb: 384 }));

test("close from either side: FIN, end of stream for the peer's pop, TIME_WAIT, then nothing left", () => {
  const p = pair({}, { "tcp.time_wait_ms": 1000 });
  const start = [p.a.poolAvailable(), p.b.poolAvailable()];
  const heap = [p.a.dp.exports.tcpBufferBytesFree(), p.b.dp.exports.tcpBufferBytesFree()];
  const { sa, cb, lqd } = connectPair(p);
  transfer(p, [{ from: p.b, fromQd: cb, to: p.a, toQd: sa, total: 5000, seed: 3 }]);
  p.b.close(cb);
  const eof = p.a.wait(p.a.pop(sa), 1000);
  assert.is(eof.opcode, Opcode.POP);
  assert.is(eof.sga!.len, 0, "end of stream");
  assert.equal(states(p.a), { CLOSE_WAIT: 1 });
  p.a.close(sa);
  const all = p.a.dp.exports.tcpMaxConnectionCount();
  runUntil(p, () => p.a.dp.exports.tcpConnections(0) === all && states(p.b).TIME_WAIT === 1);
  const t0 = p.clock.now();
  runUntil(p, () => p.b.dp.exports.tcpConnections(0) === all);
  assert.ok(p.clock.now() - t0 <= 1000e6 + 1e6);
  p.a.close(lqd);
  assert.equal([p.a.poolAvailable(), p.b.poolAvailable()], start);
  assert.equal([p.a.dp.exports.tcpBufferBytesFree(), p.b.dp.exports.tcpBufferBytesFree()], heap, "every ring and log given back");
  // Only the ARP caches' entries still hold timers; after their TTL, nothing at all.
  p.clock.advance(16e9);
  p.link.poll();
  assert.is(p.a.dp.exports.timersPending() + p.b.dp.exports.timersPending(), 0);
});

test("receive buffers start at 64 KiB and grow with what the reader drains per round trip (dynamic right-sizing), never for a reader that does not read; rings are held only while they hold bytes", () => {
  const p = pair();
  const heap = p.a.dp.exports.tcpBufferBytesFree();
  const { sa, cb } = connectPair(p);
  assert.is(p.a.tcpInfo(sa).receiveWindow, 65536, "the window starts at 64 KiB");
  assert.is(p.a.dp.exports.tcpBufferBytesFree(), heap, "an idle connection holds no buffer memory");
  // A reader that drains everything each millisecond (the round trip the 1 ms timestamps show
  // on this link): each round trip it reads more than half the buffer, which doubles.
  const chunk = p.b.sgaalloc(65536);
  let got = 0, pending = p.a.pop(sa);
  while (got < 8 << 20) {
    p.b.push(cb, chunk);
    for (let i = 0; i < 8; i++) {
      p.link.poll();
      for (let r = p.a.tryWait(pending); r !== null; r = p.a.tryWait(pending)) { got += r.sga!.len; p.a.sgafree(r.sga!); pending = p.a.pop(sa); }
    }
    p.clock.advance(1e6);
  }
  p.b.sgafree(chunk);
  const grown = p.a.tcpInfo(sa).receiveWindow;
  assert.ok(grown > 65536 && grown <= 1 << 20, `the window grew to ${grown} (tcp.buffer_bytes 1 MiB)`);
  assert.ok(p.a.counters()["tcp.rcv_buffer_grown"] > 0);
  runUntil(p, () => p.a.dp.exports.tcpBufferBytesFree() === heap && p.b.dp.exports.tcpBufferBytesFree() === heap);
  // A second connection whose reader never reads: the sender fills the 64 KiB it was offered
  // and waits; the buffer does not grow.
  const lqd2 = p.a.socket(AF_INET, SOCK_STREAM);
  p.a.bind(lqd2, sockaddr(A_IP, 81));
  p.a.listen(lqd2, 1);
  const aq = p.a.accept(lqd2);
  const c2 = p.b.socket(AF_INET, SOCK_STREAM);
  p.b.wait(p.b.connect(c2, sockaddr(A_IP, 81)), 1000);
  const s2 = p.a.wait(aq, 1000).acceptedQd!;
  const before = p.a.counters()["tcp.rcv_buffer_grown"];
  const big = p.b.sgaalloc(60000);
  for (let i = 0; i < 4; i++) p.b.push(c2, big);
  p.clock.advance(2e9);
  for (let i = 0; i < 200; i++) p.link.poll();
  assert.ok(p.a.tcpInfo(s2).receiveWindow < 1448, "the slow reader's 64 KiB is full (to less than a segment: sender SWS avoidance)");
  assert.is(p.a.counters()["tcp.rcv_buffer_grown"], before, "and it did not grow");
  assert.ok(heap - p.a.dp.exports.tcpBufferBytesFree() <= 65536, "it holds one 64 KiB ring");
  p.b.close(c2);
  p.a.close(s2);
  p.b.sgafree(big);
});

test("memory that runs short costs speed, never bytes: 32 connections sending 1 MiB each way in under 3 MiB of buffer memory arrive byte-exact, the shortage counted, the memory back", () => {
  const p = pair({}, { memory_mb: 7, "pool.small_buffers": 2048, "pool.large_buffers": 2, "tcp.max_connections": 64, "tcp.buffer_bytes": 262144 });
  const heap = [p.a.dp.exports.tcpBufferBytesFree(), p.b.dp.exports.tcpBufferBytesFree()];
  assert.ok(heap[0] < 3 << 20, `${heap[0]} bytes of buffer memory`);
  const conns = Array.from({ length: 32 }, (_, i) => connectPair(p, 100 + i));
  const flows = conns.flatMap(({ sa, cb }, i) => [{ from: p.b, fromQd: cb, to: p.a, toQd: sa, total: 1 << 20, seed: i },
    { from: p.a, fromQd: sa, to: p.b, toQd: cb, total: 1 << 20, seed: 100 + i }]);
  for (const r of transfer(p, flows, 2000)) assert.is(r.got, r.sent);
  const c = [p.a.counters(), p.b.counters()];
  const short = c.reduce((n, x) => n + x["tcp.send_memory_short"] + x["drop.tcp_no_memory"], 0);
  assert.ok(short > 0, "memory ran short");
  for (const { sa, cb, lqd } of conns) { p.b.close(cb); p.a.close(sa); p.a.close(lqd); }
  runUntil(p, () => p.a.dp.exports.tcpBufferBytesFree() === heap[0] && p.b.dp.exports.tcpBufferBytesFree() === heap[1]);
});

test("an orphaned FIN_WAIT_2 ends after the TIME_WAIT interval when the peer never sends its FIN (Linux's tcp_fin_timeout)", () => {
  const p = pair({}, { "tcp.time_wait_ms": 1000 });
  const { sa, cb } = connectPair(p);
  p.b.close(cb);
  runUntil(p, () => states(p.b).FIN_WAIT_2 === 1 && states(p.a).CLOSE_WAIT === 1);
  const t0 = p.clock.now();
  runUntil(p, () => Object.keys(states(p.b)).length === 0);
  assert.ok(p.clock.now() - t0 >= 999e6 && p.clock.now() - t0 <= 1001e6, `gone after ${(p.clock.now() - t0) / 1e6} ms`);
  assert.equal(states(p.a), { CLOSE_WAIT: 1 }, "the peer that never closed still holds its half");
  p.a.close(sa);
});

test("data for a closed socket is answered with a reset (RFC 1122 §4.2.2.13): the peer's pop fails with ECONNRESET", () => {
  const p = pair();
  const { sa, cb } = connectPair(p);
  const pending = p.b.pop(cb);
  const sga = p.a.sgaalloc(3);
  p.a.wait(p.a.push(sa, sga));
  p.a.sgafree(sga);
  const got = p.b.wait(pending, 1000);
  p.b.sgafree(got.sga!);
  const pop2 = p.b.pop(cb);
  p.a.close(sa);                          // FIN first...
  runUntil(p, () => p.b.isDone(pop2));
  const fin = p.b.wait(pop2);
  assert.is(fin.sga!.len, 0);
  const push = p.b.sgaalloc(10);
  const qt = p.b.push(cb, push);          // CLOSE_WAIT may still send...
  assert.is(p.b.wait(qt, 1000).ret, 0);
  p.b.sgafree(push);
  // ...and A, whose socket is gone, answers that data with a reset.
  runUntil(p, () => p.a.counters()["tcp.resets_sent"] > 0 && p.b.dp.exports.tcpConnections(10) > 0);
  const r = p.b.wait(p.b.pop(cb), 1000);
  assert.is(r.opcode, Opcode.FAILED);
  assert.is(r.ret, ECONNRESET);
  const again = p.b.sgaalloc(1);
  assert.is(p.b.wait(p.b.push(cb, again), 10).ret, ECONNRESET);
  p.b.sgafree(again);
  // A's side is gone entirely; B's waits for its socket to close.
  assert.equal(states(p.a), {});
  p.b.close(cb);
  assert.equal(states(p.b), {});
});

test("closing with unread data resets the connection instead of a FIN", () => {
  const p = pair();
  const { sa, cb } = connectPair(p);
  const s = p.b.sgaalloc(50);
  p.b.wait(p.b.push(cb, s));
  p.b.sgafree(s);
  for (let i = 0; i < 5; i++) p.link.poll();
  const pending = p.b.pop(cb);
  p.a.close(sa);                           // 50 bytes unread
  const r = p.b.wait(pending, 1000);
  assert.is(r.ret, ECONNRESET);
  assert.is(p.a.counters()["tcp.resets_sent"], 1);
  assert.equal(states(p.a), {});
});

test("back-pressure: pushes wait while the peer's window is shut, persist probes keep asking, then it all arrives", () => {
  const p = pair({}, { "tcp.buffer_bytes": 16384 });
  const { sa, cb } = connectPair(p);
  // B pushes 64 KiB while A pops nothing: A's 16 KiB window closes.
  const sga = p.b.sgaalloc(65536);
  p.b.bytes(sga).fill(0x5a);
  const qt = p.b.push(cb, sga);
  for (let i = 0; i < 2000 && !p.b.isDone(qt); i++) { if (p.link.poll() === 0) p.clock.idle(p.clock.now() + 5e9, p.link.nextEvent()); }
  assert.is(p.b.isDone(qt), false, "the push waits for room");
  const c = p.b.counters();
  assert.ok(c["tcp.segments_out"] > 10);
  // Probes went out while the window was zero, and nothing was given up.
  assert.equal(states(p.b), { ESTABLISHED: 1 });
  let got = 0;
  let pq = p.a.pop(sa);
  while (got < 65536) {
    const r = p.a.wait(pq, 120_000);
    assert.is(r.ret, 0);
    assert.ok(p.a.bytes(r.sga!).every((x) => x === 0x5a));
    got += r.sga!.len;
    p.a.sgafree(r.sga!);
    pq = p.a.pop(sa);
  }
  assert.is(p.b.wait(qt, 1000).ret, 0);
  p.b.sgafree(sga);
});

test("socket options: TCP_NODELAY on by default, SO_KEEPALIVE off; UDP has neither; an unknown option is ENOPROTOOPT", () => {
  const p = pair();
  const q = p.a.socket(AF_INET, SOCK_STREAM);
  assert.is(p.a.getsockopt(q, "TCP_NODELAY"), true);
  assert.is(p.a.getsockopt(q, "SO_KEEPALIVE"), false);
  p.a.setsockopt(q, "TCP_NODELAY", false);
  p.a.setsockopt(q, "SO_KEEPALIVE", true);
  assert.is(p.a.getsockopt(q, "TCP_NODELAY"), false);
  assert.is(p.a.getsockopt(q, "SO_KEEPALIVE"), true);
  const u = p.a.socket();
  assert.throws(() => p.a.setsockopt(u, "TCP_NODELAY", true), (e: { errno: number }) => e.errno === 92);
  assert.throws(() => p.a.setsockopt(q, "SO_BOGUS" as "TCP_NODELAY", true), (e: { errno: number }) => e.errno === 92);
});

test("misuse: push before connect is ENOTCONN, listen without bind EINVAL, a second connect EISCONN", () => {
  const p = pair();
  const q = p.a.socket(AF_INET, SOCK_STREAM);
  const s = p.a.sgaalloc(1);
  assert.throws(() => p.a.push(q, s), (e: { errno: number }) => e.errno === ENOTCONN);
  assert.throws(() => p.a.listen(q, 1), (e: { errno: number }) => e.errno === EINVAL);
  assert.throws(() => p.a.getpeername(q), (e: { errno: number }) => e.errno === ENOTCONN);
  p.a.sgafree(s);
  const { cb } = connectPair(p);
  assert.throws(() => p.b.connect(cb, sockaddr(A_IP, 80)), (e: { errno: number }) => e.errno === 106);
  assert.equal(p.b.getpeername(cb), sockaddr(A_IP, 80));
});

test("100,000 SYNs from random ports: the backlog bounds the half-open connections, a real client still gets in", () => {
  const { s, host, link, clock } = withHost({ "arp.table": { [HOST_IP]: HOST_MAC }, "tcp.syn_retries": 1, "tcp.rto_initial_ms": 200 });
  const l = s.socket(AF_INET, SOCK_STREAM);
  s.bind(l, sockaddr(A_IP, 80));
  s.listen(l, 16);
  const start = s.poolAvailable();
  for (let i = 0; i < 100000; i++) {
    const sport = 1024 + (i % 60000);
    const tcp = Uint8Array.from([sport >> 8, sport & 255, 0, 80, i >> 24, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0]);
    const pseudo = Uint8Array.from([198, 18, 0, 99, 198, 18, 0, 1, 0, 6, 0, 20]);
    const c = checksum(Uint8Array.from([...pseudo, ...tcp]));
    tcp[16] = c >> 8; tcp[17] = c & 255;
    host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 6, id: i & 0xffff }, tcp)));
    if (i % 32 === 31) { link.poll(); host.take(); }
  }
  link.poll();
  assert.is(states(s).SYN_RCVD, 16, "exactly the backlog is half open");
  // Ports wrap after 60,000 SYNs: 16 of them hit the 16 half-open tuples (answered in-connection).
  assert.is(s.counters()["drop.tcp_syn_queue_full"], 100000 - 16 - 16);
  // The half-open ones time out (SYN-ACK retried once), and a real connection then completes.
  for (let i = 0; i < 20; i++) { clock.advance(100e6); link.poll(); host.take(); }
  assert.equal(states(s), {});
  const aq = s.accept(l);
  const peer = stack(link, "198.18.0.2", "02:00:00:00:00:02");
  const q = peer.socket(AF_INET, SOCK_STREAM);
  assert.is(peer.wait(peer.connect(q, sockaddr(A_IP, 80)), 5000).opcode, Opcode.CONNECT);
  assert.is(s.wait(aq, 1000).opcode, Opcode.ACCEPT);
  assert.is(s.poolAvailable(), start);
});

test("SYN cookies (RFC 4987): a full queue answers with a cookie and holds nothing; the cookie's ACK opens the connection, a forged one gets RST", () => {
  const { s, host, link, clock } = withHost({ "arp.table": { [HOST_IP]: HOST_MAC } });
  const l = s.socket(AF_INET, SOCK_STREAM);
  s.bind(l, sockaddr(A_IP, 80));
  s.listen(l, 1);
  const send = (sport: number, seq: number, ack: number, flags: number, opts: number[] = [], data = new Uint8Array(0)) =>
    host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 6 }, hostSegment(sport, 80, seq, ack, flags, 65535, opts, data, checksum))));
  const reply = () => { link.poll(); link.poll(); const f = host.take(); assert.is(f.length, 1, f.map((x) => Buffer.from(x.subarray(34, 54)).toString("hex")).join(" ")); const t = f[0].subarray(34); return { dv: new DataView(t.buffer, t.byteOffset), t }; };
  send(40001, 5000, 0, 0x02, [2, 4, 5, 0xb4]);                  // fills the queue of 1: half open
  assert.is(reply().t[13], 0x12);
  send(40002, 7000, 0, 0x02, [2, 4, 5, 0xb4, 4, 2, 1, 1]);      // MSS 1460, SACK-permitted: queue full
  const { dv, t } = reply();
  assert.is(t[13], 0x12, "a SYN-ACK, not silence");
  assert.is(dv.getUint32(8), 7001);
  assert.is(dv.getUint16(14), 65535, "the cookie's SYN-ACK offers the initial window, not zero");
  assert.is(states(s).SYN_RCVD, 1, "nothing held for the second SYN");
  assert.is(s.counters()["tcp.syn_cookies_sent"], 1);
  const cookie = dv.getUint32(4);
  send(40002, 7001, cookie + 1, 0x18, [], new TextEncoder().encode("hello"));
  link.poll();
  const aq = s.accept(l);
  const a = s.wait(aq, 100);
  assert.is(a.opcode, Opcode.ACCEPT);
  assert.is(a.addr!.port, 40002);
  const r = s.wait(s.pop(a.acceptedQd!), 100);
  assert.is(new TextDecoder().decode(s.bytes(r.sga!)), "hello");
  assert.is(s.tcpInfo(a.acceptedQd!).mss, 1460, "the MSS the cookie kept");
  assert.is(s.counters()["tcp.syn_cookies_accepted"], 1);
  clock.advance(50e6); link.poll(); host.take();               // the delayed ACK for "hello"
  send(40003, 9001, (cookie ^ 0x5a5a5a00) + 1, 0x10);          // a forged cookie
  const rst = reply();
  assert.is(rst.t[13] & 0x04, 0x04, "RST");
  assert.is(states(s).ESTABLISHED, 1);
});

test("50,000 hostile segments (random flags, options with bad lengths, stray sequence numbers, RST and SYN storms): no trap, no leak", () => {
  const { s, host, link, clock } = withHost({ "arp.table": { [HOST_IP]: HOST_MAC } });
  const rng = new Rng(Number(process.env.DEMIWASM_TEST_SEED ?? 77));
  const l = s.socket(AF_INET, SOCK_STREAM);
  s.bind(l, sockaddr(A_IP, 80));
  s.listen(l, 8);
  const start = s.poolAvailable();
  const qtokens = s.dp.exports.qtokensFree();
  const heap = s.dp.exports.tcpBufferBytesFree();
  const send = (seq: number, ack: number, flags: number, opts: number[] = [], data = new Uint8Array(0), sport = 40000) =>
    host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 6 }, hostSegment(sport, 80, seq, ack, flags, 65535, opts, data, checksum))));
  // A real handshake first, so most of the storm hits an established connection.
  const iss = 1000;
  send(iss, 0, 0x02, [2, 4, 5, 0xb4]);
  link.poll(); link.poll();
  const synAck = host.take()[0].subarray(34);
  const their = new DataView(synAck.buffer, synAck.byteOffset).getUint32(4);
  send(iss + 1, their + 1, 0x10);
  const aq = s.accept(l);
  const acc = s.wait(aq, 100);
  assert.is(acc.opcode, Opcode.ACCEPT);
  let pending = s.pop(acc.acceptedQd!);
  let open = true;                         // until a pop reports end of stream or a reset
  const optionSets = [[], [2, 4, 5, 0xb4], [2, 5, 1, 1], [3, 3, 14], [3, 1], [4, 2], [4, 3, 0], [5, 10, 0, 0, 0, 1, 0, 0, 0, 2],
    [5, 7], [8, 10, 0, 0, 0, 1, 0, 0, 0, 0], [8, 9], [1, 1, 1, 1], [0], [254, 40], [2], [99, 2]];
  for (let i = 0; i < 50000; i++) {
    const near = rng.float() < 0.7;
    const seq = near ? iss + 1 + rng.below(200000) - 1000 : rng.u32();
    const ack = near ? their + 1 + rng.below(3000) - 1000 : rng.u32();
    const flags = rng.float() < 0.3 ? [0x02, 0x04, 0x12, 0x14, 0x01, 0x11, 0x10][rng.below(7)] : rng.below(256);
    let opts = optionSets[rng.below(optionSets.length)].slice();
    while (opts.length % 4) opts.push(rng.float() < 0.5 ? 0 : 1);
    if (opts.length > 40) opts = opts.slice(0, 40);
    const data = new Uint8Array(rng.float() < 0.5 ? 0 : rng.below(1400));
    send(seq, ack, flags, opts, data, rng.float() < 0.9 ? 40000 : 1024 + rng.below(60000));
    if (i % 32 === 31) {
      link.poll();
      host.take();
      while (open && s.isDone(pending)) {
        const r = s.wait(pending);
        if (r.sga && r.sga.len > 0) s.sgafree(r.sga);
        if (r.ret !== 0 || r.sga!.len === 0) open = false;
        else pending = s.pop(acc.acceptedQd!);
      }
      if (rng.float() < 0.01) clock.advance(rng.below(2e9));
    }
  }
  // Whatever state the storm left, closing everything and waiting out the timers frees it all.
  for (let i = 0; i < 20; i++) { link.poll(); host.take(); }
  s.close(acc.acceptedQd!);
  s.close(l);
  // An unanswered FIN is retried with backoff up to tcp.max_retries: minutes of virtual time.
  const until = clock.now() + 3600e9;
  while (Object.keys(states(s)).length > 0 && clock.now() < until) {
    if (link.poll() === 0) clock.idle(until, link.nextEvent());
    host.take();
  }
  s.waitNextN(4096, 0).forEach((r) => { if (r.sga && r.sga.len > 0) s.sgafree(r.sga); });
  assert.equal(states(s), {});
  assert.is(s.poolAvailable(), start);
  assert.is(s.dp.exports.qtokensFree(), qtokens);
  assert.is(s.dp.exports.tcpBufferBytesFree(), heap, "every ring and log given back");
  const c = s.counters();
  assert.ok(c["drop.tcp_out_of_window"] > 1000 && c["drop.tcp_malformed"] > 100 && c["tcp.challenge_acks"] > 0, JSON.stringify({
    oow: c["drop.tcp_out_of_window"], malformed: c["drop.tcp_malformed"], challenge: c["tcp.challenge_acks"] }));
});

test("the Linux SYN to a closed port gets the RST/ACK Linux sent, byte for byte in TCP", () => {
  const frames = pcapFrames();
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1 }, clock, true);
  stack(link, "10.77.0.2", "ea:7a:24:59:30:ff");
  const client = link.attachRaw(mac("52:1d:41:cf:fc:ae"));
  const synIdx = frames.findIndex((f) => f[23] === 6 && ((f[36] << 8) | f[37]) === 5999 && (f[47] & 0x12) === 0x02);
  assert.ok(synIdx > 0);
  const linuxRst = frames[synIdx + 1];
  client.send(frames[0]);                 // ARP first, as in the capture
  link.poll(); link.poll();
  client.take();
  client.send(frames[synIdx]);
  link.poll(); link.poll();
  const out = client.take();
  assert.is(out.length, 1);
  assert.is(hex(out[0].subarray(34)), hex(linuxRst.subarray(34, 54)));
});

test("our SYN-ACK answers a scripted SYN with the options it offered: MSS, SACK-permitted, timestamps, window scale", () => {
  const { s, host, link } = withHost({ "arp.table": { [HOST_IP]: HOST_MAC } });
  const l = s.socket(AF_INET, SOCK_STREAM);
  s.bind(l, sockaddr(A_IP, 80));
  s.listen(l, 4);
  const opts = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7];
  const tcp = Uint8Array.from([0x9c, 0x40, 0, 80, 0, 0, 0x10, 0, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, 0, 0, 0, 0, ...opts]);
  const pseudo = Uint8Array.from([198, 18, 0, 99, 198, 18, 0, 1, 0, 6, 0, tcp.length]);
  const c = checksum(Uint8Array.from([...pseudo, ...tcp]));
  tcp[16] = c >> 8; tcp[17] = c & 255;
  host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 6 }, tcp)));
  link.poll(); link.poll();
  const out = host.take();
  assert.is(out.length, 1);
  const t = out[0].subarray(34);
  assert.is(t[13], 0x12, "SYN|ACK");
  assert.equal([...t.subarray(8, 12)], [0, 0, 0x10, 1], "acknowledges ISN + 1");
  const o = hex(t.subarray(20, (t[12] >> 4) * 4));
  // MSS 1460, SACK_PERM+TS (echoing 9), NOP + WS 5 for buffers that may grow to the default
  // 1 MiB: Linux's layout.
  assert.match(o, /^020405b40402080a[0-9a-f]{8}0000000901030305$/);
  assert.is((t[14] << 8) | t[15], 65535, "window in a SYN is never scaled");
});

test.run();

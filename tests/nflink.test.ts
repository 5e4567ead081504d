// NF chains on a port of the loopback link, between real Wasm stacks: a firewall, a rate
// limiter and a flow monitor in front of a UDP echo server; a one-armed Maglev balancer spreading
// clients over three backend stacks; a sequence-numbered stream that survives hot reloads.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Chain } from "../host/nf/chain.js";
import { parseManifest } from "../host/nf/manifest.js";
import { sockaddr } from "../host/libos.js";
import { EchoServer, EchoClient } from "../examples/udp-echo.js";
import { pair, stack } from "./helpers.js";
import { sample, watNf } from "./nf.helpers.js";

/** Sends `count` datagrams to port, echoed where a server listens; returns the client's tally. */
function echo(p: ReturnType<typeof pair>, port: number, count: number, serverPort = port) {
  const sqd = p.a.socket();
  p.a.bind(sqd, sockaddr("198.18.0.1", serverPort));
  const srv = new EchoServer(p.a, sqd);
  const cli = new EchoClient(p.b, p.b.socket(), sockaddr("198.18.0.1", port), { size: 64, window: 16, burst: 16, lossTimeoutNs: 50e6 });
  for (let n = 0; (cli.sent < count || cli.outstanding > 0) && n < 100_000; n++) {
    if (p.link.poll() === 0) p.clock.idle(Infinity, Math.min(p.link.nextEvent(), p.clock.now() + 1e6));
    srv.step();
    cli.step(p.clock.now(), cli.sent < count);
  }
  p.a.close(sqd);
  return { sent: cli.sent, echoed: cli.echoed, lost: cli.lost };
}

test("a firewall, a rate limiter and a flow monitor in front of a stack: allowed traffic echoes, the rest is dropped and counted", () => {
  const p = pair();
  const c = new Chain([
    sample("firewall", { maps: [{ name: "conntrack", kind: "lru", capacity: 1024 }], config: { allow: "udp/7" } }),
    sample("ratelimit", { maps: [{ name: "buckets", kind: "lru", capacity: 64 }], config: { rate: 1_000_000, burst: 1_000_000 } }),
    sample("flowmon", { maps: [{ name: "flows", kind: "lru", capacity: 1024 }] }),
  ], 0, 0, p.link.ports, undefined, () => p.clock.now());
  p.link.attachChain(p.a, "in", c);
  assert.equal(echo(p, 7, 200), { sent: 208, echoed: 208, lost: 0 });
  const blocked = echo(p, 9, 20);
  assert.is(blocked.echoed, 0);
  const fw = c.nf("firewall").stats;
  assert.is(fw.counters[0], blocked.sent, "every datagram to port 9 refused");
  assert.ok(c.nf("flowmon").privateMaps.count("flows") >= 1);
  assert.is(p.a.counters()["udp.delivered"], 208);
});

test("a one-armed Maglev balancer on the link spreads 300 clients over three backend stacks", () => {
  const p = pair();
  const backends = [p.a, stack(p.link, "198.18.0.11", "02:00:00:00:00:11"), stack(p.link, "198.18.0.12", "02:00:00:00:00:12")];
  const lb = p.link.attachRaw([0x0200, 0x00000100]);              // the balancer's port, MAC 02:00:00:00:01:00
  const c = new Chain([sample("maglev", { config: {
    vip: "198.18.0.100", backends: ["198.18.0.1", "198.18.0.11", "198.18.0.12"],
    macs: ["02:00:00:00:00:01", "02:00:00:00:00:11", "02:00:00:00:00:12"] } })], 0, 0, p.link.ports);
  p.link.attachChain(lb, "in", c);
  const servers = backends.map((s) => { const qd = s.socket(); s.bind(qd, sockaddr("0.0.0.0", 7)); return new EchoServer(s, qd); });
  // Clients find the VIP at the balancer's MAC; backends know the client (300 answers at once
  // would overflow their ARP queues while they resolve it).
  p.b.dp.exports.arpAddStatic(0xc6120064, 0x0200, 0x00000100);
  for (const s of backends) s.dp.exports.arpAddStatic(0xc6120002, 0x0200, 0x00000002);
  const clients = Array.from({ length: 300 }, () => new EchoClient(p.b, p.b.socket(), sockaddr("198.18.0.100", 7), { size: 32, window: 1, burst: 1, lossTimeoutNs: 1e9 }));
  for (const cl of clients) cl.step(p.clock.now());
  for (let n = 0; n < 2000 && clients.some((cl) => cl.outstanding > 0); n++) {
    p.link.poll();
    for (const s of servers) s.step();
    for (const cl of clients) cl.step(p.clock.now(), false);
  }
  assert.is(clients.reduce((t, cl) => t + cl.echoed, 0), 300);
  const served = servers.map((s) => s.echoed);
  assert.is(served.reduce((a, b) => a + b, 0), 300);
  for (const n of served) assert.ok(n > 50, `each backend takes its share: ${served}`);
  assert.is(c.stats.transmitted, 300);
});

test("hot reload under a running sequence-numbered stream: nothing lost, nothing reordered", () => {
  const p = pair();
  const flows = { maps: [{ name: "flows", kind: "lru", capacity: 1024 }] };
  const c = new Chain([sample("flowmon", flows)], 0, 0, p.link.ports);
  p.link.attachChain(p.a, "in", c);
  const sqd = p.a.socket();
  p.a.bind(sqd, sockaddr("198.18.0.1", 5000));
  const cqd = p.b.socket();
  const got: number[] = [];
  let popQt = p.a.pop(sqd), next = 0;
  for (let turn = 0; turn < 600; turn++) {
    if (turn % 50 === 25) c.replace("flowmon", turn % 100 === 25 ? sample("flowmon", flows) : parseManifest({ name: "flowmon", module: watNf(
      "(local $i i32) (loop $l (if (i32.lt_u (local.get $i) (local.get 0)) (then (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))))") }));
    for (let k = 0; k < 8; k++) {
      const sga = p.b.sgaalloc(4);
      new DataView(p.b.u8.buffer, sga.buf, 4).setUint32(0, next++);
      p.b.wait(p.b.pushto(cqd, sga, sockaddr("198.18.0.1", 5000)));
      p.b.sgafree(sga);
    }
    p.link.poll();
    for (let r = p.a.tryWait(popQt); r !== null; r = p.a.tryWait(popQt)) {
      got.push(new DataView(p.a.u8.buffer, r.sga!.buf, 4).getUint32(0));
      p.a.sgafree(r.sga!);
      popQt = p.a.pop(sqd);
    }
  }
  for (let i = 0; i < 10; i++) { p.link.poll(); for (let r = p.a.tryWait(popQt); r !== null; r = p.a.tryWait(popQt)) { got.push(new DataView(p.a.u8.buffer, r.sga!.buf, 4).getUint32(0)); p.a.sgafree(r.sga!); popQt = p.a.pop(sqd); } }
  assert.is(got.length, next);
  assert.equal(got, Array.from({ length: next }, (_, i) => i));
  assert.is(c.nf("flowmon").stats.reloads, 12);
});

test.run();

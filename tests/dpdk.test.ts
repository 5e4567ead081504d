// The dpdk backend inside one process, over net_ring ports (no NIC, no root): EAL and port errors
// as one line each with the process still usable, two Wasm stacks exchanging UDP and TCP byte-exact
// through DPDK in both modes, the raw reflect path, malformed mbufs from a "PMD", and pool counts
// that come back to where they started after millions of frames.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { rmSync, readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { readPcap } from "../host/pcap.js";
import { fileURLToPath } from "node:url";
import { loadConfig, type Config } from "../host/config.js";
import { LibOS, sockaddr } from "../host/libos.js";
import { DpdkLink, dpdkInit } from "../host/backends/dpdk.js";
import { dpdkPair, type DpdkPair } from "../host/topology.js";
import { DpdkWorkers } from "../host/backends/dpdkworkers.js";
import { EchoServer, EchoClient } from "../examples/udp-echo.js";
import { udpPingPongTo } from "../examples/udp-pingpong.js";
import { connectPair, transfer } from "./tcp.helpers.js";
import type { Pair } from "./helpers.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Chain } from "../host/nf/chain.js";
import { parseManifest } from "../host/nf/manifest.js";
import { sample, NF_DIR, watNf, perPacketNf } from "./nf.helpers.js";

const available = spawnSync("pkg-config", ["--exists", "libdpdk"]).status === 0;
if (!available && process.env.CI) throw new Error("DPDK is not installed: .ci/run must install dpdk libdpdk-dev");
const soak = process.env.DEMIWASM_SOAK === "1";
const t = available ? test : test.skip;

const base = (o: Record<string, unknown> = {}): Config =>
  loadConfig({ env: {}, overrides: { backend: "dpdk", memory_mb: 32, "pool.small_buffers": 4096, ...o } });

/** Every ring port name in this process is new (EAL keeps ports for the process's life). */
let ports = 0;
function ringLoop(): string {
  const name = `dwt${ports++}`;
  dpdkInit(base().dpdk.eal_args).ringPort(name, name, name);
  return `net_ring_${name}`;
}

function asPair(p: DpdkPair): Pair {
  return { clock: p.clock, link: p.serverLink, a: p.server, b: p.client } as unknown as Pair;
}

/** 2000 numbered datagrams of 300 bytes echoed and verified byte for byte. */
function udpEcho(p: DpdkPair, port: number) {
  const sqd = p.server.socket();
  p.server.bind(sqd, sockaddr("198.18.0.1", port));
  const srv = new EchoServer(p.server, sqd);
  const cqd = p.client.socket();
  const cli = new EchoClient(p.client, cqd, { addr: p.server.ip, port }, { size: 300, window: 64, burst: 32, lossTimeoutNs: 2e9 });
  for (let n = 0; (cli.sent < 2000 || cli.outstanding > 0) && n < 2_000_000; n++) {
    p.poll();
    srv.step();
    cli.step(performance.now() * 1e6, cli.sent < 2000);
  }
  p.server.close(sqd);
  p.client.close(cqd);
  return { sent: cli.sent, echoed: cli.echoed, corrupt: cli.corrupt, lost: cli.lost };
}

function settle(p: DpdkPair): void {
  for (let i = 0; i < 200; i++) p.poll();
}

const stats = (l: DpdkLink) => l.stats();

t("EAL that fails to start is one line, and the process goes on with the other backends", () => {
  const libos = fileURLToPath(new URL("../host/libos.js", import.meta.url));
  const config = fileURLToPath(new URL("../host/config.js", import.meta.url));
  const script = `
    const { LibOS } = await import(${JSON.stringify(libos)});
    const { loadConfig } = await import(${JSON.stringify(config)});
    for (let i = 0; i < 2; i++) {
      try { new LibOS({ config: loadConfig({ env: {}, overrides: { backend: "dpdk", "dpdk.eal_args": "--no-huge --definitely-not-an-eal-flag" } }) }); }
      catch (e) { console.log(e.message); }
    }
    const l = new LibOS({ config: loadConfig({ env: {} }) });
    console.log("loopback works:", l.socket() >= 0);`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
  const lines = r.stdout.trim().split("\n");
  assert.is(lines.length, 3, r.stdout + r.stderr);
  assert.is(lines[0], "demiwasm: DPDK EAL init failed (dpdk.eal_args): unrecognized option '--definitely-not-an-eal-flag'; EAL cannot start again in this process");
  assert.not.match(r.stderr + r.stdout, /Usage|--legacy-mem/, "EAL's usage text is not dumped on the user");
  assert.is(lines[1], lines[0], "the second attempt gives the same answer instead of a crash");
  assert.is(lines[2], "loopback works: true");
  assert.is(r.status, 0);
});

t("EAL starts inside Node and gives the main thread its CPU affinity back", () => {
  const allowed = () => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/self/task/${process.pid}/status`, "utf8"))![1];
  const before = allowed();
  dpdkInit(base().dpdk.eal_args);                       // -l 0 pins the calling thread to CPU 0
  assert.is(allowed(), before);
});

t("a device that does not exist, a queue it does not have, a pool too small: one line each, and a good port still opens", () => {
  const tryOpen = (o: Record<string, unknown>) => {
    try { new LibOS({ config: base(o) }); return "opened"; } catch (e) { return (e as Error).message; }
  };
  assert.match(tryOpen({ "dpdk.device": "net_nosuchpmd0" }), /^demiwasm: dpdk device probe failed on 'net_nosuchpmd0': /);
  assert.match(tryOpen({ "dpdk.device": "0000:ff:1f.7" }), /^demiwasm: dpdk device probe failed on '0000:ff:1f.7': /);
  assert.match(tryOpen({ "dpdk.device": ringLoop(), "dpdk.queue": 3 }), /^demiwasm: dpdk device 'net_ring_dwt\d+' has 1 queues; queue 3 asked$/);
  assert.match(tryOpen({ "dpdk.device": ringLoop(), "pool.small_buffers": 1024, "dpdk.rx_desc": 1024 }),
    /^config key 'pool.small_buffers': 1024 buffers cannot feed dpdk.rx_desc 1024 \+ dpdk.tx_desc 256 and the stack's own 1024: raise it to at least 2304$/);
  const l = new LibOS({ config: base({ "dpdk.device": ringLoop() }) });
  assert.is(stats(l.link as DpdkLink).rx, 0);
  l.shutdown();
});

t("two Wasm stacks over DPDK ports: UDP echo byte-exact in zero-copy and copy mode, every slot back afterwards", () => {
  for (const mode of ["zerocopy", "copy"] as const) {
    const p = dpdkPair(base({ "dpdk.mode": mode }));
    settle(p);
    const before = [p.server.dp.exports.poolAvailable(), p.client.dp.exports.poolAvailable()];
    assert.equal(udpEcho(p, 7), { sent: 2016, echoed: 2016, corrupt: 0, lost: 0 }, mode);
    settle(p);
    assert.equal([p.server.dp.exports.poolAvailable(), p.client.dp.exports.poolAvailable()], before, `${mode}: slots leaked`);
    const s = stats(p.serverLink), c = stats(p.clientLink);
    // Each stack has its own memory, so frames cross between them by copy on receive; in
    // zero-copy mode the sender's own slot goes out, in copy mode it is copied into an mbuf.
    assert.ok(s.rx >= 2016 && c.rx >= 2016, mode);
    assert.is(s.rxCopied, s.rx, mode);
    assert.is(s.txCopied, mode === "copy" ? s.tx : 0, mode);
    assert.is(s.badFree + c.badFree + s.dropNoFill + c.dropNoFill, 0, mode);
    p.close();
  }
});

t("TCP over DPDK ports moves 4 MiB both ways byte-exact (64 MiB with DEMIWASM_SOAK=1)", () => {
  const p = dpdkPair(base({ "tcp.buffer_bytes": 262144, "tcp.max_connections": 4 }));
  const pp = asPair(p);
  const { sa, cb } = connectPair(pp, 5001);
  const total = soak ? 64 << 20 : 4 << 20;
  const [ab, ba] = transfer(pp, [
    { from: p.client, fromQd: cb, to: p.server, toQd: sa, total, seed: 1 },
    { from: p.server, fromQd: sa, to: p.client, toQd: cb, total, seed: 2 },
  ], 32768, 120);
  assert.is(ab.got, ab.sent);
  assert.is(ba.got, ba.sent);
  p.close();
});

t("ports close for good: 40 two-port pairs one after another (DPDK allows 32 ports per process)", () => {
  for (let i = 0; i < 40; i++) {
    const p = dpdkPair(base({ memory_mb: 8, "pool.small_buffers": 1600, "pool.large_buffers": 2, "tcp.max_connections": 1 }));
    const sqd = p.server.socket();
    p.server.bind(sqd, sockaddr("198.18.0.1", 7));
    const pop = p.server.pop(sqd);
    const cqd = p.client.socket();
    const g = p.client.sgaalloc(4);
    p.client.wait(p.client.pushto(cqd, g, sockaddr("198.18.0.1", 7)));
    p.client.sgafree(g);
    assert.is(p.server.wait(pop, 2000).ret, 0, `pair ${i}`);
    p.close();
  }
});

t("raw reflect: frames circulate through the Wasm reflect with MACs swapped, four bursts a turn, none lost, in both modes", () => {
  for (const mode of ["zerocopy", "copy"] as const) {
    const c = base({ "dpdk.device": ringLoop(), "dpdk.mode": mode });
    const link = new DpdkLink(c, undefined, { raw: true });
    const l = new LibOS({ config: c, link });
    const native = dpdkInit(c.dpdk.eal_args);
    assert.is(native.inject(link.portHandle, 300, 64), 300);
    // One turn (one native call, one Wasm call) takes up to four full bursts and reflects them.
    assert.is(link.reflectTurn(), 4 * c.dpdk.burst * 2, `${mode}: received and reflected in the first turn`);
    for (let i = 0; i < 10_000; i++) link.reflectTurn();
    const s = link.stats();
    // Every frame went round many times and all 300 are still in flight: tx - rx is what sits in
    // the Wasm rings (at most a burst), nothing dropped.
    assert.ok(s.tx > 100_000, `${mode}: tx ${s.tx}`);
    assert.is(s.dropTxFull, 0);
    assert.ok(s.ethOpackets - s.ethIpackets >= 0 && s.ethOpackets - s.ethIpackets <= 300, mode);
    if (mode === "zerocopy") assert.is(s.poolIdle, 4096 - 300, "the frames are the pool's own mbufs");
    l.shutdown();
  }
});

t("malformed mbufs from the device are dropped and counted by kind, and the stack keeps answering", () => {
  const p = dpdkPair(base());
  const native = dpdkInit(base().dpdk.eal_args);
  // The server port reads the ring named after the wire; find it from its device name.
  const wire = /net_ring_dwa(.+)$/.exec(p.server.config.dpdk.device)![1];
  const ring = `dwr${wire}a`;
  settle(p);
  const before = p.server.dp.exports.poolAvailable();
  for (const kind of ["chained", "too-long", "garbage-length", "length-mismatch"]) {
    for (let i = 0; i < 5; i++) assert.is(native.injectBad(ring, kind), 0, kind);
  }
  assert.is(native.injectBad(ring, "no-such-kind"), -22);
  settle(p);
  const s = stats(p.serverLink);
  assert.equal([s.dropChained, s.dropTooLong, s.dropBadLength], [5, 5, 10]);
  assert.equal(udpEcho(p, 9), { sent: 2016, echoed: 2016, corrupt: 0, lost: 0 });
  settle(p);
  assert.is(p.server.dp.exports.poolAvailable(), before);
  p.close();
});

t(`${soak ? "10 million" : "1 million"} frames through a port leave both pools at their starting count`, () => {
  const c = base();
  const p = dpdkPair(c);
  settle(p);
  const native = dpdkInit(c.dpdk.eal_args);
  // A raw port on the server's wire side injects frames (from its own pool) at the server port.
  const wire = /net_ring_dwa(.+)$/.exec(p.server.config.dpdk.device)![1];
  const name = `dwinj${ports++}`;
  native.ringPort(name, `dwinj${name}`, `dwr${wire}a`);
  const gc = base({ "dpdk.device": `net_ring_${name}`, "dpdk.mode": "zerocopy", memory_mb: 16, "pool.small_buffers": 1024 });
  const gen = new DpdkLink(gc, undefined, { raw: true });
  const gl = new LibOS({ config: gc, link: gen });
  const start = p.server.dp.exports.poolAvailable();
  const total = soak ? 10_000_000 : 1_000_000;
  let sent = 0;
  while (sent < total) {
    sent += native.inject(gen.portHandle, Math.min(64, total - sent), 64);
    p.poll();
  }
  settle(p);
  const s = stats(p.serverLink);
  assert.is(s.rx + s.dropNoFill, total);
  assert.is(p.server.dp.exports.poolAvailable(), start, "server pool");
  assert.is(gen.stats().poolIdle, 1024, "generator pool: every mbuf came back");
  gl.shutdown();
  p.close();
});

t("two processes over net_memif: udp-echo --peer server in one, the ping-pong client here, zero-copy both ways, over IPv4 and IPv6", async () => {
  const cli = fileURLToPath(new URL("../host/cli.js", import.meta.url));
  for (const v6 of [false, true]) {
    const socket = `/tmp/demiwasm-test-${process.pid}-${v6 ? 6 : 4}.sock`;
    rmSync(socket, { force: true });
    const server = spawn(process.execPath, [cli, "udp-echo", "--peer", "server", "--address", v6 ? "[fd00:9::1]:7" : "198.18.0.1:7", "--backend", "dpdk",
      "--device", `net_memif${ports++},role=server,socket=${socket}`, "--duration", "60"],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DEMIWASM_LOCAL_IPV4: "198.18.0.1", DEMIWASM_MAC: "02:00:00:00:00:01",
                                                 ...(v6 ? { DEMIWASM_LOCAL_IPV6: "fd00:9::1/64" } : {}) } });
    let out = "";
    server.stdout!.on("data", (d) => { out += d; });
    const exited = new Promise<number>((r) => server.once("exit", (c) => r(c ?? -1)));
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout!.once("data", () => resolve());
        server.once("exit", (c) => reject(new Error(`server exited ${c}`)));
      });
      const c = base({ local_ipv4: "198.18.0.2", mac: "02:00:00:00:00:02", "dpdk.device": `net_memif${ports++},role=client,socket=${socket}`,
                       ...(v6 ? { local_ipv6: ["fd00:9::2/64"] } : {}) });
      const l = new LibOS({ config: c });
      const at = v6 ? sockaddr("fd00:9::1", 7) : sockaddr("198.18.0.1", 7);
      // The memif handshake, then ARP, or duplicate address detection and Neighbor Discovery
      // (a busy machine is slow at all of them).
      const deadline = Date.now() + 20_000;
      while (udpPingPongTo(l, at, 1, 64).rounds === 0) assert.ok(Date.now() < deadline, `no echo over memif in 20 s (IPv${v6 ? 6 : 4})`);
      const r = udpPingPongTo(l, at, 5000, 200);
      assert.equal([r.rounds, r.lost], [5000, 0]);
      const s = (l.link as DpdkLink).stats();
      assert.is(s.rxCopied + s.txCopied, 0, "memif received into and sent from the Wasm slots");
      if (v6) assert.ok(l.neighbors6().some((n) => n.ip === "fd00:9::1"), "the server was found by Neighbor Discovery");
      l.shutdown();
    } finally {
      server.kill("SIGTERM");
    }
    assert.is(await exited, 0, "the server stops cleanly on SIGTERM");
    assert.match(out, /udp-echo server: echoed \d+/);
    rmSync(socket, { force: true });
  }
});

t("two worker threads, each with its own Wasm stack on its own port, echo at the same time", async () => {
  const native = dpdkInit(base().dpdk.eal_args);
  const jobs = [], clients: { l: LibOS; cli: EchoClient }[] = [];
  for (let i = 0; i < 2; i++) {
    const id = `${process.pid}w${ports++}`;
    native.ringPort(`dwwa${id}`, `dwwr${id}a`, `dwwr${id}b`);
    native.ringPort(`dwwb${id}`, `dwwr${id}b`, `dwwr${id}a`);
    jobs.push({ port: 7, config: base({ "dpdk.device": `net_ring_dwwa${id}`, local_ipv4: "198.18.1.1", mac: `02:00:00:00:01:0${i}` }) });
    const l = new LibOS({ config: base({ "dpdk.device": `net_ring_dwwb${id}`, local_ipv4: "198.18.1.2", mac: `02:00:00:00:02:0${i}` }) });
    clients.push({ l, cli: new EchoClient(l, l.socket(), sockaddr("198.18.1.1", 7), { size: 100, window: 32, burst: 32, lossTimeoutNs: 5e9 }) });
  }
  const workers = await DpdkWorkers.start(jobs);
  const deadline = Date.now() + 30_000;
  while (clients.some((c) => c.cli.sent < 20_000 || c.cli.outstanding > 0) && Date.now() < deadline) {
    for (let k = 0; k < 1000; k++) {
      for (const c of clients) { c.l.poll(); c.cli.step(performance.now() * 1e6, c.cli.sent < 20_000); }
    }
    await new Promise((r) => setImmediate(r));
  }
  const stats = await workers.stop();
  for (const c of clients) {
    assert.equal([c.cli.echoed, c.cli.lost, c.cli.corrupt], [20_000, 0, 0]);
    c.l.shutdown();
  }
  assert.equal(stats.map((s) => [s.worker, s.echoed]), [[0, 20_000], [1, 20_000]]);
  assert.ok(stats.every((s) => s.rx >= 20_000 && s.polls > 0));
});

t("NF chains on a DPDK port: the in chain filters what the device received, the out chain what the stack sends", () => {
  const p = dpdkPair(base());
  const fw = new Chain([sample("firewall", { maps: [{ name: "conntrack", kind: "lru", capacity: 1024 }], config: { allow: "udp/7" } })], 0, 0, p.serverLink.ports);
  p.serverLink.attachChain(p.server, "in", fw);
  const block = new Chain([parseManifest({ name: "portblock", module: join(NF_DIR, "portblock.wasm"), maps: [{ name: "hits", kind: "array", capacity: 65536 }], config: { block: [4444] } })], 0, 1, p.serverLink.ports);
  if (existsSync(join(NF_DIR, "portblock.wasm"))) p.serverLink.attachChain(p.server, "out", block);
  settle(p);
  const before = p.server.dp.exports.poolAvailable();
  assert.equal(udpEcho(p, 7), { sent: 2016, echoed: 2016, corrupt: 0, lost: 0 });
  const sqd = p.server.socket();
  p.server.bind(sqd, sockaddr("198.18.0.1", 9));
  const cqd = p.client.socket();
  for (let i = 0; i < 10; i++) { const g = p.client.sgaalloc(8); p.client.wait(p.client.pushto(cqd, g, sockaddr("198.18.0.1", 9))); p.client.sgafree(g); }
  settle(p);
  assert.is(fw.nf("firewall").stats.counters[0], 10, "ten datagrams to port 9 refused");
  assert.is(p.server.counters()["drop.rx_filtered"], 10);
  if (existsSync(join(NF_DIR, "portblock.wasm"))) {
    // The server sends to a blocked port: the out chain takes it off the tx ring, the slot comes back.
    for (let i = 0; i < 10; i++) { const g = p.server.sgaalloc(8); p.server.wait(p.server.pushto(sqd, g, sockaddr("198.18.0.2", 4444))); p.server.sgafree(g); }
    settle(p);
    assert.is(block.nf("portblock").privateMaps.get("hits", 4444n), 10n);
  }
  p.server.close(sqd);
  settle(p);
  assert.is(p.server.dp.exports.poolAvailable(), before, "every filtered frame's slot came back");
  p.close();
});

// UDP to port 9 comes back from port 9: MACs, addresses and ports swapped (the checksums hold), TX.
const swapTx = perPacketNf(`(if (i32.eq (i32.load16_u offset=36 (local.get $p)) (i32.const 0x0900)) (then
  (local.set $x (i32.load (local.get $p))) (local.set $y (i32.load16_u offset=4 (local.get $p)))
  (i32.store (local.get $p) (i32.load offset=6 (local.get $p))) (i32.store16 offset=4 (local.get $p) (i32.load16_u offset=10 (local.get $p)))
  (i32.store offset=6 (local.get $p) (local.get $x)) (i32.store16 offset=10 (local.get $p) (local.get $y))
  (local.set $x (i32.load offset=26 (local.get $p))) (i32.store offset=26 (local.get $p) (i32.load offset=30 (local.get $p))) (i32.store offset=30 (local.get $p) (local.get $x))
  (local.set $x (i32.load16_u offset=34 (local.get $p))) (i32.store16 offset=34 (local.get $p) (i32.load16_u offset=36 (local.get $p))) (i32.store16 offset=36 (local.get $p) (local.get $x))
  (i32.store offset=8 (local.get $d) (i32.const 2))))`);
// UDP to port 10 goes to port 7 (its checksum dropped: none, RFC 768), out of port 1 of the group.
const redirect10 = perPacketNf(`(if (i32.eq (i32.load16_u offset=36 (local.get $p)) (i32.const 0x0a00)) (then
  (i32.store16 offset=36 (local.get $p) (i32.const 0x0700)) (i32.store16 offset=40 (local.get $p) (i32.const 0))
  (i32.store offset=8 (local.get $d) (i32.const 3)) (i32.store offset=12 (local.get $d) (i32.const 1))))`);

t("TX and REDIRECT verdicts on a DPDK port leave from the frame's own slot: no copy, no native call per frame, every slot back", () => {
  const p = dpdkPair(base());
  const chain = new Chain([parseManifest({ name: "swap", module: watNf(swapTx) }), parseManifest({ name: "redirect", module: watNf(redirect10) })],
    0, 0, p.serverLink.ports);
  p.serverLink.attachChain(p.server, "in", chain);
  // An out chain sees what the stack sends, not what an in chain forwarded.
  const out = new Chain([parseManifest({ name: "out", module: watNf(perPacketNf("")) })], 0, 1, p.serverLink.ports);
  p.serverLink.attachChain(p.server, "out", out);
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-dpdkfwd-"));
  try {
    p.serverLink.capture(join(dir, "server.pcap"));
    settle(p);
    const before = p.server.dp.exports.poolAvailable();
    const seven = p.server.socket();
    p.server.bind(seven, sockaddr("198.18.0.1", 7));
    const cqd = p.client.socket();
    p.client.bind(cqd, sockaddr("198.18.0.2", 5000));
    const N = 50;
    const payload = (i: number, port: number) => Uint8Array.from({ length: 40 }, (_, k) => (i * 7 + k + port) & 255);
    for (let i = 0; i < N; i++) {
      for (const port of [9, 10]) {
        const g = p.client.sgaalloc(40);
        p.client.bytes(g).set(payload(i, port));
        p.client.wait(p.client.pushto(cqd, g, sockaddr("198.18.0.1", port)));
        p.client.sgafree(g);
      }
      settle(p);
    }
    const got = (l: LibOS, qd: number) => {
      const out: { port: number; bytes: number[] }[] = [];
      for (let k = 0; k < N + 5; k++) {
        const qt = l.pop(qd);
        let r = l.tryWait(qt);
        for (let n = 0; n < 200 && !r; n++) { p.poll(); r = l.tryWait(qt); }
        if (!r) break;
        out.push({ port: r.addr!.port, bytes: [...l.bytes(r.sga!)] });
        l.sgafree(r.sga!);
      }
      return out;
    };
    const back = got(p.client, cqd), atSeven = got(p.server, seven);
    assert.equal(back.length, N, "every datagram to port 9 came back, from port 9");
    assert.ok(back.every((b, i) => b.port === 9 && b.bytes.join() === [...payload(i, 9)].join()));
    assert.equal(atSeven.length, N, "every datagram to port 10 went out of the client's port and in again, to port 7");
    assert.ok(atSeven.every((b, i) => b.port === 5000 && b.bytes.join() === [...payload(i, 10)].join()));
    assert.is(p.server.counters()["link.forwarded"], 2 * N, "the datapath moved each slot to its tx ring");
    assert.equal([chain.nf("swap").stats.transmitted, chain.nf("redirect").stats.redirected], [N, N]);
    const s = p.serverLink.stats();
    assert.is(s.txCopied, 0, "sent from the receive slots");
    assert.is(p.serverLink.forwardDrops, 0);
    assert.ok(out.nf("out").stats.packetsIn < 5, `the out chain saw the stack's own frames only (ARP): ${out.nf("out").stats.packetsIn}`);
    p.serverLink.stopCapture();
    const sent = readPcap(readFileSync(join(dir, "server.pcap"))).filter((f) => f.data.length === 14 + 20 + 8 + 40 && f.data[23] === 17);
    // In: 2N from the client and N redirected ones coming round again; out: N swapped, N redirected.
    assert.is(sent.length, 5 * N, "capture: each datagram in and out at its true length");
    p.server.close(seven);
    p.client.close(cqd);
    settle(p);
    assert.is(p.server.dp.exports.poolAvailable(), before, "every forwarded slot came back through the completion ring");
  } finally {
    rmSync(dir, { recursive: true, force: true });
    p.close();
  }
});

t("an out chain sees each frame once when more than a burst waits on the tx ring", () => {
  const p = dpdkPair(base());
  const out = new Chain([sample("flowmon", { maps: [{ name: "flows", kind: "lru", capacity: 1024 }] })], 0, 1, p.serverLink.ports);
  p.serverLink.attachChain(p.server, "out", out);
  const cqd = p.client.socket();
  p.client.bind(cqd, sockaddr("198.18.0.2", 9));
  const sqd = p.server.socket();
  const send = (n: number) => {
    for (let i = 0; i < n; i++) { const g = p.server.sgaalloc(8); p.server.pushto(sqd, g, sockaddr("198.18.0.2", 9)); p.server.sgafree(g); }
    settle(p);
  };
  send(1);                                               // ARP resolved first: the rest go out at once
  const before = out.nf("flowmon").stats.packetsIn;
  send(100);                                             // 100 queued; the port takes 32 per burst
  assert.is(out.nf("flowmon").stats.packetsIn - before, 100);
  assert.is(p.client.counters()["udp.delivered"], 101);
  p.close();
});

t("--pcap on a DPDK port: what it hands the device and what the device delivered, tshark-readable", () => {
  const p = dpdkPair(base());
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-dpdkpcap-"));
  try {
    const file = join(dir, "port.pcap");
    p.capture(file);
    const r = udpEcho(p, 7);
    settle(p);
    p.stopCapture();
    assert.equal([r.echoed, r.lost], [r.sent, 0]);
    const recs = readPcap(new Uint8Array(readFileSync(file)));
    const udp = recs.filter((x) => x.data[12] === 0x08 && x.data[13] === 0x00 && x.data[23] === 17);
    const arp = recs.filter((x) => x.data[12] === 0x08 && x.data[13] === 0x06);
    // Every datagram in and every echo out, once each; ARP's request and reply.
    assert.is(udp.length, 2 * r.sent);
    assert.is(arp.length, 2);
    assert.is(recs.length, udp.length + arp.length);
    if (spawnSync("tshark", ["--version"]).status === 0) {
      const t = spawnSync("tshark", ["-r", file, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-Y", "udp && !_ws.expert"], { encoding: "utf8" });
      assert.is(t.status, 0, t.stderr);
      assert.is(t.stdout.trim().split("\n").length, 2 * r.sent, "tshark: every datagram decodes with its checksums right");
    }
  } finally {
    p.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

t("the loopback link's fault injector wraps a DPDK port: every loss and duplicate accounted for", () => {
  const p = dpdkPair(base({ "udp.rx_queue_depth": 2048 }));
  const sqd = p.server.socket();
  p.server.bind(sqd, sockaddr("198.18.0.1", 9));
  const cqd = p.client.socket();
  const send = (i: number) => {
    const g = p.client.sgaalloc(64);
    p.client.bytes(g).fill(i & 255);
    new DataView(p.client.u8.buffer, g.buf, 4).setUint32(0, i);
    p.client.wait(p.client.pushto(cqd, g, sockaddr("198.18.0.1", 9)));
    p.client.sgafree(g);
  };
  send(0xffffffff);                  // ARP first, without faults
  settle(p);
  const faults = p.serverLink.injectFaults({ loss: 0.05, duplicate: 0.02, corrupt: 0, seed: 7 }, true);
  const filteredBefore = p.server.counters()["drop.rx_filtered"];
  const N = 1000;
  for (let i = 0; i < N; i++) { send(i); if (i % 16 === 15) settle(p); }
  settle(p);
  const got: number[] = [];
  for (let r = p.server.wait(p.server.pop(sqd), 0); r.ret === 0; r = p.server.wait(p.server.pop(sqd), 0)) {
    const v = new DataView(p.server.u8.buffer, r.sga!.buf, 4).getUint32(0);
    if (v !== 0xffffffff) got.push(v);
    p.server.sgafree(r.sga!);
  }
  assert.ok(faults.stats.lost > 20 && faults.stats.duplicated > 5, JSON.stringify(faults.stats));
  assert.is(got.length, N - faults.stats.lost + faults.stats.duplicated);
  assert.is(new Set(got).size, N - faults.stats.lost, "a lost frame is gone, a duplicate is the same datagram");
  assert.is(p.serverLink.faultDrops, 0);
  // Each original went through the injector as a copy: the stack freed the originals.
  assert.is(p.server.counters()["drop.rx_filtered"] - filteredBefore, N);
  p.close();
});

test.run();

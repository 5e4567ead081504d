// The dpdk backend with the Linux kernel as the peer (root): a TAP device made by net_tap, and
// net_af_packet on a veth whose other end sits in a network namespace this test creates. Real
// clients no one here wrote (ping, socat, nc, Node's dgram and net) talk to the Wasm stack; TCP
// moves 64 MiB each way byte-exact. Each test removes what it created.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../host/config.js";
import { LibOS, sockaddr, AF_INET, AF_INET6, SOCK_STREAM, SOCK_DGRAM } from "../host/libos.js";
import { dpdkInit, type DpdkLink } from "../host/backends/dpdk.js";
import { errnoName } from "../host/errno.js";
import { DpdkWorkers } from "../host/backends/dpdkworkers.js";
import { openStack } from "../host/stack/stack.js";
import { EchoServer } from "../examples/udp-echo.js";
import { vethPeer, assertRoutedInside } from "../host/bench/netns.js";
import { TcpEchoServer } from "../examples/tcp-echo.js";

const tools = ["ip", "ping", "socat", "nc", "ethtool", "curl", "ab", "wrk"].every((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0);
const can = spawnSync("pkg-config", ["--exists", "libdpdk"]).status === 0 && process.getuid?.() === 0 && existsSync("/dev/net/tun") && tools;
if (!can && process.env.CI) throw new Error("the Linux interop suite needs DPDK, root, /dev/net/tun, iproute2, ping, socat, nc, ethtool, curl, ab and wrk: .ci/run installs them");
const t = can ? test : test.skip;

const TAP = `dwtap${process.pid % 10000}`;
const LINUX_IP = "198.19.7.1", STACK_IP = "198.19.7.2";

/** The Wasm stack on a fresh TAP device; Linux gets LINUX_IP on the other side. */
function tapStack(): LibOS {
  const config = loadConfig({ env: {}, overrides: {
    backend: "dpdk", "dpdk.device": `net_tap0,iface=${TAP}`, local_ipv4: STACK_IP, mac: "02:00:00:00:07:02",
    "tcp.buffer_bytes": 262144, "tcp.max_connections": 16, memory_mb: 48,
  } });
  const l = new LibOS({ config });
  execFileSync("sh", ["-c", `ip addr add ${LINUX_IP}/24 dev ${TAP} && ip link set ${TAP} up && sysctl -qw net.ipv6.conf.${TAP}.disable_ipv6=1`]);
  assertRoutedVia(STACK_IP, TAP);
  return l;
}

/** Polls `turn` until `until` settles, yielding to the event loop so children and sockets run. */
async function serve<T>(until: Promise<T>, turn: () => void, limitMs = 120_000): Promise<T> {
  let done = false;
  let value: T | undefined;
  let error: unknown;
  until.then((v) => { done = true; value = v; }, (e) => { done = true; error = e; });
  const deadline = Date.now() + limitMs;
  while (!done) {
    if (Date.now() > deadline) throw new Error("timed out");
    for (let i = 0; i < 2000; i++) turn();
    await new Promise((r) => setImmediate(r));
  }
  if (error) throw error;
  return value!;
}

/** Turns the stack until duplicate address detection has passed for its IPv6 addresses (about
 *  one second: RFC 4862's one probe and its wait). */
async function addressesReady(l: LibOS, turn: () => void): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (l.addresses6().some((a) => a.state === "tentative")) {
    if (Date.now() > deadline) throw new Error(`DAD did not finish: ${JSON.stringify(l.addresses6())}`);
    for (let i = 0; i < 2000; i++) turn();
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(l.addresses6().every((a) => a.state === "preferred"), JSON.stringify(l.addresses6()));
}

/** Runs a shell command to completion; resolves with its stdout and exit code. */
function run(cmd: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn("sh", ["-c", cmd], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    c.stdout.on("data", (d) => { out += d; });
    c.stderr.on("data", (d) => { err += d; });
    c.on("exit", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

t("ping from Linux over net_tap gets replies from the Wasm stack, which received and sent them zero-copy", async () => {
  const l = tapStack();
  try {
    const r = await serve(run(`ping -c 5 -i 0.2 -W 2 ${STACK_IP}`), () => l.poll());
    assert.is(r.code, 0, r.out + r.err);
    assert.match(r.out, /5 packets transmitted, 5 received, 0% packet loss/);
    assert.is(l.counters()["icmp.echo_replied"], 5);
    const s = (l.link as DpdkLink).stats();
    assert.is(s.rxCopied + s.txCopied, 0, "net_tap received into and sent from the Wasm slots");
  } finally {
    l.shutdown();
  }
  assert.is(spawnSync("ip", ["link", "show", TAP]).status, 1, "closing the port removed the TAP device");
});

t("ping -6 from Linux over net_tap: Neighbor Discovery and echo, global and link-local, 3000-byte pings in fragments; Linux's own RS, MLD and DAD do no harm", async () => {
  const config = loadConfig({ env: {}, overrides: {
    backend: "dpdk", "dpdk.device": `net_tap0,iface=${TAP}`, local_ipv4: STACK_IP, mac: "02:00:00:00:07:02",
    local_ipv6: ["fd00:7::2/64"], "tcp.max_connections": 16, memory_mb: 48,
  } });
  const l = new LibOS({ config });
  try {
    // Linux keeps DAD for its link-local address (its probes reach the stack); the global one skips it.
    execFileSync("sh", ["-c", `ip -6 addr add fd00:7::1/64 dev ${TAP} nodad && ip link set ${TAP} up`]);
    assertRoutedVia("fd00:7::2", TAP);
    await addressesReady(l, () => l.poll());
    for (let i = 0; i < 1000; i++) l.poll();               // our DAD probes' slots are back
    const before = l.poolAvailable();
    const r = await serve(run(`ping -6 -c 5 -i 0.2 -W 2 fd00:7::2`), () => l.poll());
    assert.is(r.code, 0, r.out + r.err);
    assert.match(r.out, /5 packets transmitted, 5 received, 0% packet loss/);
    // The link-local address the stack derived from its MAC answers too, scoped to the TAP.
    const ll = await serve(run(`ping -6 -c 3 -i 0.2 -W 2 fe80::ff:fe00:702%${TAP}`), () => l.poll());
    assert.is(ll.code, 0, ll.out + ll.err);
    // 3000-byte pings fragment both ways: reassembled here, answered in fragments Linux reassembles.
    const big = await serve(run(`ping -6 -s 3000 -c 3 -i 0.2 -W 2 fd00:7::2`), () => l.poll());
    assert.is(big.code, 0, big.out + big.err);
    assert.match(big.out, /3 packets transmitted, 3 received/);
    const c = l.counters();
    assert.is(c["icmp6.echo_replied"], 11);
    assert.equal([c["ip.reassembled"], c["ip6.fragments_sent"]], [3, 9]);
    assert.ok(c["ndp.advertisements_sent"] >= 2, "Linux resolved both of our addresses");
    const tapMac = execFileSync("cat", [`/sys/class/net/${TAP}/address`], { encoding: "utf8" }).trim();
    assert.ok(l.neighbors6().some((n) => n.ip === "fd00:7::1" && n.mac === tapMac), JSON.stringify(l.neighbors6()));
    // Linux's router solicitations and MLD reports went to groups we are not in; nothing trapped.
    assert.ok(c["drop.eth_not_for_us"] + c["icmp6.ignored"] > 0, JSON.stringify(c));
    for (let i = 0; i < 1000; i++) l.poll();
    assert.is(l.poolAvailable(), before, "every buffer back");
  } finally {
    l.shutdown();
  }
});

t("a UDP echo on the Wasm stack answers socat, nc -u and Node's dgram over net_tap", async () => {
  const l = tapStack();
  const qd = l.socket();
  l.bind(qd, sockaddr(STACK_IP, 7));
  const srv = new EchoServer(l, qd);
  const turn = () => { l.poll(); srv.step(); };
  try {
    const s = await serve(run(`printf 'hello from socat' | socat -t 2 - UDP:${STACK_IP}:7`), turn);
    assert.is(s.out, "hello from socat", s.err);
    const n = await serve(run(`printf 'hello from nc' | nc -u -w 1 ${STACK_IP} 7`), turn);
    assert.is(n.out, "hello from nc", n.err);
    const sock = createSocket("udp4");
    const got: string[] = [];
    const all = new Promise<void>((resolve) => sock.on("message", (m) => { got.push(m.toString()); if (got.length === 100) resolve(); }));
    await serve(new Promise<void>((r) => sock.bind(0, LINUX_IP, r)), turn);
    for (let i = 0; i < 100; i++) sock.send(`datagram ${i}`, 7, STACK_IP);
    await serve(all, turn, 30_000);
    sock.close();
    assert.equal(got.sort(), Array.from({ length: 100 }, (_, i) => `datagram ${i}`).sort());
    assert.is(srv.echoed, 102);
  } finally {
    l.close(qd);
    l.shutdown();
  }
});

t("a TCP echo on the Wasm stack moves 64 MiB each way byte-exact with socat and with Node's net", async () => {
  const l = tapStack();
  const lqd = l.socket(AF_INET, SOCK_STREAM);
  l.bind(lqd, sockaddr(STACK_IP, 7));
  l.listen(lqd, 16);
  const srv = new TcpEchoServer(l, lqd);
  const turn = () => { l.poll(); srv.step(); };
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-tap-"));
  try {
    const input = join(dir, "in"), output = join(dir, "out");
    const data = Buffer.alloc(64 << 20);
    randomFillSync(data);
    writeFileSync(input, data);
    const sha = createHash("sha256").update(data).digest("hex");
    const s = await serve(run(`socat -t 30 -T 60 TCP:${STACK_IP}:7 - < ${input} > ${output}`), turn, 300_000);
    assert.is(s.code, 0, s.err);
    assert.is(createHash("sha256").update(readFileSync(output)).digest("hex"), sha, "socat: echoed bytes differ");
    // Node's net in another process: writes the 64 MiB, half-closes, hashes what comes back.
    const client = `
      const net = require("node:net"), fs = require("node:fs"), crypto = require("node:crypto");
      const h = crypto.createHash("sha256"); let n = 0;
      const c = net.connect(7, ${JSON.stringify(STACK_IP)}, () => c.end(fs.readFileSync(${JSON.stringify(input)})));
      c.on("data", (d) => { h.update(d); n += d.length; });
      c.on("end", () => console.log(n + " " + h.digest("hex")));
      c.on("error", (e) => { console.error(e.message); process.exit(1); });`;
    const nodeRun = await serve(run(`${process.execPath} -e '${client}'`), turn, 300_000);
    assert.is(nodeRun.out.trim(), `${64 << 20} ${sha}`, nodeRun.err);
    assert.is(srv.closed, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    l.close(lqd);
    l.shutdown();
  }
});

t("IPv6 sockets over net_tap: socat's UDP6 datagrams echoed, and 64 MiB each way over TCP6 byte-exact", async () => {
  const config = loadConfig({ env: {}, overrides: {
    backend: "dpdk", "dpdk.device": `net_tap0,iface=${TAP}`, local_ipv4: STACK_IP, mac: "02:00:00:00:07:02",
    local_ipv6: ["fd00:7::2/64"], "tcp.buffer_bytes": 262144, "tcp.max_connections": 16, memory_mb: 48,
  } });
  const l = new LibOS({ config });
  const uqd = l.socket(AF_INET6, SOCK_DGRAM);
  l.bind(uqd, sockaddr("::", 7));
  const lqd = l.socket(AF_INET6, SOCK_STREAM);
  l.bind(lqd, sockaddr("fd00:7::2", 7));
  l.listen(lqd, 16);
  const udp = new EchoServer(l, uqd);
  const tcp = new TcpEchoServer(l, lqd);
  const turn = () => { l.poll(); udp.step(); tcp.step(); };
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-tap6-"));
  try {
    execFileSync("sh", ["-c", `ip -6 addr add fd00:7::1/64 dev ${TAP} nodad && ip link set ${TAP} up`]);
    assertRoutedVia("fd00:7::2", TAP);
    await addressesReady(l, turn);
    const u = await serve(run(`printf 'hello over udp6' | socat -t 2 - UDP6:[fd00:7::2]:7`), turn);
    assert.is(u.out, "hello over udp6", u.err);
    assert.is(udp.echoed, 1);
    const input = join(dir, "in"), output = join(dir, "out");
    const data = Buffer.alloc(64 << 20);
    randomFillSync(data);
    writeFileSync(input, data);
    const sha = createHash("sha256").update(data).digest("hex");
    const s = await serve(run(`socat -t 30 -T 60 TCP6:[fd00:7::2]:7 - < ${input} > ${output}`), turn, 300_000);
    assert.is(s.code, 0, s.err);
    assert.is(createHash("sha256").update(readFileSync(output)).digest("hex"), sha, "socat: echoed bytes differ");
    assert.is(tcp.closed, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    l.close(uqd);
    l.close(lqd);
    l.shutdown();
  }
});

/** Sends nothing unless the kernel routes `ip` through `dev` (the TAP this test made and brought up). */
function assertRoutedVia(ip: string, dev: string): void {
  const route = execFileSync("ip", ["route", "get", ip], { encoding: "utf8" });
  if (!route.includes(`dev ${dev}`)) throw new Error(`refusing to send: ${ip} is not routed through ${dev}: ${route.trim()}`);
}

t("Node's http server on the stack (openStack's driver, adaptive) answers curl, ab and wrk from Linux over net_tap", async () => {
  const config = loadConfig({ env: {}, overrides: {
    backend: "dpdk", "dpdk.device": `net_tap0,iface=${TAP}`, local_ipv4: STACK_IP, mac: "02:00:00:00:07:02", memory_mb: 48,
  } });
  const stack = openStack(config);
  let requests = 0;
  const server = stack.http.createServer((req, res) => { requests++; req.resume(); res.end(`hello ${req.url}`); });
  try {
    execFileSync("sh", ["-c", `ip addr add ${LINUX_IP}/24 dev ${TAP} && ip link set ${TAP} up && sysctl -qw net.ipv6.conf.${TAP}.disable_ipv6=1`]);
    await new Promise<void>((r) => server.listen(80, STACK_IP, r));
    assertRoutedVia(STACK_IP, TAP);
    const curl = await run(`curl -s -m 10 http://${STACK_IP}/tap`);
    assert.is(curl.code, 0, curl.err);
    assert.is(curl.out, "hello /tap");
    const ab = await run(`ab -q -k -n 2000 -c 4 -s 10 http://${STACK_IP}/`);
    // Without keep-alive the server closes first: its TIME_WAIT slots are recycled (64 by default).
    const abClose = await run(`ab -q -n 300 -c 4 -s 10 http://${STACK_IP}/`);
    assert.match(abClose.out, /Complete requests:\s+300/, abClose.out + abClose.err);
    assert.is(ab.code, 0, ab.err);
    assert.match(ab.out, /Complete requests:\s+2000/);
    assert.match(ab.out, /Failed requests:\s+0/);
    const wrk = await run(`wrk -t 1 -c 4 -d 1s --timeout 5s http://${STACK_IP}/`);
    assert.is(wrk.code, 0, wrk.err);
    const m = /(\d+) requests in/.exec(wrk.out);
    assert.ok(m !== null && Number(m[1]) > 100, wrk.out);
    assert.not.match(wrk.out, /Socket errors/);
    assert.ok(requests >= 2301 + Number(m![1]), `${requests} requests served`);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await stack.close();
  }
  assert.is(spawnSync("ip", ["link", "show", TAP]).status, 1, "closing the stack removed the TAP device");
});

t("an unmodified express app under --import demiwasm/register, on the dpdk backend over net_tap, answers Linux's curl", async () => {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const app = spawn(process.execPath, ["--import", "demiwasm/register", join(root, "tests/fixtures/register/tap-server.mjs")], {
    cwd: root, stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DEMIWASM_BACKEND: "dpdk", DEMIWASM_DPDK_DEVICE: `net_tap0,iface=${TAP}`, DEMIWASM_LOCAL_IPV4: STACK_IP,
           DEMIWASM_MAC: "02:00:00:00:07:02", DEMIWASM_MEMORY_MB: "48" },
  });
  let out = "", err = "";
  app.stderr.on("data", (d) => { err += d; });
  const exited = new Promise<number | null>((r) => app.on("exit", (code) => r(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      app.stdout.on("data", (d) => { out += d; if (out.includes("ready")) resolve(); });
      app.on("exit", () => reject(new Error(`the app left before listening: ${out} ${err}`)));
      setTimeout(() => reject(new Error(`no "ready" in 60 s: ${out} ${err}`)), 60_000);
    });
    execFileSync("sh", ["-c", `ip addr add ${LINUX_IP}/24 dev ${TAP} && ip link set ${TAP} up && sysctl -qw net.ipv6.conf.${TAP}.disable_ipv6=1`]);
    assertRoutedVia(STACK_IP, TAP);
    const hello = await run(`curl -s -m 10 http://${STACK_IP}/hello/linux`);
    assert.is(hello.code, 0, hello.err + err);
    assert.is(hello.out, "hello linux from express");
    const body = randomFillSync(Buffer.alloc(1 << 20)).toString("base64");
    const file = join(tmpdir(), `dw-tap-body-${process.pid}`);
    writeFileSync(file, body);
    try {
      const echo = await run(`curl -s -m 20 --data-binary @${file} -H 'content-type: text/plain' http://${STACK_IP}/echo`);
      assert.is(echo.code, 0, echo.err);
      assert.is(createHash("sha256").update(echo.out).digest("hex"), createHash("sha256").update(body).digest("hex"), "1.4 MB echoed byte-exact");
    } finally { rmSync(file, { force: true }); }
  } finally {
    app.kill("SIGTERM");
    await exited;
  }
  assert.is(spawnSync("ip", ["link", "show", TAP]).status, 1, "the app's exit removed the TAP device");
});

t("net_af_packet on a veth: Linux in a network namespace pings (IPv4 and IPv6), echoes UDP over both, and moves 64 MiB each way over TCP6", async () => {
  const peer = vethPeer(`${process.pid % 10000}`, "198.19.6.1/24", "fd00:6::1/64");
  const { ns, outer: v0, inner: v1 } = peer;
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-veth6-"));
  let l: LibOS | null = null;
  try {
    l = new LibOS({ config: loadConfig({ env: {}, overrides: {
      backend: "dpdk", "dpdk.device": `net_af_packet0,iface=${v0}`, local_ipv4: "198.19.6.2", mac: "02:00:00:00:06:02",
      local_ipv6: ["fd00:6::2/64"],
    } }) });
    const qd = l.socket();
    l.bind(qd, sockaddr("198.19.6.2", 7));
    const srv = new EchoServer(l, qd);
    const uqd = l.socket(AF_INET6, SOCK_DGRAM);
    l.bind(uqd, sockaddr("fd00:6::2", 7));
    const srv6 = new EchoServer(l, uqd);
    const lqd = l.socket(AF_INET6, SOCK_STREAM);
    l.bind(lqd, sockaddr("::", 7));
    l.listen(lqd, 4);
    const tcp = new TcpEchoServer(l, lqd);
    const lo = l;
    const turn = () => { lo.poll(); srv.step(); srv6.step(); tcp.step(); };
    const p = await serve(run(`ip netns exec ${ns} ping -c 3 -i 0.2 -W 2 198.19.6.2`), turn);
    assert.match(p.out, /3 packets transmitted, 3 received/, p.out + p.err);
    await addressesReady(lo, turn);
    const route6 = execFileSync("ip", ["-n", ns, "-6", "route", "get", "fd00:6::2"], { encoding: "utf8" });
    assert.ok(route6.includes(`dev ${v1}`), route6);
    const p6 = await serve(run(`ip netns exec ${ns} ping -6 -c 3 -i 0.2 -W 2 fd00:6::2`), turn);
    assert.match(p6.out, /3 packets transmitted, 3 received/, p6.out + p6.err);
    assert.is(lo.counters()["icmp6.echo_replied"], 3);
    const u = await serve(run(`printf 'through af_packet' | ip netns exec ${ns} socat -t 2 - UDP:198.19.6.2:7`), turn);
    assert.is(u.out, "through af_packet", u.err);
    const u6 = await serve(run(`printf 'six through af_packet' | ip netns exec ${ns} socat -t 2 - UDP6:[fd00:6::2]:7`), turn);
    assert.is(u6.out, "six through af_packet", u6.err);
    const input = join(dir, "in"), output = join(dir, "out");
    const data = Buffer.alloc(64 << 20);
    randomFillSync(data);
    writeFileSync(input, data);
    const t6 = await serve(run(`ip netns exec ${ns} socat -t 30 -T 60 TCP6:[fd00:6::2]:7 - < ${input} > ${output}`), turn, 300_000);
    assert.is(t6.code, 0, t6.err);
    assert.is(createHash("sha256").update(readFileSync(output)).digest("hex"), createHash("sha256").update(data).digest("hex"), "64 MiB each way over TCP6");
    assert.is(tcp.closed, 1);
    l.close(qd); l.close(uqd); l.close(lqd);
  } finally {
    l?.shutdown();
    peer.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.is(spawnSync("ip", ["link", "show", v0]).status, 1, "veth removed");
});

t("net_af_xdp on a veth: Linux in a namespace pings, echoes UDP and moves 16 MiB each way over TCP; every frame is a copy (the PMD's umem cannot be the Wasm pool); the queue opens again", async () => {
  const refused = dpdkInit(loadConfig({ env: {} }).dpdk.eal_args).afXdpProbe();
  if (refused !== 0) {
    // The kernel or the sandbox, not our code: say which errno it gave and test nothing else.
    console.log(`  skipped: this kernel refuses AF_XDP sockets (socket(AF_XDP) failed with ${errnoName(refused)})`);
    return;
  }
  const peer = vethPeer(`x${process.pid % 10000}`, "198.19.5.1/24");
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-xdp-"));
  let l: LibOS | null = null;
  try {
    const openXdp = () => new LibOS({ config: loadConfig({ env: {}, overrides: {
      backend: "dpdk", "dpdk.device": `net_af_xdp0,iface=${peer.outer}`, local_ipv4: "198.19.5.2", mac: "02:00:00:00:05:02",
    } }) });
    l = openXdp();
    assertRoutedInside(peer, "198.19.5.2");
    const qd = l.socket();
    l.bind(qd, sockaddr("198.19.5.2", 7));
    const srv = new EchoServer(l, qd);
    const lqd = l.socket(AF_INET, SOCK_STREAM);
    l.bind(lqd, sockaddr("198.19.5.2", 7));
    l.listen(lqd, 4);
    const tcp = new TcpEchoServer(l, lqd);
    const lo = l;
    const turn = () => { lo.poll(); srv.step(); tcp.step(); };
    const p = await serve(run(`ip netns exec ${peer.ns} ping -c 3 -i 0.2 -W 2 198.19.5.2`), turn);
    assert.match(p.out, /3 packets transmitted, 3 received/, p.out + p.err);
    for (let i = 0; i < 5; i++) {
      const u = await serve(run(`printf 'through af_xdp ${i}' | ip netns exec ${peer.ns} socat -t 2 - UDP:198.19.5.2:7`), turn);
      assert.is(u.out, `through af_xdp ${i}`, u.err);
    }
    const input = join(dir, "in"), output = join(dir, "out");
    const data = Buffer.alloc(16 << 20);
    randomFillSync(data);
    writeFileSync(input, data);
    const t4 = await serve(run(`ip netns exec ${peer.ns} socat -t 30 -T 60 TCP:198.19.5.2:7 - < ${input} > ${output}`), turn, 300_000);
    assert.is(t4.code, 0, t4.err);
    assert.is(createHash("sha256").update(readFileSync(output)).digest("hex"), createHash("sha256").update(data).digest("hex"), "16 MiB each way over TCP");
    const st = (lo.link as DpdkLink).stats();
    assert.ok(st.tx > (16 << 20) / 1500, JSON.stringify(st));
    assert.is(st.rxCopied, st.rx, "every frame received is a copy");
    assert.is(st.txCopied, st.tx, "every frame sent is a copy");
    l.close(qd); l.close(lqd);
    // The same queue opens again in this process (the bridge closes the socket the PMD leaves).
    l.shutdown();
    l = null;
    const again = openXdp();
    l = again;
    const q2 = again.socket();
    again.bind(q2, sockaddr("198.19.5.2", 7));
    const srv2 = new EchoServer(again, q2);
    const u = await serve(run(`printf 'again' | ip netns exec ${peer.ns} socat -t 2 - UDP:198.19.5.2:7`), () => { again.poll(); srv2.step(); });
    assert.is(u.out, "again", u.err);
  } finally {
    l?.shutdown();
    peer.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.is(spawnSync("ip", ["link", "show", peer.outer]).status, 1, "veth removed");
});

t("one TAP port, two queues, two worker threads: Linux's flows spread over the queues and every one is echoed", async () => {
  const tap = `dwmq${process.pid % 10000}`;
  const config = loadConfig({ env: {}, overrides: {
    backend: "dpdk", "dpdk.device": `net_tap0,iface=${tap}`, local_ipv4: "198.19.5.2", mac: "02:00:00:00:05:02",
    "arp.table": { "198.19.5.1": "02:00:00:00:05:01" },
  } });
  // One host on two queues: each worker must know Linux's MAC and Linux the stack's, since an
  // ARP reply lands on one queue only. (Set once the port has started: net_tap resets the TAP then.)
  const workers = await DpdkWorkers.startQueues({ config, port: 7 }, 2, () => execFileSync("sh", ["-c", [
    `ip link set dev ${tap} address 02:00:00:00:05:01`, `ip addr add 198.19.5.1/24 dev ${tap}`, `ip link set ${tap} up`,
    `sysctl -qw net.ipv6.conf.${tap}.disable_ipv6=1`, `ip neigh replace 198.19.5.2 lladdr 02:00:00:00:05:02 dev ${tap} nud permanent`,
  ].join(" && ")]));
  const socks = await Promise.all(Array.from({ length: 32 }, () => new Promise<ReturnType<typeof createSocket>>((res) => {
    const s = createSocket("udp4");
    s.bind(0, "198.19.5.1", () => res(s));
  })));
  let got = 0;
  const all = new Promise<void>((resolve) => { for (const s of socks) s.on("message", () => { if (++got === 32 * 20) resolve(); }); });
  for (let round = 0; round < 20; round++) for (const s of socks) s.send(`round ${round}`, 7, "198.19.5.2");
  const timeout = new Promise<void>((r) => setTimeout(r, 10_000));
  await Promise.race([all, timeout]);
  for (const s of socks) s.close();
  const stats = await workers.stop();
  assert.is(got, 640, `echoes: ${got}; workers: ${JSON.stringify(stats)}`);
  assert.is(stats[0].echoed + stats[1].echoed, 640);
  assert.ok(stats[0].echoed > 0 && stats[1].echoed > 0, `both queues carried flows: ${stats.map((s) => s.echoed)}`);
  assert.is(spawnSync("ip", ["link", "show", tap]).status, 1, "the last worker's close removed the TAP device");
});


t("bench tcp-loss --quick: Linux and the Wasm stack, Linux and Linux through the same seeded filter, byte-exact, in JSON", async () => {
  const r = await run(`${process.execPath} dist/host/cli.js bench tcp-loss --quick --json`);
  assert.is(r.code, 0, r.err);
  const out = JSON.parse(r.out.trim().split("\n").pop()!) as { suite: string; cases: Record<string, number>[] };
  assert.is(out.suite, "tcp-loss");
  assert.is(out.cases.length, 1);
  const c = out.cases[0];
  assert.is(c.loss, 0.02);
  for (const k of ["wasmLinuxMbps", "linuxLinuxMbps", "wasmWasmMbps"]) assert.ok(c[k] > 0, `${k} ${c[k]}`);
  for (const k of ["rtoShare", "spuriousShare"]) assert.ok(c[k] >= 0 && c[k] <= 1, `${k} ${c[k]}`);
  // The filter really dropped about 2% on both paths (seeded: the same frames of the same runs).
  for (const m of r.err.matchAll(/\((\d+\.\d+)%\)/g)) assert.ok(Math.abs(Number(m[1]) - 2) < 0.8, r.err);
  assert.is([...r.err.matchAll(/\((\d+\.\d+)%\)/g)].length, 2, r.err);
  // It removed its namespaces and veths.
  assert.not.match(execFileSync("ip", ["netns", "list"], { encoding: "utf8" }), /dwt[lb]/);
  assert.not.match(execFileSync("ip", ["link", "show"], { encoding: "utf8" }), /dwt[lb]\d/);
});
t("bench dpdk --quick: UDP echo RTT to Linux on a veth over net_af_xdp and over net_af_packet, in JSON, and nothing left behind", async () => {
  const r = await run(`${process.execPath} dist/host/cli.js bench dpdk --quick --json`);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out.trim().split("\n").pop()!) as Record<string, number | null>;
  assert.is(j.suite, "dpdk");
  if (j.linuxPeerSkipped !== undefined) { console.log(`  the Linux peer part said: ${j.linuxPeerSkipped}`); return; }
  // Round trips through Linux's stack and a Node echo server: some µs, never below the memif RTT's floor of 1 µs.
  for (const k of ["afXdpRttP50Us", "afPacketRttP50Us"]) assert.ok(typeof j[k] === "number" && j[k]! > 1 && j[k]! < 10_000, `${k} ${j[k]}`);
  assert.not.match(execFileSync("ip", ["netns", "list"], { encoding: "utf8" }), /dwnsb\d/);
  assert.not.match(execFileSync("ip", ["link", "show"], { encoding: "utf8" }), /dwvb\d/);
});

t("10,000 connections from Linux at once over net_tap to a stack with the default TCP and memory configuration: all asked, answered and held, then closed; tables, pool and buffer memory come back", async () => {
  const N = 10_000, PROCS = 4;
  const tap = `dwtc${process.pid % 10000}`;
  const config = loadConfig({ env: {}, overrides: {
    backend: "dpdk", "dpdk.device": `net_tap1,iface=${tap}`, local_ipv4: "198.19.15.2", mac: "02:00:00:00:0f:02",
  } });
  const stack = openStack(config);
  const lib = stack.libos as LibOS;
  const start = lib.poolAvailable();
  const heap = lib.dp.exports.tcpBufferBytesFree();
  const all = lib.dp.exports.tcpMaxConnectionCount();
  assert.ok(all >= N, `memory_mb ${config.memory_mb} sized the table for ${all} connections`);
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-crowd-"));
  const hold = join(dir, "release");
  const server = stack.net.createServer((s) => s.pipe(s));
  try {
    execFileSync("sh", ["-c", `ip addr add 198.19.15.1/24 dev ${tap} && ip link set ${tap} up && sysctl -qw net.ipv6.conf.${tap}.disable_ipv6=1`]);
    await new Promise<void>((r) => server.listen({ port: 7, host: "198.19.15.2", backlog: 4096 }, r));
    assertRoutedVia("198.19.15.2", tap);
    const script = fileURLToPath(new URL("../../tests/fixtures/many-clients.cjs", import.meta.url));
    const crowd = Array.from({ length: PROCS }, (_, k) =>
      run(`ulimit -n 20000 && ${process.execPath} ${script} 198.19.15.2 7 ${N / PROCS} c${k} ${hold}`));
    // Every connection is up and answered at the same time: then they may go.
    const deadline = Date.now() + 120_000;
    while (lib.dp.exports.tcpConnections(3) < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const established = lib.dp.exports.tcpConnections(3);
    writeFileSync(hold, "");
    const outs = await Promise.all(crowd);
    assert.is(established, N, `${established} connections established at once`);
    for (const o of outs) assert.match(o.out, new RegExp(`answered ${N / PROCS} failed 0`), o.out + o.err);
    const until = Date.now() + 30_000;
    while (lib.dp.exports.tcpConnections(0) < all && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.is(lib.dp.exports.tcpConnections(0), all, "every control block free again");
    assert.is(lib.poolAvailable(), start);
    assert.is(lib.dp.exports.tcpBufferBytesFree(), heap, "every ring and log given back");
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

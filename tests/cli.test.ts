// The command line as a user runs it: the demo, the ping-pong, the bench's JSON, and one clear
// line with a non-zero exit for every mistake.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { freePorts } from "../host/freeport.js";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const cli = fileURLToPath(new URL("../host/cli.js", import.meta.url));
const PORTS = await freePorts(2);
function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { PATH: process.env.PATH, ...env }, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("udp-echo runs two stacks, echoes everything and summarizes with drops by reason", () => {
  const r = run(["udp-echo", "--duration", "0.3"]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /udp-echo: sent (\d+), echoed \1, lost 0, corrupt 0/);
  assert.match(r.out, "drops by reason: none");
});

test("udp-echo --json over a lossy link: the last line is JSON, losses are counted, nothing corrupt", () => {
  const r = run(["udp-echo", "--duration", "0.3", "--loss", "0.05", "--corrupt", "0.01", "--seed", "3", "--json"]);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out.trim().split("\n").pop()!);
  assert.is(j.command, "udp-echo");
  assert.ok(j.sent > 100 && j.echoed > 0 && j.echoed < j.sent);
  assert.is(j.corrupt, 0);
  assert.ok(j.link.lost > 0 && j.link.corrupted > 0);
  assert.is(j.sent, j.echoed + j.lost);
  // The seed is printed so the run can be replayed.
  assert.match(r.err, "DEMIWASM_LINK_SEED=3");
});

test("udp-pingpong reports RTT percentiles", () => {
  const r = run(["udp-pingpong", "--count", "500", "--json"]);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out.trim().split("\n").pop()!);
  assert.is(j.rounds, 500);
  assert.ok(j.rttP50Us > 0 && j.rttP99Us >= j.rttP50Us);
});

test("bench udp --json --ipv6 ends with one JSON object holding the figures the issues name", () => {
  const r = run(["bench", "udp", "--json", "--quick", "--ipv6"]);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out.trim().split("\n").pop()!);
  for (const k of ["perIoNs", "crossingsPerEcho", "rttP50Us", "rttP99Us", "nodeRttP50Us", "nodeRttP99Us"]) assert.type(j[k], "number", k);
  // Two stacks, each polled twice per burst of 32 echoes: at least that many calls into Wasm.
  assert.ok(j.crossingsPerEcho >= 0.125, JSON.stringify(j));
  // The figures agree with each other: a percentile order, the speedup is the ratio it names, one
  // I/O costs less than a round trip (which is at least two), and the goals are the issue's.
  assert.ok(j.rttP99Us >= j.rttP50Us && j.nodeRttP99Us >= j.nodeRttP50Us, JSON.stringify(j));
  assert.is(j.rttSpeedupP50, Math.round((j.nodeRttP50Us / j.rttP50Us) * 10) / 10);
  assert.ok(j.perIoNs > 0 && j.perIoNs * 2 <= j.rttP50Us * 1000, JSON.stringify(j));
  // The IPv6 run's figure and its ratio to IPv4's (issue 16 asks for at most 1.1).
  assert.ok(j.perIoNs6 > 0 && Math.abs(j.ipv6Ratio - j.perIoNs6 / j.perIoNs) < 0.002, JSON.stringify(j));
  assert.equal(j.goals, { perIoNs: 80, crossingsPerEcho: 0.125, rttSpeedupP50: 10, ipv6Ratio: 1.1 });
});

test("pktgen: every datagram offered arrives on a clean link, on the loopback and the posix backends", () => {
  for (const extra of [[], ["--backend", "posix", "--port", String(PORTS[0])]]) {
    const r = run(["pktgen", "--duration", "0.3", "--json", ...extra]);
    assert.is(r.code, 0, r.err);
    const j = JSON.parse(r.out.trim().split("\n").pop()!);
    assert.ok(j.sent > 1000, `${j.sent} sent`);
    // The kernel may drop a few datagrams under load: it says so in its own counters (netstat -su).
    if (j.backend === "loopback") { assert.is(j.received, j.sent); assert.is(j.drops, "none"); }
    else assert.ok(j.received > j.sent * 0.5);
  }
});

test("tcp-echo with --peer server and --peer client in two processes over kernel sockets, IPv4 and IPv6 ([::1]:PORT)", async () => {
  const port = PORTS[1];
  for (const host of ["127.0.0.1", "[::1]"]) {
    const server = spawn(process.execPath, [cli, "tcp-echo", "--backend", "posix", "--peer", "server", "--address", `${host}:${port}`, "--duration", "60"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve) => server.stdout!.once("data", () => resolve()));
      const r = run(["tcp-echo", "--backend", "posix", "--peer", "client", "--address", `${host}:${port}`, "--nclients", "3", "--nrequests", "200", "--bufsize", "100", "--json"]);
      assert.is(r.code, 0, r.err);
      const j = JSON.parse(r.out.trim().split("\n").pop()!);
      assert.equal([j.requests, j.failed], [600, 0], host);
    } finally { server.kill("SIGKILL"); await new Promise((r) => server.once("exit", r)); }
  }
  assert.match(run(["tcp-echo", "--backend", "posix", "--peer", "client", "--address", "[::g]:7"]).err, /--address expects IP:PORT or \[IPv6\]:PORT/);
});

test("bench tcp --json --ipv6 ends with the figures the TCP and IPv6 issues name", () => {
  const r = run(["bench", "tcp", "--json", "--quick", "--ipv6"]);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out.trim().split("\n").pop()!);
  for (const k of ["perIoNs", "rttP50Us", "rttP99Us", "bulkGbps", "bulkGbps1500", "nodeRttP50Us", "nodeBulkGbps", "connsPerSec"]) assert.ok(typeof j[k] === "number" && j[k] > 0, k);
  assert.ok(j.rttP99Us >= j.rttP50Us, JSON.stringify(j));
  assert.ok(j.perIoNs * 2 <= j.rttP50Us * 1000, "one I/O costs less than a round trip of two");
  // An idle connection holds no buffer memory: its table entry is all it costs.
  assert.is(j.bytesPerIdleConn, j.tableBytesPerConn);
  assert.ok(j.perIoNs6 > 0 && j.bulkGbps6 > 0 && Math.abs(j.ipv6Ratio - j.perIoNs6 / j.perIoNs) < 0.002, JSON.stringify(j));
  assert.is(j.bulkMtu, 9000);
  assert.equal(j.goals, { perIoNs: 150, bulkVsNode: 4, ipv6Ratio: 1.1 });
});

test("bench nf --json: every sample as Wasm, metered, native and its native C as Wasm, portblock from each language built here, the chain's copy", () => {
  const r = run(["bench", "nf", "--json", "--quick"]);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out.trim().split("\n").pop()!);
  const rows = j.nfs as { name: string; lang: string; wasmNs: number; nativeNs: number; meteredNs: number; copyNs: number; clangWasmNs: number | null; wasmToNative: number }[];
  const built = (f: string) => existsSync(join(dirname(cli), "..", "..", "build", "nf", f));
  for (const n of rows) {
    for (const k of ["wasmNs", "nativeNs", "meteredNs", "copyNs"] as const) assert.ok(n[k] > 0, `${n.name} ${n.lang} ${k}`);
    assert.is(n.wasmToNative, Math.round((n.wasmNs / n.nativeNs) * 100) / 100);
    // The native baseline's C as Wasm, where clang for wasm32 built it; null (and said) where not.
    if (built("baseline.wasm")) assert.ok(n.clangWasmNs! > 0, `${n.name} ${n.lang} clangWasmNs`); else assert.is(n.clangWasmNs, null);
  }
  assert.equal(rows.filter((n) => n.lang === "assemblyscript").map((n) => n.name), ["flowmon", "ratelimit", "firewall", "nat", "maglev", "portblock"]);
  const langs = rows.filter((n) => n.name === "portblock").map((n) => n.lang);
  assert.equal(langs, ["assemblyscript", ...(built("portblock.wasm") ? ["c"] : []), ...(built("portblock-rs.wasm") ? ["rust"] : [])]);
  assert.equal(j.goals, { wasmToNative: 1.2, meteredToWasm: 1.05 });
});

test("bench all --report writes REPORT.md with a ratio table naming the machine, and an SVG chart", () => {
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-report-"));
  try {
    const r = run(["bench", "all", "--report", "--quick", "--out", dir]);
    assert.is(r.code, 0, r.err);
    const j = JSON.parse(r.out.trim().split("\n").pop()!);
    assert.ok(j.results.udp && j.results.tcp, Object.keys(j.results).join(","));
    const md = readFileSync(join(dir, "REPORT.md"), "utf8");
    assert.match(md, /^# demiwasm benchmark report/);
    assert.match(md, /Machine: \d+ × /);
    assert.match(md, /\| UDP RTT p50, 64 B \| [\d.]+ µs \| [\d.]+ µs \(Node dgram\) \| [\d.]+× (better|worse) \|/);
    assert.match(md, /\| TCP bulk, one flow, MTU 9000 \|/);
    assert.match(md, /\| TCP bulk, one flow, MTU 1500 \|/);
    const svg = readFileSync(join(dir, "report.svg"), "utf8");
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok((svg.match(/<rect /g) ?? []).length >= 1 + 4, "a bar per comparison");
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test("mistakes are one line on stderr and a non-zero exit", () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["udp-echo", "--bogus"], {}, /^demiwasm: Unknown option '--bogus'/],
    [["frobnicate"], {}, /^demiwasm: unknown command 'frobnicate'/],
    [["bench", "nope"], {}, /^demiwasm: no benchmark suite 'nope'/],
    [["tcp-echo", "--peer", "server"], {}, /^demiwasm: --peer runs one side per process/],
    [["tcp-echo", "--backend", "posix", "--peer", "client", "--address", "nowhere"], {}, /^demiwasm: --address expects IP:PORT/],
    [["kv"], {}, /^demiwasm: kv serves real clients/],
    [["udp-echo", "--size", "2"], {}, /^demiwasm: --size expects/],
    [["udp-echo"], { DEMIWASM_MTU: "5" }, /^demiwasm: config key 'mtu'/],
    [["udp-echo"], { DEMIWASM_BACKEND: "dpdk", DEMIWASM_NATIVE_DIR: "/nonexistent" }, /^demiwasm: backend 'dpdk' is not available: .*libdpdk-dev/],
    [["udp-echo", "--backend", "dpdk", "--peer", "client"], {}, /^demiwasm: udp-echo --peer takes server/],
    [["bench", "fabric"], { DEMIWASM_NATIVE_DIR: "/nonexistent" }, /^demiwasm: backend 'fabric' is not available: .*libfabric-dev/],
  ];
  for (const [args, env, re] of cases) {
    const r = run(args, env);
    assert.ok(r.code !== 0, args.join(" "));
    assert.match(r.err, re);
    assert.is(r.err.trim().split("\n").length, 1, r.err);
  }
});

test("nf run puts the example chain on the server's port, and nf stats prints what it wrote", () => {
  const stats = join(tmpdir(), `demiwasm-nf-cli-${process.pid}.json`);
  const r = run(["nf", "run", "nf/examples/chain.yaml", "--duration", "1", "--stats", stats, "--json"]);
  assert.is(r.code, 0, r.err);
  const out = JSON.parse(r.out.trim().split("\n").pop()!);
  assert.equal(out.nfs.map((n: { name: string }) => n.name), ["firewall", "ratelimit", "portblock", "flowmon", "firewall-out"]);
  assert.ok(out.echoed > 0 && out.nfs[0].packetsIn >= out.echoed);
  // Every datagram the rate limiter dropped is one the client counted lost (give or take the
  // window still in flight at the end): drops do not stall the traffic on a loss timer.
  const dropped = out.nfs[1].dropped;
  assert.ok(dropped > 0 && out.lost >= dropped - 1024 && out.lost <= dropped + 1024, `lost ${out.lost}, dropped ${dropped}`);
  assert.ok(Math.abs(out.chainInPerS * out.seconds - out.nfs[0].packetsIn) < 1 && out.chainNsPerPacket > 0, JSON.stringify(out).slice(0, 300));
  const s = run(["nf", "stats", stats]);
  assert.is(s.code, 0);
  assert.match(s.out, /^NF stats of pid \d+ at /);
  assert.match(s.out, /\nfirewall\s+\d+\s+\d+/);
  rmSync(stats, { force: true });
  const posix = run(["nf", "run", "nf/examples/chain.yaml", "--backend", "posix"]);
  assert.match(posix.err, /^demiwasm: nf run needs a physical backend \(loopback or dpdk\)/);
  const missing = run(["nf", "stats", "/nonexistent/stats.json"]);
  assert.match(missing.err, /^demiwasm: no NF stats at \/nonexistent\/stats.json/);
});

test("nf stats --watch --json: a line of per-NF rates each second while nf run runs, then it ends", async () => {
  const stats = join(tmpdir(), `demiwasm-nf-watch-${process.pid}.json`);
  const runner = spawn(process.execPath, [cli, "nf", "run", "nf/examples/chain.yaml", "--duration", "3.5", "--stats", stats, "--json"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve) => runner.stdout!.once("data", () => resolve()));
    for (let i = 0; i < 50 && !existsSync(stats); i++) await new Promise((r) => setTimeout(r, 100));
    const watch = spawn(process.execPath, [cli, "nf", "stats", "--watch", "--json", stats], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    watch.stdout!.on("data", (d) => { text += d; });
    const code = await new Promise((r) => watch.once("exit", r));
    assert.is(code, 0);
    const lines = text.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.length >= 1, text);
    for (const l of lines) {
      assert.equal(l.nfs.map((n: { name: string }) => n.name), ["firewall", "ratelimit", "portblock", "flowmon", "firewall-out"]);
      const [fw, rl] = l.nfs;
      assert.ok(fw.pps > 0 && fw.nsPerPacket > 0 && fw.fuelPerPacket > 0, JSON.stringify(fw));
      assert.ok(Math.abs(rl.passedPerS + rl.droppedPerS - rl.pps) < 1e-6 * rl.pps + 1e-9, JSON.stringify(rl));
    }
  } finally {
    runner.kill("SIGKILL");
    rmSync(stats, { force: true });
  }
});

test("help lists the commands", () => {
  const r = run(["--help"]);
  assert.is(r.code, 0);
  for (const c of ["udp-echo", "udp-pingpong", "bench", "config"]) assert.match(r.out, c);
});

test.run();

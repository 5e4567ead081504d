#!/usr/bin/env node
// demiwasm: the command line. Every failure is one line on stderr and a non-zero exit.
import { parseArgs } from "node:util";
import { loadConfig, ConfigError, CONFIG_KEYS, envName, type Config } from "./config.js";
import { loopbackPair, stacksFor, type Stacks, type Pair } from "./topology.js";
import { sockaddr, parseSockAddr, SOCK_STREAM, SOCK_DGRAM, LibOS, type SockAddr } from "./libos.js";
import { familyOf } from "./sockaddr.js";
import { formatIpv4 } from "./config.js";
import { EchoServer, EchoClient } from "../examples/udp-echo.js";
import { udpPingPong, udpPingPongTo, type PingPongResult } from "../examples/udp-pingpong.js";
import { tcpEcho, tcpEchoClients, TcpEchoServer } from "../examples/tcp-echo.js";
import { KvServer, KvStore } from "../examples/kv.js";
import { UdpRelay } from "../examples/udp-relay.js";
import { pktgen } from "../examples/pktgen.js";
import { fixedBodyServer, keepAliveLoad } from "../examples/http-serve.js";
import { openLibOS } from "./open.js";
import { openStack, Stack } from "./stack/stack.js";
import type { Pdpix } from "./pdpix.js";
import { percentile, formatRate, dropSummary, LiveLine } from "./stats.js";
import { runBench, SUITES } from "./bench/index.js";
import { DemiError } from "./errno.js";

const USAGE = `usage: demiwasm <command> [options]

commands:
  udp-echo          a client floods a UDP echo server; two stacks on the loopback link
                    (npm start runs this for 3 s), live stats, then a summary
  udp-pingpong      one datagram at a time; prints RTT p50/p99 (--peer client --address
                    IP:PORT against udp-echo --peer server in another process)
  pktgen            sends --size-byte datagrams as fast as the stack takes them for --duration
                    seconds; prints offered and received packets/s and drops
  tcp-echo          TCP echo with Demikernel's flags (--bufsize --nclients --nrequests):
                    prints requests, rps, p50, p99; with --backend posix, --peer server|client
                    --address IP:PORT runs one side per process
  bench SUITE       benchmarks: ${SUITES.join(", ")} (last stdout line is JSON with --json);
                    bench all [--report [--out DIR]]: every suite, then DIR/REPORT.md and report.svg
  udp-relay         relays datagrams from --backend posix at --address:--port into a Wasm stack
                    on the loopback link, to an echo server there, and the echoes back:
                    two backends in one process
  kv                a key-value server speaking RESP (redis-cli, redis-benchmark) on
                    --backend posix, at --address (127.0.0.1) --port (6379)
  http-serve        Node's http module on the stack, every request answered with --body-bytes
                    (64) bytes, on --address (posix: 127.0.0.1) --port (8080); on loopback a
                    client stack runs Node's keep-alive http client for --duration, prints rps
  nf run CHAIN      runs UDP echo traffic through the NF chains of CHAIN.yaml on the server's
                    port (loopback or dpdk), writes per-NF stats every second (--stats FILE),
                    hot-reloads changed manifests and modules with --watch
  nf stats [FILE]   prints the per-NF stats the last nf run wrote; --watch: live rates until it exits
  config            prints the effective configuration (file, then DEMIWASM_* variables)

options:
  --config FILE     YAML or JSON configuration (or DEMIWASM_CONFIG)
  --duration SEC    how long udp-echo runs (default 3)
  --count N         datagrams (udp-pingpong rounds; udp-echo stops after N if given)
  --size BYTES      payload size (default 64)
  --window N        udp-echo: datagrams in flight (default 256)
  --bufsize B --nclients N --nrequests N
                    tcp-echo: request size (64), connections (1), requests each (10000)
  --loss P --reorder P --duplicate P --corrupt P --delay-ms MS --seed N
                    loopback link faults (each also a config key under link.)
  --pcap FILE       write the frames to FILE (pcap, for tshark/Wireshark): every frame on the loopback
                    link, or what the server's DPDK port sends and receives
  --backend NAME    loopback (default), dpdk, posix, fabric (the config key backend); on dpdk
                    the in-process commands run two ports joined by net_ring rings
  --device SPEC     dpdk: the port (config dpdk.device), e.g. net_tap0,iface=dw0,
                    net_memif0,role=server,socket=/tmp/m.sock, or a PCI address
  --peer ROLE       one side per process: udp-echo --peer server, udp-pingpong --peer client
                    (with --address IP:PORT or [IPv6]:PORT); tcp-echo --peer server|client
  --address IP --port N
                    where a server listens (kv)
  --json            print a JSON summary as the last line
  --quick           bench: fewer iterations (for smoke tests)
  --ipv6            bench udp, tcp: also over IPv6 in the same run (perIoNs6, ipv6Ratio)
  -h, --help`;

class UsageError extends Error {}

function fail(msg: string, code = 1): never {
  process.stderr.write(`demiwasm: ${msg}\n`);
  process.exit(code);
}

function num(v: string | undefined, name: string, def: number, lo = 0, hi = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi) throw new UsageError(`--${name} expects a number in [${lo}, ${hi}], got '${v}'`);
  return n;
}

function configFrom(values: Record<string, string | boolean | undefined>): Config {
  const o: Record<string, unknown> = {};
  for (const k of ["loss", "reorder", "duplicate", "corrupt"]) if (values[k] !== undefined) o[`link.${k}`] = values[k];
  if (values["delay-ms"] !== undefined) o["link.delay_ms"] = values["delay-ms"];
  if (values.backend !== undefined) o.backend = values.backend;
  if (values.device !== undefined) o["dpdk.device"] = values.device;
  if (values.seed !== undefined) { o["link.seed"] = values.seed; o.seed = values.seed; }
  return loadConfig({ file: values.config as string | undefined, overrides: o });
}

/** One side per process (--peer server): echo every datagram on --address until --duration or a signal. */
function udpEchoServerRole(config: Config, v: Record<string, string | boolean | undefined>): void {
  const at = address(v.address as string | undefined);
  const duration = num(v.duration as string, "duration", Infinity, 0);
  const stack = openStack(config);
  const l = stack.libos as Pdpix;
  const qd = l.socket(familyOf(at), SOCK_DGRAM);
  l.bind(qd, at);
  const srv = new EchoServer(l, qd);
  process.stdout.write(`udp-echo server on ${v.address} (${config.backend})\n`);
  serve(duration, [[stack, () => srv.step()]], () => process.stdout.write(`udp-echo server: echoed ${srv.echoed}\n`));
}

/**
 * Serves on the event-loop driver (config poll.*), so that an idle server sleeps: each step (a
 * PDPIX state machine) runs after every turn of its stack; null for servers on stack.net/http.
 * Until --duration passes or SIGINT/SIGTERM arrives; then `done` reports, and the stacks close.
 */
function serve(seconds: number, steps: [Stack, (() => void) | null][], done: () => void = () => {}): void {
  const stacks = [...new Set(steps.map(([s]) => s))];
  for (const [s, step] of steps) if (step !== null) s.onTurn(step);
  for (const s of stacks) s.ref();
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    clearTimeout(timer);
    done();
    for (const s of stacks) { s.unref(); void s.close(); }
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  if (Number.isFinite(seconds)) timer = setTimeout(stop, seconds * 1000);
}

function udpEcho(config: Config, v: Record<string, string | boolean | undefined>): void {
  if (v.peer === "server") return udpEchoServerRole(config, v);
  if (v.peer !== undefined) throw new UsageError(`udp-echo --peer takes server (the client side is udp-pingpong --peer client), got '${v.peer}'`);
  const duration = num(v.duration as string, "duration", 3, 0, 86400);
  const count = num(v.count as string, "count", Infinity, 1);
  const size = num(v.size as string, "size", 64, 4, 65507);
  const window = num(v.window as string, "window", 256, 1, 4096);
  const json = v.json === true;
  const p = stacksFor(config);
  const { server, client } = p;
  if (typeof v.pcap === "string") p.capture(v.pcap);
  const port = num(v.port as string, "port", 7, 1, 65535);
  const sqd = server.socket();
  server.bind(sqd, sockaddr(formatIpv4(p.serverIp), port));
  const cqd = client.socket();
  const srv = new EchoServer(server, sqd);
  const cli = new EchoClient(client, cqd, { addr: p.serverIp, port }, { size, window, burst: 32 });
  const live = new LiveLine();
  const clock = p.clock;
  const t0 = clock.now();
  const end = t0 + duration * 1e9;
  let lastReport = t0;
  let lastEchoed = 0;
  if (!json) process.stdout.write(`udp-echo (${config.backend}): -> ${formatIpv4(p.serverIp)}:${port}, ${size}-byte datagrams, window ${window}, ${duration} s\n`);
  let stop = false;
  process.once("SIGINT", () => { stop = true; });
  for (;;) {
    const now = clock.now();
    const sending = now < end && cli.sent < count && !stop;
    if (!sending && cli.outstanding === 0) break;
    if (!sending && now > end + 1e9) break;            // give late echoes a second, then stop
    p.poll();
    srv.step();
    cli.step(clock.now(), sending);
    if (!json && now - lastReport >= 1e9) {
      const rate = (cli.echoed - lastEchoed) / ((now - lastReport) / 1e9);
      live.update(`[${((now - t0) / 1e9).toFixed(1)}s] ${formatRate(rate)}echo/s  ${formatRate(rate * size * 8)}bit/s payload  lost ${cli.lost}  drops: ${drops(p)}`);
      lastReport = now;
      lastEchoed = cli.echoed;
    }
  }
  live.end();
  p.stopCapture();
  const secs = (clock.now() - t0) / 1e9;
  const link = "link" in p ? (p as Pair).link.stats : undefined;
  const stackDrops = p.server instanceof LibOS && p.client instanceof LibOS ? { server: dropsOf(p.server.counters()), client: dropsOf(p.client.counters()) } : undefined;
  const summary = {
    command: "udp-echo", backend: config.backend, seconds: +secs.toFixed(3), size, sent: cli.sent, echoed: cli.echoed, lost: cli.lost,
    corrupt: cli.corrupt, echoPerSec: Math.round(cli.echoed / secs), link, drops: stackDrops,
  };
  if (json) { process.stdout.write(JSON.stringify(summary) + "\n"); return; }
  process.stdout.write(`udp-echo: sent ${cli.sent}, echoed ${cli.echoed}, lost ${cli.lost}, corrupt ${cli.corrupt} in ${secs.toFixed(2)} s ` +
    `(${formatRate(cli.echoed / secs)}echo/s)\n`);
  process.stdout.write(`  drops by reason: ${drops(p)}\n`);
  if (link) process.stdout.write(`  link: ${JSON.stringify(link)}\n`);
  if (cli.corrupt > 0) process.exitCode = 1;
}

/** Drops by reason on both Wasm stacks (the kernel keeps its own for the posix backend). */
function drops(p: Stacks): string {
  return p.server instanceof LibOS && p.client instanceof LibOS ? dropSummary(p.server.counters(), p.client.counters()) : "(kernel: see netstat -su)";
}

function dropsOf(c: ReturnType<import("./libos.js").LibOS["counters"]>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).filter(([k, v]) => k.startsWith("drop.") && v > 0).map(([k, v]) => [k.slice(5), v]));
}

function pingpong(config: Config, v: Record<string, string | boolean | undefined>): void {
  const rounds = num(v.count as string, "count", 10000, 1);
  const size = num(v.size as string, "size", 64, 4, 65507);
  let r: PingPongResult;
  if (v.peer === "client") {
    // One side per process: against udp-echo --peer server at --address.
    const at = address(v.address as string | undefined);
    const l = openLibOS(config) as Pdpix;
    udpPingPongTo(l, at, 1000, size);                             // warm-up: ARP and V8's tiers
    r = udpPingPongTo(l, at, rounds, size);
    l.shutdown();
  } else {
    if (v.peer !== undefined) throw new UsageError(`udp-pingpong --peer takes client (the server side is udp-echo --peer server), got '${v.peer}'`);
    const p = stacksFor(config);
    if (typeof v.pcap === "string") p.capture(v.pcap);
    const port = num(v.port as string, "port", 7, 1, 65535);
    udpPingPong(p, 1000, size, port + 2);                          // warm-up: ARP and V8's tiers
    r = udpPingPong(p, rounds, size, port);
    p.stopCapture();
  }
  const sorted = r.rttNs.sort((a, b) => a - b);
  const out = { command: "udp-pingpong", rounds: r.rounds, lost: r.lost, size,
                rttP50Us: +(percentile(sorted, 50) / 1e3).toFixed(3), rttP99Us: +(percentile(sorted, 99) / 1e3).toFixed(3) };
  if (v.json === true) process.stdout.write(JSON.stringify(out) + "\n");
  else process.stdout.write(`udp-pingpong: ${out.rounds} rounds of ${size} bytes, lost ${out.lost}, RTT p50 ${out.rttP50Us} us, p99 ${out.rttP99Us} us\n`);
}

/** IP:PORT as Demikernel's examples take it, or [IPv6]:PORT. */
function address(v: string | undefined): SockAddr {
  const a = parseSockAddr(v ?? "");
  if (a === null) throw new UsageError(`--address expects IP:PORT or [IPv6]:PORT, got '${v ?? ""}'`);
  return a;
}

/** Demikernel's --peer server: echo every connection on --address until --duration or a signal. */
function tcpEchoServerRole(config: Config, v: Record<string, string | boolean | undefined>): void {
  const at = address(v.address as string | undefined);
  const stack = openStack(config);
  const l = stack.libos as Pdpix;
  const lqd = l.socket(familyOf(at), SOCK_STREAM);
  l.bind(lqd, at);
  l.listen(lqd, 128);
  const srv = new TcpEchoServer(l, lqd);
  process.stdout.write(`tcp-echo server on ${v.address} (${config.backend})\n`);
  serve(num(v.duration as string, "duration", Infinity, 0), [[stack, () => srv.step()]]);
}

function tcpEchoCmd(config: Config, v: Record<string, string | boolean | undefined>): void {
  const bufsize = num(v.bufsize as string, "bufsize", 64, 1, 1 << 20);
  const nclients = num(v.nclients as string, "nclients", 1, 1, 1024);
  const nrequests = num(v.nrequests as string, "nrequests", 10000, 1);
  if (v.peer !== undefined && config.backend === "loopback") throw new UsageError("--peer runs one side per process: use --backend posix");
  if (v.peer === "server") return tcpEchoServerRole(config, v);
  if (v.peer !== undefined && v.peer !== "client") throw new UsageError(`--peer expects server or client, got '${v.peer}'`);
  let r: ReturnType<typeof tcpEcho>;
  if (v.peer === "client") {
    const l = openLibOS(config) as Pdpix;
    const at = address(v.address as string | undefined);
    r = tcpEchoClients(l, at, bufsize, nclients, nrequests);
  } else {
    const p = stacksFor(config);
    if (typeof v.pcap === "string") p.capture(v.pcap);
    r = tcpEcho(p, num(v.port as string, "port", 7, 1, 65535), bufsize, nclients, nrequests);
    p.stopCapture();
  }
  const lat = r.latNs.sort((a, b) => a - b);
  const out = { command: "tcp-echo", bufsize, nclients, requests: r.requests, failed: r.failed, rps: Math.round(r.requests / r.seconds),
                p50Us: +(percentile(lat, 50) / 1e3).toFixed(3), p99Us: +(percentile(lat, 99) / 1e3).toFixed(3) };
  if (v.json === true) process.stdout.write(JSON.stringify(out) + "\n");
  else process.stdout.write(`tcp-echo: ${out.requests} requests (${out.failed} failed) of ${bufsize} bytes over ${nclients} connection(s), ${formatRate(out.rps)}rps, p50 ${out.p50Us} us, p99 ${out.p99Us} us\n`);
  if (r.failed > 0 || r.requests < nclients * nrequests) process.exitCode = 1;
}

function pktgenCmd(config: Config, v: Record<string, string | boolean | undefined>): void {
  const size = num(v.size as string, "size", 64, 1, 65507);
  const duration = num(v.duration as string, "duration", 3, 0, 86400);
  const p = stacksFor(config);
  if (typeof v.pcap === "string") p.capture(v.pcap);
  const r = pktgen(p, size, duration, 32, num(v.port as string, "port", 9, 1, 65535));
  p.stopCapture();
  const out = { command: "pktgen", backend: config.backend, size, sent: r.sent, received: r.received,
                sentPps: Math.round(r.sent / r.seconds), receivedPps: Math.round(r.received / r.seconds),
                gbps: +((r.bytes * 8) / r.seconds / 1e9).toFixed(3), drops: drops(p) };
  if (v.json === true) process.stdout.write(JSON.stringify(out) + "\n");
  else process.stdout.write(`pktgen (${config.backend}): ${size}-byte datagrams, sent ${r.sent} (${formatRate(out.sentPps)}pps), received ${r.received} (${formatRate(out.receivedPps)}pps, ${out.gbps} Gbit/s payload); drops: ${out.drops}\n`);
}

function kvCmd(config: Config, v: Record<string, string | boolean | undefined>): void {
  if (config.backend === "loopback") throw new UsageError("kv serves real clients: run it with --backend posix or dpdk");
  const address = (v.address as string | undefined) ?? "127.0.0.1";
  const port = num(v.port as string, "port", 6379, 1, 65535);
  const duration = num(v.duration as string, "duration", Infinity, 0);
  const stack = openStack(config);
  const l = stack.libos as Pdpix;
  const at = sockaddr(address, port);                // kv --address ::1 listens on IPv6
  const lqd = l.socket(familyOf(at), SOCK_STREAM);
  l.bind(lqd, at);
  l.listen(lqd, 128);
  const srv = new KvServer(l, lqd, new KvStore(() => Date.now()));
  process.stdout.write(`kv: listening on ${address}:${port} (${config.backend} backend)\n`);
  serve(duration, [[stack, () => srv.step()]],
    () => process.stdout.write(`kv: ${srv.commands} commands, ${srv.errors} errors, ${srv.store.size} keys\n`));
}

function udpRelayCmd(config: Config, v: Record<string, string | boolean | undefined>): void {
  if (config.backend === "loopback") throw new UsageError("udp-relay's front faces real clients: run it with --backend posix");
  const address = (v.address as string | undefined) ?? "127.0.0.1";
  const port = num(v.port as string, "port", 7000, 1, 65535);
  const duration = num(v.duration as string, "duration", Infinity, 0);
  const frontStack = openStack(config);
  const front = frontStack.libos as Pdpix;
  const fqd = front.socket();
  front.bind(fqd, sockaddr(address, port));
  const behind = loopbackPair({ ...config, backend: "loopback" });
  const sqd = behind.server.socket();
  behind.server.bind(sqd, sockaddr(formatIpv4(behind.server.ip), 7));
  const echo = new EchoServer(behind.server, sqd);
  const bqd = behind.client.socket();
  const relay = new UdpRelay(front, fqd, behind.client, bqd, { addr: behind.server.ip, port: 7 });
  process.stdout.write(`udp-relay: ${address}:${port} (${config.backend}) -> ${formatIpv4(behind.server.ip)}:7 (loopback link, Wasm echo server)\n`);
  const serverStack = new Stack(behind.server), clientStack = new Stack(behind.client);
  const step = () => relay.step();
  serve(duration, [[frontStack, step], [clientStack, step], [serverStack, () => echo.step()]],
    () => process.stdout.write(`udp-relay: forwarded ${relay.forwarded}, returned ${relay.returned}\n`));
}

/**
 * Node's own http server on the stack, answering every request with --body-bytes bytes. On
 * loopback a second stack on the link runs Node's keep-alive http client against it for
 * --duration and prints requests/s; on posix and dpdk it serves real clients (curl, wrk, ab).
 */
async function httpServeCmd(config: Config, v: Record<string, string | boolean | undefined>): Promise<void> {
  if (config.backend === "fabric") throw new UsageError("http-serve: the fabric backend carries messages, not TCP; use loopback, posix or dpdk");
  const bodyBytes = num(v["body-bytes"] as string, "body-bytes", 64, 0, 1 << 26);
  const port = num(v.port as string, "port", 8080, 1, 65535);
  if (config.backend === "loopback") {
    const duration = num(v.duration as string, "duration", 3, 0, 86400);
    const p = loopbackPair(config);
    const server = new Stack(p.server), client = new Stack(p.client);
    const address = (v.address as string | undefined) ?? formatIpv4(p.serverIp);
    const srv = fixedBodyServer(server.http, bodyBytes);
    await new Promise<void>((resolve, reject) => { srv.server.once("error", reject); srv.server.listen(port, address, resolve); });
    await keepAliveLoad(client.http, address, port, { seconds: Math.min(0.5, duration) });   // warm-up: ARP and V8's tiers
    const r = await keepAliveLoad(client.http, address, port, { seconds: duration });
    await new Promise<void>((resolve) => srv.server.close(() => resolve()));
    await client.close();
    await server.close();
    const lat = r.latNs.sort((a, b) => a - b);
    const out = { command: "http-serve", backend: config.backend, bodyBytes, requests: r.requests, failed: r.failed, served: srv.requests(),
                  rps: Math.round(r.requests / r.seconds), p50Us: +(percentile(lat, 50) / 1e3).toFixed(2), p99Us: +(percentile(lat, 99) / 1e3).toFixed(2) };
    if (v.json === true) process.stdout.write(JSON.stringify(out) + "\n");
    else process.stdout.write(`http-serve (loopback): ${out.requests} requests (${out.failed} failed) on one keep-alive connection, ` +
      `${formatRate(out.rps)}rps, p50 ${out.p50Us} us, p99 ${out.p99Us} us\n`);
    if (r.failed > 0) process.exitCode = 1;
    return;
  }
  const stack = openStack(config);
  const address = (v.address as string | undefined) ?? (stack.libos instanceof LibOS ? formatIpv4(stack.libos.ip) : "127.0.0.1");
  const srv = fixedBodyServer(stack.http, bodyBytes);
  await new Promise<void>((resolve, reject) => {
    srv.server.once("error", (e) => { void stack.close(); reject(new Error(`demiwasm: http-serve: ${e.message}`)); });
    srv.server.listen(port, address, resolve);
  });
  process.stdout.write(`http-serve: listening on ${address}:${port} (${config.backend}), ${bodyBytes}-byte bodies\n`);
  serve(num(v.duration as string, "duration", Infinity, 0), [[stack, null]], () => {
    process.stdout.write(`http-serve: ${srv.requests()} requests\n`);
    srv.server.close();
  });
}

/** `nf run CHAIN` / `nf stats [FILE]`. The NF parts (and binaryen) load only for this command. */
async function nfCmd(config: Config, rest: string[], v: Record<string, string | boolean | undefined>): Promise<void> {
  const { loadChainFile, installChains, watchSources, writeStats, printStatsFile, watchStatsFile, formatStats, formatRates, nfRates, Redraw,
    nfTargetOf, DEFAULT_STATS_FILE } = await import("./nf/run.js");
  const [sub, arg] = rest;
  if (sub === "stats") {
    const path = arg ?? (v.stats as string | undefined) ?? DEFAULT_STATS_FILE;
    if (v.watch === true) return watchStatsFile(path, v.json === true);
    process.stdout.write(printStatsFile(path) + "\n");
    return;
  }
  if (sub !== "run" || arg === undefined) throw new UsageError("nf takes 'run CHAIN.yaml' or 'stats [FILE]'");
  const problem = nfTargetOf(config);
  if (problem) throw new UsageError(problem);
  const file = loadChainFile(arg);
  const p = stacksFor(config);
  if (!p.serverChains) throw new UsageError("nf run: this backend cannot carry NF chains");
  const { chains, reload } = installChains(file, { ...p.serverChains, now: () => p.clock.now() });
  const statsPath = (v.stats as string | undefined) ?? DEFAULT_STATS_FILE;
  const pending = new Set<string>();
  const unwatch = v.watch === true ? watchSources(file, (name) => pending.add(name)) : () => {};
  const duration = num(v.duration as string, "duration", 5, 0, 86400);
  const port = num(v.port as string, "port", 7, 1, 65535);
  const sqd = p.server.socket();
  p.server.bind(sqd, sockaddr(formatIpv4(p.serverIp), port));
  const srv = new EchoServer(p.server, sqd);
  // An echo takes microseconds here: a datagram an NF dropped counts as lost after 2 ms, so drops
  // hold one slot of a 1024-datagram window for that long instead of stalling it on a long loss
  // timer: the chain sees as much traffic as it can take, and the rates shown are the NFs'.
  const cli = new EchoClient(p.client, p.client.socket(), { addr: p.serverIp, port }, { size: 64, window: 1024, burst: 32, lossTimeoutNs: 2e6 });
  process.stdout.write(`nf run ${arg} (${config.backend}): ${chains.map((c) => `${c.dir === 0 ? "in" : "out"}: ${c.nfs.map((n) => n.name).join(" -> ")}`).join("; ")}; ` +
    `udp-echo to port ${port} for ${duration} s; stats in ${statsPath}${v.watch ? "; watching for changes" : ""}\n`);
  const start = p.clock.now(), end = start + duration * 1e9;
  // On a terminal, the rates of the last second are redrawn in place (quiet when piped).
  const live = process.stdout.isTTY && v.json !== true ? new Redraw(process.stdout) : null;
  let snapshot = chains.flatMap((c) => c.nfStats()), echoedBefore = 0;
  let lastWrite = start;
  let stop = false;
  process.once("SIGINT", () => { stop = true; });
  const loop = () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      const now = p.clock.now();
      if (now >= end) { stop = true; break; }
      p.poll(); srv.step(); cli.step(now, true);
      for (const c of chains) c.tick(now / 1e6);
      if (now - lastWrite > 1e9) {
        writeStats(statsPath, chains);
        if (live) {
          const cur = chains.flatMap((c) => c.nfStats()), seconds = (now - lastWrite) / 1e9;
          live.draw(`echoed ${((cli.echoed - echoedBefore) / seconds / 1e3).toFixed(1)}k/s, lost ${cli.lost}\n${formatRates(nfRates(snapshot, cur, seconds))}`);
          snapshot = cur; echoedBefore = cli.echoed;
        }
        lastWrite = now;
      }
    }
    for (const name of pending) {
      try { reload(name); process.stdout.write(`nf run: reloaded ${name}\n`); } catch (e) { process.stderr.write(`${(e as Error).message} (keeping the running ${name})\n`); }
    }
    pending.clear();
    if (!stop) { setImmediate(loop); return; }
    unwatch();
    writeStats(statsPath, chains);
    const all = chains.flatMap((c) => c.nfStats());
    const seconds = (p.clock.now() - start) / 1e9;
    // What the chains cost per packet (each NF's ns per packet, in and out), the rate of frames
    // into the first NF, and the echoes that made it through (a rate limiter caps those).
    const chainNs = nfRates(null, all, seconds).reduce((n, r) => n + r.nsPerPacket, 0);
    const chainInPerS = (all[0]?.packetsIn ?? 0) / seconds, echoedPerS = cli.echoed / seconds;
    if (v.json === true) {
      process.stdout.write(JSON.stringify({ command: "nf run", sent: cli.sent, echoed: cli.echoed, lost: cli.lost, seconds, chainInPerS, echoedPerS,
        chainNsPerPacket: chainNs, nfs: all }) + "\n");
    } else {
      process.stdout.write(`the chain took ${(chainInPerS / 1e3).toFixed(1)}k frames/s in; its NFs cost ${chainNs.toFixed(0)} ns per frame in all; ` +
        `echoed ${(echoedPerS / 1e3).toFixed(1)}k/s (sent ${cli.sent}, echoed ${cli.echoed}; the rest dropped by NFs or in flight at the end)\n`        + formatStats(all) + "\n");
    }
  };
  loop();
}

function printConfig(config: Config): void {
  process.stdout.write(JSON.stringify(config, null, 2) + "\n");
  process.stdout.write(`# environment overrides: ${CONFIG_KEYS.map(envName).join(" ")}\n`);
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        config: { type: "string" }, duration: { type: "string" }, count: { type: "string" }, size: { type: "string" },
        window: { type: "string" }, loss: { type: "string" }, reorder: { type: "string" }, duplicate: { type: "string" },
        corrupt: { type: "string" }, "delay-ms": { type: "string" }, seed: { type: "string" }, json: { type: "boolean" },
        quick: { type: "boolean" }, help: { type: "boolean", short: "h" }, pcap: { type: "string" },
        bufsize: { type: "string" }, nclients: { type: "string" }, nrequests: { type: "string" },
        backend: { type: "string" }, address: { type: "string" }, port: { type: "string" },
        report: { type: "boolean" }, out: { type: "string" }, peer: { type: "string" }, device: { type: "string" },
        stats: { type: "string" }, watch: { type: "boolean" }, "body-bytes": { type: "string" }, ipv6: { type: "boolean" },
      },
    });
  } catch (e) {
    fail(`${(e as Error).message.split("\n")[0]} (see demiwasm --help)`, 2);
  }
  const { values, positionals } = parsed;
  const [cmd, ...rest] = positionals;
  if (values.help || cmd === undefined || cmd === "help") { process.stdout.write(USAGE + "\n"); return; }
  const config = configFrom(values);
  switch (cmd) {
    case "udp-echo": return udpEcho(config, values);
    case "udp-pingpong": return pingpong(config, values);
    case "tcp-echo": return tcpEchoCmd(config, values);
    case "kv": return kvCmd(config, values);
    case "pktgen": return pktgenCmd(config, values);
    case "udp-relay": return udpRelayCmd(config, values);
    case "http-serve": return httpServeCmd(config, values);
    case "config": return printConfig(config);
    case "nf": return nfCmd(config, rest, values);
    case "bench": {
      if (rest.length !== 1) throw new UsageError(`bench takes one suite: ${SUITES.join(", ")} or all`);
      return runBench(rest[0], config, { json: values.json === true, quick: values.quick === true, report: values.report === true, out: values.out,
                                         ipv6: values.ipv6 === true });
    }
    default: throw new UsageError(`unknown command '${cmd}' (see demiwasm --help)`);
  }
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof UsageError) fail(e.message, 2);
  if (e instanceof ConfigError || e instanceof DemiError) fail(e.message);
  if (e instanceof Error && e.message.startsWith("demiwasm: ")) fail(e.message.slice(10));
  fail(`internal error: ${(e as Error).stack ?? e}`);
});

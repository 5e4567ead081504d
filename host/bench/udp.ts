// bench udp: (a) 64-byte UDP echo through two Wasm stacks on the loopback link, bursts of 32,
// both apps on the PDPIX API: amortized ns per I/O (one push or one pop) and ping-pong RTT;
// (b) Node's dgram echo over 127.0.0.1, in the same process and run.
import { performance } from "node:perf_hooks";
import type { Config } from "../config.js";
import type { BenchOptions } from "./options.js";
import { loopbackPair, dualStack, serverIp6, type Pair } from "../topology.js";
import { sockaddr, AF_INET, AF_INET6, SOCK_DGRAM, type SockAddr } from "../libos.js";
import { formatIpv4 } from "../config.js";
import { EchoServer, EchoClient } from "../../examples/udp-echo.js";
import { udpPingPong } from "../../examples/udp-pingpong.js";
import { percentile, median } from "../stats.js";
import { nodeUdpRtt } from "./nodeudp.js";

const SIZE = 64;
const BURST = 32;

/** Echoes in bursts of 32 for `ms` to the server at `to` (its port new to this run); returns ns
 *  per push-or-pop over the whole loop. */
function echoRun(p: Pair, to: SockAddr, ms: number): { perIoNs: number; echoes: number } {
  const r = echoLoop(p, to, (iter, t0) => (iter & 63) !== 0 || performance.now() - t0 < ms);
  return { perIoNs: r.elapsedNs / r.ios, echoes: r.echoes };
}

/**
 * Calls into Wasm per echo, both stacks' and the link's polls included, over `turns` turns of the
 * same loop (a pair made with countCrossings).
 */
export function crossingsPerEcho(p: Pair, to: SockAddr, turns: number): number {
  const before = p.server.crossings() + p.client.crossings();
  const r = echoLoop(p, to, (iter) => iter < turns);
  return (p.server.crossings() + p.client.crossings() - before) / r.echoes;
}

/** The echo loop: client step, link turn, server step, link turn, while `go` says so. */
function echoLoop(p: Pair, to: SockAddr, go: (iter: number, t0: number) => boolean): { elapsedNs: number; ios: number; echoes: number } {
  const { server, client, link } = p;
  const domain = to.addr6 !== undefined ? AF_INET6 : AF_INET;
  const sqd = server.socket(domain, SOCK_DGRAM);
  server.bind(sqd, to);
  const cqd = client.socket(domain, SOCK_DGRAM);
  const srv = new EchoServer(server, sqd);
  const cli = new EchoClient(client, cqd, to, { size: SIZE, window: BURST, burst: BURST, lossTimeoutNs: 1e9, pattern: false });
  const t0 = performance.now();
  let iter = 0;
  while (go(iter++, t0)) {
    cli.step(0, true);
    link.poll();
    srv.step();
    link.poll();
  }
  // Let the last burst come home so every push has its pop.
  for (let i = 0; i < 10 && cli.outstanding > 0; i++) { link.poll(); srv.step(); cli.step(0, false); }
  const elapsed = (performance.now() - t0) * 1e6;
  const ios = cli.ios + srv.ios;
  server.close(sqd);
  client.close(cqd);
  if (cli.corrupt > 0 || cli.lost > 0) throw new Error(`demiwasm: bench echo lost ${cli.lost} and corrupted ${cli.corrupt} datagrams`);
  return { elapsedNs: elapsed, ios, echoes: cli.echoed };
}

export async function benchUdp(config: Config, o: BenchOptions): Promise<Record<string, unknown>> {
  const quiet = { ...config, link: { ...config.link, loss: 0, reorder: 0, duplicate: 0, corrupt: 0, delay_ms: 0 } };
  const p = loopbackPair(o.ipv6 ? dualStack(quiet) : quiet);
  const say = (s: string) => { if (!o.json) process.stdout.write(s + "\n"); else process.stderr.write(s + "\n"); };
  const runs = o.quick ? 3 : 7;
  const ms = o.quick ? 100 : 400;
  const v4 = (port: number) => sockaddr(formatIpv4(p.server.ip), port);
  const v6 = (port: number): SockAddr => ({ addr: 0, port, addr6: serverIp6(p.server.config) });
  echoRun(p, v4(1000), o.quick ? 200 : 1000);                               // warm-up: V8 tiers up
  if (o.ipv6) echoRun(p, v6(1000), o.quick ? 200 : 1000);
  // With --ipv6 the two versions alternate run by run, so drift on a shared machine hits both.
  const perIo: number[] = [], perIo6: number[] = [];
  let echoes = 0;
  for (let r = 0; r < runs; r++) {
    const x = echoRun(p, v4(1001 + r), ms);
    perIo.push(x.perIoNs);
    echoes += x.echoes;
    if (o.ipv6) perIo6.push(echoRun(p, v6(1001 + r), ms).perIoNs);
  }
  const perIoNs = median(perIo);
  say(`wasm echo, bursts of ${BURST}: ${perIoNs.toFixed(1)} ns per I/O (median of ${runs}; ${echoes} echoes)`);
  const perIoNs6 = o.ipv6 ? median(perIo6) : NaN;
  if (o.ipv6) say(`wasm echo over IPv6: ${perIoNs6.toFixed(1)} ns per I/O (median of ${runs}), ${(perIoNs6 / perIoNs).toFixed(3)}× IPv4's`);
  // Counted apart: the counter wraps every export, which would slow the timed runs.
  const counted = loopbackPair(quiet, undefined, false, true);
  const crossings = crossingsPerEcho(counted, sockaddr(formatIpv4(counted.server.ip), 1000), 2000);
  say(`calls into Wasm per echo: ${crossings.toFixed(2)}`);
  const rounds = o.quick ? 2000 : 20000;
  udpPingPong(p, o.quick ? 500 : 5000, SIZE, 2000);                        // warm-up
  const rtt = udpPingPong(p, rounds, SIZE, 2001).rttNs.sort((a, b) => a - b);
  const rttP50Us = percentile(rtt, 50) / 1e3;
  const rttP99Us = percentile(rtt, 99) / 1e3;
  say(`wasm ping-pong RTT: p50 ${rttP50Us.toFixed(2)} us, p99 ${rttP99Us.toFixed(2)} us (${rtt.length} rounds)`);
  const nrtt = (await nodeUdpRtt(o.quick ? 500 : 5000, o.quick ? 100 : 500, SIZE)).sort((a, b) => a - b);
  const nodeRttP50Us = percentile(nrtt, 50) / 1e3;
  const nodeRttP99Us = percentile(nrtt, 99) / 1e3;
  say(`node dgram RTT over 127.0.0.1: p50 ${nodeRttP50Us.toFixed(2)} us, p99 ${nodeRttP99Us.toFixed(2)} us`);
  const round = (x: number, d = 3) => +x.toFixed(d);
  return {
    perIoNs: round(perIoNs, 1), crossingsPerEcho: round(crossings, 2), rttP50Us: round(rttP50Us), rttP99Us: round(rttP99Us),
    nodeRttP50Us: round(nodeRttP50Us), nodeRttP99Us: round(nodeRttP99Us),
    rttSpeedupP50: round(nodeRttP50Us / rttP50Us, 1),
    ...(o.ipv6 ? { perIoNs6: round(perIoNs6, 1), ipv6Ratio: round(perIoNs6 / perIoNs) } : {}),
    // crossingsPerEcho's goal is issue 14's "one poll per turn per stack, nothing per operation":
    // this loop's four polls per burst of 32.
    goals: { perIoNs: 80, crossingsPerEcho: 0.125, rttSpeedupP50: 10, ...(o.ipv6 ? { ipv6Ratio: 1.1 } : {}) },
    payloadBytes: SIZE, burst: BURST,
  };
}

// bench dpdk, in one run: (a) L2 reflect of 64-byte frames over a net_ring loop port through the
// Wasm datapath, zero-copy (mbuf data buffers are Wasm pool slots) and in copy mode, against the
// same reflect loop written in C (native/dpdk/bench.c) on the same kind of port; rounds are
// interleaved and medians reported. (b) UDP echo RTT between two processes over net_memif
// (udp-echo --peer server in a child, udp-pingpong's client here) and (c) Node's dgram RTT over
// 127.0.0.1.
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import type { Config } from "../config.js";
import type { BenchOptions } from "./options.js";
import { LibOS, sockaddr } from "../libos.js";
import { DpdkLink, dpdkInit } from "../backends/dpdk.js";
import type { DpdkNative } from "../native.js";
import { udpPingPongTo } from "../../examples/udp-pingpong.js";
import { percentile, median } from "../stats.js";
import { nodeUdpRtt } from "./nodeudp.js";
import { errnoName } from "../errno.js";
import { vethPeer, udpEchoInside, type VethPeer } from "./netns.js";

const FRAME = 64;
const IN_FLIGHT = 512;

let loops = 0;

/** A raw port looped on itself (what it sends it receives) with frames circulating. */
function loopPort(native: DpdkNative, config: Config, mode: "zerocopy" | "copy"): { link: DpdkLink; os: LibOS } {
  const name = `dwbench${process.pid}_${loops++}`;
  native.ringPort(name, name, name);
  const c: Config = { ...config, backend: "dpdk", dpdk: { ...config.dpdk, device: `net_ring_${name}`, mode, burst: 32 } };
  const link = new DpdkLink(c, undefined, { raw: true });
  const os = new LibOS({ config: c, link });
  if (native.inject(link.portHandle, IN_FLIGHT, FRAME) !== IN_FLIGHT) throw new Error("demiwasm: bench dpdk could not put its frames on the ring");
  return { link, os };
}

/** Mpps of the Wasm reflect for `ms`: one native call (tx, then up to four rx bursts) and one Wasm call per turn. */
function wasmRun(link: DpdkLink, ms: number): number {
  const before = link.stats().tx;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 4096; i++) link.reflectTurn();
    t = performance.now();
  }
  return (link.stats().tx - before) / ((t - t0) * 1e3);
}

function nativeRun(native: DpdkNative, link: DpdkLink, ms: number): number {
  let pkts = 0, ns = 0;
  while (ns < ms * 1e6) {
    const [p, t] = native.nativeReflect(link.portHandle, 100_000);
    pkts += p;
    ns += t;
  }
  return pkts / ns * 1e3;
}

/** The echo server in another process on the server end of a memif; resolves once it serves. */
async function memifServer(socket: string, config: Config): Promise<() => void> {
  const cli = fileURLToPath(new URL("../cli.js", import.meta.url));
  const child = spawn(process.execPath, [cli, "udp-echo", "--peer", "server", "--address", "198.18.0.1:7", "--backend", "dpdk",
    "--device", `net_memif0,role=server,socket=${socket}`], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DEMIWASM_LOCAL_IPV4: "198.18.0.1", DEMIWASM_MAC: "02:00:00:00:00:01", DEMIWASM_DPDK_EAL_ARGS: config.dpdk.eal_args },
  });
  let err = "";
  child.stderr!.on("data", (d) => { err += d; });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`demiwasm: the memif echo server exited (${code}): ${err.trim().split("\n").pop()}`)));
  });
  return () => { child.kill("SIGTERM"); };
}

export async function benchDpdk(config: Config, o: BenchOptions): Promise<Record<string, unknown>> {
  const native = dpdkInit(config.dpdk.eal_args);
  const say = (s: string) => { if (!o.json) process.stdout.write(s + "\n"); else process.stderr.write(s + "\n"); };
  const rounds = o.quick ? 3 : 7;
  const ms = o.quick ? 100 : 300;

  const zc = loopPort(native, config, "zerocopy");
  const cp = loopPort(native, config, "copy");
  const nat = loopPort(native, config, "copy");
  wasmRun(zc.link, ms); wasmRun(cp.link, ms); nativeRun(native, nat.link, ms);     // warm-up
  const w: number[] = [], c: number[] = [], n: number[] = [];
  for (let r = 0; r < rounds; r++) {
    w.push(wasmRun(zc.link, ms));
    c.push(wasmRun(cp.link, ms));
    n.push(nativeRun(native, nat.link, ms));
  }
  const wasmMpps = +median(w).toFixed(2), copyMpps = +median(c).toFixed(2), nativeMpps = +median(n).toFixed(2);
  say(`L2 reflect, ${FRAME}-byte frames over net_ring (median of ${rounds}): Wasm zero-copy ${wasmMpps} Mpps, ` +
      `Wasm copy ${copyMpps} Mpps, C ${nativeMpps} Mpps (Wasm/C ${(wasmMpps / nativeMpps).toFixed(2)})`);
  for (const p of [zc, cp, nat]) p.link.close();

  const socket = `/tmp/demiwasm-bench-${process.pid}.sock`;
  rmSync(socket, { force: true });
  const stop = await memifServer(socket, config);
  let rtt: number[];
  try {
    const cc: Config = { ...config, backend: "dpdk", local_ipv4: "198.18.0.2", mac: "02:00:00:00:00:02",
                         dpdk: { ...config.dpdk, device: `net_memif${process.pid % 1000},role=client,socket=${socket}`, mode: "zerocopy" } };
    const l = new LibOS({ config: cc });
    const at = sockaddr("198.18.0.1", 7);
    const deadline = Date.now() + 10_000;
    while (udpPingPongTo(l, at, 1, FRAME).rounds === 0) {           // the memif connects, ARP resolves
      if (Date.now() > deadline) throw new Error("demiwasm: bench dpdk: no echo over memif in 10 s");
    }
    udpPingPongTo(l, at, o.quick ? 1000 : 5000, FRAME);             // warm-up
    rtt = udpPingPongTo(l, at, o.quick ? 5000 : 50_000, FRAME).rttNs.sort((a, b) => a - b);
    l.shutdown();
  } finally {
    stop();
    if (existsSync(socket)) rmSync(socket, { force: true });
  }
  const memifRttP50Us = usAt(rtt, 50), memifRttP99Us = usAt(rtt, 99);
  const nodeRtt = (await nodeUdpRtt(o.quick ? 2000 : 10_000, 500, FRAME)).sort((a, b) => a - b);
  const nodeRttP50Us = usAt(nodeRtt, 50);
  say(`UDP echo RTT, two processes over memif: p50 ${memifRttP50Us} us, p99 ${memifRttP99Us} us; ` +
      `Node dgram over 127.0.0.1: p50 ${nodeRttP50Us} us (${(nodeRttP50Us / memifRttP50Us).toFixed(1)}x)`);
  const linux = await linuxPeerRtt(native, config, o.quick ? 2000 : 10_000);
  if ("skipped" in linux) say(`UDP echo RTT to Linux over a veth: not run (${linux.skipped})`);
  else say(`UDP echo RTT to Linux in a namespace over a veth (Node dgram echoing there): p50 ${linux.afXdpRttP50Us} us by net_af_xdp, ` +
           `${linux.afPacketRttP50Us} us by net_af_packet`);
  return { wasmMpps, copyMpps, nativeMpps, wasmToNative: +(wasmMpps / nativeMpps).toFixed(2), memifRttP50Us, memifRttP99Us, nodeRttP50Us,
           ...("skipped" in linux ? { afXdpRttP50Us: null, afPacketRttP50Us: null, linuxPeerSkipped: linux.skipped } : linux) };
}

/** The p-th percentile of sorted round trips (ns), in µs to two places, as the JSON reports them. */
function usAt(sortedNs: number[], p: number): number {
  return +(percentile(sortedNs, p) / 1e3).toFixed(2);
}

const PEER_IP = "198.19.9.1", STACK_IP = "198.19.9.2";
type Pmd = "net_af_xdp" | "net_af_packet";

/**
 * UDP echo RTT p50 (µs) from the Wasm stack to Linux: a veth whose inner end is in a namespace
 * with an echo server, the outer end opened by net_af_xdp and by net_af_packet in turn (three
 * times each, alternating, every round pooled per driver). Needs root; a kernel that refuses
 * AF_XDP sockets is named.
 */
async function linuxPeerRtt(native: DpdkNative, config: Config, rounds: number): Promise<{ afXdpRttP50Us: number; afPacketRttP50Us: number } | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: "needs root, to make a network namespace and a veth" };
  const refused = native.afXdpProbe();
  if (refused !== 0) return { skipped: `this kernel refuses AF_XDP sockets (${errnoName(refused)})` };
  let peer: VethPeer;
  try { peer = vethPeer(`b${process.pid % 10000}`, `${PEER_IP}/24`); } catch (e) { return { skipped: (e as Error).message }; }
  const rtt: Record<Pmd, number[]> = { net_af_xdp: [], net_af_packet: [] };
  try {
    const stop = await udpEchoInside(peer, 7);
    try {
      for (let r = 0; r < 3; r++) for (const pmd of ["net_af_xdp", "net_af_packet"] as const) rtt[pmd].push(...pingPongOver(config, pmd, peer, rounds));
    } finally { stop(); }
  } finally { peer.close(); }
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  return { afXdpRttP50Us: usAt(sorted(rtt.net_af_xdp), 50), afPacketRttP50Us: usAt(sorted(rtt.net_af_packet), 50) };
}

/** RTTs (ns) of `rounds` 64-byte echoes from a stack on `pmd` over the peer's veth, after a warm-up. */
function pingPongOver(config: Config, pmd: Pmd, peer: VethPeer, rounds: number): number[] {
  const l = new LibOS({ config: { ...config, backend: "dpdk", local_ipv4: STACK_IP, mac: "02:00:00:00:09:02",
                                  dpdk: { ...config.dpdk, device: `${pmd}0,iface=${peer.outer}` } } });
  try {
    const at = sockaddr(PEER_IP, 7);
    const deadline = Date.now() + 5_000;
    while (udpPingPongTo(l, at, 1, FRAME).rounds === 0) {                // ARP, the echo server's first datagram
      if (Date.now() > deadline) throw new Error(`demiwasm: bench dpdk: no echo from Linux over ${pmd} in 5 s`);
    }
    udpPingPongTo(l, at, rounds >> 2, FRAME);                            // warm-up
    return udpPingPongTo(l, at, rounds, FRAME).rttNs;
  } finally { l.shutdown(); }
}

// bench tcp-loss: TCP goodput under seeded random loss, in one run, for each loss rate:
//   (a) Linux ↔ Wasm stack: Linux's TCP in a network namespace whose veth is a DPDK af_packet
//       port of the Wasm stack; the lossy NF drops that share of TCP frames on the port's in and
//       out chains. Linux streams the bytes (socat), the stack's node:net echo server returns them.
//   (b) Linux ↔ Linux through the same filter: two namespaces whose veths are two af_packet
//       ports bridged by the forward NF, the lossy NF before it on each direction; the echo is
//       Node's on the second namespace's kernel TCP. Linux's own recovery is the baseline.
//   (c) Wasm ↔ Wasm on the loopback link with the same loss each way.
// (a) and (b) are checked byte-exact (SHA-256 of the echo; (c)'s exactness under loss is what
// the tcp test suite proves). rtoShare is the share of the Wasm stack's loss episodes
// (recoveries, tail loss probes, timeouts) that were timeouts; spuriousShare the share of its
// retransmissions the peer reported as duplicates (D-SACK).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes, createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config.js";
import type { BenchOptions } from "./options.js";
import { loadConfig } from "../config.js";
import { openStack } from "../stack/stack.js";
import { LibOS, newResultBuffer } from "../libos.js";
import { DpdkLink } from "../backends/dpdk.js";
import { dpdkNative } from "../native.js";
import { loopbackPair } from "../topology.js";
import { connectPair } from "./tcp.js";
import { attachChain, parseManifest, type Manifest, type AttachedChain } from "../nf/index.js";
import { type Counters } from "../counters.js";

const NF_DIR = fileURLToPath(new URL("../../../build/nf/", import.meta.url));
const NET = "198.19.12";          // (a): Linux .1, the Wasm stack .2
const BRIDGE_NET = "198.19.13";   // (b): the two Linux namespaces, .1 and .2

export interface LossCase {
  loss: number; wasmLinuxMbps: number; linuxLinuxMbps: number; wasmWasmMbps: number; rtoShare: number; spuriousShare: number;
}

function lossy(loss: number, seed: number): Manifest {
  return parseManifest({ name: `lossy-${seed}`, module: join(NF_DIR, "lossy.wasm"), memory_pages: 4,
                         config: { loss_ppm: Math.round(loss * 1e6), seed, proto: "tcp" } });
}

function forward(port: number): Manifest {
  return parseManifest({ name: `forward-${port}`, module: join(NF_DIR, "forward.wasm"), memory_pages: 4, config: { port } });
}

function sh(cmd: string): void { execFileSync("sh", ["-c", cmd], { stdio: ["ignore", "ignore", "pipe"] }); }

/**
 * A namespace with one end of a veth pair; the other end stays here for an af_packet port.
 * Offloads are off on the namespace's end: a veth leaves checksums to "hardware" and hands
 * 64 KiB GSO frames to AF_PACKET, neither of which a port that forwards frames can pass on.
 */
function namespace(ns: string, inner: string, outer: string, ip: string): void {
  removeNamespace(ns, outer);                        // what a run that was killed may have left
  sh([`ip netns add ${ns}`, `ip link add ${outer} type veth peer name ${inner}`, `ip link set ${inner} netns ${ns}`,
      `ip -n ${ns} addr add ${ip}/24 dev ${inner}`, `ip -n ${ns} link set ${inner} up`, `ip -n ${ns} link set lo up`,
      `ip link set ${outer} up`, `sysctl -qw net.ipv6.conf.${outer}.disable_ipv6=1`,
      `ip netns exec ${ns} sysctl -qw net.ipv6.conf.${inner}.disable_ipv6=1`,
      `ip netns exec ${ns} ethtool -K ${inner} tx off tso off gso off gro off`,
      `ethtool -K ${outer} tso off gso off gro off`].join(" && "));
}

/** Deletes the namespace (and with it the veth pair), quietly when it is not there. */
function removeNamespace(ns: string, outer: string): void {
  spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  spawnSync("ip", ["link", "del", outer], { stdio: "ignore" });
}

/** What the lossy NFs of a path saw and dropped (their counter 0), both directions together. */
interface Filtered { frames: number; dropped: number }

function filtered(chains: AttachedChain[]): Filtered {
  const f = { frames: 0, dropped: 0 };
  for (const c of chains) {
    const l = c.stats().find((n) => n.name.startsWith("lossy"))!;
    f.frames += l.packetsIn;
    f.dropped += l.counters[0] ?? 0;
  }
  return f;
}

/** Refuses to send unless the namespace routes `ip` through its own veth (never off this machine). */
function assertRoute(ns: string, ip: string, dev: string): void {
  const r = execFileSync("ip", ["-n", ns, "route", "get", ip], { encoding: "utf8" });
  if (!r.includes(`dev ${dev}`)) throw new Error(`demiwasm: refusing to send: ${ip} is not routed through ${dev} in ${ns}: ${r.trim()}`);
}

/**
 * socat in `ns` streams `file` to ip:7 and writes the echo to `file`.echo (the shell moves the
 * bytes, not this process, which drives the datapath); seconds, checked byte-exact.
 */
async function echoRun(ns: string, ip: string, file: string, digest: string): Promise<number> {
  const t0 = performance.now();
  const c = spawn("sh", ["-c", `exec ip netns exec ${ns} socat -t 120 -T 120 - TCP:${ip}:7 < ${file} > ${file}.echo`],
                  { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  c.stderr!.on("data", (d: Buffer) => { err += d; });
  const code = await new Promise<number | null>((r) => c.once("exit", r));
  const secs = (performance.now() - t0) / 1000;
  const back = readFileSync(`${file}.echo`);
  rmSync(`${file}.echo`, { force: true });
  if (code !== 0 || createHash("sha256").update(back).digest("hex") !== digest) {
    throw new Error(`demiwasm: bench tcp-loss: echo through ${ns} not byte-exact (exit ${code}, ${back.length} bytes back) ${err.trim()}`);
  }
  return secs;
}

/** (a) Linux in a namespace ↔ the Wasm stack on an af_packet port, loss on both chains. */
async function wasmLinux(k: number, loss: number, file: string, digest: string, mib: number): Promise<{ mbps: number; c: Counters; filter: Filtered }> {
  const ns = `dwtl${k}`, inner = `dwtl${k}i`, outer = `dwtl${k}o`;
  namespace(ns, inner, outer, `${NET}.1`);
  const stack = openStack(loadConfig({ env: {}, overrides: {
    backend: "dpdk", "dpdk.device": `net_af_packet${k},iface=${outer}`, local_ipv4: `${NET}.2`, mac: "02:00:00:00:0c:02",
    memory_mb: 96, "tcp.buffer_bytes": 1 << 20, "tcp.max_connections": 4,
  } }));
  try {
    const chains = [attachChain(stack, "in", [lossy(loss, 1)]), attachChain(stack, "out", [lossy(loss, 2)])];
    const server = stack.net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => server.listen(7, `${NET}.2`, r));
    assertRoute(ns, `${NET}.2`, inner);
    const secs = await echoRun(ns, `${NET}.2`, file, digest);
    server.close();
    return { mbps: mib * 8 * 1.048576 / secs, c: (stack.libos as LibOS).counters(), filter: filtered(chains) };
  } finally {
    await stack.close();
    removeNamespace(ns, outer);
  }
}

/** (b) Linux ↔ Linux: two namespaces bridged by two af_packet ports, loss before each forward. */
async function linuxLinux(k: number, loss: number, file: string, digest: string, mib: number): Promise<{ mbps: number; filter: Filtered }> {
  const names = [0, 1].map((i) => ({ ns: `dwtb${k}${i}`, inner: `dwtb${k}${i}i`, outer: `dwtb${k}${i}o`, ip: `${BRIDGE_NET}.${i + 1}` }));
  for (const n of names) namespace(n.ns, n.inner, n.outer, n.ip);
  const links: DpdkLink[] = [];
  const stacks: LibOS[] = [];
  let echo: ReturnType<typeof spawn> | null = null;
  let turning = true;
  try {
    names.forEach((n, i) => {
      // Each bridge port has a datapath of its own (DPDK ports deliver into one); its in chain
      // forwards everything, so the stack itself never sees a frame.
      const config = loadConfig({ env: {}, overrides: { backend: "dpdk", "dpdk.device": `net_af_packet${k + 1 + i},iface=${n.outer}`,
        local_ipv4: `198.19.14.${i + 1}`, mac: `02:00:00:00:0d:0${i + 1}`, memory_mb: 32 } });
      const link = new DpdkLink(config);
      links.push(link);
      stacks.push(new LibOS({ config, link }));
    });
    DpdkLink.group(...links);
    const chains = stacks.map((s, i) => attachChain(s, "in", [lossy(loss, i + 1), forward(1 - i)]));
    const turn = () => { if (!turning) return; links[0].poll(); setImmediate(turn); };
    setImmediate(turn);
    // The echo is Node's, on the namespace's kernel TCP, as the Wasm side's is Node's on ours.
    echo = spawn("ip", ["netns", "exec", names[1].ns, process.execPath, "-e", "require('net').createServer((s) => s.pipe(s)).listen(7)"],
                 { stdio: "ignore" });
    for (let i = 0; i < 100 && !spawnSync("ip", ["netns", "exec", names[1].ns, "ss", "-ltnH", "sport = :7"], { encoding: "utf8" }).stdout.includes(":7"); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertRoute(names[0].ns, names[1].ip, names[0].inner);
    const secs = await echoRun(names[0].ns, names[1].ip, file, digest);
    return { mbps: mib * 8 * 1.048576 / secs, filter: filtered(chains) };
  } finally {
    turning = false;
    if (echo !== null && echo.exitCode === null) {
      const e = echo;
      await new Promise((r) => { e.once("exit", r); e.kill(); });
    }
    for (const s of stacks) s.shutdown();
    for (const n of names) removeNamespace(n.ns, n.outer);
  }
}

/** (c) Two Wasm stacks on the loopback link losing `loss` of the frames, each sending `bytes` to the other. */
function wasmWasm(config: Config, loss: number, bytes: number): number {
  const cfg = { ...config, backend: "loopback" as const, memory_mb: Math.max(config.memory_mb, 64), tcp: { ...config.tcp, buffer_bytes: 1 << 20, max_connections: 4 },
                link: { ...config.link, loss, reorder: 0, duplicate: 0, corrupt: 0, delay_ms: 0, seed: 1 } };
  const p = loopbackPair(cfg, undefined, true);
  const { server, client, link } = p;
  const rig = connectPair(p, 7, 10000);
  const ends = [{ os: client, qd: rig.cqd, pop: rig.clientPop }, { os: server, qd: rig.sqd, pop: rig.serverPop }].map((e) => {
    const chunk = e.os.sgaalloc(65536);
    e.os.bytes(chunk).set(randomBytes(65536));
    return { ...e, chunk, sent: 0, got: 0, push: -1 };
  });
  const r = newResultBuffer();
  const t0 = performance.now();
  while (ends.some((e) => e.got < bytes)) {
    for (const e of ends) {
      if (e.push < 0 && e.sent < bytes) { e.push = e.os.push(e.qd, e.chunk); e.sent += 65536; }
      if (e.push >= 0 && e.os.tryWaitInto(r, e.push)) {
        if (r.ret !== 0) throw new Error(`demiwasm: bench tcp-loss: push failed (errno ${r.ret})`);
        e.push = -1;
      }
    }
    link.poll();
    for (const e of ends) {
      const other = e === ends[0] ? ends[1] : ends[0];
      while (other.os.tryWaitInto(r, other.pop)) {
        if (r.ret !== 0) throw new Error(`demiwasm: bench tcp-loss: pop failed (errno ${r.ret})`);
        e.got += r.sga.len;
        other.os.sgafree(r.sga);
        other.pop = other.os.pop(other.qd);
      }
    }
  }
  const secs = (performance.now() - t0) / 1000;
  server.shutdown(); client.shutdown();
  return bytes * 8 / secs / 1e6;
}

export async function benchTcpLoss(config: Config, o: BenchOptions): Promise<Record<string, unknown>> {
  const say = (s: string) => (o.json ? process.stderr : process.stdout).write(s + "\n");
  dpdkNative();                                      // one line naming what to install when DPDK is absent
  if (process.getuid?.() !== 0) throw new Error("demiwasm: bench tcp-loss is not available: it creates network namespaces (run as root)");
  if (spawnSync("socat", ["-V"]).status !== 0) throw new Error("demiwasm: bench tcp-loss is not available: apt-get install socat");
  const rates = o.quick ? [0.02] : [0.01, 0.02, 0.05];
  const mib = o.quick ? 8 : 64;
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-tcploss-"));
  const file = join(dir, "stream.bin");
  const data = randomBytes(mib << 20);
  writeFileSync(file, data);
  const digest = createHash("sha256").update(data).digest("hex");
  const cases: LossCase[] = [];
  let k = 10 + (process.pid % 50) * 4;               // af_packet vdev and namespace names, unique per run
  try {
    for (const loss of rates) {
      const a = await wasmLinux(k, loss, file, digest, mib);
      const b = await linuxLinux(k + 1, loss, file, digest, mib);
      k += 4;
      const c = wasmWasm(config, loss, mib << 20);
      const episodes = a.c["tcp.fast_retransmits"] + a.c["tcp.tlp_probes"] + a.c["tcp.rto_retransmits"];
      const x: LossCase = {
        loss,
        wasmLinuxMbps: round(a.mbps), linuxLinuxMbps: round(b.mbps), wasmWasmMbps: round(c),
        rtoShare: round(episodes === 0 ? 0 : a.c["tcp.rto_retransmits"] / episodes, 3),
        spuriousShare: round(a.c["tcp.retransmits"] === 0 ? 0 : a.c["tcp.spurious_retransmits"] / a.c["tcp.retransmits"], 3),
      };
      cases.push(x);
      say(`loss ${(loss * 100).toFixed(0)}% each way, ${mib} MiB each way: Linux↔Wasm ${x.wasmLinuxMbps} Mbit/s, ` +
          `Linux↔Linux ${x.linuxLinuxMbps} Mbit/s (ratio ${(x.wasmLinuxMbps / x.linuxLinuxMbps).toFixed(2)}, goal ≥ 0.8), ` +
          `Wasm↔Wasm ${x.wasmWasmMbps} Mbit/s; Wasm stack: ${a.c["tcp.fast_retransmits"]} recoveries, ${a.c["tcp.tlp_probes"]} probes, ` +
          `${a.c["tcp.rto_retransmits"]} timeouts (rtoShare ${x.rtoShare}, goal ≤ 0.1), ${a.c["tcp.retransmits"]} retransmissions, ` +
          `${a.c["tcp.spurious_retransmits"]} spurious (spuriousShare ${x.spuriousShare}, goal ≤ 0.01); the filter dropped ` +
          `${pct(a.filter)} of the frames on (a), ${pct(b.filter)} on (b)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { cases };
}

function pct(f: Filtered): string { return `${f.dropped}/${f.frames} (${(100 * f.dropped / Math.max(f.frames, 1)).toFixed(2)}%)`; }

function round(x: number, digits = 1): number { const f = 10 ** digits; return Math.round(x * f) / f; }

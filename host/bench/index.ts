// `demiwasm bench SUITE`: each suite prints what it measures as it goes and, with --json, one
// JSON object as its last stdout line. Ratios are taken within one run (this machine is shared).
import { cpus as cpus_ } from "node:os";
import type { Config } from "../config.js";
import { benchUdp } from "./udp.js";
import { benchFabric } from "./fabric.js";
import { benchTcp } from "./tcp.js";
import { benchDpdk } from "./dpdk.js";
import { benchHttp } from "./http.js";
import { writeReport } from "./report.js";
import type { BenchOptions } from "./options.js";

// fabric last: its busy-polling peers would weigh on the suites after it.
const suites: Record<string, (c: Config, o: BenchOptions) => Promise<Record<string, unknown>>> = {
  udp: benchUdp,
  tcp: benchTcp,
  dpdk: benchDpdk,
  nf: async (c, o) => (await import("./nf.js")).benchNf(c, o),   // loads binaryen only when run
  http: benchHttp,
  "tcp-loss": async (c, o) => (await import("./tcploss.js")).benchTcpLoss(c, o),
  fabric: benchFabric,
};

export const SUITES = Object.keys(suites);

export async function runBench(name: string, config: Config, opts: BenchOptions): Promise<void> {
  if (name === "all") return runAll(config, opts);
  const suite = suites[name];
  if (!suite) throw new Error(`demiwasm: no benchmark suite '${name}' (have: ${SUITES.join(", ")})`);
  const result = await suite(config, opts);
  const out = { suite: name, ...result, machine: machine() };
  process.stdout.write(opts.json ? JSON.stringify(out) + "\n" : JSON.stringify(out, null, 2) + "\n");
}

function machine() {
  const cpus = cpus_();
  return { node: process.version, cpus: cpus.length, cpu: cpus[0]?.model ?? "unknown", platform: process.platform, arch: process.arch };
}

interface NfRow { name: string; lang: string; meteringOverhead: number; copyNs: number }

function nfLine(nfs: NfRow[]): string {
  const copy = nfs.map((n) => n.copyNs);
  return `NF fuel metering costs ${nfs.map((n) => `${n.name}${n.lang === "assemblyscript" ? "" : ` (${n.lang})`} ${(n.meteringOverhead * 100).toFixed(0)}%`)
    .join(", ")} (goal ≤ 5%); a chain adds ${Math.min(...copy)}–${Math.max(...copy)} ns per 64-byte packet around the NF's own work (copyNs)`;
}

/** Every suite this build can run; with --report, bench/REPORT.md and bench/report.svg. */
async function runAll(config: Config, opts: BenchOptions): Promise<void> {
  const results: Record<string, Record<string, number>> = {};
  const skipped: string[] = [];
  for (const name of SUITES) {
    try {
      results[name] = (await suites[name](config, { ...opts, json: true })) as Record<string, number>;
    } catch (e) {
      if ((e as Error).message.includes("is not available")) { skipped.push(`${name}: ${(e as Error).message.replace(/^demiwasm: /, "")}`); continue; }
      throw e;
    }
  }
  const absolute = [
    results.udp && `UDP: ${results.udp.perIoNs} ns per I/O (goal ≤ 80), ${results.udp.crossingsPerEcho} calls into Wasm per echo (goal 0.125: the polls alone)`,
    results.tcp && `TCP: ${results.tcp.perIoNs} ns per I/O with 32 requests in flight (goal ≤ 150)`,
    results.fabric && `RMA write, 64 KiB: ${results.fabric.rmaGBps} GB/s`,
    results.nf && nfLine((results.nf as unknown as { nfs: NfRow[] }).nfs),
    results.dpdk && `DPDK memif RTT p99: ${results.dpdk.memifRttP99Us} µs`,
    results["tcp-loss"] && `TCP under loss, Wasm stack against Linux: ${(results["tcp-loss"] as unknown as { cases: { loss: number; rtoShare: number; spuriousShare: number }[] }).cases
      .map((c) => `${c.loss * 100}%: rtoShare ${c.rtoShare}, spuriousShare ${c.spuriousShare}`).join("; ")} (goals ≤ 0.1, ≤ 0.01)`,
    results.http && `Idle http server: ${results.http.idleCpuPosixPct}% of a core on posix, ${results.http.idleCpuLoopbackPct}% on loopback` +
      (results.http.idleCpuDpdkPct === null ? "" : `, ${results.http.idleCpuDpdkPct}% on dpdk`) + " (goal ≤ 2%, dpdk ≤ 10%)",
    ...skipped.map((s) => `not run: ${s}`),
  ].filter((x): x is string => typeof x === "string");
  if (opts.report) {
    const dir = opts.out ?? "bench";
    writeReport(dir, results, absolute);
    process.stderr.write(`demiwasm: wrote ${dir}/REPORT.md and ${dir}/report.svg\n`);
  }
  const out = { suite: "all", results, skipped, machine: machine() };
  process.stdout.write(JSON.stringify(out) + "\n");
}

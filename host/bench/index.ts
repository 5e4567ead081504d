// `demiwasm bench SUITE`: each suite prints what it measures as it goes and, with --json, one
// JSON object as its last stdout line. Ratios are taken within one run (this machine is shared).
import { cpus as cpus_ } from "node:os";
import type { Config } from "../config.js";
import { benchUdp } from "./udp.js";
import { benchFabric } from "./fabric.js";
import { benchTcp } from "./tcp.js";

export interface BenchOptions { json: boolean; quick: boolean }

const suites: Record<string, (c: Config, o: BenchOptions) => Promise<Record<string, unknown>>> = {
  udp: benchUdp,
  fabric: benchFabric,
  tcp: benchTcp,
};

export const SUITES = Object.keys(suites);

export async function runBench(name: string, config: Config, opts: BenchOptions): Promise<void> {
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

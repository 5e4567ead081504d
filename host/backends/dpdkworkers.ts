// Multi-core on DPDK: N worker_threads, each with its own Wasm datapath polling its own port (or
// queue), shared-nothing like DPDK's run-to-completion lcores. EAL is started once, here, before
// the workers; each worker loads the native bridge and opens its device.
//
// Each worker has its own Wasm memory rather than one shared memory: AssemblyScript places every
// instance's static data at the same addresses and re-writes it at instantiation, so instances
// cannot share a memory without colliding, and separate memories keep the datapath free of
// atomics and false sharing. A buffer crosses cores by copy, as between two hosts.
import { Worker } from "node:worker_threads";
import type { Config } from "../config.js";
import { dpdkInit } from "./dpdk.js";

export interface WorkerStats { worker: number; device: string; echoed: number; polls: number; rx: number; tx: number; rxCopied: number }

/** What a worker runs: a UDP echo server on its own stack, at the config's address and `port`. */
export interface WorkerJob { config: Config; port: number }

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
(async () => {
  const { LibOS, sockaddr } = await import(workerData.libos);
  const { EchoServer } = await import(workerData.echo);
  const { config, port, index } = workerData;
  let l;
  try { l = new LibOS({ config }); } catch (e) { parentPort.postMessage({ error: e.message }); return; }
  const qd = l.socket();
  l.bind(qd, sockaddr(config.local_ipv4, port));
  const srv = new EchoServer(l, qd);
  let stop = false, polls = 0;
  parentPort.on("message", (m) => { if (m === "stop") stop = true; });
  parentPort.postMessage({ ready: index });
  while (!stop) {
    for (let i = 0; i < 4096; i++) { l.poll(); srv.step(); }
    polls += 4096;
    await new Promise((r) => setImmediate(r));     // lets the stop message in
  }
  const s = l.link.stats();
  l.close(qd);
  l.detach();
  parentPort.postMessage({ done: { worker: index, device: config.dpdk.device, echoed: srv.echoed, polls, rx: s.rx, tx: s.tx, rxCopied: s.rxCopied } });
})();`;

export class DpdkWorkers {
  private readonly workers: Worker[] = [];
  private readonly results: Promise<WorkerStats>[] = [];

  private constructor() {}

  /** Starts one worker per job; resolves once every worker's port is up and serving. */
  static async start(jobs: WorkerJob[]): Promise<DpdkWorkers> {
    if (jobs.length === 0) throw new Error("demiwasm: no DPDK workers asked for");
    dpdkInit(jobs[0].config.dpdk.eal_args);
    const w = new DpdkWorkers();
    const libos = new URL("../libos.js", import.meta.url).href;
    const echo = new URL("../../examples/udp-echo.js", import.meta.url).href;
    const ready: Promise<void>[] = [];
    jobs.forEach((job, index) => {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...job, index, libos, echo } });
      w.workers.push(worker);
      let up!: () => void, fail!: (e: Error) => void;
      ready.push(new Promise<void>((res, rej) => { up = res; fail = rej; }));
      w.results.push(new Promise<WorkerStats>((resolve, reject) => {
        worker.on("message", (m) => {
          if (m.ready !== undefined) up();
          else if (m.error) { const e = new Error(m.error); fail(e); reject(e); }
          else if (m.done) resolve(m.done as WorkerStats);
        });
        worker.once("error", (e) => { fail(e); reject(e); });
      }));
    });
    try {
      await Promise.all(ready);
    } catch (e) {
      await w.stop().catch(() => {});
      throw e;
    }
    return w;
  }

  /** Asks every worker to stop; resolves with each one's counters. */
  async stop(): Promise<WorkerStats[]> {
    for (const w of this.workers) w.postMessage("stop");
    try {
      return await Promise.all(this.results);
    } finally {
      await Promise.all(this.workers.map((w) => w.terminate()));
    }
  }
}

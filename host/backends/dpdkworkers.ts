// Multi-core on DPDK: N worker_threads, each with its own Wasm datapath polling its own port, or
// its own queue of one port (startQueues: RSS where the PMD has it), shared-nothing like DPDK's
// run-to-completion lcores. EAL is started once, here, before the workers; each worker loads the
// native bridge and opens its device or queue.
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
const next = (what) => new Promise((r) => { const f = (m) => { if (m === what) { parentPort.off("message", f); r(); } }; parentPort.on("message", f); });
(async () => {
  const { LibOS, sockaddr } = await import(workerData.libos);
  const { EchoServer } = await import(workerData.echo);
  const { config, port, index, waitGo } = workerData;
  let l;
  try { l = new LibOS({ config }); } catch (e) { parentPort.postMessage({ error: e.message }); return; }
  const qd = l.socket();
  l.bind(qd, sockaddr(config.local_ipv4, port));
  const srv = new EchoServer(l, qd);
  let stop = false, polls = 0;
  const stopped = next("stop").then(() => { stop = true; });
  parentPort.postMessage({ ready: index });
  if (waitGo) await next("go");                   // a shared port starts once every queue is set up
  while (!stop) {
    for (let i = 0; i < 4096; i++) { l.poll(); srv.step(); }
    polls += 4096;
    await new Promise((r) => setImmediate(r));     // lets the stop message in
  }
  await stopped;
  const s = l.link.stats();
  const closing = next("close");
  parentPort.postMessage({ done: { worker: index, device: config.dpdk.device, echoed: srv.echoed, polls, rx: s.rx, tx: s.tx, rxCopied: s.rxCopied } });
  await closing;                                  // one at a time: closing a queue stops its port
  l.close(qd);
  l.shutdown();
  parentPort.postMessage({ closed: index });
  process.exit(0);                                // ends this thread; the main thread waits for it
})();`;

export class DpdkWorkers {
  private readonly workers: Worker[] = [];
  private readonly results: Promise<WorkerStats>[] = [];
  private readonly closed: Promise<void>[] = [];
  private readonly exited: Promise<void>[] = [];

  private constructor() {}

  /** Starts one worker per job, each on its own port; resolves once every one serves. */
  static async start(jobs: WorkerJob[]): Promise<DpdkWorkers> {
    return DpdkWorkers.launch(jobs, null);
  }

  /**
   * One port, `queues` workers: the port is configured with that many queue pairs (RSS where the
   * PMD has it; a TAP device spreads flows over its queues itself), each worker sets up its own
   * queue with its own datapath, and the port starts once all are ready. Every worker is the
   * same host (config's address and MAC).
   */
  static async startQueues(job: WorkerJob, queues: number, onStarted: () => void = () => {}): Promise<DpdkWorkers> {
    const native = dpdkInit(job.config.dpdk.eal_args);
    native.configure(job.config.dpdk.device, queues);
    const jobs = Array.from({ length: queues }, (_, q) => ({ ...job, config: { ...job.config, dpdk: { ...job.config.dpdk, queue: q } } }));
    // onStarted runs between the port's start and the workers' first poll (a TAP's kernel side
    // can be set up then: net_tap resets it when the port starts).
    return DpdkWorkers.launch(jobs, () => { native.start(job.config.dpdk.device); onStarted(); });
  }

  private static async launch(jobs: WorkerJob[], startPort: (() => void) | null): Promise<DpdkWorkers> {
    if (jobs.length === 0) throw new Error("demiwasm: no DPDK workers asked for");
    dpdkInit(jobs[0].config.dpdk.eal_args);
    const w = new DpdkWorkers();
    const libos = new URL("../libos.js", import.meta.url).href;
    const echo = new URL("../../examples/udp-echo.js", import.meta.url).href;
    const ready: Promise<void>[] = [];
    jobs.forEach((job, index) => {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...job, index, libos, echo, waitGo: startPort !== null } });
      w.workers.push(worker);
      let up!: () => void, fail!: (e: Error) => void, closed!: () => void;
      ready.push(new Promise<void>((res, rej) => { up = res; fail = rej; }));
      w.closed.push(new Promise<void>((res) => { closed = res; }));
      w.exited.push(new Promise<void>((res) => worker.once("exit", () => res())));
      w.results.push(new Promise<WorkerStats>((resolve, reject) => {
        worker.on("message", (m) => {
          if (m.ready !== undefined) up();
          else if (m.error) { const e = new Error(m.error); fail(e); reject(e); }
          else if (m.done) resolve(m.done as WorkerStats);
          else if (m.closed !== undefined) closed();
        });
        worker.on("error", (e) => { fail(e); reject(e); closed(); });
        worker.once("exit", () => closed());
      }));
    });
    try {
      await Promise.all(ready);
      if (startPort) {
        startPort();
        for (const wk of w.workers) wk.postMessage("go");
      }
    } catch (e) {
      await Promise.all(w.workers.map((x) => x.terminate()));
      throw e;
    }
    return w;
  }

  /** Stops every worker, then closes their ports one at a time; resolves with each one's
   *  counters once every thread has ended (each ends itself; a stuck one is terminated). */
  async stop(): Promise<WorkerStats[]> {
    for (const w of this.workers) w.postMessage("stop");
    let ok = false;
    try {
      const stats = await Promise.all(this.results);
      for (let i = 0; i < this.workers.length; i++) {
        this.workers[i].postMessage("close");
        await this.closed[i];
      }
      ok = true;
      return stats;
    } finally {
      const late = new Promise<void>((r) => setTimeout(r, ok ? 10_000 : 0).unref());
      await Promise.race([Promise.all(this.exited), late]);
      await Promise.all(this.workers.map((w) => w.terminate()));   // no-op for the threads that ended
    }
  }
}

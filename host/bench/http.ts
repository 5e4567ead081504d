// bench http: Node's own http server and keep-alive client (one connection, sequential GETs of a
// 64-byte body), (a) both on Wasm stacks over the loopback link, driven by the event-loop
// driver in its default adaptive mode and in busy mode, (b) both on kernel sockets over
// 127.0.0.1 — the same code, the same process, interleaved runs after a warm-up. Then the CPU an
// idle http server costs for a few seconds on posix, on loopback and, where DPDK is built, on
// a DPDK port in adaptive mode.
import * as nodeHttp from "node:http";
import type { Config } from "../config.js";
import type { BenchOptions } from "./options.js";
import { loopbackPair, dpdkPair } from "../topology.js";
import { formatIpv4 } from "../config.js";
import { Stack } from "../stack/stack.js";
import { PosixLibOS } from "../backends/posix.js";
import { percentile, median } from "../stats.js";
import { fixedBodyServer, keepAliveLoad, type HttpModule } from "../../examples/http-serve.js";

const BODY = 64;

interface Run { rps: number; p50Us: number; p99Us: number }

async function measure(h: HttpModule, host: string, port: number, seconds: number): Promise<Run> {
  const r = await keepAliveLoad(h, host, port, { seconds });
  if (r.failed > 0) throw new Error(`demiwasm: bench http: ${r.failed} requests failed`);
  const lat = r.latNs.sort((a, b) => a - b);
  return { rps: r.requests / r.seconds, p50Us: percentile(lat, 50) / 1e3, p99Us: percentile(lat, 99) / 1e3 };
}

/** An http server on a stack, ready; returns how to close it. */
async function listen(h: HttpModule, host: string): Promise<{ port: number; close(): Promise<void> }> {
  const { server } = fixedBodyServer(h, BODY);
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as { port: number }).port;
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Percent of one core the process used while `stack`'s idle http server sat for `seconds`. */
async function idleCpu(stack: Stack, host: string, seconds: number): Promise<number> {
  const srv = await listen(stack.http, host);
  await new Promise((r) => setTimeout(r, 200));           // past the adaptive spin after listen
  const c0 = process.cpuUsage(), t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c = process.cpuUsage(c0), ms = performance.now() - t0;
  await srv.close();
  return ((c.user + c.system) / 1e3 / ms) * 100;
}

export async function benchHttp(config: Config, o: BenchOptions): Promise<Record<string, unknown>> {
  const say = (s: string) => { if (!o.json) process.stdout.write(s + "\n"); else process.stderr.write(s + "\n"); };
  const seconds = o.quick ? 0.3 : 2;
  const rounds = o.quick ? 2 : 3;
  const clean = { ...config, link: { ...config.link, loss: 0, reorder: 0, duplicate: 0, corrupt: 0, delay_ms: 0 } };

  const pairOf = (mode: "adaptive" | "busy") => {
    const p = loopbackPair({ ...clean, poll: { ...clean.poll, mode } });
    return { server: new Stack(p.server), client: new Stack(p.client), ip: formatIpv4(p.serverIp) };
  };
  const adaptive = pairOf("adaptive");
  const wasmSrv = await listen(adaptive.server.http, adaptive.ip);
  const kernelSrv = await listen(nodeHttp, "127.0.0.1");
  const wasm: Run[] = [], busy: Run[] = [], kernel: Run[] = [];
  say(`bench http: warming up (${BODY}-byte bodies, one keep-alive connection)`);
  await measure(adaptive.client.http, adaptive.ip, wasmSrv.port, seconds / 2);
  await measure(nodeHttp, "127.0.0.1", kernelSrv.port, seconds / 2);
  for (let i = 0; i < rounds; i++) {
    wasm.push(await measure(adaptive.client.http, adaptive.ip, wasmSrv.port, seconds));
    kernel.push(await measure(nodeHttp, "127.0.0.1", kernelSrv.port, seconds));
    say(`  round ${i + 1}: wasm ${wasm[i].rps.toFixed(0)} rps p50 ${wasm[i].p50Us.toFixed(1)} us; kernel ${kernel[i].rps.toFixed(0)} rps p50 ${kernel[i].p50Us.toFixed(1)} us`);
  }
  await wasmSrv.close();
  await kernelSrv.close();
  await adaptive.client.close();
  await adaptive.server.close();

  // What adaptive costs against busy polling, at load (same code, poll.mode busy).
  const b = pairOf("busy");
  const busySrv = await listen(b.server.http, b.ip);
  await measure(b.client.http, b.ip, busySrv.port, seconds / 2);
  for (let i = 0; i < rounds; i++) busy.push(await measure(b.client.http, b.ip, busySrv.port, seconds));
  await busySrv.close();
  await b.client.close();
  await b.server.close();

  const idleSeconds = o.quick ? 1 : 5;
  const posix = new Stack(new PosixLibOS({ ...config, backend: "posix" }));
  const idleCpuPosixPct = await idleCpu(posix, "127.0.0.1", idleSeconds);
  await posix.close();
  const lo = loopbackPair(clean);
  const loServer = new Stack(lo.server), loClient = new Stack(lo.client);
  const idleCpuLoopbackPct = await idleCpu(loServer, formatIpv4(lo.serverIp), idleSeconds);
  await loClient.close();
  await loServer.close();
  let idleCpuDpdkPct: number | null = null;
  try {
    const d = dpdkPair({ ...clean, backend: "dpdk" });
    const ds = new Stack(d.server), dc = new Stack(d.client);
    idleCpuDpdkPct = await idleCpu(ds, formatIpv4(d.serverIp), idleSeconds);
    await dc.close();
    await ds.close();
    d.close();
  } catch (e) {
    if (!(e as Error).message.includes("is not available")) throw e;
    say(`  dpdk idle not measured: ${(e as Error).message}`);
  }

  const med = (rs: Run[], k: keyof Run) => +median(rs.map((r) => r[k])).toFixed(k === "rps" ? 0 : 1);
  const out = {
    bodyBytes: BODY,
    rps: med(wasm, "rps"), p50Us: med(wasm, "p50Us"), p99Us: med(wasm, "p99Us"),
    nodeRps: med(kernel, "rps"), nodeP50Us: med(kernel, "p50Us"), nodeP99Us: med(kernel, "p99Us"),
    busyRps: med(busy, "rps"), busyP50Us: med(busy, "p50Us"), busyP99Us: med(busy, "p99Us"),
    idleCpuPosixPct: +idleCpuPosixPct.toFixed(2), idleCpuLoopbackPct: +idleCpuLoopbackPct.toFixed(2),
    idleCpuDpdkPct: idleCpuDpdkPct === null ? null : +idleCpuDpdkPct.toFixed(2),
    rpsVsNode: 0, p50VsNode: 0,
  };
  out.rpsVsNode = +(out.rps / out.nodeRps).toFixed(2);
  out.p50VsNode = +(out.p50Us / out.nodeP50Us).toFixed(2);
  say(`wasm stacks: ${out.rps} rps, p50 ${out.p50Us} us, p99 ${out.p99Us} us (busy polling: ${out.busyRps} rps, p50 ${out.busyP50Us} us)`);
  say(`kernel:      ${out.nodeRps} rps, p50 ${out.nodeP50Us} us, p99 ${out.nodeP99Us} us  -> ${out.rpsVsNode}x rps (goal >= 1.5), ${out.p50VsNode}x p50 (goal <= 0.6)`);
  say(`idle server CPU: posix ${out.idleCpuPosixPct}%, loopback ${out.idleCpuLoopbackPct}%${idleCpuDpdkPct === null ? "" : `, dpdk ${out.idleCpuDpdkPct}%`} of a core (goal <= 2%, dpdk <= 10%)`);
  return out;
}

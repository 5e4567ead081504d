// bench fabric: in one run, (a) 64-byte message RTT through demiwasm's fabric backend to a peer
// process, (b) libfabric's own fi_pingpong (libfabric-bin) between two processes, both with the
// tcp provider the issue names and with tcp;ofi_rxm RDM (the path demiwasm takes), and (c) RMA
// write bandwidth at 64 KiB with 8 writes in flight.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { FabricLibOS, type RegionRef } from "../backends/fabric.js";
import { fabricNative } from "../native.js";
import { freePort } from "../freeport.js";
import { sockaddr, newResultBuffer } from "../libos.js";
import type { Config } from "../config.js";
import type { BenchOptions } from "./options.js";
import { percentile } from "../stats.js";

const peerJs = fileURLToPath(new URL("../../examples/fabric-peer.js", import.meta.url));

function startPeer(port: number): Promise<ChildProcess> {
  const p = spawn(process.execPath, [peerJs, String(port), "120"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    p.stdout!.once("data", () => resolve(p));
    p.once("exit", (c) => reject(new Error(`demiwasm: fabric peer exited with ${c}`)));
  });
}

/** fi_pingpong's usec/xfer (one message one way) between two processes; NaN when it fails. */
async function fiPingpong(provider: string, endpoint: string, port: number, iters: number): Promise<number> {
  // The server needs a moment to listen, longer on a loaded machine: a client that found no
  // server fails at once, so try again with a longer wait before giving up.
  for (let attempt = 1; attempt <= 4; attempt++) {
    const us = await fiPingpongOnce(provider, endpoint, port, iters, 300 * attempt);
    if (Number.isFinite(us)) return us;
  }
  return NaN;
}

async function fiPingpongOnce(provider: string, endpoint: string, port: number, iters: number, waitMs: number): Promise<number> {
  // -d lo keeps both ends on the loopback domain.
  const common = ["-p", provider, "-e", endpoint, "-d", "lo", "-I", String(iters), "-S", "64"];
  const server = spawn("fi_pingpong", [...common, "-B", String(port)], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, waitMs));
  const client = spawn("fi_pingpong", [...common, "-P", String(port), "127.0.0.1"], { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  client.stdout!.on("data", (d) => { out += d; });
  const timer = setTimeout(() => { client.kill("SIGKILL"); server.kill("SIGKILL"); }, 30_000);
  await exited(client);
  clearTimeout(timer);
  server.kill("SIGKILL");
  await exited(server);
  // bytes #sent #ack total time MB/sec usec/xfer Mxfers/sec
  const row = out.trim().split("\n").pop()!.trim().split(/\s+/);
  return Number(row[6]);
}

/** Resolves once the child has exited (at once if it already has: its 'exit' event is past). */
function exited(child: ChildProcess): Promise<unknown> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
}

export async function benchFabric(config: Config, o: BenchOptions): Promise<Record<string, unknown>> {
  const say = (s: string) => (o.json ? process.stderr : process.stdout).write(s + "\n");
  fabricNative();                                    // one clear line if the bridge is missing
  const port = await freePort();
  const peer = await startPeer(port);
  try {
    const f = new FabricLibOS(config);
    const qd = f.socket();
    const c = f.wait(f.connect(qd, sockaddr("127.0.0.1", port)), 5000);
    if (c.ret !== 0) throw new Error(`demiwasm: could not connect to the fabric peer (errno ${c.ret})`);
    const r = newResultBuffer();
    const msg = f.sgaalloc(64);
    const rounds = o.quick ? 2000 : 20000;
    const warm = o.quick ? 200 : 2000;
    const rtt: number[] = [];
    for (let i = 0; i < warm + rounds; i++) {
      const t0 = process.hrtime.bigint();
      const pq = f.pop(qd);
      f.waitInto(r, f.push(qd, msg));
      if (!f.waitInto(r, pq, 2000) || r.ret !== 0) throw new Error(`demiwasm: fabric echo failed (errno ${r.ret})`);
      f.sgafree(r.sga);
      if (i >= warm) rtt.push(Number(process.hrtime.bigint() - t0));
    }
    rtt.sort((a, b) => a - b);
    const rttP50Us = percentile(rtt, 50) / 1e3;
    const rttP99Us = percentile(rtt, 99) / 1e3;
    say(`demiwasm fabric RTT (64 B, tcp;ofi_rxm RDM, two processes): p50 ${rttP50Us.toFixed(2)} us, p99 ${rttP99Us.toFixed(2)} us`);

    // RMA write bandwidth into a 64 KiB region the peer exports.
    const req = Buffer.from("region 65536");
    const q = f.sgaalloc(req.length);
    f.bytes(q).set(req);
    const rq = f.pop(qd);
    f.waitInto(r, f.push(qd, q));
    f.sgafree(q);
    f.waitInto(r, rq, 2000);
    const ref = JSON.parse(Buffer.from(f.bytes(r.sga)).toString()) as RegionRef;
    f.sgafree(r.sga);
    const src = f.sgaalloc(65536);
    const inflight: number[] = [];
    const ms = o.quick ? 200 : 1000;
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      while (inflight.length < 8) inflight.push(f.rdmaWrite(qd, src, ref));
      f.waitInto(r, inflight.shift()!, 5000);
      if (r.ret !== 0) throw new Error(`demiwasm: RMA write failed (errno ${r.ret})`);
      n++;
    }
    const secs = (performance.now() - t0) / 1000;
    for (const qt of inflight) f.waitInto(r, qt, 5000);
    const rmaGBps = (n * 65536) / secs / 1e9;
    say(`RMA write, 64 KiB, 8 in flight: ${rmaGBps.toFixed(2)} GB/s`);
    f.shutdown();
    // The peer busy-polls a core: stop it before fi_pingpong runs on this 2-core machine.
    peer.kill("SIGKILL");
    await exited(peer);

    const iters = o.quick ? 2000 : 20000;
    const fiTcp = await fiPingpong("tcp", "msg", await freePort(), iters);
    const fiRxm = await fiPingpong("tcp;ofi_rxm", "rdm", await freePort(), iters);
    say(`fi_pingpong -p tcp: ${fiTcp} us/xfer (one way; RTT ${(2 * fiTcp).toFixed(2)} us); -p "tcp;ofi_rxm" -e rdm: ${fiRxm} us/xfer`);
    const round = (x: number) => +x.toFixed(3);
    return {
      rttP50Us: round(rttP50Us), rttP99Us: round(rttP99Us),
      fiPingpongUs: fiTcp, fiPingpongRttUs: round(2 * fiTcp), fiPingpongRxmRttUs: round(2 * fiRxm),
      rttVsFiPingpong: round(rttP50Us / (2 * fiTcp)),
      rmaGBps: round(rmaGBps),
      goal: "rttP50Us within 10% of fi_pingpong's round trip",
    };
  } finally {
    peer.kill("SIGKILL");
  }
}

// bench tcp: in one run, (a) 64-byte request/response over two Wasm stacks on the loopback link,
// 32 requests in flight on one connection, both apps on the PDPIX API: amortized ns per I/O and,
// one at a time, RTT p50/p99; (b) a single-flow bulk transfer in Gbit/s, at the configured MTU
// and at jumbo MTU; (c) the same two on Node's net over 127.0.0.1.
import { performance } from "node:perf_hooks";
import type { Config } from "../config.js";
import type { BenchOptions } from "./options.js";
import { loopbackPair, dualStack, serverIp6, type Pair } from "../topology.js";
import { sockaddr, newResultBuffer, AF_INET, AF_INET6, SOCK_STREAM, Opcode, type SockAddr } from "../libos.js";
import { formatIpv4 } from "../config.js";
import { MTU_MAX } from "../schema/layout.js";
import { percentile, median } from "../stats.js";
import { nodeTcp } from "./nodetcp.js";

/** One connection and the pops kept outstanding on it across every phase of the bench. */
export interface Rig { p: Pair; sqd: number; cqd: number; serverPop: number; clientPop: number }

/** The client connects to a listener on `port` (of the server's IPv4 address, or of `at`), which
 *  then closes; a pop is posted at each end. */
export function connectPair(p: Pair, port: number, timeoutMs = 5000, at?: SockAddr): Rig {
  const { server, client } = p;
  const to = at ?? sockaddr(formatIpv4(server.ip), port);
  const domain = to.addr6 !== undefined ? AF_INET6 : AF_INET;
  const l = server.socket(domain, SOCK_STREAM);
  server.bind(l, to);
  server.listen(l, 16);
  const aq = server.accept(l);
  const cqd = client.socket(domain, SOCK_STREAM);
  const c = client.wait(client.connect(cqd, to), timeoutMs);
  const a = server.wait(aq, timeoutMs);
  if (c.opcode !== Opcode.CONNECT || a.opcode !== Opcode.ACCEPT) throw new Error(`demiwasm: bench connect failed (errno ${c.ret || a.ret})`);
  server.close(l);
  const sqd = a.acceptedQd!;
  return { p, sqd, cqd, serverPop: server.pop(sqd), clientPop: client.pop(cqd) };
}

/** Request/response with `inflight` requests outstanding; returns ns per push-or-pop and RTTs. */
function reqResp(rig: Rig, ms: number, inflight: number, recordRtt: boolean) {
  const { p, sqd, cqd } = rig;
  const { server, client, link } = p;
  const r = newResultBuffer();
  const w = newResultBuffer();
  const req = client.sgaalloc(64);
  client.bytes(req).fill(0x61);
  const pushes: number[] = [];
  let ios = 0, outstanding = 0, owed = 0, answered = 0;
  const rtt: number[] = [];
  let sentAt = 0;
  const t0 = performance.now();
  let t = t0;
  for (let iter = 0; t - t0 < ms || outstanding > 0; iter++) {
    if (t - t0 < ms) {
      while (outstanding < inflight * 64) {
        if (outstanding === 0 && recordRtt) sentAt = performance.now();
        pushes.push(client.push(cqd, req)); ios++; outstanding += 64;
      }
    }
    link.poll();
    // Server: echo whatever arrived (a stream: pops may carry several requests).
    while (server.tryWaitInto(r, rig.serverPop)) {
      ios++;
      if (r.ret !== 0) throw new Error(`demiwasm: bench server pop failed (errno ${r.ret})`);
      const qt = server.push(sqd, { buf: r.sga.buf, len: r.sga.len }); ios++;
      server.waitInto(w, qt, 1000);
      server.sgafree(r.sga);
      rig.serverPop = server.pop(sqd);
    }
    link.poll();
    while (client.tryWaitInto(r, rig.clientPop)) {
      ios++;
      if (r.ret !== 0) throw new Error(`demiwasm: bench client pop failed (errno ${r.ret})`);
      outstanding -= r.sga.len;
      owed += r.sga.len;
      client.sgafree(r.sga);
      rig.clientPop = client.pop(cqd);
    }
    while (pushes.length > 0 && client.tryWaitInto(w, pushes[0])) pushes.shift();
    if (recordRtt && outstanding === 0 && owed >= 64) { rtt.push((performance.now() - sentAt) * 1e6); owed = 0; answered++; }
    if ((iter & 15) === 0) t = performance.now();
  }
  // Pushes still copying from req must finish before it is freed.
  for (const qt of pushes) client.waitInto(w, qt, 1000);
  client.sgafree(req);
  return { perIoNs: ((performance.now() - t0) * 1e6) / ios, rtt, answered };
}

function bulk(rig: Rig, bytes: number): number {
  const { p, sqd, cqd } = rig;
  const { server, client, link } = p;
  const r = newResultBuffer();
  const chunk = client.sgaalloc(65536);
  client.bytes(chunk).fill(0x42);
  let got = 0, sent = 0;
  let push = -1;
  const t0 = performance.now();
  while (got < bytes) {
    if (push < 0 && sent < bytes) { push = client.push(cqd, chunk); sent += 65536; }
    link.poll();
    if (push >= 0 && client.tryWaitInto(r, push)) push = -1;
    while (server.tryWaitInto(r, rig.serverPop)) { got += r.sga.len; server.sgafree(r.sga); rig.serverPop = server.pop(sqd); }
  }
  const secs = (performance.now() - t0) / 1000;
  client.sgafree(chunk);
  return (bytes * 8) / secs / 1e9;
}

/**
 * Connections set up and torn down one after another between two stacks on the loopback link
 * (TIME_WAIT short enough not to fill the table); then `idle` connections opened, each carrying
 * one byte, left idle: what the server holds per idle connection is its tables' share plus the
 * buffer memory still in use (none, once the bytes were popped and acknowledged).
 */
function connectionSetup(config: Config, count: number, idle: number): { connsPerSec: number; bytesPerIdleConn: number; tableBytesPerConn: number } {
  const cfg = { ...config, tcp: { ...config.tcp, max_connections: idle + 256, time_wait_ms: 10 }, memory_mb: Math.max(config.memory_mb, 64),
                link: { ...config.link, loss: 0, reorder: 0, duplicate: 0, corrupt: 0, delay_ms: 0 } };
  const p = loopbackPair(cfg);
  const { server, client } = p;
  const l = server.socket(AF_INET, SOCK_STREAM);
  server.bind(l, sockaddr(formatIpv4(server.ip), 5002));
  server.listen(l, 64);
  const one = client.sgaalloc(1);
  const open = (): [number, number] => {
    const aq = server.accept(l);
    const cqd = client.socket(AF_INET, SOCK_STREAM);
    const c = client.wait(client.connect(cqd, { addr: server.ip, port: 5002 }), 5000);
    const a = server.wait(aq, 5000);
    if (c.opcode !== Opcode.CONNECT || a.opcode !== Opcode.ACCEPT) throw new Error(`demiwasm: bench connect failed (errno ${c.ret || a.ret})`);
    client.wait(client.push(cqd, one), 5000);
    const r = server.wait(server.pop(a.acceptedQd!), 5000);
    if (r.opcode !== Opcode.POP) throw new Error("demiwasm: bench pop failed");
    server.sgafree(r.sga!);
    return [cqd, a.acceptedQd!];
  };
  const once = () => { const [c, s] = open(); client.close(c); server.close(s); };
  for (let i = 0; i < Math.min(200, count); i++) once();              // warm-up
  const t0 = performance.now();
  for (let i = 0; i < count; i++) once();
  const connsPerSec = count / ((performance.now() - t0) / 1000);
  const x = server.dp.exports;
  for (let i = 0; i < 50; i++) p.poll();                             // TIME_WAITs of the churn end
  const free0 = x.tcpBufferBytesFree();
  const held = Array.from({ length: idle }, open);
  for (let i = 0; i < 50; i++) p.poll();                             // the last ACKs land
  const buffered = free0 - x.tcpBufferBytesFree();
  const out = { connsPerSec, tableBytesPerConn: x.tcpBytesPerConnection(), bytesPerIdleConn: Math.round(x.tcpBytesPerConnection() + buffered / idle) };
  for (const [c, s] of held) { client.close(c); server.close(s); }
  client.sgafree(one);
  server.close(l);
  return out;
}

export async function benchTcp(config: Config, o: BenchOptions): Promise<Record<string, unknown>> {
  const say = (s: string) => (o.json ? process.stderr : process.stdout).write(s + "\n");
  const cfg = { ...config, tcp: { ...config.tcp, buffer_bytes: 1 << 20, max_connections: 4 }, memory_mb: Math.max(config.memory_mb, 64),
                link: { ...config.link, loss: 0, reorder: 0, duplicate: 0, corrupt: 0, delay_ms: 0 } };
  const p = loopbackPair(o.ipv6 ? dualStack(cfg) : cfg);
  const rig = connectPair(p, 5001);
  const rig6 = o.ipv6 ? connectPair(p, 5003, 5000, { addr: 0, port: 5003, addr6: serverIp6(p.server.config) }) : null;
  reqResp(rig, o.quick ? 100 : 500, 32, false);                      // warm-up
  if (rig6) reqResp(rig6, o.quick ? 100 : 500, 32, false);
  const runs = o.quick ? 3 : 7;
  // With --ipv6 the two versions alternate run by run, so drift on a shared machine hits both.
  const per: number[] = [], per6: number[] = [];
  for (let i = 0; i < runs; i++) {
    per.push(reqResp(rig, o.quick ? 100 : 300, 32, false).perIoNs);
    if (rig6) per6.push(reqResp(rig6, o.quick ? 100 : 300, 32, false).perIoNs);
  }
  const perIoNs = median(per);
  say(`wasm TCP request/response, 32 in flight: ${perIoNs.toFixed(1)} ns per I/O (median of ${runs})`);
  const perIoNs6 = rig6 ? median(per6) : NaN;
  if (rig6) say(`wasm TCP request/response over IPv6: ${perIoNs6.toFixed(1)} ns per I/O (median of ${runs}), ${(perIoNs6 / perIoNs).toFixed(3)}× IPv4's`);
  const rr = reqResp(rig, o.quick ? 200 : 1000, 1, true);
  const rtt = rr.rtt.sort((a, b) => a - b);
  const rttP50Us = percentile(rtt, 50) / 1e3, rttP99Us = percentile(rtt, 99) / 1e3;
  say(`wasm TCP RTT: p50 ${rttP50Us.toFixed(2)} us, p99 ${rttP99Us.toFixed(2)} us (${rtt.length} round trips)`);
  const bulkBytes = o.quick ? 16 << 20 : 256 << 20;
  // Bulk at the standard MTU on the request/response connection, then at jumbo MTU (9000, as
  // far as the loopback link goes; Linux's lo, which Node's net uses, runs at 65536) on a pair of
  // its own: that is the figure compared with Node's.
  bulk(rig, 8 << 20);                                                // warm-up
  const bulkGbps1500 = bulk(rig, bulkBytes);
  say(`wasm TCP bulk, one flow, MTU ${cfg.mtu}: ${bulkGbps1500.toFixed(2)} Gbit/s (${bulkBytes >> 20} MiB)`);
  const jumbo = { ...cfg, mtu: MTU_MAX };
  const pj = loopbackPair(o.ipv6 ? dualStack(jumbo) : jumbo);
  const rigJ = connectPair(pj, 5001);
  // A fresh pair takes some 50 MiB to reach its pace (its buffers grow, its code tiers up).
  const warm = o.quick ? 32 << 20 : 64 << 20;
  bulk(rigJ, warm);
  const bulkGbps = bulk(rigJ, bulkBytes);
  say(`wasm TCP bulk, one flow, MTU ${MTU_MAX}: ${bulkGbps.toFixed(2)} Gbit/s (${bulkBytes >> 20} MiB)`);
  let bulkGbps6 = NaN;
  if (o.ipv6) {
    const rigJ6 = connectPair(pj, 5003, 5000, { addr: 0, port: 5003, addr6: serverIp6(pj.server.config) });
    bulk(rigJ6, warm);
    bulkGbps6 = bulk(rigJ6, bulkBytes);
    say(`wasm TCP bulk over IPv6, MTU ${MTU_MAX}: ${bulkGbps6.toFixed(2)} Gbit/s`);
  }
  const setup = connectionSetup(config, o.quick ? 2000 : 20000, o.quick ? 500 : 5000);
  say(`wasm TCP connection setup: ${setup.connsPerSec.toFixed(0)} connections/s (connect, accept, a 1-byte exchange, close on both sides); ` +
      `${setup.bytesPerIdleConn} bytes per idle connection (${setup.tableBytesPerConn} of them its share of the tables, the rest buffers still held)`);
  const n = await nodeTcp(o.quick ? 500 : 5000, o.quick ? 100 : 500, bulkBytes);
  const nrtt = n.rttNs.sort((a, b) => a - b);
  const nodeRttP50Us = percentile(nrtt, 50) / 1e3;
  say(`node net over 127.0.0.1: RTT p50 ${nodeRttP50Us.toFixed(2)} us, bulk ${n.bulkGbps.toFixed(2)} Gbit/s`);
  const round = (x: number, d = 3) => +x.toFixed(d);
  return {
    perIoNs: round(perIoNs, 1), rttP50Us: round(rttP50Us), rttP99Us: round(rttP99Us), bulkGbps: round(bulkGbps), bulkMtu: MTU_MAX,
    bulkGbps1500: round(bulkGbps1500),
    nodeRttP50Us: round(nodeRttP50Us), nodeBulkGbps: round(n.bulkGbps),
    connsPerSec: Math.round(setup.connsPerSec), bytesPerIdleConn: setup.bytesPerIdleConn, tableBytesPerConn: setup.tableBytesPerConn,
    ...(rig6 ? { perIoNs6: round(perIoNs6, 1), ipv6Ratio: round(perIoNs6 / perIoNs), bulkGbps6: round(bulkGbps6) } : {}),
    goals: { perIoNs: 150, bulkVsNode: 4, ...(rig6 ? { ipv6Ratio: 1.1 } : {}) },
  };
}

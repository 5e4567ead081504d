// A UDP packet generator (DPDK pktgen's simplest mode): sends --size-byte datagrams as fast as the
// stack takes them, in bursts, to a sink that counts what arrives; reports offered and received
// packets per second and the drops by reason.
import type { Pdpix } from "../host/pdpix.js";
import { sockaddr, newResultBuffer, type SockAddr } from "../host/libos.js";
import { formatIpv4 } from "../host/config.js";
import type { Stacks } from "../host/topology.js";

export interface PktgenResult { sent: number; received: number; bytes: number; seconds: number }

/** Counts (and frees) every datagram that reaches its socket. */
class Sink {
  private popQt: number;
  private readonly r = newResultBuffer();
  received = 0;
  bytes = 0;
  constructor(private readonly l: Pdpix, private readonly qd: number) { this.popQt = l.pop(qd); }
  step(): void {
    while (this.l.tryWaitInto(this.r, this.popQt)) {
      if (this.r.ret === 0) { this.received++; this.bytes += this.r.sga.len; this.l.sgafree(this.r.sga); }
      this.popQt = this.l.pop(this.qd);
    }
  }
}

export function pktgen(p: Stacks, size: number, seconds: number, burst = 32, port = 9): PktgenResult {
  const { server, client } = p;
  const sqd = server.socket();
  server.bind(sqd, sockaddr(formatIpv4(p.serverIp), port));
  const sink = new Sink(server, sqd);
  const cqd = client.socket();
  const to: SockAddr = { addr: p.serverIp, port };
  const w = newResultBuffer();
  const clock = p.clock;
  const t0 = clock.now();
  const end = t0 + seconds * 1e9;
  let sent = 0;
  while (clock.now() < end) {
    for (let i = 0; i < burst; i++) {
      const sga = client.sgaalloc(size);
      client.waitInto(w, client.pushto(cqd, sga, to), 1000);
      client.sgafree(sga);
      if (w.ret === 0) sent++;
    }
    p.poll();
    sink.step();
  }
  for (let i = 0; i < 100 && p.poll() > 0; i++) sink.step();
  sink.step();
  server.close(sqd);
  client.close(cqd);
  return { sent, received: sink.received, bytes: sink.bytes, seconds: (clock.now() - t0) / 1e9 };
}

// TCP echo with Demikernel's tcp-echo flags: one server, --nclients connections each sending
// --nrequests requests of --bufsize bytes and waiting for the whole echo (a stream may deliver
// it in pieces). Server and clients are state machines stepped on one thread, as udp-echo's.
import type { Pdpix } from "../host/pdpix.js";
import { sockaddr, newResultBuffer, AF_INET, SOCK_STREAM, Opcode, type Sga, type SockAddr } from "../host/libos.js";
import { familyOf } from "../host/sockaddr.js";
import { formatIpv4 } from "../host/config.js";
import type { Stacks } from "../host/topology.js";

/** Accepts connections and echoes every byte back on the connection it came from. */
export class TcpEchoServer {
  private acceptQt: number;
  private readonly conns = new Map<number, number>();   // qd -> pending pop
  private readonly r = newResultBuffer();
  private readonly w = newResultBuffer();
  closed = 0;

  constructor(private readonly l: Pdpix, readonly lqd: number) { this.acceptQt = l.accept(lqd); }

  step(): void {
    const l = this.l, r = this.r;
    if (this.acceptQt >= 0 && l.tryWaitInto(r, this.acceptQt)) {
      if (r.opcode === Opcode.ACCEPT) {
        this.conns.set(r.acceptedQd, l.pop(r.acceptedQd));
        this.acceptQt = l.accept(this.lqd);
      } else {
        this.acceptQt = -1;                              // the listener was closed
      }
    }
    for (const [qd, qt] of this.conns) {
      if (!l.tryWaitInto(r, qt)) continue;
      if (r.ret !== 0 || r.sga.len === 0) { l.close(qd); this.conns.delete(qd); this.closed++; continue; }
      const echo: Sga = { buf: r.sga.buf, len: r.sga.len };
      l.waitInto(this.w, l.push(qd, echo), 1000);        // completes once copied into the send buffer
      l.sgafree(echo);
      this.conns.set(qd, l.pop(qd));
    }
  }
}

/** One connection sending requests one at a time; latency from push to the last echoed byte. */
export class TcpEchoClient {
  private popQt = -1;
  private connectQt: number;
  private waiting = 0;                 // bytes of the current echo still to come
  private sentAt = 0;
  private readonly r = newResultBuffer();
  private readonly w = newResultBuffer();
  private readonly req: Sga;
  done = 0;
  failed = 0;
  readonly latNs: number[] = [];
  state: "connecting" | "running" | "finished" = "connecting";

  constructor(private readonly l: Pdpix, private readonly qd: number, to: { addr: number; port: number },
              private readonly bufsize: number, private readonly nrequests: number) {
    this.connectQt = l.connect(qd, to);
    this.req = l.sgaalloc(bufsize);
    l.bytes(this.req).fill(0x61);
  }

  step(now: number): void {
    const l = this.l, r = this.r;
    if (this.state === "connecting") {
      if (!l.tryWaitInto(r, this.connectQt)) return;
      if (r.opcode !== Opcode.CONNECT) { this.failed++; this.finish(); return; }
      this.state = "running";
      this.popQt = l.pop(this.qd);
    }
    if (this.state !== "running") return;
    if (this.waiting === 0) {
      if (this.done === this.nrequests) { this.finish(); return; }
      l.waitInto(this.w, l.push(this.qd, this.req), 1000);
      this.waiting = this.bufsize;
      this.sentAt = now;
    }
    while (l.tryWaitInto(r, this.popQt)) {
      if (r.ret !== 0 || r.sga.len === 0) { this.failed++; this.finish(); return; }
      this.waiting -= r.sga.len;
      l.sgafree(r.sga);
      this.popQt = l.pop(this.qd);
      if (this.waiting <= 0) { this.waiting = 0; this.done++; this.latNs.push(now - this.sentAt); break; }
    }
  }

  private finish(): void {
    this.state = "finished";
    this.l.sgafree(this.req);
    this.l.close(this.qd);
  }
}

export interface TcpEchoResult { requests: number; failed: number; seconds: number; latNs: number[] }

/** Runs the whole exchange on a loopback pair and returns what the clients measured. */
export function tcpEcho(p: Stacks, port: number, bufsize: number, nclients: number, nrequests: number): TcpEchoResult {
  const { server, client } = p;
  const lqd = server.socket(AF_INET, SOCK_STREAM);
  server.bind(lqd, sockaddr(formatIpv4(p.serverIp), port));
  server.listen(lqd, Math.max(16, nclients));
  const srv = new TcpEchoServer(server, lqd);
  const clients = Array.from({ length: nclients }, () =>
    new TcpEchoClient(client, client.socket(AF_INET, SOCK_STREAM), { addr: p.serverIp, port }, bufsize, nrequests));
  const clock = p.clock;
  const t0 = clock.now();
  while (clients.some((c) => c.state !== "finished") || srv.closed < nclients) {
    const work = p.poll();
    srv.step();
    const now = clock.now();
    for (const c of clients) c.step(now);
    if (work === 0 && clock.virtual) clock.idle(Infinity, p.nextEvent());
    if (clock.now() - t0 > 600e9) break;              // a stuck run ends; the result shows it
  }
  server.close(lqd);
  // Let the teardown finish: the last FINs and their ACKs are still in the rings.
  for (let i = 0; i < 1000 && p.poll() > 0; i++) srv.step();
  return {
    requests: clients.reduce((n, c) => n + c.done, 0), failed: clients.reduce((n, c) => n + c.failed, 0),
    seconds: (clock.now() - t0) / 1e9, latNs: clients.flatMap((c) => c.latNs),
  };
}

/** The client side alone (Demikernel's --peer client): connections to a server elsewhere. */
export function tcpEchoClients(l: Pdpix, to: SockAddr, bufsize: number, nclients: number, nrequests: number): TcpEchoResult {
  const clients = Array.from({ length: nclients }, () => new TcpEchoClient(l, l.socket(familyOf(to), SOCK_STREAM), to, bufsize, nrequests));
  const t0 = performance.now();
  while (clients.some((c) => c.state !== "finished") && performance.now() - t0 < 600e3) {
    l.poll();
    const now = performance.now() * 1e6;
    for (const c of clients) c.step(now);
  }
  for (let i = 0; i < 1000 && l.poll() > 0; i++) { /* let the FINs out */ }
  return {
    requests: clients.reduce((n, c) => n + c.done, 0), failed: clients.reduce((n, c) => n + c.failed, 0),
    seconds: (performance.now() - t0) / 1e3, latNs: clients.flatMap((c) => c.latNs),
  };
}

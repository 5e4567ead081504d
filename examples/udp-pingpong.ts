// UDP ping-pong: one datagram in flight, each round's RTT measured. The server is the echo
// server of udp-echo.ts; both run on one thread, stepped after every datapath turn.
import { sockaddr, SOCK_DGRAM, type SockAddr } from "../host/libos.js";
import { familyOf } from "../host/sockaddr.js";
import { formatIpv4 } from "../host/config.js";
import { EchoServer, EchoClient } from "./udp-echo.js";
import type { Stacks } from "../host/topology.js";
import type { Pdpix } from "../host/pdpix.js";

export interface PingPongResult { rounds: number; lost: number; rttNs: number[] }

export function udpPingPong(p: Stacks, rounds: number, size = 64, port = 7): PingPongResult {
  const { server, client } = p;
  const sqd = server.socket();
  server.bind(sqd, sockaddr(formatIpv4(p.serverIp), port));
  const cqd = client.socket();
  const to: SockAddr = { addr: p.serverIp, port };
  const srv = new EchoServer(server, sqd);
  const cli = new EchoClient(client, cqd, to, { size, window: 1, burst: 1, lossTimeoutNs: 100e6, recordRtt: true });
  const clock = p.clock;
  for (let i = 0; i < rounds; i++) {
    cli.step(clock.now());
    while (cli.outstanding > 0) {
      const work = p.poll();
      srv.step();
      cli.step(clock.now(), false);
      if (work === 0 && clock.virtual) clock.idle(Infinity, p.nextEvent());
    }
  }
  server.close(sqd);
  client.close(cqd);
  return { rounds: cli.echoed, lost: cli.lost, rttNs: cli.rttNs };
}

/** The client side alone, against an echo server elsewhere (another process, another host). */
export function udpPingPongTo(l: Pdpix, to: SockAddr, rounds: number, size = 64): PingPongResult {
  const cqd = l.socket(familyOf(to), SOCK_DGRAM);
  const cli = new EchoClient(l, cqd, to, { size, window: 1, burst: 1, lossTimeoutNs: 100e6, recordRtt: true });
  const clock = l.clock;
  for (let i = 0; i < rounds; i++) {
    cli.step(clock.now());
    while (cli.outstanding > 0) {
      l.poll();
      cli.step(clock.now(), false);
    }
  }
  l.close(cqd);
  return { rounds: cli.echoed, lost: cli.lost, rttNs: cli.rttNs };
}

// Two stacks for the examples and benchmarks: on the loopback link (two Wasm stacks joined by the
// in-memory link; the server takes the configured address and MAC, the client the next ones), or
// on kernel sockets (posix: two LibOSes on 127.0.0.1 in one process).
import { LibOS } from "./libos.js";
import { LoopbackLink } from "./backends/loopback.js";
import { PosixLibOS } from "./backends/posix.js";
import { RealClock, type Clock } from "./clock.js";
import { formatIpv4, formatMac, parseIpv4, parseMac, type Config } from "./config.js";
import { backendUnavailable } from "./backends/index.js";
import type { Pdpix } from "./pdpix.js";

/** Two stacks and a way to run them: what every example needs of a backend. */
export interface Stacks {
  server: Pdpix;
  client: Pdpix;
  /** The address the server binds and the client sends to. */
  serverIp: number;
  clock: Clock;
  /** One turn of both stacks; the work done (0 when idle). */
  poll(): number;
  /** The earliest pending event, for a virtual clock to jump to. */
  nextEvent(): number;
  /** Writes the traffic to a pcap file (physical backends only). */
  capture(path: string): void;
  stopCapture(): void;
}

export interface Pair extends Stacks { link: LoopbackLink; server: LibOS; client: LibOS }

export function peerConfig(c: Config): Config {
  const ip = parseIpv4(c.local_ipv4)!;
  const [hi, lo] = parseMac(c.mac)!;
  return { ...c, local_ipv4: formatIpv4((ip + 1) >>> 0), mac: formatMac(hi, (lo + 1) >>> 0), seed: c.seed === null ? null : c.seed + 1 };
}

export function loopbackPair(config: Config, clock: Clock = new RealClock(), quiet = false): Pair {
  if (config.backend !== "loopback") throw new Error(backendUnavailable(config.backend));
  const link = new LoopbackLink(config.link, clock, quiet);
  const server = new LibOS({ config, link });
  const client = new LibOS({ config: peerConfig(config), link });
  return {
    link, server, client, serverIp: server.ip, clock: link.clock,
    poll: () => link.poll(), nextEvent: () => link.nextEvent(),
    capture: (p) => link.capture(p), stopCapture: () => link.stopCapture(),
  };
}

/** The stacks for a config's backend: loopback, or posix on 127.0.0.1. */
export function stacksFor(config: Config): Stacks {
  if (config.backend === "loopback") return loopbackPair(config);
  if (config.backend !== "posix") throw new Error(backendUnavailable(config.backend));
  const server = new PosixLibOS(config), client = new PosixLibOS(config);
  const nope = () => { throw new Error("demiwasm: --pcap needs a physical backend (loopback; dpdk when its issue lands); the posix backend's packets belong to the kernel: use tcpdump -i lo"); };
  return {
    server, client, serverIp: 0x7f000001, clock: server.clock,
    poll: () => server.poll() + client.poll(), nextEvent: () => Infinity,
    capture: nope, stopCapture: () => {},
  };
}

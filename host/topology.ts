// Two stacks for the examples and benchmarks: on the loopback link (two Wasm stacks joined by the
// in-memory link; the server takes the configured address and MAC, the client the next ones), or
// on kernel sockets (posix: two LibOSes on 127.0.0.1 in one process).
import { LibOS } from "./libos.js";
import { LoopbackLink } from "./backends/loopback.js";
import { PosixLibOS } from "./backends/posix.js";
import { DpdkLink, dpdkInit } from "./backends/dpdk.js";
import { RealClock, type Clock } from "./clock.js";
import { formatIpv4, formatMac, parseIpv4, parseMac, type Config } from "./config.js";
import { parseIpv6Prefix, formatIpv6 } from "./ipv6.js";
import { backendUnavailable } from "./backends/index.js";
import type { Pdpix } from "./pdpix.js";
import type { Chain } from "./nf/chain.js";

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
  /** NF chains on the server's port (physical backends only): REDIRECT numbers `ports` of them. */
  serverChains?: { attach(dir: "in" | "out", chain: Chain): void; readonly ports: number };
}

export interface Pair extends Stacks { link: LoopbackLink; server: LibOS; client: LibOS }

/** The client's config beside a server's: the next IPv4 address, MAC and IPv6 addresses. */
export function peerConfig(c: Config): Config {
  const ip = parseIpv4(c.local_ipv4)!;
  const [hi, lo] = parseMac(c.mac)!;
  const next6 = (a: string) => {
    const { addr, prefix } = parseIpv6Prefix(a)!;
    const b = addr.slice();
    b[15] = (b[15] + 1) & 255;
    return `${formatIpv6(b)}/${prefix}`;
  };
  return { ...c, local_ipv4: formatIpv4((ip + 1) >>> 0), mac: formatMac(hi, (lo + 1) >>> 0), local_ipv6: c.local_ipv6.map(next6),
           seed: c.seed === null ? null : c.seed + 1 };
}

/** A config for both versions on one link, for the benches' IPv6 runs: the configured IPv6
 *  addresses, else fd00:d::1/64 (the client takes the next), usable at once (no DAD wait). */
export function dualStack(c: Config): Config {
  return { ...c, local_ipv6: c.local_ipv6.length > 0 ? c.local_ipv6 : ["fd00:d::1/64"], ndp: { ...c.ndp, dad_transmits: 0 } };
}

/** The server's IPv6 address in a dualStack config. */
export function serverIp6(c: Config): Uint8Array { return parseIpv6Prefix(c.local_ipv6[0])!.addr; }

export function loopbackPair(config: Config, clock: Clock = new RealClock(), quiet = false, countCrossings = false): Pair {
  if (config.backend !== "loopback") throw new Error(backendUnavailable(config.backend));
  const link = new LoopbackLink(config.link, clock, quiet);
  const server = new LibOS({ config, link, countCrossings });
  const client = new LibOS({ config: peerConfig(config), link, countCrossings });
  return {
    link, server, client, serverIp: server.ip, clock: link.clock,
    poll: () => link.poll(), nextEvent: () => link.nextEvent(),
    capture: (p) => link.capture(p), stopCapture: () => link.stopCapture(),
    serverChains: { attach: (dir, c) => link.attachChain(server, dir, c), get ports() { return link.ports; } },
  };
}

export interface DpdkPair extends Stacks { server: LibOS; client: LibOS; serverLink: DpdkLink; clientLink: DpdkLink; close(): void }

let wires = 0;

/**
 * Two Wasm stacks on two DPDK ports joined by a pair of in-process rings (net_ring): the DPDK
 * path end to end without a NIC. Each stack has its own memory, so frames cross by copy (the
 * port counts them as rxCopied); zero-copy holds on each side.
 */
export function dpdkPair(config: Config): DpdkPair {
  const native = dpdkInit(config.dpdk.eal_args);
  const id = `${process.pid}_${wires++}`;
  native.ringPort(`dwa${id}`, `dwr${id}a`, `dwr${id}b`);
  native.ringPort(`dwb${id}`, `dwr${id}b`, `dwr${id}a`);
  const sc = { ...config, dpdk: { ...config.dpdk, device: `net_ring_dwa${id}` } };
  const cc = peerConfig({ ...config, dpdk: { ...config.dpdk, device: `net_ring_dwb${id}` } });
  const serverLink = new DpdkLink(sc), clientLink = new DpdkLink(cc, serverLink.clock);
  DpdkLink.group(serverLink, clientLink);
  const server = new LibOS({ config: sc, link: serverLink });
  const client = new LibOS({ config: cc, link: clientLink });
  return {
    server, client, serverLink, clientLink, serverIp: server.ip, clock: serverLink.clock,
    poll: () => serverLink.poll(), nextEvent: () => serverLink.clock.now(),
    capture: (p) => serverLink.capture(p), stopCapture: () => serverLink.stopCapture(),
    serverChains: { attach: (dir, c) => serverLink.attachChain(server, dir, c), get ports() { return serverLink.ports; } },
    close: () => { serverLink.close(); clientLink.close(); },
  };
}

/** The stacks for a config's backend: loopback, dpdk (two ports over in-process rings), or posix on 127.0.0.1. */
export function stacksFor(config: Config): Stacks {
  if (config.backend === "loopback") return loopbackPair(config);
  if (config.backend === "dpdk") return dpdkPair(config);
  if (config.backend !== "posix") throw new Error(backendUnavailable(config.backend));
  const server = new PosixLibOS(config), client = new PosixLibOS(config);
  const nope = () => { throw new Error("demiwasm: --pcap needs a physical backend (loopback or dpdk); the posix backend's packets belong to the kernel: use tcpdump -i lo"); };
  return {
    server, client, serverIp: 0x7f000001, clock: server.clock,
    poll: () => server.poll() + client.poll(), nextEvent: () => Infinity,
    capture: nope, stopCapture: () => {},
  };
}

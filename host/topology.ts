// Two stacks on one in-memory link, as the examples and benchmarks use them: the server takes
// the configured address and MAC, the client the next ones.
import { LibOS } from "./libos.js";
import { LoopbackLink } from "./backends/loopback.js";
import { RealClock, type Clock } from "./clock.js";
import { formatIpv4, formatMac, parseIpv4, parseMac, type Config } from "./config.js";
import { backendUnavailable } from "./backends/index.js";

export interface Pair { link: LoopbackLink; server: LibOS; client: LibOS }

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
  return { link, server, client };
}

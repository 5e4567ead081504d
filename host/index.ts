// The package's public API.
export { LibOS, newResultBuffer, sockaddr, formatSockAddr, Opcode, AF_INET, SOCK_DGRAM, SOCK_STREAM } from "./libos.js";
export type { QResult, QResultBuffer, Sga, SockAddr, LibOSOptions } from "./libos.js";
export { loadConfig, parseIpv4, formatIpv4, parseMac, formatMac, ConfigError, DEFAULTS } from "./config.js";
export type { Config } from "./config.js";
export { LoopbackLink, RawPort } from "./backends/loopback.js";
export type { LinkFaults, LinkStats } from "./backends/loopback.js";
export { RealClock, VirtualClock } from "./clock.js";
export type { Clock } from "./clock.js";
export { DemiError } from "./errno.js";
export * as errno from "./errno.js";
export { COUNTER_NAMES } from "./counters.js";
export { readPcap, pcapHeader, pcapRecord } from "./pcap.js";
export { FabricLibOS } from "./backends/fabric.js";
export type { RegionRef } from "./backends/fabric.js";
export { openLibOS } from "./open.js";
export { PosixLibOS } from "./backends/posix.js";
export type { Pdpix } from "./pdpix.js";

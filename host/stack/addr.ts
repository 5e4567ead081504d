// Host names and addresses as node:net and node:dgram take them, resolved to an address of the
// stack's: IPv4 or IPv6 (a SockAddr without its port), and back to node's address objects.
import { lookup as dnsLookup } from "node:dns";
import { isIPv4, isIPv6 } from "node:net";
import { parseIpv4, formatIpv4 } from "../config.js";
import { parseIpv6, formatIpv6 } from "../ipv6.js";
import type { SockAddr } from "../results.js";
import { codedError } from "./errors.js";

export type LookupFn = (host: string, opts: { family: number }, cb: (err: Error | null, address: string, family: number) => void) => void;

/** An address without its port: IPv4 in `addr`, or IPv6 in `addr6` (then `addr` is 0). */
export interface IpAddr { addr: number; addr6?: Uint8Array }

const LOOPBACK4: IpAddr = { addr: 0x7f000001 };
const LOOPBACK6: IpAddr = { addr: 0, addr6: parseIpv6("::1")! };

/** A literal address as an IpAddr, or null. */
export function parseIp(s: string): IpAddr | null {
  if (isIPv4(s)) return { addr: parseIpv4(s)! };
  if (isIPv6(s)) { const addr6 = parseIpv6(s); return addr6 === null ? null : { addr: 0, addr6 }; }
  return null;
}

/**
 * Resolves a host: literals at once (either version), "localhost" to the loopback address of
 * `family` (4 unless 6 is asked), names through `lookup` (dns.lookup) with `family` (0: IPv4,
 * as node:net's default order does without autoSelectFamily).
 */
export function resolveHost(host: string, family: number, lookup: LookupFn | undefined, cb: (err: Error | null, ip: IpAddr) => void): void {
  const literal = parseIp(host);
  if (literal !== null) { cb(null, literal); return; }
  if (host === "localhost") { cb(null, family === 6 ? LOOPBACK6 : LOOPBACK4); return; }
  const want = family === 6 ? 6 : 4;
  (lookup ?? (dnsLookup as unknown as LookupFn))(host, { family: want }, (err, address) => {
    if (err) { cb(err, LOOPBACK4); return; }
    const ip = typeof address === "string" ? parseIp(address) : null;
    if (ip === null) { cb(codedError("EAFNOSUPPORT", `${host} has no IPv${want} address`), LOOPBACK4); return; }
    cb(null, ip);
  });
}

export function formatIp(a: IpAddr): string { return a.addr6 !== undefined ? formatIpv6(a.addr6) : formatIpv4(a.addr); }
export function familyName(a: IpAddr): "IPv4" | "IPv6" { return a.addr6 !== undefined ? "IPv6" : "IPv4"; }

/** A port argument as node:net checks it (ERR_SOCKET_BAD_PORT). */
export function checkPort(port: unknown, allowZero = true): number {
  const n = typeof port === "string" && port.trim() !== "" ? Number(port) : port;
  if (typeof n !== "number" || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    throw codedError("ERR_SOCKET_BAD_PORT", `Port should be >= ${allowZero ? 0 : 1} and < 65536. Received ${String(port)}.`, RangeError);
  }
  return n;
}

/** node's { address, family, port } for a socket address. */
export function addressInfo(a: SockAddr): { address: string; family: "IPv4" | "IPv6"; port: number } {
  return { address: formatIp(a), family: familyName(a), port: a.port };
}

/** A SockAddr from an address and a port. */
export function withPort(ip: IpAddr, port: number): SockAddr {
  return ip.addr6 !== undefined ? { addr: 0, port, addr6: ip.addr6 } : { addr: ip.addr, port };
}

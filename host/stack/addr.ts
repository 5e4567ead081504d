// Addresses as node:net and node:dgram take them (literals), as the stack's IPv4 or IPv6
// SockAddr, and back to node's address objects.
import { isIPv4, isIPv6 } from "node:net";
import { parseIpv4, formatIpv4 } from "../config.js";
import { parseIpv6, formatIpv6 } from "../ipv6.js";
import type { SockAddr } from "../results.js";

/** An address without its port: IPv4 in `addr`, or IPv6 in `addr6` (then `addr` is 0). */
export interface IpAddr { addr: number; addr6?: Uint8Array }

/** A literal address as an IpAddr, or null. */
export function parseIp(s: string): IpAddr | null {
  if (isIPv4(s)) return { addr: parseIpv4(s)! };
  if (isIPv6(s)) { const addr6 = parseIpv6(s); return addr6 === null ? null : { addr: 0, addr6 }; }
  return null;
}

export function formatIp(a: IpAddr): string { return a.addr6 !== undefined ? formatIpv6(a.addr6) : formatIpv4(a.addr); }
export function familyName(a: IpAddr): "IPv4" | "IPv6" { return a.addr6 !== undefined ? "IPv6" : "IPv4"; }

/** node's { address, family, port } for a socket address. */
export function addressInfo(a: SockAddr): { address: string; family: "IPv4" | "IPv6"; port: number } {
  return { address: formatIp(a), family: familyName(a), port: a.port };
}

/** A SockAddr from an address and a port. */
export function withPort(ip: IpAddr, port: number): SockAddr {
  return ip.addr6 !== undefined ? { addr: 0, port, addr6: ip.addr6 } : { addr: ip.addr, port };
}

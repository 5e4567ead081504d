// Socket addresses as PDPIX takes them (results.ts SockAddr), from and to text: "192.0.2.1",
// "2001:db8::1", and with a port "192.0.2.1:7" or "[2001:db8::1]:7" (RFC 3986 §3.2.2's brackets).
import { parseIpv4, formatIpv4 } from "./config.js";
import { parseIpv6, formatIpv6 } from "./ipv6.js";
import { DemiError, EINVAL } from "./errno.js";
import type { SockAddr } from "./results.js";
import { AF_INET, AF_INET6 } from "./schema/layout.js";

/** An IPv4 or IPv6 address and a port; DemiError(EINVAL) naming the text when it is neither. */
export function sockaddr(ip: string, port: number): SockAddr {
  if (ip.includes(":")) {
    const addr6 = parseIpv6(ip);
    if (addr6 === null) throw new DemiError(EINVAL, `sockaddr ${ip}`);
    return { addr: 0, port, addr6 };
  }
  const addr = parseIpv4(ip);
  if (addr === null) throw new DemiError(EINVAL, `sockaddr ${ip}`);
  return { addr, port };
}

/** "IP:PORT" or "[IPv6]:PORT" as a SockAddr (port 1–65535), or null. */
export function parseSockAddr(s: string): SockAddr | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d+\.\d+\.\d+\.\d+)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  if (m[1] !== undefined) { const addr6 = parseIpv6(m[1]); return addr6 === null ? null : { addr: 0, port, addr6 }; }
  const addr = parseIpv4(m[2]);
  return addr === null ? null : { addr, port };
}

export function formatSockAddr(a: SockAddr): string {
  return a.addr6 !== undefined ? `[${formatIpv6(a.addr6)}]:${a.port}` : `${formatIpv4(a.addr)}:${a.port}`;
}

/** The address family a SockAddr belongs to. */
export function familyOf(a: SockAddr): number { return a.addr6 !== undefined ? AF_INET6 : AF_INET; }

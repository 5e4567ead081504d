// Host names and addresses as node:net and node:dgram take them, resolved to the stack's IPv4.
import { lookup as dnsLookup } from "node:dns";
import { isIPv4 } from "node:net";
import { parseIpv4, formatIpv4 } from "../config.js";
import { codedError } from "./errors.js";

export type LookupFn = (host: string, opts: { family: number }, cb: (err: Error | null, address: string, family: number) => void) => void;

/** Resolves a host to an IPv4 address: literals at once, names through `lookup` (dns.lookup). */
export function resolveHost(host: string, lookup: LookupFn | undefined, cb: (err: Error | null, ip: number) => void): void {
  if (isIPv4(host)) { cb(null, parseIpv4(host)!); return; }
  if (host === "localhost") { cb(null, 0x7f000001); return; }
  (lookup ?? (dnsLookup as unknown as LookupFn))(host, { family: 4 }, (err, address) => {
    if (err) { cb(err, 0); return; }
    const ip = typeof address === "string" ? parseIpv4(address) : null;
    if (ip === null) { cb(codedError("EAFNOSUPPORT", `${host} has no IPv4 address`), 0); return; }
    cb(null, ip);
  });
}

/** A port argument as node:net checks it (ERR_SOCKET_BAD_PORT). */
export function checkPort(port: unknown, allowZero = true): number {
  const n = typeof port === "string" && port.trim() !== "" ? Number(port) : port;
  if (typeof n !== "number" || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    throw codedError("ERR_SOCKET_BAD_PORT", `Port should be >= ${allowZero ? 0 : 1} and < 65536. Received ${String(port)}.`, RangeError);
  }
  return n;
}

export function addressInfo(ip: number, port: number): { address: string; family: "IPv4"; port: number } {
  return { address: formatIpv4(ip), family: "IPv4", port };
}

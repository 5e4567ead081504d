// Our IPv4 addresses: the configured one and the whole of 127.0.0.0/8 (RFC 1122 §3.2.1.3(g):
// "internal host loopback address"; Linux's `lo` answers for all of it), and which of them a
// datagram leaves from.
import { localIp } from "../schema/config";

export const LOOPBACK4: u32 = 0x7f000001;   // 127.0.0.1

@inline export function isLoopback4(a: u32): bool { return (a >>> 24) == 127; }

/** Is `a` one of our addresses (a datagram to it goes through the loopback interface)? */
@inline export function isOurs4(a: u32): bool { return a == localIp || isLoopback4(a); }

/** The source for a datagram to `dst` from a socket bound to `bound` (0: any): the bound
 *  address, else 127.0.0.1 toward 127.0.0.0/8 (as Linux's route via lo), else ours. */
@inline export function source4(bound: u32, dst: u32): u32 {
  return bound != 0 ? bound : isLoopback4(dst) ? LOOPBACK4 : localIp;
}

// ICMPv6 (RFC 4443 §2). Checked view + parse/emit: the common header, verified against the
// pseudo-header (§2.3: unlike ICMP for IPv4, the checksum covers it), and echo messages.
import { ld16, st16 } from "./bytes";
import { csumAdd, csumFinish, csumFold, pseudoFinish } from "./checksum";

export const PROTO_ICMPV6: u32 = 58;
export const ICMP6_HLEN: u32 = 8;
export const ICMP6_DEST_UNREACHABLE: u32 = 1;
export const ICMP6_PACKET_TOO_BIG: u32 = 2;
export const ICMP6_TIME_EXCEEDED: u32 = 3;
export const ICMP6_PARAMETER_PROBLEM: u32 = 4;
export const ICMP6_ECHO_REQUEST: u32 = 128;
export const ICMP6_ECHO_REPLY: u32 = 129;

export const ICMP6_OK: i32 = 0;
export const ICMP6_TRUNCATED: i32 = 1;
export const ICMP6_BAD_CHECKSUM: i32 = 2;

/** The common header and the next four bytes (echo: ident and sequence; errors: their field). */
@unmanaged export class Icmpv6Repr {
  type: u32;
  code: u32;
  ident: u32;      // echo; for errors the high half of `param`
  seq: u32;        // echo; for errors the low half of `param`
}

/** Parses and verifies a message of `len` bytes (the upper-layer payload); `addrs` as for UDP. */
export function icmpv6Parse(p: usize, len: u32, addrs: u64, r: Icmpv6Repr): i32 {
  if (len < ICMP6_HLEN) return ICMP6_TRUNCATED;
  if (csumFold(csumAdd(pseudoFinish(addrs, PROTO_ICMPV6, len), p, len)) != 0xffff) return ICMP6_BAD_CHECKSUM;
  r.type = <u32>load<u8>(p);
  r.code = <u32>load<u8>(p + 1);
  r.ident = ld16(p + 4);
  r.seq = ld16(p + 6);
  return ICMP6_OK;
}

/** An error's 32-bit field (parameter problem: the pointer; packet too big: the MTU). */
@inline export function icmpv6Param(r: Icmpv6Repr): u32 { return (r.ident << 16) | r.seq; }

/** Writes the header from `r` and the checksum over it and `bodyLen` bytes that follow. */
export function icmpv6Emit(p: usize, r: Icmpv6Repr, bodyLen: u32, addrs: u64): void {
  const len = ICMP6_HLEN + bodyLen;
  store<u8>(p, <u8>r.type);
  store<u8>(p + 1, <u8>r.code);
  store<u16>(p + 2, 0);
  st16(p + 4, r.ident);
  st16(p + 6, r.seq);
  store<u16>(p + 2, csumFinish(csumAdd(pseudoFinish(addrs, PROTO_ICMPV6, len), p, len)));
}

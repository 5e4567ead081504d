// IPv4 header (RFC 791 §3.1). Checked view + parse/emit.
import { ld16, ld32, st16, st32 } from "./bytes";
import { csumAdd, csumFinish, csumFold } from "./checksum";

export const IP_HLEN: u32 = 20;
export const PROTO_ICMP: u32 = 1;
export const PROTO_TCP: u32 = 6;
export const PROTO_UDP: u32 = 17;
const FLAG_MF: u32 = 0x2000;
const FLAG_DF: u32 = 0x4000;

// Why a header was refused; 0 when it checks out.
export const IPV4_OK: i32 = 0;
export const IPV4_TRUNCATED: i32 = 1;
export const IPV4_BAD_VERSION: i32 = 2;
export const IPV4_BAD_IHL: i32 = 3;
export const IPV4_BAD_LENGTH: i32 = 4;
export const IPV4_BAD_CHECKSUM: i32 = 5;

/**
 * An IPv4 header as a record (smoltcp's Repr): ipv4Parse fills it, ipv4Emit writes it. Whoever
 * parses or emits owns one and passes it; nothing of a packet is kept in this module.
 */
@unmanaged export class Ipv4Repr {
  hlen: u32;       // header length in bytes (options included when parsed; emit writes 20)
  total: u32;      // total length
  id: u32;
  fragOff: u32;    // in bytes, a multiple of 8
  ttl: u32;
  proto: u32;
  src: u32;
  dst: u32;
  tos: u32;
  df: bool;
  mf: bool;
}

export function ipv4Parse(p: usize, len: u32, r: Ipv4Repr): i32 {
  if (len < IP_HLEN) return IPV4_TRUNCATED;
  const vihl = <u32>load<u8>(p);
  if (vihl >> 4 != 4) return IPV4_BAD_VERSION;
  const hlen = (vihl & 15) << 2;
  if (hlen < IP_HLEN || hlen > len) return IPV4_BAD_IHL;
  const total = ld16(p + 2);
  // The frame may carry Ethernet padding after the datagram, never less than the datagram.
  if (total < hlen || total > len) return IPV4_BAD_LENGTH;
  if (csumFold(csumAdd(0, p, hlen)) != 0xffff) return IPV4_BAD_CHECKSUM;
  r.hlen = hlen;
  r.total = total;
  r.tos = <u32>load<u8>(p + 1);
  r.id = ld16(p + 4);
  const frag = ld16(p + 6);
  r.df = (frag & FLAG_DF) != 0;
  r.mf = (frag & FLAG_MF) != 0;
  r.fragOff = (frag & 0x1fff) << 3;
  r.ttl = <u32>load<u8>(p + 8);
  r.proto = <u32>load<u8>(p + 9);
  r.src = ld32(p + 12);
  r.dst = ld32(p + 16);
  return IPV4_OK;
}

/** Writes a 20-byte header (no options) from `r` with its checksum. */
export function ipv4Emit(p: usize, r: Ipv4Repr): void {
  store<u8>(p, 0x45);
  store<u8>(p + 1, <u8>r.tos);
  st16(p + 2, r.total);
  st16(p + 4, r.id);
  st16(p + 6, (r.df ? FLAG_DF : 0) | (r.mf ? FLAG_MF : 0) | (r.fragOff >> 3));
  store<u8>(p + 8, <u8>r.ttl);
  store<u8>(p + 9, <u8>r.proto);
  store<u16>(p + 10, 0);
  st32(p + 12, r.src);
  st32(p + 16, r.dst);
  store<u16>(p + 10, csumFinish(csumAdd(0, p, IP_HLEN)));
}

/** Limited broadcast, multicast (224/4) or the reserved class E: never a valid source. */
@inline export function ipIsMartianSource(a: u32): bool {
  return a >= 0xe0000000;
}

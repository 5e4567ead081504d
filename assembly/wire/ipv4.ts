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

// Parsed representation, valid after ipv4Parse returned IPV4_OK.
export let ipHlen: u32 = 0;
export let ipTotal: u32 = 0;
export let ipId: u32 = 0;
export let ipDf: bool = false;
export let ipMf: bool = false;
export let ipFragOff: u32 = 0;     // in bytes
export let ipTtl: u32 = 0;
export let ipProto: u32 = 0;
export let ipSrc: u32 = 0;
export let ipDst: u32 = 0;
export let ipTos: u32 = 0;

export function ipv4Parse(p: usize, len: u32): i32 {
  if (len < IP_HLEN) return IPV4_TRUNCATED;
  const vihl = <u32>load<u8>(p);
  if (vihl >> 4 != 4) return IPV4_BAD_VERSION;
  ipHlen = (vihl & 15) << 2;
  if (ipHlen < IP_HLEN || ipHlen > len) return IPV4_BAD_IHL;
  ipTotal = ld16(p + 2);
  // The frame may carry Ethernet padding after the datagram, never less than the datagram.
  if (ipTotal < ipHlen || ipTotal > len) return IPV4_BAD_LENGTH;
  if (csumFold(csumAdd(0, p, ipHlen)) != 0xffff) return IPV4_BAD_CHECKSUM;
  ipTos = <u32>load<u8>(p + 1);
  ipId = ld16(p + 4);
  const frag = ld16(p + 6);
  ipDf = (frag & FLAG_DF) != 0;
  ipMf = (frag & FLAG_MF) != 0;
  ipFragOff = (frag & 0x1fff) << 3;
  ipTtl = <u32>load<u8>(p + 8);
  ipProto = <u32>load<u8>(p + 9);
  ipSrc = ld32(p + 12);
  ipDst = ld32(p + 16);
  return IPV4_OK;
}

/** Writes a 20-byte header (no options) with its checksum. `fragOff` is in bytes, a multiple of 8. */
export function ipv4Emit(p: usize, total: u32, id: u32, df: bool, mf: bool, fragOff: u32,
                         ttl: u32, proto: u32, src: u32, dst: u32, tos: u32): void {
  store<u8>(p, 0x45);
  store<u8>(p + 1, <u8>tos);
  st16(p + 2, total);
  st16(p + 4, id);
  st16(p + 6, (df ? FLAG_DF : 0) | (mf ? FLAG_MF : 0) | (fragOff >> 3));
  store<u8>(p + 8, <u8>ttl);
  store<u8>(p + 9, <u8>proto);
  store<u16>(p + 10, 0);
  st32(p + 12, src);
  st32(p + 16, dst);
  store<u16>(p + 10, csumFinish(csumAdd(0, p, IP_HLEN)));
}

/** Limited broadcast, multicast (224/4) or the reserved class E: never a valid source. */
@inline export function ipIsMartianSource(a: u32): bool {
  return a >= 0xe0000000;
}

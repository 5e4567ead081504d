// IPv6 fixed header (RFC 8200 §3). Checked view + parse/emit. Addresses are held as two
// big-endian halves (hi: the first eight bytes as a number), so comparing, hashing and printing
// them needs no byte order thought; the pseudo-header sum (RFC 8200 §8.1) is taken from them.
import { ld16, st16, ld64, st64 } from "./bytes";

export const IP6_HLEN: u32 = 40;

// Why a header was refused; 0 when it checks out.
export const IPV6_OK: i32 = 0;
export const IPV6_TRUNCATED: i32 = 1;
export const IPV6_BAD_VERSION: i32 = 2;
export const IPV6_BAD_LENGTH: i32 = 3;   // payload length past the frame (or 0: a jumbogram, RFC 2675, refused)

/** An IPv6 header as a record: ipv6Parse fills it, ipv6Emit writes it. */
@unmanaged export class Ipv6Repr {
  srcHi: u64;
  srcLo: u64;
  dstHi: u64;
  dstLo: u64;
  payloadLen: u32;   // bytes after the fixed header, extension headers included
  nextHeader: u32;   // of the fixed header: an extension header or the upper layer
  hopLimit: u32;
  trafficClass: u32;
  flowLabel: u32;
}

export function ipv6Parse(p: usize, len: u32, r: Ipv6Repr): i32 {
  if (len < IP6_HLEN) return IPV6_TRUNCATED;
  const w = bswap<u32>(load<u32>(p));
  if (w >> 28 != 6) return IPV6_BAD_VERSION;
  const plen = ld16(p + 4);
  // The frame may carry Ethernet padding after the packet, never less than the packet.
  if (plen == 0 || IP6_HLEN + plen > len) return IPV6_BAD_LENGTH;
  r.trafficClass = (w >> 20) & 0xff;
  r.flowLabel = w & 0xfffff;
  r.payloadLen = plen;
  r.nextHeader = <u32>load<u8>(p + 6);
  r.hopLimit = <u32>load<u8>(p + 7);
  r.srcHi = ld64(p + 8);
  r.srcLo = ld64(p + 16);
  r.dstHi = ld64(p + 24);
  r.dstLo = ld64(p + 32);
  return IPV6_OK;
}

/** Writes the 40-byte fixed header from `r`. */
export function ipv6Emit(p: usize, r: Ipv6Repr): void {
  store<u32>(p, bswap<u32>((6 << 28) | ((r.trafficClass & 0xff) << 20) | (r.flowLabel & 0xfffff)));
  st16(p + 4, r.payloadLen);
  store<u8>(p + 6, <u8>r.nextHeader);
  store<u8>(p + 7, <u8>r.hopLimit);
  st64(p + 8, r.srcHi);
  st64(p + 16, r.srcLo);
  st64(p + 24, r.dstHi);
  st64(p + 32, r.dstLo);
}

/** The addresses' part of the upper-layer pseudo-header sum (RFC 8200 §8.1), in the
 *  little-endian word domain of checksum.ts; pseudoFinish adds the length and next header. */
export function pseudoAddr6(r: Ipv6Repr): u64 {
  return pseudoAddrs6(r.srcHi, r.srcLo, r.dstHi, r.dstLo);
}

/** The same sum from the four address halves, for a transport building its own header. */
export function pseudoAddrs6(srcHi: u64, srcLo: u64, dstHi: u64, dstLo: u64): u64 {
  return pseudoAddr6Of(srcHi, srcLo) + pseudoAddr6Of(dstHi, dstLo);
}

/** One address's share of that sum (the sum of the two is the pair's). */
@inline export function pseudoAddr6Of(hi: u64, lo: u64): u64 { return half(hi) + half(lo); }

/** An IPv4 address as the IPv4-mapped IPv6 address's low half (RFC 4291 §2.5.5.2; high half 0):
 *  one 128-bit key for tables that hold addresses of both versions. */
@inline export function mapped4(a: u32): u64 { return 0xffff00000000 | <u64>a; }

/** Is hi:lo an IPv4-mapped address? Never a real IPv6 peer on the wire (RFC 4291 §2.5.5.2). */
@inline export function isMapped4(hi: u64, lo: u64): bool { return hi == 0 && (lo >> 32) == 0xffff; }

/** Eight address bytes as csumAdd would sum them from memory. */
@inline function half(v: u64): u64 {
  const le = bswap<u64>(v);
  return (le & 0xffffffff) + (le >> 32);
}

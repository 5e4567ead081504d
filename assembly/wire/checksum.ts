// The Internet checksum (RFC 1071). The one's-complement sum is byte-order independent
// (RFC 1071 §2(B)), so we sum little-endian words and store the folded result little-endian:
// the bytes land in network order. Any grouping of the words sums the same once folded (2^16 is
// 1 modulo 2^16 - 1, RFC 1071 §2(C)): 16 bytes at a time as eight u16 lanes added pairwise into
// four u32 lanes (SIMD), the rest eight bytes at a time as two u32 halves.

/** 32-byte steps before a u32 lane could overflow: each adds at most 2 * 65535 to a lane. */
const STEPS_PER_FOLD: u32 = 16384;

/** Adds `len` bytes at `p` to a running sum (the region must start at an even offset of the message). */
export function csumAdd(sum: u64, p: usize, len: u32): u64 {
  let i: u32 = 0;
  // Bulk data (TCP segments, large datagrams) is most of the bytes summed: with a 64-bit scalar
  // loop the checksum cost more than every copy of the same bytes (perf, bench tcp's bulk).
  while (i + 32 <= len) {
    let a = i32x4.splat(0), b = i32x4.splat(0);
    const end = i + min(len - i, STEPS_PER_FOLD * 32) - 31;
    while (i < end) {
      a = i32x4.add(a, i32x4.extadd_pairwise_i16x8_u(v128.load(p + i)));
      b = i32x4.add(b, i32x4.extadd_pairwise_i16x8_u(v128.load(p + i, 16)));
      i += 32;
    }
    const w = i64x2.add(i64x2.add(i64x2.extend_low_i32x4_u(a), i64x2.extend_high_i32x4_u(a)),
                        i64x2.add(i64x2.extend_low_i32x4_u(b), i64x2.extend_high_i32x4_u(b)));
    sum += <u64>i64x2.extract_lane(w, 0) + <u64>i64x2.extract_lane(w, 1);
  }
  while (i + 8 <= len) {
    const v = load<u64>(p + i);
    sum += (v & 0xffffffff) + (v >> 32);
    i += 8;
  }
  if (i + 4 <= len) { sum += <u64>load<u32>(p + i); i += 4; }
  if (i + 2 <= len) { sum += <u64>load<u16>(p + i); i += 2; }
  if (i < len) sum += <u64>load<u8>(p + i); // RFC 1071: pad the odd byte with zero
  return sum;
}

/** Folds a running sum to 16 bits (still in little-endian word order). */
@inline export function csumFold(sum: u64): u32 {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return <u32>sum;
}

/** The value to store little-endian into a checksum field. */
@inline export function csumFinish(sum: u64): u16 {
  return <u16>~csumFold(sum);
}

// The upper-layer pseudo-header (RFC 768, RFC 9293 §3.1 for IPv4; RFC 8200 §8.1 for IPv6) comes
// in two parts: the network layer sums its addresses (pseudoAddr4 here, pseudoAddr6 in ipv6.ts)
// and the transport adds its length and protocol. A transport takes the address sum and never
// knows which IP version carried it.

/** The IPv4 addresses of the pseudo-header, as csumAdd would sum them from memory. */
@inline export function pseudoAddr4(src: u32, dst: u32): u64 {
  return <u64>bswap<u32>(src) + <u64>bswap<u32>(dst);
}

/** Adds the upper-layer length and protocol to an address sum. As 16-bit words IPv4's
 *  (zero, protocol, u16 length) and IPv6's (u32 length, zero, next header) sum the same. */
@inline export function pseudoFinish(addrs: u64, proto: u32, len: u32): u64 {
  return addrs + <u64>bswap<u32>(len) + <u64>bswap<u32>(proto);
}

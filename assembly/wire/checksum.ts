// The Internet checksum (RFC 1071). The one's-complement sum is byte-order independent
// (RFC 1071 §2(B)), so we sum little-endian words eight bytes at a time and store the folded
// result little-endian: the bytes land in network order.

/** Adds `len` bytes at `p` to a running sum (the region must start at an even offset of the message). */
export function csumAdd(sum: u64, p: usize, len: u32): u64 {
  let i: u32 = 0;
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

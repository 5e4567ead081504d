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

/** The TCP/UDP pseudo-header sum (RFC 768, RFC 9293 §3.1), as little-endian words. */
export function pseudoSum(src: u32, dst: u32, proto: u32, len: u32): u64 {
  // Sum in network order, then swap into the little-endian domain of csumAdd.
  let n: u32 = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
  n = (n & 0xffff) + (n >> 16);
  n = (n & 0xffff) + (n >> 16);
  return <u64>bswap<u16>(<u16>n);
}

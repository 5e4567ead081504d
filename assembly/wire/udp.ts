// UDP header (RFC 768). Checked view + parse/emit.
import { ld16, st16 } from "./bytes";
import { csumAdd, csumFinish, csumFold, pseudoFinish } from "./checksum";
import { PROTO_UDP } from "./ipv4";

export const UDP_HLEN: u32 = 8;

export const UDP_OK: i32 = 0;
export const UDP_TRUNCATED: i32 = 1;
export const UDP_BAD_LENGTH: i32 = 2;
export const UDP_BAD_CHECKSUM: i32 = 3;

/** A UDP header as a record: udpParse fills it. */
@unmanaged export class UdpRepr {
  srcPort: u32;
  dstPort: u32;
  len: u32;          // header + payload, from the length field
  hasChecksum: bool;
}

/** Parses and verifies a UDP datagram of `len` bytes (the IP payload); `addrs` is the network
 *  layer's address sum for the pseudo-header (pseudoAddr4, pseudoAddr6). */
export function udpParse(p: usize, len: u32, addrs: u64, r: UdpRepr): i32 {
  if (len < UDP_HLEN) return UDP_TRUNCATED;
  r.srcPort = ld16(p);
  r.dstPort = ld16(p + 2);
  const ulen = ld16(p + 4);
  r.len = ulen;
  if (ulen < UDP_HLEN || ulen > len) return UDP_BAD_LENGTH;
  // RFC 768: an all-zero checksum field means the sender computed none.
  r.hasChecksum = load<u16>(p + 6) != 0;
  if (r.hasChecksum) {
    if (csumFold(csumAdd(pseudoFinish(addrs, PROTO_UDP, ulen), p, ulen)) != 0xffff) return UDP_BAD_CHECKSUM;
  }
  return UDP_OK;
}

/** Writes the header and checksum for `payloadLen` bytes that already follow it. */
export function udpEmit(p: usize, sport: u32, dport: u32, payloadLen: u32, addrs: u64): void {
  const len = UDP_HLEN + payloadLen;
  st16(p, sport);
  st16(p + 2, dport);
  st16(p + 4, len);
  store<u16>(p + 6, 0);
  let c = csumFinish(csumAdd(pseudoFinish(addrs, PROTO_UDP, len), p, len));
  if (c == 0) c = 0xffff; // RFC 768: a computed zero is sent as all ones
  store<u16>(p + 6, c);
}

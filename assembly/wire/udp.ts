// UDP header (RFC 768). Checked view + parse/emit.
import { ld16, st16 } from "./bytes";
import { csumAdd, csumFinish, csumFold, pseudoSum } from "./checksum";
import { PROTO_UDP } from "./ipv4";

export const UDP_HLEN: u32 = 8;

export const UDP_OK: i32 = 0;
export const UDP_TRUNCATED: i32 = 1;
export const UDP_BAD_LENGTH: i32 = 2;
export const UDP_BAD_CHECKSUM: i32 = 3;

export let udpSrcPort: u32 = 0;
export let udpDstPort: u32 = 0;
export let udpLen: u32 = 0;       // header + payload, from the length field
export let udpHasChecksum: bool = false;

/** Parses and verifies a UDP datagram of `len` bytes (the IP payload) from src to dst. */
export function udpParse(p: usize, len: u32, src: u32, dst: u32): i32 {
  if (len < UDP_HLEN) return UDP_TRUNCATED;
  udpSrcPort = ld16(p);
  udpDstPort = ld16(p + 2);
  udpLen = ld16(p + 4);
  if (udpLen < UDP_HLEN || udpLen > len) return UDP_BAD_LENGTH;
  // RFC 768: an all-zero checksum field means the sender computed none.
  udpHasChecksum = load<u16>(p + 6) != 0;
  if (udpHasChecksum) {
    if (csumFold(csumAdd(pseudoSum(src, dst, PROTO_UDP, udpLen), p, udpLen)) != 0xffff) return UDP_BAD_CHECKSUM;
  }
  return UDP_OK;
}

/** Writes the header and checksum for `payloadLen` bytes that already follow it. */
export function udpEmit(p: usize, sport: u32, dport: u32, payloadLen: u32, src: u32, dst: u32): void {
  const len = UDP_HLEN + payloadLen;
  st16(p, sport);
  st16(p + 2, dport);
  st16(p + 4, len);
  store<u16>(p + 6, 0);
  let c = csumFinish(csumAdd(pseudoSum(src, dst, PROTO_UDP, len), p, len));
  if (c == 0) c = 0xffff; // RFC 768: a computed zero is sent as all ones
  store<u16>(p + 6, c);
}

// TCP header and options (RFC 9293 §3.1; MSS §3.7.1; window scale and timestamps RFC 7323;
// SACK RFC 2018). Checked view + parse/emit, the first layer of the TCP issue. The emitter writes
// options in Linux's order and padding (tcp_options_write), so segments round-trip byte for byte
// against the Linux capture in tests/fixtures.
import { ld16, ld32, st16, st32 } from "./bytes";
import { csumAdd, csumFinish, csumFold, pseudoFinish } from "./checksum";
import { PROTO_TCP } from "./ipv4";

export const TCP_HLEN: u32 = 20;
export const FIN: u32 = 0x01;
export const SYN: u32 = 0x02;
export const RST: u32 = 0x04;
export const PSH: u32 = 0x08;
export const ACK: u32 = 0x10;
export const URG: u32 = 0x20;
export const ECE: u32 = 0x40;
export const CWR: u32 = 0x80;

const OPT_EOL: u32 = 0;
const OPT_NOP: u32 = 1;
const OPT_MSS: u32 = 2;
const OPT_WS: u32 = 3;
const OPT_SACK_PERM: u32 = 4;
const OPT_SACK: u32 = 5;
const OPT_TS: u32 = 8;

export const TCP_OK: i32 = 0;
export const TCP_TRUNCATED: i32 = 1;
export const TCP_BAD_OFFSET: i32 = 2;      // data offset below 5 words or past the segment
export const TCP_BAD_CHECKSUM: i32 = 3;
export const TCP_BAD_OPTION: i32 = 4;      // an option whose length is wrong or runs past the header

export const MAX_SACK_BLOCKS: u32 = 4;   // 4 x 8 bytes + 2 fill the 40 bytes of options

/**
 * A TCP header with its options as a record (smoltcp's Repr): tcpParse fills one, the emitters
 * write one. The input path and the output path each own theirs, so the SACK blocks a segment
 * brought and the ones we send never share storage.
 */
@unmanaged export class TcpRepr {
  srcPort: u32;
  dstPort: u32;
  seq: u32;
  ack: u32;
  hlen: u32;         // header length with options, as parsed
  flags: u32;
  window: u32;       // as on the wire (unscaled)
  urgent: u32;
  mss: u32;          // 0: absent
  wscale: i32;       // -1: absent; RFC 7323 §2.3 caps the shift at 14
  sackPerm: bool;
  hasTs: bool;
  tsVal: u32;
  tsEcr: u32;
  sackCount: u32;    // blocks in use, at most MAX_SACK_BLOCKS
  // The blocks, (left, right) pairs of sequence numbers: read them with sackLeft/sackRight.
  sack0: u64;
  sack1: u64;
  sack2: u64;
  sack3: u64;
}

@inline function sackAt(r: TcpRepr, i: u32): usize { return changetype<usize>(r) + offsetof<TcpRepr>("sack0") + (<usize>i << 3); }
@inline export function sackLeft(r: TcpRepr, i: u32): u32 { return load<u32>(sackAt(r, i)); }
@inline export function sackRight(r: TcpRepr, i: u32): u32 { return load<u32>(sackAt(r, i), 4); }
@inline export function setSack(r: TcpRepr, i: u32, left: u32, right: u32): void {
  store<u32>(sackAt(r, i), left);
  store<u32>(sackAt(r, i), right, 4);
}

function parseOptions(p: usize, end: usize, r: TcpRepr): bool {
  r.mss = 0; r.wscale = -1; r.sackPerm = false; r.hasTs = false; r.sackCount = 0;
  while (p < end) {
    const kind = <u32>load<u8>(p);
    if (kind == OPT_EOL) break;
    if (kind == OPT_NOP) { p++; continue; }
    if (p + 1 >= end) return false;
    const len = <u32>load<u8>(p + 1);
    if (len < 2 || p + len > end) return false;
    if (kind == OPT_MSS) { if (len != 4) return false; r.mss = ld16(p + 2); }
    else if (kind == OPT_WS) { if (len != 3) return false; r.wscale = min<i32>(<i32>load<u8>(p + 2), 14); }
    else if (kind == OPT_SACK_PERM) { if (len != 2) return false; r.sackPerm = true; }
    else if (kind == OPT_TS) { if (len != 10) return false; r.hasTs = true; r.tsVal = ld32(p + 2); r.tsEcr = ld32(p + 6); }
    else if (kind == OPT_SACK) {
      if ((len - 2) % 8 != 0 || len > 2 + 8 * MAX_SACK_BLOCKS) return false;
      const n = (len - 2) / 8;
      r.sackCount = n;
      for (let i: u32 = 0; i < n; i++) setSack(r, i, ld32(p + 2 + (i << 3)), ld32(p + 6 + (i << 3)));
    }
    // Unknown options with a sane length are skipped (RFC 9293 §3.1: "must be prepared to handle").
    p += len;
  }
  return true;
}

/** Parses and verifies a TCP segment of `len` bytes (the IP payload) from src to dst into `r`. */
export function tcpParse(p: usize, len: u32, addrs: u64, r: TcpRepr): i32 {
  if (len < TCP_HLEN) return TCP_TRUNCATED;
  const hlen = (<u32>load<u8>(p + 12) >> 4) << 2;
  if (hlen < TCP_HLEN || hlen > len) return TCP_BAD_OFFSET;
  if (csumFold(csumAdd(pseudoFinish(addrs, PROTO_TCP, len), p, len)) != 0xffff) return TCP_BAD_CHECKSUM;
  r.hlen = hlen;
  r.srcPort = ld16(p);
  r.dstPort = ld16(p + 2);
  r.seq = ld32(p + 4);
  r.ack = ld32(p + 8);
  r.flags = <u32>load<u8>(p + 13);
  r.window = ld16(p + 14);
  r.urgent = ld16(p + 18);
  return parseOptions(p + TCP_HLEN, p + hlen, r) ? TCP_OK : TCP_BAD_OPTION;
}

/** Writes `r`'s options in Linux's order. Returns the bytes written. */
export function tcpEmitOptions(p: usize, r: TcpRepr): u32 {
  const start = p;
  if (r.mss != 0) { store<u8>(p, OPT_MSS); store<u8>(p + 1, 4); st16(p + 2, r.mss); p += 4; }
  if (r.hasTs) {
    if (r.sackPerm) { store<u8>(p, OPT_SACK_PERM); store<u8>(p + 1, 2); }
    else { store<u8>(p, OPT_NOP); store<u8>(p + 1, OPT_NOP); }
    store<u8>(p + 2, OPT_TS); store<u8>(p + 3, 10); st32(p + 4, r.tsVal); st32(p + 8, r.tsEcr);
    p += 12;
  } else if (r.sackPerm) {
    store<u8>(p, OPT_NOP); store<u8>(p + 1, OPT_NOP); store<u8>(p + 2, OPT_SACK_PERM); store<u8>(p + 3, 2);
    p += 4;
  }
  if (r.wscale >= 0) { store<u8>(p, OPT_NOP); store<u8>(p + 1, OPT_WS); store<u8>(p + 2, 3); store<u8>(p + 3, <u8>r.wscale); p += 4; }
  const n = r.sackCount;
  if (n > 0) {
    store<u8>(p, OPT_NOP); store<u8>(p + 1, OPT_NOP); store<u8>(p + 2, OPT_SACK); store<u8>(p + 3, <u8>(2 + 8 * n));
    for (let i: u32 = 0; i < n; i++) {
      st32(p + 4 + (i << 3), sackLeft(r, i));
      st32(p + 8 + (i << 3), sackRight(r, i));
    }
    p += 4 + 8 * n;
  }
  return <u32>(p - start);
}

/**
 * Writes `r`'s fixed header at p for a segment whose options (optLen bytes, already written at
 * p + 20) and payloadLen bytes of data follow, then the checksum over all of it.
 */
export function tcpEmitHeader(p: usize, r: TcpRepr, optLen: u32, payloadLen: u32, addrs: u64): void {
  const hlen = TCP_HLEN + optLen;
  st16(p, r.srcPort);
  st16(p + 2, r.dstPort);
  st32(p + 4, r.seq);
  st32(p + 8, r.ack);
  store<u8>(p + 12, <u8>((hlen >> 2) << 4));
  store<u8>(p + 13, <u8>r.flags);
  st16(p + 14, r.window);
  store<u16>(p + 16, 0);
  st16(p + 18, r.urgent);
  const len = hlen + payloadLen;
  store<u16>(p + 16, csumFinish(csumAdd(pseudoFinish(addrs, PROTO_TCP, len), p, len)));
}

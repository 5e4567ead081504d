// TCP header and options (RFC 9293 §3.1; MSS §3.7.1; window scale and timestamps RFC 7323;
// SACK RFC 2018). Checked view + parse/emit, the first layer of the TCP issue. The emitter writes
// options in Linux's order and padding (tcp_options_write), so segments round-trip byte for byte
// against the Linux capture in tests/fixtures.
import { ld16, ld32, st16, st32 } from "./bytes";
import { csumAdd, csumFinish, csumFold, pseudoSum } from "./checksum";
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

// Parsed representation, valid after tcpParse returned TCP_OK.
export let tcpSrcPort: u32 = 0;
export let tcpDstPort: u32 = 0;
export let tcpSeq: u32 = 0;
export let tcpAck: u32 = 0;
export let tcpHlen: u32 = 0;
export let tcpFlags: u32 = 0;
export let tcpWindow: u32 = 0;
export let tcpUrgent: u32 = 0;
export let tcpMss: u32 = 0;            // 0: absent
export let tcpWscale: i32 = -1;        // -1: absent; RFC 7323 §2.3 caps the shift at 14
export let tcpSackPerm: bool = false;
export let tcpHasTs: bool = false;
export let tcpTsVal: u32 = 0;
export let tcpTsEcr: u32 = 0;
export let tcpSackCount: u32 = 0;      // SACK blocks, at most 4, in tcpSackBlocks
export const tcpSackBlocks: usize = memory.data(32);

function parseOptions(p: usize, end: usize): bool {
  tcpMss = 0; tcpWscale = -1; tcpSackPerm = false; tcpHasTs = false; tcpSackCount = 0;
  while (p < end) {
    const kind = <u32>load<u8>(p);
    if (kind == OPT_EOL) break;
    if (kind == OPT_NOP) { p++; continue; }
    if (p + 1 >= end) return false;
    const len = <u32>load<u8>(p + 1);
    if (len < 2 || p + len > end) return false;
    if (kind == OPT_MSS) { if (len != 4) return false; tcpMss = ld16(p + 2); }
    else if (kind == OPT_WS) { if (len != 3) return false; tcpWscale = min<i32>(<i32>load<u8>(p + 2), 14); }
    else if (kind == OPT_SACK_PERM) { if (len != 2) return false; tcpSackPerm = true; }
    else if (kind == OPT_TS) { if (len != 10) return false; tcpHasTs = true; tcpTsVal = ld32(p + 2); tcpTsEcr = ld32(p + 6); }
    else if (kind == OPT_SACK) {
      if ((len - 2) % 8 != 0 || len > 34) return false;
      tcpSackCount = (len - 2) / 8;
      for (let i: u32 = 0; i < tcpSackCount; i++) {
        store<u32>(tcpSackBlocks + (<usize>i << 3), ld32(p + 2 + (i << 3)));
        store<u32>(tcpSackBlocks + (<usize>i << 3) + 4, ld32(p + 6 + (i << 3)));
      }
    }
    // Unknown options with a sane length are skipped (RFC 9293 §3.1: "must be prepared to handle").
    p += len;
  }
  return true;
}

/** Parses and verifies a TCP segment of `len` bytes (the IP payload) from src to dst. */
export function tcpParse(p: usize, len: u32, src: u32, dst: u32): i32 {
  if (len < TCP_HLEN) return TCP_TRUNCATED;
  tcpHlen = (<u32>load<u8>(p + 12) >> 4) << 2;
  if (tcpHlen < TCP_HLEN || tcpHlen > len) return TCP_BAD_OFFSET;
  if (csumFold(csumAdd(pseudoSum(src, dst, PROTO_TCP, len), p, len)) != 0xffff) return TCP_BAD_CHECKSUM;
  tcpSrcPort = ld16(p);
  tcpDstPort = ld16(p + 2);
  tcpSeq = ld32(p + 4);
  tcpAck = ld32(p + 8);
  tcpFlags = <u32>load<u8>(p + 13);
  tcpWindow = ld16(p + 14);
  tcpUrgent = ld16(p + 18);
  return parseOptions(p + TCP_HLEN, p + tcpHlen) ? TCP_OK : TCP_BAD_OPTION;
}

/** Writes options in Linux's order; SACK blocks come from tcpSackBlocks. Returns the bytes written. */
export function tcpEmitOptions(p: usize, mss: u32, wscale: i32, sackPerm: bool, ts: bool,
                               tsVal: u32, tsEcr: u32, sackCount: u32): u32 {
  const start = p;
  if (mss != 0) { store<u8>(p, OPT_MSS); store<u8>(p + 1, 4); st16(p + 2, mss); p += 4; }
  if (ts) {
    if (sackPerm) { store<u8>(p, OPT_SACK_PERM); store<u8>(p + 1, 2); }
    else { store<u8>(p, OPT_NOP); store<u8>(p + 1, OPT_NOP); }
    store<u8>(p + 2, OPT_TS); store<u8>(p + 3, 10); st32(p + 4, tsVal); st32(p + 8, tsEcr);
    p += 12;
  } else if (sackPerm) {
    store<u8>(p, OPT_NOP); store<u8>(p + 1, OPT_NOP); store<u8>(p + 2, OPT_SACK_PERM); store<u8>(p + 3, 2);
    p += 4;
  }
  if (wscale >= 0) { store<u8>(p, OPT_NOP); store<u8>(p + 1, OPT_WS); store<u8>(p + 2, 3); store<u8>(p + 3, <u8>wscale); p += 4; }
  if (sackCount > 0) {
    store<u8>(p, OPT_NOP); store<u8>(p + 1, OPT_NOP); store<u8>(p + 2, OPT_SACK); store<u8>(p + 3, <u8>(2 + 8 * sackCount));
    for (let i: u32 = 0; i < sackCount; i++) {
      st32(p + 4 + (i << 3), load<u32>(tcpSackBlocks + (<usize>i << 3)));
      st32(p + 8 + (i << 3), load<u32>(tcpSackBlocks + (<usize>i << 3) + 4));
    }
    p += 4 + 8 * sackCount;
  }
  return <u32>(p - start);
}

/**
 * Writes the fixed header at p for a segment whose options (optLen bytes, already written at
 * p + 20) and payloadLen bytes of data follow, then the checksum over all of it.
 */
export function tcpEmitHeader(p: usize, sport: u32, dport: u32, seq: u32, ack: u32, flags: u32, window: u32,
                              urgent: u32, optLen: u32, payloadLen: u32, src: u32, dst: u32): void {
  const hlen = TCP_HLEN + optLen;
  st16(p, sport);
  st16(p + 2, dport);
  st32(p + 4, seq);
  st32(p + 8, ack);
  store<u8>(p + 12, <u8>((hlen >> 2) << 4));
  store<u8>(p + 13, <u8>flags);
  st16(p + 14, window);
  store<u16>(p + 16, 0);
  st16(p + 18, urgent);
  const len = hlen + payloadLen;
  store<u16>(p + 16, csumFinish(csumAdd(pseudoSum(src, dst, PROTO_TCP, len), p, len)));
}

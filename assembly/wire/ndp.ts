// Neighbor Discovery messages (RFC 4861 §4.3, §4.4): the solicitation and the advertisement,
// with their link-layer address options (§4.6.1). Checked view + parse/emit; the validity
// rules of §7.1 that need only the message are checked here, the ones that need the IPv6
// header (hop limit 255, the source and destination) by the caller.
import { ld32, st32, ld64, st64 } from "./bytes";
import { macHiAt, macLoAt, storeMac } from "./eth";
import { csumAdd, csumFinish, pseudoFinish } from "./checksum";
import { PROTO_ICMPV6 } from "./icmpv6";

export const NDP_NS: u32 = 135;
export const NDP_NA: u32 = 136;
export const NDP_HLEN: u32 = 24;            // type, code, checksum, flags/reserved, target
const OPT_SOURCE_LL: u32 = 1;
const OPT_TARGET_LL: u32 = 2;
export const NA_ROUTER: u32 = 0x80000000;
export const NA_SOLICITED: u32 = 0x40000000;
export const NA_OVERRIDE: u32 = 0x20000000;
/** An NS or NA with a link-layer address option: 24 + 8 bytes. */
export const NDP_LEN_WITH_LL: u32 = 32;

/** A solicitation or an advertisement as a record. */
@unmanaged export class NdpRepr {
  type: u32;
  flags: u32;          // NA: R, S, O in the high bits
  targetHi: u64;
  targetLo: u64;
  hasLl: bool;         // a source (NS) or target (NA) link-layer address option was present
  llHi: u32;
  llLo: u32;
}

/**
 * Parses an NS or NA of `len` bytes whose ICMPv6 checksum the caller verified: false when the
 * message breaks §7.1.1/§7.1.2 (code, length, a multicast target, an option of length 0).
 */
export function ndpParse(p: usize, len: u32, r: NdpRepr): bool {
  if (len < NDP_HLEN || load<u8>(p + 1) != 0) return false;
  r.type = <u32>load<u8>(p);
  r.flags = ld32(p + 4);
  r.targetHi = ld64(p + 8);
  r.targetLo = ld64(p + 16);
  if ((r.targetHi >> 56) == 0xff) return false;
  r.hasLl = false;
  const want = r.type == NDP_NS ? OPT_SOURCE_LL : OPT_TARGET_LL;
  let i = NDP_HLEN;
  while (i < len) {
    if (i + 2 > len) return false;
    const size = <u32>load<u8>(p + i + 1) << 3;
    if (size == 0 || i + size > len) return false;
    // An Ethernet address option is 8 bytes; other options (a DAD nonce, …) are skipped (§4.6).
    if (<u32>load<u8>(p + i) == want && size == 8) {
      r.hasLl = true;
      r.llHi = macHiAt(p + i + 2);
      r.llLo = macLoAt(p + i + 2);
    }
    i += size;
  }
  return true;
}

/** Writes an NS or NA from `r` with its link-layer option (32 bytes), or without it (24 bytes: a
 *  DAD probe, RFC 4862 §5.4.2), and its checksum. Returns the length. */
export function ndpEmit(p: usize, r: NdpRepr, addrs: u64, withLl: bool = true): u32 {
  store<u8>(p, <u8>r.type);
  store<u8>(p + 1, 0);
  store<u16>(p + 2, 0);
  st32(p + 4, r.type == NDP_NA ? r.flags : 0);
  st64(p + 8, r.targetHi);
  st64(p + 16, r.targetLo);
  const len = withLl ? NDP_LEN_WITH_LL : NDP_HLEN;
  if (withLl) {
    store<u8>(p + 24, <u8>(r.type == NDP_NS ? OPT_SOURCE_LL : OPT_TARGET_LL));
    store<u8>(p + 25, 1);
    storeMac(p + 26, r.llHi, r.llLo);
  }
  store<u16>(p + 2, csumFinish(csumAdd(pseudoFinish(addrs, PROTO_ICMPV6, len), p, len)));
  return len;
}

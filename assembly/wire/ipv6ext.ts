// IPv6 extension headers (RFC 8200 §4): a bounded walk from the fixed header to the upper-layer
// header. Hop-by-hop and destination options are checked option by option (their type's two
// high bits say what to do with one we do not know, §4.2); routing headers of type 0 are refused
// (RFC 5095), any other with segments left is a parameter problem (§4.4); a fragment header is
// parsed into the record (§4.5). What follows a non-first fragment is data, not headers.
import { ld16, ld32 } from "./bytes";

export const NH_HOP_BY_HOP: u32 = 0;
export const NH_ROUTING: u32 = 43;
export const NH_FRAGMENT: u32 = 44;
export const NH_NONE: u32 = 59;
export const NH_DEST_OPTS: u32 = 60;
/** At most this many extension headers before the upper layer: a longer chain is refused. */
export const MAX_EXT_HEADERS: u32 = 8;

// Why a chain was refused; 0 when it reached an upper-layer header (or a non-first fragment's data).
export const EXT_OK: i32 = 0;
export const EXT_TRUNCATED: i32 = 1;       // a header runs past the packet
export const EXT_TOO_MANY: i32 = 2;        // more than MAX_EXT_HEADERS
export const EXT_BAD_OPTION: i32 = 3;      // an option we do not know whose type says discard
export const EXT_ROUTING_TYPE0: i32 = 4;   // RFC 5095
export const EXT_BAD_ROUTING: i32 = 5;     // an unknown routing type with segments left
export const EXT_MISPLACED_HBH: i32 = 6;   // hop-by-hop anywhere but first (§4.1)
export const EXT_NO_NEXT: i32 = 7;         // next header 59: nothing to deliver
export const EXT_BAD_FRAGMENT: i32 = 8;    // a fragment whose length is not a multiple of 8 though more follow (§4.5)

// ICMPv6 parameter problem codes (RFC 4443 §3.4).
export const PP_HEADER_FIELD: u32 = 0;
export const PP_NEXT_HEADER: u32 = 1;
export const PP_OPTION: u32 = 2;

/** What the walk found. Offsets count from the start of the fixed header. */
@unmanaged export class Ipv6ExtRepr {
  proto: u32;          // the upper-layer protocol, or an unknown next header for the caller to refuse
  offset: u32;         // where its header (or a non-first fragment's data) starts
  protoAt: u32;        // the byte that named `proto`: a parameter problem points there
  fragment: bool;      // a fragment header was walked
  fragAt: u32;         // its offset: the unfragmentable part ends here
  fragOffset: u32;     // bytes, a multiple of 8
  more: bool;
  fragId: u32;
  problem: bool;       // the refusal deserves an ICMPv6 parameter problem
  problemCode: u32;
  problemAt: u32;      // the offending byte
}

/**
 * Walks the headers of a packet of `len` bytes (fixed header included) at `p` whose fixed header
 * names `first`; `multicastDst` tells options of type 11 not to ask for a parameter problem.
 */
export function ipv6Walk(p: usize, len: u32, first: u32, multicastDst: bool, r: Ipv6ExtRepr): i32 {
  let nh = first, at: u32 = 40, protoAt: u32 = 6;
  r.fragment = false;
  r.more = false;
  r.fragOffset = 0;
  r.problem = false;
  for (let n: u32 = 0; nh == NH_HOP_BY_HOP || nh == NH_ROUTING || nh == NH_FRAGMENT || nh == NH_DEST_OPTS; n++) {
    if (n == MAX_EXT_HEADERS) return EXT_TOO_MANY;
    if (nh == NH_HOP_BY_HOP && n != 0) return refuse(r, EXT_MISPLACED_HBH, PP_NEXT_HEADER, protoAt);
    if (at + 8 > len) return EXT_TRUNCATED;
    const h = p + at;
    if (nh == NH_FRAGMENT) {
      const w = ld16(h + 2);
      r.fragment = true;
      r.fragAt = at;
      r.fragOffset = w & 0xfff8;
      r.more = (w & 1) != 0;
      r.fragId = ld32(h + 4);
      protoAt = at;
      nh = <u32>load<u8>(h);
      at += 8;
      if (r.more && ((len - at) & 7) != 0) return refuse(r, EXT_BAD_FRAGMENT, PP_HEADER_FIELD, 4);
      if (r.fragOffset != 0) break;                   // the rest is data of the fragmented part
      continue;
    }
    const size = (<u32>load<u8>(h + 1) + 1) << 3;
    if (at + size > len) return EXT_TRUNCATED;
    if (nh == NH_ROUTING) {
      const type = <u32>load<u8>(h + 2), segmentsLeft = <u32>load<u8>(h + 3);
      if (type == 0) return refuse(r, EXT_ROUTING_TYPE0, PP_HEADER_FIELD, at + 2);
      if (segmentsLeft != 0) return refuse(r, EXT_BAD_ROUTING, PP_HEADER_FIELD, at + 2);
    } else {
      const v = options(h, size, at, multicastDst, r);
      if (v != EXT_OK) return v;
    }
    protoAt = at;
    nh = <u32>load<u8>(h);
    at += size;
  }
  if (nh == NH_NONE) return EXT_NO_NEXT;
  r.proto = nh;
  r.offset = at;
  r.protoAt = protoAt;
  return EXT_OK;
}

/** Checks the options of a hop-by-hop or destination options header of `size` bytes at h. */
function options(h: usize, size: u32, at: u32, multicastDst: bool, r: Ipv6ExtRepr): i32 {
  let i: u32 = 2;
  while (i < size) {
    const type = <u32>load<u8>(h + i);
    if (type == 0) { i++; continue; }                       // Pad1
    if (i + 2 > size) return EXT_TRUNCATED;
    const olen = <u32>load<u8>(h + i + 1);
    if (i + 2 + olen > size) return EXT_TRUNCATED;
    // PadN (1) and Router Alert (5, RFC 2711, carried by MLD) are the options we know.
    if (type != 1 && type != 5) {
      const action = type >> 6;
      if (action == 1) return EXT_BAD_OPTION;
      if (action == 2 || (action == 3 && !multicastDst)) return refuse(r, EXT_BAD_OPTION, PP_OPTION, at + i);
      if (action == 3) return EXT_BAD_OPTION;
    }
    i += 2 + olen;
  }
  return EXT_OK;
}

@inline function refuse(r: Ipv6ExtRepr, why: i32, code: u32, at: u32): i32 {
  r.problem = true;
  r.problemCode = code;
  r.problemAt = at;
  return why;
}

// ICMPv6 (RFC 4443): errors about packets we cannot take (rate-limited, §2.4), and on receive:
// Packet Too Big (§3.2) lowering the path's MTU (pmtu6.ts; TCP is told through iface),
// echo requests answered (§4.2, from the address they were sent to,
// or for a group from our address of the right scope), Neighbor Discovery handed to neighbor6,
// MLD queries answered with our groups (mld.ts), and the messages we take no action on counted:
// router solicitations and advertisements (no default route and no prefix from the wire: the
// stack has no routes, every destination is on its link), other listeners' MLD reports,
// redirects.
import { slotUnref } from "../mem/pool";
import { count, D_ICMP6_TRUNCATED, D_ICMP6_BAD_CHECKSUM, D_ICMP6_PTB_REFUSED, C_ICMP6_ECHO_REPLIED, C_ICMP6_IGNORED,
         C_ICMP6_ERRORS_SENT, C_ICMP6_ERRORS_RATE_LIMITED, C_ICMP6_PATH_MTU_LOWERED } from "../counters";
import { Ipv6Repr, pseudoAddr6, pseudoAddrs6, IP6_HLEN } from "../wire/ipv6";
import { Icmpv6Repr, icmpv6Parse, icmpv6Emit, ICMP6_OK, ICMP6_TRUNCATED, ICMP6_HLEN, ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY,
         ICMP6_PACKET_TOO_BIG, PROTO_ICMPV6 } from "../wire/icmpv6";
import { ld16, ld64 } from "../wire/bytes";
import { pmtu6Learn } from "./pmtu6";
import { mldQuery, MLD_QUERY } from "./mld";
import { NDP_NS, NDP_NA } from "../wire/ndp";
import { addr6Hi, addr6Lo, addr6Index, addr6SourceFor, isMulticast6 } from "./addr6";
import { ndpInput } from "./neighbor6";
import { nowNs } from "./clock";
import { ip6Output } from "./egress6";

const msg = changetype<Icmpv6Repr>(memory.data(offsetof<Icmpv6Repr>()));

/** What a Packet Too Big told about one of our flows, for the transport it belongs to. */
@unmanaged export class PtbNote {
  mtu: u32;        // the path's new MTU
  local: u32;      // our address (addr6's index) the invoking packet came from
  dstHi: u64;      // where it went
  dstLo: u64;
  proto: u32;      // its upper layer, when no extension header hid it (else 0)
  srcPort: u32;    // its ports, for TCP and UDP
  dstPort: u32;
}
export const ptb = changetype<PtbNote>(memory.data(offsetof<PtbNote>()));

/**
 * An ICMPv6 message of `len` bytes at `p` under the IPv6 header `ip`. The slot reference ends
 * here. Returns true when a Packet Too Big lowered a path's MTU: `ptb` says for which flow.
 */
export function icmpv6Input(slot: u32, ip: Ipv6Repr, p: usize, len: u32): bool {
  const r = icmpv6Parse(p, len, pseudoAddr6(ip), msg);
  if (r != ICMP6_OK) { count(r == ICMP6_TRUNCATED ? D_ICMP6_TRUNCATED : D_ICMP6_BAD_CHECKSUM); slotUnref(slot); return false; }
  if (msg.type == NDP_NS || msg.type == NDP_NA) { ndpInput(slot, ip, p, len); return false; }
  if (msg.type == ICMP6_PACKET_TOO_BIG) { const lowered = packetTooBig(p, len); slotUnref(slot); return lowered; }
  if (msg.type == MLD_QUERY) { if (!mldQuery(ip, p, len)) count(C_ICMP6_IGNORED); slotUnref(slot); return false; }
  if (msg.type != ICMP6_ECHO_REQUEST || msg.code != 0) { count(C_ICMP6_IGNORED); slotUnref(slot); return false; }
  // The reply, in place: headers rebuilt right before the message, the data left where it is;
  // from the address the request was sent to, or for a group from ours of the right scope.
  const src = isMulticast6(ip.dstHi) ? addr6SourceFor(ip.srcHi, ip.srcLo) : <u32>addr6Index(ip.dstHi, ip.dstLo);
  msg.type = ICMP6_ECHO_REPLY;
  icmpv6Emit(p, msg, len - ICMP6_HLEN, pseudoAddrs6(addr6Hi(src), addr6Lo(src), ip.srcHi, ip.srcLo));
  if (ip6Output(slot, p, len, src, ip.srcHi, ip.srcLo, PROTO_ICMPV6) >= 0) count(C_ICMP6_ECHO_REPLIED);
  return false;
}

/**
 * Packet Too Big (RFC 4443 §3.2, RFC 8201 §4): the message quotes as much of the dropped packet
 * as fits. Believed only when that packet came from one of our addresses (anyone can send an
 * ICMPv6 error; RFC 8201 §6 asks for that much) and when it lowers the path's MTU to 1280 or
 * more. Fills `ptb`; true when the path's MTU went down.
 */
function packetTooBig(p: usize, len: u32): bool {
  const q = p + ICMP6_HLEN, qlen = len - ICMP6_HLEN;
  const next = (msg.ident << 16) | msg.seq;                  // the MTU field (§3.2)
  const local = qlen >= IP6_HLEN ? addr6Index(ld64(q + 8), ld64(q + 16)) : -1;
  if (local < 0 || msg.code != 0 || pmtu6Learn(ld64(q + 24), ld64(q + 32), next) == 0) { count(D_ICMP6_PTB_REFUSED); return false; }
  count(C_ICMP6_PATH_MTU_LOWERED);
  ptb.mtu = next; ptb.local = <u32>local; ptb.dstHi = ld64(q + 24); ptb.dstLo = ld64(q + 32);
  const ports = qlen >= IP6_HLEN + 4, l4 = q + IP6_HLEN;
  ptb.proto = ports ? <u32>load<u8>(q + 6) : 0;
  ptb.srcPort = ports ? ld16(l4) : 0;
  ptb.dstPort = ports ? ld16(l4 + 2) : 0;
  return true;
}

// ---- errors (RFC 4443 §2.4) ----

/** At most ERROR_BURST errors at once, refilled at ERROR_RATE a second (§2.4(f)). */
const ERROR_BURST: f64 = 10;
const ERROR_RATE: f64 = 100;
/** An error carries as much of the invoking packet as fits in the minimum MTU (§2.4(c)). */
const MIN_MTU: u32 = 1280;
let tokens: f64 = ERROR_BURST;
let refilled: f64 = 0;

/**
 * Answers the packet whose IPv6 header `ip` is at `p` (`len` bytes of it in the frame at
 * `frame`) with an error of `type` and `code` carrying `param`, built in place in front of it
 * (the slot's headroom holds the new headers), or drops it. §2.4(e): no error for an error, for a
 * packet to a group or a link-layer group (unless `evenToGroup`: a parameter problem about an
 * option whose type asks for one), or from an address that is not unicast. The slot reference
 * ends here.
 */
export function icmpv6Error(slot: u32, frame: usize, ip: Ipv6Repr, p: usize, len: u32, type: u32, code: u32, param: u32,
                            evenToGroup: bool): void {
  const toGroup = isMulticast6(ip.dstHi) || (load<u8>(frame) & 1) != 0;
  const badSource = isMulticast6(ip.srcHi) || (ip.srcHi == 0 && ip.srcLo == 0);
  if (badSource || (toGroup && !evenToGroup) || isError(ip, p, len)) { slotUnref(slot); return; }
  if (!takeToken()) { count(C_ICMP6_ERRORS_RATE_LIMITED); slotUnref(slot); return; }
  const body = min(len, MIN_MTU - IP6_HLEN - ICMP6_HLEN);
  // From the address the packet was sent to, or for a group from ours of the right scope.
  const src = toGroup ? addr6SourceFor(ip.srcHi, ip.srcLo) : <u32>addr6Index(ip.dstHi, ip.dstLo);
  const m = p - ICMP6_HLEN;
  msg.type = type; msg.code = code; msg.ident = param >>> 16; msg.seq = param & 0xffff;
  icmpv6Emit(m, msg, body, pseudoAddrs6(addr6Hi(src), addr6Lo(src), ip.srcHi, ip.srcLo));
  if (ip6Output(slot, m, ICMP6_HLEN + body, src, ip.srcHi, ip.srcLo, PROTO_ICMPV6) >= 0) count(C_ICMP6_ERRORS_SENT);
}

/** Is the packet an ICMPv6 error (types below 128, §2.1) right after its fixed header? Then no
 *  error about it (§2.4(e.1)). Behind extension headers it is not looked for: the errors we send
 *  are about chains we could not walk, or about UDP. */
function isError(ip: Ipv6Repr, p: usize, len: u32): bool {
  return ip.nextHeader == PROTO_ICMPV6 && len > IP6_HLEN && load<u8>(p + IP6_HLEN) < 128;
}

function takeToken(): bool {
  tokens = min(ERROR_BURST, tokens + (nowNs - refilled) * 1e-9 * ERROR_RATE);
  refilled = nowNs;
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

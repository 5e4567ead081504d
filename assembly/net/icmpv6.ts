// ICMPv6 (RFC 4443) on receive: echo requests answered (§4.2, from the address they were sent to,
// or for a group from our address of the right scope), Neighbor Discovery handed to neighbor6,
// and the messages we take no action on counted: router solicitations and advertisements (no
// default route from the wire), MLD queries and reports (we join no group beyond our own
// solicited-node ones, which MLD-snooping-free links deliver anyway), redirects.
import { slotUnref } from "../mem/pool";
import { count, D_ICMP6_TRUNCATED, D_ICMP6_BAD_CHECKSUM, C_ICMP6_ECHO_REPLIED, C_ICMP6_IGNORED } from "../counters";
import { Ipv6Repr, ipv6Emit, pseudoAddr6, IP6_HLEN } from "../wire/ipv6";
import { Icmpv6Repr, icmpv6Parse, icmpv6Emit, ICMP6_OK, ICMP6_TRUNCATED, ICMP6_HLEN, ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY,
         PROTO_ICMPV6 } from "../wire/icmpv6";
import { NDP_NS, NDP_NA } from "../wire/ndp";
import { ETH_HLEN } from "../wire/eth";
import { addr6Hi, addr6Lo, addr6SourceFor, isMulticast6 } from "./addr6";
import { ndpInput, neighbor6Send } from "./neighbor6";

const HOP_LIMIT: u32 = 64;
const msg = changetype<Icmpv6Repr>(memory.data(offsetof<Icmpv6Repr>()));
const out = changetype<Ipv6Repr>(memory.data(offsetof<Ipv6Repr>()));

/** An ICMPv6 message of `len` bytes at `p` under the IPv6 header `ip`. The slot reference ends here. */
export function icmpv6Input(slot: u32, ip: Ipv6Repr, p: usize, len: u32): void {
  const r = icmpv6Parse(p, len, pseudoAddr6(ip), msg);
  if (r != ICMP6_OK) { count(r == ICMP6_TRUNCATED ? D_ICMP6_TRUNCATED : D_ICMP6_BAD_CHECKSUM); slotUnref(slot); return; }
  if (msg.type == NDP_NS || msg.type == NDP_NA) { ndpInput(slot, ip, p, len); return; }
  if (msg.type != ICMP6_ECHO_REQUEST || msg.code != 0) { count(C_ICMP6_IGNORED); slotUnref(slot); return; }
  // The reply, in place: headers rebuilt right before the message, the data left where it is.
  if (isMulticast6(ip.dstHi)) {
    const s = addr6SourceFor(ip.srcHi, ip.srcLo);
    out.srcHi = addr6Hi(s); out.srcLo = addr6Lo(s);
  } else {
    out.srcHi = ip.dstHi; out.srcLo = ip.dstLo;
  }
  out.dstHi = ip.srcHi; out.dstLo = ip.srcLo;
  out.trafficClass = 0;
  out.flowLabel = 0;
  out.payloadLen = len;
  out.nextHeader = PROTO_ICMPV6;
  out.hopLimit = HOP_LIMIT;
  ipv6Emit(p - IP6_HLEN, out);
  msg.type = ICMP6_ECHO_REPLY;
  icmpv6Emit(p, msg, len - ICMP6_HLEN, pseudoAddr6(out));
  const frame = p - IP6_HLEN - ETH_HLEN;
  if (neighbor6Send(slot, frame, ETH_HLEN + IP6_HLEN + len, out.dstHi, out.dstLo) >= 0) count(C_ICMP6_ECHO_REPLIED);
}

// IPv6 output (RFC 8200): a packet whose fixed header is written goes to its neighbor (or to
// ourselves, loopback.ts) whole, or,
// past the path's MTU (pmtu6.ts), in fragments (§4.5): the fixed header is the unfragmentable part, each
// fragment carries a multiple of 8 bytes but the last, and one identification chosen at random
// for the packet (RFC 7739). We send no extension headers of our own.
import { slotAlloc, slotData, slotUnref, frameCap } from "../mem/pool";
import { count, D_NO_BUFFER, C_IP6_FRAGMENTS_SENT } from "../counters";
import { Ipv6Repr, ipv6Emit, IP6_HLEN } from "../wire/ipv6";
import { NH_FRAGMENT } from "../wire/ipv6ext";
import { ETH_HLEN, ETHERTYPE_IPV6 } from "../wire/eth";
import { st16, st32 } from "../wire/bytes";
import { ENOBUFS } from "../schema/errno";
import { hostRandom } from "../host";
import { neighbor6Send } from "./neighbor6";
import { pmtu6For } from "./pmtu6";
import { addr6Hi, addr6Lo, addr6Index } from "./addr6";
import { loopSend } from "./loopback";

const FRAG_HLEN: u32 = 8;
const HOP_LIMIT: u32 = 64;     // as Linux's default (RFC 8200 §3 leaves it to the node)
// The header every upper-layer packet we send gets; the fields that never change are set once.
const out = changetype<Ipv6Repr>(memory.data(offsetof<Ipv6Repr>()));

/**
 * Sends `len` upper-layer bytes of protocol `proto` at `p` from our address `src` (an index in
 * addr6's table) to `dstHi:dstLo`: the fixed header goes into the headroom (IP6_HLEN + ETH_HLEN
 * in front of `p`, inside the slot), then egress6Send. The slot reference passes on; returns as
 * egress6Send.
 */
export function ip6Output(slot: u32, p: usize, len: u32, src: u32, dstHi: u64, dstLo: u64, proto: u32): i32 {
  out.srcHi = addr6Hi(src); out.srcLo = addr6Lo(src);
  out.dstHi = dstHi; out.dstLo = dstLo;
  out.trafficClass = 0;
  out.flowLabel = 0;
  out.payloadLen = len;
  out.nextHeader = proto;
  out.hopLimit = HOP_LIMIT;
  ipv6Emit(p - IP6_HLEN, out);
  return egress6Send(slot, p - IP6_HLEN - ETH_HLEN, len + IP6_HLEN + ETH_HLEN, dstHi, dstLo);
}

/**
 * Sends the frame at `frame` (`len` bytes: Ethernet header to be written, the IPv6 header
 * written, its payload) to `dstHi:dstLo`; the slot reference passes on. Returns what
 * neighbor6Send does (0, a ticket, -errno); for fragments the last ticket or the first error.
 */
export function egress6Send(slot: u32, frame: usize, len: u32, dstHi: u64, dstLo: u64): i32 {
  const pmtu = pmtu6For(dstHi, dstLo);
  if (len - ETH_HLEN <= pmtu) return down6(slot, frame, len, dstHi, dstLo);
  const ip = frame + ETH_HLEN, data = ip + IP6_HLEN, total = len - ETH_HLEN - IP6_HLEN;
  const nextHeader = <u32>load<u8>(ip + 6);
  const chunk = (pmtu - IP6_HLEN - FRAG_HLEN) & ~7;
  const id = hostRandom();
  let ret: i32 = 0;
  for (let off: u32 = 0; off < total; off += chunk) {
    const n = min(chunk, total - off);
    const s = slotAlloc(frameCap);
    if (s < 0) { count(D_NO_BUFFER); ret = -ENOBUFS; break; }
    const f = slotData(<u32>s), fip = f + ETH_HLEN;
    memory.copy(fip, ip, IP6_HLEN);
    st16(fip + 4, FRAG_HLEN + n);
    store<u8>(fip + 6, <u8>NH_FRAGMENT);
    const fh = fip + IP6_HLEN;
    store<u8>(fh, <u8>nextHeader);
    store<u8>(fh + 1, 0);
    st16(fh + 2, off | (off + n < total ? 1 : 0));
    st32(fh + 4, id);
    memory.copy(fh + FRAG_HLEN, data + off, n);
    const r = down6(<u32>s, f, ETH_HLEN + IP6_HLEN + FRAG_HLEN + n, dstHi, dstLo);
    count(C_IP6_FRAGMENTS_SENT);
    if (r < 0) { ret = r; break; }
    if (r > 0) ret = r;
  }
  slotUnref(slot);
  return ret;
}

/** One frame to `dstHi:dstLo`: back up through the loopback interface when the address is ours
 *  (::1 or one of the table's), else to neighbor discovery. */
function down6(slot: u32, frame: usize, len: u32, dstHi: u64, dstLo: u64): i32 {
  return addr6Index(dstHi, dstLo) >= 0 ? loopSend(slot, frame, len, ETHERTYPE_IPV6) : neighbor6Send(slot, frame, len, dstHi, dstLo);
}

// The interface: the only place that dispatches upward. A burst of received frames is read from
// the link and each one climbs Ethernet → ARP, IPv4 (→ reassembly) or IPv6 (→ its extension
// headers) → transport here, so every layer below it only ever calls down (link, neighbor,
// egress) and answers by return value.
import { slotData, slotUnref, slotOf } from "../mem/pool";
import { count, D_ETH_TRUNCATED, D_ETH_NOT_FOR_US, D_ETH_UNKNOWN_TYPE, D_IP_TRUNCATED, D_IP_BAD_VERSION,
         D_IP_BAD_IHL, D_IP_BAD_LENGTH, D_IP_BAD_CHECKSUM, D_IP_NOT_FOR_US, D_IP_BAD_SOURCE, D_IP_UNKNOWN_PROTOCOL,
         D_IP6_TRUNCATED, D_IP6_BAD_VERSION, D_IP6_BAD_LENGTH, D_IP6_NOT_FOR_US, D_IP6_BAD_SOURCE, D_IP6_BAD_EXTENSION,
         D_IP6_UNKNOWN_NEXT_HEADER, D_IP6_FRAGMENT_CHAIN } from "../counters";
import { ethCheck, ethType, ethDstIsBroadcast, macHiAt, macLoAt, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "../wire/eth";
import { Ipv6Repr, ipv6Parse, mapped4, isMapped4, IPV6_OK, IPV6_TRUNCATED, IPV6_BAD_VERSION, IP6_HLEN } from "../wire/ipv6";
import { Ipv6ExtRepr, ipv6Walk, EXT_OK, PP_NEXT_HEADER, PP_OPTION } from "../wire/ipv6ext";
import { PROTO_ICMPV6, ICMP6_PARAMETER_PROBLEM, ICMP6_DEST_UNREACHABLE } from "../wire/icmpv6";
import { Ipv4Repr, ipv4Parse, ipIsMartianSource, IPV4_OK, IPV4_TRUNCATED, IPV4_BAD_VERSION, IPV4_BAD_IHL, IPV4_BAD_LENGTH,
         PROTO_ICMP, PROTO_UDP, PROTO_TCP } from "../wire/ipv4";
import { localIp, macHi, macLo } from "../schema/config";
import { linkRxCount, linkRxTake, linkRxLen, linkRxRelease } from "./link";
import { loopPending, loopTake } from "./loopback";
import { isLoopback4 } from "./addr4";
import { arpInput } from "./neighbor";
import { reasmInput, ReasmKey } from "./reassembly";
import { icmpInput } from "./icmp";
import { udpInput, udpInput6 } from "./udp";
import { tcpInput, tcpInput6, tcpPathMtu } from "./tcp/input";
import { addr6Accepts, addr6AcceptsMac, addr6Index, isMulticast6, isLoopback6 } from "./addr6";
import { icmpv6Input, icmpv6Error, ptb } from "./icmpv6";

// The header of the datagram being received, parsed once and read by reassembly and demux.
const ip = changetype<Ipv4Repr>(memory.data(offsetof<Ipv4Repr>()));
const ip6 = changetype<Ipv6Repr>(memory.data(offsetof<Ipv6Repr>()));
const key = changetype<ReasmKey>(memory.data(offsetof<ReasmKey>()));
const ext = changetype<Ipv6ExtRepr>(memory.data(offsetof<Ipv6ExtRepr>()));

/** Drains up to `budget` received frames through the stack. */
export function ifacePollRx(budget: u32): i32 {
  const n = linkRxCount(budget);
  for (let i: u32 = 0; i < n; i++) {
    const s = linkRxTake(i);
    if (s >= 0) ethInput(<u32>s, slotData(<u32>s), linkRxLen(i), false);
  }
  linkRxRelease(n);
  return <i32>n;
}

/** Takes up to `budget` frames we sent to ourselves (loopback.ts) back up the stack. */
export function ifacePollLoop(budget: u32): i32 {
  let n: u32 = 0;
  while (n < budget && loopPending() > 0) {
    const e = loopTake();
    const p = <usize>(<u32>e);
    ethInput(<u32>slotOf(p), p, <u32>(e >> 32), true);
    n++;
  }
  return <i32>n;
}

/** Ethernet demux (the frame's slot reference passes to whichever layer takes it). `lo`: it
 *  came through the loopback interface, not the link. */
function ethInput(slot: u32, p: usize, len: u32, lo: bool): void {
  if (!ethCheck(len)) { count(D_ETH_TRUNCATED); slotUnref(slot); return; }
  if (!lo && !ethDstIsBroadcast(p) && (macHiAt(p) != macHi || macLoAt(p) != macLo) && !addr6AcceptsMac(macHiAt(p), macLoAt(p))) {
    count(D_ETH_NOT_FOR_US); slotUnref(slot); return;
  }
  const type = ethType(p);
  if (type == ETHERTYPE_IPV4) ipInput(slot, p + ETH_HLEN, len - ETH_HLEN, lo);
  else if (type == ETHERTYPE_IPV6) ip6Input(slot, p + ETH_HLEN, len - ETH_HLEN, lo);
  else if (type == ETHERTYPE_ARP) arpInput(slot, p, p + ETH_HLEN, len - ETH_HLEN);
  else { count(D_ETH_UNKNOWN_TYPE); slotUnref(slot); }
}

/** IPv4 input (RFC 791, RFC 1122 §3.2.1): verify, reassemble fragments, demux by protocol. */
function ipInput(slot: u32, p: usize, len: u32, lo: bool): void {
  const r = ipv4Parse(p, len, ip);
  if (r != IPV4_OK) {
    count(r == IPV4_TRUNCATED ? D_IP_TRUNCATED : r == IPV4_BAD_VERSION ? D_IP_BAD_VERSION
        : r == IPV4_BAD_IHL ? D_IP_BAD_IHL : r == IPV4_BAD_LENGTH ? D_IP_BAD_LENGTH : D_IP_BAD_CHECKSUM);
    slotUnref(slot);
    return;
  }
  const src = ip.src, dst = ip.dst, proto = ip.proto;
  // 127.0.0.0/8 is ours only on the loopback interface (egress sends nothing else there).
  if (dst != localIp && dst != 0xffffffff && !(lo && isLoopback4(dst))) { count(D_IP_NOT_FOR_US); slotUnref(slot); return; }
  // RFC 1122 §3.2.1.3: drop datagrams from broadcast, multicast or zero, and from the wire those
  // from our own address or from 127.0.0.0/8, which "must not appear outside a host" (g).
  if (ipIsMartianSource(src) || src == 0 || (!lo && (src == localIp || isLoopback4(src)))) {
    count(D_IP_BAD_SOURCE); slotUnref(slot); return;
  }
  // Options (IHL > 5) are skipped: RFC 1122 §3.2.1.8 lets a host ignore the ones it does not implement.
  const payload = p + ip.hlen;
  const plen = ip.total - ip.hlen;
  if (ip.mf || ip.fragOff != 0) {
    key.srcHi = 0; key.srcLo = mapped4(src); key.dstHi = 0; key.dstLo = mapped4(dst);
    key.id = ip.id; key.proto = proto;
    const whole = reasmInput(slot, key, ip.fragOff, ip.mf, payload, plen);
    // The last missing fragment: the reassembled datagram's slot and length come back up.
    if (whole != 0) {
      const s = <u32>whole;
      transportInput(s, proto, src, dst, slotData(s), <u32>(whole >> 32));
    }
    return;
  }
  transportInput(slot, proto, src, dst, payload, plen);
}

function transportInput(slot: u32, proto: u32, src: u32, dst: u32, p: usize, len: u32): void {
  if (proto == PROTO_UDP) udpInput(slot, src, dst, p, len);
  else if (proto == PROTO_ICMP) icmpInput(slot, src, dst, p, len);
  else if (proto == PROTO_TCP) tcpInput(slot, src, dst, p, len);
  else { count(D_IP_UNKNOWN_PROTOCOL); slotUnref(slot); }
}

/** IPv6 input (RFC 8200): verify, walk the extension headers, reassemble, demux by the upper layer. */
function ip6Input(slot: u32, p: usize, len: u32, lo: bool): void {
  const r = ipv6Parse(p, len, ip6);
  if (r != IPV6_OK) {
    count(r == IPV6_TRUNCATED ? D_IP6_TRUNCATED : r == IPV6_BAD_VERSION ? D_IP6_BAD_VERSION : D_IP6_BAD_LENGTH);
    slotUnref(slot);
    return;
  }
  // ::1 is ours only on the loopback interface (RFC 4291 §2.5.3: never sent outside a node).
  if (!addr6Accepts(ip6.dstHi, ip6.dstLo) || (!lo && isLoopback6(ip6.dstHi, ip6.dstLo))) { count(D_IP6_NOT_FOR_US); slotUnref(slot); return; }
  // RFC 4291 §2.7: a multicast address is never a source; one of ours from the wire is a loop
  // or a forgery (DAD probes come from ::, which is not ours); an IPv4-mapped one (§2.5.5.2)
  // names an IPv4 node, which does not send IPv6 (and would alias an IPv4 peer in TCP's index).
  if (isMulticast6(ip6.srcHi) || (!lo && addr6Index(ip6.srcHi, ip6.srcLo) >= 0) || isMapped4(ip6.srcHi, ip6.srcLo)) {
    count(D_IP6_BAD_SOURCE); slotUnref(slot); return;
  }
  const total = IP6_HLEN + ip6.payloadLen;
  const frame = p - ETH_HLEN;
  if (ipv6Walk(p, total, ip6.nextHeader, isMulticast6(ip6.dstHi), ext) != EXT_OK) {
    count(D_IP6_BAD_EXTENSION);
    // RFC 8200 §4: a refusal that owes a parameter problem (pointing at the offending byte) gets one.
    if (ext.problem) icmpv6Error(slot, frame, ip6, p, total, ICMP6_PARAMETER_PROBLEM, ext.problemCode, ext.problemAt, ext.problemCode == PP_OPTION);
    else slotUnref(slot);
    return;
  }
  if (ext.fragment) { fragment6Input(slot, p, total); return; }
  transport6Input(slot, frame, p, total, ext.proto, p + ext.offset, total - ext.offset, ext.protoAt);
}

/**
 * One fragment (RFC 8200 §4.5): its fragmentable part goes to reassembly; a complete packet goes
 * up. RFC 7112: the first fragment must carry the whole header chain and the upper-layer header;
 * we also take no extension headers after the fragment header (a sender needs none).
 */
function fragment6Input(slot: u32, p: usize, total: u32): void {
  const data = ext.fragAt + 8;
  if (ext.offset != data || (ext.fragOffset == 0 && total - data < upperHeaderBytes(ext.proto))) {
    count(D_IP6_FRAGMENT_CHAIN); slotUnref(slot); return;
  }
  key.srcHi = ip6.srcHi; key.srcLo = ip6.srcLo; key.dstHi = ip6.dstHi; key.dstLo = ip6.dstLo;
  key.id = ext.fragId; key.proto = ext.proto;
  const whole = reasmInput(slot, key, ext.fragOffset, ext.more, p + data, total - data);
  if (whole == 0) return;
  // The reassembled upper layer is not one packet on the wire: no error can quote it (protoAt 0).
  const s = <u32>whole;
  transport6Input(s, 0, 0, 0, ext.proto, slotData(s), <u32>(whole >> 32), 0);
}

/** The least of an upper-layer header a first fragment must hold (RFC 7112 §5). */
function upperHeaderBytes(proto: u32): u32 {
  return proto == PROTO_TCP ? 20 : 8;              // UDP, ICMPv6 and the rest: 8
}

/**
 * The upper layer of an IPv6 packet. `frame`, `p` and `total` are the packet as it arrived, for
 * an error to quote (0 for a reassembled one: then no error is sent); `protoAt` the byte that
 * named `proto`.
 */
function transport6Input(slot: u32, frame: usize, p: usize, total: u32, proto: u32, l4: usize, l4len: u32, protoAt: u32): void {
  if (proto == PROTO_ICMPV6) {
    // A Packet Too Big about one of our TCP segments: the connection sends smaller ones at once.
    if (icmpv6Input(slot, ip6, l4, l4len) && ptb.proto == PROTO_TCP) tcpPathMtu(ptb.local, ptb.srcPort, ptb.dstHi, ptb.dstLo, ptb.dstPort, ptb.mtu);
    return;
  }
  if (proto == PROTO_UDP) {
    if (udpInput6(slot, ip6, l4, l4len)) return;
    // A closed port (RFC 4443 §3.1, code 4: port unreachable).
    if (frame != 0) icmpv6Error(slot, frame, ip6, p, total, ICMP6_DEST_UNREACHABLE, 4, 0, false);
    else slotUnref(slot);
    return;
  }
  if (proto == PROTO_TCP) { tcpInput6(slot, ip6, l4, l4len); return; }
  // RFC 8200 §4: an unrecognized next header is a parameter problem, code 1, at its field.
  count(D_IP6_UNKNOWN_NEXT_HEADER);
  if (frame != 0) icmpv6Error(slot, frame, ip6, p, total, ICMP6_PARAMETER_PROBLEM, PP_NEXT_HEADER, protoAt, false);
  else slotUnref(slot);
}

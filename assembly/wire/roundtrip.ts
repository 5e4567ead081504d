// Parse-then-emit for every header, exported so the tests can check each checked view and its
// emitter against real bytes (smoltcp's Repr round trips): emitting what was parsed must give
// back the original bytes, checksums included.
import { ethType, macHiAt, macLoAt, ethEmit, ETH_HLEN } from "./eth";
import { ArpRepr, arpParse, arpEmit, ARP_LEN } from "./arp";
import { Ipv4Repr, ipv4Parse, ipv4Emit, IPV4_OK, IP_HLEN } from "./ipv4";
import { UdpRepr, udpParse, udpEmit, UDP_OK, UDP_HLEN } from "./udp";
import { IcmpRepr, icmpParse, icmpEchoEmit, ICMP_HLEN } from "./icmp";
import { TcpRepr, tcpParse, tcpEmitOptions, tcpEmitHeader, TCP_OK, TCP_HLEN } from "./tcp";
import { pseudoAddr4 } from "./checksum";
import { Ipv6Repr, ipv6Parse, ipv6Emit, pseudoAddr6, IPV6_OK, IP6_HLEN } from "./ipv6";
import { Ipv6ExtRepr, ipv6Walk, EXT_OK } from "./ipv6ext";
import { Icmpv6Repr, icmpv6Parse, icmpv6Emit, ICMP6_OK, ICMP6_HLEN } from "./icmpv6";

// One record of each kind, parsed into and emitted from.
const arp = changetype<ArpRepr>(memory.data(offsetof<ArpRepr>()));
const ip = changetype<Ipv4Repr>(memory.data(offsetof<Ipv4Repr>()));
const udp = changetype<UdpRepr>(memory.data(offsetof<UdpRepr>()));
const icmp = changetype<IcmpRepr>(memory.data(offsetof<IcmpRepr>()));
const tcp = changetype<TcpRepr>(memory.data(offsetof<TcpRepr>()));
const ip6 = changetype<Ipv6Repr>(memory.data(offsetof<Ipv6Repr>()));
const ext = changetype<Ipv6ExtRepr>(memory.data(offsetof<Ipv6ExtRepr>()));
const icmp6 = changetype<Icmpv6Repr>(memory.data(offsetof<Icmpv6Repr>()));

export const RT_ETH: i32 = 0;
export const RT_ARP: i32 = 1;
export const RT_IPV4: i32 = 2;
export const RT_UDP: i32 = 3;   // p at an IPv4 header carrying UDP
export const RT_ICMP: i32 = 4;  // p at an IPv4 header carrying an ICMP echo
export const RT_TCP: i32 = 5;   // p at an IPv4 header carrying TCP
export const RT_IPV6: i32 = 6;
export const RT_IPV6_WALK: i32 = 7;  // writes the walk's answer as u32s: status, proto, offset,
                                     // fragment, fragOffset, more, fragId, problem, problemCode, problemAt
export const RT_UDP6: i32 = 8;       // p at an IPv6 header whose chain ends in UDP
export const RT_TCP6: i32 = 9;
export const RT_ICMP6: i32 = 10;

/** Returns the number of bytes written at `out`, or -1 when the input does not parse. */
export function wireRoundTrip(kind: i32, p: usize, len: u32, out: usize): i32 {
  if (kind == RT_ETH) {
    if (len < ETH_HLEN) return -1;
    ethEmit(out, macHiAt(p), macLoAt(p), macHiAt(p + 6), macLoAt(p + 6), ethType(p));
    return <i32>ETH_HLEN;
  }
  if (kind == RT_ARP) {
    if (!arpParse(p, len, arp)) return -1;
    arpEmit(out, arp);
    return <i32>ARP_LEN;
  }
  if (kind >= RT_IPV6) return roundTrip6(kind, p, len, out);
  if (ipv4Parse(p, len, ip) != IPV4_OK || ip.hlen != IP_HLEN) return -1;
  if (kind == RT_IPV4) {
    ipv4Emit(out, ip);
    return <i32>IP_HLEN;
  }
  const l4 = p + IP_HLEN;
  const l4len = ip.total - IP_HLEN;
  if (kind == RT_UDP || kind == RT_TCP) return transportRoundTrip(kind == RT_UDP, l4, l4len, pseudoAddr4(ip.src, ip.dst), out);
  if (kind == RT_ICMP) {
    if (!icmpParse(l4, l4len, icmp)) return -1;
    memory.copy(out + ICMP_HLEN, l4 + ICMP_HLEN, l4len - ICMP_HLEN);
    icmpEchoEmit(out, icmp, l4len - ICMP_HLEN);
    return <i32>l4len;
  }
  return -1;
}

function roundTrip6(kind: i32, p: usize, len: u32, out: usize): i32 {
  if (ipv6Parse(p, len, ip6) != IPV6_OK) return -1;
  if (kind == RT_IPV6) {
    ipv6Emit(out, ip6);
    return <i32>IP6_HLEN;
  }
  const total = IP6_HLEN + ip6.payloadLen;
  const v = ipv6Walk(p, total, ip6.nextHeader, (ip6.dstHi >> 56) == 0xff, ext);
  if (kind == RT_IPV6_WALK) {
    store<u32>(out, <u32>v); store<u32>(out, ext.proto, 4); store<u32>(out, ext.offset, 8);
    store<u32>(out, ext.fragment ? 1 : 0, 12); store<u32>(out, ext.fragOffset, 16); store<u32>(out, ext.more ? 1 : 0, 20);
    store<u32>(out, ext.fragId, 24); store<u32>(out, ext.problem ? 1 : 0, 28); store<u32>(out, ext.problemCode, 32);
    store<u32>(out, ext.problemAt, 36);
    return 40;
  }
  // Transports on unfragmented packets: their checksum covers the whole upper-layer message.
  if (v != EXT_OK || ext.fragment) return -1;
  const l4 = p + ext.offset, l4len = total - ext.offset, addrs = pseudoAddr6(ip6);
  if (kind == RT_UDP6 || kind == RT_TCP6) return transportRoundTrip(kind == RT_UDP6, l4, l4len, addrs, out);
  if (kind == RT_ICMP6) {
    if (icmpv6Parse(l4, l4len, addrs, icmp6) != ICMP6_OK) return -1;
    memory.copy(out + ICMP6_HLEN, l4 + ICMP6_HLEN, l4len - ICMP6_HLEN);
    icmpv6Emit(out, icmp6, l4len - ICMP6_HLEN, addrs);
    return <i32>l4len;
  }
  return -1;
}

/** UDP or TCP over either IP version: `addrs` is the version's pseudo-header address sum. */
function transportRoundTrip(isUdp: bool, l4: usize, l4len: u32, addrs: u64, out: usize): i32 {
  if (isUdp) {
    if (udpParse(l4, l4len, addrs, udp) != UDP_OK) return -1;
    memory.copy(out + UDP_HLEN, l4 + UDP_HLEN, udp.len - UDP_HLEN);
    udpEmit(out, udp.srcPort, udp.dstPort, udp.len - UDP_HLEN, addrs);
    return <i32>udp.len;
  }
  if (tcpParse(l4, l4len, addrs, tcp) != TCP_OK) return -1;
  const optLen = tcpEmitOptions(out + TCP_HLEN, tcp);
  const payload = l4len - tcp.hlen;
  memory.copy(out + TCP_HLEN + optLen, l4 + tcp.hlen, payload);
  tcpEmitHeader(out, tcp, optLen, payload, addrs);
  return <i32>(TCP_HLEN + optLen + payload);
}

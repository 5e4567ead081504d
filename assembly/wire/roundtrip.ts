// Parse-then-emit for every header, exported so the tests can check each checked view and its
// emitter against real bytes (smoltcp's Repr round trips): emitting what was parsed must give
// back the original bytes, checksums included.
import { ethType, macHiAt, macLoAt, ethEmit, ETH_HLEN } from "./eth";
import { ArpRepr, arpParse, arpEmit, ARP_LEN } from "./arp";
import { Ipv4Repr, ipv4Parse, ipv4Emit, IPV4_OK, IP_HLEN } from "./ipv4";
import { UdpRepr, udpParse, udpEmit, UDP_OK, UDP_HLEN } from "./udp";
import { IcmpRepr, icmpParse, icmpEchoEmit, ICMP_HLEN } from "./icmp";
import { TcpRepr, tcpParse, tcpEmitOptions, tcpEmitHeader, TCP_OK, TCP_HLEN } from "./tcp";

// One record of each kind, parsed into and emitted from.
const arp = changetype<ArpRepr>(memory.data(offsetof<ArpRepr>()));
const ip = changetype<Ipv4Repr>(memory.data(offsetof<Ipv4Repr>()));
const udp = changetype<UdpRepr>(memory.data(offsetof<UdpRepr>()));
const icmp = changetype<IcmpRepr>(memory.data(offsetof<IcmpRepr>()));
const tcp = changetype<TcpRepr>(memory.data(offsetof<TcpRepr>()));

export const RT_ETH: i32 = 0;
export const RT_ARP: i32 = 1;
export const RT_IPV4: i32 = 2;
export const RT_UDP: i32 = 3;   // p at an IPv4 header carrying UDP
export const RT_ICMP: i32 = 4;  // p at an IPv4 header carrying an ICMP echo
export const RT_TCP: i32 = 5;   // p at an IPv4 header carrying TCP

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
  if (ipv4Parse(p, len, ip) != IPV4_OK || ip.hlen != IP_HLEN) return -1;
  if (kind == RT_IPV4) {
    ipv4Emit(out, ip);
    return <i32>IP_HLEN;
  }
  const l4 = p + IP_HLEN;
  const l4len = ip.total - IP_HLEN;
  if (kind == RT_UDP) {
    if (udpParse(l4, l4len, ip.src, ip.dst, udp) != UDP_OK) return -1;
    memory.copy(out + UDP_HLEN, l4 + UDP_HLEN, udp.len - UDP_HLEN);
    udpEmit(out, udp.srcPort, udp.dstPort, udp.len - UDP_HLEN, ip.src, ip.dst);
    return <i32>udp.len;
  }
  if (kind == RT_TCP) {
    if (tcpParse(l4, l4len, ip.src, ip.dst, tcp) != TCP_OK) return -1;
    const optLen = tcpEmitOptions(out + TCP_HLEN, tcp);
    const payload = l4len - tcp.hlen;
    memory.copy(out + TCP_HLEN + optLen, l4 + tcp.hlen, payload);
    tcpEmitHeader(out, tcp, optLen, payload, ip.src, ip.dst);
    return <i32>(TCP_HLEN + optLen + payload);
  }
  if (kind == RT_ICMP) {
    if (!icmpParse(l4, l4len, icmp)) return -1;
    memory.copy(out + ICMP_HLEN, l4 + ICMP_HLEN, l4len - ICMP_HLEN);
    icmpEchoEmit(out, icmp, l4len - ICMP_HLEN);
    return <i32>l4len;
  }
  return -1;
}

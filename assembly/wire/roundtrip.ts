// Parse-then-emit for every header, exported so the tests can check each checked view and its
// emitter against real bytes (smoltcp's Repr round trips): emitting what was parsed must give
// back the original bytes, checksums included.
import { ethType, macHiAt, macLoAt, ethEmit, ETH_HLEN } from "./eth";
import { arpParse, arpEmit, arpOp, arpShaHi, arpShaLo, arpSpa, arpThaHi, arpThaLo, arpTpa, ARP_LEN } from "./arp";
import { ipv4Parse, ipv4Emit, IPV4_OK, ipHlen, ipTotal, ipId, ipDf, ipMf, ipFragOff, ipTtl, ipProto,
         ipSrc, ipDst, ipTos, IP_HLEN } from "./ipv4";
import { udpParse, udpEmit, UDP_OK, udpSrcPort, udpDstPort, udpLen, UDP_HLEN } from "./udp";
import { icmpParse, icmpEchoEmit, icmpType, icmpIdent, icmpSeq, ICMP_HLEN } from "./icmp";
import { tcpParse, tcpEmitOptions, tcpEmitHeader, TCP_OK, TCP_HLEN, tcpSrcPort, tcpDstPort, tcpSeq, tcpAck, tcpHlen,
         tcpFlags, tcpWindow, tcpUrgent, tcpMss, tcpWscale, tcpSackPerm, tcpHasTs, tcpTsVal, tcpTsEcr, tcpSackCount } from "./tcp";

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
    if (!arpParse(p, len)) return -1;
    arpEmit(out, arpOp, arpShaHi, arpShaLo, arpSpa, arpThaHi, arpThaLo, arpTpa);
    return <i32>ARP_LEN;
  }
  if (ipv4Parse(p, len) != IPV4_OK || ipHlen != IP_HLEN) return -1;
  if (kind == RT_IPV4) {
    ipv4Emit(out, ipTotal, ipId, ipDf, ipMf, ipFragOff, ipTtl, ipProto, ipSrc, ipDst, ipTos);
    return <i32>IP_HLEN;
  }
  const l4 = p + IP_HLEN;
  const l4len = ipTotal - IP_HLEN;
  if (kind == RT_UDP) {
    if (udpParse(l4, l4len, ipSrc, ipDst) != UDP_OK) return -1;
    memory.copy(out + UDP_HLEN, l4 + UDP_HLEN, udpLen - UDP_HLEN);
    udpEmit(out, udpSrcPort, udpDstPort, udpLen - UDP_HLEN, ipSrc, ipDst);
    return <i32>udpLen;
  }
  if (kind == RT_TCP) {
    if (tcpParse(l4, l4len, ipSrc, ipDst) != TCP_OK) return -1;
    const optLen = tcpEmitOptions(out + TCP_HLEN, tcpMss, tcpWscale, tcpSackPerm, tcpHasTs, tcpTsVal, tcpTsEcr, tcpSackCount);
    const payload = l4len - tcpHlen;
    memory.copy(out + TCP_HLEN + optLen, l4 + tcpHlen, payload);
    tcpEmitHeader(out, tcpSrcPort, tcpDstPort, tcpSeq, tcpAck, tcpFlags, tcpWindow, tcpUrgent, optLen, payload, ipSrc, ipDst);
    return <i32>(TCP_HLEN + optLen + payload);
  }
  if (kind == RT_ICMP) {
    if (!icmpParse(l4, l4len)) return -1;
    memory.copy(out + ICMP_HLEN, l4 + ICMP_HLEN, l4len - ICMP_HLEN);
    icmpEchoEmit(out, icmpType, icmpIdent, icmpSeq, l4len - ICMP_HLEN);
    return <i32>l4len;
  }
  return -1;
}

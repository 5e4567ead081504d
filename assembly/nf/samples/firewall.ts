// Stateful firewall for IPv4 and IPv6: packets leaving the stack (dir OUT) open a
// connection-tracking entry for their 5-tuple; packets arriving (dir IN) pass when they answer a
// tracked flow (the reversed tuple, seen within `timeout_ms`) or match the ACL `allow`
// ("icmp,udp/7,tcp/22"; a rule without a port allows the whole protocol; "icmp" covers ICMPv6),
// and are dropped otherwise. Frames of neither version (ARP) pass, and so does Neighbor Discovery
// (ICMPv6 133–137 with hop limit 255, RFC 4861 §6.1): without it IPv6 stops (RFC 4890 §4.4.1).
import { pkt, pktLen, verdict, PASS, DROP, DIR_OUT, burstDir, mapOpen, mapGet, mapPut, ipv4At, l4At, ipSrc,
         ipDst, ipProto, be16, tupleK0, tupleK1, nowNs, configStr, configInt, counterAdd, ABSENT,
         PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6, ipv6At, upper6, upperProto, upperAt, ip6SrcHi, ip6SrcLo,
         ip6DstHi, ip6DstLo, ip6HopLimit, tuple6K0, tuple6K1, tupleKey6 } from "../sdk";
export { nf_area } from "../sdk";

// The ACL compiled at init into one bit per (protocol, port) and a whole-protocol flag, so a
// packet's check is two loads whatever the number of rules.
const PROTOS = 3;                                      // icmp, tcp, udp
const anyPort = new StaticArray<u8>(PROTOS);
const portBits = new StaticArray<u8>(PROTOS * 8192);

function protoIndex(p: u8): i32 { return p == PROTO_ICMP || p == PROTO_ICMPV6 ? 0 : p == PROTO_TCP ? 1 : p == PROTO_UDP ? 2 : -1; }
let conntrack: i32 = -1;
let timeoutMs: u64 = 60000;
let key6: u64 = 0;                                     // IPv6 flows' hash key, kept in the map (sdk.tupleKey6)

export function nf_init(): i32 {
  conntrack = mapOpen("conntrack");
  if (conntrack >= 0) key6 = tupleKey6(<u32>conntrack, 0);
  timeoutMs = <u64>configInt("timeout_ms", 60000);
  const allow = configStr("allow");
  if (allow !== null && allow.length > 0) {
    const items = allow.split(",");
    for (let i = 0; i < items.length; i++) {
      const it = items[i].trim(), slash = it.indexOf("/");
      const name = slash < 0 ? it : it.substring(0, slash);
      const proto = name == "icmp" ? 0 : name == "tcp" ? 1 : name == "udp" ? 2 : -1;
      if (proto < 0) return 3;
      if (slash < 0) { anyPort[proto] = 1; continue; }
      const port = I32.parseInt(it.substring(slash + 1));
      if (port < 0 || port > 65535) return 4;
      portBits[proto * 8192 + (port >> 3)] |= <u8>(1 << <u8>(port & 7));
    }
  }
  return conntrack < 0 ? 1 : 0;
}

@inline function allowed(proto: u8, dport: u32): bool {
  const p = protoIndex(proto);
  if (p < 0) return false;
  return anyPort[p] != 0 || ((<u32>portBits[p * 8192 + <i32>(dport >> 3)] >> (dport & 7)) & 1) != 0;
}

export function nf_process(count: u32): void {
  const out = burstDir() == DIR_OUT;
  const nowMs = <u64>(nowNs() / 1e6);
  key6 = tupleKey6(<u32>conntrack, key6);
  for (let i: u32 = 0; i < count; i++) {
    const p = pkt(i), len = pktLen(i);
    const ip = ipv4At(p, len);
    if (ip != 0) {
      const l4 = l4At(ip, p, len);
      const proto = ipProto(ip);
      const sport = l4 != 0 ? be16(l4) : 0, dport = l4 != 0 ? be16(l4 + 2) : 0;
      // Outbound: this flow's tuple; inbound: the tuple of the flow it would answer.
      const k0 = out ? tupleK0(ipSrc(ip), ipDst(ip)) : tupleK0(ipDst(ip), ipSrc(ip));
      decide(i, out, nowMs, k0, out ? tupleK1(sport, dport, proto) : tupleK1(dport, sport, proto), proto, dport);
      continue;
    }
    const ip6 = ipv6At(p, len);
    if (ip6 == 0) { verdict(i, PASS); continue; }
    const u = upper6(ip6);
    const proto = u != 0 ? upperProto(u) : <u8>0xff, l4 = u != 0 ? upperAt(ip6, u) : 0;
    if (proto == PROTO_ICMPV6 && load<u8>(l4) >= 133 && load<u8>(l4) <= 137 && ip6HopLimit(ip6) == 255) { verdict(i, PASS); continue; }
    const ports = proto == PROTO_TCP || proto == PROTO_UDP;
    const sport = ports ? be16(l4) : 0, dport = ports ? be16(l4 + 2) : 0;
    const k0 = out ? tuple6K0(key6, ip6SrcHi(ip6), ip6SrcLo(ip6), ip6DstHi(ip6), ip6DstLo(ip6))
                   : tuple6K0(key6, ip6DstHi(ip6), ip6DstLo(ip6), ip6SrcHi(ip6), ip6SrcLo(ip6));
    decide(i, out, nowMs, k0, out ? tuple6K1(sport, dport, proto) : tuple6K1(dport, sport, proto), proto, dport);
  }
}

/** Outbound: track the flow (k0, k1). Inbound: pass when (k0, k1) is a flow tracked recently
 *  or the ACL allows (proto, dport); else drop and count. */
@inline function decide(i: u32, out: bool, nowMs: u64, k0: i64, k1: i64, proto: u8, dport: u32): void {
  if (out) {
    mapPut(<u32>conntrack, k0, k1, <i64>nowMs);
    verdict(i, PASS);
    return;
  }
  const seen = mapGet(<u32>conntrack, k0, k1);
  if ((seen != ABSENT && nowMs - <u64>seen <= timeoutMs) || allowed(proto, dport)) {
    verdict(i, PASS);
  } else {
    verdict(i, DROP);
    counterAdd(0, 1);                                       // counter 0: packets refused
  }
}

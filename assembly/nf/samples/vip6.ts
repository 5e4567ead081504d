// A virtual IPv6 address in front of the stack (a one-address NAT66): on the in chain, TCP, UDP
// and ICMPv6 echo packets to `vip` go on to `real` (one of the stack's own addresses); on the out
// chain, what `real` sends them comes back from `vip`. Each rewrite fixes the upper-layer
// checksum, whose pseudo-header covers the addresses (sdk.rewriteAddr6, RFC 1624). Neighbor
// Discovery is left alone: the stack answers for its real address, and `vip` must be routed to
// it (or be a static neighbor entry of the peers). Counter 0: packets rewritten.
import { pkt, pktLen, verdict, PASS, DIR_OUT, burstDir, configStr, counterAdd, ipv6At, upper6, upperProto, upperAt,
         ip6SrcHi, ip6SrcLo, ip6DstHi, ip6DstLo, rewriteAddr6, parseIpv6, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6 } from "../sdk";
export { nf_area } from "../sdk";

let vipHi: u64 = 0, vipLo: u64 = 0, realHi: u64 = 0, realLo: u64 = 0;

export function nf_init(): i32 {
  const v = configStr("vip"), r = configStr("real");
  if (v === null || r === null) return 1;
  const va = parseIpv6(v), ra = parseIpv6(r);
  if (va === null || ra === null) return 2;
  vipHi = va[0]; vipLo = va[1]; realHi = ra[0]; realLo = ra[1];
  return 0;
}

/** TCP, UDP, and ICMPv6 echo request/reply (128, 129): the traffic a service answers. */
@inline function served(proto: u8, l4: usize): bool {
  return proto == PROTO_TCP || proto == PROTO_UDP || (proto == PROTO_ICMPV6 && (load<u8>(l4) == 128 || load<u8>(l4) == 129));
}

export function nf_process(count: u32): void {
  const out = burstDir() == DIR_OUT;
  for (let i: u32 = 0; i < count; i++) {
    verdict(i, PASS);
    const ip = ipv6At(pkt(i), pktLen(i));
    if (ip == 0) continue;
    const u = upper6(ip);
    if (u == 0 || !served(upperProto(u), upperAt(ip, u))) continue;
    if (out ? ip6SrcHi(ip) == realHi && ip6SrcLo(ip) == realLo : ip6DstHi(ip) == vipHi && ip6DstLo(ip) == vipLo) {
      rewriteAddr6(ip, upperAt(ip, u), upperProto(u), !out, out ? vipHi : realHi, out ? vipLo : realLo);
      counterAdd(0, 1);
    }
  }
}

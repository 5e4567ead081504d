// Flow monitor: counts packets and bytes per 5-tuple, IPv4 or IPv6 (frames of neither under one
// key), in an LRU map and passes everything. Value: packets << 32 | bytes (each wraps at 2^32).
import { pkt, pktLen, verdict, PASS, mapOpen, mapGet, mapPut, ipv4At, l4At, ipSrc, ipDst, ipProto, be16,
         tupleK0, tupleK1, counterAdd, ABSENT, PROTO_TCP, PROTO_UDP, ipv6At, upper6, upperProto, upperAt, ip6SrcHi,
         ip6SrcLo, ip6DstHi, ip6DstLo, tuple6K0, tuple6K1, tupleKey6 } from "../sdk";
export { nf_area } from "../sdk";

let flows: i32 = -1;
let key6: u64 = 0;                                     // IPv6 flows' hash key, kept in the map (sdk.tupleKey6)

export function nf_init(): i32 {
  flows = mapOpen("flows");
  if (flows >= 0) key6 = tupleKey6(<u32>flows, 0);
  return flows < 0 ? 1 : 0;
}

export function nf_process(count: u32): void {
  key6 = tupleKey6(<u32>flows, key6);
  for (let i: u32 = 0; i < count; i++) {
    const p = pkt(i), len = pktLen(i);
    const ip = ipv4At(p, len);
    let k0: i64 = 0, k1: i64 = 0;
    if (ip != 0) {
      const l4 = l4At(ip, p, len);
      k0 = tupleK0(ipSrc(ip), ipDst(ip));
      k1 = tupleK1(l4 != 0 ? be16(l4) : 0, l4 != 0 ? be16(l4 + 2) : 0, ipProto(ip));
    } else {
      const ip6 = ipv6At(p, len);
      if (ip6 != 0) {
        const u = upper6(ip6);
        const proto = u != 0 ? upperProto(u) : <u8>0xff, l4 = u != 0 ? upperAt(ip6, u) : 0;
        const ports = proto == PROTO_TCP || proto == PROTO_UDP;
        k0 = tuple6K0(key6, ip6SrcHi(ip6), ip6SrcLo(ip6), ip6DstHi(ip6), ip6DstLo(ip6));
        k1 = tuple6K1(ports ? be16(l4) : 0, ports ? be16(l4 + 2) : 0, proto);
      }
    }
    const v = mapGet(<u32>flows, k0, k1);
    if (v == ABSENT) counterAdd(0, 1);                      // counter 0: flows seen
    const old: u64 = v == ABSENT ? 0 : <u64>v;
    const pkts = ((old >> 32) + 1) & 0xffffffff, bytes = (old + len) & 0xffffffff;
    mapPut(<u32>flows, k0, k1, <i64>((pkts << 32) | bytes));
    verdict(i, PASS);
  }
}

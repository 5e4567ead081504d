// Flow monitor: counts packets and bytes per 5-tuple (non-IP frames under one key) in an LRU map
// and passes everything. Value: packets << 32 | bytes (each wraps at 2^32).
import { pkt, pktLen, verdict, PASS, mapOpen, mapGet, mapPut, ipv4At, l4At, ipSrc, ipDst, ipProto, be16,
         tupleK0, tupleK1, counterAdd, ABSENT } from "../sdk";
export { nf_area } from "../sdk";

let flows: i32 = -1;

export function nf_init(): i32 {
  flows = mapOpen("flows");
  return flows < 0 ? 1 : 0;
}

export function nf_process(count: u32): void {
  for (let i: u32 = 0; i < count; i++) {
    const p = pkt(i), len = pktLen(i);
    const ip = ipv4At(p, len);
    let k0: i64 = 0, k1: i64 = 0;
    if (ip != 0) {
      const l4 = l4At(ip, p, len);
      k0 = tupleK0(ipSrc(ip), ipDst(ip));
      k1 = tupleK1(l4 != 0 ? be16(l4) : 0, l4 != 0 ? be16(l4 + 2) : 0, ipProto(ip));
    }
    const v = mapGet(<u32>flows, k0, k1);
    if (v == ABSENT) counterAdd(0, 1);                      // counter 0: flows seen
    const old: u64 = v == ABSENT ? 0 : <u64>v;
    const pkts = ((old >> 32) + 1) & 0xffffffff, bytes = (old + len) & 0xffffffff;
    mapPut(<u32>flows, k0, k1, <i64>((pkts << 32) | bytes));
    verdict(i, PASS);
  }
}

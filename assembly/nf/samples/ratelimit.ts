// Token-bucket rate limiter per source IPv4 address: `rate` packets per second, bursts of `burst`.
// Buckets live in an LRU map: tokens (in thousandths) << 32 | last refill (ms, wrapping).
// Frames that are not IPv4 pass.
import { pkt, pktLen, verdict, PASS, DROP, mapOpen, mapGet, mapPut, ipv4At, ipSrc, nowNs, configInt,
         counterAdd, ABSENT } from "../sdk";
export { nf_area } from "../sdk";

let buckets: i32 = -1;
let rate: u64 = 1000;          // tokens per second
let burst: u64 = 100;          // bucket size, tokens

export function nf_init(): i32 {
  buckets = mapOpen("buckets");
  rate = <u64>configInt("rate", 1000);
  burst = <u64>configInt("burst", 100);
  return buckets < 0 || rate == 0 || burst == 0 ? 1 : 0;
}

export function nf_process(count: u32): void {
  const nowMs = <u64>(nowNs() / 1e6) & 0xffffffff;
  const full = burst * 1000;
  for (let i: u32 = 0; i < count; i++) {
    const ip = ipv4At(pkt(i), pktLen(i));
    if (ip == 0) { verdict(i, PASS); continue; }
    const src = <i64>ipSrc(ip);
    const v = mapGet(<u32>buckets, src, 0);
    let tokens: u64 = full, last = nowMs;
    if (v != ABSENT) {
      tokens = <u64>v >> 32;
      last = <u64>v & 0xffffffff;
      const elapsed = (nowMs - last) & 0xffffffff;           // ms, across the wrap
      tokens = min(full, tokens + elapsed * rate);            // rate tokens/s = rate thousandths/ms
    }
    if (tokens >= 1000) {
      tokens -= 1000;
      verdict(i, PASS);
    } else {
      verdict(i, DROP);
      counterAdd(0, 1);                                       // counter 0: packets over the rate
    }
    mapPut(<u32>buckets, src, 0, <i64>((tokens << 32) | nowMs));
  }
}

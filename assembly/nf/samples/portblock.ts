// The AssemblyScript twin of the C sample (nf/c/portblock.c; Rust: nf/rust/portblock.rs), the same
// logic byte for byte (a test holds the three to the same verdicts and bytes; built as
// portblock-as.wasm): drops TCP and UDP packets, over IPv4 or IPv6, to the destination ports
// listed in config `block` ("53,6379"), counting each refusal per port in the array map "hits";
// rewrites the destination port of the pairs in `rewrite` ("8080=80"; to port 0 is refused),
// fixing the checksum, counting them in counter 0; passes everything else.
import { pkt, pktLen, verdict, PASS, DROP, mapOpen, mapGet, mapPut, configStr, counterAdd, ABSENT, ipv4At, ipv6At,
         ipHlen, ipProto, be16, upper6, upperProto, upperAt, rewritePortOf, PROTO_TCP, PROTO_UDP } from "../sdk";
export { nf_area } from "../sdk";

const blocked = new StaticArray<u8>(65536 / 8);
const rewriteTo = new StaticArray<u16>(65536);          // the new port; 0: none (0 is no port to send to)
let hits: i32 = -1;

/** Calls f for each number in text (any other character separates); false past 65535. */
function eachPort(text: string, f: (port: u32) => void): bool {
  let port: u32 = 0, digits = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 44;
    if (c >= 48 && c <= 57) { if (port <= 65535) port = port * 10 + <u32>(c - 48); digits = true; continue; }
    if (digits) { if (port > 65535) return false; f(port); }
    port = 0;
    digits = false;
  }
  return true;
}

let pairFrom: i32 = -1, pairBad = false;

export function nf_init(): i32 {
  const block = configStr("block");
  if (block !== null && !eachPort(block, (port: u32): void => { blocked[port >> 3] |= <u8>(1 << <u8>(port & 7)); })) return 3;
  const rewrite = configStr("rewrite");
  if (rewrite !== null) {
    const ok = eachPort(rewrite, (port: u32): void => {
      if (pairFrom < 0) { pairFrom = <i32>port; return; }
      if (port == 0) pairBad = true; else rewriteTo[pairFrom] = <u16>port;
      pairFrom = -1;
    });
    if (!ok || pairFrom >= 0 || pairBad) return 3;
  }
  hits = mapOpen("hits");
  return hits < 0 ? 1 : 0;
}

export function nf_process(count: u32): void {
  for (let i: u32 = 0; i < count; i++) {
    const p = pkt(i), len = pktLen(i);
    verdict(i, PASS);
    let l4: usize = 0, proto: u32 = 0;
    const ip = ipv4At(p, len);
    if (ip != 0) {
      if ((be16(ip + 6) & 0x3fff) == 0) { proto = ipProto(ip); l4 = ip + ipHlen(ip); }
    } else {
      const ip6 = ipv6At(p, len);
      const u = ip6 != 0 ? upper6(ip6) : 0;
      if (u != 0) { proto = upperProto(u); l4 = upperAt(ip6, u); }
    }
    if (l4 == 0 || (proto != PROTO_TCP && proto != PROTO_UDP) || l4 + 4 > p + len) continue;
    const dport = be16(l4 + 2);
    if ((<u32>unchecked(blocked[dport >> 3]) & (1 << (dport & 7))) != 0) {
      verdict(i, DROP);
      const h = mapGet(<u32>hits, dport, 0);
      mapPut(<u32>hits, dport, 0, h == ABSENT ? 1 : h + 1);
      continue;
    }
    const to = <u32>unchecked(rewriteTo[dport]);
    if (to != 0 && l4 + (proto == PROTO_TCP ? 18 : 8) <= p + len) {
      rewritePortOf(l4, proto, true, to);
      counterAdd(0, 1);
    }
  }
}

// SNAT/DNAT with port allocation. Packets leaving the stack (dir OUT) from the inside prefix get
// the public address and a public port from [port_min, port_max] (one per inside address, port
// and protocol, kept in "snat"); packets arriving (dir IN) for the public address and a mapped
// port are rewritten back ("dnat"). IP and TCP/UDP checksums are updated incrementally
// (RFC 1624). With no free public port the packet is dropped and counted.
import { pkt, pktLen, verdict, PASS, DROP, DIR_OUT, burstDir, mapOpen, mapGet, mapPut, ipv4At, l4At, ipSrc,
         ipDst, ipProto, be16, rewriteAddr, rewritePort, configStr, configInt, counterAdd, parseIpv4, ABSENT } from "../sdk";
export { nf_area } from "../sdk";

let snat: i32 = -1, dnat: i32 = -1;
let publicIp: u32 = 0, insideNet: u32 = 0, insideMask: u32 = 0;
let portMin: u32 = 20000, portMax: u32 = 20999, cursor: u32 = 0;

export function nf_init(): i32 {
  snat = mapOpen("snat");
  dnat = mapOpen("dnat");
  const pub = configStr("public_ip"), inside = configStr("inside");
  if (pub === null || inside === null) return 2;
  publicIp = parseIpv4(pub);
  const slash = inside.indexOf("/");
  if (slash < 0) return 3;
  insideNet = parseIpv4(inside.substring(0, slash));
  const bits = I32.parseInt(inside.substring(slash + 1));
  if (publicIp == 0 || bits < 0 || bits > 32) return 4;
  insideMask = bits == 0 ? 0 : <u32>(0xffffffff << (32 - bits));
  portMin = <u32>configInt("port_min", 20000);
  portMax = <u32>configInt("port_max", 20999);
  if (portMin == 0 || portMax < portMin || portMax > 65535) return 5;
  cursor = portMin;
  return snat < 0 || dnat < 0 ? 1 : 0;
}

/** A free public port for this protocol, or 0. */
function allocate(proto: u32): u32 {
  const span = portMax - portMin + 1;
  for (let n: u32 = 0; n < span; n++) {
    const port = cursor;
    cursor = cursor == portMax ? portMin : cursor + 1;
    if (mapGet(<u32>dnat, <i64>port, <i64>proto) == ABSENT) return port;
  }
  return 0;
}

export function nf_process(count: u32): void {
  const out = burstDir() == DIR_OUT;
  for (let i: u32 = 0; i < count; i++) {
    const p = pkt(i), len = pktLen(i);
    const ip = ipv4At(p, len);
    const l4 = ip != 0 ? l4At(ip, p, len) : 0;
    if (l4 == 0) { verdict(i, PASS); continue; }
    const proto = <u32>ipProto(ip);
    if (out) {
      const src = ipSrc(ip);
      if ((src & insideMask) != insideNet) { verdict(i, PASS); continue; }
      const sport = be16(l4);
      const k0 = <i64>src, k1 = <i64>((sport << 8) | proto);
      let pubPort = mapGet(<u32>snat, k0, k1);
      if (pubPort == ABSENT) {
        const port = allocate(proto);
        if (port == 0 || mapPut(<u32>snat, k0, k1, <i64>port) != 0) { verdict(i, DROP); counterAdd(0, 1); continue; }
        mapPut(<u32>dnat, <i64>port, <i64>proto, <i64>((<u64>src << 16) | sport));
        pubPort = port;
      }
      rewriteAddr(ip, l4, false, publicIp);
      rewritePort(ip, l4, false, <u32>pubPort);
      verdict(i, PASS);
    } else {
      if (ipDst(ip) != publicIp) { verdict(i, PASS); continue; }
      const inner = mapGet(<u32>dnat, <i64>be16(l4 + 2), <i64>proto);
      if (inner == ABSENT) { verdict(i, DROP); counterAdd(1, 1); continue; }   // counter 1: unmapped
      rewriteAddr(ip, l4, true, <u32>(<u64>inner >> 16));
      rewritePort(ip, l4, true, <u32>(inner & 0xffff));
      verdict(i, PASS);
    }
  }
}

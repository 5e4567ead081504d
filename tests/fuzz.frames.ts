import { Rng } from "../host/rng.js";
import { eth, ipv4, udp, icmpEcho, arp, udpFrame, pcapFrames, checksum, bytes, A_IP, A_MAC, HOST_IP, HOST_MAC } from "./helpers.js";
export function templates(): Uint8Array[] {
  const t: Uint8Array[] = [];
  const ipf = (o: Parameters<typeof ipv4>[0], p: Uint8Array) => eth(A_MAC, HOST_MAC, 0x0800, ipv4(o, p));
  t.push(udpFrame(7, bytes("fuzz me")));
  t.push(udpFrame(7, new Uint8Array(1400)));
  t.push(ipf({ src: HOST_IP, dst: A_IP, proto: 1 }, icmpEcho(8, 1, 2, new Uint8Array(56))));
  t.push(eth("ff:ff:ff:ff:ff:ff", HOST_MAC, 0x0806, arp(1, HOST_MAC, HOST_IP, "00:00:00:00:00:00", A_IP)));
  t.push(eth(A_MAC, HOST_MAC, 0x0806, arp(2, HOST_MAC, "198.18.0.50", A_MAC, A_IP)));
  const big = udp(HOST_IP, A_IP, 5, 7, new Uint8Array(3000));
  t.push(ipf({ src: HOST_IP, dst: A_IP, proto: 17, id: 77, mf: true }, big.subarray(0, 1480)));
  t.push(ipf({ src: HOST_IP, dst: A_IP, proto: 17, id: 77, fragOff: 1480, mf: true }, big.subarray(1480, 2960)));
  t.push(ipf({ src: HOST_IP, dst: A_IP, proto: 17, id: 77, fragOff: 2960 }, big.subarray(2960)));
  t.push(ipf({ src: HOST_IP, dst: A_IP, proto: 17, options: [7, 7, 4, 0, 0, 0, 0, 1] }, udp(HOST_IP, A_IP, 5, 7, bytes("opts"))));
  // Real Linux frames, readdressed to our stack.
  for (const f of pcapFrames().slice(0, 40)) {
    const g = f.slice();
    g.set(Uint8Array.from(A_MAC.split(":").map((x) => parseInt(x, 16))), 0);
    if (g[12] === 8 && g[13] === 0) { g.set([198, 18, 0, 1], 30); fixIpChecksum(g); }
    t.push(g);
  }
  // Real Linux IPv6 frames (the stack holds fd00:6::2, as the capture's second host did): unicast
  // ones readdressed to our MAC, multicast ones (MLD, DAD, NS to solicited-node groups) as sent.
  // Their checksums stay right: the IPv6 addresses are unchanged.
  const v6 = pcapFrames("linux-veth6.pcap");
  for (const f of [...v6.slice(0, 30), ...v6.slice(40, 50), ...v6.slice(295)]) {
    const g = f.slice();
    if ((g[0] & 1) === 0) g.set(Uint8Array.from(A_MAC.split(":").map((x) => parseInt(x, 16))), 0);
    t.push(g);
  }
  return t;
}

/** The address the fuzzed stack holds besides its IPv4 one, so the IPv6 templates reach it. */
export const FUZZ_IPV6 = "fd00:6::2/64";

export function fixIpChecksum(f: Uint8Array): void {
  if (f.length < 34 || f[12] !== 8 || f[13] !== 0) return;
  const hl = (f[14] & 15) * 4;
  if (hl < 20 || 14 + hl > f.length) return;
  f[24] = 0; f[25] = 0;
  const c = checksum(f.subarray(14, 14 + hl));
  f[24] = c >> 8; f[25] = c & 255;
}

export function mutate(rng: Rng, t: Uint8Array): Uint8Array {
  let f = t.slice();
  const kind = rng.below(8);
  if (kind === 0) {
    f = new Uint8Array(rng.below(1600));
    for (let i = 0; i < f.length; i++) f[i] = rng.below(256);
    if (rng.float() < 0.7 && f.length >= 6) f.set(t.subarray(0, 6));   // past the MAC filter
    if (rng.float() < 0.5 && f.length >= 14) { f[12] = 8; f[13] = rng.float() < 0.5 ? 0 : 6; }
    return f;
  }
  if (kind === 1) return f.subarray(0, rng.below(f.length + 1));
  if (kind === 2) {
    const g = new Uint8Array(f.length + rng.below(200));
    g.set(f);
    for (let i = f.length; i < g.length; i++) g[i] = rng.below(256);
    f = g;
  }
  // Flip bytes, preferring the headers where the checks are.
  const flips = 1 + rng.below(6);
  for (let i = 0; i < flips && f.length > 0; i++) {
    const at = rng.float() < 0.8 ? 12 + rng.below(Math.min(f.length, 50) - 12 > 0 ? Math.min(f.length, 50) - 12 : 1) : rng.below(f.length);
    if (at < f.length) f[at] = rng.below(256);
  }
  if (kind >= 4 && f.length >= 34) {
    // Targeted fields: IHL, total length, flags/offset, protocol; then a valid checksum so the
    // frame gets past the IP check and reaches the code behind it.
    const field = rng.below(4);
    if (field === 0) f[14] = 0x40 | rng.below(16);
    if (field === 1) { const v = rng.below(70000); f[16] = (v >> 8) & 255; f[17] = v & 255; }
    if (field === 2) { f[20] = rng.below(256); f[21] = rng.below(256); }
    if (field === 3) f[23] = [1, 6, 17, rng.below(256)][rng.below(4)];
    fixIpChecksum(f);
    if (rng.float() < 0.5 && f.length >= 42 && f[23] === 17) { f[40] = 0; f[41] = 0; }  // no UDP checksum
  }
  return f;
}


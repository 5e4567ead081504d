// Maglev L4 load balancer (Eisenbud et al., NSDI 2016), one-armed: packets for the VIP are sent
// to a backend picked by consistent hashing of their 5-tuple through a lookup table of prime
// size M, their destination MAC and address rewritten (checksums fixed), and transmitted back
// out the port they came in on. Other frames pass. Config: vip, backends (addresses) and macs.
import { pkt, pktLen, verdict, PASS, TX, ipv4At, l4At, ipSrc, ipDst, ipProto, be16, rewriteAddr, configStr,
         counterAdd, parseIpv4 } from "../sdk";
export { nf_area } from "../sdk";

const M: u32 = 4099;                    // table size, prime and well above 100 x backends
const MAX_BACKENDS = 32;
const table = new StaticArray<u8>(<i32>M);
const addrs = new StaticArray<u32>(MAX_BACKENDS);
const macs = new StaticArray<u64>(MAX_BACKENDS);
let vip: u32 = 0;

function fnv(s: string, seed: u32): u32 {
  let h: u32 = 2166136261 ^ seed;
  for (let i = 0; i < s.length; i++) { h ^= <u32>s.charCodeAt(i); h *= 16777619; }
  return h;
}

function parseMac(s: string): u64 {
  const parts = s.split(":");
  if (parts.length != 6) return 0;
  let m: u64 = 0;
  for (let i = 0; i < 6; i++) m = (m << 8) | <u64>(I32.parseInt(parts[i], 16) & 0xff);
  return m;
}

export function nf_init(): i32 {
  const v = configStr("vip"), b = configStr("backends"), m = configStr("macs");
  if (v === null || b === null || m === null) return 2;
  vip = parseIpv4(v);
  const names = b.split(","), macList = m.split(",");
  const n = names.length;
  if (vip == 0 || n == 0 || n > MAX_BACKENDS || macList.length != n) return 3;
  const offset = new StaticArray<u32>(n), skip = new StaticArray<u32>(n), next = new StaticArray<u32>(n);
  for (let i = 0; i < n; i++) {
    const name = names[i].trim();
    addrs[i] = parseIpv4(name);
    macs[i] = parseMac(macList[i].trim());
    if (addrs[i] == 0 || macs[i] == 0) return 4;
    offset[i] = fnv(name, 0) % M;
    skip[i] = fnv(name, 0x5bd1e995) % (M - 1) + 1;
  }
  // Each backend takes turns claiming its next preferred empty entry (the paper's Population).
  for (let j: u32 = 0; j < M; j++) table[j] = 0xff;
  let filled: u32 = 0;
  while (filled < M) {
    for (let i = 0; i < n && filled < M; i++) {
      let c = (offset[i] + next[i] * skip[i]) % M;
      while (table[c] != 0xff) { next[i]++; c = (offset[i] + next[i] * skip[i]) % M; }
      table[c] = <u8>i;
      next[i]++;
      filled++;
    }
  }
  return 0;
}

export function nf_process(count: u32): void {
  for (let i: u32 = 0; i < count; i++) {
    const p = pkt(i), len = pktLen(i);
    const ip = ipv4At(p, len);
    if (ip == 0 || ipDst(ip) != vip) { verdict(i, PASS); continue; }
    const l4 = l4At(ip, p, len);
    let h: u32 = ipSrc(ip) * 0x9e3779b1 ^ <u32>ipProto(ip);
    if (l4 != 0) h ^= (be16(l4) << 16 | be16(l4 + 2)) * 0x85ebca6b;
    h ^= h >> 15;
    const b = <i32>table[h % M];
    rewriteAddr(ip, l4, true, addrs[b]);
    const mac = macs[b];
    // We (the VIP's owner) are the source now. Two moves, not memory.copy: V8 makes that a call
    // out of the Wasm code, which costs more than the rest of the rewrite.
    store<u32>(p, load<u32>(p), 6);
    store<u16>(p, load<u16>(p, 4), 10);
    store<u32>(p, bswap<u32>(<u32>(mac >> 16)));              // the backend's MAC, bytes 0-5
    store<u16>(p, bswap<u16>(<u16>mac), 4);
    counterAdd(<u32>b, 1);                                    // counter b: packets to backend b
    verdict(i, TX);
  }
}

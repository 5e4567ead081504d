// The AssemblyScript SDK for network functions (NFs): the burst area the host fills, verdicts,
// the host functions an NF may import, packet field helpers and RFC 1624 checksum updates.
// The ABI itself is language-neutral: nf/c/demiwasm_nf.h is the same contract for C.
//
// An NF module imports its memory (env.memory; the host sizes it from the manifest) and exports:
//   nf_area(): usize                 where the host writes a burst (layout below)
//   nf_init(): i32                   once per instance, after the config is readable; 0 = ready
//   nf_process(count: u32): void     one burst: set a verdict (and maybe rewrite) per packet
//   nf_tick(nowMs: f64): void        optional, about every millisecond of host time
//
// The burst area's layout, the verdicts and the map constants are in ./abi (generated from
// schema/nf.mjs, as nf/c/demiwasm_nf_abi.h is for C). An NF may rewrite a packet in place and
// change its length up to SLOT.
import { AREA_BYTES, AREA_PORT, AREA_DIR, AREA_NOW, DESC, DESC_SIZE, DESC_OFF, DESC_LEN, DESC_VERDICT, DESC_ARG, SHARED } from "./abi";
export * from "./abi";

// Allocated when the module starts (the stub runtime aligns to 16), so the binary carries no
// 66 KB of zeros.
const AREA = changetype<usize>(new StaticArray<u8>(<i32>AREA_BYTES));

// Host functions. Map ids from mapOpen at or above SHARED name the chain's shared maps.
@external("nf", "map_get") declare function privGet(id: u32, k0: i64, k1: i64): i64;
@external("nf", "map_put") declare function privPut(id: u32, k0: i64, k1: i64, v: i64): i32;
@external("nf", "map_del") declare function privDel(id: u32, k0: i64, k1: i64): i32;
@external("nf", "shared_get") declare function sharedGet(id: u32, k0: i64, k1: i64): i64;
@external("nf", "shared_put") declare function sharedPut(id: u32, k0: i64, k1: i64, v: i64): i32;
@external("nf", "shared_del") declare function sharedDel(id: u32, k0: i64, k1: i64): i32;
@external("nf", "map_open") declare function hostMapOpen(name: usize, len: u32): i32;
@external("nf", "config") declare function hostConfig(key: usize, keyLen: u32, out: usize, cap: u32): i32;
@external("nf", "counter_add") export declare function counterAdd(index: u32, delta: i64): void;
@external("nf", "log") declare function hostLog(ptr: usize, len: u32): void;


export function nf_area(): usize { return AREA; }

// ---- the burst ----
@inline export function burstPort(): u32 { return load<u32>(AREA + AREA_PORT); }
@inline export function burstDir(): u32 { return load<u32>(AREA + AREA_DIR); }
@inline export function nowNs(): f64 { return load<f64>(AREA + AREA_NOW); }
@inline function desc(i: u32): usize { return AREA + DESC + <usize>i * DESC_SIZE; }
@inline export function pkt(i: u32): usize { return AREA + load<u32>(desc(i) + DESC_OFF); }
@inline export function pktLen(i: u32): u32 { return load<u32>(desc(i) + DESC_LEN); }
@inline export function setLen(i: u32, len: u32): void { store<u32>(desc(i) + DESC_LEN, len); }
@inline export function verdict(i: u32, v: u32, arg: u32 = 0): void {
  store<u32>(desc(i) + DESC_VERDICT, v);
  store<u32>(desc(i) + DESC_ARG, arg);
}

// ---- maps: 16-byte keys, 8-byte values, -1 absent ----
@inline export function mapGet(id: u32, k0: i64, k1: i64): i64 { return id >= SHARED ? sharedGet(id - SHARED, k0, k1) : privGet(id, k0, k1); }
@inline export function mapPut(id: u32, k0: i64, k1: i64, v: i64): i32 { return id >= SHARED ? sharedPut(id - SHARED, k0, k1, v) : privPut(id, k0, k1, v); }
@inline export function mapDel(id: u32, k0: i64, k1: i64): i32 { return id >= SHARED ? sharedDel(id - SHARED, k0, k1) : privDel(id, k0, k1); }

/** A map the manifest declares, by name; negative when it declares none of that name. */
export function mapOpen(name: string): i32 {
  const b = String.UTF8.encode(name);
  return hostMapOpen(changetype<usize>(b), <u32>b.byteLength);
}

// ---- config (manifest `config:`), read at init ----
const CFG_CAP: u32 = 4096;
const cfgBuf = changetype<usize>(new StaticArray<u8>(<i32>CFG_CAP));

/** The value of a config key as text, or null when it is not set. */
export function configStr(key: string): string | null {
  const k = String.UTF8.encode(key);
  const n = hostConfig(changetype<usize>(k), <u32>k.byteLength, cfgBuf, CFG_CAP);
  if (n < 0) return null;
  return String.UTF8.decodeUnsafe(cfgBuf, <usize>min(<u32>n, CFG_CAP));
}

export function configInt(key: string, dflt: i64): i64 {
  const s = configStr(key);
  if (s === null || s.length == 0) return dflt;
  let v: i64 = 0, neg = false, i = 0;
  if (s.charCodeAt(0) == 45) { neg = true; i = 1; }
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return dflt;
    v = v * 10 + c;
  }
  return neg ? -v : v;
}

export function log(msg: string): void {
  const b = String.UTF8.encode(msg);
  hostLog(changetype<usize>(b), <u32>b.byteLength);
}

/** Dotted IPv4 text to a host-order u32; 0 when it is not an address. */
export function parseIpv4(s: string): u32 {
  const parts = s.split(".");
  if (parts.length != 4) return 0;
  let ip: u32 = 0;
  for (let i = 0; i < 4; i++) {
    const n = I32.parseInt(parts[i]);
    if (n < 0 || n > 255) return 0;
    ip = (ip << 8) | <u32>n;
  }
  return ip;
}

// ---- packet fields (network byte order on the wire, host order here) ----
export const ETH_HLEN: u32 = 14;
export const ETHERTYPE_IPV4: u16 = 0x0800;
export const PROTO_ICMP: u8 = 1, PROTO_TCP: u8 = 6, PROTO_UDP: u8 = 17;

@inline export function be16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
@inline export function be32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
@inline export function put16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
@inline export function put32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/** Offset of the IPv4 header when the frame is a whole IPv4 packet we can read, else 0. */
export function ipv4At(p: usize, len: u32): usize {
  if (len < ETH_HLEN + 20 || be16(p + 12) != ETHERTYPE_IPV4) return 0;
  const ip = p + ETH_HLEN;
  const v = load<u8>(ip);
  if ((v >> 4) != 4 || (v & 15) < 5 || ETH_HLEN + (<u32>(v & 15) << 2) > len) return 0;
  return ip;
}

@inline export function ipHlen(ip: usize): u32 { return <u32>(load<u8>(ip) & 15) << 2; }
@inline export function ipProto(ip: usize): u8 { return load<u8>(ip, 9); }
@inline export function ipSrc(ip: usize): u32 { return be32(ip + 12); }
@inline export function ipDst(ip: usize): u32 { return be32(ip + 16); }
/** The transport header of an unfragmented TCP/UDP packet with its ports in the frame, else 0. */
export function l4At(ip: usize, frame: usize, len: u32): usize {
  const proto = ipProto(ip);
  if (proto != PROTO_TCP && proto != PROTO_UDP) return 0;
  if ((be16(ip + 6) & 0x3fff) != 0) return 0;              // a fragment: no ports to read
  const l4 = ip + ipHlen(ip);
  return l4 + 8 <= frame + len ? l4 : 0;
}

/** The 5-tuple as a map key: k0 = src << 32 | dst, k1 = sport << 32 | dport << 16 | proto. */
@inline export function tupleK0(src: u32, dst: u32): i64 { return <i64>((<u64>src << 32) | <u64>dst); }
@inline export function tupleK1(sport: u32, dport: u32, proto: u32): i64 { return <i64>((<u64>sport << 32) | (<u64>dport << 16) | <u64>proto); }

// ---- checksums (RFC 1071 sum, RFC 1624 incremental update) ----
/** HC' = ~(~HC + ~m + m') for one 16-bit field changing from m to m'. */
export function csumReplace16(sum: u32, from: u32, to: u32): u32 {
  let s: u32 = (~sum & 0xffff) + (~from & 0xffff) + (to & 0xffff);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

export function csumReplace32(sum: u32, from: u32, to: u32): u32 {
  return csumReplace16(csumReplace16(sum, from >> 16, to >> 16), from & 0xffff, to & 0xffff);
}

/** Rewrites the IPv4 source or destination address, fixing the IP and TCP/UDP checksums. */
export function rewriteAddr(ip: usize, l4: usize, dst: bool, addr: u32): void {
  const at = ip + (dst ? 16 : 12);
  const old = be32(at);
  put32(at, addr);
  put16(ip + 10, csumReplace32(be16(ip + 10), old, addr));
  fixL4(ip, l4, old, addr, 32);
}

/** Rewrites the TCP/UDP source or destination port, fixing its checksum. */
export function rewritePort(ip: usize, l4: usize, dst: bool, port: u32): void {
  const at = l4 + (dst ? 2 : 0);
  const old = be16(at);
  put16(at, port);
  fixL4(ip, l4, old, port, 16);
}

function fixL4(ip: usize, l4: usize, from: u32, to: u32, bits: u32): void {
  if (l4 == 0) return;
  const proto = ipProto(ip);
  const c = l4 + (proto == PROTO_TCP ? 16 : 6);
  const sum = be16(c);
  if (proto == PROTO_UDP && sum == 0) return;               // UDP without a checksum stays so
  let n = bits == 32 ? csumReplace32(sum, from, to) : csumReplace16(sum, from, to);
  if (proto == PROTO_UDP && n == 0) n = 0xffff;             // RFC 768: 0 means "none"
  put16(c, n);
}

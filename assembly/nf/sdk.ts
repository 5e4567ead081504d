// The AssemblyScript SDK for network functions (NFs): the burst area the host fills, verdicts,
// the host functions an NF may import, packet field helpers for IPv4 and IPv6 and RFC 1624
// checksum updates.
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
import { AREA_BYTES, AREA_PORT, AREA_DIR, AREA_NOW, AREA_COUNTERS, NF_COUNTERS, DESC, DESC_SIZE, DESC_OFF, DESC_LEN, DESC_VERDICT, DESC_ARG, SHARED, ABSENT } from "./abi";
export * from "./abi";

// Static data: the address is a constant the compiler folds into every load and store of the
// area (3% of flowmon's time on Node 20, 8% on Node 24, against a pointer allocated at start and
// read from a global), at the price of 66 KB of zeros in the binary.
const AREA: usize = memory.data(<i32>AREA_BYTES, 16);

// Host functions. Map ids from mapOpen at or above SHARED name the chain's shared maps.
@external("nf", "map_get") declare function privGet(id: u32, k0: i64, k1: i64): i64;
@external("nf", "map_put") declare function privPut(id: u32, k0: i64, k1: i64, v: i64): i32;
@external("nf", "map_del") declare function privDel(id: u32, k0: i64, k1: i64): i32;
@external("nf", "shared_get") declare function sharedGet(id: u32, k0: i64, k1: i64): i64;
@external("nf", "shared_put") declare function sharedPut(id: u32, k0: i64, k1: i64, v: i64): i32;
@external("nf", "shared_del") declare function sharedDel(id: u32, k0: i64, k1: i64): i32;
@external("nf", "map_open") declare function hostMapOpen(name: usize, len: u32): i32;
@external("nf", "config") declare function hostConfig(key: usize, keyLen: u32, out: usize, cap: u32): i32;
@external("nf", "log") declare function hostLog(ptr: usize, len: u32): void;
@external("wasi_snapshot_preview1", "random_get") declare function wasiRandom(buf: usize, len: usize): u16;


export function nf_area(): usize { return AREA; }

// ---- the burst ----
@inline export function burstPort(): u32 { return load<u32>(AREA + AREA_PORT); }
@inline export function burstDir(): u32 { return load<u32>(AREA + AREA_DIR); }
@inline export function nowNs(): f64 { return load<f64>(AREA + AREA_NOW); }
@inline function desc(i: u32): usize { return AREA + DESC + <usize>i * DESC_SIZE; }
@inline export function pkt(i: u32): usize { return AREA + load<u32>(desc(i) + DESC_OFF); }
@inline export function pktLen(i: u32): u32 { return load<u32>(desc(i) + DESC_LEN); }
@inline export function setLen(i: u32, len: u32): void { store<u32>(desc(i) + DESC_LEN, len); }
/** Packet i's whole length on the wire: more than pktLen(i) when the manifest's snaplen cut it. */
@inline export function wireLen(i: u32): u32 { return load<u32>(desc(i) + DESC_ARG); }
@inline export function verdict(i: u32, v: u32, arg: u32 = 0): void {
  store<u32>(desc(i) + DESC_VERDICT, v);
  store<u32>(desc(i) + DESC_ARG, arg);
}

/** Adds delta to counter `index` (below NF_COUNTERS; others are ignored): a store into the area,
 *  where the host reads the NF's counters (an import call per count cost maglev 9%). */
@inline export function counterAdd(index: u32, delta: i64): void {
  if (index < NF_COUNTERS) {
    const at = AREA + AREA_COUNTERS + (<usize>index << 3);
    store<i64>(at, load<i64>(at) + delta);
  }
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

/** 64 random bits from the host (WASI random_get): a key for hashes an attacker must not aim at. */
export function random64(): u64 {
  const b = changetype<usize>(new StaticArray<u8>(8));
  wasiRandom(b, 8);
  return load<u64>(b);
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

/** IPv6 text (RFC 4291 §2.2, "::" allowed; no embedded IPv4) as [hi, lo], or null. */
export function parseIpv6(s: string): StaticArray<u64> | null {
  const halves = s.split("::");
  if (halves.length > 2 || s.length == 0) return null;
  const g = new StaticArray<u32>(8);
  const head = halves[0].length > 0 ? halves[0].split(":") : new Array<string>(0);
  const tail = halves.length == 2 && halves[1].length > 0 ? halves[1].split(":") : new Array<string>(0);
  if (halves.length == 1 ? head.length != 8 : head.length + tail.length > 7) return null;
  for (let i = 0; i < head.length + tail.length; i++) {
    const t = i < head.length ? head[i] : tail[i - head.length];
    if (t.length == 0 || t.length > 4) return null;
    let v: u32 = 0;
    for (let k = 0; k < t.length; k++) {
      const c = t.charCodeAt(k);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) return null;
      v = (v << 4) | <u32>d;
    }
    g[i < head.length ? i : 8 - tail.length + (i - head.length)] = v;
  }
  const out = new StaticArray<u64>(2);
  out[0] = (<u64>g[0] << 48) | (<u64>g[1] << 32) | (<u64>g[2] << 16) | <u64>g[3];
  out[1] = (<u64>g[4] << 48) | (<u64>g[5] << 32) | (<u64>g[6] << 16) | <u64>g[7];
  return out;
}

// ---- packet fields (network byte order on the wire, host order here) ----
// Written for what V8 makes of them (bench nf, alternating builds): the checks are inlined into
// the NF's loop, one early return per condition (`a || b` in a helper becomes a boolean
// computed and then tested again in the caller), and fixed fields compare against a
// byte-swapped constant instead of swapping the packet's bytes. Flowmon, firewall, NAT and
// portblock took 7–12% less time; the checksum helpers inlined, another 18% off NAT.
export const ETH_HLEN: u32 = 14;
export const ETHERTYPE_IPV4: u16 = 0x0800;
export const PROTO_ICMP: u8 = 1, PROTO_TCP: u8 = 6, PROTO_UDP: u8 = 17;

@inline export function be16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
@inline export function be32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
@inline export function put16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
@inline export function put32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/** Offset of the IPv4 header when the frame is a whole IPv4 packet we can read, else 0. */
@inline export function ipv4At(p: usize, len: u32): usize {
  if (len < ETH_HLEN + 20) return 0;
  if (load<u16>(p, 12) != bswap<u16>(ETHERTYPE_IPV4)) return 0;
  const v = <u32>load<u8>(p, ETH_HLEN);
  if ((v >> 4) != 4) return 0;
  if ((v & 15) < 5) return 0;
  if (ETH_HLEN + ((v & 15) << 2) > len) return 0;
  return p + ETH_HLEN;
}

@inline export function ipHlen(ip: usize): u32 { return <u32>(load<u8>(ip) & 15) << 2; }
@inline export function ipProto(ip: usize): u8 { return load<u8>(ip, 9); }
@inline export function ipSrc(ip: usize): u32 { return be32(ip + 12); }
@inline export function ipDst(ip: usize): u32 { return be32(ip + 16); }
/** The transport header of an unfragmented TCP/UDP packet with its ports in the frame, else 0. */
@inline export function l4At(ip: usize, frame: usize, len: u32): usize {
  const proto = ipProto(ip);
  if (proto != PROTO_TCP && proto != PROTO_UDP) return 0;
  if ((load<u16>(ip, 6) & bswap<u16>(0x3fff)) != 0) return 0;   // a fragment: no ports to read
  const l4 = ip + ipHlen(ip);
  if (l4 + 8 > frame + len) return 0;
  return l4;
}

/** The 5-tuple as a map key: k0 = src << 32 | dst, k1 = sport << 32 | dport << 16 | proto. */
@inline export function tupleK0(src: u32, dst: u32): i64 { return <i64>((<u64>src << 32) | <u64>dst); }
@inline export function tupleK1(sport: u32, dport: u32, proto: u32): i64 { return <i64>((<u64>sport << 32) | (<u64>dport << 16) | <u64>proto); }

// ---- checksums (RFC 1071 sum, RFC 1624 incremental update) ----
/** HC' = ~(~HC + ~m + m') for one 16-bit field changing from m to m'. */
@inline export function csumReplace16(sum: u32, from: u32, to: u32): u32 {
  let s: u32 = (~sum & 0xffff) + (~from & 0xffff) + (to & 0xffff);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

@inline export function csumReplace32(sum: u32, from: u32, to: u32): u32 {
  return csumReplace16(csumReplace16(sum, from >> 16, to >> 16), from & 0xffff, to & 0xffff);
}

/** Rewrites the IPv4 source or destination address, fixing the IP and TCP/UDP checksums. */
@inline export function rewriteAddr(ip: usize, l4: usize, dst: bool, addr: u32): void {
  const at = ip + (dst ? 16 : 12);
  const old = be32(at);
  put32(at, addr);
  put16(ip + 10, csumReplace32(be16(ip + 10), old, addr));
  if (l4 != 0) fixL4(l4, ipProto(ip), old, addr, 32);
}

/** Rewrites the TCP/UDP source or destination port, fixing its checksum. */
@inline export function rewritePort(ip: usize, l4: usize, dst: bool, port: u32): void {
  rewritePortOf(l4, ipProto(ip), dst, port);
}

/** rewritePort for a header of protocol `proto` (TCP or UDP, over either IP version). */
@inline export function rewritePortOf(l4: usize, proto: u32, dst: bool, port: u32): void {
  const at = l4 + (dst ? 2 : 0);
  const old = be16(at);
  put16(at, port);
  fixL4(l4, proto, old, port, 16);
}

/** The checksum of a TCP, UDP or ICMPv6 header after a field its pseudo-header or header covers
 *  changed from `from` to `to` (`bits` 16 or 32). ICMP over IPv4 covers no address: untouched. */
@inline function fixL4(l4: usize, proto: u32, from: u32, to: u32, bits: u32): void {
  if (proto != PROTO_TCP && proto != PROTO_UDP && proto != PROTO_ICMPV6) return;
  const c = l4 + (proto == PROTO_TCP ? 16 : proto == PROTO_UDP ? 6 : 2);
  const sum = be16(c);
  if (proto == PROTO_UDP && sum == 0) return;               // UDP over IPv4 without a checksum stays so
  let n = bits == 32 ? csumReplace32(sum, from, to) : csumReplace16(sum, from, to);
  if (proto == PROTO_UDP && n == 0) n = 0xffff;             // RFC 768: 0 means "none"
  put16(c, n);
}

// ---- IPv6 (RFC 8200) ----
export const ETHERTYPE_IPV6: u16 = 0x86dd;
export const PROTO_ICMPV6: u8 = 58;
export const IP6_HLEN: u32 = 40;
const NH_HOP_BY_HOP: u8 = 0, NH_ROUTING: u8 = 43, NH_FRAGMENT: u8 = 44, NH_DEST_OPTS: u8 = 60;
const MAX_EXT: i32 = 8;                                     // as the stack walks them

@inline export function be64(p: usize): u64 { return bswap<u64>(load<u64>(p)); }

/** Offset of the IPv6 header when the frame is a whole IPv6 packet we can read, else 0. */
@inline export function ipv6At(p: usize, len: u32): usize {
  if (len < ETH_HLEN + IP6_HLEN) return 0;
  if (load<u16>(p, 12) != bswap<u16>(ETHERTYPE_IPV6)) return 0;
  if ((load<u8>(p, ETH_HLEN) >> 4) != 6) return 0;
  if (ETH_HLEN + IP6_HLEN + be16(p + ETH_HLEN + 4) > len) return 0;
  return p + ETH_HLEN;
}

// Addresses as two big-endian halves (hi: the first eight bytes as a number).
@inline export function ip6SrcHi(ip: usize): u64 { return be64(ip + 8); }
@inline export function ip6SrcLo(ip: usize): u64 { return be64(ip + 16); }
@inline export function ip6DstHi(ip: usize): u64 { return be64(ip + 24); }
@inline export function ip6DstLo(ip: usize): u64 { return be64(ip + 32); }
@inline export function ip6HopLimit(ip: usize): u8 { return load<u8>(ip, 7); }

/**
 * The upper-layer header of an IPv6 packet past its extension headers (hop-by-hop, routing,
 * destination options; a fragment header of the first fragment), at most 8 of them, as
 * (protocol << 32 | its offset from `ip`); 0 when the chain ends outside the packet, is longer,
 * or the packet is a later fragment (no upper-layer header in it). 8 bytes of the upper-layer
 * header are in the packet: ports, or ICMPv6's type, code and checksum.
 */
export function upper6(ip: usize): u64 {
  const end = IP6_HLEN + be16(ip + 4);
  let nh = load<u8>(ip, 6);
  let off = IP6_HLEN;
  for (let n = 0; n < MAX_EXT; n++) {
    if (off + 8 > end) return 0;
    if (nh == NH_FRAGMENT) {
      if ((be16(ip + off + 2) & 0xfff8) != 0) return 0;     // not the first fragment
      nh = load<u8>(ip + off);
      off += 8;
    } else if (nh == NH_HOP_BY_HOP || nh == NH_ROUTING || nh == NH_DEST_OPTS) {
      const next = load<u8>(ip + off);
      off += (<u32>load<u8>(ip + off + 1) + 1) << 3;
      nh = next;
    } else {
      return (<u64>nh << 32) | <u64>off;
    }
  }
  return 0;
}
@inline export function upperProto(u: u64): u8 { return <u8>(u >> 32); }
@inline export function upperAt(ip: usize, u: u64): usize { return ip + <usize>(<u32>u); }

/**
 * An IPv6 5-tuple as a map key of IPv4's shape: k0 a keyed 64-bit hash of the two addresses
 * (`key` from tupleKey6, random, so no one outside can aim two flows at one key), k1 as
 * tupleK1 with bit 8 set, so an IPv6 flow never shares a key with an IPv4 one. Not a MAC: a
 * collision costs one flow's entry, nothing more.
 */
export function tuple6K0(key: u64, srcHi: u64, srcLo: u64, dstHi: u64, dstLo: u64): i64 {
  let h = key;
  h = mix(h ^ srcHi); h = mix(h ^ srcLo); h = mix(h ^ dstHi); h = mix(h ^ dstLo);
  return <i64>h;
}
@inline export function tuple6K1(sport: u32, dport: u32, proto: u32): i64 { return tupleK1(sport, dport, proto) | 0x100; }

const KEY6_K1: i64 = 0x200;         // a k1 no tuple key has (bits 9–15 of tupleK1 and tuple6K1 are 0)

/**
 * The tuple6K0 key for map `id`. A private map's is the NF's own (random64, once: pass back what
 * it returned). A shared map's is kept in the map itself, under k1 = 0x200 (one entry of the
 * map), so that every NF sharing it (a firewall on the in chain and one on the out chain) hashes
 * a flow alike: the first caller draws it. Call it at init and at the start of each burst: an
 * LRU map may have evicted it, and it is put back as `known`.
 */
export function tupleKey6(id: u32, known: u64): u64 {
  if (id < SHARED) return known != 0 ? known : random64();
  const v = mapGet(id, 0, KEY6_K1);
  if (v != ABSENT) return <u64>v;
  let k = known != 0 ? known : random64();
  if (<i64>k == ABSENT) k ^= 1;
  mapPut(id, 0, KEY6_K1, <i64>k);
  return k;
}

/** A 64-bit finalizer (MurmurHash3's fmix64): every input bit reaches every output bit. */
@inline function mix(h: u64): u64 {
  h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33;
  return h;
}

/**
 * Rewrites the IPv6 source or destination address to hi:lo, fixing the TCP, UDP or ICMPv6
 * checksum of the upper-layer header at `l4` (protocol `proto`, from upper6), whose
 * pseudo-header covers it (RFC 8200 §8.1); IPv6 itself has no header checksum.
 */
export function rewriteAddr6(ip: usize, l4: usize, proto: u32, dst: bool, hi: u64, lo: u64): void {
  const at = ip + (dst ? 24 : 8);
  const oldHi = be64(at), oldLo = be64(at + 8);
  store<u64>(at, bswap<u64>(hi));
  store<u64>(at + 8, bswap<u64>(lo));
  if (l4 == 0) return;
  fixL4(l4, proto, <u32>(oldHi >> 32), <u32>(hi >> 32), 32);
  fixL4(l4, proto, <u32>oldHi, <u32>hi, 32);
  fixL4(l4, proto, <u32>(oldLo >> 32), <u32>(lo >> 32), 32);
  fixL4(l4, proto, <u32>oldLo, <u32>lo, 32);
}

// The sample NFs' logic written in C, run natively over the same burst area layout as the Wasm
// NFs (assembly/nf/sdk.ts): the baseline `demiwasm bench nf` measures them against.
#include "samples.h"
#include <string.h>

static inline uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static inline uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

static inline uint8_t *ipv4_at(uint8_t *p, uint32_t len) {
  if (len < 34 || be16(p + 12) != 0x0800) return NULL;
  uint8_t *ip = p + 14;
  if ((ip[0] >> 4) != 4 || (ip[0] & 15) < 5 || 14u + ((ip[0] & 15u) << 2) > len) return NULL;
  return ip;
}

static inline uint8_t *l4_at(uint8_t *ip, uint8_t *p, uint32_t len) {
  if (ip[9] != 6 && ip[9] != 17) return NULL;
  if (be16(ip + 6) & 0x3fff) return NULL;
  uint8_t *l4 = ip + ((ip[0] & 15u) << 2);
  return l4 + 8 <= p + len ? l4 : NULL;
}

static inline uint32_t csum16(uint32_t sum, uint32_t from, uint32_t to) {
  uint32_t s = (~sum & 0xffff) + (~from & 0xffff) + (to & 0xffff);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}
static inline uint32_t csum32(uint32_t sum, uint32_t from, uint32_t to) { return csum16(csum16(sum, from >> 16, to >> 16), from & 0xffff, to & 0xffff); }

/** The TCP or UDP checksum at l4 (protocol proto) after a covered field went from `from` to `to`. */
static void fix_l4(uint8_t proto, uint8_t *l4, uint32_t from, uint32_t to, int bits) {
  if (!l4) return;
  uint8_t *c = l4 + (proto == 6 ? 16 : 6);
  uint32_t sum = be16(c);
  if (proto == 17 && sum == 0) return;
  uint32_t n = bits == 32 ? csum32(sum, from, to) : csum16(sum, from, to);
  if (proto == 17 && n == 0) n = 0xffff;
  put16(c, n);
}
static void rewrite_addr(uint8_t *ip, uint8_t *l4, int dst, uint32_t addr) {
  uint8_t *at = ip + (dst ? 16 : 12);
  uint32_t old = be32(at);
  put32(at, addr);
  put16(ip + 10, csum32(be16(ip + 10), old, addr));
  fix_l4(ip[9], l4, old, addr, 32);
}
static void rewrite_port(uint8_t proto, uint8_t *l4, int dst, uint32_t port) {
  uint8_t *at = l4 + (dst ? 2 : 0);
  uint32_t old = be16(at);
  put16(at, port);
  fix_l4(proto, l4, old, port, 16);
}

// IPv6, as assembly/nf/sdk.ts reads it: the header, the upper layer past extension headers, and
// the flow key (the Wasm samples key the hash with random bits; the cost is the same).
static inline uint8_t *ipv6_at(uint8_t *p, uint32_t len) {
  if (len < 54 || be16(p + 12) != 0x86dd || (p[14] >> 4) != 6 || 54u + be16(p + 18) > len) return NULL;
  return p + 14;
}
static inline uint8_t *upper6(uint8_t *ip, uint8_t *proto) {
  uint32_t end = 40 + be16(ip + 4), off = 40;
  uint8_t nh = ip[6];
  for (int n = 0; n < 8; n++) {
    if (off + 8 > end) return NULL;
    if (nh == 44) { if (be16(ip + off + 2) & 0xfff8) return NULL; nh = ip[off]; off += 8; }
    else if (nh == 0 || nh == 43 || nh == 60) { uint8_t next = ip[off]; off += ((uint32_t)ip[off + 1] + 1) << 3; nh = next; }
    else { *proto = nh; return ip + off; }
  }
  return NULL;
}
static inline uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static inline uint64_t fmix64(uint64_t h) { h ^= h >> 33; h *= 0xff51afd7ed558ccdULL; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL; h ^= h >> 33; return h; }
// The Wasm samples read their IPv6 hash key from a shared map once per burst (sdk.tupleKey6):
// so here, always (the bench's maps are private; the cost is the shared case's).
static inline uint64_t key6_of(map_t *m) {
  int64_t v = map_get(m, 0, 0x200);
  if (v == NF_ABSENT) { v = 0x5eed; map_put(m, 0, 0x200, v); }
  return (uint64_t)v;
}
static inline int64_t k0of6(uint64_t key, const uint8_t *src, const uint8_t *dst) {
  uint64_t h = key;
  h = fmix64(h ^ be64(src)); h = fmix64(h ^ be64(src + 8)); h = fmix64(h ^ be64(dst)); h = fmix64(h ^ be64(dst + 8));
  return (int64_t)h;
}

static inline uint8_t *pkt(nf_area *a, uint32_t i) { return (uint8_t *)a + a->desc[i].off; }
static inline void verdict(nf_area *a, uint32_t i, uint32_t v) { a->desc[i].verdict = v; a->desc[i].arg = 0; }
static inline int64_t k0of(uint32_t s, uint32_t d) { return (int64_t)((uint64_t)s << 32 | d); }
static inline int64_t k1of(uint32_t sp, uint32_t dp, uint32_t pr) { return (int64_t)((uint64_t)sp << 32 | (uint64_t)dp << 16 | pr); }

void flowmon(nf_native *nf, nf_area *a, uint32_t count) {
  uint64_t key = key6_of(&nf->maps[0]);
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *p = pkt(a, i); uint32_t len = a->desc[i].len;
    uint8_t *ip = ipv4_at(p, len);
    int64_t k0 = 0, k1 = 0;
    uint8_t *ip6 = ip ? NULL : ipv6_at(p, len);
    if (ip) {
      uint8_t *l4 = l4_at(ip, p, len);
      k0 = k0of(be32(ip + 12), be32(ip + 16));
      k1 = k1of(l4 ? be16(l4) : 0, l4 ? be16(l4 + 2) : 0, ip[9]);
    } else if (ip6) {
      uint8_t proto = 0xff, *l4 = upper6(ip6, &proto);
      int ports = l4 && (proto == 6 || proto == 17);
      k0 = k0of6(key, ip6 + 8, ip6 + 24);
      k1 = k1of(ports ? be16(l4) : 0, ports ? be16(l4 + 2) : 0, proto) | 0x100;
    }
    int64_t v = map_get(&nf->maps[0], k0, k1);
    if (v == NF_ABSENT) nf->counters[0]++;
    uint64_t old = v == NF_ABSENT ? 0 : (uint64_t)v;
    uint64_t pk = ((old >> 32) + 1) & 0xffffffff, by = (old + len) & 0xffffffff;
    map_put(&nf->maps[0], k0, k1, (int64_t)(pk << 32 | by));
    verdict(a, i, NF_PASS);
  }
}

void ratelimit(nf_native *nf, nf_area *a, uint32_t count) {
  uint64_t now_ms = (uint64_t)(a->now_ns / 1e6) & 0xffffffff, full = nf->p[1] * 1000;
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *ip = ipv4_at(pkt(a, i), a->desc[i].len);
    if (!ip) { verdict(a, i, NF_PASS); continue; }
    int64_t src = be32(ip + 12);
    int64_t v = map_get(&nf->maps[0], src, 0);
    uint64_t tokens = full, last = now_ms;
    if (v != NF_ABSENT) {
      tokens = (uint64_t)v >> 32; last = (uint64_t)v & 0xffffffff;
      uint64_t t = tokens + ((now_ms - last) & 0xffffffff) * nf->p[0];
      tokens = t < full ? t : full;
    }
    if (tokens >= 1000) { tokens -= 1000; verdict(a, i, NF_PASS); } else { verdict(a, i, NF_DROP); nf->counters[0]++; }
    map_put(&nf->maps[0], src, 0, (int64_t)(tokens << 32 | now_ms));
  }
}

static inline void fw_decide(nf_native *nf, nf_area *a, uint32_t i, int out, uint64_t now_ms, int64_t k0, int64_t k1, uint32_t proto, uint32_t dp) {
  if (out) { map_put(&nf->maps[0], k0, k1, (int64_t)now_ms); verdict(a, i, NF_PASS); return; }
  int64_t seen = map_get(&nf->maps[0], k0, k1);
  int ok = seen != NF_ABSENT && now_ms - (uint64_t)seen <= nf->p[0];
  int pi = proto == 1 || proto == 58 ? 0 : proto == 6 ? 1 : proto == 17 ? 2 : -1;
  if (!ok && pi >= 0) ok = nf->any_port[pi] || (nf->port_bits[pi][dp >> 3] & (1u << (dp & 7)));
  if (ok) verdict(a, i, NF_PASS); else { verdict(a, i, NF_DROP); nf->counters[0]++; }
}

void firewall(nf_native *nf, nf_area *a, uint32_t count) {
  uint64_t now_ms = (uint64_t)(a->now_ns / 1e6), key = key6_of(&nf->maps[0]);
  int out = a->dir == 1;
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *p = pkt(a, i); uint32_t len = a->desc[i].len;
    uint8_t *ip = ipv4_at(p, len);
    if (ip) {
      uint8_t *l4 = l4_at(ip, p, len);
      uint32_t proto = ip[9], sp = l4 ? be16(l4) : 0, dp = l4 ? be16(l4 + 2) : 0;
      int64_t k0 = out ? k0of(be32(ip + 12), be32(ip + 16)) : k0of(be32(ip + 16), be32(ip + 12));
      fw_decide(nf, a, i, out, now_ms, k0, out ? k1of(sp, dp, proto) : k1of(dp, sp, proto), proto, dp);
      continue;
    }
    uint8_t *ip6 = ipv6_at(p, len);
    if (!ip6) { verdict(a, i, NF_PASS); continue; }
    uint8_t proto = 0xff, *l4 = upper6(ip6, &proto);
    if (proto == 58 && l4[0] >= 133 && l4[0] <= 137 && ip6[7] == 255) { verdict(a, i, NF_PASS); continue; }
    int ports = proto == 6 || proto == 17;
    uint32_t sp = ports ? be16(l4) : 0, dp = ports ? be16(l4 + 2) : 0;
    int64_t k0 = out ? k0of6(key, ip6 + 8, ip6 + 24) : k0of6(key, ip6 + 24, ip6 + 8);
    fw_decide(nf, a, i, out, now_ms, k0, (out ? k1of(sp, dp, proto) : k1of(dp, sp, proto)) | 0x100, proto, dp);
  }
}

void nat(nf_native *nf, nf_area *a, uint32_t count) {
  int out = a->dir == 1;
  uint32_t pub = (uint32_t)nf->p[0], net = (uint32_t)nf->p[1], mask = (uint32_t)nf->p[2], pmin = (uint32_t)nf->p[3], pmax = (uint32_t)nf->p[4];
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *p = pkt(a, i); uint32_t len = a->desc[i].len;
    uint8_t *ip = ipv4_at(p, len), *l4 = ip ? l4_at(ip, p, len) : NULL;
    if (!l4) { verdict(a, i, NF_PASS); continue; }
    uint32_t proto = ip[9];
    if (out) {
      uint32_t src = be32(ip + 12);
      if ((src & mask) != net) { verdict(a, i, NF_PASS); continue; }
      uint32_t sport = be16(l4);
      int64_t k1 = (int64_t)(sport << 8 | proto);
      int64_t pp = map_get(&nf->maps[0], src, k1);
      if (pp == NF_ABSENT) {
        uint32_t port = 0;
        for (uint32_t n = 0; n <= pmax - pmin; n++) {
          uint32_t c = nf->cursor;
          nf->cursor = nf->cursor == pmax ? pmin : nf->cursor + 1;
          if (map_get(&nf->maps[1], c, proto) == NF_ABSENT) { port = c; break; }
        }
        if (!port || map_put(&nf->maps[0], src, k1, port) != 0) { verdict(a, i, NF_DROP); nf->counters[0]++; continue; }
        map_put(&nf->maps[1], port, proto, (int64_t)((uint64_t)src << 16 | sport));
        pp = port;
      }
      rewrite_addr(ip, l4, 0, pub);
      rewrite_port(ip[9], l4, 0, (uint32_t)pp);
      verdict(a, i, NF_PASS);
    } else {
      if (be32(ip + 16) != pub) { verdict(a, i, NF_PASS); continue; }
      int64_t inner = map_get(&nf->maps[1], be16(l4 + 2), proto);
      if (inner == NF_ABSENT) { verdict(a, i, NF_DROP); nf->counters[1]++; continue; }
      rewrite_addr(ip, l4, 1, (uint32_t)((uint64_t)inner >> 16));
      rewrite_port(ip[9], l4, 1, (uint32_t)(inner & 0xffff));
      verdict(a, i, NF_PASS);
    }
  }
}

void maglev(nf_native *nf, nf_area *a, uint32_t count) {
  uint32_t vip = (uint32_t)nf->p[0];
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *p = pkt(a, i); uint32_t len = a->desc[i].len;
    uint8_t *ip = ipv4_at(p, len);
    if (!ip || be32(ip + 16) != vip) { verdict(a, i, NF_PASS); continue; }
    uint8_t *l4 = l4_at(ip, p, len);
    uint32_t h = be32(ip + 12) * 0x9e3779b1u ^ ip[9];
    if (l4) h ^= (be16(l4) << 16 | be16(l4 + 2)) * 0x85ebca6bu;
    h ^= h >> 15;
    uint32_t b = nf->table[h % MAGLEV_M];
    rewrite_addr(ip, l4, 1, nf->backend[b]);
    memmove(p + 6, p, 6);
    uint64_t mac = nf->mac[b];
    for (int k = 0; k < 6; k++) p[k] = (uint8_t)(mac >> (40 - 8 * k));
    nf->counters[b]++;
    verdict(a, i, NF_TX);
  }
}

/** FNV-1a of the backend's address as dotted text: the Wasm sample hashes the name its config gives. */
static uint32_t fnv(uint32_t addr, uint32_t seed) {
  char text[16];
  int n = 0;
  for (int k = 3; k >= 0; k--) {
    uint32_t o = (addr >> (8 * k)) & 0xff;
    if (o >= 100) text[n++] = (char)('0' + o / 100);
    if (o >= 10) text[n++] = (char)('0' + o / 10 % 10);
    text[n++] = (char)('0' + o % 10);
    if (k) text[n++] = '.';
  }
  uint32_t h = 2166136261u ^ seed;
  for (int i = 0; i < n; i++) { h ^= (uint8_t)text[i]; h *= 16777619u; }
  return h;
}

/** Maglev's table population, the same algorithm as the Wasm sample's. */
void maglev_populate(nf_native *nf) {
  uint32_t offset[32], skip[32], next[32] = {0};
  for (uint32_t i = 0; i < nf->backends; i++) { offset[i] = fnv(nf->backend[i], 0) % MAGLEV_M; skip[i] = fnv(nf->backend[i], 0x5bd1e995) % (MAGLEV_M - 1) + 1; }
  memset(nf->table, 0xff, sizeof nf->table);
  for (uint32_t filled = 0; filled < MAGLEV_M;) {
    for (uint32_t i = 0; i < nf->backends && filled < MAGLEV_M; i++) {
      uint32_t c = (offset[i] + next[i] * skip[i]) % MAGLEV_M;
      while (nf->table[c] != 0xff) { next[i]++; c = (offset[i] + next[i] * skip[i]) % MAGLEV_M; }
      nf->table[c] = (uint8_t)i; next[i]++; filled++;
    }
  }
}

/** portblock (nf/c/portblock.c, its AssemblyScript and Rust twins): block listed ports, counting
 *  hits per port in an array map; rewrite listed destination ports, fixing the checksum. */
void portblock(nf_native *nf, nf_area *a, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *p = pkt(a, i); uint32_t len = a->desc[i].len;
    uint8_t *ip = ipv4_at(p, len), *ip6 = ip ? NULL : ipv6_at(p, len);
    verdict(a, i, NF_PASS);
    uint8_t *l4 = NULL, proto = 0;
    if (ip && !(be16(ip + 6) & 0x3fff)) { proto = ip[9]; l4 = ip + ((ip[0] & 15u) << 2); }
    else if (ip6) l4 = upper6(ip6, &proto);
    if (!l4 || (proto != 6 && proto != 17) || l4 + 4 > p + len) continue;
    uint32_t dport = be16(l4 + 2);
    if (nf->blocked[dport >> 3] & (1u << (dport & 7))) {
      verdict(a, i, NF_DROP);
      int64_t h = map_get(&nf->maps[0], dport, 0);
      map_put(&nf->maps[0], dport, 0, h == NF_ABSENT ? 1 : h + 1);
      continue;
    }
    uint32_t to = nf->rewrite_to[dport];
    if (!to || l4 + (proto == 6 ? 18 : 8) > p + len) continue;      // the checksum must be in the packet
    rewrite_port(proto, l4, 1, to);
    nf->counters[0]++;
  }
}

int nf_native_init(nf_native *nf, const char *name, const double *p, size_t np, const double *e, size_t ne) {
  for (size_t i = 0; i < np && i < 8; i++) nf->p[i] = (uint64_t)p[i];
  if (!strcmp(name, "flowmon")) { nf->process = flowmon; return map_init(&nf->maps[0], NF_MAP_LRU, (uint32_t)nf->p[0]); }
  if (!strcmp(name, "ratelimit")) { nf->process = ratelimit; return map_init(&nf->maps[0], NF_MAP_LRU, (uint32_t)nf->p[2]); }
  if (!strcmp(name, "firewall")) {
    nf->process = firewall;
    for (size_t i = 0; i + 1 < ne; i += 2) {
      int pi = e[i] == 1 ? 0 : e[i] == 6 ? 1 : e[i] == 17 ? 2 : -1;
      int port = (int)e[i + 1];
      if (pi < 0 || port > 65535) continue;
      if (port < 0) nf->any_port[pi] = 1; else nf->port_bits[pi][port >> 3] |= (uint8_t)(1u << (port & 7));
    }
    return map_init(&nf->maps[0], NF_MAP_LRU, (uint32_t)nf->p[1]);
  }
  if (!strcmp(name, "nat")) {
    nf->process = nat; nf->cursor = (uint32_t)nf->p[3];
    return map_init(&nf->maps[0], NF_MAP_HASH, (uint32_t)nf->p[5]) | map_init(&nf->maps[1], NF_MAP_HASH, (uint32_t)nf->p[5]);
  }
  if (!strcmp(name, "maglev")) {
    nf->process = maglev;
    for (size_t i = 0; i + 1 < ne && nf->backends < 32; i += 2) { nf->backend[nf->backends] = (uint32_t)e[i]; nf->mac[nf->backends++] = (uint64_t)e[i + 1]; }
    if (nf->backends == 0) return -1;
    maglev_populate(nf);
    return 0;
  }
  if (!strcmp(name, "portblock")) {
    // extra: the blocked ports, -1, then pairs of a port and the port it is rewritten to.
    nf->process = portblock;
    size_t i = 0;
    for (; i < ne && e[i] >= 0; i++) if (e[i] <= 65535) nf->blocked[(uint32_t)e[i] >> 3] |= (uint8_t)(1u << ((uint32_t)e[i] & 7));
    for (i++; i + 1 < ne; i += 2) if (e[i] >= 0 && e[i] <= 65535) nf->rewrite_to[(uint32_t)e[i]] = (uint16_t)e[i + 1];
    return map_init(&nf->maps[0], NF_MAP_ARRAY, 65536);
  }
  return -1;
}

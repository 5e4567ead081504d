/* The demiwasm NF ABI for C (clang --target=wasm32-wasi). The same contract as the
 * AssemblyScript SDK (assembly/nf/sdk.ts); docs/nf.md is the spec.
 *
 * Build: clang --target=wasm32-wasi --sysroot=/usr -O2 -nostartfiles -Wl,--no-entry
 *        -Wl,--import-memory -Wl,--export=nf_area -Wl,--export=nf_init -Wl,--export=nf_process
 *        -I nf/c -o my.wasm my.c
 * The module imports its memory (the host sizes it from the manifest) and may import only the
 * functions below and, from WASI preview1, clock_time_get, random_get, fd_write (stdout and
 * stderr, as log lines) and proc_exit (a trap). Anything else is refused at load. */
#ifndef DEMIWASM_NF_H
#define DEMIWASM_NF_H
#include <stdint.h>
#include <string.h>
#include "demiwasm_nf_abi.h"

#define NF_IMPORT(name) __attribute__((import_module("nf"), import_name(name)))
NF_IMPORT("map_get") int64_t nf_priv_get(uint32_t id, int64_t k0, int64_t k1);
NF_IMPORT("map_put") int32_t nf_priv_put(uint32_t id, int64_t k0, int64_t k1, int64_t v);
NF_IMPORT("map_del") int32_t nf_priv_del(uint32_t id, int64_t k0, int64_t k1);
NF_IMPORT("shared_get") int64_t nf_shared_get(uint32_t id, int64_t k0, int64_t k1);
NF_IMPORT("shared_put") int32_t nf_shared_put(uint32_t id, int64_t k0, int64_t k1, int64_t v);
NF_IMPORT("shared_del") int32_t nf_shared_del(uint32_t id, int64_t k0, int64_t k1);
NF_IMPORT("map_open") int32_t nf_map_open(const char *name, uint32_t len);
NF_IMPORT("config") int32_t nf_config(const char *key, uint32_t key_len, char *out, uint32_t cap);
NF_IMPORT("log") void nf_log(const char *msg, uint32_t len);

/* The burst area the host fills; define it once with NF_DEFINE_AREA in the NF's source. */
extern nf_area_t nf_burst;
#define NF_DEFINE_AREA nf_area_t nf_burst __attribute__((aligned(16))); \
  uintptr_t nf_area(void) { return (uintptr_t)&nf_burst; }

static inline uint8_t *nf_pkt(uint32_t i) { return (uint8_t *)&nf_burst + nf_burst.desc[i].off; }
/* Packet i's whole length on the wire: more than desc[i].len when the manifest's snaplen cut it. */
static inline uint32_t nf_wire_len(uint32_t i) { return nf_burst.desc[i].arg; }
static inline void nf_verdict(uint32_t i, uint32_t v, uint32_t arg) { nf_burst.desc[i].verdict = v; nf_burst.desc[i].arg = arg; }
/* Adds delta to counter `index` (below NF_COUNTERS; others are ignored): a store into the area. */
static inline void nf_counter_add(uint32_t index, int64_t delta) {
  if (index < NF_COUNTERS) nf_burst.counters[index] = (int64_t)((uint64_t)nf_burst.counters[index] + (uint64_t)delta);
}

static inline int64_t nf_map_get(uint32_t id, int64_t k0, int64_t k1) { return id >= NF_SHARED ? nf_shared_get(id - NF_SHARED, k0, k1) : nf_priv_get(id, k0, k1); }
static inline int32_t nf_map_put(uint32_t id, int64_t k0, int64_t k1, int64_t v) { return id >= NF_SHARED ? nf_shared_put(id - NF_SHARED, k0, k1, v) : nf_priv_put(id, k0, k1, v); }

/* A config value as an integer, or dflt. */
static inline int64_t nf_config_int(const char *key, int64_t dflt) {
  char buf[32];
  int32_t n = nf_config(key, (uint32_t)strlen(key), buf, sizeof buf - 1);
  if (n <= 0 || n >= (int32_t)sizeof buf) return dflt;
  int64_t v = 0;
  for (int32_t i = 0; i < n; i++) { if (buf[i] < '0' || buf[i] > '9') return dflt; v = v * 10 + (buf[i] - '0'); }
  return v;
}

static inline uint32_t nf_be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static inline void nf_put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* The IPv4 header of a whole IPv4 frame, or 0. */
static inline uint8_t *nf_ipv4(uint8_t *p, uint32_t len) {
  if (len < 34 || nf_be16(p + 12) != 0x0800 || (p[14] >> 4) != 4 || (p[14] & 15) < 5 || 14u + ((p[14] & 15u) << 2) > len) return 0;
  return p + 14;
}

/* ---- IPv6 (RFC 8200), as assembly/nf/sdk.ts has it ---- */

/* The IPv6 header of a whole IPv6 frame, or 0. */
static inline uint8_t *nf_ipv6(uint8_t *p, uint32_t len) {
  if (len < 54 || nf_be16(p + 12) != 0x86dd || (p[14] >> 4) != 6 || 54u + nf_be16(p + 18) > len) return 0;
  return p + 14;
}

/* The upper-layer header past hop-by-hop, routing and destination options headers and a first
 * fragment's header (at most 8), with 8 of its bytes in the packet; *proto gets its protocol.
 * 0 when the chain ends outside the packet, is longer, or the packet is a later fragment. */
static inline uint8_t *nf_upper6(uint8_t *ip, uint8_t *proto) {
  uint32_t end = 40 + nf_be16(ip + 4), off = 40;
  uint8_t nh = ip[6];
  for (int n = 0; n < 8; n++) {
    if (off + 8 > end) return 0;
    if (nh == 44) {
      if (nf_be16(ip + off + 2) & 0xfff8) return 0;
      nh = ip[off];
      off += 8;
    } else if (nh == 0 || nh == 43 || nh == 60) {
      uint8_t next = ip[off];
      off += ((uint32_t)ip[off + 1] + 1) << 3;
      nh = next;
    } else {
      *proto = nh;
      return ip + off;
    }
  }
  return 0;
}

/* ---- checksums (RFC 1624: HC' = ~(~HC + ~m + m')) ---- */
static inline uint32_t nf_csum_replace16(uint32_t sum, uint32_t from, uint32_t to) {
  uint32_t s = (~sum & 0xffff) + (~from & 0xffff) + (to & 0xffff);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}
static inline uint32_t nf_csum_replace32(uint32_t sum, uint32_t from, uint32_t to) {
  return nf_csum_replace16(nf_csum_replace16(sum, from >> 16, to >> 16), from & 0xffff, to & 0xffff);
}

/* Rewrites a TCP or UDP port (dst = 1: the destination port) in the header at l4 of the packet
 * p of len bytes, fixing the checksum; 0 when the header is not whole in the packet. A UDP
 * checksum of 0 (none, IPv4) stays 0. */
static inline int nf_rewrite_port(uint8_t *p, uint32_t len, uint8_t *l4, uint8_t proto, int dst, uint32_t port) {
  uint8_t *c = l4 + (proto == 6 ? 16 : 6), *at = l4 + (dst ? 2 : 0);
  if (c + 2 > p + len) return 0;
  uint32_t old = nf_be16(at);
  nf_put16(at, port);
  uint32_t sum = nf_be16(c);
  if (proto == 17 && sum == 0) return 1;
  uint32_t n = nf_csum_replace16(sum, old, port);
  nf_put16(c, proto == 17 && n == 0 ? 0xffff : n);
  return 1;
}

/* Rewrites the IPv6 source (dst = 0) or destination address to the 16 bytes at addr, fixing
 * the checksum of the TCP, UDP or ICMPv6 header at l4 (protocol proto, from nf_upper6), whose
 * pseudo-header covers it (RFC 8200 §8.1). */
static inline void nf_rewrite_addr6(uint8_t *ip, uint8_t *l4, uint8_t proto, int dst, const uint8_t addr[16]) {
  uint8_t *at = ip + (dst ? 24 : 8);
  uint8_t *c = proto == 6 ? l4 + 16 : proto == 17 ? l4 + 6 : proto == 58 ? l4 + 2 : 0;
  uint32_t sum = c ? nf_be16(c) : 0;
  for (int w = 0; w < 16; w += 2) {
    sum = nf_csum_replace16(sum, nf_be16(at + w), nf_be16(addr + w));
    at[w] = addr[w]; at[w + 1] = addr[w + 1];
  }
  if (c) nf_put16(c, proto == 17 && sum == 0 ? 0xffff : sum);
}
#endif

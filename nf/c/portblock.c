/* The C sample NF, the same logic as nf/rust/portblock.rs and assembly/nf/samples/portblock.ts
 * (a test holds all three to the same verdicts and bytes): drops TCP and UDP packets, over IPv4
 * or IPv6, to the destination ports listed in config `block` ("53,6379"), counting each refusal
 * per port in the array map "hits"; rewrites the destination port of the pairs in `rewrite`
 * ("8080=80"; to port 0 is refused), fixing the checksum, counting them in counter 0; passes
 * everything else. */
#include "demiwasm_nf.h"

NF_DEFINE_AREA

static uint8_t blocked[65536 / 8];
static uint16_t rewrite_to[65536];      /* the new port; 0: none (0 is no port to send to) */
static int32_t hits = -1;

/* Calls f(port, ctx) for each number in list (any other byte separates); nonzero past 65535. */
static int each_port(const char *list, int32_t n, void (*f)(uint32_t, void *), void *ctx) {
  uint32_t port = 0;
  int digits = 0;
  for (int32_t i = 0; i <= n; i++) {
    if (i < n && list[i] >= '0' && list[i] <= '9') { if (port <= 65535) port = port * 10 + (uint32_t)(list[i] - '0'); digits = 1; continue; }
    if (digits) { if (port > 65535) return 1; f(port, ctx); }
    port = 0;
    digits = 0;
  }
  return 0;
}

static void block_port(uint32_t port, void *ctx) { (void)ctx; blocked[port >> 3] |= (uint8_t)(1u << (port & 7)); }

struct pairs { int32_t from; int bad; };
static void pair_port(uint32_t port, void *ctx) {
  struct pairs *p = ctx;
  if (p->from < 0) { p->from = (int32_t)port; return; }
  if (port == 0) p->bad = 1; else rewrite_to[p->from] = (uint16_t)port;
  p->from = -1;
}

int32_t nf_init(void) {
  char list[1024];
  int32_t n = nf_config("block", 5, list, sizeof list);
  if (n > (int32_t)sizeof list) return 2;
  if (n > 0 && each_port(list, n, block_port, 0)) return 3;
  n = nf_config("rewrite", 7, list, sizeof list);
  if (n > (int32_t)sizeof list) return 2;
  struct pairs p = { -1, 0 };
  if (n > 0 && (each_port(list, n, pair_port, &p) || p.from >= 0 || p.bad)) return 3;
  hits = nf_map_open("hits", 4);
  return hits < 0 ? 1 : 0;
}

void nf_process(uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len = nf_burst.desc[i].len;
    uint8_t *p = nf_pkt(i), *ip = nf_ipv4(p, len), *ip6 = ip ? 0 : nf_ipv6(p, len);
    nf_verdict(i, NF_PASS, 0);
    uint8_t *l4 = 0, proto = 0;
    if (ip && !(nf_be16(ip + 6) & 0x3fff)) { proto = ip[9]; l4 = ip + ((ip[0] & 15u) << 2); }
    else if (ip6) l4 = nf_upper6(ip6, &proto);
    if (!l4 || (proto != 6 && proto != 17) || l4 + 4 > p + len) continue;
    uint32_t dport = nf_be16(l4 + 2);
    if (blocked[dport >> 3] & (1u << (dport & 7))) {
      nf_verdict(i, NF_DROP, 0);
      int64_t h = nf_map_get((uint32_t)hits, dport, 0);
      nf_map_put((uint32_t)hits, dport, 0, h == NF_ABSENT ? 1 : h + 1);
    } else if (rewrite_to[dport] && nf_rewrite_port(p, len, l4, proto, 1, rewrite_to[dport])) {
      nf_counter_add(0, 1);
    }
  }
}

/* The C sample NF: drops TCP and UDP packets, over IPv4 or IPv6, to the destination ports listed
 * in config `block` ("53,6379"), counting each refusal per port in an array map "hits" indexed by
 * port; passes everything else. */
#include "demiwasm_nf.h"

NF_DEFINE_AREA

static uint8_t blocked[65536 / 8];
static int32_t hits = -1;

int32_t nf_init(void) {
  char list[1024];
  int32_t n = nf_config("block", 5, list, sizeof list - 1);
  if (n < 0) n = 0;
  if (n >= (int32_t)sizeof list) return 2;
  uint32_t port = 0;
  int digits = 0;
  for (int32_t i = 0; i <= n; i++) {
    if (i < n && list[i] >= '0' && list[i] <= '9') { port = port * 10 + (uint32_t)(list[i] - '0'); digits++; continue; }
    if (digits) { if (port > 65535) return 3; blocked[port >> 3] |= (uint8_t)(1u << (port & 7)); }
    port = 0;
    digits = 0;
  }
  hits = nf_map_open("hits", 4);
  return hits < 0 ? 1 : 0;
}

void nf_process(uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *p = nf_pkt(i), *ip = nf_ipv4(p, nf_burst.desc[i].len), *ip6 = ip ? 0 : nf_ipv6(p, nf_burst.desc[i].len);
    nf_verdict(i, NF_PASS, 0);
    uint8_t *l4 = 0, proto = 0;
    if (ip && !(nf_be16(ip + 6) & 0x3fff)) { proto = ip[9]; l4 = ip + ((ip[0] & 15u) << 2); }
    else if (ip6) l4 = nf_upper6(ip6, &proto);
    if (!l4 || (proto != 6 && proto != 17) || l4 + 4 > p + nf_burst.desc[i].len) continue;
    uint32_t dport = nf_be16(l4 + 2);
    if (!(blocked[dport >> 3] & (1u << (dport & 7)))) continue;
    nf_verdict(i, NF_DROP, 0);
    int64_t h = nf_map_get((uint32_t)hits, dport, 0);
    nf_map_put((uint32_t)hits, dport, 0, h == NF_ABSENT ? 1 : h + 1);
  }
}

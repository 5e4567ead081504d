// What the benchmark and the bad-input tests need natively: in-process ring ports, frames put on
// a wire, malformed mbufs a PMD could return, and the L2 reflect loop written in C (the baseline
// the Wasm reflect is measured against).
#include "dpdk.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>
#include <rte_errno.h>

// Ring ports we made, and how many of them use each ring: a port goes away when the datapath
// that opened it closes, and a ring when no port uses it any more.
static struct { struct rte_ring *rx, *tx; uint8_t made, unclaimed; } ring_ports[RTE_MAX_ETHPORTS];

static int ring_users(const struct rte_ring *r) {
  int n = 0;
  for (int p = 0; p < RTE_MAX_ETHPORTS; p++) n += ring_ports[p].made && (ring_ports[p].rx == r) + (ring_ports[p].tx == r);
  return n;
}

static struct rte_ring *ring_get(const char *name) {
  struct rte_ring *r = rte_ring_lookup(name);
  return r ? r : rte_ring_create(name, 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
}

/** An in-process port that receives from ring `rx` and sends into ring `tx` (a wire when two
 *  ports cross them, a loop when they are the same). Returns 0 or a negative errno. */
int ring_port(const char *name, const char *rx, const char *tx) {
  uint16_t id;
  char full[RTE_ETH_NAME_MAX_LEN];
  snprintf(full, sizeof full, "net_ring_%s", name);
  if (rte_eth_dev_get_port_by_name(full, &id) == 0) return 0;
  struct rte_ring *r = ring_get(rx), *t = ring_get(tx);
  if (r == NULL || t == NULL) return -rte_errno;
  int port = rte_eth_from_rings(name, &r, 1, &t, 1, SOCKET_ID_ANY);
  if (port < 0) return -rte_errno;
  ring_ports[port].rx = r; ring_ports[port].tx = t;
  ring_ports[port].made = 1; ring_ports[port].unclaimed = 1;
  return 0;
}

/** True once for a ring port we made: the datapath that opens it first owns (and removes) it. */
int ring_port_claim(uint16_t port) {
  if (!ring_ports[port].made || !ring_ports[port].unclaimed) return 0;
  ring_ports[port].unclaimed = 0;
  return 1;
}

/** After its port is removed: frees the port's rings that no other port uses. */
void ring_port_release(uint16_t port) {
  if (!ring_ports[port].made) return;
  struct rte_ring *r = ring_ports[port].rx, *t = ring_ports[port].tx;
  ring_ports[port].made = 0;
  // Frames still in a freed ring would belong to pools that are gone: drop them with the ring.
  if (ring_users(r) == 0) rte_ring_free(r);
  if (t != r && ring_users(t) == 0) rte_ring_free(t);
}

/** Appends an Ethernet frame of `len` bytes (IPv4 ethertype, zero payload); 0 if it cannot. */
static int frame(struct rte_mbuf *m, uint32_t len, uint32_t i) {
  static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01}, src[6] = {0x02, 0, 0, 0, 0, 0x02};
  uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
  if (p == NULL || len < 18) return 0;
  memset(p, 0, len);
  memcpy(p, dst, 6); memcpy(p + 6, src, 6);
  p[12] = 0x08; p[13] = 0x00;
  memcpy(p + 14, &i, sizeof i);
  return 1;
}

/** Puts `count` frames from the port's own pool on its wire; returns how many went. */
uint32_t inject(wport_t *w, uint32_t count, uint32_t len) {
  uint32_t done = 0;
  while (done < count) {
    struct rte_mbuf *pkts[32];
    uint16_t k = 0;
    for (; k < 32 && done + k < count; k++) {
      struct rte_mbuf *m = rte_pktmbuf_alloc(w->raw ? w->mp : w->copy_mp);
      if (m == NULL) break;
      if (!frame(m, len, done + k)) { rte_pktmbuf_free(m); break; }
      pkts[k] = m;
    }
    if (k == 0) break;
    uint16_t sent = rte_eth_tx_burst(w->port, w->queue, pkts, k);
    for (uint16_t i = sent; i < k; i++) rte_pktmbuf_free(pkts[i]);
    done += sent;
    if (sent < k) break;
  }
  return done;
}

/** Enqueues one malformed mbuf into ring `ring` as a misbehaving PMD would hand it over. */
int inject_bad(const char *ring, const char *kind) {
  static struct rte_mempool *big;
  if (big == NULL) big = rte_pktmbuf_pool_create("dwbad", 1024, 0, 0, 8192 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
  struct rte_ring *r = rte_ring_lookup(ring);
  if (big == NULL || r == NULL) return -ENOENT;
  struct rte_mbuf *m = rte_pktmbuf_alloc(big);
  if (m == NULL) return -ENOBUFS;
  if (strcmp(kind, "chained") == 0) {
    struct rte_mbuf *tail = rte_pktmbuf_alloc(big);
    if (tail == NULL) { rte_pktmbuf_free(m); return -ENOBUFS; }
    frame(m, 60, 0);
    frame(tail, 60, 1);
    rte_pktmbuf_chain(m, tail);
  } else if (strcmp(kind, "too-long") == 0) {
    frame(m, 4000, 0);
  } else if (strcmp(kind, "garbage-length") == 0) {
    frame(m, 60, 0);
    m->data_len = 65535;                     // past the end of the buffer
    m->pkt_len = 65535;
  } else if (strcmp(kind, "length-mismatch") == 0) {
    frame(m, 60, 0);
    m->pkt_len = 1000;                       // one segment that claims more than it holds
  } else {
    rte_pktmbuf_free(m);
    return -EINVAL;
  }
  if (rte_ring_enqueue(r, m) != 0) { rte_pktmbuf_free(m); return -ENOBUFS; }
  return 0;
}

static inline double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

/** The reflect loop all in C over a copy-mode port: rx burst, swap MACs, tx burst, `bursts` times.
 *  Returns packets reflected; *ns the time taken. */
uint64_t native_reflect(wport_t *w, uint64_t bursts, double *ns) {
  struct rte_mbuf *pkts[64];
  uint64_t total = 0;
  double t0 = now_ns();
  for (uint64_t b = 0; b < bursts; b++) {
    uint16_t n = rte_eth_rx_burst(w->port, w->queue, pkts, w->burst);
    for (uint16_t i = 0; i < n; i++) {
      uint8_t *p = rte_pktmbuf_mtod(pkts[i], uint8_t *);
      uint8_t t[6];
      memcpy(t, p, 6); memcpy(p, p + 6, 6); memcpy(p + 6, t, 6);
    }
    uint16_t sent = rte_eth_tx_burst(w->port, w->queue, pkts, n);
    for (uint16_t i = sent; i < n; i++) rte_pktmbuf_free(pkts[i]);
    total += sent;
  }
  *ns = now_ns() - t0;
  return total;
}

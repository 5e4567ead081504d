// One ethdev queue pair bound to one Wasm datapath, in DPDK l2fwd's shape: a burst per call per
// direction, descriptors through the Wasm rings, per-port drop counters for every bad frame.
#include "dpdk.h"
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <rte_ethdev.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_memory.h>

#define MAX_BURST 64
// Bursts a benchmark turn (raw_rx) takes at most: one native call and one Wasm call move them all.
#define RAW_BURSTS 4
static char errbuf[512];

static const char *fail(const char *what, const wport_t *w, int rc) {
  snprintf(errbuf, sizeof errbuf, "demiwasm: dpdk %s failed on '%s': %s", what, w->name, rte_strerror(rc < 0 ? -rc : rc));
  return errbuf;
}

/** Probes a device unless it exists: a vdev spec "net_tap0,iface=x" or a PCI address. */
static const char *probe(wport_t *w, const char *device) {
  const char *comma = strchr(device, ',');
  size_t n = comma ? (size_t)(comma - device) : strlen(device);
  if (n == 0 || n >= sizeof w->name) { snprintf(errbuf, sizeof errbuf, "demiwasm: dpdk device '%s' has no name", device); return errbuf; }
  memcpy(w->name, device, n);
  w->name[n] = 0;
  uint16_t id;
  if (rte_eth_dev_get_port_by_name(w->name, &id) == 0) {
    w->port = id;
    w->owns_device = ring_port_claim(id);    // a ring port ringPort made goes with its first datapath
    return NULL;
  }
  int rc = strncmp(w->name, "net_", 4) == 0 ? rte_vdev_init(w->name, comma ? comma + 1 : "") : rte_dev_probe(device);
  if (rc != 0) return fail("device probe", w, rc);
  if (rte_eth_dev_get_port_by_name(w->name, &id) != 0) {
    snprintf(errbuf, sizeof errbuf, "demiwasm: dpdk device '%s' was probed but is not an Ethernet port", w->name);
    return errbuf;
  }
  w->port = id;
  w->owns_device = 1;
  return NULL;
}

// Ports whose queues are shared out among several datapaths (workers): configured once with N
// queue pairs (RSS where the PMD offers it), each queue set up by its own datapath, started once.
static struct { uint16_t queues, users; uint8_t configured, started, owns_device; } shared[RTE_MAX_ETHPORTS];

const char *port_configure(const char *device, uint16_t queues) {
  wport_t probe_w;
  memset(&probe_w, 0, sizeof probe_w);
  const char *err = probe(&probe_w, device);
  if (err) return err;
  uint16_t port = probe_w.port;
  struct rte_eth_dev_info info;
  int rc;
  if ((rc = rte_eth_dev_info_get(port, &info)) != 0) return fail("device info", &probe_w, rc);
  if (queues == 0 || queues > info.max_rx_queues || queues > info.max_tx_queues) {
    snprintf(errbuf, sizeof errbuf, "demiwasm: dpdk device '%s' has %u queues; %u asked", probe_w.name, info.max_rx_queues, queues);
    return errbuf;
  }
  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof conf);
  uint64_t rss = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP);
  if (queues > 1 && rss != 0) {               // spread flows in the NIC; otherwise the device does (tun) or not
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss;
  }
  if ((rc = rte_eth_dev_configure(port, queues, queues, &conf)) != 0) return fail("configure", &probe_w, rc);
  shared[port].queues = queues;
  shared[port].configured = 1;
  shared[port].started = 0;
  shared[port].users = 0;
  shared[port].owns_device = (uint8_t)probe_w.owns_device;
  return NULL;
}

/** Starts a shared port once every queue has its datapath. */
const char *port_start_shared(const char *device) {
  char name[64];
  const char *comma = strchr(device, ',');
  size_t n = comma ? (size_t)(comma - device) : strlen(device);
  uint16_t port;
  if (n >= sizeof name) return "demiwasm: dpdk device name too long";
  memcpy(name, device, n); name[n] = 0;
  if (rte_eth_dev_get_port_by_name(name, &port) != 0 || !shared[port].configured) {
    snprintf(errbuf, sizeof errbuf, "demiwasm: dpdk device '%s' was not configured for queues", name);
    return errbuf;
  }
  int rc = rte_eth_dev_start(port);
  if (rc != 0) { wport_t w; memset(&w, 0, sizeof w); snprintf(w.name, sizeof w.name, "%s", name); return fail("port start", &w, rc); }
  rte_eth_promiscuous_enable(port);
  shared[port].started = 1;
  return NULL;
}

/** Whether fd is an AF_XDP socket. */
static int is_xsk(int fd) {
  int domain = 0;
  socklen_t len = sizeof domain;
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_XDP;
}

/** Marks in `seen` (one bit per descriptor below XSK_FDS) the AF_XDP sockets open now. */
#define XSK_FDS 4096
static void xsk_fds(uint8_t seen[XSK_FDS / 8]) {
  memset(seen, 0, XSK_FDS / 8);
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    int fd = atoi(e->d_name);
    if (fd > 0 && fd < XSK_FDS && is_xsk(fd)) seen[fd / 8] |= (uint8_t)(1 << (fd % 8));
  }
  closedir(d);
}

/** The fill ring the af_xdp PMD keeps stocked from its pool (libxdp's XSK_RING_PROD__DEFAULT_NUM_DESCS). */
#define AF_XDP_FILL 2048

/**
 * An mbuf pool whose objects lie back to back. The af_xdp PMD registers its pool's memory with
 * the kernel as a umem of (objects × object size) bytes from the first object; a pool made the
 * usual way keeps each object inside one page, and on 4 KiB pages (EAL --no-huge) the gaps that
 * leaves push later objects past that span, whose frames the kernel then refuses (counted in
 * XDP_STATISTICS tx_invalid_descs; the port went quiet after some hundreds of frames). Objects
 * that need no physically contiguous memory may cross pages, so this pool has no gaps.
 */
static struct rte_mempool *packed_pool(const char *name, unsigned n) {
  struct rte_mempool *mp = rte_mempool_create_empty(name, n, sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE, 0,
                                                    sizeof(struct rte_pktmbuf_pool_private), SOCKET_ID_ANY, RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (mp == NULL) return NULL;
  struct rte_pktmbuf_pool_private priv = { .mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE, .mbuf_priv_size = 0 };
  if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0) { rte_mempool_free(mp); return NULL; }
  rte_pktmbuf_pool_init(mp, &priv);
  if (rte_mempool_populate_default(mp) < 0) { rte_mempool_free(mp); return NULL; }
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
  return mp;
}

const char *port_open(wport_t *w, const char *device, uint16_t rx_desc, uint16_t tx_desc) {
  w->xsk_fd = -1;
  const char *err = probe(w, device);
  if (err) return err;
  char pool_name[RTE_MEMPOOL_NAMESIZE];
  static unsigned seq;
  unsigned id = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);
  int rc;
  snprintf(pool_name, sizeof pool_name, "dwcopy%u", id);
  // AF_XDP (net_af_xdp): the PMD's umem must be the memory of the pool it receives into, which it
  // registers with the kernel; the zero-copy pool's data buffers are external (Wasm memory), so
  // it cannot ("Failed to create umem"). Such a port copies between its own mbufs and the Wasm
  // slots (counted as rxCopied / txCopied), and its pool (packed_pool) also stocks the PMD's fill
  // queue, which takes AF_XDP_FILL mbufs at queue setup.
  const int af_xdp = strncmp(device, "net_af_xdp", 10) == 0;
  if (af_xdp) w->zero_copy = 0;
  const unsigned copies = 2 * (rx_desc + tx_desc) + 2 * MAX_BURST;
  w->copy_mp = af_xdp ? packed_pool(pool_name, copies + AF_XDP_FILL)
                      : rte_pktmbuf_pool_create(pool_name, copies, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (w->copy_mp == NULL) return fail("copy pool", w, rte_errno);
  if (w->zero_copy) {
    rc = rte_extmem_register(w->mem + w->region_off, w->region_len, NULL, 0, 4096);
    if (rc != 0 && rte_errno != EEXIST) return fail("rte_extmem_register of the Wasm pool", w, rte_errno);
    snprintf(pool_name, sizeof pool_name, "dwslots%u", id);
    w->mp = wasm_pool_create(w, pool_name);
    if (w->mp == NULL) return fail("zero-copy mbuf pool over the Wasm slots", w, rte_errno);
  } else {
    w->mp = w->copy_mp;
  }
  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof conf);
  struct rte_eth_dev_info info;
  if ((rc = rte_eth_dev_info_get(w->port, &info)) != 0) return fail("device info", w, rc);
  if (w->queue >= info.max_rx_queues || w->queue >= info.max_tx_queues) {
    snprintf(errbuf, sizeof errbuf, "demiwasm: dpdk device '%s' has %u queues; queue %u asked", w->name, info.max_rx_queues, w->queue);
    return errbuf;
  }
  w->shared = shared[w->port].configured;
  if (w->shared) {
    if (w->queue >= shared[w->port].queues || shared[w->port].started) {
      snprintf(errbuf, sizeof errbuf, "demiwasm: dpdk device '%s' was configured with %u queues%s; queue %u asked", w->name,
               shared[w->port].queues, shared[w->port].started ? " and already started" : "", w->queue);
      return errbuf;
    }
    w->owns_device = 0;                        // the last of its datapaths removes it
  } else if ((rc = rte_eth_dev_configure(w->port, w->queue + 1, w->queue + 1, &conf)) != 0) return fail("configure", w, rc);
  if ((rc = rte_eth_dev_adjust_nb_rx_tx_desc(w->port, &rx_desc, &tx_desc)) != 0) return fail("descriptor count", w, rc);
  // The af_xdp PMD's socket, found as the AF_XDP descriptor the queue setup opens (see port_close).
  static uint8_t xsk_before[XSK_FDS / 8], xsk_after[XSK_FDS / 8];
  if (af_xdp) xsk_fds(xsk_before);
  if ((rc = rte_eth_rx_queue_setup(w->port, w->queue, rx_desc, rte_eth_dev_socket_id(w->port), NULL, w->mp)) != 0) {
    if (rc == -ENOMEM) {
      snprintf(errbuf, sizeof errbuf, "demiwasm: dpdk rx queue setup on '%s' found too few buffers for %u descriptors: "
               "raise pool.small_buffers or lower dpdk.rx_desc", w->name, rx_desc);
      return errbuf;
    }
    return fail("rx queue setup", w, rc);
  }
  if ((rc = rte_eth_tx_queue_setup(w->port, w->queue, tx_desc, rte_eth_dev_socket_id(w->port), NULL)) != 0) return fail("tx queue setup", w, rc);
  if (af_xdp) {
    xsk_fds(xsk_after);
    for (int fd = 1; fd < XSK_FDS && w->xsk_fd < 0; fd++) {
      if ((xsk_after[fd / 8] & ~xsk_before[fd / 8]) & (1 << (fd % 8))) w->xsk_fd = fd;
    }
  }
  if (w->shared) { shared[w->port].users++; return NULL; }   // port_start_shared starts it
  if ((rc = rte_eth_dev_start(w->port)) != 0) return fail("port start", w, rc);
  rte_eth_promiscuous_enable(w->port);   // the stack filters by its own MAC
  w->started = 1;
  return NULL;
}

void port_close(wport_t *w) {
  if (w->shared && w->mp) {
    // A queue of a shared port: the port stops when the first of its datapaths closes (the
    // device frees every queue's buffers then, while each datapath is still there to take them
    // back), and goes away, if we made it, with the last.
    if (shared[w->port].started) { rte_eth_dev_stop(w->port); shared[w->port].started = 0; }
    if (--shared[w->port].users == 0) {
      shared[w->port].configured = 0;
      w->owns_device = shared[w->port].owns_device;
    }
  }
  if (w->started) { rte_eth_dev_stop(w->port); w->started = 0; }
  if (w->owns_device) {
    // Removing the device closes the port and, for net_tap, deletes the kernel's TAP interface.
    struct rte_eth_dev_info info;
    if (rte_eth_dev_info_get(w->port, &info) == 0 && info.device != NULL) rte_dev_remove(info.device);
    else rte_eth_dev_close(w->port);
    ring_port_release(w->port);
    w->owns_device = 0;
    // DPDK 22.11's af_xdp PMD deletes its socket but not the umem that shares its descriptor, so
    // the socket stays bound to the queue (a second port on it: EBUSY) and the kernel keeps the
    // pool's pages. Still an AF_XDP socket once the device is gone means it leaked: close it.
    // (Ports open and close under the control mutex: no other AF_XDP socket took its number.)
    if (w->xsk_fd >= 0 && is_xsk(w->xsk_fd)) close(w->xsk_fd);
    w->xsk_fd = -1;
  }
  if (w->mp && w->mp != w->copy_mp) rte_mempool_free(w->mp);
  if (w->copy_mp) rte_mempool_free(w->copy_mp);
  w->mp = w->copy_mp = NULL;
  if (w->zero_copy) rte_extmem_unregister(w->mem + w->region_off, w->region_len);
}

/** A received mbuf's single segment, or 0 after dropping and counting what is wrong with it. */
static inline int rx_check(wport_t *w, struct rte_mbuf *m) {
  if (m->nb_segs != 1 || m->next != NULL) { w->st.drop_chained++; return 0; }
  if (m->data_len != m->pkt_len || (uint32_t)m->data_off + m->data_len > m->buf_len) { w->st.drop_bad_length++; return 0; }
  if (m->data_len > SLOT_SIZE - SLOT_HEADROOM) { w->st.drop_too_long++; return 0; }
  return 1;
}

/** RX burst into the Wasm rx ring: in place when the PMD received into a fill slot, else copied. */
uint32_t port_rx(wport_t *w) {
  comp_flush(w);
  struct rte_mbuf *pkts[MAX_BURST];
  uint32_t room = wring_free(w->rx);
  uint16_t want = room < w->burst ? (uint16_t)room : w->burst;
  if (want == 0) return 0;
  uint16_t n = rte_eth_rx_burst(w->port, w->queue, pkts, want);
  uint32_t got = 0;
  for (uint16_t i = 0; i < n; i++) {
    struct rte_mbuf *m = pkts[i];
    if (!rx_check(w, m)) { rte_pktmbuf_free(m); continue; }
    uint32_t len = m->data_len;
    if (w->zero_copy && m->pool == w->mp && m->data_off == SLOT_HEADROOM) {
      uint32_t s = wasm_slot_of(w, m->buf_addr);
      if (w->state[s] == S_FILL) {
        w->state[s] = S_WASM;      // the fill reference becomes the frame's
        wring_push(w->rx, slot_data(w, s), len);
        w->st.rx++; w->st.rx_bytes += len; got++;
        continue;
      }
    }
    uint32_t off;
    if (!fill_take(w, &off)) { w->st.drop_no_fill++; rte_pktmbuf_free(m); continue; }
    memcpy(w->mem + off, rte_pktmbuf_mtod(m, void *), len);
    wring_push(w->rx, off, len);
    rte_pktmbuf_free(m);
    w->st.rx++; w->st.rx_bytes += len; w->st.rx_copied++; got++;
  }
  return got;
}

/** TX burst from the Wasm tx ring: a slot's own mbuf when it is free, else a copy. An entry
 *  whose length word names an egress port (a REDIRECT) leaves by that port's queue. */
uint32_t port_tx(wport_t *w) {
  struct rte_mbuf *pkts[DW_EGRESS_PORTS + 1][MAX_BURST];
  uint16_t k[DW_EGRESS_PORTS + 1] = {0};
  uint32_t n = wring_count(w->tx);
  if (n > w->burst) n = w->burst;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t c = w->tx->cons + i;
    uint32_t off = w->tx->e[(c & w->tx->mask) * 2], word = w->tx->e[(c & w->tx->mask) * 2 + 1];
    uint32_t len = word & DW_LEN_MASK, to = word >> DW_EGRESS_SHIFT;
    uint32_t s = slot_at(w, off);
    int in_slots = off >= w->slots_off && s < w->slots;
    if ((size_t)off + len > w->mem_len || len == 0 || len > RTE_MBUF_DEFAULT_DATAROOM || to > w->n_egress) {
      w->st.drop_tx_bad_desc++;
      if (in_slots) comp_push(w, s);
      continue;
    }
    uint32_t in_off = off - slot_base(w, s);
    struct rte_mbuf *m;
    if (w->zero_copy && in_slots && w->state[s] == S_WASM && in_off + len <= SLOT_SIZE) {
      m = w->by_slot[s];
      m->data_off = (uint16_t)in_off;
      m->data_len = (uint16_t)len;
      m->pkt_len = len;
      m->nb_segs = 1;
      m->next = NULL;
      m->port = w->port;
      m->ol_flags = RTE_MBUF_F_EXTERNAL;
      m->packet_type = 0;
      rte_mbuf_refcnt_set(m, 1);
      w->state[s] = S_TX;           // back to Wasm when DPDK frees it (ops_enqueue), whichever port sent it
    } else {
      m = rte_pktmbuf_alloc(w->copy_mp);
      if (m == NULL) { w->st.drop_tx_no_mbuf++; if (in_slots) comp_push(w, s); continue; }
      memcpy(rte_pktmbuf_append(m, (uint16_t)len), w->mem + off, len);
      if (in_slots) comp_push(w, s);
      w->st.tx_copied++;
    }
    pkts[to][k[to]++] = m;
    w->st.tx_bytes += len;
  }
  w->tx->cons += n;
  uint32_t sent_all = 0;
  for (uint32_t to = 0; to <= w->n_egress; to++) {
    if (k[to] == 0) continue;
    uint16_t port = to ? w->egress[to - 1].port : w->port, queue = to ? w->egress[to - 1].queue : w->queue;
    uint16_t sent = rte_eth_tx_burst(port, queue, pkts[to], k[to]);
    for (uint16_t i = sent; i < k[to]; i++) { w->st.tx_bytes -= pkts[to][i]->pkt_len; rte_pktmbuf_free(pkts[to][i]); }
    w->st.drop_tx_full += k[to] - sent;
    sent_all += sent;
  }
  w->st.tx += sent_all;
  comp_flush(w);
  return sent_all;
}

/** Benchmark RX: frames go to Wasm as they are (zero-copy) or copied into staging slots; up to
 *  RAW_BURSTS bursts while they come full and the ring has room. */
uint32_t raw_rx(wport_t *w) {
  struct rte_mbuf *pkts[MAX_BURST];
  wring_t *r = w->rx;
  uint32_t p = r->prod, mask = r->mask, room = wring_free(r), total = 0;
  for (int b = 0; b < RAW_BURSTS && room > 0; b++) {
    uint16_t n = rte_eth_rx_burst(w->port, w->queue, pkts, room < w->burst ? (uint16_t)room : w->burst);
    for (uint16_t i = 0; i < n; i++, p++) {
      struct rte_mbuf *m = pkts[i];
      uint32_t off;
      if (w->zero_copy) {
        off = (uint32_t)(rte_pktmbuf_mtod(m, uint8_t *) - w->mem);
      } else {
        off = slot_data(w, p & (w->slots - 1));
        memcpy(w->mem + off, rte_pktmbuf_mtod(m, void *), m->data_len);
        w->held[p & mask] = m;
      }
      r->e[(p & mask) * 2] = off;
      r->e[(p & mask) * 2 + 1] = m->data_len;
    }
    total += n;
    room -= n;
    if (n < w->burst) break;
  }
  r->prod = p;
  w->st.rx += total;
  return total;
}

/** Benchmark TX: the slot's own mbuf (zero-copy) or the received mbuf refilled by a copy; the
 *  whole ring, a burst at a time. */
uint32_t raw_tx(wport_t *w) {
  struct rte_mbuf *pkts[MAX_BURST];
  wring_t *t = w->tx;
  uint32_t left = wring_count(t), c = t->cons, mask = t->mask, total = 0;
  while (left > 0) {
    uint32_t n = left < w->burst ? left : w->burst;
    for (uint32_t i = 0; i < n; i++, c++) {
      uint32_t off = t->e[(c & mask) * 2], len = t->e[(c & mask) * 2 + 1];
      struct rte_mbuf *m;
      if (w->zero_copy) {
        uint32_t s = slot_at(w, off);
        m = w->by_slot[s];
        m->data_off = (uint16_t)(off - slot_base(w, s));
      } else {
        m = w->held[c & mask];
        memcpy(rte_pktmbuf_mtod(m, void *), w->mem + off, len);
      }
      m->data_len = (uint16_t)len;
      m->pkt_len = len;
      pkts[i] = m;
    }
    left -= n;
    uint16_t sent = rte_eth_tx_burst(w->port, w->queue, pkts, (uint16_t)n);
    for (uint32_t i = sent; i < n; i++) rte_pktmbuf_free(pkts[i]);
    w->st.drop_tx_full += n - sent;
    total += sent;
  }
  t->cons = c;
  w->st.tx += total;
  return total;
}

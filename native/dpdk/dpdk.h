// The DPDK half of the native bridge: shared definitions. A port binds one DPDK ethdev queue pair
// to one Wasm datapath: its four descriptor rings (assembly/mem/ring.ts) and its buffer pool.
#ifndef DEMIWASM_DPDK_H
#define DEMIWASM_DPDK_H
#define ALLOW_EXPERIMENTAL_API 1
#include <stdint.h>
#include <stddef.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "../schema.h"
#include <sys/socket.h>

// The AF_XDP socket family (linux/socket.h), for libcs whose headers predate it.
#ifndef AF_XDP
#define AF_XDP 44
#endif

// Ring layout of assembly/mem/ring.ts (the schema's): u32 producer, consumer, mask, pad, then
// (u32 off, u32 len) entries; the asserts below hold the struct to it. Only the thread that runs the datapath touches its rings, and never during a native call, so
// plain loads and stores suffice: a burst reads the indices once and publishes them once.
typedef struct {
  uint32_t prod, cons, mask, pad;
  uint32_t e[];
} wring_t;
_Static_assert(offsetof(wring_t, prod) == DW_RING_PROD && offsetof(wring_t, cons) == DW_RING_CONS
               && offsetof(wring_t, mask) == DW_RING_MASK && offsetof(wring_t, e) == DW_RING_HDR
               && 2 * sizeof(uint32_t) == DW_RING_ENTRY, "wring_t does not match the schema's ring layout");

static inline uint32_t wring_count(const wring_t *r) { return r->prod - r->cons; }
static inline uint32_t wring_free(const wring_t *r) { return r->mask + 1 - wring_count(r); }
static inline int wring_push(wring_t *r, uint32_t off, uint32_t len) {
  uint32_t p = r->prod;
  if (p - r->cons > r->mask) return 0;
  r->e[(p & r->mask) * 2] = off;
  r->e[(p & r->mask) * 2 + 1] = len;
  r->prod = p + 1;
  return 1;
}

// Slot geometry of assembly/mem/pool.ts: DPDK's default mbuf buffer (128 B headroom + 2048 B).
#define SLOT_SIZE DW_SMALL_SIZE
#define SLOT_HEADROOM DW_HEADROOM

// Where a small slot's mbuf is (zero-copy ports keep one mbuf per slot, for the port's lifetime).
enum { S_WASM = 0, S_FILL = 1, S_IDLE = 2, S_TX = 3 };

typedef struct {
  uint64_t rx, tx, rx_bytes, tx_bytes;
  uint64_t rx_copied, tx_copied;
  uint64_t drop_chained, drop_too_long, drop_bad_length, drop_no_fill, drop_rx_ring_full;
  uint64_t drop_tx_full, drop_tx_bad_desc, drop_tx_no_mbuf, bad_free;
} wstats_t;

typedef struct wport {
  uint16_t port, queue;
  int zero_copy;            // mbuf data buffers are the Wasm pool's slots
  int raw;                  // benchmark mode: the pool is an ordinary free list, no fill/comp
  int started;
  int shared;               // one queue of a port configured for several datapaths
  char name[64];            // the ethdev name (vdev name or PCI address)
  int owns_device;          // probed by us: removed on close
  uint8_t *mem;             // the Wasm memory
  size_t mem_len;
  uint32_t slots_off;       // offset of the first small slot
  uint32_t slots;           // number of small slots
  uint32_t region_off, region_len;   // the registered pool region
  wring_t *fill, *rx, *tx, *comp;
  struct rte_mempool *mp;   // RX pool: over the Wasm slots (zero-copy) or native (copy)
  struct rte_mempool *copy_mp;       // TX fallback: a frame that cannot go zero-copy is copied here
  struct rte_mbuf **by_slot;         // zero-copy: the mbuf of each slot
  uint8_t *state;                    // zero-copy: S_* per slot
  struct rte_mbuf **idle;            // buffers the pool holds (lent by Wasm, or free in raw mode)
  uint32_t idle_n;
  uint32_t *comp_over;               // completions waiting for room in the comp ring
  uint32_t comp_over_n;
  struct rte_mbuf **held;            // raw copy mode: the mbuf behind each RX ring entry
  int armed;                         // pool set up: frees are completions from now on
  int xsk_fd;                        // net_af_xdp: the PMD's AF_XDP socket (-1: none), closed by us if it leaks
  uint16_t burst;
  // REDIRECT, zero-copy: tx entries naming port p of the link's group (bits DW_EGRESS_SHIFT..)
  // leave by egress[p - 1]'s queue, sent in this port's burst (the group turns in one thread).
  struct { uint16_t port, queue; } egress[DW_EGRESS_PORTS];
  uint8_t n_egress;
  wstats_t st;
  struct napi_ref__ *mem_ref;        // napi_ref holding the Wasm memory while the port lives
} wport_t;

/** Where small slot `slot` starts in the Wasm memory, and its data (past the headroom). */
static inline uint32_t slot_base(const wport_t *w, uint32_t slot) { return w->slots_off + slot * SLOT_SIZE; }
static inline uint32_t slot_data(const wport_t *w, uint32_t slot) { return slot_base(w, slot) + SLOT_HEADROOM; }
/** The slot an offset falls in; callers check off >= slots_off and the result < slots. */
static inline uint32_t slot_at(const wport_t *w, uint32_t off) { return (off - w->slots_off) / SLOT_SIZE; }

// wasm_pool.c
extern const char WASM_POOL_OPS[];
struct rte_mempool *wasm_pool_create(wport_t *w, const char *name);
uint32_t wasm_slot_of(const wport_t *w, const void *p);
void comp_push(wport_t *w, uint32_t slot);
void comp_flush(wport_t *w);
int fill_take(wport_t *w, uint32_t *off);

// bench.c (ring ports)
int ring_port_claim(uint16_t port);
void ring_port_release(uint16_t port);

// port.c
const char *port_open(wport_t *w, const char *device, uint16_t rx_desc, uint16_t tx_desc);
const char *port_configure(const char *device, uint16_t queues);
const char *port_start_shared(const char *device);
void port_close(wport_t *w);
uint32_t port_rx(wport_t *w);
uint32_t port_tx(wport_t *w);
uint32_t raw_rx(wport_t *w);
uint32_t raw_tx(wport_t *w);

#endif

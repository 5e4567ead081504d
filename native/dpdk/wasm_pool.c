// An mbuf pool whose data buffers are the Wasm datapath's own small slots (zero-copy), with a
// mempool driver that speaks the datapath's ring protocol instead of keeping a free list:
//   dequeue (a PMD wants buffers to receive into)  <- slots Wasm put in its fill ring
//   enqueue (DPDK freed an mbuf)                    -> a sent slot goes back through the comp ring
// So a slot is reused only after the device has let go of it, and the Wasm pool stays the one
// owner of every buffer. rte_pktmbuf_pool_create_extbuf builds the mbufs (one per slot, fixed
// buf_addr); this driver only decides where free mbufs live.
#include "dpdk.h"
#include <errno.h>
#include <rte_errno.h>
#include <rte_mbuf_pool_ops.h>

const char WASM_POOL_OPS[] = "demiwasm_slots";
static __thread wport_t *creating;   // the port whose pool is being populated (ops alloc reads it)

uint32_t wasm_slot_of(const wport_t *w, const void *p) {
  size_t off = (const uint8_t *)p - w->mem - w->slots_off;
  return (uint32_t)(off / SLOT_SIZE);
}

/** Tells Wasm a sent slot is free again; when its comp ring is full the slot waits here. */
void comp_push(wport_t *w, uint32_t slot) {
  if (w->comp_over_n == 0 && wring_push(w->comp, slot_data(w, slot), 0)) return;
  w->comp_over[w->comp_over_n++] = slot;   // bounded: one entry per slot at most
}

void comp_flush(wport_t *w) {
  uint32_t i = 0;
  while (i < w->comp_over_n && wring_push(w->comp, slot_data(w, w->comp_over[i]), 0)) i++;
  if (i == 0) return;
  memmove(w->comp_over, w->comp_over + i, (w->comp_over_n - i) * sizeof(uint32_t));
  w->comp_over_n -= i;
}

/** A slot from the fill ring for a copied frame, as a data offset; 0 when Wasm gave none. */
int fill_take(wport_t *w, uint32_t *off) {
  if (w->zero_copy && w->idle_n > 0) {
    struct rte_mbuf *m = w->idle[--w->idle_n];
    uint32_t s = wasm_slot_of(w, m->buf_addr);
    w->state[s] = S_WASM;
    *off = slot_data(w, s);
    return 1;
  }
  if (wring_count(w->fill) == 0) return 0;
  uint32_t c = w->fill->cons;
  *off = w->fill->e[(c & w->fill->mask) * 2];
  w->fill->cons = c + 1;
  return 1;
}

static int ops_alloc(struct rte_mempool *mp) {
  if (creating == NULL) return -EINVAL;
  mp->pool_data = creating;
  return 0;
}

static void ops_free(struct rte_mempool *mp) { mp->pool_data = NULL; }

static int ops_enqueue(struct rte_mempool *mp, void *const *objs, unsigned n) {
  wport_t *w = mp->pool_data;
  for (unsigned i = 0; i < n; i++) {
    struct rte_mbuf *m = objs[i];
    if (!w->armed || w->raw) { w->idle[w->idle_n++] = m; continue; }
    uint32_t s = wasm_slot_of(w, m->buf_addr);
    switch (w->state[s]) {
      case S_FILL: w->state[s] = S_IDLE; w->idle[w->idle_n++] = m; break;  // still lent by Wasm
      case S_TX: w->state[s] = S_WASM; comp_push(w, s); break;
      default: w->st.bad_free++; break;     // freed twice: keep it parked, count it
    }
  }
  return 0;
}

static int ops_dequeue(struct rte_mempool *mp, void **objs, unsigned n) {
  wport_t *w = mp->pool_data;
  if (w->raw || !w->armed) {
    if (w->idle_n < n) return -ENOBUFS;
    for (unsigned i = 0; i < n; i++) objs[i] = w->idle[--w->idle_n];
    return 0;
  }
  if (w->idle_n + wring_count(w->fill) < n) return -ENOBUFS;
  for (unsigned i = 0; i < n; i++) {
    struct rte_mbuf *m;
    if (w->idle_n > 0) {
      m = w->idle[--w->idle_n];
    } else {
      uint32_t c = w->fill->cons;
      uint32_t off = w->fill->e[(c & w->fill->mask) * 2];
      w->fill->cons = c + 1;
      uint32_t s = slot_at(w, off);
      if (off < w->slots_off || s >= w->slots || off != slot_data(w, s) || w->state[s] != S_WASM) {
        // Not a slot of ours: count it, give back what this call took, and fail the allocation.
        w->st.bad_free++;
        while (i > 0) { struct rte_mbuf *b = objs[--i]; w->state[wasm_slot_of(w, b->buf_addr)] = S_IDLE; w->idle[w->idle_n++] = b; }
        return -ENOBUFS;
      }
      m = w->by_slot[s];
    }
    w->state[wasm_slot_of(w, m->buf_addr)] = S_FILL;
    objs[i] = m;
  }
  return 0;
}

static unsigned ops_count(const struct rte_mempool *mp) {
  const wport_t *w = mp->pool_data;
  return w->idle_n + (w->raw || !w->armed ? 0 : wring_count(w->fill));
}

static struct rte_mempool_ops wasm_ops = {
  .name = "demiwasm_slots", .alloc = ops_alloc, .free = ops_free,
  .enqueue = ops_enqueue, .dequeue = ops_dequeue, .get_count = ops_count,
};
RTE_MEMPOOL_REGISTER_OPS(wasm_ops);

/**
 * Registers the Wasm pool region with DPDK and builds one mbuf per small slot over it. In stack
 * mode every mbuf starts parked (Wasm owns every slot); in raw mode they start free.
 */
struct rte_mempool *wasm_pool_create(wport_t *w, const char *name) {
  struct rte_pktmbuf_extmem ext = {
    .buf_ptr = w->mem + w->slots_off,
    .buf_iova = (rte_iova_t)(uintptr_t)(w->mem + w->slots_off),   // IOVA as VA
    .buf_len = (size_t)w->slots * SLOT_SIZE,
    .elt_size = SLOT_SIZE,
  };
  // The pool must use our driver; best_mempool_ops() reads the user choice, so set and restore it.
  const char *prev = rte_mbuf_user_mempool_ops();
  char saved[RTE_MEMPOOL_OPS_NAMESIZE] = "ring_mp_mc";
  if (prev) snprintf(saved, sizeof saved, "%s", prev);
  if (rte_mbuf_set_user_mempool_ops(WASM_POOL_OPS) != 0) return NULL;
  creating = w;
  w->armed = 0;
  struct rte_mempool *mp = rte_pktmbuf_pool_create_extbuf(name, w->slots, 0, 0, SLOT_SIZE,
                                                         SOCKET_ID_ANY, &ext, 1);
  creating = NULL;
  rte_mbuf_set_user_mempool_ops(saved);
  if (mp == NULL) return NULL;
  // Index the mbufs by slot. The driver saw them enqueued during populate: all idle.
  for (uint32_t i = 0; i < w->idle_n; i++) {
    struct rte_mbuf *m = w->idle[i];
    w->by_slot[wasm_slot_of(w, m->buf_addr)] = m;
  }
  if (!w->raw) w->idle_n = 0;         // parked: Wasm owns them all
  memset(w->state, w->raw ? S_IDLE : S_WASM, w->slots);
  w->armed = 1;
  return mp;
}

// The C baselines' map engine: the same algorithm as the NFs' (assembly/nf/maps.ts): linear
// probing at load <= 1/2 with backward-shift deletion, an LRU list, arrays; 16-byte keys,
// 8-byte values, -1 absent.
#ifndef DEMIWASM_NF_MAPS_H
#define DEMIWASM_NF_MAPS_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../nf/c/demiwasm_nf_abi.h"     /* map kinds and the absent value */

typedef struct { int64_t k0, k1, v; uint32_t used, prev, next; } map_entry;
typedef struct { uint32_t kind, capacity, slots, count, head, tail; map_entry *e; } map_t;

static inline uint32_t map_hash(int64_t k0, int64_t k1) {
  uint64_t h = (uint64_t)k0 * 0x9e3779b97f4a7c15ull ^ ((uint64_t)k1 + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
  h ^= h >> 31;
  return (uint32_t)h ^ (uint32_t)(h >> 32);
}

static inline int map_init(map_t *m, uint32_t kind, uint32_t capacity) {
  memset(m, 0, sizeof *m);
  m->kind = kind; m->capacity = capacity;
  if (kind == NF_MAP_ARRAY) m->slots = capacity;
  else { m->slots = 16; while (m->slots < capacity * 2) m->slots <<= 1; }
  m->e = calloc(m->slots, sizeof *m->e);
  if (!m->e) return -1;
  if (kind == NF_MAP_ARRAY) for (uint32_t i = 0; i < m->slots; i++) m->e[i].v = NF_ABSENT;
  return 0;
}

static inline void map_free(map_t *m) { free(m->e); m->e = NULL; }

static inline int32_t map_find(const map_t *m, int64_t k0, int64_t k1) {
  uint32_t mask = m->slots - 1, i = map_hash(k0, k1) & mask;
  while (m->e[i].used) {
    if (m->e[i].k0 == k0 && m->e[i].k1 == k1) return (int32_t)i;
    i = (i + 1) & mask;
  }
  return -1;
}

static inline void map_unlink(map_t *m, uint32_t i) {
  uint32_t p = m->e[i].prev, n = m->e[i].next;
  if (p) m->e[p - 1].next = n; else m->head = n;
  if (n) m->e[n - 1].prev = p; else m->tail = p;
}

static inline void map_front(map_t *m, uint32_t i) {
  m->e[i].prev = 0; m->e[i].next = m->head;
  if (m->head) m->e[m->head - 1].prev = i + 1; else m->tail = i + 1;
  m->head = i + 1;
}

/** Makes slot i the most recently used. */
static inline void map_touch(map_t *m, uint32_t i) {
  if (m->head != i + 1) { map_unlink(m, i); map_front(m, i); }
}

static inline void map_remove_at(map_t *m, uint32_t i) {
  int lru = m->kind == NF_MAP_LRU;
  if (lru) map_unlink(m, i);
  m->e[i].used = 0;
  m->count--;
  uint32_t mask = m->slots - 1, hole = i, j = (i + 1) & mask;
  while (m->e[j].used) {
    uint32_t home = map_hash(m->e[j].k0, m->e[j].k1) & mask;
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      m->e[hole] = m->e[j];
      m->e[j].used = 0;
      if (lru) {
        uint32_t p = m->e[hole].prev, n = m->e[hole].next;
        if (p) m->e[p - 1].next = hole + 1; else m->head = hole + 1;
        if (n) m->e[n - 1].prev = hole + 1; else m->tail = hole + 1;
      }
      hole = j;
    }
    j = (j + 1) & mask;
  }
}

static inline int64_t map_get(map_t *m, int64_t k0, int64_t k1) {
  if (m->kind == NF_MAP_ARRAY) return (uint64_t)k0 < m->capacity ? m->e[k0].v : NF_ABSENT;
  int32_t i = map_find(m, k0, k1);
  if (i < 0) return NF_ABSENT;
  if (m->kind == NF_MAP_LRU) map_touch(m, (uint32_t)i);
  return m->e[i].v;
}

static inline int32_t map_put(map_t *m, int64_t k0, int64_t k1, int64_t v) {
  if (v == NF_ABSENT) return -22;
  if (m->kind == NF_MAP_ARRAY) { if ((uint64_t)k0 >= m->capacity) return -22; m->e[k0].v = v; return 0; }
  int32_t i = map_find(m, k0, k1);
  if (i >= 0) {
    m->e[i].v = v;
    if (m->kind == NF_MAP_LRU) map_touch(m, (uint32_t)i);
    return 0;
  }
  if (m->count >= m->capacity) {
    if (m->kind != NF_MAP_LRU) return -28;
    map_remove_at(m, m->tail - 1);
  }
  uint32_t mask = m->slots - 1, j = map_hash(k0, k1) & mask;
  while (m->e[j].used) j = (j + 1) & mask;
  m->e[j] = (map_entry){ k0, k1, v, 1, 0, 0 };
  m->count++;
  if (m->kind == NF_MAP_LRU) map_front(m, j);
  return 0;
}
#endif

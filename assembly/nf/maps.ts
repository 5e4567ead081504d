// The NF map engine: a trusted Wasm module with its own memory, one instance per NF (its private
// maps) and one per chain (maps its NFs share). An NF imports these functions directly, so a
// lookup is a Wasm-to-Wasm call with its key in registers, and the NF never sees this memory.
// Keys are 16 bytes (two i64: a 5-tuple fits), values 8 bytes; -1 is the "absent" value.
//
// Kinds, the entry size and the absent value are the NF ABI's (./abi, from
// schema/nf.mjs): MAP_HASH (bounded), MAP_LRU (evicts when full), MAP_ARRAY (k0 is an index).
// Hash maps use linear probing at load <= 1/2 with backward-shift deletion (no tombstones, so
// lookups stay short however many entries come and go).

import { MAP_LRU as LRU, MAP_ARRAY as ARRAY, MAP_ENTRY, ABSENT } from "./abi";

const MAX_MAPS: u32 = 64;
const ENOSPC: i32 = 28, ENOENT: i32 = 2, EINVAL: i32 = 22;

// Entry: k0 @0, k1 @8, v @16, used u32 @24, prev u32 @28, next u32 @32 (LRU list, index + 1).
const E: usize = MAP_ENTRY;
// Map header: kind, capacity (entries allowed), slots (power of two), count, base, lruHead, lruTail.
const H: usize = 32;

let maps: u32 = 0;
let heap: usize = 0;

@inline function hdr(id: u32): usize { return <usize>(id * <u32>H) + 64; }
@inline function slotAt(m: usize, i: u32): usize { return <usize>load<u32>(m, 16) + <usize>i * E; }

/** Bytes of memory a map of this kind and capacity takes (the host sizes the memory with it). */
export function map_bytes(kind: u32, capacity: u32): u32 {
  if (kind == ARRAY) return capacity * <u32>E;
  let slots: u32 = 16;
  while (slots < capacity * 2) slots <<= 1;
  return slots * <u32>E;
}

/** Creates a map; its id, or -EINVAL / -ENOSPC (too many maps, or memory short). */
export function map_create(kind: u32, capacity: u32): i32 {
  if (kind > ARRAY || capacity == 0 || capacity > (1 << 24)) return -EINVAL;
  if (maps >= MAX_MAPS) return -ENOSPC;
  if (heap == 0) heap = (hdr(MAX_MAPS) + 63) & ~<usize>63;
  const bytes = <usize>map_bytes(kind, capacity);
  if (heap + bytes > (<usize>memory.size() << 16)) return -ENOSPC;
  const m = hdr(maps);
  store<u32>(m, kind);
  store<u32>(m, capacity, 4);
  store<u32>(m, kind == ARRAY ? capacity : <u32>(bytes / E), 8);
  store<u32>(m, 0, 12);
  store<u32>(m, <u32>heap, 16);
  store<u32>(m, 0, 20);
  store<u32>(m, 0, 24);
  memory.fill(heap, kind == ARRAY ? 0xff : 0, bytes);   // arrays start absent (-1)
  heap += bytes;
  const id = maps;
  maps++;
  return <i32>id;
}

@inline function hash(k0: i64, k1: i64): u32 {
  let h = <u64>k0 * 0x9e3779b97f4a7c15 ^ (<u64>k1 + 0x632be59bd9b4e019) * 0xbf58476d1ce4e5b9;
  h ^= h >> 31;
  return <u32>h ^ <u32>(h >> 32);
}

/** The slot holding the key, or -1. */
function find(m: usize, k0: i64, k1: i64): i32 {
  const mask = load<u32>(m, 8) - 1;
  let i = hash(k0, k1) & mask;
  // At most half the slots are used, so an empty slot ends every probe run.
  while (load<u32>(slotAt(m, i), 24) != 0) {
    const e = slotAt(m, i);
    if (load<i64>(e) == k0 && load<i64>(e, 8) == k1) return <i32>i;
    i = (i + 1) & mask;
  }
  return -1;
}

// LRU list: head is the most recently used. Links are slot index + 1 (0: none).
function unlink(m: usize, i: u32): void {
  const e = slotAt(m, i);
  const p = load<u32>(e, 28), n = load<u32>(e, 32);
  if (p != 0) store<u32>(slotAt(m, p - 1), n, 32); else store<u32>(m, n, 20);
  if (n != 0) store<u32>(slotAt(m, n - 1), p, 28); else store<u32>(m, p, 24);
}

function pushFront(m: usize, i: u32): void {
  const e = slotAt(m, i);
  const h = load<u32>(m, 20);
  store<u32>(e, 0, 28);
  store<u32>(e, h, 32);
  if (h != 0) store<u32>(slotAt(m, h - 1), i + 1, 28); else store<u32>(m, i + 1, 24);
  store<u32>(m, i + 1, 20);
}

/** Makes slot i the most recently used. */
@inline function touch(m: usize, i: u32): void {
  if (load<u32>(m, 20) != i + 1) { unlink(m, i); pushFront(m, i); }
}

/** Moves slot `from` to slot `to` (backward shift), fixing the LRU links that name it. */
function move(m: usize, from: u32, to: u32, lru: bool): void {
  const s = slotAt(m, from), d = slotAt(m, to);
  memory.copy(d, s, E);
  store<u32>(s, 0, 24);
  if (!lru) return;
  const p = load<u32>(d, 28), n = load<u32>(d, 32);
  if (p != 0) store<u32>(slotAt(m, p - 1), to + 1, 32); else store<u32>(m, to + 1, 20);
  if (n != 0) store<u32>(slotAt(m, n - 1), to + 1, 28); else store<u32>(m, to + 1, 24);
}

function removeAt(m: usize, i: u32, lru: bool): void {
  if (lru) unlink(m, i);
  store<u32>(slotAt(m, i), 0, 24);
  store<u32>(m, load<u32>(m, 12) - 1, 12);
  // Backward-shift deletion: pull later entries of the probe run into the hole.
  const mask = load<u32>(m, 8) - 1;
  let hole = i;
  let j = (i + 1) & mask;
  while (load<u32>(slotAt(m, j), 24) != 0) {
    const e = slotAt(m, j);
    const home = hash(load<i64>(e), load<i64>(e, 8)) & mask;
    // The entry may move into the hole if its home is not in (hole, j] (cyclically).
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      move(m, j, hole, lru);
      hole = j;
    }
    j = (j + 1) & mask;
  }
}

@inline function valid(id: u32): bool { return id < maps; }

export function map_get(id: u32, k0: i64, k1: i64): i64 {
  if (!valid(id)) return ABSENT;
  const m = hdr(id);
  const kind = load<u32>(m);
  if (kind == ARRAY) return <u64>k0 < <u64>load<u32>(m, 4) ? load<i64>(slotAt(m, <u32>k0), 16) : ABSENT;
  const i = find(m, k0, k1);
  if (i < 0) return ABSENT;
  if (kind == LRU) touch(m, <u32>i);
  return load<i64>(slotAt(m, <u32>i), 16);
}

/** Inserts or replaces; 0, or -ENOSPC (a full hash map), -EINVAL (bad id, index or value). */
export function map_put(id: u32, k0: i64, k1: i64, v: i64): i32 {
  if (!valid(id) || v == ABSENT) return -EINVAL;
  const m = hdr(id);
  const kind = load<u32>(m);
  if (kind == ARRAY) {
    if (<u64>k0 >= <u64>load<u32>(m, 4)) return -EINVAL;
    store<i64>(slotAt(m, <u32>k0), v, 16);
    return 0;
  }
  const lru = kind == LRU;
  let i = find(m, k0, k1);
  if (i >= 0) {
    store<i64>(slotAt(m, <u32>i), v, 16);
    if (lru) touch(m, <u32>i);
    return 0;
  }
  if (load<u32>(m, 12) >= load<u32>(m, 4)) {
    if (!lru) return -ENOSPC;
    removeAt(m, load<u32>(m, 24) - 1, true);             // evict the least recently used
  }
  const mask = load<u32>(m, 8) - 1;
  let j = hash(k0, k1) & mask;
  while (load<u32>(slotAt(m, j), 24) != 0) j = (j + 1) & mask;
  const e = slotAt(m, j);
  store<i64>(e, k0);
  store<i64>(e, k1, 8);
  store<i64>(e, v, 16);
  store<u32>(e, 1, 24);
  store<u32>(m, load<u32>(m, 12) + 1, 12);
  if (lru) pushFront(m, j);
  return 0;
}

export function map_del(id: u32, k0: i64, k1: i64): i32 {
  if (!valid(id)) return -EINVAL;
  const m = hdr(id);
  const kind = load<u32>(m);
  if (kind == ARRAY) {
    if (<u64>k0 >= <u64>load<u32>(m, 4)) return -EINVAL;
    store<i64>(slotAt(m, <u32>k0), ABSENT, 16);
    return 0;
  }
  const i = find(m, k0, k1);
  if (i < 0) return -ENOENT;
  removeAt(m, <u32>i, kind == LRU);
  return 0;
}

/** Entries in the map (the capacity for an array). */
export function map_count(id: u32): i32 {
  if (!valid(id)) return -EINVAL;
  const m = hdr(id);
  return <i32>(load<u32>(m) == ARRAY ? load<u32>(m, 4) : load<u32>(m, 12));
}

/** Walks a hash or LRU map: the slot after `from` holding an entry, or -1; its key and value
 *  are then at entry_ptr(id, slot) (for the host's `nf stats` dumps). */
export function map_next(id: u32, from: i32): i32 {
  if (!valid(id)) return -1;
  const m = hdr(id);
  const slots = load<u32>(m, 8);
  for (let i = <u32>(from + 1); i < slots; i++) {
    if (load<u32>(m) == ARRAY ? load<i64>(slotAt(m, i), 16) != ABSENT : load<u32>(slotAt(m, i), 24) != 0) return <i32>i;
  }
  return -1;
}

export function entry_ptr(id: u32, slot: u32): usize { return valid(id) ? slotAt(hdr(id), slot) : 0; }

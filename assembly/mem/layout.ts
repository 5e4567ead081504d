// Carves the imported memory into fixed regions at init. Nothing here moves afterwards: the
// memory is created with initial == maximum, so every offset handed to the host stays valid.

// The AssemblyScript stub runtime bump-allocates from __heap_base. The datapath never allocates
// on its own path; this reserve holds whatever the runtime needs, and heapTop() proves it stays put.
const HEAP_RESERVE: usize = 64 * 1024;

let cursor: usize = 0;
let limit: usize = 0;

export function layoutBegin(): void {
  cursor = (__heap_base + HEAP_RESERVE + 65535) & ~<usize>65535;
  limit = <usize>memory.size() << 16;
}

/**
 * Reserves `size` bytes aligned to `align` (a power of two), zeroed. Returns 0 when memory is
 * short. The bytes are zero without being written: a WebAssembly memory starts zeroed and carving
 * happens once, at init, before anything else writes. Writing them anyway would touch every page
 * of the memory (page faults: 170 ms for a 64 MiB datapath, measured), where most of the pool and
 * the TCP buffers are never touched by a small workload at all.
 */
export function carve(size: usize, align: usize): usize {
  const p = (cursor + align - 1) & ~(align - 1);
  if (p + size > limit) return 0;
  cursor = p + size;
  return p;
}

/** Bytes not yet carved. */
export function layoutRemaining(): usize {
  return limit > cursor ? limit - cursor : 0;
}

export function layoutEnd(): usize {
  return cursor;
}

/** The runtime's current heap top: allocates nothing that outlives the call. */
export function heapTop(): usize {
  const p = heap.alloc(16);
  heap.free(p);
  return p;
}

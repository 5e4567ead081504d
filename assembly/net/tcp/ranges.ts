// Lists of sequence ranges [start, end) kept as u32 pairs inside a control block: the receive
// side's out-of-order data (engine.ts) and the peer's SACKed ranges (sack.ts). The owner keeps
// the count; these move the pairs.
@inline export function rangeStart(base: usize, i: u32): u32 { return load<u32>(base + (<usize>i << 3)); }
@inline export function rangeEnd(base: usize, i: u32): u32 { return load<u32>(base + (<usize>i << 3), 4); }

/** Closes the gap at index i of a list of n ranges (the caller then counts one fewer). */
export function rangeRemove(base: usize, n: u32, i: u32): void {
  for (let k = i; k + 1 < n; k++) store<u64>(base + (<usize>k << 3), load<u64>(base + (<usize>(k + 1) << 3)));
}

/** Opens index `at` of a list of n ranges and writes [s, e) there (the caller counts one more). */
export function rangeInsert(base: usize, n: u32, at: u32, s: u32, e: u32): void {
  for (let k = n; k > at; k--) store<u64>(base + (<usize>k << 3), load<u64>(base + (<usize>(k - 1) << 3)));
  store<u32>(base + (<usize>at << 3), s);
  store<u32>(base + (<usize>at << 3), e, 4);
}

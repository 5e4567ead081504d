// A buddy allocator (Knuth, TAOCP §2.5) for memory whose need follows the traffic: TCP's send
// and receive rings and segment logs, which a connection holds only while it has bytes in them.
// One region, carved at init from what the fixed tables leave; blocks are powers of two from
// MIN_SHIFT to maxShift. A free block keeps its list links in its own first bytes, and one tag
// byte per minimum-sized block says which order of free block starts there (0: none), which is
// all a free needs to find and merge its buddy. Nothing per block is kept for allocated blocks:
// whoever allocates a block owns it and frees it with the same shift.
import { carve } from "./layout";

export const MIN_SHIFT: u32 = 7;          // 128 bytes: the smallest segment log (8 entries of 16)
const MAX_ORDERS: u32 = 32;

let base: usize = 0;
let size: usize = 0;
let maxShift: u32 = 0;
let tags: usize = 0;                     // one byte per 2^MIN_SHIFT bytes of the region
let heads: usize = 0;                    // per shift: offset + 1 of the first free block, 0 if none
let freeBytes: usize = 0;

/**
 * Takes `bytes` of memory (rounded down to whole minimum blocks) for blocks of at most
 * 2^`largestShift` bytes. The region is cut into the largest aligned blocks that fit, so none of
 * it is lost to rounding. False when not even one block of the largest size fits.
 */
export function buddyInit(bytes: usize, largestShift: u32): bool {
  maxShift = largestShift;
  heads = carve(MAX_ORDERS << 2, 4);
  const units = bytes >> MIN_SHIFT;
  tags = carve(units, 8);
  size = (bytes - units - 4096) & ~((<usize>1 << MIN_SHIFT) - 1);
  base = carve(size, 4096);
  if (heads == 0 || tags == 0 || base == 0 || size < (<usize>1 << largestShift)) return false;
  freeBytes = 0;
  let rel: usize = 0;
  while (size - rel >= (<usize>1 << MIN_SHIFT)) {
    let k = maxShift;
    while ((rel & ((<usize>1 << k) - 1)) != 0 || rel + (<usize>1 << k) > size) k--;
    push(rel, k);
    rel += <usize>1 << k;
  }
  return true;
}

/** Bytes the region holds. */
export function buddyTotalBytes(): usize { return size; }

/** Bytes not handed out (tests: everything is back after the connections are gone). */
export function buddyFreeBytes(): usize { return freeBytes; }

/** The smallest shift whose block holds `bytes`. */
export function shiftFor(bytes: u32): u32 {
  const s = bytes <= (1 << MIN_SHIFT) ? MIN_SHIFT : 32 - <u32>clz(bytes - 1);
  return s;
}

/** A block of 2^shift bytes, or 0 when none is free (the caller counts and copes). */
export function buddyAlloc(shift: u32): usize {
  if (shift < MIN_SHIFT || shift > maxShift) return 0;
  let k = shift;
  while (k <= maxShift && load<u32>(heads + (<usize>k << 2)) == 0) k++;
  if (k > maxShift) return 0;
  const rel = <usize>load<u32>(heads + (<usize>k << 2)) - 1;
  unlink(rel, k);
  while (k > shift) {                    // split: the upper half goes back one order down
    k--;
    push(rel + (<usize>1 << k), k);
  }
  return base + rel;
}

/** Returns a block from buddyAlloc(shift), merging it with its free buddies. */
export function buddyFree(p: usize, shift: u32): void {
  let rel = p - base;
  let k = shift;
  while (k < maxShift) {
    const b = rel ^ (<usize>1 << k);
    if (b + (<usize>1 << k) > size || load<u8>(tags + (b >> MIN_SHIFT)) != <u8>k) break;
    unlink(b, k);
    rel = min(rel, b);
    k++;
  }
  push(rel, k);
}

// A free block's links: offset + 1 of the next and previous free block of its order.
function push(rel: usize, k: u32): void {
  const h = heads + (<usize>k << 2);
  const first = load<u32>(h);
  store<u32>(base + rel, first);
  store<u32>(base + rel, 0, 4);
  if (first != 0) store<u32>(base + <usize>first - 1, <u32>rel + 1, 4);
  store<u32>(h, <u32>rel + 1);
  store<u8>(tags + (rel >> MIN_SHIFT), <u8>k);
  freeBytes += <usize>1 << k;
}

function unlink(rel: usize, k: u32): void {
  const next = load<u32>(base + rel);
  const prev = load<u32>(base + rel, 4);
  if (prev != 0) store<u32>(base + <usize>prev - 1, next);
  else store<u32>(heads + (<usize>k << 2), next);
  if (next != 0) store<u32>(base + <usize>next - 1, prev, 4);
  store<u8>(tags + (rel >> MIN_SHIFT), 0);
  freeBytes -= <usize>1 << k;
}

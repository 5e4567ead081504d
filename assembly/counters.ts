// Per-instance counters (u64 each) in linear memory, so the host reads them without a call. The
// indices and names are the schema's (schema/datapath.mjs -> assembly/schema/counters.ts).
import { NUM_COUNTERS } from "./schema/counters";
export * from "./schema/counters";

let countersBase: usize = 0;

export function countersInit(base: usize): void {
  countersBase = base;
  memory.fill(base, 0, <usize>NUM_COUNTERS * 8);
}

export function countersPtr(): usize {
  return countersBase;
}

@inline export function count(index: i32): void {
  const p = countersBase + (<usize>index << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function countN(index: i32, n: u64): void {
  const p = countersBase + (<usize>index << 3);
  store<u64>(p, load<u64>(p) + n);
}

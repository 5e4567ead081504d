// The datapath's counters (names and order are the schema's: host/schema/counters.ts).
import { COUNTER_NAMES } from "./schema/counters.js";

export { COUNTER_NAMES };

export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, number>;

/** Only the drop reasons that are not zero, for summaries. */
export function nonZeroDrops(c: Counters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of COUNTER_NAMES) if (n.startsWith("drop.") && c[n] !== 0) out[n.slice(5)] = c[n];
  return out;
}

export function totalDrops(c: Counters): number {
  let t = 0;
  for (const n of COUNTER_NAMES) if (n.startsWith("drop.")) t += c[n];
  return t;
}

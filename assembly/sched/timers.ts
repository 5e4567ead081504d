// A timer wheel of 256 one-millisecond buckets. A timer whose deadline lies beyond one turn stays
// in its bucket until a later turn reaches its deadline (the hashed wheel of Varghese & Lauck).
// Time is whatever the host passed to poll(): real in production, virtual in tests.
import { carve } from "../mem/layout";

const BUCKETS: u32 = 256;
const TICK_NS: f64 = 1e6;
let TMAX: u32 = 0;            // timers at once (timersInit)
export const T_SIZE: usize = 32;
export const T_BYTES_EACH: usize = T_SIZE + 4 + 8;   // per timer: its entry, free-stack slot and expired pair
const T_DEADLINE: usize = 0;  // f64
const T_KIND: usize = 8;      // u32, 0 when free
const T_ARG: usize = 12;      // u32
const T_NEXT: usize = 16;     // u32 index + 1
const T_PREV: usize = 20;     // u32 index + 1
const T_BUCKET: usize = 24;   // u32

let table: usize = 0;
let heads: usize = 0;
let freeStack: usize = 0;
let expired: usize = 0;     // scratch (kind, arg) pairs of one bucket's expired timers
let nFree: u32 = 0;
let lastTick: i64 = -1;

export function timersInit(capacity: u32): bool {
  TMAX = capacity;
  table = carve(<usize>TMAX * T_SIZE, 64);
  heads = carve(<usize>BUCKETS << 2, 4);
  freeStack = carve(<usize>TMAX << 2, 4);
  expired = carve(<usize>TMAX << 3, 8);
  if (table == 0 || heads == 0 || freeStack == 0 || expired == 0) return false;
  for (let i: u32 = 0; i < TMAX; i++) store<u32>(freeStack + (<usize>i << 2), TMAX - 1 - i);
  nFree = TMAX;
  return true;
}

@inline function entry(i: u32): usize { return table + <usize>i * T_SIZE; }

/** The tick a deadline belongs to, rounded up: when the wheel reaches it, the deadline has passed. */
@inline function tickOf(deadlineNs: f64): i64 { return <i64>Math.ceil(deadlineNs / TICK_NS); }

/** The table's size. */
export function timersCapacity(): u32 { return TMAX; }

/** Starts a timer; returns its id (index + 1), or 0 when the table is full. */
export function timerStart(kind: u32, arg: u32, deadlineNs: f64): u32 {
  if (nFree == 0) return 0;
  const i = load<u32>(freeStack + (<usize>(--nFree) << 2));
  const e = entry(i);
  // A deadline in a tick the wheel has already passed goes into the next tick's bucket.
  const tick = max<i64>(tickOf(deadlineNs), lastTick + 1);
  const b = <u32>(tick & (BUCKETS - 1));
  const head = load<u32>(heads + (<usize>b << 2));
  store<f64>(e + T_DEADLINE, deadlineNs);
  store<u32>(e + T_KIND, kind);
  store<u32>(e + T_ARG, arg);
  store<u32>(e + T_NEXT, head);
  store<u32>(e + T_PREV, 0);
  store<u32>(e + T_BUCKET, b);
  if (head != 0) store<u32>(entry(head - 1) + T_PREV, i + 1);
  store<u32>(heads + (<usize>b << 2), i + 1);
  return i + 1;
}

function unlink(i: u32): void {
  const e = entry(i);
  const next = load<u32>(e + T_NEXT);
  const prev = load<u32>(e + T_PREV);
  if (prev != 0) store<u32>(entry(prev - 1) + T_NEXT, next);
  else store<u32>(heads + (<usize>load<u32>(e + T_BUCKET) << 2), next);
  if (next != 0) store<u32>(entry(next - 1) + T_PREV, prev);
  store<u32>(e + T_KIND, 0);
  store<u32>(freeStack + (<usize>(nFree++) << 2), i);
}

/** Cancels a timer by id; a zero or already-fired id is ignored. */
export function timerCancel(id: u32): void {
  if (id == 0 || id > TMAX) return;
  if (load<u32>(entry(id - 1) + T_KIND) == 0) return;
  unlink(id - 1);
}

/** Fires every timer whose deadline is at or before `now`. Returns how many fired. */
export function timersAdvance(now: f64, fire: (kind: u32, arg: u32) => void): i32 {
  const nowTick = <i64>(now / TICK_NS);
  // The first turn walks the whole wheel: timers started before it may sit in any bucket.
  if (lastTick < 0) lastTick = nowTick - BUCKETS;
  if (nowTick <= lastTick) return 0;
  let span = nowTick - lastTick;
  if (span > <i64>BUCKETS) span = BUCKETS;
  // From here on new timers land at nowTick + 1 or later, which is either a bucket not walked in
  // this call or the oldest one, walked first.
  lastTick = nowTick;
  if (nFree == TMAX) return 0;
  let fired = 0;
  for (let t: i64 = span - 1; t >= 0; t--) {
    const b = <u32>((nowTick - t) & (BUCKETS - 1));
    // Detach the expired timers first: fire() may start or cancel timers in this very bucket.
    let n: u32 = 0;
    let cur = load<u32>(heads + (<usize>b << 2));
    while (cur != 0) {
      const e = entry(cur - 1);
      const next = load<u32>(e + T_NEXT);
      if (load<f64>(e + T_DEADLINE) <= now) {
        store<u32>(expired + (<usize>n << 3), load<u32>(e + T_KIND));
        store<u32>(expired + (<usize>n << 3) + 4, load<u32>(e + T_ARG));
        n++;
        unlink(cur - 1);
      }
      cur = next;
    }
    for (let k: u32 = 0; k < n; k++) {
      fire(load<u32>(expired + (<usize>k << 3)), load<u32>(expired + (<usize>k << 3) + 4));
    }
    fired += <i32>n;
  }
  return fired;
}

/**
 * The earliest pending deadline, or -1 when no timer runs (the virtual clock jumps to it, and a
 * sleeping driver wakes for it). Walks the buckets from the next tick on rather than the whole
 * table (1.8 µs for the default 4352 timers): once a bucket holds a timer due in this turn of the
 * wheel, every later bucket's timers are due later, so the walk ends with that bucket.
 */
export function timersNextDeadline(): f64 {
  if (nFree == TMAX) return -1;
  const base = lastTick + 1;                 // every pending timer's tick is at least this
  let best: f64 = Infinity;
  for (let k: i64 = 0; k < <i64>BUCKETS; k++) {
    let cur = load<u32>(heads + (<usize>((base + k) & (BUCKETS - 1)) << 2));
    let dueThisTurn = false;
    while (cur != 0) {
      const e = entry(cur - 1);
      const d = load<f64>(e + T_DEADLINE);
      if (d < best) best = d;
      if (tickOf(d) <= base + k) dueThisTurn = true;
      cur = load<u32>(e + T_NEXT);
    }
    if (dueThisTurn) return best;
  }
  return best;
}

export function timersActive(): u32 { return TMAX - nFree; }

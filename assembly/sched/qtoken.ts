// Qtokens: one per asynchronous operation, each also the task that completes it (Demikernel's
// coroutines, written as state machines). A qtoken is an index into a flat table plus a
// generation, so a stale or forged qtoken is detected instead of naming someone else's operation.
//
// Two bitmaps of 64-bit words: `ready` marks tasks to poll, `done` marks completed operations.
// The scheduler and waitNextN find the next set bit with ctz, as Demikernel's waker pages do.
import { carve } from "../mem/layout";
import { QT_INDEX_BITS } from "../schema/layout";   // a qtoken's index bits; 31 - QT_INDEX_BITS of generation

const QMASK: u32 = (1 << QT_INDEX_BITS) - 1;
export const Q_SIZE: usize = 64;
export const Q_BYTES_EACH: usize = Q_SIZE + 4;   // per qtoken: its entry and its free-stack slot (bitmaps aside)

export const QS_FREE: u8 = 0;
export const QS_PENDING: u8 = 1;
export const QS_DONE: u8 = 2;

// Opcodes as demi_opcode_t (include/demi/types.h).
export const OP_INVALID: u8 = 0;
export const OP_PUSH: u8 = 1;
export const OP_POP: u8 = 2;
export const OP_ACCEPT: u8 = 3;
export const OP_CONNECT: u8 = 4;
export const OP_CLOSE: u8 = 5;
export const OP_FAILED: u8 = 6;

// Field offsets in a table entry.
const Q_STATE: usize = 0;    // u8
const Q_OP: usize = 1;       // u8 opcode
export const Q_KIND: usize = 2;     // u8 task kind (sched/kinds.ts; handlers.ts runs it)
const Q_ORPHAN: usize = 3;   // u8: cancelled while pending; released as soon as it completes
const Q_GEN: usize = 4;      // u32 generation
export const Q_QD: usize = 8;       // i32
export const Q_RET: usize = 12;     // i32 errno, 0 on success
export const Q_PTR: usize = 16;     // u32 sga offset
export const Q_LEN: usize = 20;     // u32 sga length
export const Q_IP: usize = 24;      // u32 peer IPv4 address
export const Q_PORT: usize = 28;    // u32 peer port
export const Q_NEWQD: usize = 32;   // i32 accepted qd
export const Q_NEXT: usize = 36;    // u32 index + 1 of the next qtoken on the same wait list
export const Q_V6: usize = 40;      // u8: the peer is Q_HI:Q_LO, an IPv6 address
export const Q_AUX: usize = 44;     // u32 task-private
export const Q_HI: usize = 48;      // u64 peer IPv6 address, high half
export const Q_LO: usize = 56;      // u64 low half

let table: usize = 0;
let freeStack: usize = 0;
let nFree: u32 = 0;
// Ready and done bitmaps, each with a summary above it (bit w set: word w may be non-zero), so
// that finding the set bits among 65536 costs a few dozen loads, not a thousand.
let ready: usize = 0;
let done: usize = 0;
let readySum: usize = 0;
let doneSum: usize = 0;
let QMAX: u32 = 0;                  // the table's size, from the socket count (qtInit)
let WORDS: u32 = 0;
let SUM_WORDS: u32 = 0;
let nReady: u32 = 0;

/** Sizes the table for `sockets` sockets: four operations each, 4096 at least, 65536 at most. */
export function qtInit(sockets: u32): bool {
  QMAX = 4096;
  while (QMAX < (1 << QT_INDEX_BITS) && QMAX < sockets * 4) QMAX <<= 1;
  WORDS = QMAX / 64;
  SUM_WORDS = (WORDS + 63) / 64;
  table = carve(<usize>QMAX * Q_SIZE, 64);
  freeStack = carve(<usize>QMAX << 2, 4);
  ready = carve(<usize>WORDS << 3, 8);
  done = carve(<usize>WORDS << 3, 8);
  readySum = carve(<usize>SUM_WORDS << 3, 8);
  doneSum = carve(<usize>SUM_WORDS << 3, 8);
  if (table == 0 || freeStack == 0 || ready == 0 || done == 0 || readySum == 0 || doneSum == 0) return false;
  for (let i: u32 = 0; i < QMAX; i++) store<u32>(freeStack + (<usize>i << 2), QMAX - 1 - i);
  nFree = QMAX;
  return true;
}

@inline export function qEntry(i: u32): usize {
  return table + <usize>i * Q_SIZE;
}

@inline export function qtOf(i: u32): u32 {
  return (load<u32>(qEntry(i) + Q_GEN) << QT_INDEX_BITS) | i;
}

/** Index of a live qtoken, or -1 when qt is stale, forged or already taken. */
export function qIndex(qt: u32): i32 {
  const i = qt & QMASK;
  if (i >= QMAX) return -1;
  const e = qEntry(i);
  if (load<u8>(e + Q_STATE) == QS_FREE) return -1;
  if (load<u32>(e + Q_GEN) != qt >> QT_INDEX_BITS) return -1;
  return <i32>i;
}

/** A new pending operation; -1 when the table is full. */
export function qAlloc(op: u8, kind: u8, qd: i32): i32 {
  if (nFree == 0) return -1;
  const i = load<u32>(freeStack + (<usize>(--nFree) << 2));
  const e = qEntry(i);
  const gen = (load<u32>(e + Q_GEN) + 1) & ((1 << (31 - QT_INDEX_BITS)) - 1);
  // Result fields a completion may leave unset must read as zero.
  store<u64>(e + Q_RET, 0);                 // ret, ptr
  store<u64>(e + Q_LEN, 0);                 // len, ip
  store<u64>(e + Q_PORT, 0);                // port, newQd
  store<u32>(e + Q_NEXT, 0);
  store<u8>(e + Q_V6, 0);
  store<u32>(e + Q_GEN, gen);
  store<u8>(e + Q_STATE, QS_PENDING);
  store<u8>(e + Q_OP, op);
  store<u8>(e + Q_KIND, kind);
  store<u8>(e + Q_ORPHAN, 0);
  store<i32>(e + Q_QD, qd);
  return <i32>i;
}

@inline function setBit(map: usize, sum: usize, i: u32): void {
  const w = map + (<usize>(i >> 6) << 3);
  store<u64>(w, load<u64>(w) | (<u64>1 << (i & 63)));
  const sw = sum + (<usize>(i >> 12) << 3);
  store<u64>(sw, load<u64>(sw) | (<u64>1 << ((i >> 6) & 63)));
}

@inline function clearBit(map: usize, i: u32): void {
  const w = map + (<usize>(i >> 6) << 3);
  store<u64>(w, load<u64>(w) & ~(<u64>1 << (i & 63)));
}

/** Marks a pending task to be polled on the next scheduler pass. */
export function qWake(i: u32): void {
  if (load<u8>(qEntry(i) + Q_STATE) != QS_PENDING) return;
  setBit(ready, readySum, i);
  nReady++;
}

/** Completes an operation; a failure turns the opcode into FAILED as Demikernel reports it. */
export function qComplete(i: u32, ret: i32): void {
  const e = qEntry(i);
  if (load<u8>(e + Q_ORPHAN) != 0) { qFree(i); return; }
  store<i32>(e + Q_RET, ret);
  if (ret != 0) store<u8>(e + Q_OP, OP_FAILED);
  store<u8>(e + Q_STATE, QS_DONE);
  clearBit(ready, i);
  setBit(done, doneSum, i);
}

@inline export function qState(i: u32): u8 { return load<u8>(qEntry(i) + Q_STATE); }
@inline export function qOp(i: u32): u8 { return load<u8>(qEntry(i) + Q_OP); }

/**
 * Cancels a pending operation that cannot be taken back (a connect under way, a datagram waiting
 * for ARP, which hold their own buffer references): it goes on, and its qtoken is released when
 * it completes instead of waiting to be taken.
 */
export function qOrphan(i: u32): void {
  store<u8>(qEntry(i) + Q_ORPHAN, 1);
}

/** Releases a completed (or abandoned) qtoken. */
export function qFree(i: u32): void {
  const e = qEntry(i);
  store<u8>(e + Q_STATE, QS_FREE);
  clearBit(ready, i);
  clearBit(done, i);
  store<u32>(freeStack + (<usize>(nFree++) << 2), i);
}

/** Calls `poll` for every ready task, lowest index first. Returns how many were polled. */
export function qRunReady(poll: (i: u32) => void): i32 {
  if (nReady == 0) return 0;
  nReady = 0;
  let n = 0;
  for (let sw: u32 = 0; sw < SUM_WORDS; sw++) {
    const sp = readySum + (<usize>sw << 3);
    let words = load<u64>(sp);
    if (words == 0) continue;
    store<u64>(sp, 0);
    while (words != 0) {
      const w = (sw << 6) | <u32>ctz(words);
      words &= words - 1;
      const p = ready + (<usize>w << 3);
      let bits = load<u64>(p);
      store<u64>(p, 0);
      while (bits != 0) {
        const b = <u32>ctz(bits);
        bits &= bits - 1;
        poll((w << 6) | b);
        n++;
      }
    }
  }
  return n;
}

/** The lowest completed qtoken at or after index `from`, or -1. */
export function qNextDone(from: u32): i32 {
  for (let sw: u32 = from >> 12; sw < SUM_WORDS; sw++) {
    const sp = doneSum + (<usize>sw << 3);
    let words = load<u64>(sp);
    if (sw == from >> 12) words &= ~<u64>0 << ((from >> 6) & 63);
    while (words != 0) {
      const w = (sw << 6) | <u32>ctz(words);
      words &= words - 1;
      let bits = load<u64>(done + (<usize>w << 3));
      if (bits == 0) { store<u64>(sp, load<u64>(sp) & ~(<u64>1 << (w & 63))); continue; }   // emptied since
      if (w == from >> 6) bits &= ~<u64>0 << (from & 63);
      if (bits != 0) return <i32>((w << 6) | <u32>ctz(bits));
    }
  }
  return -1;
}

export function qFreeCount(): u32 { return nFree; }

/** The table's size. */
export function qCapacity(): u32 { return QMAX; }

// Wait lists: FIFO lists of qtokens (index + 1, 0 = none) linked through Q_NEXT, whose head and
// tail words live in whatever the operations wait on (a socket, a connection, an ARP entry).

/** Appends qtoken q to the list whose head and tail words are at headPtr and tailPtr. */
export function qListAppend(headPtr: usize, tailPtr: usize, q: u32): void {
  store<u32>(qEntry(q) + Q_NEXT, 0);
  const tail = load<u32>(tailPtr);
  if (tail != 0) store<u32>(qEntry(tail - 1) + Q_NEXT, q + 1);
  else store<u32>(headPtr, q + 1);
  store<u32>(tailPtr, q + 1);
}

/** Removes the list's head, which must be q; returns the new head (index + 1, 0 = empty). */
export function qListShift(headPtr: usize, tailPtr: usize, q: u32): u32 {
  const next = load<u32>(qEntry(q) + Q_NEXT);
  store<u32>(headPtr, next);
  if (next == 0) store<u32>(tailPtr, 0);
  return next;
}

/**
 * Unlinks qtoken q from the list wherever it is; returns the head afterwards (index + 1) when q
 * was the head, so that the caller can wake the next waiter, else 0.
 */
export function qListRemove(headPtr: usize, tailPtr: usize, q: u32): u32 {
  let prev: u32 = 0;
  let cur = load<u32>(headPtr);
  while (cur != 0 && cur != q + 1) { prev = cur; cur = load<u32>(qEntry(cur - 1) + Q_NEXT); }
  if (cur == 0) return 0;
  const next = load<u32>(qEntry(q) + Q_NEXT);
  if (prev == 0) store<u32>(headPtr, next);
  else store<u32>(qEntry(prev - 1) + Q_NEXT, next);
  if (load<u32>(tailPtr) == q + 1) store<u32>(tailPtr, prev);
  return prev == 0 ? next : 0;
}

/** Completes every qtoken of the list starting at head (index + 1) with `ret`. */
export function qListComplete(head: u32, ret: i32): void {
  while (head != 0) {
    const next = load<u32>(qEntry(head - 1) + Q_NEXT);
    qComplete(head - 1, ret);
    head = next;
  }
}

// The debug build's entry (build/datapath.debug.wasm): the release API with assertions on, plus
// the hooks only tests use. The release build (assembly/api.ts) does not carry them.
export * from "./api";
export { wireRoundTrip } from "./wire/roundtrip";

import { csumAdd, csumFinish } from "./wire/checksum";
/** The Internet checksum of `len` bytes at `p`, as the stack computes it (its SIMD and scalar paths). */
export function checksumOf(p: u32, len: u32): u32 { return csumFinish(csumAdd(0, p, len)); }

import { timerStart, timerCancel } from "./sched/timers";
import { T_ARP } from "./sched/kinds";
/** Starts a timer due at `deadlineNs`, for checking nextDeadline against the timers a test set.
 *  The test must stop it before a poll could fire it (its kind's handler would take the argument
 *  for an ARP entry). */
export function timerStartAt(deadlineNs: f64): u32 { return timerStart(T_ARP, 0, deadlineNs); }
export function timerStop(id: u32): void { timerCancel(id); }

// RACK-TLP (RFC 8985): loss detection by time over a log of the segments in flight. Each entry
// is one segment as first sent, with the time of its latest transmission and whether the peer
// SACKed it, it is deemed lost, or it was ever retransmitted. A segment is lost when a segment
// sent at least a reordering window after it has been delivered (RFC 8985 §6.2), so lost
// retransmissions are found as quickly as first losses, without waiting for an RTO. The log is
// also the SACK scoreboard: pipe (RFC 6675 §4) counts what is neither SACKed nor lost.
import { count, C_TCP_RACK_LOSSES } from "../../counters";
import { nowNs } from "../clock";
import { Tcb, LOG_ENTRY as ENTRY, seqLt, seqLe, seqGt, seqGe } from "./tcb";

const E_START: u32 = 0, E_END: u32 = 4, E_XMIT: u32 = 8, E_FLAGS: u32 = 12;
const F_SACKED: u32 = 1;
const F_LOST: u32 = 2;
const F_RETX: u32 = 4;          // retransmitted at least once

/**
 * Entries a log needs for a send ring of `ringBytes`: one per 1 KiB or more of it, 8 to 256, a
 * power of two. Beyond that the last entry grows (see logSent).
 */
export function logEntriesFor(ringBytes: u32): u32 {
  return min<u32>(256, max<u32>(8, ringBytes >> 10));
}

/** Moves a connection's log into a new block of `cap` entries (the send ring grew), oldest first. */
export function logMoveTo(t: Tcb, to: usize, cap: u32): void {
  for (let k: u32 = 0; k < t.logN; k++) memory.copy(to + <usize>k * ENTRY, entry(t, k), ENTRY);
  t.logBase = <u32>to;
  t.logCap = cap;
  t.logHead = 0;
}

@inline function nowUs(): u32 { return <u32>(<u64>(nowNs / 1e3)); }

/** The k-th entry (0 = oldest) of a connection's log. */
@inline function entry(t: Tcb, k: u32): usize {
  return <usize>t.logBase + <usize>((t.logHead + k) & (t.logCap - 1)) * ENTRY;
}
@inline export function eStart(e: usize): u32 { return load<u32>(e, E_START); }
@inline export function eEnd(e: usize): u32 { return load<u32>(e, E_END); }
@inline function eFlags(e: usize): u32 { return load<u32>(e, E_FLAGS); }
@inline function eXmit(e: usize): u32 { return load<u32>(e, E_XMIT); }

/**
 * Keeps the connection's totals (bytes logged, SACKed, lost; entries retransmitted) in step with
 * one entry: -1 takes it out before a change, +1 puts it back after, so pipe and the rest cost
 * nothing to read on every segment.
 */
function account(t: Tcb, x: usize, sign: i32): void {
  const len = <u32>(<i32>(eEnd(x) - eStart(x)) * sign);
  const f = eFlags(x);
  t.logBytes += len;
  if ((f & F_SACKED) != 0) t.logSacked += len;
  if ((f & F_LOST) != 0) t.logLost += len;
  if ((f & F_RETX) != 0) t.logRetx += <u32>sign;
}

@inline function setFlags(t: Tcb, x: usize, f: u32): void {
  account(t, x, -1);
  store<u32>(x, f, E_FLAGS);
  account(t, x, 1);
}

/** Time order with wrap-around (µs clock, RFC 8985 §6.2 "sent after"). */
@inline function sentAfter(xa: u32, ea: u32, xb: u32, eb: u32): bool {
  return <i32>(xa - xb) > 0 || (xa == xb && seqGt(ea, eb));
}

/**
 * Records a transmission of [s, e): new data is appended (the last entry grows when the log is
 * full); a retransmission restamps every entry it overlaps, no longer lost. Returns true for a
 * retransmission.
 */
export function logSent(t: Tcb, s: u32, e: u32): bool {
  if (t.logCap == 0) return false;                    // nothing queued: no data segment to log
  const now = nowUs();
  const last = t.logN > 0 ? entry(t, t.logN - 1) : 0;
  if (last == 0 ? seqGe(s, t.sndMax) : seqGe(s, eEnd(last))) {
    if (t.logN == t.logCap) {
      // Full: the last entry grows, and forgets being SACKed or lost (resending what the peer
      // holds is safe; treating unsent data as SACKed would not be).
      account(t, last, -1);
      store<u32>(last, e, E_END); store<u32>(last, now, E_XMIT); store<u32>(last, 0, E_FLAGS);
      account(t, last, 1);
      return false;
    }
    const n = entry(t, t.logN);
    store<u32>(n, s, E_START); store<u32>(n, e, E_END); store<u32>(n, now, E_XMIT); store<u32>(n, 0, E_FLAGS);
    account(t, n, 1);
    t.logN++;
    return false;
  }
  for (let k: u32 = 0; k < t.logN; k++) {
    const x = entry(t, k);
    if (seqLe(eEnd(x), s)) continue;
    if (seqGe(eStart(x), e)) break;
    store<u32>(x, now, E_XMIT);
    setFlags(t, x, (eFlags(x) & ~F_LOST) | F_RETX);
  }
  return true;
}

/** RFC 8985 §6.2 steps 1–3: a delivered segment moves RACK's reference forward. */
function delivered(t: Tcb, x: usize): void {
  const now = nowUs();
  const rtt = now - eXmit(x);
  // Step 2: an ACK for a retransmitted segment sooner than the minimum RTT acknowledges the
  // original; its send time says nothing.
  if ((eFlags(x) & F_RETX) != 0 && t.minRttUs != 0 && rtt < t.minRttUs) return;
  if (t.minRttUs == 0 || rtt < t.minRttUs) t.minRttUs = max<u32>(rtt, 1);
  // Step 3: delivered below a segment delivered earlier, never retransmitted: reordering. Only
  // once there is an earlier one (rackEnd 0: none yet): compared with 0, half of all ISSs would
  // look "below" and every connection starting there would wait a reordering window to recover.
  if (t.rackEnd != 0 && seqLt(eEnd(x), t.rackEnd) && (eFlags(x) & F_RETX) == 0) t.reordSeen = 1;
  if (sentAfter(eXmit(x), eEnd(x), t.rackXmitUs, t.rackEnd) || t.rackEnd == 0) {
    t.rackXmitUs = eXmit(x);
    t.rackEnd = eEnd(x);
    t.rackRttUs = rtt;
  }
}

/**
 * SND.UNA moved to `ack`: entries below it leave the log (delivered, unless already SACKed);
 * returns how many bytes of them were not SACKed before (RFC 6937 DeliveredData's share).
 */
export function logAcked(t: Tcb, ack: u32): u32 {
  let bytes: u32 = 0;
  while (t.logN > 0) {
    const x = entry(t, 0);
    if (seqGt(eEnd(x), ack)) {
      if (seqLt(eStart(x), ack)) {                    // partly acknowledged: trim
        if ((eFlags(x) & F_SACKED) == 0) bytes += ack - eStart(x);
        account(t, x, -1);
        store<u32>(x, ack, E_START);
        account(t, x, 1);
      }
      break;
    }
    if ((eFlags(x) & F_SACKED) == 0) { bytes += eEnd(x) - eStart(x); delivered(t, x); }
    account(t, x, -1);
    t.logHead = (t.logHead + 1) & (t.logCap - 1);
    t.logN--;
  }
  return bytes;
}

/** A SACK block [s, e): entries wholly inside are SACKed; returns the bytes newly SACKed. */
export function logSacked(t: Tcb, s: u32, e: u32): u32 {
  let bytes: u32 = 0;
  for (let k: u32 = 0; k < t.logN; k++) {
    const x = entry(t, k);
    if (seqLe(eEnd(x), s)) continue;
    if (seqGt(eEnd(x), e)) break;
    if (seqLt(eStart(x), s) || (eFlags(x) & F_SACKED) != 0) continue;
    setFlags(t, x, (eFlags(x) & ~F_LOST) | F_SACKED);
    bytes += eEnd(x) - eStart(x);
    delivered(t, x);
  }
  return bytes;
}

/**
 * RFC 8985 §6.2 steps 4–5: marks lost every unSACKed segment sent a reordering window before
 * the latest delivered one and an RTT ago; returns the time in µs until the next one would be
 * (for the reordering timer), 0 when none waits.
 */
export function rackDetectLoss(t: Tcb, inRecovery: bool, srttUs: u32): u32 {
  if (t.rackEnd == 0) return 0;
  // Step 4: no reordering window while none was seen and loss is evident (RFC 8985 §6.2).
  let reo: u32 = t.minRttUs >> 2;
  if (t.reordSeen == 0 && (inRecovery || sackedBytes(t) >= 3 * t.mss)) reo = 0;
  else if (srttUs > 0) reo = min(reo, srttUs);
  const now = nowUs();
  let wait: u32 = 0;
  for (let k: u32 = 0; k < t.logN; k++) {
    const x = entry(t, k);
    const f = eFlags(x);
    if ((f & (F_SACKED | F_LOST)) != 0) continue;
    // Sent after the reference segment: not lost by this rule. Without retransmissions in the
    // log, entries are in order of sending, so none further on is either.
    if (!sentAfter(t.rackXmitUs, t.rackEnd, eXmit(x), eEnd(x))) { if (t.logRetx == 0) break; continue; }
    const left = <i32>(eXmit(x) + t.rackRttUs + reo - now);
    if (left <= 0) {
      setFlags(t, x, f | F_LOST);
      t.nRackLost++;
      count(C_TCP_RACK_LOSSES);
    } else if (<u32>left > wait) wait = <u32>left;
  }
  return wait;
}

/** After a timeout every outstanding segment is lost (RFC 8985 §6.3); SACKed ones stay so. */
export function logAllLost(t: Tcb): void {
  for (let k: u32 = 0; k < t.logN; k++) {
    const x = entry(t, k);
    if ((eFlags(x) & F_SACKED) == 0) setFlags(t, x, eFlags(x) | F_LOST);
  }
}

/** A timeout proved spurious: nothing outstanding is lost after all. */
export function logClearLost(t: Tcb): void {
  for (let k: u32 = 0; k < t.logN; k++) {
    const x = entry(t, k);
    setFlags(t, x, eFlags(x) & ~F_LOST);
  }
}

/** Bytes the peer has SACKed above SND.UNA. */
@inline export function sackedBytes(t: Tcb): u32 { return t.logSacked; }

/** Bytes deemed lost and not retransmitted since. */
@inline export function lostBytes(t: Tcb): u32 { return t.logLost; }

/** RFC 6675 §4 pipe: data in flight, neither SACKed nor lost (a retransmission counts once). */
@inline export function logPipe(t: Tcb): u32 { return t.logBytes - t.logSacked - t.logLost; }

/** The oldest entry deemed lost, or 0. */
export function firstLost(t: Tcb): usize {
  if (t.logLost == 0) return 0;
  for (let k: u32 = 0; k < t.logN; k++) {
    const x = entry(t, k);
    if ((eFlags(x) & F_LOST) != 0) return x;
  }
  return 0;
}

/** The newest entry, or 0 (the tail loss probe retransmits it). */
export function lastSent(t: Tcb): usize { return t.logN > 0 ? entry(t, t.logN - 1) : 0; }


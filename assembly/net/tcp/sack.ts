// SACK-based loss recovery (RFC 6675): a scoreboard of the ranges the peer reports holding
// above SND.UNA (RFC 2018 blocks), the "pipe" estimate of what is really in flight, and the
// retransmission of every hole the congestion window allows, instead of one per round trip.
import { count, C_TCP_RETRANSMITS } from "../../counters";
import { tcpSackCount, tcpSackBlocks, ACK } from "../../wire/tcp";
import { sendSegment } from "./output";
import { Tcb, seqLt, seqLe, seqGt, seqGe } from "./tcb";
import { rangeStart, rangeEnd, rangeRemove, rangeInsert } from "./ranges";

const MAX_RANGES: u32 = 4;

@inline function board(t: Tcb): usize { return changetype<usize>(t) + offsetof<Tcb>("sk0s"); }
@inline function rs(t: Tcb, i: u32): u32 { return rangeStart(board(t), i); }
@inline function re(t: Tcb, i: u32): u32 { return rangeEnd(board(t), i); }

function remove(t: Tcb, i: u32): void {
  rangeRemove(board(t), t.skN, i);
  t.skN--;
}

/** Inserts [s, e) in order, merging overlaps; the lowest range goes when the board is full. */
function insert(t: Tcb, s: u32, e: u32): void {
  for (let i: u32 = 0; i < t.skN;) {
    if (seqLe(rs(t, i), e) && seqLe(s, re(t, i))) {
      if (seqLt(rs(t, i), s)) s = rs(t, i);
      if (seqGt(re(t, i), e)) e = re(t, i);
      remove(t, i);
    } else i++;
  }
  let at: u32 = 0;
  while (at < t.skN && seqLt(rs(t, at), s)) at++;
  if (t.skN == MAX_RANGES) { if (at == 0) return; remove(t, 0); at--; }
  rangeInsert(board(t), t.skN, at, s, e);
  t.skN++;
}

/**
 * Takes the SACK blocks of the segment just parsed, and forgets what SND.UNA has passed; true
 * when the blocks SACKed bytes the scoreboard did not hold.
 */
export function sackUpdate(t: Tcb): bool {
  if (t.sackOk == 0 || tcpSackCount == 0) return false;
  const before = sacked(t);
  for (let i: u32 = 0; i < tcpSackCount; i++) {
    const s = load<u32>(tcpSackBlocks + (<usize>i << 3));
    const e = load<u32>(tcpSackBlocks + (<usize>i << 3) + 4);
    // RFC 2018 §4: only blocks above SND.UNA and within what was sent mean anything (D-SACKs
    // below SND.UNA and forged blocks are ignored).
    if (seqGt(e, s) && seqGt(e, t.sndUna) && seqLe(e, t.sndMax)) insert(t, seqLt(s, t.sndUna) ? t.sndUna : s, e);
  }
  while (t.skN > 0 && seqLe(re(t, 0), t.sndUna)) remove(t, 0);
  if (t.skN > 0 && seqLt(rs(t, 0), t.sndUna)) store<u32>(board(t), t.sndUna);
  return sacked(t) > before;
}

export function sackReset(t: Tcb): void { t.skN = 0; }

/** Bytes the scoreboard holds above SND.UNA. */
function sacked(t: Tcb): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < t.skN; i++) n += re(t, i) - rs(t, i);
  return n;
}

/**
 * RFC 6675 §4 SetPipe, over ranges: everything outstanding, less what the peer holds, less the
 * holes below the highest SACKed byte (lost), plus the part of those holes retransmitted since.
 */
export function sackPipe(t: Tcb): u32 {
  const flight = t.sndNxt - t.sndUna;
  if (t.skN == 0) return flight;
  const high = re(t, t.skN - 1);
  const holes = (high - t.sndUna) - sacked(t);
  let retx: u32 = 0;
  let s = t.sndUna;
  for (let i: u32 = 0; i <= t.skN && seqLt(s, t.highRxt); i++) {
    const holeEnd = i < t.skN ? rs(t, i) : high;
    const end = seqLt(t.highRxt, holeEnd) ? t.highRxt : holeEnd;
    if (seqGt(end, s)) retx += end - s;
    if (i < t.skN) s = re(t, i);
  }
  const out = <i64>flight - <i64>sacked(t) - <i64>holes + <i64>retx;
  return out > 0 ? <u32>out : 0;
}

/** RFC 6675 §5 NextSeg and its loop: retransmit holes below the highest SACK while pipe < cwnd. */
export function sackRetransmit(t: Tcb): bool {
  if (t.skN == 0) return false;
  const high = re(t, t.skN - 1);
  let s = seqGt(t.highRxt, t.sndUna) ? t.highRxt : t.sndUna;
  let sent = false;
  while (seqLt(s, high) && sackPipe(t) < t.cwnd) {
    let inside = false;
    let holeEnd = high;
    for (let i: u32 = 0; i < t.skN; i++) {
      if (seqGe(s, rs(t, i)) && seqLt(s, re(t, i))) { s = re(t, i); inside = true; break; }
      if (seqGt(rs(t, i), s)) { holeEnd = rs(t, i); break; }
    }
    if (inside) continue;
    const n = min(t.mss, holeEnd - s);
    if (n == 0) break;
    sendSegment(t, s, n, ACK);
    count(C_TCP_RETRANSMITS);
    s += n;
    t.highRxt = s;
    sent = true;
  }
  return sent;
}

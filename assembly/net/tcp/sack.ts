// SACK on the sending side: the blocks of each ACK (RFC 2018) mark the segment log (rack.ts),
// a first block below SND.UNA or inside the second is a D-SACK (RFC 2883 §4) telling that a
// segment arrived twice, and the segments deemed lost are retransmitted while the pipe
// (RFC 6675 §4) leaves room in the congestion window.
import { count, C_TCP_SPURIOUS_RETRANSMITS } from "../../counters";
import { TcpRepr, sackLeft, sackRight, ACK } from "../../wire/tcp";
import { sendSegment } from "./output";
import { Tcb, seqLt, seqLe, seqGt } from "./tcb";
import { logSacked, logPipe, firstLost, eStart, eEnd } from "./rack";

/** RFC 2883 §4: the first block reports a duplicate when it lies below the ACK or inside the second. */
function isDsack(seg: TcpRepr): bool {
  const s = sackLeft(seg, 0), e = sackRight(seg, 0);
  if (seqLe(e, seg.ack)) return true;
  return seg.sackCount > 1 && seqLe(sackLeft(seg, 1), s) && seqLe(e, sackRight(seg, 1));
}

/**
 * Takes the SACK blocks of segment `seg`. Returns the bytes newly SACKed; a D-SACK is handed to
 * `onDsack` with its range.
 */
export function sackUpdate(t: Tcb, seg: TcpRepr, onDsack: (t: Tcb, s: u32, e: u32) => void): u32 {
  const n = seg.sackCount;
  if (t.sackOk == 0 || n == 0) return 0;
  let bytes: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const s = sackLeft(seg, i), e = sackRight(seg, i);
    if (!seqGt(e, s)) continue;
    if (i == 0 && isDsack(seg)) {
      t.nSpurious++;
      count(C_TCP_SPURIOUS_RETRANSMITS);
      onDsack(t, s, e);
      continue;
    }
    // RFC 2018 §4: only blocks above SND.UNA and within what was sent mean anything.
    if (seqGt(e, t.sndUna) && seqLe(e, t.sndMax)) bytes += logSacked(t, seqLt(s, t.sndUna) ? t.sndUna : s, e);
  }
  return bytes;
}

/** Retransmits the segments deemed lost, oldest first, while the pipe is below cwnd (RFC 6675 §5). */
export function retransmitLost(t: Tcb): bool {
  let sent = false;
  for (let guard = 0; guard < 256 && logPipe(t) < t.cwnd; guard++) {
    const x = firstLost(t);
    if (x == 0) break;
    const s = eStart(x), e = eEnd(x);
    // An entry is one segment unless the log was full; a longer one goes in MSS pieces (the
    // first send restamps it as retransmitted, so the rest goes in this same loop).
    for (let at = s; seqLt(at, e);) {
      const n = sendSegment(t, at, min(t.mss, e - at), ACK);
      if (n <= 0) return sent;
      at += <u32>n;
      sent = true;
    }
  }
  return sent;
}

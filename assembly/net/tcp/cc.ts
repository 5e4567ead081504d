// Congestion control: CUBIC (RFC 9438) by default, NewReno (RFC 5681, RFC 6582) selectable.
// Loss recovery itself (fast retransmit, partial ACKs) is shared and lives in engine.ts; this
// file decides how far the window falls on a loss and how it grows in congestion avoidance.
import { tcpCongestion } from "../../schema/config";
import { nowNs } from "../clock";
import { Tcb } from "./tcb";

export const CC_CUBIC: i32 = 0;
export const CC_NEWRENO: i32 = 1;

const C: f64 = 0.4;                          // RFC 9438 §5.1
const BETA: f64 = 0.7;                       // RFC 9438 §4.6
const ALPHA: f64 = 3 * (1 - BETA) / (1 + BETA); // RFC 9438 §4.3, the Reno-friendly slope

/** A loss was detected (three duplicate ACKs or a timeout): the new ssthresh, in bytes. */
export function ccOnLoss(t: Tcb, flight: u32): u32 {
  if (tcpCongestion == CC_NEWRENO) return max(flight / 2, 2 * t.mss);
  const w = <f64>t.cwnd / <f64>t.mss;
  // Fast convergence (RFC 9438 §4.7): release bandwidth when the last peak was not reached.
  t.ccWmax = w < t.ccWmax ? w * (1 + BETA) / 2 : w;
  t.ccEpoch = 0;
  return max(<u32>(<f64>t.cwnd * BETA), 2 * t.mss);
}

/** Congestion avoidance: `acked` new bytes were acknowledged while cwnd >= ssthresh. */
export function ccOnAck(t: Tcb, acked: u32): void {
  if (tcpCongestion == CC_NEWRENO) {
    t.cwnd += max<u32>(1, t.mss * t.mss / t.cwnd);
    return;
  }
  const mss = <f64>t.mss;
  const w = <f64>t.cwnd / mss;
  if (t.ccEpoch == 0) {
    t.ccEpoch = nowNs;
    if (w < t.ccWmax) t.ccK = Math.cbrt((t.ccWmax - w) / C);
    else { t.ccK = 0; t.ccWmax = w; }
    t.ccWest = w;
  }
  const rtt = t.srtt > 0 ? t.srtt : 100e6;
  const tSec = (nowNs - t.ccEpoch + rtt) / 1e9;
  const d = tSec - t.ccK;
  let target = C * d * d * d + t.ccWmax;               // W_cubic(t + RTT), RFC 9438 §4.2
  target = min(target, 1.5 * w);
  t.ccWest += ALPHA * (<f64>acked / mss) / w;          // RFC 9438 §4.3
  if (target < t.ccWest) {
    t.cwnd = max(t.cwnd, <u32>(t.ccWest * mss));       // Reno-friendly region
  } else if (target > w) {
    t.cwnd += <u32>((target - w) / w * mss * (<f64>acked / mss)) + 1;
  }
}

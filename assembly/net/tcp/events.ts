// What a connection's changes mean for the operations waiting on it: pops and pushes are woken
// through the scheduler's readiness bits, a reset fails everything pending.
import { qComplete, qWake, qListComplete } from "../../sched/qtoken";
import { sock, S_PENDING } from "../socket";
import { Tcb, tcbFree, tcbDone, tcbStopTimers, SYN_RCVD } from "./tcb";

export function wakePops(t: Tcb): void { if (t.popHead != 0) qWake(t.popHead - 1); }
export function wakePushers(t: Tcb): void { if (t.pushHead != 0) qWake(t.pushHead - 1); }

/** The connection is reset or timed out: every waiting operation fails with err. */
export function connReset(t: Tcb, err: i32): void {
  qListComplete(t.popHead, err);
  qListComplete(t.pushHead, err);
  t.popHead = t.popTail = t.pushHead = t.pushTail = 0;
  if (t.connectQt != 0) { qComplete(t.connectQt - 1, err); t.connectQt = 0; }
  t.reset = <u8>err;                                   // later calls fail with the same errno
  if (t.qd >= 0) { tcbStopTimers(t); tcbDone(t); return; }       // the socket still names it
  if (t.listener >= 0) {
    if (t.state == SYN_RCVD) { unlistenOne(t); tcbFree(t); }
    else { tcbStopTimers(t); tcbDone(t); }                       // queued: accept skips and frees it
    return;
  }
  tcbFree(t);
}

/** An embryonic or unaccepted connection of a listener is gone (or handed to accept). */
export function unlistenOne(t: Tcb): void {
  const s = sock(<u32>t.listener);
  const n = load<u32>(s + S_PENDING);
  if (n > 0) store<u32>(s + S_PENDING, n - 1);
  t.listener = -1;
}

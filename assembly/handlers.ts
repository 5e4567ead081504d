// The one table of who handles each task and timer kind (numbered in sched/kinds.ts). A `switch`
// over dense constants compiles to one br_table; a kind missing here is caught by a test.
import { K_NONE, K_UDP_POP, K_UDP_PUSH, K_TCP_POP, K_TCP_PUSH, K_TCP_ACCEPT,
         T_ARP, T_REASM, T_TCP_RTO, T_TCP_TIME_WAIT, T_TCP_DELACK, T_TCP_KEEPALIVE, T_TCP_REORDER,
         T_TCP_PTO, T_TCP_MEMORY, T_NDP, T_DAD } from "./sched/kinds";
import { qEntry, Q_KIND } from "./sched/qtoken";
import { arpTimer } from "./net/neighbor";
import { ndpTimer, dadTimer } from "./net/neighbor6";
import { reasmTimer } from "./net/reassembly";
import { udpPopPoll, udpPopCancel } from "./net/udp";
import { tcpPopPoll, tcpPushPoll, tcpAcceptPoll, tcpPopCancel, tcpPushCancel, tcpAcceptCancel } from "./net/tcp/stream";
import { rtoTimer, timeWaitTimer, delayedAckTimer, keepaliveTimer, reorderTimer, tailLossProbe, memoryTimer } from "./net/tcp/engine";
import { tcb } from "./net/tcp/tcb";

/** A woken task tries again (the scheduler's ready list calls it). */
export function runTask(q: u32): void {
  switch (load<u8>(qEntry(q) + Q_KIND)) {
    case K_UDP_POP: udpPopPoll(q); break;
    case K_TCP_POP: tcpPopPoll(q); break;
    case K_TCP_PUSH: tcpPushPoll(q); break;
    case K_TCP_ACCEPT: tcpAcceptPoll(q); break;
    // Completed by whoever they wait on, never polled: K_NONE at once, K_UDP_PUSH by egressWait.
    case K_NONE: case K_UDP_PUSH: break;
  }
}

/**
 * The application withdraws a pending task: true when it left every wait list and may be freed
 * now, false when its completion will still come (it is orphaned: freed when it does).
 */
export function cancelTask(q: u32): bool {
  switch (load<u8>(qEntry(q) + Q_KIND)) {
    case K_UDP_POP: udpPopCancel(q); return true;
    case K_TCP_POP: tcpPopCancel(q); return true;
    case K_TCP_PUSH: tcpPushCancel(q); return true;
    case K_TCP_ACCEPT: tcpAcceptCancel(q); return true;
    // The neighbor layer completes the push when the next hop resolves or fails.
    case K_NONE: case K_UDP_PUSH: return false;
  }
  return false;
}

/** A timer of `kind` fired with its owner's argument. */
export function fireTimer(kind: u32, arg: u32): void {
  switch (kind) {
    case T_ARP: arpTimer(arg); break;
    case T_REASM: reasmTimer(arg); break;
    case T_TCP_RTO: rtoTimer(tcb(arg)); break;
    case T_TCP_TIME_WAIT: timeWaitTimer(tcb(arg)); break;
    case T_TCP_DELACK: delayedAckTimer(tcb(arg)); break;
    case T_TCP_KEEPALIVE: keepaliveTimer(tcb(arg)); break;
    case T_TCP_REORDER: reorderTimer(tcb(arg)); break;
    case T_TCP_PTO: tailLossProbe(tcb(arg)); break;
    case T_TCP_MEMORY: memoryTimer(tcb(arg)); break;
    case T_NDP: ndpTimer(arg); break;
    case T_DAD: dadTimer(arg); break;
  }
}

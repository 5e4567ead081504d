// The queue API every LibOS offers (Demikernel's PDPIX): applications written against this type
// run unchanged on the Wasm stack (LibOS) and on the transport backends (FabricLibOS, PosixLibOS).
import type { QResult, QResultBuffer, Sga, SockAddr, SockOpt } from "./libos.js";
import type { Clock } from "./clock.js";

export interface Pdpix {
  readonly u8: Uint8Array;
  readonly clock: Clock;
  socket(domain?: number, type?: number, protocol?: number): number;
  bind(qd: number, local: SockAddr): void;
  listen(qd: number, backlog?: number): void;
  accept(qd: number): number;
  connect(qd: number, remote: SockAddr): number;
  close(qd: number): void;
  push(qd: number, sga: Sga): number;
  pushto(qd: number, sga: Sga, to: SockAddr): number;
  pop(qd: number): number;
  getsockname(qd: number): SockAddr;
  getpeername(qd: number): SockAddr;
  sgaalloc(size: number): Sga;
  sgafree(sga: Sga): void;
  bytes(sga: Sga): Uint8Array;
  wait(qt: number, timeoutMs?: number): QResult;
  tryWait(qt: number): QResult | null;
  waitInto(out: QResultBuffer, qt: number, timeoutMs?: number): boolean;
  tryWaitInto(out: QResultBuffer, qt: number): boolean;
  waitAny(qts: readonly number[], timeoutMs?: number): { index: number; result: QResult };
  waitNextN(n: number, timeoutMs?: number): QResult[];
  isDone(qt: number): boolean;
  /** Withdraws a pending operation or releases a completed one (see LibOS.cancel). */
  cancel(qt: number): void;
  poll(): number;
  /** The earliest time (ns) something on the backend is due; Infinity when nothing is. */
  nextEvent(): number;
  /** Completed, untaken qtokens to `fn` (see LibOS.drainDone); an event-loop driver's view. */
  drainDone(fn: (qt: number) => void): number;
  /** Called by every queue operation while an event-loop driver is attached. */
  onActivity: (() => void) | null;
  /** Ends the datapath: its sockets, its device or endpoint. One name on every backend; the
   *  instance must not be used afterwards. */
  shutdown(): void;
  /** shutdown(SHUT_WR), where the backend has a half-close. */
  shutdownWrite?(qd: number): void;
  setsockopt?(qd: number, opt: SockOpt, value: boolean): void;
}

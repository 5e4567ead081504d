// What the Node-facing sockets (net, dgram, http) need of their stack: the PDPIX object, a way to
// be called back when a qtoken completes, the driver's liveness, and teardown with the stack.
import type { Pdpix } from "../pdpix.js";
import type { QResultBuffer } from "../libos.js";

/** A socket or server that the stack tears down when it closes. */
export interface StackHandle {
  stackClosing(): void;
}

export interface StackCore {
  readonly libos: Pdpix;
  readonly closed: boolean;
  /** True on the Wasm stack (loopback, dpdk), false on a transport backend (posix, fabric). */
  readonly wasm: boolean;
  /** Calls `fn` with the result once qt completes (after a driver turn; the buffer is reused). */
  expect(qt: number, fn: (r: QResultBuffer) => void): void;
  /** Drops the callback and cancels qt (a pending pop takes no data, a result is released). */
  forget(qt: number): void;
  /** Runs `fn` after the next turn (a retry once the pool has buffers again). */
  defer(fn: () => void): void;
  track(h: StackHandle): void;
  untrack(h: StackHandle): void;
  /** Keeps the process alive (a listening server, an open socket), as node:net handles do. */
  ref(): void;
  unref(): void;
}

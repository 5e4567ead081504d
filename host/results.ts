// What the PDPIX queue operations take and give back, shared by every backend: the opcode, an
// address, a one-segment scatter-gather array, and a completed operation's result.
import { ETIMEDOUT } from "./errno.js";

/** demi_opcode_t. */
export enum Opcode { INVALID = 0, PUSH = 1, POP = 2, ACCEPT = 3, CONNECT = 4, CLOSE = 5, FAILED = 6 }

/**
 * An address and a port: IPv4 as a host-order u32 in `addr`; IPv6 as 16 bytes in network order
 * in `addr6` (then `addr` is 0). `sockaddr()` builds either from text.
 */
export interface SockAddr { addr: number; port: number; addr6?: Uint8Array }

/** A scatter-gather array of one segment: an offset into the datapath's memory and a length. */
export interface Sga { buf: number; len: number }

export interface QResult {
  opcode: Opcode;
  qd: number;
  qt: number;
  ret: number;               // 0, or a positive errno when opcode is FAILED
  sga?: Sga;                 // POP: the received data, owned by the application until sgafree
  addr?: SockAddr;           // POP: the sender; ACCEPT: the peer
  acceptedQd?: number;       // ACCEPT
}

/** A reusable result for tryWaitInto/waitInto; sga and addr are meaningful per opcode, as in QResult. */
export interface QResultBuffer {
  opcode: Opcode; qd: number; qt: number; ret: number; sga: Sga; addr: SockAddr; acceptedQd: number;
}

export function newResultBuffer(): QResultBuffer {
  return { opcode: Opcode.INVALID, qd: -1, qt: 0, ret: 0, sga: { buf: 0, len: 0 }, addr: { addr: 0, port: 0 }, acceptedQd: -1 };
}

/** The result of a wait that timed out (qt stays valid and may be waited on again). */
export function timedOut(qt: number): QResult {
  return { opcode: Opcode.FAILED, qd: -1, qt, ret: ETIMEDOUT, sga: undefined, addr: undefined, acceptedQd: undefined };
}

// The socket table: queue descriptors (qds) index it. UDP sockets keep a queue of received
// datagrams (slots linked through their metadata) and a FIFO of pop operations waiting for one.
import { carve } from "../mem/layout";

export let SMAX: u32 = 0;            // sockets (qds), from the connection count (socketsInit)
export const S_SIZE: usize = 88;
export const S_STATE: usize = 0;     // u8: 0 free, 1 open
export const S_TYPE: usize = 1;      // u8: SOCK_STREAM or SOCK_DGRAM
export const S_BOUND: usize = 2;     // u8
export const S_CONNECTED: usize = 3; // u8
export const S_LIP: usize = 4;       // IPv4: the bound address (0: any)
export const S_LPORT: usize = 8;
export const S_RPORT: usize = 16;
export const S_RXHEAD: usize = 20;   // slot + 1
export const S_RXTAIL: usize = 24;
export const S_RXCOUNT: usize = 28;
export const S_POPHEAD: usize = 32;  // qtoken + 1: pops (UDP), accepts (TCP listener)
export const S_POPTAIL: usize = 36;
export const S_TCB: usize = 40;      // TCP: control block + 1
export const S_BACKLOG: usize = 44;  // TCP listener: embryonic + unaccepted connections allowed
export const S_ACCEPT_HEAD: usize = 48;  // TCP listener: established, unaccepted (tcb + 1)
export const S_ACCEPT_TAIL: usize = 52;
export const S_PENDING: usize = 56;  // TCP listener: embryonic + unaccepted now
export const S_LISTENING: usize = 60;
export const S_OPTS: usize = 64;     // TCP options chosen before the connection exists (OPT_* bits)
export const S_V6: usize = 68;       // u8: an AF_INET6 socket (IPv4 and IPv6 sockets stay apart)
export const S_LIDX: usize = 69;     // u8 IPv6: the bound address's index in addr6's table, ANY6 for ::
export const S_RHI: usize = 72;      // u64 the connected peer (UDP), high half (IPv4: mapped4)
export const S_RLO: usize = 80;      // u64 low half; an IPv4 peer is its low 32 bits

export const ANY6: u8 = 0xff;
export const SOCK_STREAM: u8 = 1;
export const SOCK_DGRAM: u8 = 2;

let table: usize = 0;
let lowestFree: u32 = 0;

export function socketsInit(count: u32): bool {
  SMAX = count;
  table = carve(<usize>SMAX * S_SIZE, 64);
  return table != 0;
}

@inline export function sock(qd: u32): usize { return table + <usize>qd * S_SIZE; }

/** True when qd names an open socket. */
export function qdValid(qd: i32): bool {
  return qd >= 0 && <u32>qd < SMAX && load<u8>(sock(<u32>qd) + S_STATE) != 0;
}

/** The lowest free qd, or -1. */
export function sockAlloc(type: u8, v6: bool): i32 {
  for (let i = lowestFree; i < SMAX; i++) {
    const s = sock(i);
    if (load<u8>(s + S_STATE) == 0) {
      memory.fill(s, 0, S_SIZE);
      store<u8>(s + S_STATE, 1);
      store<u8>(s + S_TYPE, type);
      store<u8>(s + S_V6, v6 ? 1 : 0);
      store<u8>(s + S_LIDX, ANY6);
      lowestFree = i + 1;
      return <i32>i;
    }
  }
  return -1;
}

@inline export function sockV6(qd: u32): bool { return load<u8>(sock(qd) + S_V6) != 0; }

export function sockFree(qd: u32): void {
  store<u8>(sock(qd) + S_STATE, 0);
  if (qd < lowestFree) lowestFree = qd;
}

export function socketsOpen(): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < SMAX; i++) if (load<u8>(sock(i) + S_STATE) != 0) n++;
  return n;
}

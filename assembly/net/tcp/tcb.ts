// TCP control blocks (RFC 9293 §3.3.1): a flat table carved at init. A connection's byte rings
// and segment log come and go with its traffic (buffers.ts). Sequence numbers compare modulo 2^32
// (RFC 9293 §3.4).
import { carve } from "../../mem/layout";
import { buddyFree } from "../../mem/buddy";
import { tcpMaxConnections, tcpBuffer } from "../../schema/config";
import { timerCancel } from "../../sched/timers";
import { demuxInit, demuxInsert, demuxRemove, demuxFind, demuxBytes, SLOT as DEMUX_SLOT } from "./demux";

export const CLOSED: u8 = 0;
export const SYN_SENT: u8 = 1;
export const SYN_RCVD: u8 = 2;
export const ESTABLISHED: u8 = 3;
export const FIN_WAIT_1: u8 = 4;
export const FIN_WAIT_2: u8 = 5;
export const CLOSE_WAIT: u8 = 6;
export const CLOSING: u8 = 7;
export const LAST_ACK: u8 = 8;
export const TIME_WAIT: u8 = 9;
export const DONE: u8 = 10;       // over, but its socket still names it: not reused until closed

export const MAX_OOO: u32 = 32;   // out-of-order ranges kept per connection (reported as SACK blocks)
export const LOG_ENTRY: u32 = 16; // bytes per segment-log entry (rack.ts)
// The receive buffer a connection starts from, as Linux's 64 KiB initial window; it grows with
// what the application reads (buffers.ts) up to tcp.buffer_bytes.
const INITIAL_BUFFER: u32 = 65536;

@unmanaged export class Tcb {
  state: u8;
  sackOk: u8;            // both sides sent SACK-permitted
  tsOk: u8;              // both sides sent timestamps
  finQueued: u8;         // the application closed: FIN goes after the queued data
  finSent: u8;
  peerFin: u8;           // the peer's FIN is in (pops see end of stream)
  reset: u8;             // why the connection died (an errno), 0 while alive
  retransmitting: u8;    // Karn: no RTT sample from retransmitted data
  nagle: u8;             // RFC 896, off unless the application asks (TCP_NODELAY = 0)
  keepalive: u8;         // RFC 1122 §4.2.3.6, off unless SO_KEEPALIVE
  keepProbes: u8;        // unanswered keepalive probes
  hashed: u8;            // in the four-tuple index (demux.ts): a live connection
  onFreeList: u8;
  qd: i32;               // the socket, -1 while embryonic or after the application closed it
  listener: i32;         // the listening socket of a passive open, -1 otherwise
  v6: u8;                // over IPv6 (its socket's version)
  lip: u32;              // our address: IPv4's, or the index of one of ours in addr6's table
  lport: u32; rport: u32;
  ripHi: u64; ripLo: u64;   // the peer (an IPv4 one as mapped4: its low 32 bits the address)
  iss: u32; sndUna: u32; sndNxt: u32; sndMax: u32; sndWnd: u32; sndWl1: u32; sndWl2: u32;
  maxSndWnd: u32;        // the largest window the peer has offered (sender SWS avoidance)
  sndShift: u32;         // the peer's window scale
  rcvShift: u32;         // ours
  mss: u32;              // what we send per segment
  irs: u32; rcvNxt: u32;
  rcvAdv: u32;           // the right edge of the window we last advertised (never moves left)
  tsRecent: u32;
  srtt: f64; rttvar: f64; rto: f64; rttTime: f64;
  rttSeq: u32; retries: u32;
  cwnd: u32; ssthresh: u32; dupAcks: u32; recover: u32; inRecovery: u32;
  ccWmax: f64; ccK: f64; ccEpoch: f64; ccWest: f64;   // CUBIC's state (cc.ts)
  // RACK-TLP (RFC 8985, rack.ts): the log of segments in flight, and the most recently delivered one.
  logBase: u32; logCap: u32;   // the log's block (buffers.ts) and its entries, 0 while nothing is in flight
  logHead: u32; logN: u32;
  logBytes: u32; logSacked: u32; logLost: u32; logRetx: u32;   // running totals over the log's entries
  rackXmitUs: u32; rackEnd: u32; rackRttUs: u32; minRttUs: u32; rackTimer: u32;
  reordSeen: u8; tlpActive: u8; tlpRetx: u8; ptoArmed: u8;   // ptoArmed: rtoTimer holds the PTO
  tlpEnd: u32;
  // D-SACK (RFC 2883): the duplicate range our next ACK reports first, and undo (RFC 3522/5682).
  dsackS: u32; dsackE: u32; dsackPending: u32;
  priorCwnd: u32; priorSsthresh: u32; undoRetrans: i32; undoMarker: u32; retxTsVal: u32; undoPossible: u32;
  // PRR (RFC 6937).
  prrDelivered: u32; prrOut: u32; recoverFs: u32;
  // What happened to this connection (tcpInfo).
  nRetrans: u32; nFastRecoveries: u32; nRtoRetrans: u32; nTlp: u32; nRackLost: u32; nSpurious: u32; nUndo: u32; nDsackSent: u32;
  rtoTimer: u32; twTimer: u32; ackTimer: u32; ackPending: u32; keepTimer: u32; memTimer: u32;
  lastRx: f64;           // when the last segment arrived (keepalive idleness)
  // Byte rings (buffers.ts): a block of sSize / rSize bytes, 0 while empty; positions are
  // sequence numbers modulo the size.
  sbuf: u32; sSize: u32;
  slen: u32;             // bytes from sndUna: unacknowledged, then unsent
  rbuf: u32; rSize: u32;
  rlen: u32;             // in-order bytes not yet popped, ending at rcvNxt
  rCap: u32;             // the receive buffer the window is offered from (grows: buffers.ts)
  // The sizes the rings had when they last emptied: a ring taken again starts there instead of
  // doubling its way back up (buffers.ts).
  sLast: u32; rLast: u32;
  rcvCopied: u32; rcvSpaceTime: f64;   // bytes popped since rcvSpaceTime (dynamic right-sizing)
  rcvRttMs: u32;         // the round trip a receiver sees, from echoed timestamps (buffers.ts)
  ooN: u32;              // out-of-order ranges held (oo(t): MAX_OOO pairs beside the table)
  popHead: u32; popTail: u32;    // pop qtokens + 1
  pushHead: u32; pushTail: u32;  // push qtokens + 1 waiting for send-buffer room
  connectQt: u32;                // + 1
  nextAccept: u32;               // tcb + 1: the listener's queue of established, unaccepted connections
  nextFree: u32;                 // tcb + 1: the free list, while CLOSED
}

let table: usize = 0;
let ooRanges: usize = 0;          // MAX_OOO [start, end) pairs per connection
let outputBits: usize = 0;        // one bit per connection whose output waits for the end of the turn
let outputPending: u32 = 0;
export let nTcb: u32 = 0;
let memo: i32 = -1;
let freeHead: u32 = 0;            // tcb + 1: the CLOSED control blocks, most recently freed first

@inline function initialBuffer(): u32 { return min(INITIAL_BUFFER, <u32>tcpBuffer); }

export function tcbInit(): bool {
  nTcb = <u32>tcpMaxConnections;
  table = carve(<usize>(nTcb + 1) * offsetof<Tcb>(), 64);     // one more: tcbScratch
  outputBits = carve(<usize>((nTcb + 31) >> 5) << 2, 8);
  ooRanges = carve(<usize>nTcb * <usize>MAX_OOO * 8, 8);
  if (table == 0 || outputBits == 0 || ooRanges == 0 || !demuxInit(nTcb)) return false;
  for (let i = nTcb; i > 0; i--) { tcb(i - 1).nextFree = freeHead; tcb(i - 1).onFreeList = 1; freeHead = i; }
  return true;
}

/**
 * A control block outside the table, zeroed, for building a segment that belongs to no
 * connection (a SYN-ACK carrying a SYN cookie); never looked up, never freed.
 */
export function tcbScratch(): Tcb {
  const t = tcb(nTcb);
  memory.fill(changetype<usize>(t), 0, offsetof<Tcb>());
  t.qd = -1;
  t.listener = -1;
  t.rCap = initialBuffer();                    // the window the SYN-ACK offers
  return t;
}

/** At most what tcbInit carves per connection (the index at its largest: four slots). */
export function tcbBytesBound(): u32 { return <u32>offsetof<Tcb>() + MAX_OOO * 8 + 4 * <u32>DEMUX_SLOT + 1; }

/** Bytes the connection table takes per connection: control block, out-of-order ranges, output bit, index share. */
export function tcbBytesEach(): u32 {
  return <u32>offsetof<Tcb>() + MAX_OOO * 8 + (demuxBytes() + (nTcb >> 3) + nTcb - 1) / nTcb;
}

/** Gives a new connection its four-tuple (and IP version) and puts it in the index segments are
 *  matched against. */
export function tcbBind(t: Tcb, v6: bool, lip: u32, lport: u32, hi: u64, lo: u64, rport: u32): void {
  t.v6 = v6 ? 1 : 0;
  t.lip = lip; t.lport = lport; t.ripHi = hi; t.ripLo = lo; t.rport = rport;
  demuxInsert(lip, lport, hi, lo, rport, tcbIndex(t));
  t.hashed = 1;
}

/** Takes a connection out of the index: it is over (DONE) or freed; no segment finds it again. */
export function tcbUnhash(t: Tcb): void {
  if (t.hashed == 0) return;
  demuxRemove(t.lip, t.lport, t.ripHi, t.ripLo, t.rport, tcbIndex(t));
  t.hashed = 0;
  if (memo == <i32>tcbIndex(t)) memo = -1;
}

/** A connection's out-of-order ranges (ranges.ts pairs; t.ooN of them in use, newest first). */
@inline export function oo(t: Tcb): usize { return ooRanges + <usize>tcbIndex(t) * <usize>MAX_OOO * 8; }

/**
 * Marks a connection's output for the end of the turn, so that data pushed in several pieces
 * within one turn leaves in full segments (RFC 9293 §3.8.6.2.1) rather than one per push.
 */
export function tcbQueueOutput(t: Tcb): void {
  const i = tcbIndex(t);
  const w = outputBits + (<usize>(i >> 5) << 2);
  const bit: u32 = 1 << (i & 31);
  const v = load<u32>(w);
  if ((v & bit) != 0) return;
  store<u32>(w, v | bit);
  outputPending++;
}

/** Calls `send` for every connection marked since the last call; returns how many. */
export function tcbTakeOutput(send: (t: Tcb) => void): u32 {
  if (outputPending == 0) return 0;
  let n: u32 = 0;
  for (let k: u32 = 0; k < (nTcb + 31) >> 5 && outputPending > 0; k++) {
    const w = outputBits + (<usize>k << 2);
    let v = load<u32>(w);
    if (v == 0) continue;
    store<u32>(w, 0);
    while (v != 0) {
      const i = (k << 5) + <u32>ctz(v);
      v &= v - 1;
      outputPending--;
      n++;
      send(tcb(i));
    }
  }
  return n;
}

@inline export function tcb(i: u32): Tcb { return changetype<Tcb>(table + <usize>i * offsetof<Tcb>()); }
@inline export function tcbIndex(t: Tcb): u32 { return <u32>((changetype<usize>(t) - table) / offsetof<Tcb>()); }

@inline export function seqLt(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
@inline export function seqLe(a: u32, b: u32): bool { return <i32>(a - b) <= 0; }
@inline export function seqGt(a: u32, b: u32): bool { return <i32>(a - b) > 0; }
@inline export function seqGe(a: u32, b: u32): bool { return <i32>(a - b) >= 0; }

/**
 * A free control block, zeroed, with its buffers attached; -1 when the table is full. When none
 * is CLOSED, the TIME_WAIT connection the application has let go of that heard last from its
 * peer longest ago is recycled: with a server closing its connections (HTTP without keep-alive),
 * 2MSL of TIME_WAIT would otherwise hold the table full. A new connection on the same four-tuple
 * starts from a fresh, clock-driven ISN (RFC 6191 §2), and a stray segment of the old one finds
 * no TIME_WAIT to answer it, only an RST.
 */
export function tcbAlloc(): i32 {
  if (freeHead != 0) {
    const i = freeHead - 1;
    freeHead = tcb(i).nextFree;
    return tcbTake(i);
  }
  let victim: i32 = -1;
  let oldest: f64 = Infinity;
  for (let i: u32 = 0; i < nTcb; i++) {
    const t = tcb(i);
    if (t.state == TIME_WAIT && t.qd < 0 && t.lastRx < oldest) { victim = <i32>i; oldest = t.lastRx; }
  }
  if (victim < 0) return -1;
  tcbFree(tcb(<u32>victim));
  freeHead = tcb(<u32>victim).nextFree;               // tcbFree put it first on the list
  return tcbTake(<u32>victim);
}

function tcbTake(i: u32): i32 {
  const t = tcb(i);
  const w = outputBits + (<usize>(i >> 5) << 2);
  const bit: u32 = 1 << (i & 31);
  if ((load<u32>(w) & bit) != 0) { store<u32>(w, load<u32>(w) & ~bit); outputPending--; }
  memory.fill(changetype<usize>(t), 0, offsetof<Tcb>());
  t.qd = -1;
  t.listener = -1;
  t.rCap = initialBuffer();
  return <i32>i;
}

export function tcbStopTimers(t: Tcb): void {
  timerCancel(t.rtoTimer);
  timerCancel(t.twTimer);
  timerCancel(t.ackTimer);
  timerCancel(t.keepTimer);
  timerCancel(t.rackTimer);
  timerCancel(t.memTimer);
  t.rtoTimer = 0; t.twTimer = 0; t.ackTimer = 0; t.keepTimer = 0; t.rackTimer = 0; t.memTimer = 0;
}

/** Frees a control block (once: a second call does nothing). */
export function tcbFree(t: Tcb): void {
  if (t.onFreeList != 0) return;
  tcbStopTimers(t);
  tcbUnhash(t);
  sendBlocksFree(t);
  receiveBlockFree(t);
  t.state = CLOSED;
  t.onFreeList = 1;
  t.nextFree = freeHead;
  freeHead = tcbIndex(t) + 1;
}

// Bytes every connection's send rings and logs hold together (buffers.ts keeps it under half the
// buffer memory, so that receiving, which is what frees a peer's send ring, always finds room).
let sendBytes: usize = 0;
export function sendBytesHeld(): usize { return sendBytes; }
export function sendBytesChange(grown: usize, freed: usize): void { sendBytes = sendBytes + grown - freed; }

/** Bytes a connection's send ring and segment log hold. */
@inline export function sendBlockBytes(t: Tcb): usize { return <usize>t.sSize + <usize>t.logCap * LOG_ENTRY; }

/** Gives back the send ring and the segment log (buffers.ts took them): nothing is queued or in flight. */
export function sendBlocksFree(t: Tcb): void {
  sendBytes -= sendBlockBytes(t);
  if (t.sSize != 0) t.sLast = t.sSize;
  if (t.sbuf != 0) buddyFree(t.sbuf, ctz(t.sSize));
  if (t.logBase != 0) buddyFree(t.logBase, ctz(t.logCap * LOG_ENTRY));
  t.sbuf = 0; t.sSize = 0; t.logBase = 0; t.logCap = 0; t.logHead = 0;
}

/** Gives back the receive ring: nothing is held for the application or out of order. */
export function receiveBlockFree(t: Tcb): void {
  if (t.rSize != 0) t.rLast = t.rSize;
  if (t.rbuf != 0) buddyFree(t.rbuf, ctz(t.rSize));
  t.rbuf = 0; t.rSize = 0;
}

/** The connection is over on our side but its socket still names it: no segment finds it. */
export function tcbDone(t: Tcb): void {
  tcbUnhash(t);
  t.state = DONE;
}

/** The connection for a segment's 4-tuple (hi:lo is the peer), or -1. */
export function tcbLookup(lip: u32, lport: u32, hi: u64, lo: u64, rport: u32): i32 {
  if (memo >= 0) {
    const m = tcb(<u32>memo);
    if (m.hashed != 0 && m.rport == rport && m.lport == lport && m.ripLo == lo && m.ripHi == hi && m.lip == lip) return memo;
  }
  const i = demuxFind(lip, lport, hi, lo, rport);
  if (i >= 0) memo = i;
  return i;
}

/** Connections in a state, for tests and stats. */
export function tcbCount(state: u8): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < nTcb; i++) if (tcb(i).state == state) n++;
  return n;
}

// ---- byte rings (a power-of-two size; positions are sequence numbers modulo the size) ----

/** Copies n bytes from src into a ring of `size` bytes starting at sequence position seq. */
export function ringWrite(ring: u32, size: u32, seq: u32, src: usize, n: u32): void {
  const at = seq & (size - 1);
  const first = min(n, size - at);
  memory.copy(<usize>ring + at, src, first);
  if (first < n) memory.copy(<usize>ring, src + first, n - first);
}

/** Copies n bytes out of a ring of `size` bytes starting at sequence position seq. */
export function ringRead(ring: u32, size: u32, seq: u32, dst: usize, n: u32): void {
  const at = seq & (size - 1);
  const first = min(n, size - at);
  memory.copy(dst, <usize>ring + at, first);
  if (first < n) memory.copy(dst + first, <usize>ring, n - first);
}

// Building and sending segments. Data comes from the connection's send ring; options follow
// RFC 7323 (timestamps, window scale) and RFC 2018 (SACK), written by wire/tcp.ts in Linux's order.
import { slotAlloc, slotData, frameCap } from "../../mem/pool";
import { count, D_NO_BUFFER, C_TCP_SEGMENTS_OUT, C_TCP_RESETS_SENT, C_TCP_RETRANSMITS, C_TCP_DSACKS_SENT } from "../../counters";
import { TcpRepr, tcpEmitOptions, tcpEmitHeader, setSack, MAX_SACK_BLOCKS, TCP_HLEN, SYN, ACK, RST } from "../../wire/tcp";
import { PROTO_TCP } from "../../wire/ipv4";
import { ETH_HLEN } from "../../wire/eth";
import { mtu } from "../../schema/config";
import { netHeaderLen, netPseudo, netSend } from "../route";
import { nowNs } from "../clock";
import { Tcb, ringRead, seqGe, seqGt, oo, SYN_SENT } from "./tcb";
import { logSent } from "./rack";

/** Our timestamp clock (RFC 7323 §5.4: 1 ms ticks). */
@inline export function tsNow(): u32 { return <u32>(<u64>(nowNs / 1e6)); }

/** Free space in the receive buffer: what the peer may send beyond RCV.NXT without loss. */
@inline export function rcvWindow(t: Tcb): u32 { return t.rCap - t.rlen; }

/**
 * The receive window to advertise (RFC 9293 §3.8.6.2.2, receiver-side SWS avoidance): the right
 * edge moves right only by at least min(MSS, half the buffer), so the peer is never invited to
 * send a sliver, and it never moves left (RFC 9293 §3.8.6.2.2: shrinking is "strongly
 * discouraged"). Before scaling.
 */
export function windowToAdvertise(t: Tcb): u32 {
  const edge = t.rcvNxt + rcvWindow(t);
  if (seqGe(edge, t.rcvAdv + min(t.mss, t.rCap >> 1))) return rcvWindow(t);
  return advertisedWindow(t);
}

/** What the peer may still send by our last advertisement: up to the edge we offered. */
export function advertisedWindow(t: Tcb): u32 { return seqGt(t.rcvAdv, t.rcvNxt) ? t.rcvAdv - t.rcvNxt : 0; }

// The segment being sent: every field is set for each one (its SACK blocks are ours alone).
const out = changetype<TcpRepr>(memory.data(offsetof<TcpRepr>()));

/**
 * Fills `out`'s SACK blocks with up to 3 (with timestamps) or 4: a pending D-SACK first
 * (RFC 2883 §4: the duplicate range, reported once), then the out-of-order ranges, newest first
 * (RFC 2018 §4).
 */
function sackBlocks(t: Tcb, max: u32): u32 {
  let n: u32 = 0;
  if (t.dsackPending != 0) {
    setSack(out, 0, t.dsackS, t.dsackE);
    t.dsackPending = 0;
    t.nDsackSent++;
    count(C_TCP_DSACKS_SENT);
    n = 1;
  }
  const src = oo(t);
  for (let i: u32 = 0; i < t.ooN && n < max; i++, n++) {
    setSack(out, n, load<u32>(src + (<usize>i << 3)), load<u32>(src + (<usize>i << 3) + 4));
  }
  return n;
}

/**
 * Sends one segment: up to `len` bytes of the send ring from `seq` with `flags`. SYN segments
 * carry MSS, SACK-permitted, timestamps and window scale (a SYN-ACK only those the peer
 * offered). Returns the data bytes sent — fewer than `len` when SACK blocks took room in the
 * MTU — or -1 when no buffer was free.
 */
export function sendSegment(t: Tcb, seq: u32, len: u32, flags: u32): i32 {
  const s = slotAlloc(frameCap);
  if (s < 0) { count(D_NO_BUFFER); return -1; }
  const v6 = t.v6 != 0;
  const ipHlen = netHeaderLen(v6);
  const tcp = slotData(<u32>s) + ETH_HLEN + ipHlen;
  const syn = (flags & SYN) != 0;
  const offerAll = syn && t.state == SYN_SENT;
  const ts = offerAll || t.tsOk != 0;
  out.mss = syn ? mssFor(v6) : 0;
  out.wscale = syn && (offerAll || t.rcvShift != 0 || t.sndShift != 0) ? <i32>t.rcvShift : -1;
  out.sackPerm = syn && (offerAll || t.sackOk != 0);
  out.hasTs = ts;
  out.tsVal = tsNow();
  out.tsEcr = t.tsRecent;
  out.sackCount = !syn && t.sackOk != 0 ? sackBlocks(t, ts ? MAX_SACK_BLOCKS - 1 : MAX_SACK_BLOCKS) : 0;
  const optLen = tcpEmitOptions(tcp + TCP_HLEN, out);
  // Never more than one MTU, whatever the options took.
  len = min(len, <u32>mtu - ipHlen - TCP_HLEN - optLen);
  if (len > 0) ringRead(t.sbuf, t.sSize, seq, tcp + TCP_HLEN + optLen, len);
  let win = windowToAdvertise(t);
  win = syn ? min(win, 65535) : min(win >> t.rcvShift, 65535);
  const edge = t.rcvNxt + (syn ? win : win << t.rcvShift);
  if ((flags & ACK) != 0 && seqGt(edge, t.rcvAdv)) t.rcvAdv = edge;
  const ackNo = (flags & ACK) != 0 ? t.rcvNxt : 0;
  out.srcPort = t.lport;
  out.dstPort = t.rport;
  out.seq = seq;
  out.ack = ackNo;
  out.flags = flags;
  out.window = win;
  out.urgent = 0;
  tcpEmitHeader(tcp, out, optLen, len, netPseudo(v6, t.lip, t.ripHi, t.ripLo));
  if ((flags & ACK) != 0) {
    t.ackPending = 0;
  }
  count(C_TCP_SEGMENTS_OUT);
  if (netSend(<u32>s, tcp, TCP_HLEN + optLen + len, v6, t.lip, t.ripHi, t.ripLo, PROTO_TCP) < 0) return -1;
  // Only what really left is logged: a send that failed is tried again as new data, not counted
  // as a retransmission nor as in flight.
  if (len > 0) {
    if (logSent(t, seq, seq + len)) {
      t.nRetrans++;
      count(C_TCP_RETRANSMITS);
      if (t.undoPossible != 0) t.undoRetrans++;
    }
    if (t.inRecovery != 0) t.prrOut += len;
  }
  return <i32>len;
}

/** The MSS we offer and start from (RFC 9293 §3.7.1: the MTU less the IP and TCP headers;
 *  IPv6's is 20 bytes smaller). */
@inline export function mssFor(v6: bool): u32 { return <u32>mtu - netHeaderLen(v6) - TCP_HLEN; }

/** What connection t may send per segment over a path of `pathMtu` bytes: less the headers and
 *  the timestamps it carries on every segment (RFC 7323 §3.2's 12 bytes) when they are on. */
export function pathMss(t: Tcb, pathMtu: u32): u32 {
  return pathMtu - netHeaderLen(t.v6 != 0) - TCP_HLEN - (t.tsOk != 0 ? 12 : 0);
}

/** A reset on connection t's four-tuple, with sequence number `seq` (RFC 9293 §3.10.7). */
export function resetPeer(t: Tcb, seq: u32): void {
  sendReset(t.v6 != 0, t.lip, t.ripHi, t.ripLo, t.lport, t.rport, seq, 0, false);
}

/** A reset for a segment that has no connection (RFC 9293 §3.10.7.1): from our `local` to the
 *  peer hi:lo, over the version it came by. */
export function sendReset(v6: bool, local: u32, hi: u64, lo: u64, lport: u32, rport: u32, seq: u32, ack: u32, withAck: bool): void {
  const s = slotAlloc(frameCap);
  if (s < 0) { count(D_NO_BUFFER); return; }
  const tcp = slotData(<u32>s) + ETH_HLEN + netHeaderLen(v6);
  out.srcPort = lport;
  out.dstPort = rport;
  out.seq = seq;
  out.ack = withAck ? ack : 0;
  out.flags = withAck ? RST | ACK : RST;
  out.window = 0;
  out.urgent = 0;
  tcpEmitHeader(tcp, out, 0, 0, netPseudo(v6, local, hi, lo));
  count(C_TCP_RESETS_SENT);
  netSend(<u32>s, tcp, TCP_HLEN, v6, local, hi, lo, PROTO_TCP);
}

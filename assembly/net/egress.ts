// IPv4 output (RFC 791, RFC 1122 §3.2.1): the one way down for every transport. Writes the
// header in the headroom in front of the transport payload, or fragments when the datagram
// exceeds the MTU (RFC 791 §3.2, which Demikernel answers with ENOTSUP), and hands frames to the
// neighbor layer. A transport sees sent, queued (a ticket to wait on) or -errno, never ARP.
import { slotAlloc, slotData, slotUnref, frameCap } from "../mem/pool";
import { count, D_NO_BUFFER, C_IP_FRAGMENTS_SENT } from "../counters";
import { Ipv4Repr, ipv4Emit, IP_HLEN } from "../wire/ipv4";
import { ETH_HLEN } from "../wire/eth";
import { mtu } from "../schema/config";
import { ENOBUFS } from "../schema/errno";
import { hostRandom } from "../host";
import { neighborSend, neighborWait } from "./neighbor";
import { loopSend } from "./loopback";
import { isOurs4 } from "./addr4";
import { ETHERTYPE_IPV4 } from "../wire/eth";

const DEFAULT_TTL: u32 = 64;   // RFC 1700 / Linux's default
let nextId: u32 = 0;
// The header every datagram we send gets; the fields that never change are set once.
const out = changetype<Ipv4Repr>(memory.data(offsetof<Ipv4Repr>()));

export function egressInit(): void {
  nextId = hostRandom() & 0xffff;
  out.hlen = IP_HLEN;
  out.ttl = DEFAULT_TTL;
  out.tos = 0;
  out.df = false;
}

/**
 * Sends `len` transport bytes at `p` from our address `src` to `dst`. The caller guarantees IP_HLEN + ETH_HLEN bytes of
 * headroom in front of `p` inside the slot, and gives up its slot reference.
 * Returns 0 (sent), a ticket > 0 (queued until the next hop resolves: egressWait takes it) or -errno.
 */
export function egressSend(slot: u32, p: usize, len: u32, src: u32, dst: u32, proto: u32): i32 {
  out.src = src;
  out.id = nextId;
  nextId = (nextId + 1) & 0xffff;
  out.proto = proto;
  out.dst = dst;
  if (len + IP_HLEN <= <u32>mtu) {
    out.total = len + IP_HLEN;
    out.mf = false;
    out.fragOff = 0;
    ipv4Emit(p - IP_HLEN, out);
    return down(slot, p - IP_HLEN - ETH_HLEN, len + IP_HLEN + ETH_HLEN, dst);
  }
  return fragment(slot, p, len, dst);
}

/** RFC 791 §3.2 fragmentation: every fragment but the last carries a multiple of 8 bytes. */
function fragment(slot: u32, p: usize, len: u32, dst: u32): i32 {
  const chunk = ((<u32>mtu - IP_HLEN) & ~7);
  let ret: i32 = 0;
  for (let off: u32 = 0; off < len; off += chunk) {
    const n = min(chunk, len - off);
    const s = slotAlloc(frameCap);
    if (s < 0) { count(D_NO_BUFFER); ret = -ENOBUFS; break; }
    const f = slotData(<u32>s);
    memory.copy(f + ETH_HLEN + IP_HLEN, p + off, n);
    out.total = n + IP_HLEN;
    out.mf = off + n < len;
    out.fragOff = off;
    ipv4Emit(f + ETH_HLEN, out);
    const r = down(<u32>s, f, n + IP_HLEN + ETH_HLEN, dst);
    count(C_IP_FRAGMENTS_SENT);
    if (r < 0) { ret = r; break; }
    if (r > 0) ret = r;
  }
  slotUnref(slot);
  return ret;
}

/** One frame to `dst`: back up through the loopback interface when it is ours, else to the
 *  neighbor layer (which resolves the next hop). */
function down(slot: u32, frame: usize, len: u32, dst: u32): i32 {
  return isOurs4(dst) ? loopSend(slot, frame, len, ETHERTYPE_IPV4) : neighborSend(slot, frame, len, dst);
}

/** Completes operation `q` when the datagram behind `ticket` (from egressSend) leaves or fails. */
export function egressWait(ticket: i32, q: u32): void { neighborWait(ticket, q); }

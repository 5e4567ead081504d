// IPv4 input and output (RFC 791, RFC 1122 §3.2.1). Input verifies the header, sends fragments
// to reassembly and demuxes by protocol. Output writes the header in the headroom in front of
// the transport payload, or fragments when the datagram exceeds the MTU (RFC 791 §3.2), which
// Demikernel answers with ENOTSUP.
import { slotAlloc, slotData, slotUnref, SMALL_CAP } from "../mem/pool";
import { count, D_IP_TRUNCATED, D_IP_BAD_VERSION, D_IP_BAD_IHL, D_IP_BAD_LENGTH, D_IP_BAD_CHECKSUM,
         D_IP_NOT_FOR_US, D_IP_BAD_SOURCE, D_IP_UNKNOWN_PROTO, D_NO_BUFFER, C_FRAGS_SENT } from "../counters";
import { ipv4Parse, ipv4Emit, ipIsMartianSource, ipHlen, ipTotal, ipMf, ipFragOff, ipProto, ipSrc, ipDst, ipId,
         IPV4_OK, IPV4_TRUNCATED, IPV4_BAD_VERSION, IPV4_BAD_IHL, IPV4_BAD_LENGTH,
         IP_HLEN, PROTO_ICMP, PROTO_UDP, PROTO_TCP } from "../wire/ipv4";
import { ETH_HLEN } from "../wire/eth";
import { localIp, mtu } from "../config";
import { ENOBUFS } from "../errno";
import { hostRandom } from "../host";
import { arpSend } from "./arp";
import { reasmInput } from "./reassembly";
import { icmpInput } from "./icmp";
import { udpInput } from "./udp";
import { tcpInput } from "./tcp/input";

const DEFAULT_TTL: u32 = 64;   // RFC 1700 / Linux's default
let nextId: u32 = 0;

export function ipInit(): void {
  nextId = hostRandom() & 0xffff;
}

export function ipInput(slot: u32, p: usize, len: u32): void {
  const r = ipv4Parse(p, len);
  if (r != IPV4_OK) {
    count(r == IPV4_TRUNCATED ? D_IP_TRUNCATED : r == IPV4_BAD_VERSION ? D_IP_BAD_VERSION
        : r == IPV4_BAD_IHL ? D_IP_BAD_IHL : r == IPV4_BAD_LENGTH ? D_IP_BAD_LENGTH : D_IP_BAD_CHECKSUM);
    slotUnref(slot);
    return;
  }
  const bcast = ipDst == 0xffffffff;
  if (ipDst != localIp && !bcast) { count(D_IP_NOT_FOR_US); slotUnref(slot); return; }
  // RFC 1122 §3.2.1.3: drop datagrams from broadcast, multicast, zero or our own address.
  if (ipIsMartianSource(ipSrc) || ipSrc == 0 || ipSrc == localIp) { count(D_IP_BAD_SOURCE); slotUnref(slot); return; }
  // Options (IHL > 5) are skipped: RFC 1122 §3.2.1.8 lets a host ignore the ones it does not implement.
  const payload = p + ipHlen;
  const plen = ipTotal - ipHlen;
  if (ipMf || ipFragOff != 0) {
    reasmInput(slot, ipSrc, ipDst, ipId, ipProto, ipFragOff, ipMf, payload, plen);
    return;
  }
  transportInput(slot, ipProto, ipSrc, ipDst, payload, plen);
}

/** Demux by protocol; reassembly calls it too, with the reassembled payload. */
export function transportInput(slot: u32, proto: u32, src: u32, dst: u32, p: usize, len: u32): void {
  if (proto == PROTO_UDP) udpInput(slot, src, dst, p, len);
  else if (proto == PROTO_ICMP) icmpInput(slot, src, dst, p, len);
  else if (proto == PROTO_TCP) tcpInput(slot, src, dst, p, len);
  else { count(D_IP_UNKNOWN_PROTO); slotUnref(slot); }
}

/**
 * Sends `len` transport bytes at `p` to `dst`. The caller guarantees IP_HLEN + ETH_HLEN bytes of
 * headroom in front of `p` inside the slot, and gives up its slot reference.
 * Returns 0 (sent), ARP entry + 1 (waiting for resolution) or -errno.
 */
export function ipOutput(slot: u32, p: usize, len: u32, dst: u32, proto: u32): i32 {
  const id = nextId;
  nextId = (nextId + 1) & 0xffff;
  if (len + IP_HLEN <= <u32>mtu) {
    ipv4Emit(p - IP_HLEN, len + IP_HLEN, id, false, false, 0, DEFAULT_TTL, proto, localIp, dst, 0);
    return arpSend(slot, p - IP_HLEN - ETH_HLEN, len + IP_HLEN + ETH_HLEN, dst);
  }
  return fragment(slot, p, len, dst, proto, id);
}

/** RFC 791 §3.2 fragmentation: every fragment but the last carries a multiple of 8 bytes. */
function fragment(slot: u32, p: usize, len: u32, dst: u32, proto: u32, id: u32): i32 {
  const chunk = ((<u32>mtu - IP_HLEN) & ~7);
  let ret: i32 = 0;
  for (let off: u32 = 0; off < len; off += chunk) {
    const n = min(chunk, len - off);
    const s = slotAlloc(SMALL_CAP);
    if (s < 0) { count(D_NO_BUFFER); ret = -ENOBUFS; break; }
    const f = slotData(<u32>s);
    memory.copy(f + ETH_HLEN + IP_HLEN, p + off, n);
    ipv4Emit(f + ETH_HLEN, n + IP_HLEN, id, false, off + n < len, off, DEFAULT_TTL, proto, localIp, dst, 0);
    const r = arpSend(<u32>s, f, n + IP_HLEN + ETH_HLEN, dst);
    count(C_FRAGS_SENT);
    if (r < 0) { ret = r; break; }
    if (r > 0) ret = r;
  }
  slotUnref(slot);
  return ret;
}

// ICMP: we answer echo requests (RFC 1122 §3.2.2.6) and drop everything else, counted.
// The reply reuses the request's buffer: same payload, swapped addresses, new checksum.
import { slotUnref } from "../mem/pool";
import { count, D_ICMP_TRUNCATED, D_ICMP_BAD_CHECKSUM, D_ICMP_UNSUPPORTED, C_ICMP_ECHO_REPLIED } from "../counters";
import { IcmpRepr, icmpParse, icmpEchoEmit, ICMP_HLEN, ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY } from "../wire/icmp";
import { csumAdd, csumFold } from "../wire/checksum";
import { PROTO_ICMP } from "../wire/ipv4";
import { egressSend } from "./egress";

// The message being answered; its reply is written from the same record.
const msg = changetype<IcmpRepr>(memory.data(offsetof<IcmpRepr>()));

export function icmpInput(slot: u32, src: u32, dst: u32, p: usize, len: u32): void {
  if (!icmpParse(p, len, msg)) { count(D_ICMP_TRUNCATED); slotUnref(slot); return; }
  if (csumFold(csumAdd(0, p, len)) != 0xffff) { count(D_ICMP_BAD_CHECKSUM); slotUnref(slot); return; }
  // RFC 1122 §3.2.2.6: an echo request to a broadcast address may be silently discarded (smurf).
  if (msg.type != ICMP_ECHO_REQUEST || msg.code != 0 || dst == 0xffffffff) {
    count(D_ICMP_UNSUPPORTED); slotUnref(slot); return;
  }
  msg.type = ICMP_ECHO_REPLY;                      // from the address it was sent to
  icmpEchoEmit(p, msg, len - ICMP_HLEN);
  if (egressSend(slot, p, len, dst, src, PROTO_ICMP) >= 0) count(C_ICMP_ECHO_REPLIED);
}

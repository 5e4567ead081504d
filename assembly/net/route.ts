// The network layer as a transport sees it, whichever IP version carries a socket: the header
// room to leave in front of a segment, the pseudo-header address sum (RFC 9293 §3.1, RFC 768,
// RFC 8200 §8.1), the way down and the wait for a send queued behind address resolution. A peer
// is hi:lo (an IPv4 address as mapped4, wire/ipv6.ts); our side is a key: the IPv4 address, or
// the index of one of our IPv6 addresses (addr6.ts). Sockets of the two versions stay separate:
// `v6` comes from the socket, never from the address.
import { IP_HLEN } from "../wire/ipv4";
import { IP6_HLEN, pseudoAddr6Of } from "../wire/ipv6";
import { pseudoAddr4 } from "../wire/checksum";
import { egressSend, egressWait } from "./egress";
import { ip6Output } from "./egress6";
import { neighbor6Wait } from "./neighbor6";
import { addr6Pseudo, addr6SourceFor } from "./addr6";
import { S_LIDX, S_LIP, ANY6 } from "./socket";
import { source4 } from "./addr4";

@inline export function netHeaderLen(v6: bool): u32 { return v6 ? IP6_HLEN : IP_HLEN; }

export function netPseudo(v6: bool, local: u32, hi: u64, lo: u64): u64 {
  return v6 ? addr6Pseudo(local) + pseudoAddr6Of(hi, lo) : pseudoAddr4(local, <u32>lo);
}

/** Our side for socket `s` sending to hi:lo: the address it is bound to, or for one bound to
 *  any the one addr4 or addr6 picks for that destination (IPv6: an index in addr6's table). */
export function netSource(v6: bool, s: usize, hi: u64, lo: u64): u32 {
  if (!v6) return source4(load<u32>(s + S_LIP), <u32>lo);
  const b = load<u8>(s + S_LIDX);
  return b != ANY6 ? <u32>b : addr6SourceFor(hi, lo);
}

/** Sends `len` transport bytes at `p` (netHeaderLen + ETH_HLEN of headroom in front, in the
 *  slot, whose reference passes on): 0 sent, a ticket > 0 for netWait, or -errno. */
export function netSend(slot: u32, p: usize, len: u32, v6: bool, local: u32, hi: u64, lo: u64, proto: u32): i32 {
  return v6 ? ip6Output(slot, p, len, local, hi, lo, proto) : egressSend(slot, p, len, local, <u32>lo, proto);
}

/** Completes operation `q` when the send behind `ticket` leaves or fails. */
export function netWait(v6: bool, ticket: i32, q: u32): void {
  if (v6) neighbor6Wait(ticket, q);
  else egressWait(ticket, q);
}

/** A peer address folded to 32 bits for keyed hashes (ISNs, SYN cookies, the connection index):
 *  every bit counts, and an IPv4 peer (mapped4) folds to its own address, as before IPv6. */
@inline export function addrFold(hi: u64, lo: u64): u32 {
  return <u32>lo ^ <u32>(lo >> 32) ^ <u32>hi ^ <u32>(hi >> 32) ^ 0xffff;
}

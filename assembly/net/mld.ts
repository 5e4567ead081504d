// Multicast Listener Discovery, version 2 (RFC 3810), for the groups we listen to: the
// solicited-node group of each of our addresses, which RFC 4861 §7.2.1 requires us to join. A
// switch that snoops MLD forwards a group's frames only to ports that reported it, so without
// reports Neighbor Discovery fails behind one. We report when an address joins (on the turn
// after it is added, before its first DAD probe, RFC 4862 §5.4.2) and answer queries at once
// (§6.2 allows a random delay up to the query's Maximum Response Delay, meant to spread many
// listeners' reports; we have at most MAX_ADDRESSES groups). §6.1's repeated unsolicited
// reports are left to the querier's next query. All-nodes (ff02::1) is never reported (§6).
import { slotAlloc, slotData, slotUnref, frameCap } from "../mem/pool";
import { count, D_NO_BUFFER, C_ICMP6_MLD_REPORTS_SENT } from "../counters";
import { Ipv6Repr, ipv6Emit, pseudoAddrs6, IP6_HLEN } from "../wire/ipv6";
import { Icmpv6Repr, icmpv6Emit, ICMP6_HLEN, PROTO_ICMPV6 } from "../wire/icmpv6";
import { ETH_HLEN } from "../wire/eth";
import { ld64, st64 } from "../wire/bytes";
import { addr6Count, addr6Hi, addr6Lo, addr6State, mldWaiting, mldReported, solicitedHi, solicitedLo, isLinkLocal6,
         ALL_NODES_HI, PREFERRED, DUPLICATE } from "./addr6";
import { neighbor6Send } from "./neighbor6";

export const MLD_QUERY: u32 = 130;
const MLD2_REPORT: u32 = 143;
const MODE_IS_EXCLUDE: u32 = 2;           // §5.2.12: the current state, answering a query
const CHANGE_TO_EXCLUDE: u32 = 4;         // a join (exclude nothing: every source)
const ALL_MLD2_ROUTERS_LO: u64 = 0x16;    // ff02::16 (§5.2.14)
const RECORD: u32 = 20;                   // type, aux length, source count, the group
const HBH_LEN: u32 = 8;                   // hop-by-hop: Router Alert (RFC 2711) for MLD, padded

const ip = changetype<Ipv6Repr>(memory.data(offsetof<Ipv6Repr>()));
const msg = changetype<Icmpv6Repr>(memory.data(offsetof<Icmpv6Repr>()));

/** On a turn: addresses added since the last one report their groups. */
export function mldTick(): void {
  if (!mldWaiting) return;
  mldReported();
  report(CHANGE_TO_EXCLUDE, 0, 0);
}

/**
 * A query (§5.1) whose `len` bytes are at `p`: valid only from a link-local address with hop
 * limit 1 (§5.1.14). A general query (group ::) is answered with every group of ours, one about
 * a group with that group when it is ours. True when it was a valid query.
 */
export function mldQuery(q: Ipv6Repr, p: usize, len: u32): bool {
  if (len < 24 || q.hopLimit != 1 || !isLinkLocal6(q.srcHi)) return false;
  const hi = ld64(p + 8), lo = ld64(p + 16);
  report(MODE_IS_EXCLUDE, hi, lo);
  return true;
}

/** Sends a report of `type` records for every group of ours, or only for group hi:lo when set. */
function report(type: u32, hi: u64, lo: u64): void {
  const s = slotAlloc(frameCap);
  if (s < 0) { count(D_NO_BUFFER); return; }
  const frame = slotData(<u32>s), h = frame + ETH_HLEN, icmp = h + IP6_HLEN + HBH_LEN, rec = icmp + ICMP6_HLEN;
  let n: u32 = 0;
  for (let i: u32 = 0; i < addr6Count(); i++) {
    if (addr6State(i) == DUPLICATE) continue;
    const glo = solicitedLo(addr6Lo(i));
    if ((hi != 0 || lo != 0) && (hi != solicitedHi() || lo != glo)) continue;
    let dup = false;                                  // two addresses may share a group
    for (let k: u32 = 0; k < n; k++) if (ld64(rec + k * RECORD + 12) == glo) dup = true;
    if (dup) continue;
    const r = rec + n * RECORD;
    store<u32>(r, 0);
    store<u8>(r, <u8>type);
    st64(r + 4, solicitedHi());
    st64(r + 12, glo);
    n++;
  }
  if (n == 0) { slotUnref(<u32>s); return; }          // a query about a group not ours
  // From our link-local address once it is ours, else from :: (RFC 3590 §4, RFC 4862 §5.4.2).
  const ll = addr6Count() > 0 && addr6State(0) == PREFERRED;
  ip.srcHi = ll ? addr6Hi(0) : 0; ip.srcLo = ll ? addr6Lo(0) : 0;
  ip.dstHi = ALL_NODES_HI; ip.dstLo = ALL_MLD2_ROUTERS_LO;
  ip.trafficClass = 0; ip.flowLabel = 0;
  ip.payloadLen = HBH_LEN + ICMP6_HLEN + n * RECORD;
  ip.nextHeader = 0;                                  // hop-by-hop first
  ip.hopLimit = 1;                                    // §5: link-scope
  ipv6Emit(h, ip);
  const hbh = h + IP6_HLEN;
  store<u64>(hbh, 0);
  store<u8>(hbh, <u8>PROTO_ICMPV6);                   // next header; length 0: 8 bytes
  store<u8>(hbh + 2, 5); store<u8>(hbh + 3, 2);       // Router Alert, value 0: MLD (RFC 2711)
  store<u8>(hbh + 6, 1);                              // PadN of 2: 0 bytes of padding data
  msg.type = MLD2_REPORT; msg.code = 0; msg.ident = 0; msg.seq = n;   // reserved, number of records
  icmpv6Emit(icmp, msg, n * RECORD, pseudoAddrs6(ip.srcHi, ip.srcLo, ip.dstHi, ip.dstLo));
  if (neighbor6Send(<u32>s, frame, ETH_HLEN + IP6_HLEN + ip.payloadLen, ip.dstHi, ip.dstLo) >= 0) count(C_ICMP6_MLD_REPORTS_SENT);
}

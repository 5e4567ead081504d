// IPv6 neighbors (RFC 4861): who is the next hop on the link, by Neighbor Discovery. A cache
// whose entries move through INCOMPLETE, REACHABLE, STALE, DELAY and PROBE (§7.3.2), with the
// frames waiting for resolution queued (bounded) on their entry; solicitations answered for our
// addresses (§7.2.3, and DAD probes of them, RFC 4862 §5.4.3); advertisements taken by the rules
// of §7.2.5. An advertisement for one of our own addresses is never believed; routers are not
// tracked (the router flag is read and ignored: no default route comes from the wire). Duplicate
// address detection for our own addresses (RFC 4862 §5.4) runs here too: probes from ::, and a
// probe or an advertisement for a tentative address of ours makes it a duplicate.
import { carve } from "../mem/layout";
import { slotAlloc, slotData, slotUnref, frameCap } from "../mem/pool";
import { count, D_NDP_INVALID, D_NDP_NOT_FOR_US, D_NDP_CONFLICT, D_NDP_TIMEOUT, D_NDP_QUEUE_FULL, D_NO_BUFFER,
         C_NDP_SOLICITATIONS_SENT, C_NDP_ADVERTISEMENTS_SENT, C_ICMP6_IGNORED, C_NDP_DUPLICATE_ADDRESSES } from "../counters";
import { ethEmit, ETH_HLEN, ETHERTYPE_IPV6, MAC_IPV6_MULTICAST_HI } from "../wire/eth";
import { Ipv6Repr, ipv6Emit, pseudoAddr6, IP6_HLEN } from "../wire/ipv6";
import { PROTO_ICMPV6 } from "../wire/icmpv6";
import { NdpRepr, ndpParse, ndpEmit, NDP_NS, NDP_NA, NDP_HLEN, NDP_LEN_WITH_LL, NA_SOLICITED, NA_OVERRIDE } from "../wire/ndp";
// RFC 4861 §10's protocol constants are the config's ndp.* keys.
import { macHi, macLo, ndpReachableNs, ndpRetransNs, ndpDelayNs, ndpMaxMulticast, ndpMaxUnicast, ndpQueueDepth,
         ndpDadTransmits } from "../schema/config";
import { timerStart, timerCancel } from "../sched/timers";
import { T_NDP, T_DAD } from "../sched/kinds";
import { ENOBUFS, EHOSTUNREACH } from "../schema/errno";
import { addr6Index, addr6Hi, addr6Lo, addr6SourceFor, addr6Count, addr6State, addr6SetState, addr6Tries, addr6SetTries,
         dadWaiting, dadStarted, isMulticast6, solicitedHi, solicitedLo, TENTATIVE, PREFERRED, DUPLICATE,
         ALL_NODES_HI, ALL_NODES_LO } from "./addr6";
import { linkTx } from "./link";
import { holdFrame, holdWait, holdRelease, holdDrop, holdCount } from "./hold";
import { nowNs } from "./clock";


const ENTRIES: u32 = 256;
const E_SIZE: usize = 64;
const S_FREE: u8 = 0;
const S_INCOMPLETE: u8 = 1;
const S_REACHABLE: u8 = 2;
const S_STALE: u8 = 3;
const S_DELAY: u8 = 4;
const S_PROBE: u8 = 5;
const S_STATIC: u8 = 6;      // from the config: never changed by the wire, never expires
const E_STATE: usize = 0;    // u8
const E_TRIES: usize = 1;    // u8 solicitations sent in this state
const E_HI: usize = 8;       // u64
const E_LO: usize = 16;      // u64
const E_MAC_HI: usize = 24;
const E_MAC_LO: usize = 28;
const E_TIMER: usize = 32;   // u32 timer id
const E_HOLD: usize = 36;    // the frames and operations waiting for the address (hold.ts)

let table: usize = 0;
const rx = changetype<NdpRepr>(memory.data(offsetof<NdpRepr>()));
const tx = changetype<NdpRepr>(memory.data(offsetof<NdpRepr>()));
const hdr = changetype<Ipv6Repr>(memory.data(offsetof<Ipv6Repr>()));
let memo: i32 = -1;

export function ndpInit(): bool {
  table = carve(<usize>ENTRIES * E_SIZE, 64);
  return table != 0;
}

@inline function entry(i: u32): usize { return table + <usize>i * E_SIZE; }
@inline function state(i: u32): u8 { return load<u8>(entry(i) + E_STATE); }

function lookup(hi: u64, lo: u64): i32 {
  if (memo >= 0) {
    const m = entry(<u32>memo);
    if (load<u8>(m + E_STATE) != S_FREE && load<u64>(m + E_LO) == lo && load<u64>(m + E_HI) == hi) return memo;
  }
  for (let i: u32 = 0; i < ENTRIES; i++) {
    const e = entry(i);
    if (load<u8>(e + E_STATE) != S_FREE && load<u64>(e + E_LO) == lo && load<u64>(e + E_HI) == hi) { memo = <i32>i; return <i32>i; }
  }
  return -1;
}

/** A free entry for the address, or the first STALE one reused (nothing waits on it), or -1. */
function allocEntry(hi: u64, lo: u64): i32 {
  for (let pass = 0; pass < 2; pass++) {
    for (let i: u32 = 0; i < ENTRIES; i++) {
      const e = entry(i), st = load<u8>(e + E_STATE);
      if (st == S_FREE || (pass == 1 && st == S_STALE)) {
        if (st != S_FREE) timerCancel(load<u32>(e + E_TIMER));
        memory.fill(e, 0, E_SIZE);
        store<u64>(e + E_HI, hi);
        store<u64>(e + E_LO, lo);
        return <i32>i;
      }
    }
  }
  return -1;
}

/** Moves entry i to `st`, with a timer `after` ns from now (0: none). */
function enter(i: u32, st: u8, after: f64): void {
  const e = entry(i);
  timerCancel(load<u32>(e + E_TIMER));
  store<u8>(e + E_STATE, st);
  store<u8>(e + E_TRIES, 0);
  store<u32>(e + E_TIMER, after > 0 ? timerStart(T_NDP, i, nowNs + after) : 0);
}

function setLinkAddress(i: u32, hi: u32, lo: u32): void {
  store<u32>(entry(i) + E_MAC_HI, hi);
  store<u32>(entry(i) + E_MAC_LO, lo);
}

/** Sends what waited on entry i (now resolved), in order, and completes its waiters. */
function flush(i: u32): void {
  const e = entry(i);
  holdRelease(e + E_HOLD, load<u32>(e + E_MAC_HI), load<u32>(e + E_MAC_LO), ETHERTYPE_IPV6);
}

/** Drops an entry: its waiting frames count as resolution failures, its waiters fail. */
function freeEntry(i: u32): void {
  const e = entry(i);
  timerCancel(load<u32>(e + E_TIMER));
  holdDrop(e + E_HOLD, D_NDP_TIMEOUT, EHOSTUNREACH);
  store<u8>(e + E_STATE, S_FREE);
  if (memo == <i32>i) memo = -1;
}

/** Writes the IPv6 header of an NDP message of `len` bytes at p (hop limit 255, §7.1) and returns
 *  its addresses' sum. */
function ndpHeader(p: usize, srcHi: u64, srcLo: u64, dstHi: u64, dstLo: u64, len: u32 = NDP_LEN_WITH_LL): u64 {
  hdr.trafficClass = 0;
  hdr.flowLabel = 0;
  hdr.payloadLen = len;
  hdr.nextHeader = PROTO_ICMPV6;
  hdr.hopLimit = 255;
  hdr.srcHi = srcHi; hdr.srcLo = srcLo;
  hdr.dstHi = dstHi; hdr.dstLo = dstLo;
  ipv6Emit(p, hdr);
  return pseudoAddr6(hdr);
}

/** Solicits entry i's address: to its solicited-node group, or (probing) to itself. */
function solicit(i: u32, unicast: bool): void {
  const e = entry(i);
  store<u8>(e + E_TRIES, load<u8>(e + E_TRIES) + 1);
  sendSolicitation(load<u64>(e + E_HI), load<u64>(e + E_LO), unicast, load<u32>(e + E_MAC_HI), load<u32>(e + E_MAC_LO), false);
}

/**
 * Sends a solicitation for `hi:lo`: to the address itself at the MAC we have for it (a probe), or
 * to its solicited-node group; from our address of the right scope with our link address, or,
 * for duplicate address detection (RFC 4862 §5.4.2), from :: without one.
 */
function sendSolicitation(hi: u64, lo: u64, unicast: bool, toMacHi: u32, toMacLo: u32, dad: bool): void {
  const s = slotAlloc(frameCap);
  if (s < 0) { count(D_NO_BUFFER); return; }
  const f = slotData(<u32>s);
  const dstHi = unicast ? hi : solicitedHi(), dstLo = unicast ? lo : solicitedLo(lo);
  if (unicast) ethEmit(f, toMacHi, toMacLo, macHi, macLo, ETHERTYPE_IPV6);
  else ethEmit(f, MAC_IPV6_MULTICAST_HI, <u32>dstLo, macHi, macLo, ETHERTYPE_IPV6);
  const src = dad ? 0 : addr6SourceFor(hi, lo);
  const len = dad ? NDP_HLEN : NDP_LEN_WITH_LL;
  const addrs = ndpHeader(f + ETH_HLEN, dad ? 0 : addr6Hi(src), dad ? 0 : addr6Lo(src), dstHi, dstLo, len);
  tx.type = NDP_NS; tx.flags = 0; tx.targetHi = hi; tx.targetLo = lo; tx.llHi = macHi; tx.llLo = macLo;
  ndpEmit(f + ETH_HLEN + IP6_HLEN, tx, addrs, !dad);
  if (linkTx(<u32>s, f, ETH_HLEN + IP6_HLEN + len)) count(C_NDP_SOLICITATIONS_SENT);
}

/** Timer: INCOMPLETE and PROBE retry or fail, REACHABLE goes STALE, DELAY starts probing. */
export function ndpTimer(i: u32): void {
  const e = entry(i);
  store<u32>(e + E_TIMER, 0);
  const st = load<u8>(e + E_STATE);
  if (st == S_INCOMPLETE || st == S_PROBE) {
    if (<i32>load<u8>(e + E_TRIES) >= (st == S_INCOMPLETE ? ndpMaxMulticast : ndpMaxUnicast)) { freeEntry(i); return; }
    solicit(i, st == S_PROBE);
    store<u32>(e + E_TIMER, timerStart(T_NDP, i, nowNs + ndpRetransNs));
  } else if (st == S_REACHABLE) {
    enter(i, S_STALE, 0);
  } else if (st == S_DELAY) {
    enter(i, S_PROBE, ndpRetransNs);
    solicit(i, true);
  }
}

/**
 * Sends the IPv6 frame at `frame` (its IPv6 header written, its Ethernet header not) to the
 * neighbor `hi:lo`, or to a group. Returns 0 when it went to the TX ring, a ticket (> 0) when it
 * waits for resolution, or -errno; as neighborSend does for IPv4.
 */
export function neighbor6Send(slot: u32, frame: usize, len: u32, hi: u64, lo: u64): i32 {
  if (isMulticast6(hi)) {
    ethEmit(frame, MAC_IPV6_MULTICAST_HI, <u32>lo, macHi, macLo, ETHERTYPE_IPV6);
    return linkTx(slot, frame, len) ? 0 : -ENOBUFS;
  }
  let i = lookup(hi, lo);
  if (i >= 0 && state(<u32>i) != S_INCOMPLETE) {
    const e = entry(<u32>i);
    // §7.3.3: the first packet to a STALE neighbor starts the wait for a confirmation.
    if (load<u8>(e + E_STATE) == S_STALE) enter(<u32>i, S_DELAY, ndpDelayNs);
    ethEmit(frame, load<u32>(e + E_MAC_HI), load<u32>(e + E_MAC_LO), macHi, macLo, ETHERTYPE_IPV6);
    return linkTx(slot, frame, len) ? 0 : -ENOBUFS;
  }
  if (i < 0) {
    i = allocEntry(hi, lo);
    if (i < 0) { count(D_NDP_QUEUE_FULL); slotUnref(slot); return -ENOBUFS; }
    enter(<u32>i, S_INCOMPLETE, ndpRetransNs);
    solicit(<u32>i, false);
  }
  const e = entry(<u32>i);
  if (<i32>holdCount(e + E_HOLD) >= ndpQueueDepth) { count(D_NDP_QUEUE_FULL); slotUnref(slot); return -ENOBUFS; }
  holdFrame(e + E_HOLD, slot, frame, len);
  return i + 1;
}

/** A static entry from the config (ndp.table): 0, or ENOBUFS when the cache is full. */
export function ndpAddStatic(hi: u64, lo: u64, macH: u32, macL: u32): i32 {
  let i = lookup(hi, lo);
  if (i >= 0) freeEntry(<u32>i);
  i = allocEntry(hi, lo);
  if (i < 0) return ENOBUFS;
  setLinkAddress(<u32>i, macH, macL);
  enter(<u32>i, S_STATIC, 0);
  return 0;
}

/** Completes operation `q` when the frames behind `ticket` (from neighbor6Send) go out or fail. */
export function neighbor6Wait(ticket: i32, q: u32): void {
  const e = entry(<u32>(ticket - 1));
  holdWait(e + E_HOLD, q);
}

/**
 * A solicitation or advertisement at `p` (`len` bytes, checksum verified) under the IPv6 header
 * `ip`. An answer is built in place, its headers right before the message (over whatever headers
 * preceded it). The slot reference ends here.
 */
export function ndpInput(slot: u32, ip: Ipv6Repr, p: usize, len: u32): void {
  // §7.1.1, §7.1.2: only a neighbor sends with hop limit 255; a router would have decremented it.
  if (ip.hopLimit != 255 || !ndpParse(p, len, rx)) { count(D_NDP_INVALID); slotUnref(slot); return; }
  if (rx.type == NDP_NS) solicitationInput(slot, ip, p);
  else advertisementInput(slot, ip);
}

function solicitationInput(slot: u32, ip: Ipv6Repr, p: usize): void {
  const unspecified = ip.srcHi == 0 && ip.srcLo == 0;
  // §7.1.1: a DAD probe (from ::) goes to a solicited-node group and carries no link address.
  if (unspecified && (!isMulticast6(ip.dstHi) || rx.hasLl)) { count(D_NDP_INVALID); slotUnref(slot); return; }
  const t = addr6Index(rx.targetHi, rx.targetLo);
  if (t < 0 || addr6State(<u32>t) == DUPLICATE) { count(D_NDP_NOT_FOR_US); slotUnref(slot); return; }
  if (addr6State(<u32>t) == TENTATIVE) {
    // RFC 4862 §5.4.3: another host probing the same address means it is not ours to use; a
    // solicitation from a real address is not answered while we are still probing.
    if (unspecified) duplicate(<u32>t); else count(D_NDP_NOT_FOR_US);
    slotUnref(slot);
    return;
  }
  // §7.2.3: the solicitation tells us the sender's link address: a STALE entry, or an update.
  if (!unspecified && rx.hasLl) learn(ip.srcHi, ip.srcLo, rx.llHi, rx.llLo);
  // Answer in place: the solicitation's slot becomes the advertisement (RFC 4862 §5.4.3: a
  // DAD probe for our address is answered to all-nodes, not solicited).
  const dstHi = unspecified ? ALL_NODES_HI : ip.srcHi, dstLo = unspecified ? ALL_NODES_LO : ip.srcLo;
  const at = p - IP6_HLEN - ETH_HLEN;
  const addrs = ndpHeader(at + ETH_HLEN, rx.targetHi, rx.targetLo, dstHi, dstLo);
  tx.type = NDP_NA; tx.flags = (unspecified ? 0 : NA_SOLICITED) | NA_OVERRIDE;
  tx.targetHi = rx.targetHi; tx.targetLo = rx.targetLo; tx.llHi = macHi; tx.llLo = macLo;
  ndpEmit(at + ETH_HLEN + IP6_HLEN, tx, addrs);
  const r = neighbor6Send(slot, at, ETH_HLEN + IP6_HLEN + NDP_LEN_WITH_LL, dstHi, dstLo);
  if (r >= 0) count(C_NDP_ADVERTISEMENTS_SENT);
}

/** A solicitation's source link address: create the entry STALE, or update a changed one. */
function learn(hi: u64, lo: u64, macH: u32, macL: u32): void {
  let i = lookup(hi, lo);
  if (i < 0) {
    i = allocEntry(hi, lo);
    if (i < 0) return;
    setLinkAddress(<u32>i, macH, macL);
    enter(<u32>i, S_STALE, 0);
    return;
  }
  const e = entry(<u32>i);
  if (load<u8>(e + E_STATE) == S_STATIC) return;
  if (load<u8>(e + E_STATE) == S_INCOMPLETE) {
    setLinkAddress(<u32>i, macH, macL);
    enter(<u32>i, S_STALE, 0);
    flush(<u32>i);
  } else if (load<u32>(e + E_MAC_HI) != macH || load<u32>(e + E_MAC_LO) != macL) {
    setLinkAddress(<u32>i, macH, macL);
    enter(<u32>i, S_STALE, 0);
  }
}

function advertisementInput(slot: u32, ip: Ipv6Repr): void {
  slotUnref(slot);
  // §7.1.2: an advertisement to a group is never solicited.
  if (isMulticast6(ip.dstHi) && (rx.flags & NA_SOLICITED) != 0) { count(D_NDP_INVALID); return; }
  const ours = addr6Index(rx.targetHi, rx.targetLo);
  if (ours >= 0) {
    // §5.4.4: an advertisement for a tentative address of ours: someone has it.
    if (addr6State(<u32>ours) == TENTATIVE) duplicate(<u32>ours);
    count(D_NDP_CONFLICT);
    return;
  }
  const i = lookup(rx.targetHi, rx.targetLo);
  if (i < 0) { count(C_ICMP6_IGNORED); return; }    // §7.2.5: no entry, nothing to update
  const e = entry(<u32>i);
  if (load<u8>(e + E_STATE) == S_STATIC) return;
  const solicited = (rx.flags & NA_SOLICITED) != 0, overrides = (rx.flags & NA_OVERRIDE) != 0;
  if (load<u8>(e + E_STATE) == S_INCOMPLETE) {
    if (!rx.hasLl) return;
    setLinkAddress(<u32>i, rx.llHi, rx.llLo);
    if (solicited) enter(<u32>i, S_REACHABLE, ndpReachableNs); else enter(<u32>i, S_STALE, 0);
    flush(<u32>i);
    return;
  }
  const changed = rx.hasLl && (rx.llHi != load<u32>(e + E_MAC_HI) || rx.llLo != load<u32>(e + E_MAC_LO));
  if (!overrides && changed) {
    // Not to be believed over what we have; a REACHABLE entry becomes suspect.
    if (load<u8>(e + E_STATE) == S_REACHABLE) enter(<u32>i, S_STALE, 0);
    return;
  }
  if (changed) setLinkAddress(<u32>i, rx.llHi, rx.llLo);
  if (solicited) enter(<u32>i, S_REACHABLE, ndpReachableNs);
  else if (changed) enter(<u32>i, S_STALE, 0);
}

/** The cache as the host shows it: up to `max` rows of (hi u64, lo u64, macHi, macLo, state, pad). */
export function ndpDump(out: usize, max: u32): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < ENTRIES && n < max; i++) {
    const e = entry(i);
    const st = load<u8>(e + E_STATE);
    if (st == S_FREE) continue;
    const r = out + <usize>n * 32;
    store<u64>(r, load<u64>(e + E_HI));
    store<u64>(r + 8, load<u64>(e + E_LO));
    store<u32>(r + 16, load<u32>(e + E_MAC_HI));
    store<u32>(r + 20, load<u32>(e + E_MAC_LO));
    store<u32>(r + 24, st);
    store<u32>(r + 28, 0);
    n++;
  }
  return n;
}

// ---- duplicate address detection for our own addresses (RFC 4862 §5.4) ----

/** On a turn: addresses added since the last one send their first probe (now that time is known). */
export function dadTick(): void {
  if (!dadWaiting) return;
  dadStarted();
  for (let i: u32 = 0; i < addr6Count(); i++) {
    if (addr6State(i) == TENTATIVE && addr6Tries(i) == 0) dadProbe(i);
  }
}

/** Timer: another probe, or no one answered: the address is ours to use. */
export function dadTimer(i: u32): void {
  if (addr6State(i) != TENTATIVE) return;
  if (<i32>addr6Tries(i) < ndpDadTransmits) dadProbe(i);
  else addr6SetState(i, PREFERRED);
}

/** §5.4.2: a solicitation for the address from ::, to its solicited-node group. */
function dadProbe(i: u32): void {
  addr6SetTries(i, addr6Tries(i) + 1);
  timerStart(T_DAD, i, nowNs + ndpRetransNs);
  sendSolicitation(addr6Hi(i), addr6Lo(i), false, 0, 0, true);
}

function duplicate(i: u32): void {
  addr6SetState(i, DUPLICATE);
  count(C_NDP_DUPLICATE_ADDRESSES);
}

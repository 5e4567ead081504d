// Our IPv6 addresses (RFC 4291): the link-local address derived from the MAC (modified EUI-64,
// RFC 4291 §2.5.1 and appendix A; RFC 4862 §5.3) and the configured ones, each with its prefix
// length and its duplicate address detection state (RFC 4862 §5.4: tentative until DAD passes,
// then preferred; a duplicate is never used). Also the groups we listen to: all-nodes (ff02::1)
// and each address's solicited-node group (RFC 4291 §2.7.1, joined while tentative too), with
// their Ethernet multicast addresses (RFC 2464 §7). And the loopback address ::1 (RFC 4291
// §2.5.3), ours on every stack in a row of its own after the table: it is no address of the
// link's (no DAD, no group, not counted), so a stack with IPv6 off still reaches ::1.
import { carve } from "../mem/layout";
import { macHi, macLo, ndpDadTransmits } from "../schema/config";
import { EINVAL, ENOMEM } from "../schema/errno";
import { MAC_IPV6_MULTICAST_HI } from "../wire/eth";
import { pseudoAddr6Of } from "../wire/ipv6";

export const MAX_ADDRESSES: u32 = 8;
const A_SIZE: usize = 24;
const A_HI: usize = 0;       // u64
const A_LO: usize = 8;       // u64
const A_PREFIX: usize = 16;  // u32 prefix length
const A_STATE: usize = 20;   // u8 TENTATIVE, PREFERRED, DUPLICATE
const A_TRIES: usize = 21;   // u8 DAD solicitations sent

export const TENTATIVE: u8 = 0;
export const PREFERRED: u8 = 1;
export const DUPLICATE: u8 = 2;

const LINK_LOCAL_HI: u64 = 0xfe80000000000000;
/** ff02::1, the link's all-nodes group. */
export const ALL_NODES_HI: u64 = 0xff02000000000000;
export const ALL_NODES_LO: u64 = 1;
const SOLICITED_LO: u64 = 0x00000001ff000000;

let table: usize = 0;
let pseudo: usize = 0;        // each address's share of a pseudo-header sum (wire/ipv6.ts), per packet sent
let count: u32 = 0;
/** Some address waits for its first DAD solicitation (sent on the next turn, when time is known). */
export let dadWaiting = false;
/** Some address joined its solicited-node group since the last turn: MLD reports it (mld.ts). */
export let mldWaiting = false;

@inline function at(i: u32): usize { return table + <usize>i * A_SIZE; }
@inline export function addr6Hi(i: u32): u64 { return load<u64>(at(i) + A_HI); }
@inline export function addr6Lo(i: u32): u64 { return load<u64>(at(i) + A_LO); }
@inline export function addr6Count(): u32 { return count; }
/** ::1's index: the row after the table's. */
export const LOOPBACK6: u32 = MAX_ADDRESSES;
@inline export function isLoopback6(hi: u64, lo: u64): bool { return hi == 0 && lo == 1; }
/** Can an IPv6 socket send to hi:lo: ::1 always, anything else once IPv6 is on (an address). */
@inline export function addr6Reaches(hi: u64, lo: u64): bool { return count > 0 || isLoopback6(hi, lo); }
@inline export function isMulticast6(hi: u64): bool { return (hi >> 56) == 0xff; }
@inline export function isLinkLocal6(hi: u64): bool { return (hi >> 54) == (0xfe80 >> 6); }

/** Carves the table. IPv6 stays off (no address, no group, nothing sent) until the first
 *  address is added: a stack configured for IPv4 alone puts no IPv6 frame on the link. */
export function addr6Init(): bool {
  table = carve(<usize>(MAX_ADDRESSES + 1) * A_SIZE, 8);
  pseudo = carve(<usize>(MAX_ADDRESSES + 1) * 8, 8);
  count = 0;
  if (table == 0 || pseudo == 0) return false;
  const a = at(LOOPBACK6);
  store<u64>(a + A_HI, 0);
  store<u64>(a + A_LO, 1);
  store<u32>(a + A_PREFIX, 128);
  store<u8>(a + A_STATE, PREFERRED);
  store<u64>(pseudo + (<usize>LOOPBACK6 << 3), pseudoAddr6Of(0, 1));
  return true;
}

/** Adds an address with its prefix length: 0, or EINVAL (not a unicast address, bad prefix),
 *  or ENOMEM (the table is full). Adding one we have already is 0. The first one brings the
 *  link-local address (from the MAC) with it, at index 0. */
export function addr6Add(hi: u64, lo: u64, prefix: u32): i32 {
  if (prefix > 128 || isMulticast6(hi) || (hi == 0 && (lo == 0 || lo == 1))) return EINVAL;
  if (count == 0 && !isLinkLocal6(hi)) {
    const m0 = <u64>(macHi >> 8) ^ 2, m1 = <u64>(macHi & 0xff);
    const ll = (m0 << 56) | (m1 << 48) | (<u64>(macLo >> 24) << 40) | (<u64>0xfffe << 24) | <u64>(macLo & 0xffffff);
    addr6Add(LINK_LOCAL_HI, ll, 64);
  }
  if (addr6Index(hi, lo) >= 0) return 0;
  if (count == MAX_ADDRESSES) return ENOMEM;
  const a = at(count++);
  store<u64>(a + A_HI, hi);
  store<u64>(a + A_LO, lo);
  store<u32>(a + A_PREFIX, prefix);
  store<u8>(a + A_STATE, ndpDadTransmits > 0 ? TENTATIVE : PREFERRED);
  store<u8>(a + A_TRIES, 0);
  store<u64>(pseudo + (<usize>(count - 1) << 3), pseudoAddr6Of(hi, lo));
  if (ndpDadTransmits > 0) dadWaiting = true;
  mldWaiting = true;
  return 0;
}

@inline export function addr6State(i: u32): u8 { return load<u8>(at(i) + A_STATE); }
@inline export function addr6SetState(i: u32, st: u8): void { store<u8>(at(i) + A_STATE, st); }
/** Address i's share of an upper-layer pseudo-header sum. */
@inline export function addr6Pseudo(i: u32): u64 { return load<u64>(pseudo + (<usize>i << 3)); }
@inline export function addr6Tries(i: u32): u8 { return load<u8>(at(i) + A_TRIES); }
@inline export function addr6SetTries(i: u32, n: u8): void { store<u8>(at(i) + A_TRIES, n); }
export function dadStarted(): void { dadWaiting = false; }
export function mldReported(): void { mldWaiting = false; }

/** The index of one of our addresses (::1 included), whatever its DAD state, or -1. */
export function addr6Index(hi: u64, lo: u64): i32 {
  if (isLoopback6(hi, lo)) return <i32>LOOPBACK6;
  for (let i: u32 = 0; i < count; i++) if (addr6Hi(i) == hi && addr6Lo(i) == lo) return <i32>i;
  return -1;
}

/** Is this a destination we receive: ours, all-nodes, or the solicited-node group of one of ours? */
export function addr6Accepts(hi: u64, lo: u64): bool {
  // §5.4: packets to a tentative address are dropped, all but Neighbor Discovery's (to its group).
  if (!isMulticast6(hi)) { const i = addr6Index(hi, lo); return i >= 0 && addr6State(<u32>i) == PREFERRED; }
  if (hi != ALL_NODES_HI) return false;
  if (lo == ALL_NODES_LO) return true;
  return (lo & ~<u64>0xffffff) == SOLICITED_LO && solicitedIndex(<u32>(lo & 0xffffff)) >= 0;
}

/** Is this Ethernet multicast address one of our groups' (33:33 + the group's last four bytes)? */
export function addr6AcceptsMac(hi: u32, lo: u32): bool {
  if (hi != MAC_IPV6_MULTICAST_HI) return false;
  if (lo == 1) return true;
  return (lo >>> 24) == 0xff && solicitedIndex(lo & 0xffffff) >= 0;
}

function solicitedIndex(low24: u32): i32 {
  for (let i: u32 = 0; i < count; i++) if (<u32>(addr6Lo(i) & 0xffffff) == low24) return <i32>i;
  return -1;
}

/** The solicited-node group of an address (RFC 4291 §2.7.1). */
@inline export function solicitedHi(): u64 { return ALL_NODES_HI; }
@inline export function solicitedLo(lo: u64): u64 { return SOLICITED_LO | (lo & 0xffffff); }

/**
 * The source for a packet to `hi:lo` (RFC 6724 in brief): the link-local address for link-local
 * and multicast destinations, else a configured address whose prefix covers the destination,
 * else the first configured one, else the link-local. Returns its index.
 */
export function addr6SourceFor(hi: u64, lo: u64): u32 {
  // One of ours (::1 included) is reached from itself, as Linux's local routes pick.
  const own = addr6Index(hi, lo);
  if (own >= 0) return <u32>own;
  // (Otherwise called only to answer or resolve for IPv6 traffic, which needs an address: count >= 1.)
  if (isLinkLocal6(hi) || isMulticast6(hi) || count == 1) return 0;
  let first: i32 = -1;
  for (let i: u32 = 1; i < count; i++) {
    if (addr6State(i) != PREFERRED) continue;
    if (covers(i, hi, lo)) return i;
    if (first < 0) first = <i32>i;
  }
  return first < 0 ? 0 : <u32>first;
}

function covers(i: u32, hi: u64, lo: u64): bool {
  const p = load<u32>(at(i) + A_PREFIX);
  if (p == 0) return true;
  if (p <= 64) return ((addr6Hi(i) ^ hi) >> (64 - p)) == 0;
  return addr6Hi(i) == hi && (p == 128 ? addr6Lo(i) == lo : ((addr6Lo(i) ^ lo) >> (128 - p)) == 0);
}

/** Writes up to `max` rows of (hi u64, lo u64, prefix u32, state u8, tries u8, pad) at `out`. */
export function addr6Dump(out: usize, max: u32): u32 {
  const n = min(max, count);
  for (let i: u32 = 0; i < n; i++) memory.copy(out + <usize>i * A_SIZE, at(i), A_SIZE);
  return n;
}

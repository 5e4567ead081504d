// Ethernet II (IEEE 802.3 clause 3.2.6 with an EtherType). Checked view: ethCheck first, then
// the accessors are safe.
import { ld16, st16 } from "./bytes";
import { ETH_HLEN } from "../schema/layout";

export { ETH_HLEN };
export const ETHERTYPE_IPV4: u32 = 0x0800;
export const ETHERTYPE_ARP: u32 = 0x0806;
export const ETHERTYPE_IPV6: u32 = 0x86dd;
/** IPv6 multicast over Ethernet (RFC 2464 §7): 33:33 and the group address's last four bytes. */
export const MAC_IPV6_MULTICAST_HI: u32 = 0x3333;

@inline export function ethCheck(len: u32): bool { return len >= ETH_HLEN; }
@inline export function ethType(p: usize): u32 { return ld16(p + 12); }
@inline export function ethDstIsBroadcast(p: usize): bool {
  return load<u32>(p) == 0xffffffff && load<u16>(p, 4) == 0xffff;
}
/** A MAC as two integers: the first two bytes and the last four, both big-endian. */
@inline export function macHiAt(p: usize): u32 { return ld16(p); }
@inline export function macLoAt(p: usize): u32 { return bswap<u32>(load<u32>(p + 2)); }
@inline export function storeMac(p: usize, hi: u32, lo: u32): void {
  st16(p, hi);
  store<u32>(p + 2, bswap<u32>(lo));
}

export function ethEmit(p: usize, dstHi: u32, dstLo: u32, srcHi: u32, srcLo: u32, type: u32): void {
  storeMac(p, dstHi, dstLo);
  storeMac(p + 6, srcHi, srcLo);
  st16(p + 12, type);
}

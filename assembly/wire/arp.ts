// ARP for IPv4 over Ethernet (RFC 826). Checked view + parse/emit.
import { ld16, ld32, st16, st32 } from "./bytes";
import { macHiAt, macLoAt, storeMac } from "./eth";

export const ARP_LEN: u32 = 28;
export const ARP_REQUEST: u32 = 1;
export const ARP_REPLY: u32 = 2;

// Parsed representation (the smoltcp Repr), valid after a successful arpParse.
export let arpOp: u32 = 0;
export let arpShaHi: u32 = 0;
export let arpShaLo: u32 = 0;
export let arpSpa: u32 = 0;
export let arpThaHi: u32 = 0;
export let arpThaLo: u32 = 0;
export let arpTpa: u32 = 0;

/** Parses an ARP packet; false unless it is Ethernet/IPv4 with a known operation. */
export function arpParse(p: usize, len: u32): bool {
  if (len < ARP_LEN) return false;
  if (ld16(p) != 1 || ld16(p + 2) != 0x0800) return false;   // htype Ethernet, ptype IPv4
  if (load<u8>(p + 4) != 6 || load<u8>(p + 5) != 4) return false;
  arpOp = ld16(p + 6);
  if (arpOp != ARP_REQUEST && arpOp != ARP_REPLY) return false;
  arpShaHi = macHiAt(p + 8);
  arpShaLo = macLoAt(p + 8);
  arpSpa = ld32(p + 14);
  arpThaHi = macHiAt(p + 18);
  arpThaLo = macLoAt(p + 18);
  arpTpa = ld32(p + 24);
  return true;
}

export function arpEmit(p: usize, op: u32, shaHi: u32, shaLo: u32, spa: u32, thaHi: u32, thaLo: u32, tpa: u32): void {
  st16(p, 1);
  st16(p + 2, 0x0800);
  store<u8>(p + 4, 6);
  store<u8>(p + 5, 4);
  st16(p + 6, op);
  storeMac(p + 8, shaHi, shaLo);
  st32(p + 14, spa);
  storeMac(p + 18, thaHi, thaLo);
  st32(p + 24, tpa);
}

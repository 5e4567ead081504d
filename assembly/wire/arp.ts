// ARP for IPv4 over Ethernet (RFC 826). Checked view + parse/emit.
import { ld16, ld32, st16, st32 } from "./bytes";
import { macHiAt, macLoAt, storeMac } from "./eth";

export const ARP_LEN: u32 = 28;
export const ARP_REQUEST: u32 = 1;
export const ARP_REPLY: u32 = 2;

/** An ARP packet as a record (smoltcp's Repr): arpParse fills it, arpEmit writes it. */
@unmanaged export class ArpRepr {
  op: u32;
  shaHi: u32;     // sender MAC, first two bytes
  shaLo: u32;     // sender MAC, last four bytes
  spa: u32;
  thaHi: u32;
  thaLo: u32;
  tpa: u32;
}

/** Parses an ARP packet; false unless it is Ethernet/IPv4 with a known operation. */
export function arpParse(p: usize, len: u32, r: ArpRepr): bool {
  if (len < ARP_LEN) return false;
  if (ld16(p) != 1 || ld16(p + 2) != 0x0800) return false;   // htype Ethernet, ptype IPv4
  if (load<u8>(p + 4) != 6 || load<u8>(p + 5) != 4) return false;
  const op = ld16(p + 6);
  if (op != ARP_REQUEST && op != ARP_REPLY) return false;
  r.op = op;
  r.shaHi = macHiAt(p + 8);
  r.shaLo = macLoAt(p + 8);
  r.spa = ld32(p + 14);
  r.thaHi = macHiAt(p + 18);
  r.thaLo = macLoAt(p + 18);
  r.tpa = ld32(p + 24);
  return true;
}

export function arpEmit(p: usize, r: ArpRepr): void {
  st16(p, 1);
  st16(p + 2, 0x0800);
  store<u8>(p + 4, 6);
  store<u8>(p + 5, 4);
  st16(p + 6, r.op);
  storeMac(p + 8, r.shaHi, r.shaLo);
  st32(p + 14, r.spa);
  storeMac(p + 18, r.thaHi, r.thaLo);
  st32(p + 24, r.tpa);
}

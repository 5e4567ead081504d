// ICMP echo (RFC 792). Checked view + parse/emit for the echo messages we answer.
import { ld16, st16 } from "./bytes";
import { csumAdd, csumFinish } from "./checksum";

export const ICMP_HLEN: u32 = 8;
export const ICMP_ECHO_REPLY: u32 = 0;
export const ICMP_ECHO_REQUEST: u32 = 8;

/** An ICMP echo header as a record: icmpParse fills it, icmpEchoEmit writes it. */
@unmanaged export class IcmpRepr {
  type: u32;
  code: u32;
  ident: u32;
  seq: u32;
}

/** Parses the header; the caller verifies the checksum over the whole message. */
export function icmpParse(p: usize, len: u32, r: IcmpRepr): bool {
  if (len < ICMP_HLEN) return false;
  r.type = <u32>load<u8>(p);
  r.code = <u32>load<u8>(p + 1);
  r.ident = ld16(p + 4);
  r.seq = ld16(p + 6);
  return true;
}

/** Writes an echo header and the checksum over header plus `payloadLen` bytes that follow it. */
export function icmpEchoEmit(p: usize, r: IcmpRepr, payloadLen: u32): void {
  store<u8>(p, <u8>r.type);
  store<u8>(p + 1, 0);
  store<u16>(p + 2, 0);
  st16(p + 4, r.ident);
  st16(p + 6, r.seq);
  store<u16>(p + 2, csumFinish(csumAdd(0, p, ICMP_HLEN + payloadLen)));
}

// SYN cookies (RFC 4987 §3.6): when a listener's queue is full, its SYN-ACK carries the whole
// state of the half-open connection in our initial sequence number instead of a control block,
// so a flood of SYNs costs nothing to hold and a real client still gets in. The cookie:
//   bits 31..8  a keyed hash of the four-tuple, the client's ISN and the time slot
//   bits  7..3  the time slot (64 s each, modulo 32): a cookie is good for two slots
//   bits  2..0  the MSS the client offered, rounded down to one of eight values
// Options other than MSS are not remembered (no window scaling, SACK or timestamps), as with
// Linux's cookies when timestamps are off.
import { hostRandom } from "../../host";
import { nowNs } from "../clock";

const MSS_TABLE: StaticArray<u32> = [536, 1200, 1220, 1360, 1400, 1440, 1460, 8960];
let secret: u32 = 0;

export function cookieInit(): void { secret = hostRandom() | 1; }

@inline function slotNow(): u32 { return <u32>(<u64>(nowNs / 64e9)) & 31; }

function hash24(lip: u32, lport: u32, rip: u32, rport: u32, peerIsn: u32, slot: u32): u32 {
  let h = secret ^ lip ^ (rip * 0x9e3779b1) ^ ((lport << 16) | rport) ^ (peerIsn * 0x85ebca6b) ^ (slot * 0xc2b2ae35);
  h ^= h >> 16; h *= 0x7feb352d; h ^= h >> 15; h *= 0x846ca68b; h ^= h >> 16;
  return h & 0xffffff00;
}

/** Our ISN for a SYN that found the queue full; `peerMss` as the SYN offered (0: none). */
export function cookieMake(lip: u32, lport: u32, rip: u32, rport: u32, peerIsn: u32, peerMss: u32): u32 {
  let m: u32 = 0;
  const mss = peerMss != 0 ? peerMss : 536;
  while (m < 7 && unchecked(MSS_TABLE[m + 1]) <= mss) m++;
  const slot = slotNow();
  return hash24(lip, lport, rip, rport, peerIsn, slot) | (slot << 3) | m;
}

/** The MSS a valid cookie (our ISN, from the ACK's number less one) stands for, or 0 when it is not ours or too old. */
export function cookieCheck(lip: u32, lport: u32, rip: u32, rport: u32, peerIsn: u32, cookie: u32): u32 {
  const slot = (cookie >> 3) & 31;
  if (((slotNow() - slot) & 31) > 1) return 0;
  if (hash24(lip, lport, rip, rport, peerIsn, slot) != (cookie & 0xffffff00)) return 0;
  return unchecked(MSS_TABLE[cookie & 7]);        // 3 bits: always inside the table
}

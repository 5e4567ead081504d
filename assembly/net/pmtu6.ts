// Path MTU per IPv6 destination (RFC 8201): what Packet Too Big messages taught, kept for ten
// minutes (§5.3: "at least 5", Linux's ip6_rt_mtu_expires is ten) and then forgotten, so a path
// that grows again is used in full. Never below the IPv6 minimum of 1280 (§4; RFC 8021: no
// atomic fragments), never above the link's MTU. A destination with no entry gets the link's;
// while the table is empty that costs one comparison per packet.
import { carve } from "../mem/layout";
import { mtu } from "../schema/config";
import { nowNs } from "./clock";

export const MIN_MTU6: u32 = 1280;
const ENTRIES: u32 = 64;
const E_SIZE: usize = 32;
const E_HI: usize = 0, E_LO: usize = 8, E_EXPIRES: usize = 16, E_MTU: usize = 24;   // expires f64 ns; 0: free
const LIFETIME_NS: f64 = 600e9;

let table: usize = 0;
let used: u32 = 0;

export function pmtu6Init(): bool {
  table = carve(<usize>ENTRIES * E_SIZE, 8);
  used = 0;
  return table != 0;
}

@inline function entry(i: u32): usize { return table + <usize>i * E_SIZE; }

/** The MTU of the path to hi:lo. */
export function pmtu6For(hi: u64, lo: u64): u32 {
  if (used == 0) return <u32>mtu;
  for (let i: u32 = 0; i < ENTRIES; i++) {
    const e = entry(i);
    const exp = load<f64>(e + E_EXPIRES);
    if (exp == 0 || load<u64>(e + E_LO) != lo || load<u64>(e + E_HI) != hi) continue;
    if (exp > nowNs) return load<u32>(e + E_MTU);
    store<f64>(e + E_EXPIRES, 0);                     // aged out (§5.3)
    used--;
    break;
  }
  return <u32>mtu;
}

/**
 * A Packet Too Big says the path to hi:lo carries at most `next` bytes. Returns the path's new
 * MTU, or 0 when the message changes nothing: below the IPv6 minimum, or not below what the
 * path has now (a PTB never raises an estimate, §4).
 */
export function pmtu6Learn(hi: u64, lo: u64, next: u32): u32 {
  if (next < MIN_MTU6 || next >= pmtu6For(hi, lo)) return 0;
  let slot: u32 = 0;
  let soonest: f64 = Infinity;
  for (let i: u32 = 0; i < ENTRIES; i++) {
    const e = entry(i);
    const exp = load<f64>(e + E_EXPIRES);
    if (exp != 0 && load<u64>(e + E_LO) == lo && load<u64>(e + E_HI) == hi) { slot = i; soonest = -1; break; }
    if (exp < soonest) { slot = i; soonest = exp; }           // a free entry (0), else the one expiring first
  }
  const e = entry(slot);
  if (load<f64>(e + E_EXPIRES) == 0) used++;
  store<u64>(e + E_HI, hi);
  store<u64>(e + E_LO, lo);
  store<u32>(e + E_MTU, next);
  store<f64>(e + E_EXPIRES, nowNs + LIFETIME_NS);
  return next;
}

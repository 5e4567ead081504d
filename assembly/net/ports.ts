// Port maps (one per transport and IP version: IPv4 and IPv6 sockets never share a port, as
// with Linux's IPV6_V6ONLY): a u16 per port naming the owning socket (qd + 1), and ephemeral
// allocation from the dynamic range (RFC 6335 §6), starting at a random point.
import { carve } from "../mem/layout";
import { isOurs4 } from "./addr4";
import { EINVAL, EADDRINUSE, EADDRNOTAVAIL } from "../schema/errno";
import { hostRandom } from "../host";
import { sock, S_BOUND, S_LIP, S_LPORT, S_LIDX, ANY6 } from "./socket";
import { addr6Index, addr6State, DUPLICATE } from "./addr6";

const EPHEMERAL_FIRST: u32 = 49152;
const EPHEMERAL_COUNT: u32 = 16384;

/**
 * A map's header. Each owner reserves its own in static memory (memory.data is one chunk per
 * call site): no allocation, so no runtime abort path in the module.
 */
@unmanaged export class PortMap {
  map: usize;
  next: u32;
}

export function portMapInit(m: PortMap): bool {
  m.map = carve(65536 << 1, 64);
  m.next = hostRandom() % EPHEMERAL_COUNT;
  return m.map != 0;
}

@inline export function portOwner(m: PortMap, port: u32): u32 { return <u32>load<u16>(m.map + (<usize>port << 1)); }
@inline export function portRelease(m: PortMap, port: u32): void { store<u16>(m.map + (<usize>port << 1), 0); }

/** Claims `port` for qd; 0 picks an ephemeral port. Returns the port, or -errno. */
function portBind(m: PortMap, qd: u32, port: u32): i32 {
  if (port > 65535) return -EINVAL;
  if (port == 0) {
    for (let i: u32 = 0; i < EPHEMERAL_COUNT; i++) {
      const cand = EPHEMERAL_FIRST + (m.next + i) % EPHEMERAL_COUNT;
      if (portOwner(m, cand) == 0) { port = cand; m.next = (m.next + i + 1) % EPHEMERAL_COUNT; break; }
    }
    if (port == 0) return -EADDRINUSE;
  } else if (portOwner(m, port) != 0) {
    return -EADDRINUSE;
  }
  store<u16>(m.map + (<usize>port << 1), <u16>(qd + 1));
  return <i32>port;
}

/** Binds socket qd through map m: records the local address in the socket. Returns 0 or an errno. */
export function bindSocket(m: PortMap, qd: u32, ip: u32, port: u32): i32 {
  if (ip != 0 && !isOurs4(ip)) return EADDRNOTAVAIL;
  const r = claim(m, qd, port);
  if (r == 0) store<u32>(sock(qd) + S_LIP, ip);
  return r;
}

/** bindSocket for an IPv6 socket: `hi:lo` is :: (any of ours) or one of our addresses that is
 *  not a duplicate (a tentative one may be bound, as on Linux). Returns 0 or an errno. */
export function bindSocket6(m: PortMap, qd: u32, hi: u64, lo: u64, port: u32): i32 {
  let idx = ANY6;
  if (hi != 0 || lo != 0) {
    const i = addr6Index(hi, lo);
    if (i < 0 || addr6State(<u32>i) == DUPLICATE) return EADDRNOTAVAIL;
    idx = <u8>i;
  }
  const r = claim(m, qd, port);
  if (r == 0) store<u8>(sock(qd) + S_LIDX, idx);
  return r;
}

function claim(m: PortMap, qd: u32, port: u32): i32 {
  const s = sock(qd);
  if (load<u8>(s + S_BOUND) != 0) return EINVAL;
  const p = portBind(m, qd, port);
  if (p < 0) return -p;
  store<u8>(s + S_BOUND, 1);
  store<u32>(s + S_LPORT, <u32>p);
  return 0;
}

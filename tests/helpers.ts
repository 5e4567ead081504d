// Shared by the suites: stacks on a virtual clock, and frame builders written independently of
// the Wasm emitters (so a test compares two implementations, not one with itself).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LibOS } from "../host/libos.js";
import { loadConfig, parseIpv4, parseMac } from "../host/config.js";
import { parseIpv6 } from "../host/ipv6.js";
import { LoopbackLink, type LinkFaults } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";
import { readPcap } from "../host/pcap.js";
import { DemiError } from "../host/errno.js";

export const A_IP = "198.18.0.1";
export const B_IP = "198.18.0.2";
export const A_MAC = "02:00:00:00:00:01";
export const B_MAC = "02:00:00:00:00:02";
export const HOST_MAC = "02:00:00:00:00:99";
export const HOST_IP = "198.18.0.99";

export function stack(link: LoopbackLink, ip: string, mac: string, overrides: Record<string, unknown> = {}, debug = false, countCrossings = false): LibOS {
  const config = loadConfig({ env: {}, overrides: { local_ipv4: ip, mac, seed: 7, memory_mb: 16, "pool.small_buffers": 2048, ...overrides } });
  return new LibOS({ config, link, debug, countCrossings });
}

export interface Pair { clock: VirtualClock; link: LoopbackLink; a: LibOS; b: LibOS }

/** Two stacks on a link; b takes a's overrides unless given its own (a jumbo MTU on one side). */
export function pair(faults: Partial<LinkFaults> = {}, overrides: Record<string, unknown> = {}, bOverrides = overrides): Pair {
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1, ...faults }, clock, true);
  return { clock, link, a: stack(link, A_IP, A_MAC, overrides), b: stack(link, B_IP, B_MAC, bOverrides) };
}

/** One stack (the debug build, with its test hooks, when asked) and a scripted host beside it. */
export function withHost(overrides: Record<string, unknown> = {}, debug = false) {
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1 }, clock, true);
  const s = stack(link, A_IP, A_MAC, overrides, debug);
  const host = link.attachRaw(mac(HOST_MAC));
  return { clock, link, s, host };
}

export function mac(s: string): [number, number] { return parseMac(s)!; }

/** The positive errno a call fails with (as a DemiError), or 0 when it does not throw. */
export function errno(f: () => unknown): number {
  try { f(); } catch (e) { if (e instanceof DemiError) return e.errno; throw e; }
  return 0;
}
export function ip(s: string): number { return parseIpv4(s)!; }

export function fixture(name: string): Uint8Array {
  return readFileSync(fileURLToPath(new URL(`../../tests/fixtures/${name}`, import.meta.url)));
}

export function pcapFrames(name = "linux-veth.pcap"): Uint8Array[] {
  return readPcap(fixture(name)).map((r) => new Uint8Array(r.data));
}

// ---- frame builders ----

export function checksum(b: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[b.length - 1] << 8;
  // Folded by division, not 32-bit shifts: a sum past 2^32 (more than 64 KiB of data) still folds.
  while (s > 0xffff) s = (s % 65536) + Math.floor(s / 65536);
  return ~s & 0xffff;
}

export function macBytes(m: string): number[] { return m.split(":").map((x) => parseInt(x, 16)); }
function ipBytes(a: string): number[] { return a.split(".").map(Number); }
const be16 = (v: number) => [(v >> 8) & 255, v & 255];

export function eth(dst: string, src: string, type: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([...macBytes(dst), ...macBytes(src), ...be16(type), ...payload]);
}

export interface IpOpts { src: string; dst: string; proto: number; id?: number; mf?: boolean; df?: boolean;
                          fragOff?: number; ttl?: number; options?: number[]; totalLength?: number; badChecksum?: boolean }

export function ipv4(o: IpOpts, payload: Uint8Array): Uint8Array {
  const opts = o.options ?? [];
  const hlen = 20 + opts.length;
  const total = o.totalLength ?? hlen + payload.length;
  const h = Uint8Array.from([0x40 | (hlen >> 2), 0, ...be16(total), ...be16(o.id ?? 1),
    ...be16((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOff ?? 0) >> 3)), o.ttl ?? 64, o.proto, 0, 0,
    ...ipBytes(o.src), ...ipBytes(o.dst), ...opts]);
  const c = checksum(h) ^ (o.badChecksum ? 0x0101 : 0);
  h[10] = c >> 8; h[11] = c & 255;
  return Uint8Array.from([...h, ...payload]);
}

/** An IPv6 packet (RFC 8200 §3, no extension headers) around `payload`; a TCP, UDP or ICMPv6
 *  payload gets its checksum (bytes 16–17, 6–7 or 2–3) over the IPv6 pseudo-header (§8.1). */
export function ipv6(src: string, dst: string, nextHeader: number, payload: Uint8Array, hop = 64): Uint8Array {
  const s = [...parseIpv6(src)!], d = [...parseIpv6(dst)!];
  const p = payload.slice();
  const at = nextHeader === 6 ? 16 : nextHeader === 17 ? 6 : nextHeader === 58 ? 2 : -1;
  if (at >= 0) {
    p[at] = 0; p[at + 1] = 0;
    const len = p.length;
    const c = checksum(Uint8Array.from([...s, ...d, 0, 0, len >> 8, len & 255, 0, 0, 0, nextHeader, ...p]));
    p[at] = c >> 8; p[at + 1] = c & 255;
  }
  return Uint8Array.from([0x60, 0, 0, 0, ...be16(p.length), nextHeader, hop, ...s, ...d, ...p]);
}

export function udp(src: string, dst: string, sport: number, dport: number, payload: Uint8Array, opts: { noChecksum?: boolean; badChecksum?: boolean; length?: number } = {}): Uint8Array {
  const len = 8 + payload.length;
  const d = Uint8Array.from([...be16(sport), ...be16(dport), ...be16(opts.length ?? len), 0, 0, ...payload]);
  if (!opts.noChecksum) {
    const pseudo = Uint8Array.from([...ipBytes(src), ...ipBytes(dst), 0, 17, ...be16(len)]);
    let c = checksum(Uint8Array.from([...pseudo, ...d]));
    if (c === 0) c = 0xffff;
    if (opts.badChecksum) c ^= 0x5555;
    d[6] = c >> 8; d[7] = c & 255;
  }
  return d;
}

export function icmpEcho(type: number, id: number, seq: number, payload: Uint8Array, code = 0): Uint8Array {
  const d = Uint8Array.from([type, code, 0, 0, ...be16(id), ...be16(seq), ...payload]);
  const c = checksum(d);
  d[2] = c >> 8; d[3] = c & 255;
  return d;
}

export function arp(op: number, sha: string, spa: string, tha: string, tpa: string): Uint8Array {
  return Uint8Array.from([0, 1, 8, 0, 6, 4, 0, op, ...macBytes(sha), ...ipBytes(spa), ...macBytes(tha), ...ipBytes(tpa)]);
}

/** A UDP frame from the scripted host to the stack at A_IP. */
export function udpFrame(dport: number, payload: Uint8Array, sport = 5555, o: Partial<IpOpts> = {}): Uint8Array {
  return eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 17, ...o }, udp(HOST_IP, A_IP, sport, dport, payload)));
}

export function bytes(s: string): Uint8Array { return new TextEncoder().encode(s); }
export function hex(b: Uint8Array): string { return Buffer.from(b).toString("hex"); }

/** Runs the link until `cond` holds or `turns` pass. */
export function pollUntil(link: LoopbackLink, cond: () => boolean, turns = 1000): boolean {
  for (let i = 0; i < turns; i++) { if (cond()) return true; link.poll(); }
  return cond();
}

/** Puts a frame straight into a stack's RX ring, as a promiscuous device would. */
export function inject(s: LibOS, frame: Uint8Array): boolean {
  if (s.rings.rxFree() === 0 || s.rings.fillCapacity() < frame.length) return false;
  const slot = s.rings.fillTake();
  s.u8.set(frame, slot);
  return s.rings.rxPush(slot, frame.length);
}

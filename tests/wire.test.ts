// Checked views and emitters against real Linux frames: every header parses, and emitting what
// was parsed gives the original bytes back, checksums included (smoltcp's Repr round trips).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pcapFrames, withHost, checksum, hex } from "./helpers.js";
import { LibOS } from "../host/libos.js";

const RT = { ETH: 0, ARP: 1, IPV4: 2, UDP: 3, ICMP: 4, TCP: 5 };
const frames = pcapFrames();

function roundTrip(s: LibOS, kind: number, data: Uint8Array, offset: number): Uint8Array | null {
  const sga = s.sgaalloc(4000);
  const out = s.sgaalloc(4000);
  try {
    s.u8.set(data.subarray(offset), sga.buf);
    const n = s.dp.exports.wireRoundTrip!(kind, sga.buf, data.length - offset, out.buf);
    return n < 0 ? null : s.u8.slice(out.buf, out.buf + n);
  } finally { s.sgafree(sga); s.sgafree(out); }
}

test("the fixture holds what its README lists", () => {
  assert.is(frames.length, 189);
  const kinds = new Map<string, number>();
  for (const f of frames) {
    const et = (f[12] << 8) | f[13];
    const k = et === 0x0806 ? "arp" : `ip/${f[23]}`;
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  assert.equal(Object.fromEntries(kinds), { arp: 2, "ip/1": 10, "ip/17": 1, "ip/6": 176 });
});

test("Ethernet headers of every frame round-trip", () => {
  const { s } = withHost({}, true);
  for (const f of frames) assert.equal(roundTrip(s, RT.ETH, f, 0), f.subarray(0, 14));
});

test("ARP request and reply round-trip", () => {
  const { s } = withHost({}, true);
  for (const f of frames.filter((f) => f[12] === 8 && f[13] === 6)) {
    assert.equal(roundTrip(s, RT.ARP, f, 14), f.subarray(14, 42));
  }
});

test("every IPv4 header (all 187) verifies and round-trips with its checksum", () => {
  const { s } = withHost({}, true);
  let n = 0;
  for (const f of frames.filter((f) => f[12] === 8 && f[13] === 0)) {
    assert.equal(roundTrip(s, RT.IPV4, f, 14), f.subarray(14, 34));
    n++;
  }
  assert.is(n, 187);
});

test("a corrupted IPv4 header is refused by the checked view", () => {
  const { s } = withHost({}, true);
  const f = frames[2].slice();
  f[14 + 8] ^= 1; // TTL
  assert.is(roundTrip(s, RT.IPV4, f, 14), null);
  const g = frames[2].slice();
  g[14] = 0x44; // IHL 4
  assert.is(roundTrip(s, RT.IPV4, g, 14), null);
});

test("the UDP datagram round-trips and its checksum matches Linux's", () => {
  const { s } = withHost({}, true);
  const f = frames[12];
  const out = roundTrip(s, RT.UDP, f, 14)!;
  assert.is(out.length, 8 + 10, "header and \"hello udp\\n\"");
  assert.equal(out, f.subarray(34, 34 + out.length));
  assert.is(new TextDecoder().decode(out.subarray(8)), "hello udp\n");
  const bad = f.slice();
  bad[f.length - 1] ^= 0xff;
  assert.is(roundTrip(s, RT.UDP, bad, 14), null);
});

test("unfragmented ICMP echoes round-trip", () => {
  const { s } = withHost({}, true);
  for (const i of [2, 3, 4, 5]) {
    const f = frames[i];
    assert.equal(roundTrip(s, RT.ICMP, f, 14), f.subarray(34));
  }
});

test("all 176 TCP segments of the Linux connection round-trip, options and checksums included", () => {
  const { s } = withHost({}, true);
  const tcp = frames.filter((f) => f[12] === 8 && f[13] === 0 && f[23] === 6);
  assert.is(tcp.length, 176);
  const seen = { syn: 0, sackBlocks: 0, ts: 0, rst: 0, fin: 0 };
  for (const f of tcp) {
    const ipTotal = (f[16] << 8) | f[17];
    const seg = f.subarray(34, 14 + ipTotal);
    const out = roundTrip(s, RT.TCP, f, 14);
    assert.ok(out, "parses");
    assert.is(hex(out!), hex(seg));
    const flags = seg[13];
    if (flags & 0x02) seen.syn++;
    if (flags & 0x04) seen.rst++;
    if (flags & 0x01) seen.fin++;
    const opts = seg.subarray(20, (seg[12] >> 4) * 4);
    if (hex(opts).includes("080a")) seen.ts++;
    if (hex(opts).includes("0101050a") || hex(opts).includes("01010512")) seen.sackBlocks++;
  }
  // The capture's connection: SYNs with MSS/SACK_PERM/TS/WS, timestamps throughout, both FINs, the RST.
  assert.ok(seen.syn >= 3 && seen.fin >= 2 && seen.rst >= 1 && seen.ts > 150, JSON.stringify(seen));
});

/** Recomputes the TCP checksum of an IPv4/TCP frame after a test patched it. */
function fixTcpChecksum(f: Uint8Array): Uint8Array {
  const total = (f[16] << 8) | f[17];
  const seg = f.subarray(34, 14 + total);
  seg[16] = 0; seg[17] = 0;
  const pseudo = Uint8Array.from([...f.subarray(26, 34), 0, 6, (seg.length >> 8) & 255, seg.length & 255]);
  const c = checksum(Uint8Array.from([...pseudo, ...seg]));
  seg[16] = c >> 8; seg[17] = c & 255;
  return f;
}

test("TCP options with bad lengths are refused; unknown ones are skipped", () => {
  const { s } = withHost({}, true);
  // The first SYN: MSS, SACK_PERM, TS, NOP, WS (20 bytes of options at frame offset 54).
  const syn = frames.find((f) => f[12] === 8 && f[23] === 6 && (f[47] & 0x12) === 0x02)!;
  assert.is(syn[54], 2, "MSS first");
  const patched = (patch: (g: Uint8Array) => void) => { const g = syn.slice(); patch(g); return fixTcpChecksum(g); };
  assert.ok(roundTrip(s, RT.TCP, patched(() => {}), 14), "control: the unpatched SYN parses");
  assert.is(roundTrip(s, RT.TCP, patched((g) => { g[55] = 5; }), 14), null, "MSS of length 5");
  assert.is(roundTrip(s, RT.TCP, patched((g) => { g[55] = 40; }), 14), null, "an option running past the header");
  assert.is(roundTrip(s, RT.TCP, patched((g) => { g[55] = 1; }), 14), null, "an option of length 1");
  assert.is(roundTrip(s, RT.TCP, patched((g) => { g[46] = 0x40; }), 14), null, "data offset of 4 words");
  // An unknown option of sane length (kind 30 in MSS's place) is skipped, not refused.
  assert.ok(roundTrip(s, RT.TCP, patched((g) => { g[54] = 30; }), 14), "unknown option skipped");
});

test("the TS checksum used by the builders agrees with Linux", () => {
  for (const f of frames.filter((f) => f[12] === 8 && f[13] === 0)) assert.is(checksum(f.subarray(14, 34)), 0);
});

test("the stack's checksum agrees with RFC 1071's definition at every length, offset and size class", () => {
  const s = withHost({}, true);
  const { base, bytes } = s.s.poolRegion();          // an idle host's pool: room for any length
  const n = 1_200_000;                                // past where a u32 lane would overflow without the fold (32768 steps)
  assert.ok(bytes >= n + 64);
  const data = new Uint8Array(n + 64);
  let x = 12345;
  for (let i = 0; i < data.length; i++) { x = (x * 1103515245 + 12345) >>> 0; data[i] = x >>> 24; }
  s.s.u8.set(data, base);
  const lengths = [...Array.from({ length: 200 }, (_, i) => i), 255, 256, 257, 1460, 1500, 8960, 9000, 65535, n];
  for (const off of [0, 2, 6, 14]) {
    for (const len of lengths) {
      assert.is(s.s.dp.exports.checksumOf!(base + off, len), swap16(checksum(data.subarray(off, off + len))), `length ${len} at +${off}`);
    }
  }
  // The worst case for a lane: all ones, as long as the fold allows and past it.
  s.s.u8.fill(0xff, base, base + n);
  assert.is(s.s.dp.exports.checksumOf!(base, n), swap16(checksum(new Uint8Array(n).fill(0xff))));
});

/** The stack stores its checksum little-endian so that the bytes land in network order. */
function swap16(v: number): number { return ((v & 0xff) << 8) | (v >> 8); }

test.run();

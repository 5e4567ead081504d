// IPv6 checked views against real Linux frames (tests/fixtures/linux-veth6.pcap, 303 frames
// between two Linux 6.18 namespaces): every fixed header round-trips, the extension-header walk
// finds what tshark finds, and every unfragmented UDP, TCP and ICMPv6 message verifies against
// the IPv6 pseudo-header and round-trips byte for byte. Then the walk's refusals (RFC 8200 §4).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pcapFrames, withHost, checksum, hex } from "./helpers.js";
import type { LibOS } from "../host/libos.js";

const RT = { IPV6: 6, WALK: 7, UDP6: 8, TCP6: 9, ICMP6: 10 };
const EXT = { OK: 0, TRUNCATED: 1, TOO_MANY: 2, BAD_OPTION: 3, ROUTING_TYPE0: 4, BAD_ROUTING: 5, MISPLACED_HBH: 6, NO_NEXT: 7, BAD_FRAGMENT: 8 };
const frames = pcapFrames("linux-veth6.pcap");
const ip6 = (f: Uint8Array) => f[12] === 0x86 && f[13] === 0xdd;

function roundTrip(s: LibOS, kind: number, f: Uint8Array): Uint8Array | null {
  const sga = s.sgaalloc(4000), out = s.sgaalloc(4000);
  try {
    s.u8.set(f.subarray(14), sga.buf);
    const n = s.dp.exports.wireRoundTrip!(kind, sga.buf, f.length - 14, out.buf);
    return n < 0 ? null : s.u8.slice(out.buf, out.buf + n);
  } finally { s.sgafree(sga); s.sgafree(out); }
}

interface Walk { status: number; proto: number; offset: number; fragment: boolean; fragOffset: number; more: boolean; fragId: number; problem: boolean; problemCode: number; problemAt: number }
function walk(s: LibOS, f: Uint8Array): Walk {
  const w = new DataView(roundTrip(s, RT.WALK, f)!.buffer);
  const u = (i: number) => w.getUint32(i * 4, true);
  return { status: u(0), proto: u(1), offset: u(2), fragment: u(3) === 1, fragOffset: u(4), more: u(5) === 1, fragId: u(6),
           problem: u(7) === 1, problemCode: u(8), problemAt: u(9) };
}

/** An IPv6 frame: the fixed header names `first`, then extension headers (each names the next
 *  in its first byte; the last one's is set to `proto`), then `l4`. */
function frame6(first: number, headers: number[][], proto: number, l4: number[]): Uint8Array {
  const body: number[] = [];
  headers.forEach((h, i) => { const c = h.slice(); if (i + 1 === headers.length) c[0] = proto; body.push(...c); });
  body.push(...l4);
  const eth = [2, 0, 0, 0, 6, 1, 2, 0, 0, 0, 6, 2, 0x86, 0xdd];
  const fixed = [0x60, 0, 0, 0, body.length >> 8, body.length & 255, headers.length ? first : proto, 64,
    0xfd, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xfd, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  return Uint8Array.from([...eth, ...fixed, ...body]);
}

test("the fixture holds what its README lists", () => {
  assert.is(frames.length, 303);
  assert.ok(frames.every(ip6));
  const nh = new Map<number, number>();
  for (const f of frames) nh.set(f[20], (nh.get(f[20]) ?? 0) + 1);
  assert.equal(Object.fromEntries(nh), { 0: 8, 6: 270, 17: 1, 44: 6, 58: 18 });
});

test("every IPv6 fixed header (all 303) round-trips", () => {
  const { s } = withHost({}, true);
  for (const f of frames) assert.is(hex(roundTrip(s, RT.IPV6, f)!), hex(f.subarray(14, 54)));
});

test("the extension-header walk finds what tshark finds: hop-by-hop with router alert, fragments", () => {
  const { s } = withHost({}, true);
  // MLDv2 reports: hop-by-hop (router alert, PadN) then ICMPv6 at 48.
  for (const f of frames.filter((f) => f[20] === 0)) {
    assert.equal([walk(s, f).status, walk(s, f).proto, walk(s, f).offset, walk(s, f).fragment], [EXT.OK, 58, 48, false]);
  }
  // The two 3000-byte pings: three fragments each, offsets 0, 1448, 2896, one identification each.
  const frags = frames.filter((f) => f[20] === 44).map((f) => walk(s, f));
  assert.equal(frags.map((w) => [w.status, w.proto, w.offset, w.fragOffset, w.more]),
    [0, 1448, 2896, 0, 1448, 2896].map((o, i) => [EXT.OK, 58, 48, o, i % 3 !== 2]));
  assert.equal(frags.map((w) => w.fragId.toString(16)), ["e83ea7ca", "e83ea7ca", "e83ea7ca", "e6182fc1", "e6182fc1", "e6182fc1"]);
  // Plain packets: the upper layer right after the fixed header.
  for (const f of frames.filter((f) => f[20] === 6 || f[20] === 17 || f[20] === 58)) {
    const w = walk(s, f);
    assert.equal([w.status, w.proto, w.offset, w.fragment], [EXT.OK, f[20], 40, false]);
  }
});

test("every unfragmented ICMPv6 message (echo, NS, NA, RS, MLDv2) verifies and round-trips", () => {
  const { s } = withHost({}, true);
  let n = 0;
  for (const f of frames.filter((f) => f[20] === 58 || f[20] === 0)) {
    const at = 14 + walk(s, f).offset;
    assert.is(hex(roundTrip(s, RT.ICMP6, f)!), hex(f.subarray(at, 54 + ((f[18] << 8) | f[19]))));
    n++;
  }
  assert.is(n, 26);
  const bad = frames[16].slice();
  bad[bad.length - 1] ^= 1;
  assert.is(roundTrip(s, RT.ICMP6, bad), null, "a flipped payload bit fails the checksum");
});

test("the UDP datagram and all 270 TCP segments round-trip with the IPv6 pseudo-header checksum", () => {
  const { s } = withHost({}, true);
  const udp = frames.find((f) => f[20] === 17)!;
  const out = roundTrip(s, RT.UDP6, udp)!;
  assert.is(new TextDecoder().decode(out.subarray(8)), "hello udp6");
  assert.is(hex(out), hex(udp.subarray(54)));
  let n = 0, withOptions = 0;
  for (const f of frames.filter((f) => f[20] === 6)) {
    const seg = f.subarray(54, 54 + ((f[18] << 8) | f[19]));
    assert.is(hex(roundTrip(s, RT.TCP6, f)!), hex(seg));
    if ((seg[12] >> 4) > 5) withOptions++;
    n++;
  }
  assert.is(n, 270);
  assert.ok(withOptions > 250, `${withOptions} with options (timestamps)`);
  // Our builders' checksum and Linux's agree on the pseudo-header too.
  const pseudo = Uint8Array.from([...udp.subarray(22, 54), 0, 0, 0, out.length, 0, 0, 0, 17]);
  assert.is(checksum(Uint8Array.from([...pseudo, ...udp.subarray(54)])), 0);
});

test("the walk refuses what RFC 8200 says to refuse, and says when a parameter problem is owed", () => {
  const { s } = withHost({}, true);
  const udp = [0x30, 0x39, 0x1b, 0x58, 0, 8, 0, 0];
  const opts = (...o: number[]) => { const h = [0, 0, ...o]; while (h.length % 8) h.push(0); h[1] = h.length / 8 - 1; return h; };
  // Destination options with PadN only: fine.
  assert.is(walk(s, frame6(60, [opts(1, 0)], 17, udp)).status, EXT.OK);
  // Nine destination-options headers: past the bound.
  assert.is(walk(s, frame6(60, Array.from({ length: 9 }, () => { const h = opts(1, 0); h[0] = 60; return h; }), 17, udp)).status, EXT.TOO_MANY);
  // An unknown option of type 10xxxxxx: discard and a parameter problem, code 2, pointing at it.
  let w = walk(s, frame6(60, [opts(0x83, 0)], 17, udp));
  assert.equal([w.status, w.problem, w.problemCode, w.problemAt], [EXT.BAD_OPTION, true, 2, 42]);
  // 01xxxxxx: discarded silently.
  w = walk(s, frame6(60, [opts(0x43, 0)], 17, udp));
  assert.equal([w.status, w.problem], [EXT.BAD_OPTION, false]);
  // 00xxxxxx: skipped.
  assert.is(walk(s, frame6(60, [opts(0x03, 0)], 17, udp)).status, EXT.OK);
  // Routing header type 0 (RFC 5095) and an unknown type with segments left.
  w = walk(s, frame6(43, [[0, 0, 0, 1, 0, 0, 0, 0]], 17, udp));
  assert.equal([w.status, w.problem, w.problemCode, w.problemAt], [EXT.ROUTING_TYPE0, true, 0, 42]);
  assert.is(walk(s, frame6(43, [[0, 0, 7, 1, 0, 0, 0, 0]], 17, udp)).status, EXT.BAD_ROUTING);
  assert.is(walk(s, frame6(43, [[0, 0, 7, 0, 0, 0, 0, 0]], 17, udp)).status, EXT.OK, "segments left 0: ignored");
  // Hop-by-hop after another header.
  const dst = opts(1, 0); dst[0] = 0;
  w = walk(s, frame6(60, [dst, opts(1, 0)], 17, udp));
  assert.equal([w.status, w.problemCode], [EXT.MISPLACED_HBH, 1]);
  // A header running past the packet; next header 59.
  const long = opts(1, 0); long[1] = 9;
  assert.is(walk(s, frame6(60, [long], 17, udp)).status, EXT.TRUNCATED);
  assert.is(walk(s, frame6(60, [opts(1, 0)], 59, [])).status, EXT.NO_NEXT);
});

test.run();

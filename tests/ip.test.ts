// IPv4, ICMP and fragments: the Linux capture replayed into the stack (our answers against
// Linux's own), each malformed-header reason counted, and reassembly's bounds.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LoopbackLink } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";
import { sockaddr, Opcode } from "../host/libos.js";
import { pcapFrames, stack, mac, withHost, eth, ipv4, udp, icmpEcho, hex, bytes, pair,
         A_IP, A_MAC, B_IP, HOST_IP, HOST_MAC } from "./helpers.js";

const LINUX_CLIENT_MAC = "52:1d:41:cf:fc:ae";
const LINUX_PEER_MAC = "ea:7a:24:59:30:ff";

function replaySetup() {
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1 }, clock, true);
  const s = stack(link, "10.77.0.2", LINUX_PEER_MAC);
  const client = link.attachRaw(mac(LINUX_CLIENT_MAC));
  const frames = pcapFrames();
  const fromClient = (f: Uint8Array) => hex(f.subarray(6, 12)) === LINUX_CLIENT_MAC.replace(/:/g, "");
  return { clock, link, s, client, frames, fromClient };
}

/** The ICMP message carried by a list of fragments, in offset order. */
function icmpOf(frags: Uint8Array[]): Uint8Array {
  const parts = frags.map((f) => ({ off: (((f[20] << 8) | f[21]) & 0x1fff) * 8, data: f.subarray(34, 14 + ((f[16] << 8) | f[17])) }));
  parts.sort((x, y) => x.off - y.off);
  const out = new Uint8Array(parts.reduce((n, p) => Math.max(n, p.off + p.data.length), 0));
  for (const p of parts) out.set(p.data, p.off);
  return out;
}

test("replayed Linux client: ARP, pings and the fragmented ping get the answers Linux gave", () => {
  const { link, s, client, frames } = replaySetup();
  const ask = (i: number) => { client.send(frames[i]); link.poll(); link.poll(); return client.take(); };
  // ARP: Linux's reply is 42 bytes on the wire it was captured from; ours is padded to 60.
  const arpReply = ask(0);
  assert.is(arpReply.length, 1);
  assert.is(hex(arpReply[0].subarray(0, 42)), hex(frames[1]));
  assert.is(arpReply[0].length, 60);
  for (const [req, linuxReply] of [[2, 3], [4, 5]]) {
    const r = ask(req);
    assert.is(r.length, 1);
    assert.is(hex(r[0].subarray(34)), hex(frames[linuxReply].subarray(34)), "ICMP bytes as Linux's");
    assert.is(hex(r[0].subarray(0, 18)), hex(frames[linuxReply].subarray(0, 18)), "Ethernet, version, length");
  }
  client.send(frames[6]); client.send(frames[7]);
  const frag = ask(8);
  assert.equal(frag.map((f) => f.length), [1514, 1514, 82]);
  assert.equal(frag.map((f) => hex(f.subarray(20, 22))), [9, 10, 11].map((i) => hex(frames[i].subarray(20, 22))));
  assert.is(hex(icmpOf(frag)), hex(icmpOf([frames[9], frames[10], frames[11]])));
  assert.is(s.counters()["ip.reassembled"], 1);
  assert.is(s.counters()["ip.fragments_sent"], 3);
});

test("replayed Linux client: the UDP datagram pops with its sender, TCP is counted as unsupported", () => {
  const { link, s, client, frames, fromClient } = replaySetup();
  const qd = s.socket();
  s.bind(qd, sockaddr("10.77.0.2", 7000));
  const qt = s.pop(qd);
  let tcp = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    if (!fromClient(f)) continue;
    if (f[23] === 6) tcp++;
    client.send(f);
    link.poll();
  }
  const r = s.wait(qt, 10);
  assert.is(r.opcode, Opcode.POP);
  assert.is(new TextDecoder().decode(s.bytes(r.sga!)), "hello udp\n");
  assert.equal(r.addr, sockaddr("10.77.0.1", 53552));
  s.sgafree(r.sga!);
  assert.ok(tcp > 80);
  assert.is(s.counters()["tcp.segments_in"], tcp);
});

test("each malformed IPv4 header is dropped under its own reason", () => {
  const { s, host, link } = withHost();
  const u = udp(HOST_IP, A_IP, 1, 7, bytes("x"));
  const send = (ip: Uint8Array) => host.send(eth(A_MAC, HOST_MAC, 0x0800, ip));
  send(new Uint8Array(12));                                                        // truncated
  const v6 = ipv4({ src: HOST_IP, dst: A_IP, proto: 17 }, u); v6[0] = 0x65; send(v6); // version 6
  const ihl = ipv4({ src: HOST_IP, dst: A_IP, proto: 17 }, u); ihl[0] = 0x44; send(ihl);
  send(ipv4({ src: HOST_IP, dst: A_IP, proto: 17, totalLength: 200 }, u));         // longer than the frame
  send(ipv4({ src: HOST_IP, dst: A_IP, proto: 17, badChecksum: true }, u));
  send(ipv4({ src: HOST_IP, dst: "198.18.0.200", proto: 17 }, u));                 // not ours
  send(ipv4({ src: "224.0.0.1", dst: A_IP, proto: 17 }, u));                       // multicast source
  send(ipv4({ src: A_IP, dst: A_IP, proto: 17 }, u));                              // our own source
  send(ipv4({ src: HOST_IP, dst: A_IP, proto: 47 }, u));                           // GRE
  link.poll();
  const c = s.counters();
  for (const [k, n] of Object.entries({ ip_truncated: 1, ip_bad_version: 1, ip_bad_ihl: 1, ip_bad_length: 1,
    ip_bad_checksum: 1, ip_not_for_us: 1, ip_bad_source: 2, ip_unknown_protocol: 1 })) {
    assert.is(c[`drop.${k}` as keyof typeof c], n, k);
  }
});

test("IP options are skipped and Ethernet padding ignored", () => {
  const { s, host, link } = withHost();
  const qd = s.socket(); s.bind(qd, sockaddr(A_IP, 7));
  const nopOptions = [1, 1, 1, 0];
  const f = eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 17, options: nopOptions }, udp(HOST_IP, A_IP, 1, 7, bytes("opt"))));
  const padded = new Uint8Array(80); padded.set(f);
  host.send(padded);
  link.poll();
  const r = s.wait(s.pop(qd), 1);
  assert.is(new TextDecoder().decode(s.bytes(r.sga!)), "opt");
  s.sgafree(r.sga!);
});

test("ICMP: bad checksum, truncation, types other than echo and broadcast echoes are dropped and counted", () => {
  const { s, host, link } = withHost();
  const send = (icmp: Uint8Array, dst = A_IP) => host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst, proto: 1 }, icmp)));
  const bad = icmpEcho(8, 1, 1, bytes("abcd")); bad[9] ^= 1;
  send(bad);
  send(new Uint8Array([8, 0, 0]));
  send(icmpEcho(13, 1, 1, bytes("timestamp")));
  send(icmpEcho(8, 1, 1, bytes("x"), 1));
  send(icmpEcho(8, 1, 1, bytes("smurf")), "255.255.255.255");
  link.poll(); link.poll();
  assert.equal(host.take(), []);
  const c = s.counters();
  assert.is(c["drop.icmp_bad_checksum"], 1);
  assert.is(c["drop.icmp_truncated"], 1);
  assert.is(c["drop.icmp_unsupported"], 3);
});

function fragments(id: number, payload: Uint8Array, size: number, dport = 7): { off: number; frame: Uint8Array }[] {
  const u = udp(HOST_IP, A_IP, 5555, dport, payload);
  const out = [];
  for (let off = 0; off < u.length; off += size) {
    const part = u.subarray(off, Math.min(u.length, off + size));
    out.push({ off, frame: eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 17, id, fragOff: off, mf: off + size < u.length }, part)) });
  }
  return out;
}

function payloadOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

test("fragments in any order, with a duplicate, reassemble into one datagram", () => {
  const { s, host, link } = withHost();
  const qd = s.socket(); s.bind(qd, sockaddr(A_IP, 7));
  const data = payloadOf(5000, 3);
  const fr = fragments(42, data, 1480);
  for (const i of [3, 1, 0, 1, 2]) host.send(fr[i].frame);
  link.poll();
  const r = s.wait(s.pop(qd), 1);
  assert.is(hex(s.bytes(r.sga!)), hex(data));
  s.sgafree(r.sga!);
  const c = s.counters();
  assert.is(c["ip.reassembled"], 1);
  assert.is(c["drop.frag_duplicate"], 1);
});

test("overlapping fragments drop the whole datagram; the buffer returns", () => {
  const { s, host, link } = withHost();
  const start = s.poolAvailable();
  const u = udp(HOST_IP, A_IP, 5555, 7, payloadOf(3000, 1));
  const send = (off: number, len: number, mf: boolean) => host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 17, id: 9, fragOff: off, mf }, u.subarray(off, off + len))));
  send(0, 1480, true);
  send(1472, 1480, true);       // overlaps the first by 8 bytes
  link.poll();
  assert.is(s.counters()["drop.frag_overlap"], 1);
  assert.is(s.poolAvailable(), start);
});

test("fragments that never complete time out; a fragment past 64 KiB and a bad length are refused", () => {
  const { s, host, link, clock } = withHost({ "ip.reassembly_timeout_ms": 500 });
  const start = s.poolAvailable();
  host.send(fragments(1, payloadOf(3000, 2), 1480)[0].frame);
  host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 17, id: 2, fragOff: 65528, mf: false }, new Uint8Array(16))));
  host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 17, id: 3, fragOff: 0, mf: true }, new Uint8Array(100))));
  link.poll();
  assert.is(s.poolAvailable(), start - 1);
  clock.advance(499e6); link.poll();
  assert.is(s.counters()["drop.frag_timeout"], 0);
  clock.advance(2e6); link.poll();
  const c = s.counters();
  assert.is(c["drop.frag_timeout"], 1);
  assert.is(c["drop.frag_too_big"], 1);
  assert.is(c["drop.frag_bad"], 1);
  assert.is(s.poolAvailable(), start);
});

test("endless first fragments fill a bounded table and are counted, never more memory", () => {
  const { s, host, link, clock } = withHost({ "ip.reassembly_slots": 4 });
  const start = s.poolAvailable();
  for (let id = 0; id < 1000; id++) { host.send(fragments(id, payloadOf(2000, id), 1480)[0].frame); if (id % 32 === 31) link.poll(); }
  link.poll();
  assert.is(s.counters()["drop.frag_table_full"], 996);
  assert.is(s.poolAvailable(), start - 4);
  clock.advance(31e9); link.poll();
  assert.is(s.poolAvailable(), start);
});

test("a 65507-byte datagram crosses in both directions, fragmented and reassembled byte for byte", () => {
  const { a, b } = pair();
  const qa = a.socket(); a.bind(qa, sockaddr(A_IP, 1000));
  const qb = b.socket(); b.bind(qb, sockaddr(B_IP, 2000));
  for (const [from, qf, to, qt, addr] of [[a, qa, b, qb, sockaddr(B_IP, 2000)], [b, qb, a, qa, sockaddr(A_IP, 1000)]] as const) {
    const data = payloadOf(65507, 11);
    const sga = from.sgaalloc(data.length);
    from.bytes(sga).set(data);
    assert.is(from.wait(from.pushto(qf, sga, addr), 1000).ret, 0);
    from.sgafree(sga);
    const r = to.wait(to.pop(qt), 1000);
    assert.is(r.sga!.len, 65507);
    assert.ok(Buffer.from(to.bytes(r.sga!)).equals(Buffer.from(data)));
    to.sgafree(r.sga!);
    assert.is(from.counters()["ip.fragments_sent"], 45);
  }
});

test.run();

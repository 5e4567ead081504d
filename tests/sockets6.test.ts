// AF_INET6 sockets (PDPIX): UDP and TCP between two stacks over IPv6 on one virtual clock, the
// frames they put on the wire (checked here, independently of the Wasm emitters), addresses in
// and out (sockaddr, "[addr]:port", results, getsockname), and the refusals: the wrong family,
// an address not ours, an IPv4-mapped peer, IPv6 switched off.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sockaddr, parseSockAddr, formatSockAddr, AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM, Opcode, type SockAddr } from "../host/libos.js";
import { LoopbackLink } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";
import { readPcap } from "../host/pcap.js";
import { formatIpv6, newResultBuffer } from "../host/index.js";
import { stack, errno, checksum, bytes, mac, eth, ipv6, A_IP, B_IP, A_MAC, B_MAC, type Pair } from "./helpers.js";
import { transfer, runUntil } from "./tcp.helpers.js";
import { EAFNOSUPPORT, EADDRNOTAVAIL, EADDRINUSE, ENETUNREACH, EINVAL } from "../host/errno.js";

const A6 = "fd00:6::1", B6 = "fd00:6::2";

/** Two dual-stack hosts on a loopback link; duplicate address detection has run its course. */
function pair6(overrides: Record<string, unknown> = {}): Pair {
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1 }, clock, true);
  const a = stack(link, A_IP, A_MAC, { local_ipv6: [`${A6}/64`], ...overrides });
  const b = stack(link, B_IP, B_MAC, { local_ipv6: [`${B6}/64`], ...overrides });
  const p = { clock, link, a, b };
  runUntil(p, () => [a, b].every((s) => s.addresses6().every((x) => x.state === "preferred")));
  return p;
}

/** The IPv6 frames of upper-layer protocol `nh` (no extension headers) in a capture file. */
const captured6 = (file: string, nh: number) =>
  readPcap(readFileSync(file)).map((x) => x.data).filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === nh);

const text = (a: SockAddr | undefined) => (a === undefined ? "none" : formatSockAddr(a));

test("addresses as text: sockaddr and '[addr]:port' for both versions, back out in RFC 5952 form", () => {
  assert.is(formatSockAddr(sockaddr("2001:DB8:0::1", 7)), "[2001:db8::1]:7");
  assert.is(formatSockAddr(sockaddr("198.18.0.1", 7)), "198.18.0.1:7");
  assert.is(text(parseSockAddr("[fd00:6::2]:80")!), "[fd00:6::2]:80");
  assert.is(text(parseSockAddr("198.18.0.2:80")!), "198.18.0.2:80");
  for (const bad of ["fd00:6::2:80", "[fd00:6::2]", "[fd00::g]:1", "[fd00::1]:0", "[fd00::1]:65536", "1.2.3.4:x"]) assert.is(parseSockAddr(bad), null, bad);
  assert.is(errno(() => sockaddr("fd00::g", 1)), EINVAL);
});

test("UDP over IPv6: datagrams both ways, the sender's address in the result, every header right on the wire", () => {
  const p = pair6();
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-sock6-"));
  try {
    p.link.capture(join(dir, "udp6.pcap"));
    const { a, b } = p;
    const sq = a.socket(AF_INET6, SOCK_DGRAM);
    a.bind(sq, sockaddr("::", 7));
    assert.is(text(a.getsockname(sq)), "[::]:7");
    const cq = b.socket(AF_INET6, SOCK_DGRAM);
    const sga = b.sgaalloc(5);
    b.bytes(sga).set(bytes("hello"));
    assert.is(b.wait(b.pushto(cq, sga, sockaddr(A6, 7)), 1000).ret, 0);
    b.sgafree(sga);
    const r = a.wait(a.pop(sq), 1000);
    assert.is(r.opcode, Opcode.POP);
    assert.is(Buffer.from(a.bytes(r.sga!)).toString(), "hello");
    const port = b.getsockname(cq).port;
    assert.ok(port >= 49152, "an ephemeral port");
    assert.is(text(r.addr), `[${B6}]:${port}`);
    // The echo goes back to the address the result named, through the reusable result too.
    assert.is(a.wait(a.pushto(sq, r.sga!, r.addr!), 1000).ret, 0);
    a.sgafree(r.sga!);
    const out = newResultBuffer();
    assert.ok(b.waitInto(out, b.pop(cq), 1000));
    assert.is(Buffer.from(b.bytes(out.sga)).toString(), "hello");
    assert.is(text(out.addr), `[${A6}]:7`);
    b.sgafree(out.sga);
    // A connected socket: push without an address, getpeername in IPv6 form.
    b.connect(cq, sockaddr(A6, 7));
    assert.is(text(b.getpeername(cq)), `[${A6}]:7`);
    const sga2 = b.sgaalloc(3);
    b.bytes(sga2).set(bytes("abc"));
    assert.is(b.wait(b.push(cq, sga2), 1000).ret, 0);
    b.sgafree(sga2);
    const r2 = a.wait(a.pop(sq), 1000);
    assert.is(Buffer.from(a.bytes(r2.sga!)).toString(), "abc");
    a.sgafree(r2.sga!);
    p.link.stopCapture();
    // On the wire: IPv6 (0x86dd), next header 17, hop limit 64, our addresses, a UDP checksum
    // over the IPv6 pseudo-header (RFC 8200 §8.1) that sums to zero.
    const frames = captured6(join(dir, "udp6.pcap"), 17);
    assert.is(frames.length, 3);
    for (const f of frames) {
      assert.is(f[21], 64, "hop limit");
      const len = (f[18] << 8) | f[19];
      assert.is((f[58] << 8) | f[59], len, "UDP length is the payload length");
      const pseudo = Uint8Array.from([...f.subarray(22, 54), 0, 0, len >> 8, len & 255, 0, 0, 0, 17]);
      assert.is(checksum(Uint8Array.from([...pseudo, ...f.subarray(54, 54 + len)])), 0, "checksum");
    }
    assert.equal([frames[0].subarray(22, 38), frames[0].subarray(38, 54)].map((x) => formatIpv6(x)), [B6, A6]);
    assert.is(a.counters()["udp.delivered"], 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("UDP over IPv6: a socket bound to one address hears only that one; a closed port answers port unreachable", () => {
  const p = pair6();
  const { a, b } = p;
  const sq = a.socket(AF_INET6, SOCK_DGRAM);
  a.bind(sq, sockaddr(A6, 9));
  const ll = a.addresses6().find((x) => x.address.startsWith("fe80:"))!.address.split("/")[0];
  const cq = b.socket(AF_INET6, SOCK_DGRAM);
  const send = (to: string, port: number) => {
    const sga = b.sgaalloc(1);
    assert.is(b.wait(b.pushto(cq, sga, sockaddr(to, port)), 1000).ret, 0);
    b.sgafree(sga);
  };
  const pop = a.pop(sq);
  send(ll, 9);                                  // to our link-local address: not the bound one
  send(A6, 10);                                 // a port no one bound
  runUntil(p, () => a.counters()["drop.udp_no_socket"] === 2 && b.counters()["icmp6.ignored"] + b.counters()["rx.frames"] > 0);
  runUntil(p, () => a.counters()["icmp6.errors_sent"] === 2);
  assert.ok(!a.isDone(pop), "nothing delivered");
  send(A6, 9);
  const r = a.wait(pop, 1000);
  assert.is(r.ret, 0);
  a.sgafree(r.sga!);
});

test("TCP over IPv6: handshake with MSS = MTU - 60, 1 MiB each way byte-exact, addresses of both ends", () => {
  const p = pair6();
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-sock6-"));
  try {
    p.link.capture(join(dir, "tcp6.pcap"));
    const { a, b } = p;
    const lqd = a.socket(AF_INET6, SOCK_STREAM);
    a.bind(lqd, sockaddr("::", 80));
    a.listen(lqd, 16);
    const aq = a.accept(lqd);
    const cb = b.socket(AF_INET6, SOCK_STREAM);
    const c = b.wait(b.connect(cb, sockaddr(A6, 80)), 60_000);
    assert.is(c.ret, 0);
    const acc = a.wait(aq, 60_000);
    assert.is(acc.opcode, Opcode.ACCEPT);
    const sa = acc.acceptedQd!;
    const bport = b.getsockname(cb).port;
    assert.is(text(acc.addr), `[${B6}]:${bport}`);
    assert.is(text(a.getsockname(sa)), `[${A6}]:80`, "the accepted connection names the address it was reached at");
    assert.is(text(a.getpeername(sa)), `[${B6}]:${bport}`);
    assert.is(text(b.getpeername(cb)), `[${A6}]:80`);
    const MiB = 1 << 20;
    const [ab, ba] = transfer(p, [
      { from: a, fromQd: sa, to: b, toQd: cb, total: MiB, seed: 1 },
      { from: b, fromQd: cb, to: a, toQd: sa, total: MiB, seed: 2 },
    ]);
    assert.is(ab.got, ab.sent);
    assert.is(ba.got, ba.sent);
    p.link.stopCapture();
    const segs = captured6(join(dir, "tcp6.pcap"), 6);
    const syns = segs.filter((f) => (f[54 + 13] & 0x02) !== 0);
    assert.is(syns.length, 2, "SYN and SYN-ACK");
    for (const f of syns) {
      assert.equal([f[74], f[75], (f[76] << 8) | f[77]], [2, 4, 1500 - 60], "MSS option (RFC 9293 §3.7.1, IPv6's headers)");
    }
    const biggest = Math.max(...segs.map((f) => (f[18] << 8) | f[19]));
    assert.is(biggest, 1500 - 40, "full segments fill the MTU exactly");
    for (const f of segs.slice(0, 50)) {
      const len = (f[18] << 8) | f[19];
      const pseudo = Uint8Array.from([...f.subarray(22, 54), 0, 0, len >> 8, len & 255, 0, 0, 0, 6]);
      assert.is(checksum(Uint8Array.from([...pseudo, ...f.subarray(54, 54 + len)])), 0, "TCP checksum over the IPv6 pseudo-header");
    }
    a.close(sa); b.close(cb); a.close(lqd);
    runUntil(p, () => a.dp.exports.tcpConnections(0) === a.dp.exports.tcpMaxConnectionCount()
                   && b.dp.exports.tcpConnections(0) === b.dp.exports.tcpMaxConnectionCount());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("TCP over IPv6 after a Packet Too Big from a router: its segments fit the path from then on, 1 MiB byte-exact (the resend is the packet scripts')", () => {
  const p = pair6();
  const { a, b } = p;
  const R_MAC = "02:00:00:00:00:fe";
  const router = p.link.attachRaw(mac(R_MAC));
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-sock6-"));
  try {
    const lqd = b.socket(AF_INET6, SOCK_STREAM);
    b.bind(lqd, sockaddr(B6, 80));
    b.listen(lqd, 4);
    const bq = b.accept(lqd);
    const qa = a.socket(AF_INET6, SOCK_STREAM);
    assert.is(a.wait(a.connect(qa, sockaddr(B6, 80)), 10_000).ret, 0);
    const sb = b.wait(bq, 10_000).acceptedQd!;
    const aport = a.getsockname(qa).port;
    const before = a.tcpInfo(qa).mss;
    // A router says the path to B takes 1280: it quotes a full-sized segment of ours.
    const quoted = ipv6(A6, B6, 6, Uint8Array.from([aport >> 8, aport & 255, 0, 80, ...new Array(before + 12 + 16).fill(0)])).subarray(0, 1232);
    const mtu = 1280;
    router.send(eth(A_MAC, R_MAC, 0x86dd, ipv6("fd00:6::fe", A6, 58, Uint8Array.from([2, 0, 0, 0, 0, 0, mtu >> 8, mtu & 255, ...quoted]))));
    p.link.poll(); p.link.poll();
    assert.is(a.counters()["icmp6.path_mtu_lowered"], 1);
    assert.is(a.tcpInfo(qa).mss, mtu - 60 - 12, "MSS = path MTU - headers - timestamps");
    p.link.capture(join(dir, "ptb.pcap"));
    const [ab] = transfer(p, [{ from: a, fromQd: qa, to: b, toQd: sb, total: 1 << 20, seed: 3 }]);
    assert.is(ab.got, ab.sent);
    p.link.stopCapture();
    const sizes = captured6(join(dir, "ptb.pcap"), 6).filter((f) => formatIpv6(f.subarray(22, 38)) === A6)
      .map((f) => 40 + ((f[18] << 8) | f[19]));
    assert.ok(sizes.length > 800 && Math.max(...sizes) === mtu, `largest ${Math.max(...sizes)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("IPv4 and IPv6 sockets stay apart: the same port in both, no listener across versions, wrong-family calls refused", () => {
  const p = pair6();
  const { a, b } = p;
  // Binding :: is IPv6 only (IPV6_V6ONLY): an IPv4 socket may take the same port.
  const l6 = a.socket(AF_INET6, SOCK_STREAM);
  a.bind(l6, sockaddr("::", 80));
  a.listen(l6, 4);
  const l4 = a.socket(AF_INET, SOCK_STREAM);
  a.bind(l4, sockaddr("0.0.0.0", 80));
  const again6 = a.socket(AF_INET6, SOCK_STREAM);
  assert.is(errno(() => a.bind(again6, sockaddr("::", 80))), EADDRINUSE);
  // l4 does not listen: an IPv4 connect is refused though an IPv6 listener holds port 80.
  const c4 = b.socket(AF_INET, SOCK_STREAM);
  assert.is(b.wait(b.connect(c4, sockaddr(A_IP, 80)), 60_000).ret, 111 /* ECONNREFUSED */);
  // The wrong family, in each direction.
  assert.is(errno(() => a.bind(again6, sockaddr("198.18.0.1", 81))), EAFNOSUPPORT);
  const u4 = a.socket(AF_INET, SOCK_DGRAM);
  assert.is(errno(() => a.bind(u4, sockaddr(A6, 81))), EAFNOSUPPORT);
  const u6 = a.socket(AF_INET6, SOCK_DGRAM);
  const sga = a.sgaalloc(1);
  assert.is(errno(() => a.pushto(u6, sga, sockaddr(B_IP, 7))), EAFNOSUPPORT);
  assert.is(errno(() => a.pushto(u4, sga, sockaddr(B6, 7))), EAFNOSUPPORT);
  // An IPv4-mapped peer is out of an IPv6-only socket's reach; an address not ours cannot be bound.
  assert.is(errno(() => a.pushto(u6, sga, sockaddr("::ffff:198.18.0.2", 7))), ENETUNREACH);
  assert.is(errno(() => a.connect(again6, sockaddr("::ffff:198.18.0.2", 7))), ENETUNREACH);
  assert.is(errno(() => a.bind(u6, sockaddr(B6, 7))), EADDRNOTAVAIL);
  a.sgafree(sga);
  assert.is(errno(() => a.socket(3, SOCK_DGRAM)), EAFNOSUPPORT);
});

test("a stack without IPv6 addresses sends no IPv6: an IPv6 send is ENETUNREACH, nothing on the wire", () => {
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1 }, clock, true);
  const a = stack(link, A_IP, A_MAC);
  const u6 = a.socket(AF_INET6, SOCK_DGRAM);
  const sga = a.sgaalloc(1);
  assert.is(errno(() => a.pushto(u6, sga, sockaddr(B6, 7))), ENETUNREACH);
  const t6 = a.socket(AF_INET6, SOCK_STREAM);
  assert.is(errno(() => a.connect(t6, sockaddr(B6, 7))), ENETUNREACH);
  link.poll();
  assert.is(a.counters()["tx.frames"], 0);
  a.sgafree(sga);
});

test.run();

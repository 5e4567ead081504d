// UDP sockets on the PDPIX API: echo between two stacks, addresses, every errno of misuse, and
// the datagrams a stack must drop (closed port, bad checksum, bad length, full queue).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sockaddr, Opcode, AF_INET, SOCK_DGRAM, SOCK_STREAM } from "../host/libos.js";
import { EADDRINUSE, EADDRNOTAVAIL, EBADF, EINVAL, EAFNOSUPPORT, ENOTSUP, EPROTONOSUPPORT,
         EDESTADDRREQ, ENOTCONN, ECANCELED } from "../host/errno.js";
import { pair, stack, withHost, udpFrame, udp, ipv4, eth, bytes, A_IP, B_IP, A_MAC, B_MAC, HOST_IP, HOST_MAC, errno } from "./helpers.js";
import { LoopbackLink } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";

const text = (u8: Uint8Array) => new TextDecoder().decode(u8);

test("echo between two stacks: pushto, pop with the sender's address, push back", () => {
  const { a, b } = pair();
  const srv = a.socket(AF_INET, SOCK_DGRAM, 0);
  a.bind(srv, sockaddr(A_IP, 7));
  const cli = b.socket();
  b.bind(cli, sockaddr(B_IP, 40000));
  const s = b.sgaalloc(4);
  b.bytes(s).set(bytes("ping"));
  assert.is(b.wait(b.pushto(cli, s, sockaddr(A_IP, 7))).opcode, Opcode.PUSH);
  b.sgafree(s);
  const r = a.wait(a.pop(srv), 100);
  assert.equal(r.addr, sockaddr(B_IP, 40000));
  assert.is(text(a.bytes(r.sga!)), "ping");
  a.wait(a.pushto(srv, r.sga!, r.addr!));
  a.sgafree(r.sga!);
  const e = b.wait(b.pop(cli), 100);
  assert.is(text(b.bytes(e.sga!)), "ping");
  assert.equal(e.addr, sockaddr(A_IP, 7));
  b.sgafree(e.sga!);
  assert.equal(a.getsockname(srv), sockaddr(A_IP, 7));
});

test("jumbo frames: at MTU 9000 an 8972-byte datagram crosses as one frame; a stack at MTU 1500 never sees it (the link counts it too long)", () => {
  const link = new LoopbackLink({ seed: 1 }, new VirtualClock(), true);
  const jumbo = { mtu: 9000, memory_mb: 64 };
  const a = stack(link, A_IP, A_MAC, jumbo), b = stack(link, B_IP, B_MAC, jumbo), c = stack(link, "198.18.0.3", "02:00:00:00:00:03");
  const srv = a.socket(AF_INET, SOCK_DGRAM), small = c.socket(AF_INET, SOCK_DGRAM), cli = b.socket(AF_INET, SOCK_DGRAM);
  a.bind(srv, sockaddr(A_IP, 7));
  c.bind(small, sockaddr("198.18.0.3", 7));
  b.bind(cli, sockaddr(B_IP, 40000));
  const s = b.sgaalloc(8972);
  const payload = b.bytes(s);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
  b.wait(b.pushto(cli, b.sgaalloc(1), sockaddr(A_IP, 7)));        // ARP resolved
  a.sgafree(a.wait(a.pop(srv), 100).sga!);
  const frames0 = b.counters()["tx.frames"];
  assert.is(b.wait(b.pushto(cli, s, sockaddr(A_IP, 7))).ret, 0);
  const r = a.wait(a.pop(srv), 100);
  assert.equal(a.bytes(r.sga!), b.bytes(s));
  assert.is(b.counters()["tx.frames"] - frames0, 1, "one frame, not fragments");
  a.sgafree(r.sga!);
  // To the 1500-MTU stack: its ARP answer comes back, the datagram itself is too long for its slots.
  const pop = c.pop(small);
  b.wait(b.pushto(cli, s, sockaddr("198.18.0.3", 7)));
  for (let i = 0; i < 20; i++) link.poll();
  assert.is(c.tryWait(pop), null);
  assert.is(link.stats.rxTooLong, 1);
  b.sgafree(s);
});

test("calls into Wasm: one per PDPIX call (a completed wait takes its result in one), one poll per stack per turn", () => {
  const link = new LoopbackLink({ seed: 1 }, new VirtualClock(), true);
  const a = stack(link, A_IP, A_MAC, {}, false, true), b = stack(link, B_IP, B_MAC, {}, false, true);
  const srv = a.socket(AF_INET, SOCK_DGRAM);
  a.bind(srv, sockaddr(A_IP, 7));
  const cli = b.socket();
  b.bind(cli, sockaddr(B_IP, 40000));
  b.wait(b.pushto(cli, b.sgaalloc(1), sockaddr(A_IP, 7)));        // ARP resolved both ways
  a.wait(a.pop(srv), 100);
  const calls = () => [a.crossings(), b.crossings()];
  const since = (before: number[]) => calls().map((n, i) => n - before[i]);
  let t = calls();
  const s = b.sgaalloc(64);
  const push = b.pushto(cli, s, sockaddr(A_IP, 7));
  assert.ok(b.tryWait(push) !== null);
  b.sgafree(s);
  const pop = a.pop(srv);
  assert.equal(since(t), [1, 4], "sgaalloc, pushto, the wait that takes the push, sgafree; pop");
  t = calls();
  link.poll();
  assert.equal(since(t), [1, 1], "a turn of the link polls each stack once");
  t = calls();
  const r = a.tryWait(pop)!;
  a.sgafree(r.sga!);
  assert.equal(since(t), [2, 0], "the pop's result, sgafree");
});

test("socket, bind, listen and accept answer misuse with Demikernel's errnos", () => {
  const { a } = pair();
  assert.is(errno(() => a.socket(1 /* AF_UNIX */, SOCK_DGRAM)), EAFNOSUPPORT);
  assert.is(errno(() => a.socket(AF_INET, 3)), EPROTONOSUPPORT);
  assert.is(errno(() => a.socket(AF_INET, SOCK_DGRAM, 6)), EPROTONOSUPPORT);
  assert.is(errno(() => a.socket(AF_INET, SOCK_STREAM, 17)), EPROTONOSUPPORT);
  const q = a.socket();
  a.bind(q, sockaddr(A_IP, 53));
  assert.is(errno(() => a.bind(q, sockaddr(A_IP, 54))), EINVAL);
  const q2 = a.socket();
  assert.is(errno(() => a.bind(q2, sockaddr(A_IP, 53))), EADDRINUSE);
  assert.is(errno(() => a.bind(q2, sockaddr(B_IP, 54))), EADDRNOTAVAIL);
  assert.is(errno(() => a.bind(q2, { addr: 0, port: 70000 })), EINVAL);
  assert.is(errno(() => a.bind(999, sockaddr(A_IP, 1))), EBADF);
  assert.is(errno(() => a.bind(-1, sockaddr(A_IP, 1))), EBADF);
  assert.is(errno(() => a.listen(q, 5)), ENOTSUP);
  assert.is(errno(() => a.accept(q)), ENOTSUP);
  assert.is(errno(() => a.pop(4000)), EBADF);
  assert.is(errno(() => a.getpeername(q)), ENOTCONN);
  a.close(q);
  assert.is(errno(() => a.close(q)), EBADF);
  // The port is free again once closed.
  a.bind(q2, sockaddr(A_IP, 53));
});

test("an unbound socket gets an ephemeral port on first push", () => {
  const { a } = pair();
  const q = a.socket();
  assert.equal(a.getsockname(q), { addr: 0, port: 0 });
  const s = a.sgaalloc(1);
  a.wait(a.pushto(q, s, sockaddr(B_IP, 9)));
  a.sgafree(s);
  const port = a.getsockname(q).port;
  assert.ok(port >= 49152 && port <= 65535, `ephemeral ${port}`);
});

test("connect sets the default peer and filters what pops", () => {
  const { s, host, link } = withHost();
  const q = s.socket();
  s.bind(q, sockaddr(A_IP, 7));
  const noPeer = s.sgaalloc(1);
  assert.is(errno(() => s.push(q, noPeer)), EDESTADDRREQ);
  s.sgafree(noPeer);
  assert.is(s.wait(s.connect(q, sockaddr(HOST_IP, 5555))).opcode, Opcode.CONNECT);
  assert.equal(s.getpeername(q), sockaddr(HOST_IP, 5555));
  host.send(udpFrame(7, bytes("stranger"), 6666));
  host.send(udpFrame(7, bytes("peer"), 5555));
  link.poll();
  const r = s.wait(s.pop(q), 1);
  assert.is(text(s.bytes(r.sga!)), "peer");
  s.sgafree(r.sga!);
  assert.is(s.counters()["drop.udp_no_socket"], 1);
});

test("closed ports, bad checksums and bad lengths are dropped and counted; a zero checksum is accepted", () => {
  const { s, host, link } = withHost();
  const q = s.socket(); s.bind(q, sockaddr(A_IP, 7));
  const frame = (u: Uint8Array) => eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 17 }, u));
  host.send(udpFrame(8, bytes("closed")));
  host.send(frame(udp(HOST_IP, A_IP, 1, 7, bytes("bad"), { badChecksum: true })));
  host.send(frame(udp(HOST_IP, A_IP, 1, 7, bytes("long"), { length: 400, noChecksum: true })));
  host.send(frame(udp(HOST_IP, A_IP, 1, 7, bytes("short"), { length: 4, noChecksum: true })));
  host.send(frame(new Uint8Array([0, 1, 0, 7])));
  host.send(frame(udp(HOST_IP, A_IP, 1, 7, bytes("nocsum"), { noChecksum: true })));
  link.poll();
  const c = s.counters();
  assert.is(c["drop.udp_no_socket"], 1);
  assert.is(c["drop.udp_bad_checksum"], 1);
  assert.is(c["drop.udp_bad_length"], 2);
  assert.is(c["drop.udp_truncated"], 1);
  const r = s.wait(s.pop(q), 1);
  assert.is(text(s.bytes(r.sga!)), "nocsum");
  s.sgafree(r.sga!);
});

test("a socket's receive queue is bounded; what overflows is counted and its buffers return", () => {
  const { s, host, link } = withHost({ "udp.rx_queue_depth": 8 });
  const q = s.socket(); s.bind(q, sockaddr(A_IP, 7));
  const start = s.poolAvailable();
  for (let i = 0; i < 20; i++) host.send(udpFrame(7, bytes(`m${i}`)));
  link.poll();
  assert.is(s.counters()["drop.udp_queue_full"], 12);
  assert.is(s.poolAvailable(), start - 8);
  const got = Array.from({ length: 8 }, () => s.wait(s.pop(q), 1));
  assert.equal(got.map((r) => text(s.bytes(r.sga!))), ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
  for (const r of got) s.sgafree(r.sga!);
  s.close(q);
  link.poll();
  assert.is(s.poolAvailable(), start);
});

test("close drops queued datagrams and fails pending pops with ECANCELED", () => {
  const { s, host, link } = withHost();
  const start = s.poolAvailable();
  const q = s.socket(); s.bind(q, sockaddr(A_IP, 7));
  host.send(udpFrame(7, bytes("queued")));
  link.poll();
  const q2 = s.socket(); s.bind(q2, sockaddr(A_IP, 8));
  const pending = s.pop(q2);
  s.close(q);
  s.close(q2);
  const r = s.wait(pending);
  assert.is(r.opcode, Opcode.FAILED);
  assert.is(r.ret, ECANCELED);
  assert.is(s.poolAvailable(), start);
  assert.is(s.dp.exports.openSockets(), 0);
});

test("a datagram to the limited broadcast address reaches the bound port", () => {
  const { s, host, link } = withHost();
  const q = s.socket(); s.bind(q, sockaddr("0.0.0.0", 67));
  host.send(eth("ff:ff:ff:ff:ff:ff", HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: "255.255.255.255", proto: 17 }, udp(HOST_IP, "255.255.255.255", 68, 67, bytes("dhcp")))));
  link.poll();
  const r = s.wait(s.pop(q), 1);
  assert.is(text(s.bytes(r.sga!)), "dhcp");
  s.sgafree(r.sga!);
});

test.run();

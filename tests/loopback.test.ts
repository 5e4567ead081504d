// The loopback interface inside the datapath (assembly/net/loopback.ts): datagrams to our own
// address, to 127.0.0.0/8 and to ::1 go back up the stack in the same turn without touching the
// link; 127.0.0.0/8 from the wire is refused.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sockaddr, Opcode, AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM, LibOS, type QResult } from "../host/libos.js";
import { EADDRNOTAVAIL, ECONNREFUSED } from "../host/errno.js";
import { withHost, eth, ipv4, udp, A_IP, A_MAC, HOST_IP, HOST_MAC, errno } from "./helpers.js";
import { parseIpv6 } from "../host/ipv6.js";

const text = (u8: Uint8Array) => new TextDecoder().decode(u8);
const lo6 = (port: number) => ({ addr: 0, port, addr6: parseIpv6("::1")! });

/** qt's result after at most `turns` turns on a clock that does not move: the loopback needs no time. */
function soon(s: LibOS, qt: number, turns = 4): QResult {
  for (let i = 0; i < turns; i++) {
    s.poll();
    const r = s.tryWait(qt);
    if (r !== null) return r;
  }
  throw new Error(`qt ${qt} still pending after ${turns} turns`);
}

function one() {
  const h = withHost();
  const tx0 = h.s.counters()["tx.frames"];
  return { ...h, linkFrames: () => h.s.counters()["tx.frames"] - tx0 };
}

test("UDP to 127.0.0.1, to 127.1.2.3 and to our own address: delivered with the right source, nothing on the link", () => {
  const { s, linkFrames } = one();
  const srv = s.socket(AF_INET, SOCK_DGRAM, 0);
  s.bind(srv, sockaddr("0.0.0.0", 7));
  const cli = s.socket(AF_INET, SOCK_DGRAM, 0);
  for (const [to, from] of [["127.0.0.1", "127.0.0.1"], ["127.1.2.3", "127.0.0.1"], [A_IP, A_IP]]) {
    const sga = s.sgaalloc(5);
    s.bytes(sga).set(new TextEncoder().encode("hello"));
    // The sga is the application's: the looped frame is copied out of it, never shared.
    assert.is(soon(s, s.pushto(cli, sga, sockaddr(to, 7))).opcode, Opcode.PUSH, to);
    s.bytes(sga).fill(0);
    s.sgafree(sga);
    const r = soon(s, s.pop(srv));
    assert.is(text(s.bytes(r.sga!)), "hello", to);
    assert.is(r.addr!.addr, sockaddr(from, 0).addr, `source toward ${to}`);
    assert.is(r.addr!.port, s.getsockname(cli).port);
    s.sgafree(r.sga!);
  }
  assert.is(linkFrames(), 0, "no frame reached the link");
  const c = s.counters();
  assert.is(c["loop.frames"], 3);
  assert.is(c["loop.copied"], 3);
  assert.is(c["udp.delivered"], 3);
});

test("a UDP datagram larger than the MTU to ourselves is fragmented and reassembled byte-exact", () => {
  const { s, linkFrames } = one();
  const srv = s.socket(AF_INET, SOCK_DGRAM, 0);
  s.bind(srv, sockaddr("127.0.0.1", 9));
  const sga = s.sgaalloc(20000);
  const data = s.bytes(sga);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
  const expect = data.slice();
  soon(s, s.pushto(srv, sga, sockaddr("127.0.0.1", 9)));
  s.sgafree(sga);
  const r = soon(s, s.pop(srv));
  assert.equal(s.bytes(r.sga!), expect);
  assert.is(s.counters()["ip.fragments_sent"], 14);
  assert.is(s.counters()["ip.reassembled"], 1);
  assert.is(linkFrames(), 0);
});

test("TCP on one stack: connect to 127.0.0.1 completes in the turn it was asked in, data both ways, clean close", () => {
  const { s, clock, linkFrames } = one();
  const l = s.socket(AF_INET, SOCK_STREAM, 0);
  s.bind(l, sockaddr("0.0.0.0", 80));
  s.listen(l, 16);
  const aq = s.accept(l);
  const c = s.socket(AF_INET, SOCK_STREAM, 0);
  const t0 = clock.now();
  const cq = s.connect(c, sockaddr("127.0.0.1", 80));
  s.poll();
  assert.ok(s.isDone(cq), "SYN, SYN-ACK and ACK in one turn");
  assert.is(soon(s, cq).opcode, Opcode.CONNECT);
  const a = soon(s, aq);
  assert.is(a.opcode, Opcode.ACCEPT);
  assert.equal(a.addr, s.getsockname(c));
  assert.equal(s.getpeername(c), sockaddr("127.0.0.1", 80));
  const srv = a.acceptedQd!;
  assert.equal(s.getsockname(srv), sockaddr("127.0.0.1", 80));
  const big = s.sgaalloc(60000);
  s.bytes(big).fill(0x5a);
  soon(s, s.push(c, big));
  s.sgafree(big);
  let got = 0;
  while (got < 60000) { const r = soon(s, s.pop(srv)); got += r.sga!.len; assert.ok(s.bytes(r.sga!).every((b) => b === 0x5a)); s.sgafree(r.sga!); }
  assert.is(got, 60000);
  s.close(c);
  const eof = soon(s, s.pop(srv));
  assert.is(eof.sga!.len, 0, "FIN reads as end of stream");
  s.close(srv);
  assert.is(clock.now(), t0, "no timer was needed");
  assert.is(linkFrames(), 0);
  assert.is(s.counters()["tcp.retransmits"], 0);
});

test("TCP to our own address and a closed port on 127.0.0.1 is refused at once", () => {
  const { s, linkFrames } = one();
  const l = s.socket(AF_INET, SOCK_STREAM, 0);
  s.bind(l, sockaddr(A_IP, 81));
  s.listen(l, 4);
  const c = s.socket(AF_INET, SOCK_STREAM, 0);
  assert.is(soon(s, s.connect(c, sockaddr(A_IP, 81))).opcode, Opcode.CONNECT);
  assert.equal(s.getsockname(c).addr, sockaddr(A_IP, 0).addr);
  const d = s.socket(AF_INET, SOCK_STREAM, 0);
  const r = soon(s, s.connect(d, sockaddr("127.0.0.1", 82)));
  assert.is(r.opcode, Opcode.FAILED);
  assert.is(r.ret, ECONNREFUSED);
  assert.is(linkFrames(), 0);
});

test("bind takes 127.0.0.0/8 and our address, nothing else", () => {
  const { s } = one();
  assert.is(errno(() => s.bind(s.socket(AF_INET, SOCK_DGRAM, 0), sockaddr("127.0.0.1", 1000))), 0);
  assert.is(errno(() => s.bind(s.socket(AF_INET, SOCK_DGRAM, 0), sockaddr("127.9.9.9", 1001))), 0);
  assert.is(errno(() => s.bind(s.socket(AF_INET, SOCK_DGRAM, 0), sockaddr(A_IP, 1002))), 0);
  assert.is(errno(() => s.bind(s.socket(AF_INET, SOCK_DGRAM, 0), sockaddr("198.18.0.9", 1003))), EADDRNOTAVAIL);
});

test("127.0.0.0/8 from the wire is dropped as a bad source or not for us (RFC 1122 §3.2.1.3(g))", () => {
  const { s, host, link } = one();
  const q = s.socket(AF_INET, SOCK_DGRAM, 0);
  s.bind(q, sockaddr("0.0.0.0", 7));
  const b1 = Uint8Array.of(1);
  host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: "127.0.0.1", dst: A_IP, proto: 17 }, udp("127.0.0.1", A_IP, 5, 7, b1))));
  host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: "127.0.0.1", proto: 17 }, udp(HOST_IP, "127.0.0.1", 5, 7, b1))));
  host.send(eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: A_IP, dst: A_IP, proto: 17 }, udp(A_IP, A_IP, 5, 7, b1))));
  link.poll();
  const c = s.counters();
  assert.is(c["drop.ip_bad_source"], 2);
  assert.is(c["drop.ip_not_for_us"], 1);
  assert.is(c["udp.delivered"], 0);
});

test("::1 is ours on a stack with IPv6 off: UDP and TCP over it, nothing on the link", () => {
  const { s, linkFrames } = one();
  const u = s.socket(AF_INET6, SOCK_DGRAM, 0);
  s.bind(u, lo6(53));
  const sga = s.sgaalloc(3);
  s.bytes(sga).set([1, 2, 3]);
  soon(s, s.pushto(u, sga, lo6(53)));
  s.sgafree(sga);
  const r = soon(s, s.pop(u));
  assert.equal([...s.bytes(r.sga!)], [1, 2, 3]);
  assert.equal(r.addr, lo6(53));
  s.sgafree(r.sga!);
  const l = s.socket(AF_INET6, SOCK_STREAM, 0);
  s.bind(l, { addr: 0, port: 80, addr6: new Uint8Array(16) });
  s.listen(l, 4);
  const c = s.socket(AF_INET6, SOCK_STREAM, 0);
  assert.is(soon(s, s.connect(c, lo6(80))).opcode, Opcode.CONNECT);
  assert.equal(s.getpeername(c), lo6(80));
  assert.equal(s.getsockname(c).addr6, lo6(0).addr6);
  assert.is(linkFrames(), 0);
});

test.run();

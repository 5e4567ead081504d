// The loopback link as a device: bytes cross unchanged (whatever their pattern), broadcast
// reaches everyone but the sender, and what cannot be delivered is counted, never lost silently.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sockaddr, AF_INET, AF_INET6, SOCK_DGRAM, type LibOS, type SockAddr } from "../host/libos.js";
import { LoopbackLink } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";
import { pair, stack, mac, eth, arp, hex, A_IP, B_IP, A_MAC, B_MAC } from "./helpers.js";

test("every bit pattern crosses unchanged: signaling NaNs, -0, denormals, random; IPv4 frames and IPv6 frames (4 bytes off the word)", () => {
  const link = new LoopbackLink({ seed: 1 }, new VirtualClock(), true);
  const v6 = (ip: string) => ({ local_ipv6: [`${ip}/64`], "ndp.dad_transmits": 0 });
  const a = stack(link, A_IP, A_MAC, v6("fd00:6::1")), b = stack(link, B_IP, B_MAC, v6("fd00:6::2"));
  bitPatterns(a, b, sockaddr(B_IP, 9), false);
  bitPatterns(a, b, sockaddr("fd00:6::2", 9), true);
});

function bitPatterns(a: LibOS, b: LibOS, to: SockAddr, v6: boolean): void {
  const rx = b.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM); b.bind(rx, to);
  const tx = a.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM);
  const patterns = [[0x00000001, 0x7ff00000], [0xdeadbeef, 0xfff7ffff], [0, 0x80000000], [1, 0], [0xffffffff, 0x7ff7ffff]];
  for (const size of [8, 64, 200, 256, 1000, 1452]) {
    const sga = a.sgaalloc(size);
    const dv = new DataView(a.u8.buffer, sga.buf, size);
    for (let i = 0; i + 8 <= size; i += 8) {
      const [lo, hi] = patterns[(i >> 3) % patterns.length];
      dv.setUint32(i, lo, true); dv.setUint32(i + 4, hi, true);
    }
    const sent = a.u8.slice(sga.buf, sga.buf + size);
    assert.is(a.wait(a.pushto(tx, sga, to)).ret, 0);
    a.sgafree(sga);
    const r = b.wait(b.pop(rx), 100);
    assert.is(hex(b.bytes(r.sga!)), hex(sent), `size ${size}${v6 ? " over IPv6" : ""}`);
    b.sgafree(r.sga!);
  }
}

test("broadcast reaches every other station, not the sender", () => {
  const clock = new VirtualClock();
  const link = new LoopbackLink({}, clock, true);
  const a = stack(link, A_IP, A_MAC);
  const host1 = link.attachRaw(mac("02:00:00:00:00:71"));
  const host2 = link.attachRaw(mac("02:00:00:00:00:72"));
  const req = eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:71", 0x0806, arp(1, "02:00:00:00:00:71", "198.18.0.71", "00:00:00:00:00:00", A_IP));
  host1.send(req);
  link.poll(); link.poll();
  assert.is(host2.take().length, 1, "the other host saw the request");
  assert.equal(host1.take().map((f) => f.length), [60], "only the reply came back to the sender");
  assert.is(a.counters()["arp.replies_sent"], 1);
});

test("frames to unknown MACs, into a full RX ring or with no fill slot are counted", () => {
  const { a, b, link } = pair({}, { "arp.table": { [B_IP]: B_MAC, "198.18.0.3": "02:00:00:00:00:03" } });
  const tx = a.socket();
  const send = (to: string, n: number) => {
    for (let i = 0; i < n; i++) { const s = a.sgaalloc(16); a.wait(a.pushto(tx, s, sockaddr(to, 9))); a.sgafree(s); }
  };
  send("198.18.0.3", 3);
  link.poll();
  assert.is(link.stats.noDestination, 3);
  // B's fill ring holds 512 empty slots: a burst of 600 overflows it before B can refill.
  send(B_IP, 600);
  link.poll();
  assert.is(link.stats.rxNoBuffer, 600 - 512);
  // The stack takes at most 256 frames per poll (its RX budget); the rest wait in the ring.
  assert.is(b.counters()["rx.frames"], 256);
  link.poll();
  assert.is(b.counters()["rx.frames"], 512);
  assert.is(a.poolAvailable(), a.poolSize(), "every sent slot came back to the sender");
});

test.run();

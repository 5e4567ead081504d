// Buffer ownership: sgaalloc/sgafree with reference counts, zero-copy push, and every misuse
// answered with an errno that leaves the pool exactly as it was.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pair, B_IP, errno } from "./helpers.js";
import { sockaddr } from "../host/libos.js";
import { DemiError, EINVAL, EMSGSIZE, ENOMEM } from "../host/errno.js";

test("sizes out of range are EINVAL; 64 KiB comes from the large class", () => {
  const { a } = pair();
  const start = a.poolAvailable();
  assert.is(errno(() => a.sgaalloc(0)), EINVAL);
  assert.is(errno(() => a.sgaalloc(65536 + 4096)), EINVAL);
  assert.is(errno(() => a.sgaalloc(-1)), EINVAL);
  const big = a.sgaalloc(65536);
  a.u8.fill(7, big.buf, big.buf + 65536);
  a.sgafree(big);
  assert.is(a.poolAvailable(), start);
});

test("a double free, a foreign offset and an offset outside any buffer are EINVAL and change nothing", () => {
  const { a } = pair();
  const start = a.poolAvailable();
  const s = a.sgaalloc(100);
  // A pointer into the middle of a live buffer names no buffer: it must not free this one.
  assert.is(errno(() => a.sgafree({ buf: s.buf + 10, len: 1 })), EINVAL);
  assert.is(a.poolAvailable(), start - 1);
  a.sgafree(s);
  assert.is(errno(() => a.sgafree(s)), EINVAL);
  assert.is(errno(() => a.sgafree({ buf: 0, len: 1 })), EINVAL);
  assert.is(errno(() => a.sgafree({ buf: 4096, len: 1 })), EINVAL);
  assert.is(errno(() => a.sgafree({ buf: a.dp.memory.buffer.byteLength - 1, len: 1 })), EINVAL);
  // A buffer sitting in the fill ring belongs to the device, not the application.
  const fillSlot = a.dp.u32[(a.dp.exports.ringFill() >>> 2) + 4];
  assert.is(errno(() => a.sgafree({ buf: fillSlot, len: 1 })), EINVAL);
  assert.is(a.poolAvailable(), start);
});

for (const mtu of [1500, 9000]) {
  test(`exhausting the pool is ENOMEM, and freeing restores every buffer (MTU ${mtu}: frame slots of ${mtu > 2034 ? 9216 : 2176} bytes)`, () => {
    const { a } = pair({}, { mtu, memory_mb: 64 });
    const start = a.poolAvailable();
    const held = [];
    for (;;) {
      try { held.push(a.sgaalloc(1000)); } catch (e) { assert.is((e as DemiError).errno, ENOMEM); break; }
    }
    assert.is(held.length, start - a.rings.fillCount());
    // Frame slots sit one slot size apart (slotOf divides by it), the large ones after them.
    const bufs = held.map((s) => s.buf).sort((x, y) => x - y);
    assert.is(bufs[1] - bufs[0], mtu > 2034 ? 9216 : 2176);
    // Freed in a scrambled order: each must find its own slot again.
    for (let i = 0; i < held.length; i += 2) a.sgafree(held[i]);
    for (let i = 1; i < held.length; i += 2) a.sgafree(held[i]);
    assert.is(a.poolAvailable(), start);
    const frame = a.sgaalloc(mtu + 14 - 2);
    assert.ok(frame.buf < bufs[bufs.length - 1], "a frame of the MTU fits a frame slot");
    a.sgafree(frame);
  });
}

test("push is zero-copy and the buffer outlives sgafree until the link releases it", () => {
  const { a, link } = pair({}, { "arp.table": { [B_IP]: "02:00:00:00:00:02" } });
  const qd = a.socket();
  const start = a.poolAvailable();
  const s = a.sgaalloc(64);
  a.u8.fill(0xab, s.buf, s.buf + 64);
  const qt = a.pushto(qd, s, sockaddr(B_IP, 9));
  assert.is(a.wait(qt).ret, 0);
  // The frame sits in the TX ring, built in the headroom in front of the application's data.
  assert.is(a.rings.txCount(), 1);
  assert.is(a.rings.txOffset(0), s.buf - 42);
  a.sgafree(s);
  assert.is(a.poolAvailable(), start - 1, "still held by the link");
  link.poll();
  assert.is(a.poolAvailable(), start);
});

test("pushing a buffer already in flight copies it, and both frames carry the same bytes", () => {
  const { a, b } = pair({}, { "arp.table": { [B_IP]: "02:00:00:00:00:02" } });
  const qd = a.socket();
  const rx = b.socket();
  b.bind(rx, sockaddr(B_IP, 9));
  const s = a.sgaalloc(32);
  a.u8.fill(0x5a, s.buf, s.buf + 32);
  a.wait(a.pushto(qd, s, sockaddr(B_IP, 9)));
  a.wait(a.pushto(qd, s, sockaddr(B_IP, 9)));
  assert.is(a.rings.txCount(), 2);
  assert.is.not(a.rings.txOffset(1), s.buf - 42);
  a.sgafree(s);
  for (let i = 0; i < 2; i++) {
    const r = b.wait(b.pop(rx));
    assert.equal([...b.bytes(r.sga!)], new Array(32).fill(0x5a));
    b.sgafree(r.sga!);
  }
});

test("push refuses an sga it does not own or that overruns its buffer", () => {
  const { a } = pair();
  const qd = a.socket();
  const start = a.poolAvailable();
  const s = a.sgaalloc(100);
  assert.is(errno(() => a.pushto(qd, { buf: s.buf, len: 3000 }, sockaddr(B_IP, 9))), EINVAL);
  assert.is(errno(() => a.pushto(qd, { buf: 64, len: 10 }, sockaddr(B_IP, 9))), EINVAL);
  assert.is(errno(() => a.pushto(qd, { buf: s.buf, len: 65508 }, sockaddr(B_IP, 9))), EMSGSIZE);
  a.sgafree(s);
  assert.is(errno(() => a.pushto(qd, s, sockaddr(B_IP, 9))), EINVAL);
  assert.is(a.poolAvailable(), start);
});

test.run();

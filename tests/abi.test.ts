// The boundary's layouts are pinned, as Demikernel pins its C structs with size tests.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { COUNTER_NAMES } from "../host/counters.js";
import { RESULT_SIZE } from "../host/abi.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { withHost } from "./helpers.js";
import { EBADF, EINVAL, EAFNOSUPPORT } from "../host/errno.js";

test("the host names exactly the datapath's counters", () => {
  const { s } = withHost();
  assert.is(s.dp.exports.countersLen(), COUNTER_NAMES.length);
  assert.is(new Set(COUNTER_NAMES).size, COUNTER_NAMES.length);
});

test("the result block is 56 bytes (IPv6 peers included) and fits before the scratch area", () => {
  const { s } = withHost();
  assert.is(RESULT_SIZE, 56);
  assert.ok(s.dp.exports.scratchPtr() - s.dp.exports.resultPtr() >= RESULT_SIZE);
});

test("the pool region is 64 KiB aligned, inside memory, after every table and before the TCP buffer memory, which ends inside memory", () => {
  const { s } = withHost();
  const { base, bytes } = s.poolRegion();
  assert.is(base % 65536, 0);
  assert.is(bytes % 65536, 0);
  const top = s.dp.exports.layoutTop();
  assert.ok(top >= base + bytes + s.dp.exports.tcpBufferBytesFree(), "the TCP buffer memory lies after the pool");
  assert.ok(top <= s.dp.memory.buffer.byteLength);
});

test("the only imports are the memory and the random source", () => {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(wasm("datapath.wasm")));
  assert.equal(imports.map((i) => `${i.module}.${i.name}:${i.kind}`).sort(), ["env.memory:memory", "env.random_u32:function"]);
});

test("test hooks are in the debug build only", () => {
  const names = (f: string) => WebAssembly.Module.exports(new WebAssembly.Module(wasm(f))).map((e) => e.name);
  const release = names("datapath.wasm"), debug = names("datapath.debug.wasm");
  assert.not.ok(release.includes("wireRoundTrip"));
  assert.ok(debug.includes("wireRoundTrip"));
  assert.equal(release.filter((n) => !debug.includes(n)), [], "the debug build exports the whole release API");
});

test("every export errs by one rule: a positive errno where 0 is success, its negation where a value is", () => {
  const { s } = withHost();
  const x = s.dp.exports, bad = 9999;
  // Status exports: 0 or a positive errno.
  assert.equal([x.bind(bad, 0, 7), x.listen(bad, 1), x.close(bad), x.shutdown(bad), x.setsockopt(bad, 1, 1),
                x.sockname(bad, 0), x.tcpInfo(bad), x.take(bad), x.cancel(bad), x.sgafree(64), x.configure(999, 0)],
               [EBADF, EBADF, EBADF, EBADF, EBADF, EBADF, EBADF, EINVAL, EINVAL, EINVAL, EINVAL]);
  // Value exports (a qd, a qtoken, a pointer, an option's value, a flag): the value or -errno.
  assert.equal([x.accept(bad), x.connect(bad, 1, 7), x.pushto(bad, 0, 1, 1, 7), x.pop(bad), x.getsockopt(bad, 1),
                x.done(bad), x.sgaalloc(0), x.socket(99, 2, 0)],
               [-EBADF, -EBADF, -EBADF, -EBADF, -EBADF, -EINVAL, -EINVAL, -EAFNOSUPPORT]);
});

function wasm(file: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(fileURLToPath(new URL(`../../build/${file}`, import.meta.url)))) as Uint8Array<ArrayBuffer>;
}

test.run();

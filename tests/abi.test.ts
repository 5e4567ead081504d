// The boundary's layouts are pinned, as Demikernel pins its C structs with size tests.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { COUNTER_NAMES } from "../host/counters.js";
import { RESULT_SIZE } from "../host/abi.js";
import { withHost } from "./helpers.js";

test("the host names exactly the datapath's counters", () => {
  const { s } = withHost();
  assert.is(s.dp.exports.countersLen(), COUNTER_NAMES.length);
  assert.is(new Set(COUNTER_NAMES).size, COUNTER_NAMES.length);
});

test("the result block is 36 bytes and fits before the scratch area", () => {
  const { s } = withHost();
  assert.is(RESULT_SIZE, 36);
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
  const { s } = withHost();
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(new Uint8Array(require_wasm())));
  assert.equal(imports.map((i) => `${i.module}.${i.name}:${i.kind}`).sort(), ["env.memory:memory", "env.random_u32:function"]);
  assert.ok(s);
});

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
function require_wasm(): Buffer {
  return readFileSync(fileURLToPath(new URL("../../build/datapath.wasm", import.meta.url)));
}

test.run();

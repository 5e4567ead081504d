// The native bridge is optional: without its libraries the install still succeeds, and choosing
// the backend is one line naming the Debian packages.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtempSync, mkdirSync, copyFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";

const script = fileURLToPath(new URL("../../scripts/build-native.mjs", import.meta.url));
const open = fileURLToPath(new URL("../host/open.js", import.meta.url));
const config = fileURLToPath(new URL("../host/config.js", import.meta.url));

test("without a toolchain or libfabric the native build step says so and still succeeds", () => {
  // A copy in a scratch directory: node-gyp rebuild starts by removing the build it replaces.
  const tmp = mkdtempSync(join(tmpdir(), "demiwasm-native-"));
  mkdirSync(join(tmp, "scripts"));
  mkdirSync(join(tmp, "native"));
  copyFileSync(script, join(tmp, "scripts", "build-native.mjs"));
  for (const f of ["binding.gyp", "posix.c", "fabric.c", "napi_util.h"]) copyFileSync(join(dirname(script), "..", "native", f), join(tmp, "native", f));
  mkdirSync(join(tmp, "native", "nf"));
  for (const f of ["maps.h", "samples.h", "samples.c", "napi.c"]) copyFileSync(join(dirname(script), "..", "native", "nf", f), join(tmp, "native", "nf", f));
  mkdirSync(join(tmp, "native", "dpdk"));
  for (const f of ["dpdk.h", "napi.c", "port.c", "wasm_pool.c", "bench.c"]) copyFileSync(join(dirname(script), "..", "native", "dpdk", f), join(tmp, "native", "dpdk", f));
  const r = spawnSync(process.execPath, [join(tmp, "scripts", "build-native.mjs")], { encoding: "utf8", env: { PATH: "/nonexistent" } });
  rmSync(tmp, { recursive: true, force: true });
  assert.is(r.status, 0);
  assert.match(r.stdout, /demiwasm: (the native bridge did not build|libfabric not found)/);
});

for (const [backend, packages] of [["fabric", "libfabric-dev libfabric-bin"], ["dpdk", "dpdk libdpdk-dev"]]) {
  test(`choosing the ${backend} backend without the bridge is one line naming the packages`, () => {
    const code = `import { openLibOS } from ${JSON.stringify(open)}; import { loadConfig } from ${JSON.stringify(config)};
      try { openLibOS(loadConfig({ env: { DEMIWASM_BACKEND: "${backend}" } })); } catch (e) { console.log(e.message); }`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", env: { ...process.env, DEMIWASM_NATIVE_DIR: "/nonexistent" } });
    const lines = r.stdout.trim().split("\n");
    assert.is(lines.length, 1, r.stdout + r.stderr);
    assert.match(lines[0], new RegExp(`^demiwasm: backend '${backend}' is not available: .*apt-get install ${packages}`));
  });
}

test.run();

#!/usr/bin/env node
// Builds the native bridge: its posix part needs only a C toolchain, its fabric part libfabric,
// its dpdk part DPDK (binding.gyp adds each when pkg-config finds the library). Never fails the
// install: a backend whose part did not build says, when chosen, what to install.
// The dpdk part is compiled with -mno-mmx: DPDK's -march=corei7 lets GCC move 8-byte structs
// through MMX registers without EMMS, which leaves the x87 stack full and makes V8's next
// floating-point step (a hash table resize in its GC) compute garbage and abort.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const hasFabric = spawnSync("pkg-config", ["--exists", "libfabric"]).status === 0;
const hasDpdk = spawnSync("pkg-config", ["--exists", "libdpdk"]).status === 0;
// npm names its own node-gyp to lifecycle scripts (npm_config_node_gyp); a global npm has one too.
const gyp = [process.env.npm_config_node_gyp, "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"]
  .find((p) => p && existsSync(p));
const args = ["rebuild", "--loglevel=error", "--directory", `${root}native`];
// Node's headers: Debian's /usr/include/node when present (N-API is ABI-stable, so headers of
// another Node build a module every Node >= 20 loads); otherwise node-gyp finds its own.
if (existsSync("/usr/include/node/node_api.h")) args.push("--nodedir=/usr");
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" })
  : spawnSync("npx", ["--no-install", "node-gyp", ...args], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
const stderr = (r.stderr ?? "") + (r.error ? String(r.error) : "");
process.stderr.write(stderr);
// What happened, for the one line a backend says when it is chosen (host/native.ts reads it).
const why = r.status === 0 ? null
  : !gyp && /not found|could not determine|ENOENT/i.test(stderr) ? "node-gyp was not found (npm ships it; run the install through npm)"
  : /(gcc|cc|make|g\+\+|python3?)\b.*(not found|No such file)|not found: (make|python)|Could not find any Python/i.test(stderr) ? "no C toolchain (apt-get install build-essential python3)"
  : /node_api\.h|common\.gypi|nodedir/i.test(stderr) ? "Node's headers were not found (apt-get install libnode-dev, or let node-gyp fetch them)"
  : (stderr.split("\n").find((l) => /error/i.test(l)) ?? `node-gyp exited ${r.status}`).trim();
const parts = r.status === 0 ? ["posix", hasFabric && "fabric", hasDpdk && "dpdk"].filter(Boolean) : [];
mkdirSync(`${root}native/build`, { recursive: true });
writeFileSync(`${root}native/build/demiwasm-build.json`, JSON.stringify({ at: new Date().toISOString(), node: process.version, parts, why }) + "\n");
if (r.status !== 0) {
  console.log(`demiwasm: the native bridge did not build (${why}): the posix, fabric and dpdk backends are not available`);
} else {
  console.log(`demiwasm: built the native bridge (${parts.join(", ")})`);
  if (!hasFabric) console.log("demiwasm: libfabric not found (apt-get install libfabric-dev pkg-config): the fabric backend is not built");
  if (!hasDpdk) console.log("demiwasm: DPDK not found (apt-get install dpdk libdpdk-dev pkg-config): the dpdk backend is not built");
}

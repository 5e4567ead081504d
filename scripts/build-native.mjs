#!/usr/bin/env node
// Builds the native bridge: its posix part needs only a C toolchain, its fabric part libfabric,
// its dpdk part DPDK (binding.gyp adds each when pkg-config finds the library). Never fails the
// install: a backend whose part did not build says, when chosen, what to install.
// The dpdk part is compiled with -mno-mmx: DPDK's -march=corei7 lets GCC move 8-byte structs
// through MMX registers without EMMS, which leaves the x87 stack full and makes V8's next
// floating-point step (a hash table resize in its GC) compute garbage and abort.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const hasFabric = spawnSync("pkg-config", ["--exists", "libfabric"]).status === 0;
const hasDpdk = spawnSync("pkg-config", ["--exists", "libdpdk"]).status === 0;
const gyp = [process.env.npm_config_node_gyp, "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"]
  .find((p) => p && existsSync(p));
const args = ["rebuild", "--loglevel=error", "--directory", `${root}native`];
if (existsSync("/usr/include/node/node_api.h")) args.push("--nodedir=/usr");
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { stdio: ["ignore", "ignore", "inherit"] })
  : spawnSync("npx", ["--no-install", "node-gyp", ...args], { stdio: ["ignore", "ignore", "inherit"] });
if (r.status !== 0) {
  console.log("demiwasm: the native bridge did not build (see above): the posix, fabric and dpdk backends are not available");
} else {
  const parts = ["posix", hasFabric && "fabric", hasDpdk && "dpdk"].filter(Boolean);
  console.log(`demiwasm: built the native bridge (${parts.join(", ")})`);
  if (!hasFabric) console.log("demiwasm: libfabric not found (apt-get install libfabric-dev pkg-config): the fabric backend is not built");
  if (!hasDpdk) console.log("demiwasm: DPDK not found (apt-get install dpdk libdpdk-dev pkg-config): the dpdk backend is not built");
}

#!/usr/bin/env node
// Builds the optional native bridge when its system libraries are present. Never fails the
// install: without them, choosing the backend later says which Debian packages to install.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const has = (pkg) => spawnSync("pkg-config", ["--exists", pkg]).status === 0;

if (!has("libfabric")) {
  console.log("demiwasm: libfabric not found (apt-get install libfabric-dev pkg-config): the fabric backend is not built");
  process.exit(0);
}
const gyp = [process.env.npm_config_node_gyp, "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"]
  .find((p) => p && existsSync(p));
const args = ["rebuild", "--loglevel=error", "--directory", `${root}native`];
if (existsSync("/usr/include/node/node_api.h")) args.push("--nodedir=/usr");
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { stdio: ["ignore", "ignore", "inherit"] })
  : spawnSync("npx", ["--no-install", "node-gyp", ...args], { stdio: ["ignore", "ignore", "inherit"] });
if (r.status !== 0) console.log("demiwasm: the native bridge did not build (see above); the fabric backend is not available");
else console.log("demiwasm: built the native bridge (fabric backend)");

#!/usr/bin/env node
// Runs every compiled uvu suite (dist/tests/*.test.js), each in its own process so one suite's
// crash cannot hide another's results, and ends with the plain line "N passed, N failed".
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = join(root, "dist", "tests");
const only = process.argv.slice(2);
const suites = readdirSync(dir)
  .filter((f) => f.endsWith(".test.js"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

// DEMIWASM_TEST_NODES="node20 node26 node24=net,http" runs every suite on each Node binary, or
// only the suites named after "=" (CI runs the whole suite on the machine's Node and the active
// LTS, the Node-facing suites on the maintenance lines); the closing line counts them all.
const nodes = (process.env.DEMIWASM_TEST_NODES ?? "").split(/\s+/).filter(Boolean).map((entry) => {
  const [path, subset] = entry.split("=");
  return { path, subset: subset ? subset.split(",") : null };
});
if (nodes.length === 0) nodes.push({ path: process.execPath, subset: null });

let passed = 0;
let failed = 0;
for (const { path: node, subset } of nodes) {
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
  if (nodes.length > 1) process.stdout.write(`\n== Node ${version} (${node})${subset ? ` suites ${subset.join(", ")}` : ""}\n`);
  for (const suite of suites) {
    if (subset !== null && !subset.includes(suite.replace(/\.test\.js$/, ""))) continue;
    const r = spawnSync(node, [join(dir, suite)], {
      cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", PATH: `${dirname(node)}:${process.env.PATH}` },
      timeout: 20 * 60 * 1000,
    });
    const out = (r.stdout ?? "") + (r.stderr ?? "");
    const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
    const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
    const name = `${suite.replace(/\.test\.js$/, "")}${nodes.length > 1 ? ` (${version})` : ""}`;
    if (Number.isNaN(total) || Number.isNaN(ok)) {
      // The suite died before uvu could report: count it as one failure and show why.
      failed++;
      process.stdout.write(`✘ ${name}: no result (exit ${r.status}, signal ${r.signal})\n${out}\n`);
      continue;
    }
    passed += ok;
    failed += total - ok;
    const mark = total === ok && r.status === 0 ? "✔" : "✘";
    process.stdout.write(`${mark} ${name}: ${ok}/${total}\n`);
    if (total !== ok || r.status !== 0) {
      process.stdout.write(out + "\n");
      if (total === ok) failed++; // passed every test but exited non-zero
    }
  }
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);

#!/usr/bin/env node
// Builds the NF side: the map engine (build/nf/maps.wasm), the AssemblyScript sample NFs
// (build/nf/<name>.wasm) and, when clang can target wasm32-wasi, the C sample
// (build/nf/portblock.wasm; apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "build", "nf");
mkdirSync(out, { recursive: true });
const asc = join(root, "node_modules", "assemblyscript", "bin", "asc.js");
// Their own asconfig, so the datapath's (bindings, memory sizes) does not apply.
const common = [...(process.env.NF_DEBUG ? ["--debug"] : []), "--config", "assembly/nf/asconfig.json", "-O3", "--runtime", "stub", "--importMemory", "--noAssert", "--use", "abort="];

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) { console.error(`demiwasm: ${cmd} ${args.join(" ")} failed`); process.exit(1); }
}

run(process.execPath, [asc, "assembly/nf/maps.ts", "--outFile", join(out, "maps.wasm"), ...common, "--initialMemory", "1"]);
for (const f of readdirSync(join(root, "assembly", "nf", "samples")).filter((f) => f.endsWith(".ts"))) {
  run(process.execPath, [asc, `assembly/nf/samples/${f}`, "--outFile", join(out, f.replace(/\.ts$/, ".wasm")), ...common, "--initialMemory", "2"]);
}

const clang = ["clang-14", "clang"].find((c) => spawnSync(c, ["--version"]).status === 0);
const cArgs = ["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-nostartfiles", "-Wl,--no-entry", "-Wl,--import-memory",
  "-Wl,--export=nf_area", "-Wl,--export=nf_init", "-Wl,--export=nf_process", "-I", "nf/c", "-o", join(out, "portblock.wasm"), "nf/c/portblock.c"];
if (clang && spawnSync(clang, cArgs, { cwd: root, stdio: ["ignore", "ignore", "pipe"] }).status === 0) {
  console.log("demiwasm: built the NF map engine, the AssemblyScript samples and the C sample");
} else {
  console.log("demiwasm: built the NF map engine and the AssemblyScript samples; the C sample needs clang for wasm32-wasi " +
    "(apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)");
}

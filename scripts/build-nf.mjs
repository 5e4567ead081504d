#!/usr/bin/env node
// Builds the NF side: the map engine (build/nf/maps.wasm), the AssemblyScript sample NFs
// (build/nf/<name>.wasm; a sample with a C twin of the same name as <name>-as.wasm) and, when the
// toolchains are here, the C sample (build/nf/portblock.wasm; apt-get install clang lld wasi-libc
// libclang-rt-14-dev-wasm32), with the same clang bench nf's C baselines as one Wasm NF
// (build/nf/baseline.wasm), and the Rust sample (build/nf/portblock-rs.wasm; apt-get install
// rustc libstd-rust-dev-wasm32). NF_DEBUG=1 keeps function names (for profiles).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
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
  const name = f.replace(/\.ts$/, "");
  const file = existsSync(join(root, "nf", "c", `${name}.c`)) ? `${name}-as.wasm` : `${name}.wasm`;
  run(process.execPath, [asc, `assembly/nf/samples/${f}`, "--outFile", join(out, file), ...common, "--initialMemory", "2"]);
}
const built = ["the NF map engine", "the AssemblyScript samples"], missing = [];

const clang = ["clang-14", "clang"].find((c) => spawnSync(c, ["--version"]).status === 0);
const cArgs = ["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-nostartfiles", "-Wl,--no-entry", "-Wl,--import-memory",
  "-Wl,--export=nf_area", "-Wl,--export=nf_init", "-Wl,--export=nf_process", "-I", "nf/c", "-o", join(out, "portblock.wasm"), "nf/c/portblock.c"];
if (clang && spawnSync(clang, cArgs, { cwd: root, stdio: ["ignore", "ignore", "pipe"] }).status === 0) built.push("the C sample");
else missing.push("the C sample needs clang for wasm32-wasi (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)");
// bench nf's native baselines as one Wasm NF (native/nf/wasm.c): the same C, through the engine.
const bArgs = ["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-nostartfiles", "-Wl,--no-entry", "-Wl,--import-memory",
  "-o", join(out, "baseline.wasm"), "native/nf/wasm.c", "native/nf/samples.c"];
if (clang && spawnSync(clang, bArgs, { cwd: root, stdio: ["ignore", "ignore", "inherit"] }).status === 0) built.push("the C baselines as Wasm");

// Debian's rustc first (its wasm32 standard library is a package); another rustc on PATH when
// its sysroot has the wasm32-unknown-unknown target.
const hasWasm32 = (rustc) => {
  const r = spawnSync(rustc, ["--print", "sysroot"], { encoding: "utf8" });
  return r.status === 0 && existsSync(join(r.stdout.trim(), "lib", "rustlib", "wasm32-unknown-unknown"));
};
const rustc = ["/usr/bin/rustc", "rustc"].find(hasWasm32);
const rsArgs = ["--edition", "2021", "--target", "wasm32-unknown-unknown", "--crate-type", "cdylib", "-O", "-C", "panic=abort",
  "-C", "debuginfo=0", "-C", "strip=symbols", "-C", "link-arg=--import-memory", "-C", "link-arg=-zstack-size=65536", "-o", join(out, "portblock-rs.wasm"), "nf/rust/portblock.rs"];
if (rustc && spawnSync(rustc, rsArgs, { cwd: root, stdio: ["ignore", "ignore", "inherit"] }).status === 0) built.push("the Rust sample");
else missing.push("the Rust sample needs rustc for wasm32 (apt-get install rustc libstd-rust-dev-wasm32)");

console.log(`demiwasm: built ${built.join(", ")}${missing.map((m) => `; ${m}`).join("")}`);

// The package as a new user gets it: `npm pack`, `npm install` of the tarball into a fresh
// project (its install script builds the native bridge), then import it, echo a datagram on the
// posix backend, run the README's NF example, and check that `import "demiwasm"` leaves binaryen
// unloaded. And installed with --ignore-scripts: choosing posix says why in one line.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "demiwasm-pkg-"));

function sh(cmd: string, args: string[], cwd: string, timeout = 300_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout, env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" } });
  return { code: r.status, out: r.stdout ?? "", err: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

/** A fresh project with the packed tarball installed (extra npm flags as given). */
function project(name: string, tarball: string, flags: string[] = []): string {
  const dir = join(work, name);
  sh("mkdir", ["-p", dir], work);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, type: "module" }));
  const r = sh("npm", ["install", ...flags, tarball], dir);
  assert.is(r.code, 0, r.out + r.err);
  return dir;
}

function node(dir: string, file: string, code: string, args: string[] = []) {
  writeFileSync(join(dir, file), code);
  return sh(process.execPath, [...args, file], dir, 120_000);
}

let tarball = "";

test("npm pack makes a tarball with the built parts and the native sources", () => {
  // --ignore-scripts: the build ran already (npm test builds first); prepare would rebuild it.
  const r = sh("npm", ["pack", "--ignore-scripts", "--pack-destination", work], root);
  assert.is(r.code, 0, r.err);
  tarball = join(work, readdirSync(work).find((f) => f.endsWith(".tgz"))!);
  const list = sh("tar", ["tzf", tarball], work).out.split("\n");
  for (const f of ["package/dist/host/index.js", "package/dist/host/nf/index.js", "package/build/datapath.wasm", "package/build/nf/maps.wasm",
                   "package/build/nf/firewall.wasm", "package/native/binding.gyp", "package/native/watch.c", "package/native/nf/napi.c",
                   "package/scripts/build-native.mjs", "package/nf/examples/firewall.yaml"]) {
    assert.ok(list.includes(f), `${f} is in the tarball`);
  }
  assert.not.ok(list.some((f) => f.startsWith("package/dist/tests/")), "no tests in the tarball");
});

test("installed as a dependency: the install script builds the bridge; posix echoes a datagram through stack.dgram", () => {
  const dir = project("app", tarball);
  const status = JSON.parse(readFileSync(join(dir, "node_modules/demiwasm/native/build/demiwasm-build.json"), "utf8"));
  assert.ok(status.parts.includes("posix"), JSON.stringify(status));
  const r = node(dir, "echo.mjs", `
    import { openStack, loadConfig } from "demiwasm";
    const stack = openStack(loadConfig({ overrides: { backend: "posix" } }));
    const server = stack.dgram.createSocket("udp4", (m, r) => server.send(m, r.port, r.address));
    server.bind(0, "127.0.0.1", () => {
      const c = stack.dgram.createSocket("udp4", async (m) => { console.log("echo: " + m); await stack.close(); });
      c.send("hello", server.address().port, "127.0.0.1");
    });`);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, "echo: hello\n");
  // The README's NF example, as printed there.
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const example = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes("demiwasm/nf"));
  assert.ok(example, "the README has the NF example");
  const nf = node(dir, "nf-example.mjs", example!);
  assert.is(nf.code, 0, nf.err);
  const lines = nf.out.split("\n");
  assert.is(lines[0], "port 7 got 10, port 9 got 0");
  // The firewall saw the 20 datagrams and the client's broadcast ARP requests (one, or two when
  // the retry timer, started from the clock of the stack's last turn, fires early), passed the
  // ARP and port 7, dropped the 10 to port 9.
  const fw = /^firewall\s+(\d+)\s+(\d+)\s+(\d+)\s/m.exec(nf.out);
  assert.ok(fw, nf.out);
  const [fwIn, fwPassed, fwDropped] = fw!.slice(1).map(Number);
  assert.is(fwDropped, 10);
  assert.is(fwIn, fwPassed + fwDropped);
  assert.ok(fwIn === 21 || fwIn === 22, nf.out);
  assert.ok(lines.includes("port 7 got 20, port 9 got 10"), nf.out);
  // import "demiwasm" (and opening a stack) loads no binaryen; "demiwasm/nf" does.
  const hook = `export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes("binaryen")) process.stderr.write("binaryen loaded\\n"); return r; }`;
  writeFileSync(join(dir, "hook.mjs"), hook);
  const reg = ["--import", `data:text/javascript,import { register } from "node:module"; register(${JSON.stringify("./hook.mjs")}, ${JSON.stringify(`file://${dir}/`)});`];
  const plain = node(dir, "plain.mjs", `import { openStack, loadConfig } from "demiwasm"; await openStack(loadConfig({})).close(); console.log("ok");`, reg);
  assert.is(plain.out, "ok\n", plain.err);
  assert.not.match(plain.err, "binaryen loaded");
  const withNf = node(dir, "withnf.mjs", `import "demiwasm/nf"; console.log("ok");`, reg);
  assert.match(withNf.err, "binaryen loaded");
});

test("installed with --ignore-scripts: choosing posix is one line saying the install script did not run", () => {
  const dir = project("noscripts", tarball, ["--ignore-scripts"]);
  const r = node(dir, "open.mjs", `import { openLibOS, loadConfig } from "demiwasm";
    try { openLibOS(loadConfig({ overrides: { backend: "posix" } })); } catch (e) { console.log(e.message); }`);
  const lines = r.out.trim().split("\n");
  assert.is(lines.length, 1, r.out + r.err);
  assert.match(lines[0], /^demiwasm: backend 'posix' is not available: the native bridge was never built: npm did not run demiwasm's install script/);
});

test.after(() => rmSync(work, { recursive: true, force: true }));

test.run();

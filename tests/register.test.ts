// demiwasm/register: unmodified programs run under `node --import demiwasm/register`, each in
// its own process on one Wasm stack (the in-memory backend): Node's builtins (http server and
// the fetch client, net by its ESM named exports, dgram) move onto the stack, and IPC paths stay
// on the kernel.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Runs `script` under the register hook from the package's root; its last stdout line as JSON. */
function run(script: string, env: Record<string, string> = {}): Record<string, unknown> {
  const r = spawnSync(process.execPath, ["--import", "demiwasm/register", script], {
    cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env },
  });
  assert.is(r.status, 0, `exit ${r.status} ${r.signal ?? ""}\n${r.stdout}\n${r.stderr}`);
  const last = r.stdout.trim().split("\n").pop()!;
  return JSON.parse(last) as Record<string, unknown>;
}

test("builtins move onto the stack: http + fetch (IPv4 and ::1), net by ESM named export, dgram to itself", () => {
  const out = run(join(root, "tests/fixtures/register/builtins.mjs"));
  assert.is(out.fetch, "hello /x");
  assert.is(out.fetch6, "hello /y");
  assert.is(out.net, "ping");
  assert.is(out.isSocket, true, "the socket is an instance of the net.Socket the program imported");
  assert.is(out.dgram, "dgram");
  // Every exchange went through the stack's loopback interface: the kernel has no such listeners.
  assert.ok((out.looped as number) > 20, `loop.frames ${out.looped}`);
});

test("npm libraries unmodified on the stack: express 5 + fetch, fastify 5, ws 8, ioredis against the kv example, autocannon as load", () => {
  const out = run(join(root, "tests/fixtures/register/libraries.mjs"));
  assert.equal(out.express, { hello: "stack" });
  const load = out.autocannon as { requests: number; non2xx: number; errors: number; timeouts: number };
  assert.ok(load.requests > 0, "autocannon's requests were answered");
  assert.equal([load.non2xx, load.errors, load.timeouts], [0, 0, 0]);
  assert.equal(out.fastify, { sum: 42 });
  assert.is(out.ws, "echo over the stack");
  assert.is(out.redis, "v on the stack");
  assert.ok((out.looped as number) > load.requests, "the load went through the stack's loopback interface");
});

test("https and tls on the stack: an https server, Node's https client and a raw tls client (TLS over the stack's sockets)", () => {
  const dir = mkdtempSync(join(tmpdir(), "dw-register-tls-"));
  try {
    const key = join(dir, "key.pem"), cert = join(dir, "cert.pem");
    const gen = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"], { encoding: "utf8" });
    assert.is(gen.status, 0, `openssl: ${gen.stderr}`);
    const out = run(join(root, "tests/fixtures/register/https.mjs"), { KEY: key, CERT: cert });
    assert.is(out.https, "secure /x");
    assert.is(out.protocol, "TLSv1.3");
    assert.is(out.raw, "secure /raw");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("IPC paths stay on the kernel; TCP beside them is the stack's", () => {
  const dir = mkdtempSync(join(tmpdir(), "dw-register-"));
  try {
    const script = join(dir, "ipc.mjs");
    writeFileSync(script, `
      import net from "node:net";
      const path = ${JSON.stringify(join(dir, "s.sock"))};
      const ipc = net.createServer((s) => s.end("over ipc"));
      await new Promise((r) => ipc.listen(path, r));
      const c = net.connect(path);
      let got = "";
      for await (const d of c) got += d;
      ipc.close();
      const tcp = net.createServer((s) => s.end("over the stack"));
      await new Promise((r) => tcp.listen(0, r));
      const t = net.connect(tcp.address().port);
      let got2 = "";
      for await (const d of t) got2 += d;
      tcp.close();
      const { stack } = await import(${JSON.stringify(pathToFileURL(join(root, "dist/host/stack/register.js")).href)});
      console.log(JSON.stringify({ got, got2, kernelSocket: c instanceof net.Socket && !(c instanceof stack.net.Socket), looped: stack.libos.counters()["loop.frames"] }));
    `);
    const out = run(script);
    assert.is(out.got, "over ipc");
    assert.is(out.got2, "over the stack");
    assert.is(out.kernelSocket, true, "the IPC socket is Node's own (and still a net.Socket), not the stack's");
    assert.ok((out.looped as number) > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the config comes from DEMIWASM_* variables: a bad value is one clear error line, not a hang", () => {
  const r = spawnSync(process.execPath, ["--import", "demiwasm/register", "-e", "console.log('ran')"], {
    cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, DEMIWASM_MTU: "12" },
  });
  assert.not.equal(r.status, 0);
  assert.not.ok(r.stdout.includes("ran"));
  assert.match(r.stderr, /mtu/);
});

test.run();

// The event-loop driver: an idle stack sleeps (adaptive), a busy one spins (busy), the process
// lives exactly as long as a ref'd handle asks, and the CLI's servers idle on it too.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PAIRS, wasmPair } from "./stack.helpers.js";
import { freePorts } from "../host/freeport.js";
import type { LibOS } from "../host/libos.js";

const cli = fileURLToPath(new URL("../host/cli.js", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const [kind, make] of PAIRS) {
  test(`${kind}: adaptive: a listening idle server sleeps (a handful of turns in 400 ms), and wakes for a client`, async () => {
    const p = make();
    const server = p.a.net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => server.listen(0, p.serverIp, r));
    const port = (server.address() as { port: number }).port;
    await sleep(50);                                   // past the spin after listen
    const t0 = p.a.driver.turns;
    await sleep(400);
    const idleTurns = p.a.driver.turns - t0;
    assert.ok(idleTurns <= 5, `${idleTurns} turns while idle`);
    assert.ok(p.a.driver.sleeps > 0);
    const c = p.b.net.connect(port, p.serverIp);
    const echo = await new Promise<string>((r) => { c.once("connect", () => c.write("wake")); c.once("data", (d) => r(d.toString())); });
    assert.is(echo, "wake");
    c.destroy();
    server.close();
    await p.close();
  });
}

test("wasm: the first calls after a long sleep count time from the call, not from the last turn: no spurious retransmission", async () => {
  const p = wasmPair({ "tcp.rto_initial_ms": 200 });          // ARP retries after 200 ms too
  const server = p.a.net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, p.serverIp, r));
  const port = (server.address() as { port: number }).port;
  await sleep(600);                                  // both drivers asleep, their clocks 600 ms old
  assert.ok(p.b.driver.sleeps > 0);
  const c = p.b.net.connect(port, p.serverIp);       // ARP, then the SYN: each armed a timer of 200 ms
  try {
    await new Promise<void>((r) => c.once("connect", () => r()));
    const k = (p.b.libos as LibOS).counters();
    assert.equal([k["tcp.retransmits"], k["arp.requests_sent"]], [0, 1], "one ARP request, one SYN");
  } finally {
    c.destroy();
    server.close();
    await p.close();
  }
});

test("wasm: busy mode turns on every event-loop iteration, idle or not", async () => {
  const p = wasmPair({ "poll.mode": "busy" });
  const server = p.a.net.createServer();
  await new Promise<void>((r) => server.listen(0, p.serverIp, r));
  const t0 = p.a.driver.turns;
  await sleep(200);
  assert.ok(p.a.driver.turns - t0 > 200, `${p.a.driver.turns - t0} turns`);
  assert.is(p.a.driver.sleeps, 0);
  server.close();
  await p.close();
});

test("wasm: an unref'd server does not keep the process alive; a ref'd one does", async () => {
  const script = (unref: boolean) => `
    import { wasmPair } from ${JSON.stringify(new URL("./stack.helpers.js", import.meta.url).href)};
    const p = wasmPair();
    const s = p.a.net.createServer();
    s.listen(80, p.serverIp, () => { ${unref ? "s.unref();" : ""} console.log("listening"); });
    setTimeout(() => { console.log("still here"); process.exit(0); }, 500).unref();`;
  const run = (unref: boolean) => new Promise<string>((resolve) => {
    const c = spawn(process.execPath, ["--input-type=module", "-e", script(unref)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (d) => { out += d; });
    c.once("exit", () => resolve(out));
  });
  assert.is(await run(true), "listening\n");
  assert.is(await run(false), "listening\nstill here\n");
});

/** Percent of a core process `pid` used over `ms` (utime + stime from /proc). */
async function cpuOf(pid: number, ms: number): Promise<number> {
  const ticks = () => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return Number(f[11]) + Number(f[12]); };
  const t0 = ticks();
  await sleep(ms);
  return ((ticks() - t0) / 100) / (ms / 1000) * 100;        // USER_HZ is 100 on Linux
}

for (const [name, args] of [
  ["kv --backend posix", ["kv", "--backend", "posix", "--address", "127.0.0.1", "--port", "PORT"]],
  ["tcp-echo --peer server --backend posix", ["tcp-echo", "--backend", "posix", "--peer", "server", "--address", "127.0.0.1:PORT"]],
  ["http-serve --backend posix", ["http-serve", "--backend", "posix", "--port", "PORT"]],
] as [string, string[]][]) {
  test(`CLI ${name} idles on the driver (under 10% of a core over 1.5 s) and stops on SIGTERM`, async () => {
    const [port] = await freePorts(1);
    const child = spawn(process.execPath, [cli, ...args.map((a) => a.replace("PORT", String(port)))], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    for (let i = 0; i < 200 && !/listening|server on/.test(out); i++) await sleep(25);
    assert.match(out, /listening|server on/);
    await sleep(300);
    const pct = await cpuOf(child.pid!, 1500);
    child.kill("SIGTERM");
    assert.is(await exited, 0);
    assert.ok(pct < 10, `${pct.toFixed(1)}% of a core while idle`);
  });
}

test("CLI http-serve on loopback: Node's http client on a second stack, requests/s as JSON", async () => {
  const child = spawn(process.execPath, [cli, "http-serve", "--duration", "0.5", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { err += d; });
  const code = await new Promise((r) => child.once("exit", r));
  assert.is(code, 0, err);
  const j = JSON.parse(out.trim().split("\n").pop()!);
  assert.is(j.command, "http-serve");
  assert.is(j.failed, 0);
  assert.ok(j.requests > 50, `${j.requests} requests`);
  assert.ok(j.served >= j.requests);
  assert.ok(j.rps > 0 && j.p50Us > 0 && j.p99Us >= j.p50Us);
});

test("CLI http-serve --backend posix answers curl and ab (keep-alive) with the fixed body", async () => {
  const [port] = await freePorts(1);
  const child = spawn(process.execPath, [cli, "http-serve", "--backend", "posix", "--port", String(port), "--body-bytes", "1000"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  const exited = new Promise((r) => child.once("exit", r));
  for (let i = 0; i < 200 && !out.includes("listening"); i++) await sleep(25);
  const curl = await runTool("curl", ["-s", "-D", "-", `http://127.0.0.1:${port}/hello`]);
  assert.match(curl, /^HTTP\/1\.1 200 OK/);
  assert.match(curl, /content-length: 1000/i);
  assert.ok(curl.endsWith("a".repeat(1000)));
  const ab = await runTool("ab", ["-q", "-k", "-n", "2000", "-c", "8", `http://127.0.0.1:${port}/`]);
  assert.match(ab, /Complete requests:\s+2000/);
  assert.match(ab, /Failed requests:\s+0/);
  child.kill("SIGINT");
  await exited;
  assert.match(out, /http-serve: 2001 requests/);
});

function runTool(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (d) => { out += d; });
    c.once("error", reject);
    c.once("exit", (code) => code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`)));
  });
}

test.run();

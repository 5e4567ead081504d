// The RESP key-value server: the parser and the store on their own, then `demiwasm kv --backend
// posix` against Debian's redis-cli and redis-benchmark, and malformed input on one connection
// while another client carries on.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { parseCommand, encode, Parse } from "../examples/resp.js";
import { KvStore } from "../examples/kv.js";
import { freePorts } from "../host/freeport.js";

const cli = fileURLToPath(new URL("../host/cli.js", import.meta.url));
const hasRedis = spawnSync("redis-cli", ["--version"]).status === 0;
if (!hasRedis && process.env.CI) throw new Error("redis-tools is not installed: .ci/run must install it");
const b = (s: string) => Buffer.from(s, "latin1");
const text = (a: Uint8Array[]) => a.map((x) => Buffer.from(x).toString("latin1"));

test("RESP: whole, split and inline commands; malformed input is a protocol error", () => {
  const cmd = b("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n");
  const [s1, n1, a1] = parseCommand(cmd, 0, cmd.length);
  assert.is(s1, Parse.OK);
  assert.equal(text(a1), ["SET", "k", "hello"]);
  const [s2, n2, a2] = parseCommand(cmd, n1, cmd.length);
  assert.is(s2, Parse.OK);
  assert.equal(text(a2), ["PING"]);
  assert.is(n2, cmd.length);
  for (let cut = 1; cut < n1; cut++) assert.is(parseCommand(cmd, 0, cut)[0], Parse.NEED_MORE, `cut at ${cut}`);
  assert.equal(text(parseCommand(b("GET  key\r\n"), 0, 10)[2]), ["GET", "key"]);
  for (const bad of ["*x\r\n", "*1\r\n:5\r\n", "*1\r\n$-5\r\n", "*1\r\n$3\r\nabcXY"]) {
    assert.is(parseCommand(b(bad), 0, bad.length)[0], Parse.ERROR, JSON.stringify(bad));
  }
  assert.is(Buffer.from(encode({ array: [{ bulk: b("a") }, { bulk: null }, { int: -3 }, { ok: "OK" }, { err: "ERR x" }] })).toString(),
    "*5\r\n$1\r\na\r\n$-1\r\n:-3\r\n+OK\r\n-ERR x\r\n");
});

test("the store: expiry on its clock, integers, options and arity errors", () => {
  let now = 1000;
  const s = new KvStore(() => now);
  const run = (...a: string[]) => s.exec(a.map(b));
  assert.equal(run("SET", "k", "v", "EX", "10"), { ok: "OK" });
  assert.equal(run("TTL", "k"), { int: 10 });
  now += 10_000;
  assert.equal(run("GET", "k"), { bulk: null });
  assert.equal(run("INCR", "n"), { int: 1 });
  assert.equal(run("INCRBY", "n", "41"), { int: 42 });
  run("SET", "s", "abc");
  assert.equal(run("INCR", "s"), { err: "ERR value is not an integer or out of range" });
  assert.equal(run("SET", "s", "x", "NX"), { bulk: null });
  assert.equal(run("SET", "new", "x", "XX"), { bulk: null });
  assert.equal(run("GET"), { err: "ERR wrong number of arguments for 'get' command" });
  assert.equal(run("MSET", "a"), { err: "ERR wrong number of arguments for 'mset' command" });
  assert.equal(run("DEL", "n", "s", "none"), { int: 2 });
  assert.ok("err" in run("NOPE"));
});

const t = hasRedis ? test : test.skip;
let server: ChildProcess | null = null;
const [port] = await freePorts(1);

async function startServer(): Promise<void> {
  server = spawn(process.execPath, [cli, "kv", "--backend", "posix", "--port", String(port), "--duration", "120"], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    server!.stdout!.once("data", () => resolve());
    server!.once("exit", (c) => reject(new Error(`kv exited with ${c}`)));
  });
}

function redis(...args: string[]): string {
  const r = spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8", timeout: 10_000 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trim();
}

t("redis-cli: PING, SET, GET, INCR, MSET, MGET, DEL, EXPIRE, TTL, and errors for unknown commands", async () => {
  await startServer();
  assert.is(redis("PING"), "PONG");
  assert.is(redis("SET", "greeting", "hello world"), "OK");
  assert.is(redis("GET", "greeting"), "hello world");
  assert.is(redis("INCR", "hits"), "1");
  assert.is(redis("INCR", "hits"), "2");
  assert.is(redis("MSET", "a", "1", "b", "2"), "OK");
  assert.is(redis("--no-raw", "MGET", "a", "b", "zzz"), '1) "1"\n2) "2"\n3) (nil)');
  assert.is(redis("DEL", "a", "zzz"), "1");
  assert.is(redis("EXPIRE", "b", "100"), "1");
  assert.is(redis("TTL", "b"), "100");
  assert.match(redis("FLUSHEVERYTHING"), /^ERR unknown command 'FLUSHEVERYTHING'/);
  assert.match(redis("GET"), /wrong number of arguments/);
});

t("malformed RESP closes that connection with an error; other clients are unaffected", async () => {
  const reply = await new Promise<string>((resolve) => {
    let got = "";
    const c = connect(port, "127.0.0.1", () => c.write("*1\r\n:oops\r\n"));
    c.on("data", (d) => { got += d.toString(); });
    c.on("close", () => resolve(got));
    setTimeout(() => { c.destroy(); resolve(got + "(timeout)"); }, 5000);
  });
  assert.match(reply, /^-ERR Protocol error/);
  assert.not.match(reply, /timeout/);
  assert.is(redis("GET", "greeting"), "hello world");
});

t("redis-benchmark -t set,get, plain and pipelined, completes against it", () => {
  for (const extra of [[], ["-P", "16"]]) {
    const r = spawnSync("redis-benchmark", ["-p", String(port), "-t", "set,get", "-n", "5000", "-q", ...extra], { encoding: "utf8", timeout: 60_000 });
    assert.is(r.status, 0, r.stderr);
    const rates = [...r.stdout.matchAll(/(SET|GET): ([\d.]+) requests per second/g)].map((m) => [m[1], Number(m[2])]);
    assert.equal(rates.map((x) => x[0]), ["SET", "GET"]);
    assert.ok(rates.every((x) => (x[1] as number) > 1000), JSON.stringify(rates));
  }
});

test.after(() => { if (server && server.exitCode === null) server.kill("SIGKILL"); });
test.run();

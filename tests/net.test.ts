// stack.net: node:net's Socket and Server on the Wasm stack (two stacks on the loopback link)
// and on kernel sockets (posix), with Node's own events, members and error codes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PAIRS, posixPair, wasmPair, until, collect, nextError, poolFull, sinkAndClient } from "./stack.helpers.js";
import type { Socket } from "../host/stack/net.js";
import type { LibOS } from "../host/libos.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

for (const [kind, make] of PAIRS) {
  test(`${kind}: an echo server and a client move 4 MiB byte-exact with node:net's events and counters`, async () => {
    const p = make();
    const events: string[] = [];
    const server = p.a.net.createServer((s) => { events.push("connection"); s.pipe(s); });
    await new Promise<void>((r) => server.listen(0, p.serverIp, r));
    const port = (server.address() as { port: number }).port;
    assert.ok(port > 0);
    const data = randomBytes(4 << 20);
    const c = p.b.net.connect(port, p.serverIp);
    c.on("connect", () => events.push("connect"));
    c.on("ready", () => events.push("ready"));
    const got = collect(c);
    let localPort: number | undefined;
    c.once("connect", () => { localPort = c.localPort; c.write(data.subarray(0, 1000)); c.end(data.subarray(1000)); });
    const back = await got;
    await new Promise((r) => c.once("close", r));
    assert.is(back.length, data.length);
    assert.is(sha(back), sha(data));
    assert.equal(events.slice(0, 3).sort(), ["connect", "connection", "ready"]);
    assert.is(c.bytesRead, data.length);
    assert.is(c.bytesWritten, data.length);
    assert.is(c.remoteAddress, p.serverIp);
    assert.is(c.remotePort, port);
    assert.is(c.remoteFamily, "IPv4");
    assert.is(typeof localPort, "number");
    assert.is(c.localPort, undefined, "no local address once closed, as node:net");
    assert.is(c.readyState, "closed");
    await new Promise((r) => server.close(r));
    await until(() => poolFull(p), 5000, "every buffer back in the pool");
    await p.close();
  });

  test(`${kind}: connecting to a closed port fails with ECONNREFUSED, syscall connect, address and port`, async () => {
    const p = make();
    const probe = p.a.net.createServer();
    await new Promise<void>((r) => probe.listen(0, p.serverIp, r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const c = p.b.net.connect({ port, host: p.serverIp });
    const e = await nextError(c);
    assert.is(e.code, "ECONNREFUSED");
    assert.is(e.syscall, "connect");
    assert.is(e.address, p.serverIp);
    assert.is(e.port, port);
    await new Promise((r) => c.once("close", r));
    assert.ok(c.destroyed);
    await p.close();
  });

  test(`${kind}: listening on a port in use emits EADDRINUSE; close on a stopped server says ERR_SERVER_NOT_RUNNING`, async () => {
    const p = make();
    const s1 = p.a.net.createServer();
    await new Promise<void>((r) => s1.listen(0, p.serverIp, r));
    const port = (s1.address() as { port: number }).port;
    const s2 = p.a.net.createServer();
    s2.listen(port, p.serverIp);
    const e = await nextError(s2);
    assert.is(e.code, "EADDRINUSE");
    assert.is(s2.listening, false);
    const notRunning = await new Promise<Error & { code?: string }>((r) => s2.close((err) => r(err as Error)));
    assert.is(notRunning.code, "ERR_SERVER_NOT_RUNNING");
    await new Promise((r) => s1.close(r));
    await p.close();
  });

  test(`${kind}: write after end is ERR_STREAM_WRITE_AFTER_END, write after destroy ERR_STREAM_DESTROYED`, async () => {
    const p = make();
    const { server, port, c } = await sinkAndClient(p);
    c.on("error", () => {});                          // node:net also emits the error
    c.end();
    const e1 = await new Promise<Error & { code?: string }>((r) => c.write("x", (err) => r(err as Error)));
    assert.is(e1.code, "ERR_STREAM_WRITE_AFTER_END");
    const d = p.b.net.connect(port, p.serverIp);
    await new Promise((r) => d.once("connect", r));
    d.on("error", () => {});
    d.destroy();
    const e2 = await new Promise<Error & { code?: string }>((r) => d.write("x", (err) => r(err as Error)));
    assert.is(e2.code, "ERR_STREAM_DESTROYED");
    c.destroy();
    server.close();
    await p.close();
  });

  test(`${kind}: a peer that resets mid-stream gives ECONNRESET to the other side`, async () => {
    const p = make();
    let serverSide: Socket | null = null;
    const server = p.a.net.createServer({ pauseOnConnect: true }, (s) => { serverSide = s; });   // reads nothing
    await new Promise<void>((r) => server.listen(0, p.serverIp, r));
    const port = (server.address() as { port: number }).port;
    const c = p.b.net.connect(port, p.serverIp);
    c.on("data", () => {});
    await new Promise((r) => c.once("connect", r));
    c.write(randomBytes(20000));
    await until(() => serverSide !== null, 5000, "the connection");
    await new Promise((r) => setTimeout(r, 50));
    assert.is(serverSide!.bytesRead, 0);
    // Closing with unread data resets (RFC 1122 §4.2.2.13, what Linux does).
    serverSide!.destroy();
    const e = await nextError(c);
    assert.ok(e.code === "ECONNRESET" || e.code === "EPIPE", `got ${e.code}`);
    server.close();
    await until(() => poolFull(p), 5000, "every buffer back");
    await p.close();
  });

  test(`${kind}: half-close with allowHalfOpen: the client ends, the server answers after 'end', then ends`, async () => {
    const p = make();
    const server = p.a.net.createServer({ allowHalfOpen: true }, (s) => {
      const parts: Buffer[] = [];
      s.on("data", (d) => parts.push(d));
      s.on("end", () => { const all = Buffer.concat(parts); s.end(Buffer.from(`got ${all.length} ${sha(all)}`)); });
    });
    await new Promise<void>((r) => server.listen(0, p.serverIp, r));
    const port = (server.address() as { port: number }).port;
    const data = randomBytes(300_000);
    const c = p.b.net.connect({ port, host: p.serverIp, allowHalfOpen: true });
    const got = collect(c);
    c.end(data);
    const answer = (await got).toString();
    assert.is(answer, `got ${data.length} ${sha(data)}`);
    server.close();
    await p.close();
  });

  test(`${kind}: setTimeout emits 'timeout' on an idle socket and not while data flows`, async () => {
    const p = make();
    const { server, c } = await sinkAndClient(p);
    let timeouts = 0;
    c.setTimeout(80, () => { timeouts++; });
    const busyUntil = Date.now() + 250;
    while (Date.now() < busyUntil) { c.write("x"); await new Promise((r) => setTimeout(r, 20)); }
    assert.is(timeouts, 0, "no timeout while writing every 20 ms");
    await until(() => timeouts === 1, 2000, "the idle timeout");
    assert.is(c.timeout, 80);
    c.destroy();
    server.close();
    await p.close();
  });

  test(`${kind}: maxConnections drops the connection over the limit ('drop'); getConnections counts`, async () => {
    const p = make();
    const server = p.a.net.createServer((s) => s.resume());
    server.maxConnections = 2;
    const drops: unknown[] = [];
    server.on("drop", (d) => drops.push(d));
    await new Promise<void>((r) => server.listen(0, p.serverIp, r));
    const port = (server.address() as { port: number }).port;
    const cs = [0, 1, 2].map(() => p.b.net.connect(port, p.serverIp));
    for (const c of cs) c.on("error", () => {});
    await until(() => drops.length === 1, 5000, "a drop");
    const n = await new Promise<number>((r) => server.getConnections((_e, k) => r(k)));
    assert.is(n, 2);
    for (const c of cs) c.destroy();
    await new Promise((r) => server.close(r));
    await p.close();
  });

  test(`${kind}: closing the stack under open sockets and servers closes them; pending promises reject ECANCELED`, async () => {
    const p = make();
    const { server, c } = await sinkAndClient(p);
    const qd = p.b.libos.socket(2, 2, 0);
    p.b.libos.bind(qd, { addr: 0, port: 0 });
    const pending = p.b.pop(qd).catch((x) => x);   // rejects inside close()
    const closed = [new Promise((r) => c.once("close", r)), new Promise((r) => server.once("close", r))];
    await p.b.close();
    const e = await pending;
    assert.is(e.code, "ECANCELED");
    await p.a.close();
    await Promise.all(closed);
    assert.ok(c.destroyed);
    assert.is(server.listening, false);
  });
}

test("wasm: 10,000 connections opened and torn down (one in ten reset) leave the pools and tables as they were", async () => {
  const p = wasmPair({ "tcp.max_connections": 256, memory_mb: 64 });
  const server = p.a.net.createServer((s) => { s.on("data", (d) => s.write(d)); s.on("end", () => s.end()); });
  await new Promise<void>((r) => server.listen(7, p.serverIp, r));
  const start = [p.a, p.b].map((s) => s.libos.dp.exports.poolAvailable());
  let done = 0, errors = 0;
  const one = (i: number) => new Promise<void>((resolve) => {
    const c = p.b.net.connect(7, p.serverIp);
    c.on("error", () => { errors++; });
    c.on("close", () => { done++; resolve(); });
    c.once("connect", () => {
      c.write("ping");
      c.once("data", () => { if (i % 10 === 0) c.destroy(); else c.end(); });
    });
    c.resume();
  });
  for (let batch = 0; batch < 10_000; batch += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, k) => one(batch + k)));
  }
  assert.is(done, 10_000);
  assert.is(errors, 0);
  await new Promise((r) => server.close(r));
  await until(() => p.a.libos.dp.exports.tcpConnections(3) === 0, 5000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal([p.a, p.b].map((s) => s.libos.dp.exports.poolAvailable()), start);
  await p.close();
});

test("wasm: a server that closes first recycles its TIME_WAIT slots: 100 connections through 8 slots with 60 s of TIME_WAIT", async () => {
  const p = wasmPair({ "tcp.max_connections": 8, "tcp.time_wait_ms": 60_000 });
  const server = p.a.net.createServer((s) => { s.once("data", () => s.end("bye")); });   // as HTTP without keep-alive
  await new Promise<void>((r) => server.listen(80, p.serverIp, r));
  for (let i = 0; i < 100; i++) {
    const c = p.b.net.connect({ port: 80, host: p.serverIp, allowHalfOpen: false });
    const got = await new Promise<string>((resolve, reject) => {
      c.once("error", reject);
      c.once("connect", () => c.write("hi"));
      c.on("data", (d) => resolve(d.toString()));
    });
    assert.is(got, "bye", `connection ${i}`);
    await new Promise((r) => c.once("close", r));
  }
  assert.is((p.a.libos as LibOS).counters()["drop.tcp_no_tcb"] ?? 0, 0);
  server.close();
  await p.close();
});

test("wasm: a connection the full table cannot take is refused at once (ECONNREFUSED, counted), not left to retry SYNs", async () => {
  const p = wasmPair({}, { "tcp.max_connections": 2 });
  const server = p.a.net.createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(80, p.serverIp, r));
  const held = [0, 1].map(() => p.b.net.connect(80, p.serverIp));
  await Promise.all(held.map((c) => new Promise((r) => c.once("connect", r))));
  const t0 = Date.now();
  const extra = p.b.net.connect(80, p.serverIp);
  const e = await nextError(extra);
  assert.is(e.code, "ECONNREFUSED");
  assert.ok(Date.now() - t0 < 500, "refused at once, not after SYN retries");
  assert.is((p.a.libos as LibOS).counters()["drop.tcp_no_tcb"], 1);
  for (const c of held) c.destroy();
  server.close();
  await p.close();
});

test("posix: a Node net client in another process talks to a server on the stack", async () => {
  const p = posixPair();
  const server = p.a.net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const child = spawn(process.execPath, ["-e", `
    const net = require("node:net"); const crypto = require("node:crypto");
    const data = crypto.randomBytes(1 << 20); const parts = [];
    const c = net.connect(${port}, "127.0.0.1", () => c.end(data));
    c.on("data", (d) => parts.push(d));
    c.on("end", () => { const b = Buffer.concat(parts); process.stdout.write(String(b.equals(data))); });`], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  await new Promise((r) => child.once("exit", r));
  assert.is(out, "true");
  await new Promise((r) => server.close(r));
  await p.close();
});

test("IPC paths on the faces are the kernel's: a Unix-socket server and client through stack.net, and ENOENT as Node reports it", async () => {
  const p = wasmPair();
  const path = join(tmpdir(), `dw-ipc-${process.pid}`);
  const server = p.a.net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(path, r));
  assert.is(server.address(), path);
  const c = p.b.net.connect(path);
  const back = collect(c);
  c.end("over a unix socket");
  assert.is((await back).toString(), "over a unix socket");
  const missing = p.b.net.connect(join(tmpdir(), `dw-ipc-none-${process.pid}`));
  const e = await nextError(missing);
  assert.is(e.code, "ENOENT");
  assert.is(e.syscall, "connect");
  await new Promise((r) => server.close(r));
  await p.close();
});

test.run();

// stack.http: Node's own http.Server and http client (Agent, keep-alive) over the stack, and the
// npm package ws (a WebSocket server and its own client) unchanged over it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as http from "node:http";
import { randomBytes, createHash } from "node:crypto";
import { WebSocketServer, WebSocket } from "ws";
import { PAIRS, posixPair, until, poolFull } from "./stack.helpers.js";
import type { Socket } from "../host/stack/net.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function body(res: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on("data", (d: Buffer) => parts.push(d));
    res.on("end", () => resolve(Buffer.concat(parts)));
    res.on("error", reject);
  });
}

for (const [kind, make] of PAIRS) {
  test(`${kind}: http.Server on the stack answers Node's http client on the other stack (keep-alive, POST bodies)`, async () => {
    const p = make();
    let requests = 0;
    const server = p.a.http.createServer((req, res) => {
      requests++;
      const parts: Buffer[] = [];
      req.on("data", (d: Buffer) => parts.push(d));
      req.on("end", () => {
        const all = Buffer.concat(parts);
        res.setHeader("x-sha", sha(all));
        res.end(`${req.method} ${req.url} ${all.length}`);
      });
    });
    assert.ok(server instanceof http.Server);
    await new Promise<void>((r) => server.listen(0, p.serverIp, r));
    const port = (server.address() as { port: number }).port;
    assert.ok(server.listening);
    const agent = new p.b.http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    for (let i = 0; i < 20; i++) {
      const res = await new Promise<http.IncomingMessage>((r, j) => {
        const req = p.b.http.request({ host: p.serverIp, port, path: `/r/${i}`, agent }, r);
        req.on("error", j);
        req.on("socket", (s) => sockets.add(s));
        req.end();
      });
      assert.is(res.statusCode, 200);
      assert.is((await body(res)).toString(), `GET /r/${i} 0`);
    }
    assert.is(sockets.size, 1, "one keep-alive connection served every request");
    const big = randomBytes(1 << 20);
    const res = await new Promise<http.IncomingMessage>((r, j) => {
      const req = p.b.http.request({ host: p.serverIp, port, method: "POST", path: "/upload", agent }, r);
      req.on("error", j);
      req.end(big);
    });
    assert.is((await body(res)).toString(), `POST /upload ${big.length}`);
    assert.is(res.headers["x-sha"], sha(big));
    // The default agent and get(), with a URL.
    const viaGet = await new Promise<http.IncomingMessage>((r, j) => p.b.http.get(`http://${p.serverIp}:${port}/get`, r).on("error", j));
    assert.is((await body(viaGet)).toString(), "GET /get 0");
    assert.is(requests, 22);
    agent.destroy();
    p.b.http.globalAgent.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    assert.is(server.listening, false);
    await until(() => poolFull(p), 5000, "every buffer back");
    await p.close();
  });

  test(`${kind}: ws: a WebSocket echo over the stack with ws's own server and client`, async () => {
    const p = make();
    const server = p.a.http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
    await new Promise<void>((r) => server.listen(0, p.serverIp, r));
    const port = (server.address() as { port: number }).port;
    const ws = new WebSocket(`ws://${p.serverIp}:${port}/echo`, { agent: new p.b.http.Agent() });
    await new Promise<void>((r, j) => { ws.once("open", () => r()); ws.once("error", j); });
    const frames = [Buffer.from("hello"), randomBytes(100_000), Buffer.alloc(0)];
    const got: Buffer[] = [];
    ws.on("message", (d: Buffer) => got.push(Buffer.from(d)));
    for (const f of frames) ws.send(f);
    await until(() => got.length === frames.length, 10_000, "the echoes");
    for (let i = 0; i < frames.length; i++) assert.ok(got[i].equals(frames[i]), `frame ${i}`);
    const closed = new Promise<number>((r) => ws.once("close", (code: number) => r(code)));
    ws.close(1000);
    assert.is(await closed, 1000);
    wss.close();
    await new Promise<void>((r) => server.close(() => r()));
    await p.close();
  });

  test(`${kind}: http: a client that resets mid-request, and a server closed under a keep-alive connection`, async () => {
    const p = make();
    const seen: string[] = [];
    const server = p.a.http.createServer((req, res) => {
      seen.push(req.url!);
      req.on("error", () => {});                   // 'aborted' (ECONNRESET) on the half request
      req.on("close", () => { if (!req.complete) seen.push(`${req.url} incomplete`); });
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    server.on("clientError", (_e, s: Socket) => { seen.push("clientError"); s.destroy(); });
    await new Promise<void>((r) => server.listen(0, p.serverIp, r));
    const port = (server.address() as { port: number }).port;
    // Half a request, then a reset: the server sees an error on that connection and goes on.
    const raw = p.b.net.connect(port, p.serverIp);
    await new Promise((r) => raw.once("connect", r));
    raw.write("POST /half HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
    await new Promise((r) => setTimeout(r, 30));
    raw.destroy();
    const agent = new p.b.http.Agent({ keepAlive: true });
    const res = await new Promise<http.IncomingMessage>((r, j) => p.b.http.get({ host: p.serverIp, port, path: "/after", agent }, r).on("error", j));
    assert.is((await body(res)).toString(), "ok");
    await until(() => seen.includes("/half incomplete"), 5000, "the half request's close");
    // Node may report the reset as 'clientError' too; the two connections' events interleave.
    assert.equal(seen.filter((x) => x !== "clientError").sort(), ["/after", "/half", "/half incomplete"]);
    // close() drops the idle keep-alive connection, so 'close' comes.
    await new Promise<void>((r) => server.close(() => r()));
    agent.destroy();
    await until(() => poolFull(p), 5000, "every buffer back");
    await p.close();
  });
}

test("posix: Node's own http client over the kernel reaches an http.Server on the stack", async () => {
  const p = posixPair();
  const server = p.a.http.createServer((req, res) => res.end(`hi ${req.url}`));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const res = await new Promise<http.IncomingMessage>((r, j) => http.get(`http://127.0.0.1:${port}/k`, r).on("error", j));
  assert.is((await body(res)).toString(), "hi /k");
  await new Promise<void>((r) => server.close(() => r()));
  await p.close();
});

test.run();

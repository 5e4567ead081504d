// stack.dgram (node:dgram's createSocket on the stack) and PDPIX as Promises with cancellation,
// on the Wasm stack (loopback link) and on kernel sockets (posix).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import * as nodeDgram from "node:dgram";
import { PAIRS, posixPair, wasmPair, until, poolFull, nextError } from "./stack.helpers.js";
import { sockaddr } from "../host/libos.js";
import type { RemoteInfo } from "../host/stack/dgram.js";

for (const [kind, make] of PAIRS) {
  test(`${kind}: dgram echo with rinfo, every send form, and 'listening'/'close' events`, async () => {
    const p = make();
    const server = p.a.dgram.createSocket("udp4");
    server.on("message", (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((r) => server.bind(0, p.serverIp, r));
    const port = server.address().port;
    assert.is(server.address().address, p.serverIp);
    const client = p.b.dgram.createSocket({ type: "udp4" });
    const got: [string, RemoteInfo][] = [];
    client.on("message", (m, rinfo) => got.push([m.toString(), rinfo]));
    const sent: number[] = [];
    const cb = (err: Error | null, n: number) => { assert.is(err, null); sent.push(n); };
    client.send("one", port, p.serverIp, cb);                                   // string
    client.send(Buffer.from("xxtwoxx"), 2, 3, port, p.serverIp, cb);            // offset, length
    client.send([Buffer.from("th"), Buffer.from("ree")], port, p.serverIp, cb);  // an array
    client.send(new Uint8Array([102, 111, 117, 114]), port, p.serverIp, cb);     // a TypedArray
    await until(() => got.length === 4, 5000, "four echoes");
    assert.equal(got.map((g) => g[0]).sort(), ["four", "one", "three", "two"]);
    assert.equal(sent.sort(), [3, 3, 4, 5]);
    assert.is(got[0][1].address, p.serverIp);
    assert.is(got[0][1].port, port);
    assert.is(got[0][1].family, "IPv4");
    assert.is(got.find((g) => g[0] === "three")![1].size, 5);
    const closed = new Promise((r) => client.once("close", r));
    client.close();
    await closed;
    server.close();
    await until(() => poolFull(p), 5000, "every buffer back");
    await p.close();
  });

  test(`${kind}: dgram connect/disconnect, remoteAddress, and Node's error codes`, async () => {
    const p = make();
    const server = p.a.dgram.createSocket("udp4");
    const msgs: string[] = [];
    server.on("message", (m) => msgs.push(m.toString()));
    await new Promise<void>((r) => server.bind(0, p.serverIp, r));
    const port = server.address().port;
    const c = p.b.dgram.createSocket("udp4");
    await new Promise<void>((r) => c.connect(port, p.serverIp, r));
    assert.equal(c.remoteAddress(), { address: p.serverIp, family: "IPv4", port });
    c.send("connected");
    // (buffer, offset, length, port, address) names a peer: refused; node:dgram reads (buffer, port,
    // address) on a connected socket as (buffer, callback) and ignores the rest, as here.
    assert.throws(() => c.send("x", 0, 1, port, p.serverIp), (e: { code?: string }) => e.code === "ERR_SOCKET_DGRAM_IS_CONNECTED");
    assert.throws(() => c.connect(port, p.serverIp), (e: { code?: string }) => e.code === "ERR_SOCKET_DGRAM_IS_CONNECTED");
    await until(() => msgs.length === 1, 5000);
    c.disconnect();
    assert.throws(() => c.remoteAddress(), (e: { code?: string }) => e.code === "ERR_SOCKET_DGRAM_NOT_CONNECTED");
    // Unconnected, a send without a port is a bad port (node:dgram checks the port first).
    assert.throws(() => c.send("x"), (e: { code?: string }) => e.code === "ERR_SOCKET_BAD_PORT");
    assert.throws(() => c.send("x", 70000, p.serverIp), (e: { code?: string }) => e.code === "ERR_SOCKET_BAD_PORT");
    c.send("unconnected", port, p.serverIp);
    await until(() => msgs.length === 2, 5000);
    assert.equal(msgs, ["connected", "unconnected"]);
    const dup = p.a.dgram.createSocket("udp4");
    dup.bind(port, p.serverIp);
    const e = await nextError(dup);
    assert.is(e.code, "EADDRINUSE");
    assert.is(e.syscall, "bind");
    dup.close();
    c.close();
    assert.throws(() => c.send("x", port, p.serverIp), (x: { code?: string }) => x.code === "ERR_SOCKET_DGRAM_NOT_RUNNING");
    server.close();
    await p.close();
  });

  test(`${kind}: a burst of 2,000 datagrams arrives whole and in order`, async () => {
    const p = make();
    const server = p.a.dgram.createSocket("udp4");
    const seen: number[] = [];
    server.on("message", (m) => seen.push(m.readUInt32BE(0)));
    await new Promise<void>((r) => server.bind(0, p.serverIp, r));
    const port = server.address().port;
    const c = p.b.dgram.createSocket("udp4");
    // Paced by the send callbacks so that neither the kernel's nor the stack's queue overflows.
    for (let i = 0; i < 2000; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, k) => new Promise<void>((r) => {
        const b = Buffer.alloc(200); b.writeUInt32BE(i + k, 0); c.send(b, port, p.serverIp, () => r());
      })));
      await until(() => seen.length >= i + 20, 5000, "the echoes of a batch");
    }
    assert.equal(seen, Array.from({ length: 2000 }, (_, i) => i));
    c.close(); server.close();
    await until(() => poolFull(p), 5000);
    await p.close();
  });

  test(`${kind}: promises: pop/push/accept/connect resolve; an aborted pop takes no datagram`, async () => {
    const p = make();
    const la = p.a.libos, lb = p.b.libos;
    const sq = la.socket();
    la.bind(sq, sockaddr(p.serverIp, 0));
    const port = la.getsockname(sq).port;
    const cq = lb.socket();
    const ac = new AbortController();
    const aborted = p.a.pop(sq, { signal: ac.signal });
    ac.abort();
    const e = await aborted.catch((x) => x);
    assert.is(e.name, "AbortError");
    assert.is(e.code, "ABORT_ERR");
    // The next pop gets the datagram: the cancelled one took nothing.
    const payload = randomBytes(100);
    const sga = lb.sgaalloc(100);
    lb.u8.set(payload, sga.buf);
    await p.b.pushto(cq, sga, sockaddr(p.serverIp, port));
    lb.sgafree(sga);
    const r = await p.a.pop(sq);
    assert.is(r.sga!.len, 100);
    assert.equal(Buffer.from(la.u8.subarray(r.sga!.buf, r.sga!.buf + 100)), payload);
    la.sgafree(r.sga!);
    // An already-aborted signal rejects at once and leaves nothing pending.
    const ac2 = new AbortController(); ac2.abort();
    assert.is((await p.a.pop(sq, { signal: ac2.signal }).catch((x) => x)).code, "ABORT_ERR");
    la.close(sq); lb.close(cq);
    await until(() => poolFull(p), 5000, "every buffer back");
    await p.close();
  });
}

test("wasm: LibOS.cancel: a pop cancelled after its wait timed out eats nothing; stale qtokens are EINVAL", async () => {
  const p = wasmPair();
  const la = p.a.libos as import("../host/libos.js").LibOS, lb = p.b.libos as import("../host/libos.js").LibOS;
  const sq = la.socket();
  la.bind(sq, sockaddr(p.serverIp, 9));
  const qt = la.pop(sq);
  const timedOut = la.wait(qt, 1);
  assert.is(timedOut.ret, 110);                                                      // ETIMEDOUT, qt still pending
  la.cancel(qt);
  assert.throws(() => la.cancel(qt), (e: { errno?: number }) => e.errno === 22);    // EINVAL: gone
  const cq = lb.socket();
  const sga = lb.sgaalloc(10);
  await p.b.pushto(cq, sga, sockaddr(p.serverIp, 9));
  lb.sgafree(sga);
  const r = await p.a.pop(sq);
  assert.is(r.sga!.len, 10);
  la.sgafree(r.sga!);
  // A completed pop nobody took is released with its buffer.
  const sga2 = lb.sgaalloc(10);
  await p.b.pushto(cq, sga2, sockaddr(p.serverIp, 9));
  lb.sgafree(sga2);
  const qt2 = la.pop(sq);
  await until(() => la.isDone(qt2), 5000);
  la.cancel(qt2);
  await until(() => poolFull(p), 5000, "the cancelled result's buffer back");
  await p.close();
});

test("posix: a stack's dgram socket and Node's own dgram in another role talk both ways", async () => {
  const p = posixPair();
  const s = p.a.dgram.createSocket("udp4");
  s.on("message", (m, r) => s.send(Buffer.concat([Buffer.from("echo:"), m]), r.port, r.address));
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const node = nodeDgram.createSocket("udp4");
  const answer = new Promise<string>((r) => node.once("message", (m) => r(m.toString())));
  node.send("hi", s.address().port, "127.0.0.1");
  assert.is(await answer, "echo:hi");
  node.close(); s.close();
  await p.close();
});

test.run();

// The Node-facing API over IPv6, on the Wasm stack (two dual-stack hosts on a loopback link) and
// on kernel sockets (posix, ::1): dgram 'udp6' with IPv6 rinfo, net with family 6 and IPv6
// literals, address() in node's form, and a version mismatch answered with Node's error codes
// (send EINVAL, as Node 26 on Linux).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { PAIRS6, until, collect, nextError, poolFull } from "./stack.helpers.js";
import type { RemoteInfo } from "../host/stack/dgram.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

for (const [kind, make] of PAIRS6) {
  test(`${kind}: dgram udp6 echo with IPv6 rinfo; a udp4 socket refuses an IPv6 destination`, async () => {
    const p = make();
    const server = p.a.dgram.createSocket("udp6");
    server.on("message", (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((r) => server.bind(0, r));
    const port = server.address().port;
    assert.equal(server.address(), { address: "::", family: "IPv6", port });
    const client = p.b.dgram.createSocket("udp6");
    const got: [string, RemoteInfo][] = [];
    client.on("message", (m, rinfo) => got.push([m.toString(), rinfo]));
    client.send("over six", port, p.serverIp6);
    await until(() => got.length === 1, 5000, "the echo");
    assert.equal(got[0][0], "over six");
    assert.equal({ ...got[0][1] }, { address: p.serverIp6, family: "IPv6", port, size: 8 });
    const c4 = p.b.dgram.createSocket("udp4");
    const err = new Promise<Error & { code?: string }>((r) => c4.send("x", port, p.serverIp6, (e: Error | null) => r(e as Error & { code?: string })));
    assert.is((await err).code, "EINVAL", "as node:dgram answers a udp4 send to an IPv6 address");
    c4.close(); client.close(); server.close();
    if (p.kind === "wasm") await until(() => poolFull(p), 5000, "every buffer back");
    await p.close();
  });

  test(`${kind}: net over IPv6: listen on '::', connect with family 6, 1 MiB each way, addresses in node's form`, async () => {
    const p = make();
    const server = p.a.net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => server.listen(0, "::", r));
    const port = (server.address() as { port: number }).port;
    assert.equal(server.address(), { address: "::", family: "IPv6", port });
    const data = randomBytes(1 << 20);
    const sock = p.b.net.connect({ port, host: p.serverIp6, family: 6 });
    await new Promise<void>((r) => sock.once("connect", r));
    assert.equal([sock.remoteAddress, sock.remoteFamily, sock.remotePort], [p.serverIp6, "IPv6", port]);
    assert.is((sock.address() as { family: string }).family, "IPv6");
    const back = collect(sock);
    sock.end(data);
    assert.is(sha(await back), sha(data));
    // An IPv4 client finds no IPv4 listener: '::' is IPv6 only here.
    const v4 = p.b.net.connect({ port, host: p.serverIp });
    assert.is((await nextError(v4)).code, "ECONNREFUSED");
    await new Promise<void>((r) => server.close(() => r()));
    if (p.kind === "wasm") await until(() => poolFull(p), 5000, "every buffer back");
    await p.close();
  });
}

test.run();

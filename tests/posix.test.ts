// The posix backend (catnap): the same PDPIX applications on kernel sockets over 127.0.0.1,
// with identical results to the loopback backend, against real Node clients in another process.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";

import { PosixLibOS } from "../host/backends/posix.js";
import { loadConfig } from "../host/config.js";
import { sockaddr, Opcode, AF_INET, SOCK_STREAM } from "../host/libos.js";
import { DemiError, ECONNREFUSED, EADDRINUSE, EBADF } from "../host/errno.js";
import type { Pdpix } from "../host/pdpix.js";
import { EchoServer, EchoClient } from "../examples/udp-echo.js";
import { TcpEchoServer } from "../examples/tcp-echo.js";
import { UdpRelay } from "../examples/udp-relay.js";
import { pair } from "./helpers.js";
import { freePorts } from "../host/freeport.js";

const PORTS = await freePorts(8);
let next = 0;
const nextPort = () => PORTS[next++];
const posix = () => new PosixLibOS(loadConfig({ env: {}, overrides: { memory_mb: 16, "pool.small_buffers": 1024 } }));

/** The same app on two stacks: 500 numbered datagrams echoed and checked byte for byte. */
function udpEchoRun(server: Pdpix, client: Pdpix, addr: { addr: number; port: number }, poll: () => void) {
  const sqd = server.socket();
  server.bind(sqd, addr);
  const srv = new EchoServer(server, sqd);
  const cli = new EchoClient(client, client.socket(), addr, { size: 200, window: 16, burst: 16, lossTimeoutNs: 2e9 });
  let n = 0;
  while (cli.sent < 500 || cli.outstanding > 0) {
    poll();
    srv.step();
    cli.step(performance.now() * 1e6, cli.sent < 500);
    if (++n > 5_000_000) break;
  }
  return { sent: cli.sent, echoed: cli.echoed, corrupt: cli.corrupt, lost: cli.lost, served: srv.echoed };
}

test("the same UDP echo app gives the same results on the loopback backend and on kernel sockets", () => {
  const p = pair();
  const onLoopback = udpEchoRun(p.a, p.b, sockaddr("198.18.0.1", 7), () => p.link.poll());
  const s = posix(), c = posix();
  const onPosix = udpEchoRun(s, c, sockaddr("127.0.0.1", nextPort()), () => { s.poll(); c.poll(); });
  assert.equal(onPosix, onLoopback);
  // Whole bursts of 16: 32 of them pass the 500 mark.
  assert.equal(onPosix, { sent: 512, echoed: 512, corrupt: 0, lost: 0, served: 512 });
  s.shutdown(); c.shutdown();
});

/** Steps `step` until the child exits, yielding to the event loop so its exit is seen. */
async function serve(child: ReturnType<typeof spawn>, step: () => void): Promise<number> {
  let code: number | null = null;
  child.once("exit", (c) => { code = c ?? -1; });
  const deadline = Date.now() + 60_000;
  while (code === null && Date.now() < deadline) {
    for (let i = 0; i < 200; i++) step();
    await new Promise((r) => setImmediate(r));
  }
  if (code === null) child.kill("SIGKILL");
  return code ?? -1;
}

test("a Node dgram client in another process gets every datagram echoed", async () => {
  const s = posix();
  const p = nextPort();
  const qd = s.socket();
  s.bind(qd, sockaddr("127.0.0.1", p));
  const srv = new EchoServer(s, qd);
  const child = spawn(process.execPath, ["-e", `
    const d = require("node:dgram").createSocket("udp4"); let got = 0;
    d.on("message", (m) => { if (m.toString() !== "ping " + got) process.exit(2); if (++got === 1000) process.exit(0); else send(); });
    const send = () => d.send("ping " + got, ${p}, "127.0.0.1");
    setTimeout(() => process.exit(3), 30000); send();`], { stdio: "inherit" });
  assert.is(await serve(child, () => { s.poll(); srv.step(); }), 0);
  assert.is(srv.echoed, 1000);
  s.shutdown();
});

test("a Node net client in another process: 1 MiB through the TCP echo app, byte-exact", async () => {
  const s = posix();
  const p = nextPort();
  const l = s.socket(AF_INET, SOCK_STREAM);
  s.bind(l, sockaddr("127.0.0.1", p));
  s.listen(l, 16);
  const srv = new TcpEchoServer(s, l);
  const child = spawn(process.execPath, ["-e", `
    const crypto = require("node:crypto"); const data = crypto.randomBytes(1 << 20);
    const want = crypto.createHash("sha256").update(data).digest("hex");
    const h = crypto.createHash("sha256"); let got = 0;
    const c = require("node:net").connect(${p}, "127.0.0.1", () => c.end(data));
    c.on("data", (b) => { h.update(b); got += b.length; });
    c.on("end", () => process.exit(got === data.length && h.digest("hex") === want ? 0 : 2));
    setTimeout(() => process.exit(3), 30000);`], { stdio: "inherit" });
  assert.is(await serve(child, () => { s.poll(); srv.step(); }), 0);
  assert.is(srv.closed, 1);
  s.shutdown();
});

test("two backends in one process: a relay from kernel sockets into a Wasm stack and back, for a client in another process", async () => {
  const front = posix();
  const fp = nextPort();
  const fqd = front.socket();
  front.bind(fqd, sockaddr("127.0.0.1", fp));
  const behind = pair();
  const sqd = behind.a.socket();
  behind.a.bind(sqd, sockaddr("198.18.0.1", 7));
  const echo = new EchoServer(behind.a, sqd);
  const relay = new UdpRelay(front, fqd, behind.b, behind.b.socket(), sockaddr("198.18.0.1", 7));
  const child = spawn(process.execPath, ["-e", `
    const d = require("node:dgram").createSocket("udp4"); let got = 0;
    d.on("message", (m) => { if (m.toString() !== "via wasm " + got) process.exit(2); if (++got === 300) process.exit(0); else send(); });
    const send = () => d.send("via wasm " + got, ${fp}, "127.0.0.1");
    setTimeout(() => process.exit(3), 30000); send();`], { stdio: "inherit" });
  assert.is(await serve(child, () => { front.poll(); behind.link.poll(); relay.step(); echo.step(); }), 0);
  assert.equal([relay.forwarded, relay.returned, echo.echoed], [300, 300, 300]);
  // The datagrams really crossed the Wasm stacks: their counters saw them.
  assert.is(behind.a.counters()["udp.delivered"], 300);
  front.shutdown();
});

test("errnos from the kernel come back as Demikernel's: refused, address in use, bad qd", () => {
  const s = posix();
  const p = nextPort();
  const q = s.socket(AF_INET, SOCK_STREAM);
  const r = s.wait(s.connect(q, sockaddr("127.0.0.1", p)), 2000);
  assert.is(r.opcode, Opcode.FAILED);
  assert.is(r.ret, ECONNREFUSED);
  const a = s.socket(AF_INET, SOCK_STREAM), b = s.socket(AF_INET, SOCK_STREAM);
  s.bind(a, sockaddr("127.0.0.1", p));
  s.listen(a, 4);
  assert.throws(() => s.bind(b, sockaddr("127.0.0.1", p)), (e: DemiError) => e.errno === EADDRINUSE);
  assert.throws(() => s.pop(999), (e: DemiError) => e.errno === EBADF);
  // A connection to our own listener, then a clean end of stream on close.
  const c = s.socket(AF_INET, SOCK_STREAM);
  const cq = s.connect(c, sockaddr("127.0.0.1", p));
  const acc = s.wait(s.accept(a), 2000);
  assert.is(acc.opcode, Opcode.ACCEPT);
  assert.is(s.wait(cq, 2000).opcode, Opcode.CONNECT);
  s.close(c);
  const eof = s.wait(s.pop(acc.acceptedQd!), 2000);
  assert.is(eof.opcode, Opcode.POP);
  assert.is(eof.sga!.len, 0);
  s.shutdown();
});

test.run();

// The fabric backend against a second process over 127.0.0.1 (libfabric tcp;ofi_rxm): message
// ping-pong, 64 MiB of RMA writes and reads byte-exact, bad keys and ranges failing with an errno,
// and a peer that dies mid-transfer failing operations instead of hanging them.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { errno } from "./helpers.js";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import { FabricLibOS, type RegionRef } from "../host/backends/fabric.js";
import { loadConfig } from "../host/config.js";
import { freePort } from "../host/freeport.js";
import { sockaddr, formatSockAddr, Opcode, AF_INET } from "../host/libos.js";
import { DemiError, EBADF, EMSGSIZE, ENOTCONN, ENOTSUP, ECONNRESET, EAFNOSUPPORT } from "../host/errno.js";

const available = spawnSync("pkg-config", ["--exists", "libfabric"]).status === 0;
if (!available && process.env.CI) throw new Error("libfabric is not installed: .ci/run must install libfabric-dev");

const peerJs = fileURLToPath(new URL("../examples/fabric-peer.js", import.meta.url));
const peers: ChildProcess[] = [];

/** A peer process on a port the kernel says is free (tried again on another if it is taken meanwhile). */
async function startPeer(node = "127.0.0.1"): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const p = spawn(process.execPath, [peerJs, String(port), "60"], { stdio: ["ignore", "pipe", attempt < 3 ? "ignore" : "inherit"],
                                                                       env: { ...process.env, DEMIWASM_FABRIC_NODE: node } });
    const up = await new Promise<boolean>((resolve) => {
      p.stdout!.once("data", () => resolve(true));
      p.once("exit", () => resolve(false));
    });
    if (up) { peers.push(p); return port; }
    if (attempt === 3) throw new Error("the fabric peer did not start on three free ports");
  }
}

function connect(port: number, overrides: Record<string, unknown> = {}) {
  const config = loadConfig({ env: {}, overrides });
  const f = new FabricLibOS(config);
  const qd = f.socket();
  const r = f.wait(f.connect(qd, sockaddr(config.fabric.node, port)), 5000);
  assert.is(r.opcode, Opcode.CONNECT, `connect: ret ${r.ret}`);
  return { f, qd };
}

function region(f: FabricLibOS, qd: number, bytes: number): RegionRef {
  const q = f.sgaalloc(32);
  const text = Buffer.from(`region ${bytes}`);
  f.bytes({ buf: q.buf, len: text.length }).set(text);
  const pq = f.pop(qd);
  assert.is(f.wait(f.push(qd, { buf: q.buf, len: text.length }), 2000).ret, 0);
  f.sgafree(q);
  const r = f.wait(pq, 2000);
  const ref = JSON.parse(Buffer.from(f.bytes(r.sga!)).toString()) as RegionRef;
  f.sgafree(r.sga!);
  return ref;
}

const t = available ? test : test.skip;

t("message ping-pong with a second process, zero-copy from the Wasm pool", async () => {
  const { f, qd } = connect(await startPeer());
  assert.equal(f.getpeername(qd).port > 0, true);
  const d = f.describe()!;
  assert.is(d.provider, "tcp;ofi_rxm");
  assert.is(d.domain, "lo");
  for (let i = 0; i < 200; i++) {
    const s = f.sgaalloc(64);
    f.bytes(s).fill(i & 255);
    const pq = f.pop(qd);
    assert.is(f.wait(f.push(qd, s), 2000).ret, 0);
    f.sgafree(s);
    const r = f.wait(pq, 2000);
    assert.is(r.opcode, Opcode.POP);
    assert.is(r.sga!.len, 64);
    assert.ok(f.bytes(r.sga!).every((b) => b === (i & 255)));
    f.sgafree(r.sga!);
  }
  f.shutdown();
});

t("over IPv6: an endpoint on ::1 and a peer on ::1, messages both ways; the other family refused", async () => {
  const { f, qd } = connect(await startPeer("::1"), { "fabric.node": "::1" });
  assert.is(formatSockAddr(f.getsockname(qd)).startsWith("[::1]:"), true);
  for (let i = 0; i < 50; i++) {
    const s = f.sgaalloc(64);
    f.bytes(s).fill(i);
    const pq = f.pop(qd);
    assert.is(f.wait(f.push(qd, s), 2000).ret, 0);
    f.sgafree(s);
    const r = f.wait(pq, 2000);
    assert.ok(r.opcode === Opcode.POP && f.bytes(r.sga!).every((b) => b === i));
    f.sgafree(r.sga!);
  }
  assert.is(errno(() => f.socket(AF_INET)), EAFNOSUPPORT);
  assert.is(errno(() => f.connect(f.socket(), sockaddr("127.0.0.1", 1))), EAFNOSUPPORT);
  f.shutdown();
});

t("waitNextN collects pushes and pops as they complete", async () => {
  const { f, qd } = connect(await startPeer());
  const s = f.sgaalloc(32);
  const qts = [f.pop(qd), f.pop(qd), f.push(qd, s), f.push(qd, s)];
  const rs = f.waitNextN(4, 3000);
  assert.is(rs.length, 4);
  assert.equal(new Set(rs.map((r) => r.qt)), new Set(qts));
  assert.equal(rs.filter((r) => r.opcode === Opcode.POP).length, 2);
  for (const r of rs) if (r.sga) f.sgafree(r.sga);
  f.sgafree(s);
  assert.equal(f.waitNextN(1, 10), []);
  f.shutdown();
});

t("misuse answers with errnos", async () => {
  const { f, qd } = connect(await startPeer());
  assert.is(errno(() => f.socket(2, 2)), ENOTSUP);
  assert.is(errno(() => f.push(999, { buf: 0, len: 1 })), EBADF);
  const big = f.sgaalloc(4096);
  assert.is(errno(() => f.push(qd, big)), EMSGSIZE);
  f.sgafree(big);
  const lone = f.socket();
  assert.is(errno(() => f.push(lone, { buf: 0, len: 1 })), ENOTCONN);
  assert.is(errno(() => f.wait(123456)), 22);
  f.shutdown();
});

t("RMA: 64 MiB written and read back through a 64 KiB remote region, byte-exact", async () => {
  const { f, qd } = connect(await startPeer());
  const ref = region(f, qd, 65536);
  const src = f.sgaalloc(65536);
  const back = f.sgaalloc(65536);
  const wrote = createHash("sha256");
  const read = createHash("sha256");
  for (let i = 0; i < 1024; i++) {
    randomFillSync(f.bytes(src));
    wrote.update(f.bytes(src));
    assert.is(f.wait(f.rdmaWrite(qd, src, ref), 5000).ret, 0, `write ${i}`);
    assert.is(f.wait(f.rdmaRead(qd, back, ref), 5000).ret, 0, `read ${i}`);
    read.update(f.bytes(back));
  }
  assert.is(read.digest("hex"), wrote.digest("hex"));
  f.shutdown();
});

t("a bad key and an out-of-range address complete as FAILED with an errno", async () => {
  // The provider may drop the connection after either (then the next operation says ENOTCONN),
  // so each case gets a connection of its own.
  const port = await startPeer();
  const cases: [string, (r: RegionRef) => RegionRef, boolean][] = [
    ["bad key, write", (r) => ({ ...r, key: r.key + 7777 }), true],
    ["bad key, read", (r) => ({ ...r, key: r.key + 7777 }), false],
    ["out of range, write", (r) => ({ ...r, offset: 1 << 30 }), true],
    ["out of range, read", (r) => ({ ...r, offset: 1 << 30 }), false],
  ];
  for (const [name, forge, write] of cases) {
    const { f, qd } = connect(port);
    const ref = region(f, qd, 4096);
    const sga = f.sgaalloc(4096);
    const qt = write ? f.rdmaWrite(qd, sga, forge(ref)) : f.rdmaRead(qd, sga, forge(ref));
    const r = f.wait(qt, 5000);
    assert.is(r.opcode, Opcode.FAILED, name);
    assert.ok(r.ret > 0 && r.ret !== 110, `${name}: errno ${r.ret}`);
    f.shutdown();
  }
});

t("a peer that dies mid-transfer fails the operations in flight and the pending pop, never hangs", async () => {
  const port = await startPeer();
  const { f, qd } = connect(port, { "fabric.op_timeout_ms": 500 });
  const ref = region(f, qd, 65536);
  const src = f.sgaalloc(65536);
  const pending = f.pop(qd);
  const inflight: number[] = [];
  for (let i = 0; i < 8; i++) inflight.push(f.rdmaWrite(qd, src, ref));
  peers[peers.length - 1].kill("SIGKILL");
  const t0 = Date.now();
  let failed = 0;
  for (let i = 0; i < 200 && failed === 0; i++) {
    inflight.push(f.rdmaWrite(qd, src, ref));
    const r = f.wait(inflight.shift()!, 3000);
    if (r.ret !== 0) failed++;
  }
  const msg = f.sgaalloc(16);
  let sent: number;
  try { sent = f.wait(f.push(qd, msg), 3000).ret; } catch (e) { sent = (e as DemiError).errno; }
  assert.ok(sent !== 0, "a push to the dead peer fails");
  const p = f.wait(pending, 3000);
  assert.is(p.opcode, Opcode.FAILED);
  assert.is(p.ret, ECONNRESET);
  assert.ok(failed > 0 || sent !== 0);
  assert.ok(Date.now() - t0 < 6000, `took ${Date.now() - t0} ms`);
  for (const qt of inflight) f.wait(qt, 3000);
  f.shutdown();
});

t("bench fabric --json ends with rttP50Us, fiPingpongUs and rmaGBps", () => {
  const cli = fileURLToPath(new URL("../host/cli.js", import.meta.url));
  const r = spawnSync(process.execPath, [cli, "bench", "fabric", "--json", "--quick"], { encoding: "utf8", timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split("\n").pop()!);
  for (const k of ["rttP50Us", "fiPingpongUs", "rmaGBps"]) assert.ok(typeof j[k] === "number" && j[k] > 0, `${k}: ${j[k]}`);
});

test.after(() => { for (const p of peers) if (p.exitCode === null) p.kill("SIGKILL"); });
test.run();

// --pcap on the loopback backend: standard pcap files that Debian's tshark (a reader no one here
// wrote) parses, with every IP, UDP and TCP checksum valid and no malformed frame. Also the
// tcp-echo example with Demikernel's flags.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readPcap } from "../host/pcap.js";
import { LoopbackLink } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";
import { sockaddr, AF_INET6, SOCK_DGRAM, SOCK_STREAM } from "../host/libos.js";
import { stack, A_IP, B_IP, A_MAC, B_MAC } from "./helpers.js";
import { transfer, runUntil } from "./tcp.helpers.js";

const cli = fileURLToPath(new URL("../host/cli.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "demiwasm-pcap-"));
const hasTshark = spawnSync("tshark", ["--version"]).status === 0;
if (!hasTshark && process.env.CI) throw new Error("tshark is not installed: .ci/run must install it");

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout;
}

function tshark(file: string, ...args: string[]): string[] {
  const r = spawnSync("tshark", ["-r", file, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
    "-o", "tcp.check_checksum:TRUE", ...args], { encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trim() === "" ? [] : r.stdout.trim().split("\n");
}

test("udp-pingpong --pcap: every frame readable, counted and checksummed right", () => {
  const file = join(dir, "udp.pcap");
  run(["udp-pingpong", "--count", "200", "--pcap", file]);
  const recs = readPcap(new Uint8Array(readFileSync(file)));
  // Warm-up (1000) and measured (200) round trips, two datagrams each, plus ARP's two frames.
  assert.is(recs.length, 2 * 1200 + 2);
  if (!hasTshark) return;
  assert.is(tshark(file, "-Y", "udp").length, 2400);
  assert.equal(tshark(file, "-Y", "arp").length, 2);
  // tshark's heuristic dissectors guess at test payloads; what we check is ours: checksums and
  // every UDP length (64 bytes of payload + 8).
  assert.equal(tshark(file, "-Y", "ip.checksum.status != 1 || udp.checksum.status != 1 || udp.length != 72"), []);
});

test("tcp-echo with Demikernel's flags, captured: tshark sees a clean handshake, data and teardown", () => {
  const file = join(dir, "tcp.pcap");
  const out = run(["tcp-echo", "--bufsize", "100", "--nclients", "2", "--nrequests", "50", "--pcap", file, "--json"]);
  const j = JSON.parse(out.trim().split("\n").pop()!);
  assert.is(j.requests, 100);
  assert.is(j.failed, 0);
  assert.ok(j.rps > 0 && j.p99Us >= j.p50Us);
  if (!hasTshark) return;
  assert.equal(tshark(file, "-Y", "tcp.checksum.status != 1 || ip.checksum.status != 1 || _ws.malformed || _ws.expert.severity >= error"), []);
  assert.is(tshark(file, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0").length, 2);
  assert.is(tshark(file, "-Y", "tcp.flags.fin == 1").length, 4);
  // Every request and echo byte is there: 2 × 50 × 100 bytes each way.
  const lens = tshark(file, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.len").map(Number);
  assert.is(lens.reduce((a, b) => a + b, 0), 2 * 2 * 50 * 100);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test("IPv6 captured: duplicate address detection, Neighbor Discovery, UDP (one datagram in fragments) and a TCP connection, every checksum right for tshark", () => {
  const file = join(dir, "ipv6.pcap");
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1 }, clock, true);
  link.capture(file);
  const a = stack(link, A_IP, A_MAC, { local_ipv6: ["fd00:6::1/64"] }), b = stack(link, B_IP, B_MAC, { local_ipv6: ["fd00:6::2/64"] });
  const p = { clock, link, a, b };
  runUntil(p, () => [a, b].every((s) => s.addresses6().every((x) => x.state === "preferred")));
  const u = b.socket(AF_INET6, SOCK_DGRAM);
  b.bind(u, sockaddr("::", 7));
  const c = a.socket(AF_INET6, SOCK_DGRAM);
  for (const n of [64, 3000]) {
    const sga = a.sgaalloc(n);
    a.bytes(sga).fill(0x5a);
    a.wait(a.pushto(c, sga, sockaddr("fd00:6::2", 7)), 1000);
    a.sgafree(sga);
    const r = b.wait(b.pop(u), 1000);
    assert.is(r.sga!.len, n);
    b.sgafree(r.sga!);
  }
  const l = b.socket(AF_INET6, SOCK_STREAM);
  b.bind(l, sockaddr("::", 80));
  b.listen(l, 4);
  const acc = b.accept(l);
  const t = a.socket(AF_INET6, SOCK_STREAM);
  assert.is(a.wait(a.connect(t, sockaddr("fd00:6::2", 80)), 10_000).ret, 0);
  const s = b.wait(acc, 10_000).acceptedQd!;
  const [x] = transfer(p, [{ from: a, fromQd: t, to: b, toQd: s, total: 200_000, seed: 1 }]);
  assert.is(x.got, x.sent);
  a.close(t); b.close(s);
  runUntil(p, () => a.dp.exports.tcpConnections(0) === a.dp.exports.tcpMaxConnectionCount());
  link.stopCapture();
  if (!hasTshark) return;
  assert.equal(tshark(file, "-Y",
    "(udp && udp.checksum.status != 1) || (tcp && tcp.checksum.status != 1) || (icmpv6 && icmpv6.checksum.status != 1) || _ws.malformed || _ws.expert.severity >= error"), []);
  // What the capture holds, as tshark names it.
  assert.ok(tshark(file, "-Y", "icmpv6.type == 135 && ipv6.src == ::").length >= 2, "DAD probes from ::");
  assert.ok(tshark(file, "-Y", "icmpv6.type == 136").length >= 1, "an advertisement");
  assert.is(tshark(file, "-Y", "ipv6.fraghdr").length, 3, "the 3000-byte datagram in three fragments");
  assert.is(tshark(file, "-Y", "udp.length == 3008").length, 1);
  assert.is(tshark(file, "-Y", "tcp.flags.syn == 1").length, 2);
  const bytes = tshark(file, "-Y", "tcp.len > 0 && ipv6.src == fd00:6::1", "-T", "fields", "-e", "tcp.len").map(Number);
  assert.is(bytes.reduce((m, n) => m + n, 0), 200_000);
});

test.run();

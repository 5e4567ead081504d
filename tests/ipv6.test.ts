// IPv6 on the wire, against Linux's own frames (tests/fixtures/linux-veth6.pcap): a stack with
// Linux's second namespace's addresses and MAC (fd00:6::2, 02:00:00:00:06:02) is sent what the
// first namespace sent, and its answers are compared with what Linux answered. Then Neighbor
// Discovery's states (RFC 4861 §7.3.2) on a virtual clock, and the input it must refuse.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LibOS, sockaddr, AF_INET6, SOCK_DGRAM } from "../host/libos.js";
import { LoopbackLink, type RawPort } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";
import { loadConfig } from "../host/config.js";
import { parseIpv6, formatIpv6 } from "../host/index.js";   // the package's public API
import { ConfigError } from "../host/config.js";
import { pcapFrames, checksum, macBytes, mac, hex } from "./helpers.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const linux = pcapFrames("linux-veth6.pcap");
const OUR_MAC = "02:00:00:00:06:02", PEER_MAC = "02:00:00:00:06:01";

/** A stack holding fd00:6::2 beside a scripted host; unless `probing`, its duplicate address
 *  detection has run (one probe per address, a second of virtual time) and the probes are gone. */
function setup(overrides: Record<string, unknown> = {}, probing = false): { clock: VirtualClock; link: LoopbackLink; s: LibOS; host: RawPort } {
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1 }, clock, true);
  const config = loadConfig({ env: {}, overrides: { local_ipv4: "198.18.0.2", mac: OUR_MAC, local_ipv6: ["fd00:6::2/64"], seed: 7, memory_mb: 16, "pool.small_buffers": 2048, ...overrides } });
  const s = new LibOS({ config, link });
  const host = link.attachRaw(mac(PEER_MAC));
  if (!probing) {
    link.poll();
    clock.advance(1.1e9);
    link.poll(); link.poll();
    host.take();
  }
  return { clock, link, s, host };
}

/** Sends `f` from the scripted host and returns what the stack sent back in one turn. */
function exchange(t: ReturnType<typeof setup>, f: Uint8Array): Uint8Array[] {
  t.host.send(f);
  t.link.poll();
  t.link.poll();
  return t.host.take();
}

/** The frame with its IPv6 flow label cleared (Linux labels its echo replies; we send 0). */
const noFlow = (f: Uint8Array) => { const g = f.slice(); g[15] &= 0xf0; g[16] = 0; g[17] = 0; return g; };

// ---- frames built here (independently of the Wasm emitters) ----
const ip6 = (s: string) => [...parseIpv6(s)!];
function icmp6Frame(dstMac: string, srcMac: string, src: string, dst: string, hop: number, body: number[]): Uint8Array {
  const len = body.length;
  const pseudo = Uint8Array.from([...ip6(src), ...ip6(dst), 0, 0, len >> 8, len & 255, 0, 0, 0, 58]);
  const msg = body.slice();
  msg[2] = 0; msg[3] = 0;
  const c = checksum(Uint8Array.from([...pseudo, ...msg]));
  msg[2] = c >> 8; msg[3] = c & 255;
  return Uint8Array.from([...macBytes(dstMac), ...macBytes(srcMac), 0x86, 0xdd,
    0x60, 0, 0, 0, len >> 8, len & 255, 58, hop, ...ip6(src), ...ip6(dst), ...msg]);
}
const echo = (src: string, srcMac: string, id: number) => icmp6Frame(OUR_MAC, srcMac, src, "fd00:6::2", 64, [128, 0, 0, 0, id >> 8, id & 255, 0, 1, 1, 2, 3, 4]);
function na(srcMac: string, src: string, dst: string, target: string, flags: number, tll: string | null, hop = 255): Uint8Array {
  return icmp6Frame(OUR_MAC, srcMac, src, dst, hop, [136, 0, 0, 0, flags, 0, 0, 0, ...ip6(target), ...(tll ? [2, 1, ...macBytes(tll)] : [])]);
}
const neighbor = (s: LibOS, ip: string) => s.neighbors6().find((n) => n.ip === ip);

test("IPv6 text: RFC 4291 forms in, RFC 5952's canonical form out; local_ipv6 checked with one line naming it", () => {
  const canon = (x: string) => { const b = parseIpv6(x); return b === null ? null : formatIpv6(b); };
  assert.equal(["2001:DB8:0:0:0:0:0:1", "2001:db8::1", "fd00:6:0::0:2", "::", "::1", "fe80::ff:fe00:602", "2001:db8:0:1:1:1:1:1",
                "2001:0:0:1:0:0:0:1", "::ffff:198.18.0.1", "1:2:3:4:5:6:7:8"].map(canon),
               ["2001:db8::1", "2001:db8::1", "fd00:6::2", "::", "::1", "fe80::ff:fe00:602", "2001:db8:0:1:1:1:1:1",
                "2001:0:0:1::1", "::ffff:c612:1", "1:2:3:4:5:6:7:8"]);
  for (const bad of ["", ":::", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::1.2.3", "::256.0.0.1"]) assert.is(parseIpv6(bad), null, bad);
  for (const v of [["fd00::1"], ["fd00::1/129"], ["ff02::1/64"], ["::1/128"], "fd00::1/64,oops/3"]) {
    assert.throws(() => loadConfig({ env: {}, overrides: { local_ipv6: v } }), (e: Error) => e instanceof ConfigError && e.key === "local_ipv6" && !e.message.includes("\n"));
  }
  assert.equal(loadConfig({ env: { DEMIWASM_LOCAL_IPV6: "2001:DB8::1/64, fd00:6::2/48" } }).local_ipv6, ["2001:db8::1/64", "fd00:6::2/48"]);
});

test("the link-local address comes from the MAC (modified EUI-64), the configured one follows", () => {
  const { s } = setup();
  assert.equal(s.addresses6(), [{ address: "fe80::ff:fe00:602/64", state: "preferred" }, { address: "fd00:6::2/64", state: "preferred" }]);
});

test("duplicate address detection (RFC 4862 §5.4): a probe from :: per address, then the address is used", () => {
  const t = setup({}, true);
  assert.equal(t.s.addresses6().map((a) => a.state), ["tentative", "tentative"]);
  t.link.poll(); t.link.poll();
  const probes = t.host.take().filter((f) => f[20] === 58 && f[54] === 135);   // the MLD report aside
  assert.is(probes.length, 2);
  const p = probes.find((f) => f[4] === 0 && f[5] === 2)!;    // to 33:33:ff:00:00:02 (the other is :06:02)
  assert.equal([...p.subarray(0, 6)], [0x33, 0x33, 0xff, 0, 0, 2]);
  assert.equal([p[21], ...p.subarray(22, 38)], [255, ...new Array(16).fill(0)], "hop limit 255, from ::");
  assert.equal([...p.subarray(38, 54)], ip6("ff02::1:ff00:2"));
  assert.equal([p.length, p[54], ...p.subarray(62, 78)], [14 + 40 + 24, 135, ...ip6("fd00:6::2")], "an NS with no link-layer option");
  // While tentative, the address takes nothing but Neighbor Discovery.
  assert.equal(exchange(t, echo("fd00:6::1", PEER_MAC, 1)), []);
  t.clock.advance(1.1e9);
  t.link.poll();
  assert.equal(t.s.addresses6().map((a) => a.state), ["preferred", "preferred"]);
  assert.is(exchange(t, linux[14]).length, 1, "then it answers");
  // With ndp.dad_transmits 0 an address is used at once.
  assert.equal(setup({ "ndp.dad_transmits": 0 }, true).s.addresses6().map((a) => a.state), ["preferred", "preferred"]);
});

test("MLDv2 (RFC 3810): joining reports our solicited-node groups byte for byte as Linux does; queries are answered, bad ones ignored", () => {
  const t = setup({}, true);
  t.link.poll();
  const reports = t.host.take().filter((f) => f[20] === 0 && f[62] === 143);
  // Linux's own report from the namespace with our MAC and addresses, at the same moment (from ::,
  // before DAD): two CHANGE_TO_EXCLUDE records, Router Alert, hop limit 1, to ff02::16.
  assert.is(reports.length, 1);
  assert.is(hex(reports[0]), hex(linux[1]));
  t.clock.advance(1.1e9);
  t.link.poll(); t.link.poll();
  t.host.take();
  const query = (group: string, hop: number, src = "fe80::1") => icmp6Frame("33:33:00:00:00:01", PEER_MAC, src, "ff02::1", hop,
    [130, 0, 0, 0, 0x27, 0x10, 0, 0, ...ip6(group), 0, 125, 0, 0]);
  const answer = (f: Uint8Array) => exchange(t, f).filter((x) => x[20] === 0 && x[62] === 143);
  const general = answer(query("::", 1));
  assert.is(general.length, 1);
  const g = general[0];
  assert.equal([...g.subarray(22, 38)], ip6("fe80::ff:fe00:602"), "from our link-local address, now that it is ours");
  assert.equal([g[68], g[69], g[70], g[90]], [0, 2, 2, 2], "two MODE_IS_EXCLUDE records");
  const len = (g[18] << 8) | g[19];
  const pseudo = Uint8Array.from([...g.subarray(22, 54), 0, 0, 0, len - 8, 0, 0, 0, 58]);
  assert.is(checksum(Uint8Array.from([...pseudo, ...g.subarray(62, 54 + len)])), 0, "checksum");
  const one = answer(query("ff02::1:ff00:2", 1));
  assert.equal([one.length, one[0][69], [...one[0].subarray(74, 90)]], [1, 1, ip6("ff02::1:ff00:2")], "a group-specific query: that group only");
  assert.equal(answer(query("ff02::1:ff00:77", 1)), [], "a group not ours");
  assert.equal(answer(query("::", 64)), [], "hop limit not 1 (§5.1.14)");
  assert.equal(answer(query("::", 1, "fd00:6::1")), [], "not from a link-local address");
  assert.is(t.s.counters()["icmp6.mld_reports_sent"], 3);
});

test("duplicate address detection finds a duplicate: another host's probe or its advertisement; the address is never used", () => {
  for (const other of [linux[3], na("02:00:00:00:06:77", "fe80::77", "ff02::1", "fd00:6::2", 0x20, "02:00:00:00:06:77")]) {
    const t = setup({}, true);
    t.link.poll();
    t.host.take();
    exchange(t, other);                                       // Linux's probe for fd00:6::2 from ::; or an NA for it
    t.clock.advance(2e9); t.link.poll();
    assert.equal(t.s.addresses6().map((a) => a.state), ["preferred", "duplicate"]);
    assert.is(t.s.counters()["ndp.duplicate_addresses"], 1);
    assert.equal(exchange(t, linux[14]), [], "a solicitation for it is not answered");
    assert.equal(exchange(t, echo("fd00:6::1", PEER_MAC, 2)), [], "nor an echo to it");
  }
});

test("Linux's solicitations and echoes get the answers Linux gave, byte for byte", () => {
  const t = setup();
  // Frame 15: NS for fd00:6::2 to its solicited-node group; Linux answered with frame 16.
  assert.equal(exchange(t, linux[14]).map(hex), [hex(linux[15])]);
  // The NS taught us its sender (STALE), and our advertisement to it started the wait for a
  // confirmation (DELAY, §7.3.3).
  assert.equal(neighbor(t.s, "fd00:6::1"), { ip: "fd00:6::1", mac: PEER_MAC, state: "delay" });
  // Frames 17 and 19: echo requests; 18 and 20 the replies (Linux labels its flows, we do not).
  for (const i of [16, 18]) {
    const out = exchange(t, linux[i]);
    assert.equal(out.map(hex), [hex(noFlow(linux[i + 1]))]);
    assert.equal([out[0][15] & 15, out[0][16], out[0][17]], [0, 0, 0]);
  }
  assert.is(neighbor(t.s, "fd00:6::1")!.state, "delay", "a packet to a STALE neighbor starts the wait for confirmation");
  // Frames 300-303: the same for the link-local address.
  assert.equal(exchange(t, linux[299]).map(hex), [hex(linux[300])]);
  assert.equal(exchange(t, linux[301]).map(hex), [hex(noFlow(linux[302]))]);
  const c = t.s.counters();
  assert.equal([c["ndp.advertisements_sent"], c["icmp6.echo_replied"]], [2, 3]);
});

test("Linux's own chatter does no harm and is counted: MLD reports, router solicitations, other hosts' DAD", () => {
  const t = setup();
  const before = t.s.counters();
  const chatter = [0, 1, 4, 6, 8, 9, 10, 11, 12, 13, 27, 28, 5, 7].map((i) => linux[i]);
  for (const f of chatter) assert.equal(exchange(t, f), []);
  const c = t.s.counters();
  // MLD reports (to ff02::16) and router solicitations (to ff02::2): not our groups' MACs. The
  // DAD probes for the peer's own addresses go to its solicited-node groups: not ours either.
  assert.is(c["drop.eth_not_for_us"] - before["drop.eth_not_for_us"], chatter.length);
  assert.equal(t.s.neighbors6(), []);
});

test("a DAD probe for our address is defended: an advertisement to all-nodes, not solicited (RFC 4862 §5.4.3)", () => {
  const t = setup();
  // Frame 4: from ::, for fd00:6::2, to ff02::1:ff00:2, with a nonce option.
  const out = exchange(t, linux[3]);
  assert.is(out.length, 1);
  const f = out[0];
  assert.equal([...f.subarray(0, 6)], [0x33, 0x33, 0, 0, 0, 1], "to all-nodes' MAC");
  assert.equal([...f.subarray(38, 54)], ip6("ff02::1"));
  assert.equal([f[20], f[21], f[54], f[58]], [58, 255, 136, 0x20], "NA, hop limit 255, override only");
  assert.equal(t.s.neighbors6(), [], "a probe from :: teaches nothing");
});

test("resolution: a reply to an unknown neighbor waits for its advertisement, then goes; REACHABLE turns STALE", () => {
  const t = setup();
  const other = t.link.attachRaw(mac("02:00:00:00:06:09"));
  other.send(echo("fd00:6::9", "02:00:00:00:06:09", 7));
  t.link.poll();
  t.link.poll();
  const out = other.take();
  assert.equal(t.host.take().length, 1, "the solicitation is flooded to every port");
  // The multicast solicitation, with our link address, to ff02::1:ff00:9.
  assert.is(out.length, 1);
  assert.equal([...out[0].subarray(0, 6)], [0x33, 0x33, 0xff, 0, 0, 9]);
  assert.equal([out[0][54], ...out[0].subarray(62, 78)], [135, ...ip6("fd00:6::9")]);
  assert.equal([...out[0].subarray(78, 86)], [1, 1, ...macBytes(OUR_MAC)]);
  assert.is(neighbor(t.s, "fd00:6::9")!.state, "incomplete");
  // The solicited advertisement: the queued echo reply goes out to the MAC it names.
  other.send(na("02:00:00:00:06:09", "fd00:6::9", "fd00:6::2", "fd00:6::9", 0x60, "02:00:00:00:06:09"));
  t.link.poll();                                        // the stack takes the advertisement, flushes the queue
  t.link.poll();                                        // the link carries the reply
  const replies = other.take();
  assert.is(replies.length, 1);
  assert.equal([...replies[0].subarray(0, 6)], macBytes("02:00:00:00:06:09"));
  assert.is(replies[0][54], 129);
  assert.is(neighbor(t.s, "fd00:6::9")!.state, "reachable");
  t.clock.advance(31e9);
  t.link.poll();
  assert.is(neighbor(t.s, "fd00:6::9")!.state, "stale");
});

test("resolution that fails: three solicitations a second apart, then the waiting reply is dropped and counted", () => {
  const t = setup();
  assert.is(exchange(t, echo("fd00:6::a", "02:00:00:00:06:0a", 8)).length, 1);
  let sent = 1;
  for (let i = 0; i < 5; i++) { t.clock.advance(1e9); t.link.poll(); sent += t.host.take().length; }
  assert.is(sent, 3);
  assert.is(t.s.counters()["drop.ndp_timeout"], 1);
  assert.is(neighbor(t.s, "fd00:6::a"), undefined);
});

test("PROBE: a DELAY entry not confirmed in 5 s is probed by unicast, and an advertisement makes it REACHABLE", () => {
  const t = setup();
  exchange(t, linux[14]);                               // NS from fd00:6::1: STALE
  exchange(t, linux[16]);                               // our echo reply: DELAY
  t.clock.advance(5.1e9);
  t.link.poll();                                        // the timer fires: PROBE, a solicitation queued
  t.link.poll();                                        // the link carries it
  const probe = t.host.take();
  assert.is(probe.length, 1);
  assert.equal([...probe[0].subarray(0, 6)], macBytes(PEER_MAC), "unicast to the MAC we have");
  assert.equal([...probe[0].subarray(38, 54)], ip6("fd00:6::1"));
  assert.is(neighbor(t.s, "fd00:6::1")!.state, "probe");
  exchange(t, na(PEER_MAC, "fd00:6::1", "fd00:6::2", "fd00:6::1", 0x40, null));
  assert.is(neighbor(t.s, "fd00:6::1")!.state, "reachable");
});

test("ndp.* configure the timers and retries; ndp.table's static neighbors are used at once and never changed by the wire", () => {
  const t = setup({ "ndp.retrans_timer_ms": 200, "ndp.max_multicast_solicit": 2, "ndp.table": { "fd00:6::9": "02:00:00:00:06:09" } });
  // Resolution gives up after two solicitations 200 ms apart.
  assert.is(exchange(t, echo("fd00:6::a", "02:00:00:00:06:0a", 8)).length, 1);
  t.clock.advance(210e6); t.link.poll(); t.link.poll();
  assert.is(t.host.take().length, 1, "the second solicitation");
  t.clock.advance(210e6); t.link.poll(); t.link.poll();
  assert.equal([t.host.take().length, t.s.counters()["drop.ndp_timeout"]], [0, 1]);
  // A static neighbor: the echo reply goes straight to its MAC, no solicitation.
  const other = t.link.attachRaw(mac("02:00:00:00:06:09"));
  other.send(echo("fd00:6::9", "02:00:00:00:06:09", 9));
  t.link.poll(); t.link.poll();
  assert.equal(other.take().map((f) => f[54]), [129]);
  // An advertisement and a solicitation naming another MAC change nothing.
  exchange(t, na("02:00:00:00:06:66", "fd00:6::9", "fd00:6::2", "fd00:6::9", 0x20, "02:00:00:00:06:66"));
  assert.equal(neighbor(t.s, "fd00:6::9"), { ip: "fd00:6::9", mac: "02:00:00:00:06:09", state: "static" });
  for (const [k, v] of [["ndp.table", { "ff02::1": "02:00:00:00:06:09" }], ["ndp.table", { "fd00::1": "nope" }], ["ndp.max_unicast_solicit", 0],
                        ["ndp.retrans_timer_ms", 0]] as const) {
    assert.throws(() => loadConfig({ env: {}, overrides: { [k]: v } }), (e: Error) => e instanceof ConfigError && e.key === k, k);
  }
});

test("bad Neighbor Discovery is refused and counted: hop limit not 255, a spoofed advertisement for our address, an NA flood", () => {
  const t = setup();
  const ns = linux[14].slice();
  ns[21] = 64;                                          // hop limit: a router forwarded it
  assert.equal(exchange(t, ns), []);
  // Someone claims fd00:6::2 is at their MAC.
  assert.equal(exchange(t, na("02:00:00:00:06:66", "fd00:6::66", "fd00:6::2", "fd00:6::2", 0x20, "02:00:00:00:06:66")), []);
  // A flood of unsolicited advertisements for addresses we never asked about.
  for (let i = 0; i < 200; i++) t.host.send(na("02:00:00:00:06:66", "fd00:6::66", "ff02::1", `fd00:6::${(0x100 + i).toString(16)}`, 0x20, "02:00:00:00:06:66"));
  t.link.poll();
  assert.equal(t.host.take(), []);
  const c = t.s.counters();
  assert.equal([c["drop.ndp_invalid"], c["drop.ndp_conflict"], c["icmp6.ignored"]], [1, 1, 200]);
  assert.equal(t.s.neighbors6(), [], "nothing learnt");
  assert.is(t.s.poolAvailable(), t.s.dp.exports.poolSize(), "every slot back");
});

test("Linux's fragmented 3000-byte ping is reassembled and answered in fragments, as Linux answered it", () => {
  const t = setup();
  exchange(t, linux[14]);                               // Linux's NS: we know its MAC
  for (const i of [20, 21]) assert.equal(exchange(t, linux[i]), []);
  const out = exchange(t, linux[22]);
  // Frames 24-26: Linux's reply in three fragments of 1510, 1510 and 174 bytes. Ours are the same
  // but for the flow label and the identification (each sender picks its own, RFC 7739).
  const mask = (f: Uint8Array) => { const g = noFlow(f); g.fill(0, 58, 62); return hex(g); };
  assert.equal(out.map((f) => f.length), [1510, 1510, 174]);
  assert.equal(out.map(mask), [23, 24, 25].map((i) => mask(linux[i])));
  assert.ok(out.every((f) => hex(f.subarray(58, 62)) === hex(out[0].subarray(58, 62))), "one identification");
  const c = t.s.counters();
  assert.equal([c["ip.reassembled"], c["ip6.fragments_sent"], c["icmp6.echo_replied"]], [1, 3, 1]);
  assert.is(t.s.poolAvailable(), t.s.dp.exports.poolSize(), "the large slot and every fragment's back");
});

test("a capture of our IPv6 traffic decodes in tshark with every checksum right: NDP, echoes, fragments, errors", () => {
  const t = setup();
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-ipv6pcap-"));
  try {
    const file = join(dir, "v6.pcap");
    t.link.capture(file);
    for (const i of [14, 16, 20, 21, 22, 26, 299, 301]) exchange(t, linux[i]);   // NS, echo, fragmented echo, UDP, link-local
    t.link.stopCapture();
    if (spawnSync("tshark", ["--version"]).status !== 0) { assert.ok(!process.env.CI, "CI installs tshark"); return; }
    const sh = (...args: string[]) => {
      const r = spawnSync("tshark", ["-r", file, "-o", "udp.check_checksum:TRUE", ...args], { encoding: "utf8" });
      assert.is(r.status, 0, r.stderr);
      return r.stdout.trim() === "" ? [] : r.stdout.trim().split("\n");
    };
    assert.is(sh().length, 8 + 2 + 3 + 1 + 2, "what Linux sent and what we answered: NA, echo reply, 3 fragments, port unreachable, NA, echo reply");
    assert.equal(sh("-Y", "icmpv6 && icmpv6.checksum.status != 1"), [], "every ICMPv6 checksum good");
    assert.equal(sh("-Y", "_ws.malformed || _ws.expert.severity >= error"), []);
    assert.is(sh("-Y", "eth.src == 02:00:00:00:06:02 && ipv6.fraghdr").length, 3, "our three reply fragments");
    assert.is(sh("-Y", "ipv6.reassembled.length == 3008").length, 2, "tshark reassembles Linux's and ours");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fragments that break the rules: overlaps drop the datagram (RFC 5722), a tiny first fragment is refused (RFC 7112)", () => {
  const t = setup();
  exchange(t, linux[14]);
  // The first fragment twice with its offset moved by 8: overlapping data.
  const moved = linux[21].slice(); moved[57] = (moved[57] & 7) | 8;   // offset 1448 -> 1456 (low bits of the 13-bit field)
  moved[56] = linux[21][56];
  exchange(t, linux[20]);
  exchange(t, linux[21]);
  exchange(t, moved);
  assert.equal(exchange(t, linux[22]), [], "the datagram was dropped at the overlap");
  // A first fragment of TCP with 8 bytes: the TCP header (20) is not all in it (RFC 7112).
  const tiny = linux[20].slice(0, 14 + 40 + 8 + 8);
  tiny[18] = 0; tiny[19] = 16; tiny[54] = 6;
  assert.equal(exchange(t, tiny), []);
  // A fragment with more to come whose length is not a multiple of 8: a parameter problem at the
  // payload length field (RFC 8200 §4.5).
  const odd = linux[20].slice(0, 14 + 40 + 8 + 12);
  odd[18] = 0; odd[19] = 20;
  const pp = exchange(t, odd);
  assert.is(pp.length, 1);
  assertError(pp[0], 4, 0, 4, odd.subarray(14), "fd00:6::1");
  // TCP over IPv6 to a port no one listens on: a reset (RFC 9293 §3.10.7.1), from the address
  // it was sent to.
  const syn6 = linux.find((f) => f[20] === 6 && f[6 + 5] === 1)!;
  const rst = exchange(t, syn6);
  assert.is(rst.length, 1);
  assert.equal([rst[0][20], rst[0][54 + 13] & 0x04], [6, 0x04]);
  assert.equal([...rst[0].subarray(22, 38)], [...syn6.subarray(38, 54)]);
  // The last fragment, after the overlap, began a datagram of its own: it times out.
  // (Meanwhile fd00:6::1 went from DELAY to PROBE: the probe in flight comes back in two turns.)
  t.clock.advance(31e9);
  for (let i = 0; i < 3; i++) t.link.poll();
  const c = t.s.counters();
  assert.equal([c["drop.frag_overlap"], c["drop.ip6_fragment_chain"], c["drop.tcp_no_listener"], c["drop.frag_timeout"]], [1, 1, 1, 1]);
  assert.is(t.s.poolAvailable(), t.s.dp.exports.poolSize(), "every slot back");
});

test("Packet Too Big (RFC 8201): the path's MTU goes down to what it says, never below 1280, only for packets of ours, and back after ten minutes", () => {
  const t = setup();
  exchange(t, linux[14]);                               // Linux's NS: we know fd00:6::1's MAC
  const q = t.s.socket(AF_INET6, SOCK_DGRAM);
  const send = (n: number) => {
    const sga = t.s.sgaalloc(n);
    t.s.bytes(sga).fill(7);
    assert.is(t.s.wait(t.s.pushto(q, sga, sockaddr("fd00:6::1", 9)), 100).ret, 0);
    t.s.sgafree(sga);
    t.link.poll(); t.link.poll();
    return t.host.take().filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] !== 58);
  };
  const first = send(1400);
  assert.equal(first.map((f) => f.length), [14 + 40 + 8 + 1400]);
  // A router on the way says the next hop takes `mtu`: it quotes the packet's first 1232 bytes.
  const tooBig = (mtu: number, quoted: Uint8Array) => icmp6Frame(OUR_MAC, PEER_MAC, "fd00:6::fe", "fd00:6::2", 64,
    [2, 0, 0, 0, mtu >>> 24, (mtu >> 16) & 255, (mtu >> 8) & 255, mtu & 255, ...quoted.subarray(14, 14 + 1232)]);
  const c = () => t.s.counters();
  exchange(t, tooBig(1200, first[0]));                  // below IPv6's minimum (RFC 8021: no atomic fragments)
  const forged = first[0].slice(); forged.set(ip6("fd00:6::77"), 22);
  exchange(t, tooBig(1280, forged));                    // about a packet we never sent
  assert.equal([c()["drop.icmp6_ptb_refused"], c()["icmp6.path_mtu_lowered"]], [2, 0]);
  assert.is(send(1400).length, 1, "nothing changed");
  exchange(t, tooBig(1280, first[0]));
  assert.is(c()["icmp6.path_mtu_lowered"], 1);
  const frags = send(1400);
  assert.is(frags.length, 2, "in fragments now");
  for (const f of frags) {
    assert.is(f[20], 44, "a fragment header");
    assert.ok(40 + ((f[18] << 8) | f[19]) <= 1280, "each fits the path");
  }
  exchange(t, tooBig(1400, first[0]));                  // a PTB never raises the estimate
  assert.is(c()["drop.icmp6_ptb_refused"], 3);
  // Ten minutes on (RFC 8201 §5.3), the path is tried at the link's MTU again.
  t.clock.advance(601e9);
  for (let i = 0; i < 3; i++) t.link.poll();
  exchange(t, linux[14]);
  assert.is(send(1400).length, 1);
});

/** Recomputes the UDP checksum of an IPv6/UDP frame (no extension headers) after a test changed it. */
function fixUdp6(f: Uint8Array): void {
  const len = (f[18] << 8) | f[19];
  f[60] = 0; f[61] = 0;
  const c = checksum(Uint8Array.from([...f.subarray(22, 54), 0, 0, len >> 8, len & 255, 0, 0, 0, 17, ...f.subarray(54, 54 + len)]));
  f[60] = c >> 8; f[61] = c & 255;
}

/** Checks an ICMPv6 error frame: type, code, 32-bit field, the invoking packet as its body, the checksum. */
function assertError(f: Uint8Array, type: number, code: number, param: number, invoking: Uint8Array, to: string) {
  assert.equal([f[20], f[21], f[54], f[55]], [58, 64, type, code]);
  assert.equal([...f.subarray(38, 54)], ip6(to));
  assert.is(new DataView(f.buffer, f.byteOffset).getUint32(58), param);
  assert.is(hex(f.subarray(62)), hex(invoking.subarray(0, Math.min(invoking.length, 1280 - 48))));
  const len = (f[18] << 8) | f[19];
  const pseudo = Uint8Array.from([...f.subarray(22, 54), 0, 0, len >> 8, len & 255, 0, 0, 0, 58]);
  assert.is(checksum(Uint8Array.from([...pseudo, ...f.subarray(54, 54 + len)])), 0, "checksum");
}

test("errors (RFC 4443): port unreachable for UDP, parameter problems pointing at the fault, rate-limited", () => {
  const t = setup();
  exchange(t, linux[14]);                               // Linux's NS: we know its MAC
  // Linux's "hello udp6" to port 7000, which no socket of ours has bound.
  const udp = linux[26];
  let out = exchange(t, udp);
  assert.is(out.length, 1);
  assertError(out[0], 1, 4, 0, udp.subarray(14), "fd00:6::1");
  // A destination option whose type says "discard and report" (10xxxxxx): code 2, at the option.
  const opt = icmp6Frame(OUR_MAC, PEER_MAC, "fd00:6::1", "fd00:6::2", 64, []);
  const withOpt = (nh: number, ext: number[], l4: number[]) => {
    const body = [...ext, ...l4];
    const f = Uint8Array.from([...opt.subarray(0, 54), ...body]);
    f[18] = body.length >> 8; f[19] = body.length & 255; f[20] = nh;
    return f;
  };
  const bad = withOpt(60, [59, 0, 0x83, 2, 0, 0, 1, 0], []);
  out = exchange(t, bad);
  assertError(out[0], 4, 2, 42, bad.subarray(14), "fd00:6::1");
  // An upper layer we do not know (253, for experiments): code 1, at the fixed header's field.
  const unknown = withOpt(253, [], [1, 2, 3, 4, 5, 6, 7, 8]);
  out = exchange(t, unknown);
  assertError(out[0], 4, 1, 6, unknown.subarray(14), "fd00:6::1");
  // No errors about packets to a group or from the unspecified address (§2.4(e)).
  const toGroup = udp.slice(); toGroup.set(ip6("ff02::1"), 38); toGroup.set([0x33, 0x33, 0, 0, 0, 1], 0);
  fixUdp6(toGroup);
  const groupBefore = t.s.counters()["drop.udp_no_socket"];
  assert.equal(exchange(t, toGroup), []);
  assert.is(t.s.counters()["drop.udp_no_socket"], groupBefore + 1, "it reached UDP (checksum right) and got no error");
  // A datagram with a bad checksum is dropped as such, not answered.
  const corrupt = udp.slice(); corrupt[corrupt.length - 1] ^= 1;
  assert.equal(exchange(t, corrupt), []);
  assert.is(t.s.counters()["drop.udp_bad_checksum"], 1);
  // The rate limit: ten at once, then one per 10 ms.
  const c0 = t.s.counters()["icmp6.errors_sent"];
  for (let i = 0; i < 30; i++) t.host.send(udp);
  t.link.poll(); t.link.poll();
  assert.is(t.host.take().length, 7, "what the burst had left after the three above");
  let c = t.s.counters();
  assert.equal([c["icmp6.errors_sent"] - c0, c["icmp6.errors_rate_limited"]], [7, 23]);
  t.clock.advance(1e9);
  assert.is(exchange(t, udp).length, 1, "refilled");
  assert.is(t.s.poolAvailable(), t.s.dp.exports.poolSize(), "every slot back");
});

test.run();

// Network functions in their sandboxes: the sample NFs (AssemblyScript and C) on real frames,
// hostile NFs contained and counted while the rest of the traffic goes on, forbidden imports
// refused at load, quarantine, and hot reload without losing or reordering a packet.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Chain } from "../host/nf/chain.js";
import { checkNfModule } from "../host/nf/loader.js";
import { parseManifest } from "../host/nf/manifest.js";
import { Verdict, AREA_COUNTERS, NF_COUNTERS } from "../host/nf/abi.js";
import { nfRates, formatRates, Redraw } from "../host/nf/run.js";
import { Views } from "../host/link/copy.js";
import { workloads, baselineManifest } from "../host/bench/nf.js";
import { NF_DIR, sample, watNf, perPacketNf, wat, udpTo, udp6To, batchOf, frameOut, checksumsOk, checksums6Ok, SRC, SRC6, DST6 } from "./nf.helpers.js";
import { eth, ipv6, ipv4, udp, checksum, hex } from "./helpers.js";
import { parseIpv6, formatIpv6 } from "../host/ipv6.js";
import binaryen from "binaryen";

const hasC = existsSync(join(NF_DIR, "portblock.wasm"));
if (!hasC && process.env.CI) throw new Error("the C sample NF was not built: .ci/run must install clang lld wasi-libc libclang-rt-14-dev-wasm32");

let clockNs = 1e12;
const now = () => clockNs;
const chain = (ms: ReturnType<typeof sample>[], dir: 0 | 1 = 0, ports = 1) => new Chain(ms, 0, dir, ports, undefined, now);
const ipOf = (f: Uint8Array, at: number) => `${f[at]}.${f[at + 1]}.${f[at + 2]}.${f[at + 3]}`;
const portOf = (f: Uint8Array, at: number) => (f[at] << 8) | f[at + 1];

test("flowmon counts packets and bytes per 5-tuple and passes everything", () => {
  const c = chain([sample("flowmon", { maps: [{ name: "flows", kind: "lru", capacity: 1024 }] })]);
  const frames = [udpTo("198.18.0.1", 7), udpTo("198.18.0.1", 7), udpTo("198.18.0.1", 9), udpTo("198.18.0.1", 7, "10.0.0.3")];
  const b = batchOf(frames);
  c.run(b);
  assert.equal([...b.verdict.subarray(0, 4)], [0, 0, 0, 0]);
  const flows = c.nf("flowmon").privateMaps;
  assert.is(flows.count("flows"), 3);
  const byKey = flows.entries("flows").map(([, , v]) => [Number(v >> 32n), Number(v & 0xffffffffn)]).sort();
  assert.equal(byKey, [[1, frames[2].length], [1, frames[3].length], [2, 2 * frames[0].length]].sort());
  assert.is(c.nf("flowmon").stats.counters[0], 3, "counter 0: flows seen");
});

test("the lossy link drops its seeded share of the chosen protocol, the same frames for the same seed", () => {
  const run = (seed: number) => {
    const c = chain([sample("lossy", { memory_pages: 4, config: { loss_ppm: 200000, seed, proto: "udp" } })]);
    const drops: number[] = [];
    for (let k = 0; k < 50; k++) {
      const b = batchOf(Array.from({ length: 20 }, () => udpTo("198.18.0.1", 7)));
      c.run(b);
      b.verdict.subarray(0, 20).forEach((v, i) => { if (v === Verdict.DROP) drops.push(k * 20 + i); });
    }
    assert.is(c.nf("lossy").stats.counters[0], drops.length);
    return drops;
  };
  const a = run(7);
  assert.ok(a.length > 150 && a.length < 250, `${a.length} of 1000 dropped at 20%`);
  assert.equal(run(7), a, "the same seed drops the same frames");
  assert.not.equal(run(8), a);
  const tcpOnly = chain([sample("lossy", { memory_pages: 4, config: { loss_ppm: 1000000, seed: 1 } })]);
  const b = batchOf([udpTo("198.18.0.1", 7)]);
  tcpOnly.run(b);
  assert.is(b.verdict[0], Verdict.PASS, "proto tcp (the default) leaves UDP alone");
});

test("the rate limiter passes a burst per source, drops the excess, and refills with time", () => {
  const c = chain([sample("ratelimit", { maps: [{ name: "buckets", kind: "lru", capacity: 64 }], config: { rate: 10, burst: 5 } })]);
  const b = batchOf([...Array.from({ length: 20 }, () => udpTo(SRC.replace(".2", ".2"), 7)), udpTo("198.18.0.1", 7, "10.9.9.9")]);
  c.run(b);
  const v = [...b.verdict.subarray(0, 21)];
  assert.equal(v.slice(0, 20).filter((x) => x === Verdict.PASS).length, 5);
  assert.is(v[20], Verdict.PASS, "another source has its own bucket");
  clockNs += 500e6;                                     // half a second: 5 more tokens at 10/s
  const b2 = batchOf(Array.from({ length: 10 }, () => udpTo("198.18.0.1", 7)));
  c.run(b2);
  assert.is([...b2.verdict.subarray(0, 10)].filter((x) => x === Verdict.PASS).length, 5);
  assert.is(c.nf("ratelimit").stats.counters[0], 15 + 5);
});

test("the firewall passes what its ACL allows and answers to flows the stack opened, drops the rest", () => {
  const shared = { maps: [{ name: "conntrack", kind: "lru", capacity: 1024 }], config: { allow: "icmp,udp/7", timeout_ms: 1000 } };
  const inbound = chain([sample("firewall", shared)], 0);
  const fw = inbound.nf("firewall");
  // The same NF instance sees both directions when a chain on each side shares it: emulate with
  // the out direction on a second chain over the same maps is not needed — run dir OUT then IN.
  const out = new Chain([sample("firewall", shared)], 0, 1, 1, undefined, now);
  const b = batchOf([udpTo("198.18.0.1", 7), udpTo("198.18.0.1", 9)]);
  inbound.run(b);
  assert.equal([...b.verdict.subarray(0, 2)], [Verdict.PASS, Verdict.DROP]);
  assert.is(fw.stats.counters[0], 1);
  // The stack (198.18.0.1:5000) talks to 10.0.0.2:53 out; the answer comes back in.
  const o = batchOf([udpTo("10.0.0.2", 53, "198.18.0.1", 5000)]);
  out.run(o);
  assert.is(o.verdict[0], Verdict.PASS);
  const outFw = out.nf("firewall");
  assert.is(outFw.privateMaps.count("conntrack"), 1);
  // Its private maps are its own: the inbound chain's firewall has not seen the flow.
  assert.is(fw.privateMaps.count("conntrack"), 0);
});

test("a firewall whose conntrack map is shared lets the answers of an outbound flow in, until the timeout", () => {
  const m = (dir: string) => sample("firewall", { name: `fw-${dir}`, maps: [{ name: "conntrack", kind: "lru", capacity: 1024, shared: true }], config: { allow: "icmp", timeout_ms: 1000 } });
  const both = new Chain([m("out")], 0, 1, 1, undefined, now);
  const into = new Chain([m("in")], 0, 0, 1, both.shared, now);
  const o = batchOf([udpTo("10.0.0.2", 53, "198.18.0.1", 5000)]);
  both.run(o);
  const answer = () => { const b = batchOf([udpTo("198.18.0.1", 5000, "10.0.0.2", 53), udpTo("198.18.0.1", 5001, "10.0.0.2", 53)]); into.run(b); return [...b.verdict.subarray(0, 2)]; };
  assert.equal(answer(), [Verdict.PASS, Verdict.DROP], "the reply passes, a packet to another port does not");
  clockNs += 2000e6;
  assert.equal(answer(), [Verdict.DROP, Verdict.DROP], "after timeout_ms the entry no longer opens the door");
});

// ---- IPv6 in the SDKs and the samples ----
const ndp6 = (type: number, hop: number) => eth("02:00:00:00:00:01", "02:00:00:00:00:02", 0x86dd,
  ipv6(SRC6, DST6, 58, Uint8Array.from([type, 0, 0, 0, 0, 0, 0, 0, ...parseIpv6(DST6)!]), hop));
const echo6 = (dst: string) => eth("02:00:00:00:00:01", "02:00:00:00:00:02", 0x86dd, ipv6(SRC6, dst, 58, Uint8Array.from([128, 0, 0, 0, 0, 1, 0, 1, 9, 9])));
const addr6 = (f: Uint8Array, at: number) => formatIpv6(f.subarray(at, at + 16));

test("flowmon keys IPv6 flows by their 5-tuple, past extension headers; IPv4 and IPv6 flows stay apart", () => {
  const c = chain([sample("flowmon", { maps: [{ name: "flows", kind: "lru", capacity: 1024 }] })]);
  const hopByHop = [17, 0, 1, 4, 0, 0, 0, 0];                // next header UDP, 8 bytes, a PadN option
  const frames = [udp6To(DST6, 7), udp6To(DST6, 7, SRC6, 4000, new Uint8Array(18), hopByHop, 0), udp6To(DST6, 9), udp6To(DST6, 7, "fd00::3"),
                  udpTo("198.18.0.1", 7)];
  const b = batchOf(frames);
  c.run(b);
  const flows = c.nf("flowmon").privateMaps;
  assert.is(flows.count("flows"), 4, "the hop-by-hop header hides no flow: two packets of one");
  const pkts = flows.entries("flows").map(([, , v]) => Number(v >> 32n)).sort();
  assert.equal(pkts, [1, 1, 1, 2]);
  // IPv6 keys carry bit 8 of k1: never an IPv4 key.
  assert.is(flows.entries("flows").filter(([, k1]) => (k1 & 0x100n) !== 0n).length, 3);
});

test("the firewall tracks IPv6 flows, applies its ACL to IPv6 (icmp covering ICMPv6), and always passes Neighbor Discovery", () => {
  const m = (dir: string) => sample("firewall", { name: `fw6-${dir}`, maps: [{ name: "conntrack", kind: "lru", capacity: 1024, shared: true }], config: { allow: "udp/7" } });
  const out = new Chain([m("out")], 0, 1, 1, undefined, now);
  const into = new Chain([m("in")], 0, 0, 1, out.shared, now);
  const o = batchOf([udp6To("fd00::2", 53, DST6, 5000)]);
  out.run(o);
  assert.is(o.verdict[0], Verdict.PASS);
  const b = batchOf([udp6To(DST6, 7), udp6To(DST6, 9), udp6To(DST6, 5000, "fd00::2", 53), udp6To(DST6, 5000, "fd00::9", 53),
                     ndp6(135, 255), ndp6(136, 255), ndp6(135, 64), echo6(DST6)]);
  into.run(b);
  assert.equal([...b.verdict.subarray(0, 8)], [Verdict.PASS, Verdict.DROP, Verdict.PASS, Verdict.DROP, Verdict.PASS, Verdict.PASS, Verdict.DROP, Verdict.DROP],
    "ACL, the answer of the tracked flow (not another source's), NS and NA with hop limit 255 (not 64), echo without 'icmp'");
  const icmp = sample("firewall", { maps: [{ name: "conntrack", kind: "lru", capacity: 16 }], config: { allow: "icmp" } });
  const e = batchOf([echo6(DST6)]);
  chain([icmp]).run(e);
  assert.is(e.verdict[0], Verdict.PASS, "'icmp' covers ICMPv6");
});

test("vip6 (sdk.rewriteAddr6): a virtual IPv6 address in front of the stack, every checksum right after the rewrite", () => {
  const spec = { config: { vip: "fd00:6::80", real: DST6 } };
  const into = chain([sample("vip6", spec)], 0);
  const tcp = new Uint8Array(20); tcp[0] = 0x9c; tcp[1] = 0x40; tcp[3] = 80; tcp[12] = 0x50; tcp[13] = 0x02;
  const syn = eth("02:00:00:00:00:01", "02:00:00:00:00:02", 0x86dd, ipv6(SRC6, "fd00:6::80", 6, tcp));
  const b = batchOf([udp6To("fd00:6::80", 7), syn, echo6("fd00:6::80"), ndp6(135, 255), udp6To("fd00:6::99", 7)]);
  into.run(b);
  const f = [0, 1, 2, 3, 4].map((i) => frameOut(b, i));
  assert.equal(f.map((x) => addr6(x, 38)), [DST6, DST6, DST6, DST6, "fd00:6::99"], "UDP, TCP and echo to the VIP reach the real address; NDP and others untouched");
  assert.ok(f.every(checksums6Ok), "UDP, TCP and ICMPv6 checksums right");
  assert.is(into.nf("vip6").stats.counters[0], 3);
  const back = chain([sample("vip6", spec)], 1);
  const r = batchOf([udp6To("fd00::2", 4000, DST6, 7)]);
  back.run(r);
  const g = frameOut(r, 0);
  assert.equal([addr6(g, 22), checksums6Ok(g)], ["fd00:6::80", true], "the answer leaves from the VIP");
});

test("NAT rewrites inside sources to the public address and a port from its range, and maps answers back, checksums right", () => {
  const spec = { maps: [{ name: "snat", kind: "hash", capacity: 256 }, { name: "dnat", kind: "hash", capacity: 256 }],
                 config: { public_ip: "203.0.113.1", inside: "10.0.0.0/24", port_min: 40000, port_max: 40003 } };
  const out = chain([sample("nat", spec)], 1);
  const b = batchOf([udpTo("198.51.100.7", 53, "10.0.0.2", 1111), udpTo("198.51.100.7", 53, "10.0.0.3", 1111), udpTo("198.51.100.7", 53, "10.0.0.2", 1111), udpTo("198.51.100.7", 53, "192.0.2.9", 7)]);
  out.run(b);
  const f = [0, 1, 2, 3].map((i) => frameOut(b, i));
  assert.equal(f.slice(0, 3).map((x) => ipOf(x, 26)), ["203.0.113.1", "203.0.113.1", "203.0.113.1"]);
  assert.equal(f.slice(0, 3).map((x) => portOf(x, 34)), [40000, 40001, 40000], "one port per inside address and port");
  assert.is(ipOf(f[3], 26), "192.0.2.9", "outside the inside prefix: untouched");
  assert.ok(f.every(checksumsOk), "IP and UDP checksums updated incrementally");
  // The answers come back in through a NAT that shares the mapping (same instance, dir IN).
  const nat = out.nf("nat");
  const inChain = new Chain([], 0, 0);
  assert.is(inChain.nfs.length, 0);
  const back = batchOf([udpTo("203.0.113.1", 40001, "198.51.100.7", 53), udpTo("203.0.113.1", 40002, "198.51.100.7", 53)]);
  // Same NF, inbound direction: run it directly.
  for (let i = 0; i < 2; i++) nat.write(i, new Views(back.mem), back.off[i], back.len[i]);
  assert.ok(nat.run(2, 0, 0));
  assert.is(nat.verdict(0, 1), Verdict.PASS);
  const g = nat.memory.slice(nat.got.off, nat.got.off + nat.got.len);
  assert.equal([ipOf(g, 30), portOf(g, 36)], ["10.0.0.3", 1111]);
  assert.ok(checksumsOk(g));
  assert.is(nat.verdict(1, 1), Verdict.DROP, "no mapping for 40002");
  // Port exhaustion: 4 ports, 4 new inside flows more than fill it.
  const many = batchOf([2, 3, 4, 5, 6].map((h) => udpTo("198.51.100.7", 53, `10.0.0.${h}`, 2222)));
  out.run(many);
  assert.equal([...many.verdict.subarray(0, 5)], [0, 0, Verdict.DROP, Verdict.DROP, Verdict.DROP]);
  assert.is(nat.stats.counters[0], 3, "counter 0: no free port");
});

test("Maglev sends each flow to one backend, spreads flows evenly, and rewrites MAC and address", () => {
  const backends = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"];
  const macs = ["02:00:00:00:10:01", "02:00:00:00:10:02", "02:00:00:00:10:03", "02:00:00:00:10:04"];
  const c = chain([sample("maglev", { config: { vip: "198.18.0.100", backends, macs } })]);
  const picks = new Map<string, number>();
  const counts = new Map<string, number>();
  for (let round = 0; round < 2; round++) {
    for (let s = 0; s < 1024; s += 32) {
      const frames = Array.from({ length: 32 }, (_, k) => udpTo("198.18.0.100", 80, `10.2.${(s + k) >> 8}.${(s + k) & 255}`, 1000 + s + k));
      const b = batchOf(frames);
      c.run(b);
      for (let k = 0; k < 32; k++) {
        assert.is(b.verdict[k], Verdict.TX);
        const f = frameOut(b, k), be = ipOf(f, 30);
        const i = backends.indexOf(be);
        assert.ok(i >= 0, be);
        assert.equal([...f.subarray(0, 6)].map((x) => x.toString(16).padStart(2, "0")).join(":"), macs[i]);
        assert.ok(checksumsOk(f));
        const key = `${s + k}`;
        if (round === 0) { picks.set(key, i); counts.set(be, (counts.get(be) ?? 0) + 1); }
        else assert.is(i, picks.get(key), "the same flow, the same backend");
      }
    }
  }
  for (const be of backends) assert.ok(Math.abs((counts.get(be) ?? 0) - 256) < 256 * 0.3, `${be}: ${counts.get(be)}`);
  const other = batchOf([udpTo("198.18.0.1", 80)]);
  c.run(other);
  assert.is(other.verdict[0], Verdict.PASS);
});

/** An IPv4/TCP frame (a bare 20-byte header, ACK set) with right checksums. */
function tcpTo(dst: string, dport: number, src = SRC, sport = 4000): Uint8Array {
  const t = new Uint8Array(20);
  t.set([sport >> 8, sport & 255, dport >> 8, dport & 255, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff]);
  const ipb = (x: string) => x.split(".").map(Number);
  const c = checksum(Uint8Array.from([...ipb(src), ...ipb(dst), 0, 6, 0, 20, ...t]));
  t[16] = c >> 8; t[17] = c & 255;
  return eth("02:00:00:00:00:01", "02:00:00:00:00:02", 0x0800, ipv4({ src, dst, proto: 6 }, t));
}

const portblockLangs: [string, string, boolean][] = [
  ["assemblyscript", "portblock-as.wasm", true],
  ["c", "portblock.wasm", hasC],
  ["rust", "portblock-rs.wasm", existsSync(join(NF_DIR, "portblock-rs.wasm"))],
];

test("portblock in AssemblyScript, C and Rust: the same verdicts, the same bytes, the same map and counter", () => {
  const noSum = udpTo("198.18.0.1", 8080);
  noSum[40] = 0; noSum[41] = 0;                                        // UDP over IPv4 without a checksum
  const fragment = eth("02:00:00:00:00:01", "02:00:00:00:00:02", 0x0800, ipv4({ src: SRC, dst: "198.18.0.1", proto: 17, mf: true }, udp(SRC, "198.18.0.1", 1, 53, new Uint8Array(8))));
  const cutTcp = tcpTo("198.18.0.1", 8080).subarray(0, 14 + 20 + 10);   // the checksum field is past the end
  const frames = [udpTo("198.18.0.1", 53), udpTo("198.18.0.1", 80), tcpTo("198.18.0.1", 6379), udpTo("198.18.0.1", 8080),
    tcpTo("198.18.0.1", 8080), noSum, udp6To(DST6, 8080, SRC6, 4000, new Uint8Array(18), [17, 0, 1, 4, 0, 0, 0, 0], 0), udp6To(DST6, 53),
    fragment, cutTcp, udpTo("198.18.0.1", 5353), eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02", 0x0806, new Uint8Array(28))];
  const want = [Verdict.DROP, Verdict.PASS, Verdict.DROP, Verdict.PASS, Verdict.PASS, Verdict.PASS, Verdict.PASS, Verdict.DROP,
    Verdict.PASS, Verdict.PASS, Verdict.PASS, Verdict.PASS];
  const results: { lang: string; verdicts: number[]; out: string[]; hits: (bigint | null)[]; rewrites: number }[] = [];
  for (const [lang, file, built] of portblockLangs) {
    if (!built) { console.log(`  (portblock in ${lang}: not built here; its toolchain is missing)`); continue; }
    const c = chain([parseManifest({ name: "portblock", module: join(NF_DIR, file), memory_pages: 16, maps: [{ name: "hits", kind: "array", capacity: 65536 }],
                                     config: { block: [53, 6379], rewrite: "8080=80,5353=53" } })]);
    const b = batchOf(frames);
    c.run(b);
    const nf = c.nf("portblock");
    results.push({ lang, verdicts: [...b.verdict.subarray(0, frames.length)], out: frames.map((_, i) => hex(frameOut(b, i))),
                   hits: [53n, 6379n].map((p) => nf.privateMaps.get("hits", p)), rewrites: nf.stats.counters[0] });
    assert.equal(results.at(-1)!.verdicts, want, lang);
    const out = frames.map((_, i) => frameOut(b, i));
    assert.equal([3, 4, 5].map((i) => (out[i][36] << 8) | out[i][37]), [80, 80, 80], `${lang}: IPv4 8080 → 80`);
    assert.equal((out[6][64] << 8) | out[6][65], 80, `${lang}: IPv6 8080 → 80, past a hop-by-hop header`);
    assert.ok(checksumsOk(out[3]) && checksumsOk(out[4]), `${lang}: UDP and TCP checksums updated`);
    assert.equal([out[5][40], out[5][41]], [0, 0], `${lang}: no UDP checksum stays none`);
    assert.equal(hex(out[9]), hex(cutTcp), `${lang}: a TCP header cut before its checksum is left alone`);
    assert.equal((out[10][36] << 8) | out[10][37], 53, `${lang}: rewritten to a blocked port: rewritten, not blocked (one look per packet)`);
    assert.equal(results.at(-1)!.hits, [2n, 1n], `${lang}: hits per port`);
    assert.is(results.at(-1)!.rewrites, 5, `${lang}: counter 0 counts rewrites`);
  }
  assert.ok(results.length >= 1);
  for (const r of results.slice(1)) assert.equal({ ...r, lang: "" }, { ...results[0], lang: "" }, `${r.lang} = ${results[0].lang}`);
  // Config each refuses the same way: a port past 65535, a pair without its second half, port 0.
  for (const [lang, file, built] of portblockLangs) {
    if (!built) continue;
    for (const config of [{ block: "70000" }, { rewrite: "8080" }, { rewrite: "8080=0" }]) {
      assert.throws(() => chain([parseManifest({ name: "pb", module: join(NF_DIR, file), memory_pages: 16, maps: [{ name: "hits", kind: "array", capacity: 65536 }], config })]),
        /refused its config \(nf_init returned 3\)/, `${lang} ${JSON.stringify(config)}`);
    }
  }
});

test("bench nf's C baselines, compiled to Wasm, decide and rewrite as the samples do on the bench's own traffic", () => {
  if (!existsSync(join(NF_DIR, "baseline.wasm"))) { console.log("  (baseline.wasm: not built here; clang for wasm32 is missing)"); return; }
  const rewritten: Record<string, number> = {};
  for (const w of workloads().filter((x) => x.lang === "assemblyscript")) {
    const own = new Chain([parseManifest({ name: w.name, module: join(NF_DIR, w.file), ...w.manifest })], 0, w.dir as 0 | 1, 1, undefined, now);
    const base = new Chain([baselineManifest(w)], 0, w.dir as 0 | 1, 1, undefined, now);
    rewritten[w.name] = 0;
    // Twice over the flows: the second round finds them in the maps.
    for (let k = 0; k < 2 * w.frames.length; k += 32) {
      const frames = Array.from({ length: 32 }, (_, i) => w.frames[(k + i) % w.frames.length]);
      const a = batchOf(frames), b = batchOf(frames);
      own.run(a);
      base.run(b);
      assert.equal([...b.verdict.subarray(0, 32)], [...a.verdict.subarray(0, 32)], `${w.name}: verdicts`);
      assert.equal([...b.arg.subarray(0, 32)], [...a.arg.subarray(0, 32)], `${w.name}: args`);
      frames.forEach((f, i) => {
        assert.is(hex(frameOut(b, i)), hex(frameOut(a, i)), `${w.name}: frame ${k + i}`);
        if (hex(frameOut(a, i)) !== hex(f)) rewritten[w.name]++;
      });
    }
    assert.is(base.nfs[0].stats.traps + own.nfs[0].stats.traps, 0, w.name);
  }
  // Not just equal: the rewriting samples rewrote (NAT and Maglev every frame, portblock its 8080s).
  assert.equal(rewritten, { flowmon: 0, ratelimit: 0, firewall: 0, nat: 2048, maglev: 2048, portblock: 512 });
});

test("the live view: rates between two snapshots, drawn over the last drawing on a terminal", () => {
  const c = chain([sample("flowmon", { maps: [{ name: "flows", kind: "lru", capacity: 64 }] })]);
  c.run(batchOf([udpTo("198.18.0.1", 7), udpTo("198.18.0.1", 8)]));
  const before = c.nfStats();
  for (let k = 0; k < 5; k++) c.run(batchOf([udpTo("198.18.0.1", 7), udpTo("198.18.0.1", 8)]));
  const [r] = nfRates(before, c.nfStats(), 0.5);
  assert.equal([r.name, r.pps, r.passedPerS, r.droppedPerS, r.trapsPerS], ["flowmon", 20, 20, 0, 0]);
  assert.ok(r.nsPerPacket > 0 && r.fuelPerPacket > 0);
  let written = "";
  const out = { write: (t: string) => { written += t; return true; } } as unknown as NodeJS.WriteStream;
  const redraw = new Redraw(out);
  redraw.draw("a\nb");
  redraw.draw("c\nd\ne");
  assert.is(written, "a\nb\n\x1b[2F\x1b[Jc\nd\ne\n", "the second drawing moves up the first's two lines and clears below");
  assert.match(formatRates([r]), /^nf\s+pkt\/s\s+passed\/s\s+dropped\/s\s+traps\/s\s+fuel\/pkt\s+ns\/pkt\s+quarantined\nflowmon\s+20\s+20\s+0\s+0\s+\d+\s+[\d.]+\s+no$/);
});

test("WASI preview1 as the ABI allows it: stdout becomes log lines, the clock is the host's, proc_exit is a trap", () => {
  const wasi = `(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (data (i32.const 1024) "hello from wasi\\n")`;
  // iovec at 2048 = {1024, 16}; then clock into 2064, 16 random bytes into 2080; exit if count is 2.
  const body = `(i32.store (i32.const 2048) (i32.const 1024)) (i32.store (i32.const 2052) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 2048) (i32.const 1) (i32.const 2056)))
    (drop (call $fd_write (i32.const 3) (i32.const 2048) (i32.const 1) (i32.const 2056)))
    (drop (call $clock (i32.const 0) (i64.const 0) (i32.const 2064)))
    (drop (call $random (i32.const 2080) (i32.const 16)))
    (if (i32.eq (local.get 0) (i32.const 2)) (then (call $exit (i32.const 3))))`;
  const c = chain([parseManifest({ name: "wasi", module: watNf(body, wasi), on_trap: "pass" })]);
  c.run(batchOf([udpTo("198.18.0.1", 7)]));
  const nf = c.nf("wasi");
  assert.equal(nf.logLines, ["hello from wasi"], "fd 1 is a log line; fd 3 is refused (EBADF)");
  assert.is(Number(new DataView(nf.memory.buffer).getBigUint64(2064, true)), clockNs, "the host clock, in ns");
  assert.ok(nf.memory.subarray(2080, 2096).some((x) => x !== 0), "random bytes");
  const b = batchOf([udpTo("198.18.0.1", 7), udpTo("198.18.0.1", 7)]);
  c.run(b);
  assert.equal(c.nf("wasi").stats.trapsByKind, { exit: 1 });
  assert.equal([b.verdict[0], b.verdict[1]], [Verdict.PASS, Verdict.PASS], "on_trap: pass");
});

// ---- hostile NFs ----

const passAll = "(local $i i32) (loop $l (if (i32.lt_u (local.get $i) (local.get 0)) (then (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))))";

test("an infinite loop runs out of fuel: the burst gets the policy, the instance is re-created, the next NF keeps working", () => {
  const spin = parseManifest({ name: "spin", module: watNf("(loop $l (br $l))"), fuel: 100_000, on_trap: "pass", quarantine_after: 1000 });
  const c = chain([spin, sample("flowmon", { maps: [{ name: "flows", kind: "lru", capacity: 64 }] })]);
  for (let k = 0; k < 3; k++) {
    const b = batchOf([udpTo("198.18.0.1", 7), udpTo("198.18.0.1", 8)]);
    c.run(b);
    assert.equal([...b.verdict.subarray(0, 2)], [Verdict.PASS, Verdict.PASS], "on_trap: pass");
  }
  const s = c.nf("spin").stats;
  assert.equal([s.traps, s.trapsByKind.fuel, s.restarts], [3, 3, 3]);
  assert.is(s.lastFuel, 100_000);
  assert.is(c.nf("flowmon").stats.packetsIn, 6, "the NF after it saw every packet");
});

const bump = perPacketNf("(i32.store8 offset=20 (local.get $p) (i32.add (i32.load8_u offset=20 (local.get $p)) (i32.const 1)))");

test("frames move NF to NF and back bit for bit: any length, any alignment, NaN patterns, nothing past the frame", () => {
  const c = chain([parseManifest({ name: "one", module: watNf(bump) }), parseManifest({ name: "two", module: watNf(bump) })]);
  const nan = [0x7f, 0xf4, 0, 0, 0, 0, 0, 1, 0xff, 0xf8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  for (const align of [0, 1, 2, 4, 6]) {
    const lens = [21, 22, 60, 64, 65, 127, 250, 256, 257, 1500, 2048];
    const mem = new Uint8Array(lens.length * 4096 + 64).map((_, i) => nan[i % nan.length] ^ (i >> 11));
    const before = mem.slice();
    const b = batchOf([]);
    b.mem = mem;
    lens.forEach((len, i) => { b.off[i] = i * 4096 + align; b.len[i] = len; b.cap[i] = len; });
    b.count = lens.length;
    c.run(b);
    const want = before.slice();
    lens.forEach((_, i) => { want[i * 4096 + align + 20] = (before[i * 4096 + align + 20] + 2) & 0xff; });
    assert.equal([...b.verdict.subarray(0, lens.length)], lens.map(() => Verdict.PASS), `align ${align}`);
    const diff = mem.findIndex((x, i) => x !== want[i]);
    assert.is(diff, -1, `align ${align}: first differing byte`);
  }
});

test("an NF sees nothing of the datapath's memory past its frame (the word copy's over-read is zeroed)", () => {
  // The NF copies the 8 bytes after its frame to the frame's start: the host must have left zeros there.
  const peek = perPacketNf("(i64.store (local.get $p) (i64.load (i32.add (local.get $p) (i32.load offset=4 (local.get $d)))))");
  const c = chain([parseManifest({ name: "peek", module: watNf(peek) })]);
  for (const len of [60, 61, 63, 64]) {
    const b = batchOf([]);
    b.mem.fill(0xaa);
    b.off[0] = 2; b.len[0] = len; b.cap[0] = len; b.count = 1;
    c.run(b);
    assert.equal([...b.mem.subarray(2, 10)], [0, 0, 0, 0, 0, 0, 0, 0], `len ${len}`);
  }
});

test("snaplen: the NF gets a frame's first bytes and its whole length in arg; its rewrite of them lands, its length stays", () => {
  const stampArg = perPacketNf("(i32.store offset=24 (local.get $p) (i32.load offset=12 (local.get $d))) " +
    "(i32.store offset=28 (local.get $p) (i32.load offset=4 (local.get $d)))");
  const c = chain([parseManifest({ name: "snap", module: watNf(stampArg), snaplen: 64 }), parseManifest({ name: "bump", module: watNf(bump) })]);
  const big = udpTo("198.18.0.1", 7, SRC, 4000, new Uint8Array(1000).fill(7)), small = udpTo("198.18.0.1", 7);
  const b = batchOf([big, small]);
  c.run(b);
  const f0 = frameOut(b, 0), f1 = frameOut(b, 1), v0 = new DataView(f0.buffer), v1 = new DataView(f1.buffer);
  assert.equal([f0.length, f1.length], [big.length, small.length]);
  assert.equal([v0.getUint32(24, true), v0.getUint32(28, true)], [big.length, 64], "arg: the frame's length; len: what the NF got");
  assert.equal([v1.getUint32(24, true), v1.getUint32(28, true)], [small.length, small.length], "a short frame comes whole");
  assert.is(f0[20], (big[20] + 1) & 0xff, "the next NF (no snaplen) saw the first one's rewrite");
  assert.equal(f0.subarray(64), big.subarray(64), "the bytes past the snap untouched");
  const grow = chain([parseManifest({ name: "grow", module: watNf(perPacketNf("(i32.store offset=4 (local.get $d) (i32.const 100))")), snaplen: 64, on_trap: "pass" })]);
  const g = batchOf([big]);
  grow.run(g);
  assert.equal([g.verdict[0], g.len[0], grow.nf("grow").stats.badVerdicts], [Verdict.PASS, big.length, 1], "a snapped frame cannot change length");
});

test("fuel used per burst is counted: the same burst costs the same, each packet adds exactly its work", () => {
  // Per packet, an inner loop of 500 iterations: loops charge a local that reaches the global
  // every 1024 units, and what it holds when nf_process ends is charged then, so a call that
  // ends without an early return is counted exactly.
  const perPacket = "(local $i i32) (local $j i32) (loop $p (if (i32.lt_u (local.get $i) (local.get 0)) (then " +
    "(local.set $j (i32.const 0)) (loop $w (local.set $j (i32.add (local.get $j) (i32.const 1))) (br_if $w (i32.lt_u (local.get $j) (i32.const 500)))) " +
    "(local.set $i (i32.add (local.get $i) (i32.const 1))) (br $p))))";
  const c = chain([parseManifest({ name: "count", module: watNf(perPacket), fuel: 10_000_000 })]);
  const nf = c.nf("count");
  const fuelFor = (n: number) => { c.run(batchOf(Array.from({ length: n }, () => udpTo("198.18.0.1", 7)))); return nf.stats.lastFuel; };
  const one = fuelFor(1), two = fuelFor(2), again = fuelFor(2), four = fuelFor(4);
  assert.ok(one >= 500 * 5, `a packet costs its loop: ${one}`);
  assert.is(again, two, "the same burst, the same fuel");
  assert.is(four - two, 2 * (two - one), `each packet adds the same: ${one} ${two} ${four}`);
  assert.is(nf.stats.fuelUsed, one + two + again + four);
});

test("traps of every kind are contained and counted by kind", () => {
  const kinds: [string, string, string][] = [
    ["out_of_bounds", "(drop (i32.load (i32.const -16)))", ""],
    ["division_by_zero", "(drop (i32.div_u (i32.const 1) (i32.sub (local.get 0) (local.get 0))))", ""],
    ["unreachable", "(unreachable)", ""],
    ["stack_overflow", "(call $deep (i32.const 0))", "(func $deep (param i32) (call $deep (i32.add (local.get 0) (i32.const 1))))"],
  ];
  for (const [kind, body, extra] of kinds) {
    const m = parseManifest({ name: kind, module: watNf(body, extra), fuel: 1_000_000_000, on_trap: "drop" });
    const c = chain([m]);
    const b = batchOf([udpTo("198.18.0.1", 7)]);
    c.run(b);
    assert.is(b.verdict[0], Verdict.DROP, kind);
    assert.equal(c.nf(kind).stats.trapsByKind, { [kind]: 1 }, kind);
  }
});

test("a memory.grow bomb stops at the manifest's maximum; the NF keeps running", () => {
  const bomb = "(block $done (loop $l (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) (br $l)))";
  const c = chain([parseManifest({ name: "bomb", module: watNf(bomb), memory_pages: 48 })]);
  for (let k = 0; k < 3; k++) { const b = batchOf([udpTo("198.18.0.1", 7)]); c.run(b); assert.is(b.verdict[0], Verdict.PASS); }
  const nf = c.nf("bomb");
  assert.is(nf.memory.byteLength, 48 * 65536);
  assert.is(nf.stats.traps, 0);
});

test("an NF's counters are stores into its area; they survive the restart after a trap", () => {
  // Counter 2 (area 65536 + AREA_COUNTERS + 16) += packets in the burst; a burst of 3 then traps.
  const at = 65536 + AREA_COUNTERS + 16;
  const body = `(i64.store (i32.const ${at}) (i64.add (i64.load (i32.const ${at})) (i64.extend_i32_u (local.get 0))))
    (if (i32.eq (local.get 0) (i32.const 3)) (then (unreachable)))`;
  const c = chain([parseManifest({ name: "count", module: watNf(body) })]);
  const burst = (n: number) => c.run(batchOf(Array.from({ length: n }, () => udpTo("198.18.0.1", 7))));
  burst(1); burst(2);
  const nf = c.nf("count");
  assert.equal(nf.stats.counters.slice(0, 4), [0, 0, 3, 0]);
  burst(3);                                                      // counts, then traps: a new instance
  assert.equal([nf.stats.traps, nf.stats.restarts], [1, 1]);
  assert.is(nf.stats.counters[2], 6, "the counts up to the trap carried into the new instance");
  burst(2);
  assert.is(nf.stats.counters[2], 8);
  assert.is(nf.stats.counters.length, NF_COUNTERS);
});

test("a trap storm quarantines the NF: bypass passes, drop-all drops, and the stats say so", () => {
  for (const mode of ["bypass", "drop"] as const) {
    const m = parseManifest({ name: "storm", module: watNf("(unreachable)"), on_trap: "drop", quarantine_after: 3, quarantine_window_ms: 1000, quarantined: mode });
    const c = chain([m, sample("flowmon", { maps: [{ name: "flows", kind: "lru", capacity: 64 }] })]);
    const verdicts: number[] = [];
    for (let k = 0; k < 6; k++) { const b = batchOf([udpTo("198.18.0.1", 7)]); c.run(b); verdicts.push(b.verdict[0]); }
    assert.equal(verdicts, [1, 1, 1, ...(mode === "bypass" ? [0, 0, 0] : [1, 1, 1])], mode);
    const s = c.nf("storm").stats;
    assert.ok(s.quarantined);
    assert.is(s.traps, 3);
    assert.is(s.restarts, 2, "the third trap quarantines instead of restarting");
    assert.match(c.nf("storm").logLines.join("\n"), /quarantined after 3 traps/);
  }
});

test("absurd verdicts, lengths and offsets are refused and counted, the packet gets the failure policy", () => {
  // Descriptor words: off @+0, len @+4, verdict @+8, arg @+12 from 65536 + 32.
  const cases: [string, string][] = [
    ["verdict 99", "(i32.store (i32.const 65576) (i32.const 99))"],
    ["length past the slot", "(i32.store (i32.const 65572) (i32.const 100000))"],
    ["offset outside the area", "(i32.store (i32.const 65568) (i32.const 2000000))"],
    ["redirect to a port that does not exist", "(i32.store (i32.const 65576) (i32.const 3)) (i32.store (i32.const 65580) (i32.const 7))"],
  ];
  for (const [what, body] of cases) {
    const c = chain([parseManifest({ name: "absurd", module: watNf(body), on_trap: "drop" })], 0, 2);
    const b = batchOf([udpTo("198.18.0.1", 7), udpTo("198.18.0.1", 7)]);
    const before = frameOut(b, 0);
    c.run(b);
    assert.equal([b.verdict[0], b.verdict[1]], [Verdict.DROP, Verdict.PASS], what);
    assert.equal(frameOut(b, 1), before, `${what}: the other packet untouched`);
    assert.is(c.nf("absurd").stats.badVerdicts, 1, what);
  }
  const outside = parseManifest({ name: "far", module: wat(`(module (import "env" "memory" (memory 3 64))
    (func (export "nf_area") (result i32) (i32.const 4000000)) (func (export "nf_init") (result i32) (i32.const 0))
    (func (export "nf_process") (param i32)))`) });
  assert.throws(() => chain([outside]), /burst area at 4000000, outside its memory/);
});

test("a module importing anything outside the ABI is refused at load with one line naming it", () => {
  const refused: [string, RegExp][] = [
    [`(module (import "wasi_snapshot_preview1" "path_open" (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32))) (import "env" "memory" (memory 1))
       (func (export "nf_area") (result i32) (i32.const 0)) (func (export "nf_init") (result i32) (i32.const 0)) (func (export "nf_process") (param i32)))`,
      /^demiwasm: NF 'bad' refused: it imports wasi_snapshot_preview1\.path_open \(function\), which the NF ABI does not allow/],
    [`(module (import "env" "abort" (func)) (import "env" "memory" (memory 1))
       (func (export "nf_area") (result i32) (i32.const 0)) (func (export "nf_init") (result i32) (i32.const 0)) (func (export "nf_process") (param i32)))`,
      /imports env\.abort/],
    [`(module (memory (export "memory") 1) (func (export "nf_area") (result i32) (i32.const 0)) (func (export "nf_init") (result i32) (i32.const 0)) (func (export "nf_process") (param i32)))`,
      /defines a memory of its own .*\(rule: one memory\)$/],
    [`(module (import "env" "memory" (memory 1)) (func (export "nf_init") (result i32) (i32.const 0)) (func (export "nf_process") (param i32)))`,
      /does not export nf_area as a function/],
    [`(module (import "env" "memory" (memory 1)) (func (export "nf_area") (result i32) (i32.const 0)) (func (export "nf_init") (result i32) (i32.const 0)) (func (export "nf_process") (param i64)))`,
      /it exports nf_process as \(i64\) → \(\); the NF ABI's is \(i32\) → \(\)$/],
    [`(module (import "env" "memory" (memory 1)) (func (export "nf_area") (result i32) (i32.const 0)) (func (export "nf_init") (result i32) (i32.const 0)) (func (export "nf_process") (param i32))
       (func (export "nf_tick") (param f64) (result i32) (i32.const 0)))`,
      /it exports nf_tick as \(f64\) → \(i32\); the NF ABI's is \(f64\) → \(\)$/],
    [`(module (import "env" "memory" (memory 1)) (func (export "nf_area") (result i32) (i32.const 0)) (func (export "nf_init") (result i32) (i32.const 0)) (func $p (export "nf_process") (param i32))
       (export "__nf_process_fueled" (func $p)))`,
      /it exports __nf_process_fueled, a name fuel metering uses$/],
  ];
  for (const [text, re] of refused) {
    const e = (() => { try { chain([parseManifest({ name: "bad", module: wat(text) })]); return null; } catch (x) { return x as Error; } })();
    assert.ok(e, "refused");
    assert.match(e!.message, re);
    assert.not.match(e!.message, "\n");
  }
});

test("hot reload mid-stream loses and reorders nothing, and keeps the maps when their schema matches", () => {
  const flows = { maps: [{ name: "flows", kind: "lru", capacity: 1024 }] };
  const c = chain([sample("flowmon", flows), parseManifest({ name: "tag", module: watNf(passAll) })]);
  let seq = 0;
  const seen: number[] = [];
  for (let burst = 0; burst < 200; burst++) {
    if (burst % 20 === 10) c.replace("flowmon", sample("flowmon", flows));
    if (burst === 150) c.replace("tag", parseManifest({ name: "tag", module: watNf(passAll + "(nop)") }));
    const frames = Array.from({ length: 8 }, () => { const p = new Uint8Array(18); new DataView(p.buffer).setUint32(0, seq++); return udpTo("198.18.0.1", 7, SRC, 4000, p); });
    const b = batchOf(frames);
    c.run(b);
    for (let i = 0; i < b.count; i++) if (b.verdict[i] === Verdict.PASS) seen.push(new DataView(b.mem.buffer, b.off[i] + 42, 4).getUint32(0));
  }
  assert.equal(seen, Array.from({ length: 1600 }, (_, i) => i), "every packet, in order");
  const fm = c.nf("flowmon");
  assert.is(fm.stats.reloads, 10);
  const [[, , v]] = fm.privateMaps.entries("flows");
  assert.is(Number(v >> 32n), 1600, "the flow's count survived ten reloads");
  assert.is(fm.stats.counters[0], 1, "counter 0 (flows seen) survived them too");
  c.replace("flowmon", sample("flowmon", { maps: [{ name: "flows", kind: "lru", capacity: 2048 }] }));
  assert.is(c.nf("flowmon").privateMaps.count("flows"), 0, "a different schema starts empty");
  // A reload that fails leaves the running NF in place.
  assert.throws(() => c.replace("flowmon", parseManifest({ name: "flowmon", module: watNf("", `(import "x" "y" (func))`) })), /imports x\.y/);
  const b = batchOf([udpTo("198.18.0.1", 7)]);
  c.run(b);
  assert.is(b.verdict[0], Verdict.PASS);
  assert.is(fm.stats.counters[0], 2, "the counters carry over even then: the empty map saw the flow anew");
});

// Modules that break one rule each, in features some engines accept and some refuse: the answer
// must be ours, the same on Node 20 and Node 24 (CI runs this suite on both).
const ENTRY = `(func (export "nf_area") (result i32) (i32.const 0)) (func (export "nf_init") (result i32) (i32.const 0))`;
const F = binaryen.Features;
const BROKEN: [string, string, number, RegExp][] = [
  ["a second memory", `(module (import "env" "memory" (memory 1)) (memory $m2 1) ${ENTRY} (func (export "nf_process") (param i32)))`,
    F.MultiMemory, /defines a memory of its own .*\(rule: one memory\)$/],
  ["a load from a second memory", `(module (import "env" "memory" (memory 1)) (import "env" "memory" (memory $b 1)) ${ENTRY} (func (export "nf_process") (param i32)))`,
    F.MultiMemory, /imports a memory as env\.memory|rule: one memory/],
  ["shared memory", `(module (import "env" "memory" (memory 1 1 shared)) ${ENTRY} (func (export "nf_process") (param i32)))`,
    F.Atomics | F.SharedEverything, /is shared .*\(rule: no shared memory\)$/],
  ["atomics", `(module (import "env" "memory" (memory 1)) ${ENTRY} (func (export "nf_process") (param i32) (drop (i32.atomic.load (i32.const 0)))))`,
    F.Atomics, /atomic instruction .*\(rule: no atomics\)$/],
  ["memory64", `(module (import "env" "memory" (memory i64 1)) ${ENTRY} (func (export "nf_process") (param i32)))`,
    F.Memory64, /is 64-bit \(rule: one 32-bit memory\)$/],
  ["an imported table", `(module (import "env" "memory" (memory 1)) (import "env" "t" (table 1 funcref)) ${ENTRY} (func (export "nf_process") (param i32)))`,
    0, /imports a table .*\(rule: no imported tables\)$/],
  ["an exported table", `(module (import "env" "memory" (memory 1)) (table $t (export "t") 1 funcref) ${ENTRY} (func (export "nf_process") (param i32)))`,
    0, /exports a table as t \(rule: no exported tables\)$/],
  ["an imported global", `(module (import "env" "memory" (memory 1)) (import "env" "g" (global i32)) ${ENTRY} (func (export "nf_process") (param i32)))`,
    0, /imports a global .*\(rule: no imported globals\)$/],
  ["exceptions", `(module (import "env" "memory" (memory 1)) (tag $e) ${ENTRY} (func (export "nf_process") (param i32) (throw $e)))`,
    F.ExceptionHandling, /rule: no tags|rule: no exceptions/],
  ["a tail call", `(module (import "env" "memory" (memory 1)) ${ENTRY} (func $f (export "nf_process") (param i32) (return_call $f (local.get 0))))`,
    F.TailCall, /tail call \(rule: no tail calls\)$/],
  ["relaxed SIMD", `(module (import "env" "memory" (memory 1)) ${ENTRY} (func (export "nf_process") (param i32) (drop (i32x4.relaxed_trunc_f32x4_s (v128.const i32x4 0 0 0 0)))))`,
    F.SIMD128 | F.RelaxedSIMD, /relaxed SIMD .*\(rule: no relaxed SIMD\)$/],
  ["a GC type", `(module (import "env" "memory" (memory 1)) (type $s (struct (field i32))) ${ENTRY} (func (export "nf_process") (param i32) (local (ref null $s))))`,
    F.GC | F.ReferenceTypes, /rule: no GC or typed references/],
];

test("a module that breaks one of our structural rules is refused before the engine sees it, in one line naming the rule, whatever this Node accepts", () => {
  for (const [what, text, extra, re] of BROKEN) {
    const e = (() => { try { checkNfModule("bad", readFileSync(wat(text, extra)), true); return null; } catch (x) { return x as Error; } })();
    assert.ok(e, `${what}: refused`);
    assert.match(e!.message, /^demiwasm: NF 'bad' refused: /, what);
    assert.match(e!.message, re, what);
    assert.not.match(e!.message, "\n");
  }
});

test("what the rules allow loads and is metered: every sample NF (AssemblyScript and C), SIMD, bulk memory, multi-value, a funcref table", () => {
  for (const f of ["firewall", "flowmon", "forward", "lossy", "maglev", "nat", "ratelimit", ...(existsSync(join(NF_DIR, "portblock.wasm")) ? ["portblock"] : [])]) {
    assert.ok(checkNfModule(f, readFileSync(join(NF_DIR, `${f}.wasm`)), true).metered, f);
  }
  const ok = `(module (import "env" "memory" (memory 1)) (table 2 funcref) (elem (i32.const 0) $two $two) ${ENTRY}
    (func $two (result i32 i32) (i32.const 1) (i32.const 2))
    (func (export "nf_process") (param i32) (local v128)
      (memory.fill (i32.const 0) (i32.const 0) (i32.const 16))
      (local.set 1 (i32x4.add (v128.load (i32.const 0)) (v128.const i32x4 1 2 3 4)))
      (v128.store (i32.const 0) (local.get 1))
      (drop (drop (call $two)))))`;
  const m = checkNfModule("ok", readFileSync(wat(ok, F.SIMD128 | F.Multivalue | F.ReferenceTypes)), true);
  assert.ok(m.metered);
});

test("1000 mutated NF modules: each is refused in one line, or starts and is contained; the host never falls over", () => {
  const base = new Uint8Array(readFileSync(join(NF_DIR, "flowmon.wasm")));
  // Mutations go anywhere but the data section's payload (the SDK's 66 KB burst area of zeros,
  // where a changed byte is only a changed initial value): the structure is what is under test.
  const places: number[] = [];
  for (let at = 8; at < base.length;) {
    const id = base[at];
    let size = 0, shift = 0, p = at + 1;
    for (;;) { const x = base[p++]; size |= (x & 0x7f) << shift; shift += 7; if (x < 0x80) break; }
    for (let q = at; q < (id === 11 ? p + Math.min(size, 16) : p + size); q++) places.push(q);
    at = p + size;
  }
  let seed = 20261128;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const seen = { refused: 0, startFailed: 0, ran: 0 };
  for (let i = 0; i < 1000; i++) {
    const b = base.slice();
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) b[places[Math.floor(rnd() * places.length)]] = Math.floor(rnd() * 256);
    try {
      checkNfModule(`m${i}`, b, true);
    } catch (e) {
      assert.match((e as Error).message, /^demiwasm: NF 'm\d+' refused: [^\n]+$/);
      seen.refused++;
      continue;
    }
    const path = join(tmpdir(), `demiwasm-mut-${process.pid}.wasm`);
    writeFileSync(path, b);
    let c: Chain;
    try {
      c = chain([parseManifest({ name: "mut", module: path, fuel: 100_000, maps: [{ name: "flows", kind: "lru", capacity: 64 }] })]);
    } catch (e) {
      assert.match((e as Error).message, /^demiwasm: /);
      seen.startFailed++;
      continue;
    }
    const batch = batchOf([udpTo("198.18.0.1", 7), udpTo("198.18.0.1", 8)]);
    c.run(batch);
    assert.ok(batch.verdict[0] <= Verdict.REDIRECT && batch.verdict[1] <= Verdict.REDIRECT);
    seen.ran++;
  }
  rmSync(join(tmpdir(), `demiwasm-mut-${process.pid}.wasm`), { force: true });
  assert.is(seen.refused + seen.startFailed + seen.ran, 1000);
  assert.ok(seen.refused > 500, JSON.stringify(seen));
});

test("manifests: a bad field is one line naming it", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ name: "x", module: "a.wasm", fuel: -1 }, /'x' key 'fuel': expected an integer/],
    [{ name: "x", module: "a.wasm", on_trap: "explode" }, /'x' key 'on_trap': expected one of drop, pass/],
    [{ name: "x", module: "a.wasm", maps: [{ name: "m", kind: "tree" }] }, /maps\[0\]\.kind/],
    [{ name: "x", module: "a.wasm", colour: "red" }, /key 'colour': unknown key/],
    [{ name: "x y", module: "a.wasm" }, /key 'name'/],
  ];
  for (const [doc, re] of bad) assert.throws(() => parseManifest(doc), re);
});

test.run();

// A packetdrill-like script runner: one line per event, against the virtual clock, between a
// stack and a scripted peer on the loopback link.
//
//   TIME  < FLAGS [seq N] [ack N] [len N] [win N] [mss N] [sackok] [ts V E] [ws N] [sack L:R ...]
//   TIME  < ptb MTU                           (over IPv6: a router's Packet Too Big quoting the
//                                              stack's last segment; a script with a line
//                                              "#!ipv6" runs over IPv6 only)
//   TIME  > FLAGS ...                         (the same fields; "*" matches anything)
//   TIME  app listen PORT | accept | connect PORT | push N [N ...] | pop N | pop-eof | pop-reset | close
//         | state NAME | cwnd BYTES | ssthresh BYTES | info FIELD N (a tcpInfo field) | nodelay 0|1
//         | keepalive 0|1 | pop-timeout
//
// TIME is seconds from the start, or +SECONDS after the previous line. FLAGS: S F R P and "."
// for ACK ("S." is SYN+ACK). Sequence numbers are relative, as packetdrill's: what the peer
// sends counts from the peer's ISS, what the stack sends from the stack's ISS (learned from
// its first SYN or SYN-ACK). An expected segment must appear at exactly its time.
import { readFileSync } from "node:fs";
import { LibOS, sockaddr, AF_INET, AF_INET6, SOCK_STREAM, Opcode, TCP_STATES } from "../host/libos.js";
import { LoopbackLink, type RawPort } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";
import { stack, mac, eth, ipv4, ipv6, checksum, A_IP, A_MAC, HOST_IP, HOST_MAC } from "./helpers.js";
import { hostSegment } from "./tcp.helpers.js";

const PEER_PORT = 40000;
const FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, ".": 0x10 };

interface Seg { flags: number; seq?: number; ack?: number; len: number; win?: number; mss?: number; sackok: boolean;
                ts?: [string, string]; ws?: number; sack: [number, number][] }

function parseSeg(toks: string[], line: string): Seg {
  let flags = 0;
  for (const c of toks[0]) { if (!(c in FLAG_BITS)) throw new Error(`bad flags in: ${line}`); flags |= FLAG_BITS[c]; }
  const s: Seg = { flags, len: 0, sackok: false, sack: [] };
  for (let i = 1; i < toks.length; i++) {
    const k = toks[i];
    const num = () => { const v = toks[++i]; return v === "*" ? undefined : Number(v); };
    if (k === "seq") s.seq = num();
    else if (k === "ack") s.ack = num();
    else if (k === "len") s.len = num() ?? 0;
    else if (k === "win") s.win = num();
    else if (k === "mss") s.mss = num();
    else if (k === "ws") s.ws = num();
    else if (k === "sackok") s.sackok = true;
    else if (k === "ts") { s.ts = [toks[i + 1], toks[i + 2]]; i += 2; }
    else if (k === "sack") { while (toks[i + 1]?.includes(":")) { const [l, r] = toks[++i].split(":").map(Number); s.sack.push([l, r]); } }
    else throw new Error(`unknown field '${k}' in: ${line}`);
  }
  return s;
}

function options(s: Seg): number[] {
  const o: number[] = [];
  if (s.mss !== undefined) o.push(2, 4, s.mss >> 8, s.mss & 255);
  if (s.sackok) o.push(4, 2);
  if (s.ts) { const v = Number(s.ts[0]), e = Number(s.ts[1]); o.push(8, 10, v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255, e >>> 24, (e >> 16) & 255, (e >> 8) & 255, e & 255); }
  if (s.ws !== undefined) o.push(3, 3, s.ws);
  if (s.sack.length > 0) {
    // One SACK option holds every block; blocks the peer sends name the stack's sequence space.
    o.push(5, 2 + 8 * s.sack.length);
    for (const [l, r] of s.sack) for (const v of [ourSeq(l), ourSeq(r)]) o.push(v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
  }
  while (o.length % 4) o.push(1);
  return o;
}
let ourIssForSack = 0;
/** A sequence number of the stack's, relative to its ISS, as an absolute one. */
const ourSeq = (rel: number) => (ourIssForSack + rel) >>> 0;

interface Parsed { flags: number; seq: number; ack: number; len: number; win: number; opts: Map<number, number[]> }

/** The TCP segment in frame `f`: at `at` (after the IP header), `ipPayload` bytes of it. */
function parseOut(f: Uint8Array, at: number, ipPayload: number): Parsed {
  const t = f.subarray(at);
  const dv = new DataView(t.buffer, t.byteOffset);
  const hl = (t[12] >> 4) * 4;
  const opts = new Map<number, number[]>();
  for (let i = 20; i < hl;) {
    const k = t[i];
    if (k === 0) break;
    if (k === 1) { i++; continue; }
    opts.set(k, [...t.subarray(i + 2, i + t[i + 1])]);
    i += t[i + 1];
  }
  return { flags: t[13], seq: dv.getUint32(4), ack: dv.getUint32(8), len: ipPayload - hl, win: dv.getUint16(14), opts };
}

export interface ScriptResult { ok: boolean; error?: string; line?: number }

// Over IPv6 (runScript's `v6`): the stack at fd00:5::1, the peer at fd00:5::99 (a static
// neighbor), and an MTU 20 bytes larger, so that the MSS (MTU - 60) is IPv4's 1460 and every
// script's segment sizes hold unchanged.
const A_IP6 = "fd00:5::1", HOST_IP6 = "fd00:5::99";
const V6_CONFIG = { local_ipv6: [`${A_IP6}/64`], "ndp.table": { [HOST_IP6]: HOST_MAC }, "ndp.dad_transmits": 0, mtu: 1520 };

/** Runs a script; `peerIss` is the peer's initial sequence number (near 2^32, its numbers wrap);
 *  `v6` runs it over IPv6. */
export function runScript(path: string, overrides: Record<string, unknown> = {}, peerIss = 1000000, v6 = false): ScriptResult {
  const PEER_ISS = peerIss;
  const lines = readFileSync(path, "utf8").split("\n");
  const clock = new VirtualClock();
  const link = new LoopbackLink({ seed: 1 }, clock, true);
  // The scripts' windows and window scale were written for 64 KiB buffers (the receive window
  // starts there and cannot grow past it).
  const s: LibOS = stack(link, A_IP, A_MAC, { "arp.table": { [HOST_IP]: HOST_MAC }, "tcp.buffer_bytes": 65536, ...(v6 ? V6_CONFIG : {}), ...overrides });
  const domain = v6 ? AF_INET6 : AF_INET;
  const ours = v6 ? sockaddr(A_IP6, 0) : sockaddr(A_IP, 0), theirs = v6 ? sockaddr(HOST_IP6, PEER_PORT) : sockaddr(HOST_IP, PEER_PORT);
  const peer: RawPort = link.attachRaw(mac(HOST_MAC));
  const t0 = clock.now();
  let prev = 0;
  let ourIss: number | null = null;
  let lqd = -1, qd = -1;
  let acceptQt = -1, connectQt = -1;
  let localPort = 80;
  let popped = 0;                 // stream bytes the app has popped (they must be the peer's, in order)
  const inbox: { at: number; p: Parsed }[] = [];
  let lastOut: Uint8Array | null = null;          // the stack's latest segment (a PTB quotes it)
  const collect = () => {
    for (const f of peer.take()) {
      if (!v6 && f.length > 34 && f[12] === 0x08 && f[13] === 0 && f[23] === 6) inbox.push({ at: clock.now(), p: parseOut(f, 34, ((f[16] << 8) | f[17]) - 20) });
      if (v6 && f.length > 54 && f[12] === 0x86 && f[13] === 0xdd && f[20] === 6) { inbox.push({ at: clock.now(), p: parseOut(f, 54, (f[18] << 8) | f[19]) }); lastOut = f; }
    }
  };
  /** Runs the link until `when` (ns from start), collecting what the stack sends. */
  const runTo = (when: number) => {
    for (let guard = 0; guard < 100000; guard++) {
      const work = link.poll();
      collect();
      if (work > 0) continue;
      const next = Math.min(link.nextEvent(), t0 + when);
      if (next <= clock.now()) break;
      clock.set(next);
    }
  };
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n].replace(/#.*/, "").trim();
    if (raw === "") continue;
    const toks = raw.split(/\s+/);
    const at = toks[0].startsWith("+") ? prev + Number(toks[0].slice(1)) : Number(toks[0]);
    prev = at;
    const when = Math.round(at * 1e9);
    const fail = (msg: string): ScriptResult => ({ ok: false, error: `${path}:${n + 1}: ${msg}\n  ${raw}`, line: n + 1 });
    try {
      if (toks[1] === "<") {
        runTo(when);
        if (inbox.length > 0) { const x = inbox[0]; return fail(`unexpected segment from the stack at ${((x.at - t0) / 1e9).toFixed(3)} s: flags 0x${x.p.flags.toString(16)} seq ${x.p.seq - (ourIss ?? 0)} ack ${(x.p.ack - PEER_ISS) >>> 0} len ${x.p.len}`); }
        if (toks[2] === "ptb") {
          if (!v6 || lastOut === null) return fail("ptb: over IPv6, after a segment from the stack");
          const mtu = Number(toks[3]);
          const body = [2, 0, 0, 0, mtu >>> 24, (mtu >> 16) & 255, (mtu >> 8) & 255, mtu & 255, ...(lastOut as Uint8Array).subarray(14, 14 + 1232)];
          peer.send(eth(A_MAC, HOST_MAC, 0x86dd, ipv6("fd00:5::fe", A_IP6, 58, Uint8Array.from(body))));
          continue;
        }
        const seg = parseSeg(toks.slice(2), raw);
        ourIssForSack = ourIss ?? 0;
        const tcp = hostSegment(PEER_PORT, localPort, (PEER_ISS + (seg.seq ?? 0)) >>> 0, ((ourIss ?? 0) + (seg.ack ?? 0)) >>> 0, seg.flags, seg.win ?? 65535,
          options(seg), streamBytes(seg.seq ?? 1, seg.len), checksum);
        peer.send(v6 ? eth(A_MAC, HOST_MAC, 0x86dd, ipv6(HOST_IP6, A_IP6, 6, tcp))
          : eth(A_MAC, HOST_MAC, 0x0800, ipv4({ src: HOST_IP, dst: A_IP, proto: 6 }, tcp)));
      } else if (toks[1] === ">") {
        runTo(when);
        const exp = parseSeg(toks.slice(2), raw);
        const got = inbox.shift();
        if (!got) return fail(`expected a segment at ${at} s, the stack sent nothing`);
        const gotAt = (got.at - t0) / 1e9;
        if (Math.abs(got.at - t0 - when) > 1000) return fail(`segment at ${gotAt.toFixed(6)} s, expected at ${at} s`);
        const p = got.p;
        if ((p.flags & 0x1f) !== exp.flags) return fail(`flags 0x${p.flags.toString(16)}, expected 0x${exp.flags.toString(16)}`);
        if ((exp.flags & 0x02) !== 0 && ourIss === null) ourIss = p.seq;
        const rseq = (p.seq - (ourIss ?? 0)) >>> 0, rack = (p.ack - PEER_ISS) >>> 0;
        if (exp.seq !== undefined && rseq !== exp.seq) return fail(`seq ${rseq}, expected ${exp.seq}`);
        if (exp.ack !== undefined && (exp.flags & 0x10) && rack !== exp.ack) return fail(`ack ${rack}, expected ${exp.ack}`);
        if (p.len !== exp.len) return fail(`len ${p.len}, expected ${exp.len}`);
        if (exp.win !== undefined && p.win !== exp.win) return fail(`win ${p.win}, expected ${exp.win}`);
        if (exp.mss !== undefined && ((p.opts.get(2)?.[0] ?? 0) << 8 | (p.opts.get(2)?.[1] ?? 0)) !== exp.mss) return fail(`mss option differs`);
        if (exp.sackok && !p.opts.has(4)) return fail(`no SACK-permitted option`);
        if (exp.ws !== undefined && p.opts.get(3)?.[0] !== exp.ws) return fail(`window scale ${p.opts.get(3)?.[0]}, expected ${exp.ws}`);
        if (exp.ts) {
          const ts = p.opts.get(8);
          if (!ts) return fail("no timestamp option");
          const ecr = ((ts[4] << 24) | (ts[5] << 16) | (ts[6] << 8) | ts[7]) >>> 0;
          if (exp.ts[1] !== "*" && ecr !== Number(exp.ts[1])) return fail(`TS echo ${ecr}, expected ${exp.ts[1]}`);
        }
        if (exp.sack.length > 0) {
          const b = p.opts.get(5) ?? [];
          const blocks: [number, number][] = [];
          for (let i = 0; i + 8 <= b.length; i += 8) {
            const v = (k: number) => ((b[k] << 24) | (b[k + 1] << 16) | (b[k + 2] << 8) | b[k + 3]) >>> 0;
            blocks.push([(v(i) - PEER_ISS) >>> 0, (v(i + 4) - PEER_ISS) >>> 0]);
          }
          if (JSON.stringify(blocks) !== JSON.stringify(exp.sack)) return fail(`SACK blocks ${JSON.stringify(blocks)}, expected ${JSON.stringify(exp.sack)}`);
        }
      } else if (toks[1] === "app") {
        runTo(when);
        const arg = Number(toks[3]);
        switch (toks[2]) {
          case "listen": localPort = arg; lqd = s.socket(domain, SOCK_STREAM); s.bind(lqd, { ...ours, port: arg }); s.listen(lqd, 8); acceptQt = s.accept(lqd); break;
          case "accept": { const r = s.wait(acceptQt, 0); if (r.opcode !== Opcode.ACCEPT) return fail(`accept: not done (ret ${r.ret})`); qd = r.acceptedQd!; break; }
          case "connect": localPort = 0; qd = s.socket(domain, SOCK_STREAM); connectQt = s.connect(qd, theirs); localPort = s.getsockname(qd).port; break;
          case "connected": { const r = s.wait(connectQt, 0); if (r.opcode !== Opcode.CONNECT) return fail(`connect: ${r.ret}`); break; }
          case "connect-failed": { const r = s.wait(connectQt, 0); if (r.ret !== Number(toks[3])) return fail(`connect ret ${r.ret}, expected ${toks[3]}`); break; }
          case "push": for (const n of toks.slice(3).map(Number)) {     // several sizes: pushes within one turn
            const g = s.sgaalloc(n); s.bytes(g).fill(0x62); const r = s.wait(s.push(qd, g), 0); s.sgafree(g); if (r.ret !== 0) return fail(`push: ${r.ret}`);
          } break;
          case "pop": {
            const r = s.wait(s.pop(qd), 0);
            if (r.ret !== 0 || r.sga!.len !== arg) return fail(`pop gave ret ${r.ret} len ${r.sga?.len}`);
            const want = streamBytes(popped + 1, arg), got = s.bytes(r.sga!);
            const at = want.findIndex((b, i) => got[i] !== b);
            if (at >= 0) return fail(`pop byte ${at} (stream offset ${popped + at}) is ${got[at]}, the peer sent ${want[at]}`);
            popped += arg;
            s.sgafree(r.sga!);
            break;
          }
          case "pop-eof": { const r = s.wait(s.pop(qd), 0); if (r.ret !== 0 || r.sga!.len !== 0) return fail(`expected end of stream, got ret ${r.ret} len ${r.sga?.len}`); break; }
          case "pop-reset": { const r = s.wait(s.pop(qd), 0); if (r.ret !== 104) return fail(`expected ECONNRESET, got ret ${r.ret}`); break; }
          case "close": s.close(qd); break;
          case "nodelay": s.setsockopt(qd >= 0 ? qd : lqd, "TCP_NODELAY", arg === 1); break;
          case "keepalive": s.setsockopt(qd >= 0 ? qd : lqd, "SO_KEEPALIVE", arg === 1); break;
          case "pop-timeout": { const r = s.wait(s.pop(qd), 0); if (r.ret !== 110) return fail(`expected ETIMEDOUT, got ret ${r.ret}`); break; }
          case "cwnd": case "ssthresh": { const v = s.tcpInfo(qd)[toks[2] as "cwnd" | "ssthresh"]; if (v !== arg) return fail(`${toks[2]} ${v}, expected ${arg}`); break; }
          case "info": { const v = (s.tcpInfo(qd) as unknown as Record<string, unknown>)[toks[3]], want = Number(toks[4]);
            if (v !== want) return fail(`tcpInfo ${toks[3]} is ${v}, expected ${want}`); break; }
          case "state": { const name = toks[3];
            const i = (TCP_STATES as readonly string[]).indexOf(name); if (i < 0 || name === "DONE") return fail(`unknown state ${name}`);
            const want = i === 0 ? s.dp.exports.tcpConnections(0) === s.dp.exports.tcpMaxConnectionCount() : s.dp.exports.tcpConnections(i) === 1;
            if (!want) return fail(`the connection is not in ${name}`); break; }
          default: return fail(`unknown app call '${toks[2]}'`);
        }
      } else return fail("a line is TIME followed by <, > or app");
    } catch (e) { return fail((e as Error).message); }
  }
  runTo(prev * 1e9);
  if (inbox.length > 0) { const x = inbox[0]; return { ok: false, error: `${path}: the stack sent more after the last line: flags 0x${x.p.flags.toString(16)} seq ${x.p.seq - (ourIss ?? 0)} len ${x.p.len} at ${((x.at - t0) / 1e9).toFixed(3)} s` }; }
  return { ok: true };
}

/** The peer's payload: each byte a function of its sequence number (relative, data from 1), so a
 *  pop can check it got the right bytes in the right order, retransmissions included. */
function streamBytes(seq: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = ((seq + i) * 7 + 3) & 0xff;
  return b;
}

// Driving TCP between two stacks on one virtual clock: connections and byte-exact transfers.
import { createHash } from "node:crypto";
import * as assert from "uvu/assert";
import { sockaddr, AF_INET, SOCK_STREAM, Opcode, TCP_STATES, type LibOS, type Sga } from "../host/libos.js";
import type { Pair } from "./helpers.js";

/** A listens on port 80, B connects: returns the accepted qd on A and the connected qd on B. */
export function connectPair(p: Pair, port = 80): { sa: number; cb: number; lqd: number } {
  const { a, b } = p;
  const lqd = a.socket(AF_INET, SOCK_STREAM);
  a.bind(lqd, sockaddr("198.18.0.1", port));
  a.listen(lqd, 64);
  const aq = a.accept(lqd);
  const cb = b.socket(AF_INET, SOCK_STREAM);
  const c = b.wait(b.connect(cb, sockaddr("198.18.0.1", port)), 60_000);
  assert.is(c.opcode, Opcode.CONNECT, `connect: ${c.ret}`);
  const r = a.wait(aq, 60_000);
  assert.is(r.opcode, Opcode.ACCEPT, `accept: ${r.ret}`);
  return { sa: r.acceptedQd!, cb, lqd };
}

/** Deterministic bytes of a flow, so sender and receiver hash the same stream. */
function fill(buf: Uint8Array, offset: number, seed: number): void {
  for (let i = 0; i < buf.length; i++) buf[i] = ((offset + i) * 2654435761 + seed) >>> 24;
}

export interface Flow { from: LibOS; fromQd: number; to: LibOS; toQd: number; total: number; seed: number }

/**
 * Moves every flow to completion concurrently (pushes of `chunk` bytes, at most 4 in flight per
 * flow), then returns the SHA-256 of what each receiver got and of what was sent.
 */
export function transfer(p: Pair, flows: Flow[], chunk = 16384, limitSeconds = 3600): { sent: string; got: string }[] {
  const state = flows.map((f) => ({
    f, sent: 0, got: 0, sh: createHash("sha256"), rh: createHash("sha256"),
    pushes: [] as { qt: number; sga: Sga }[], popQt: f.to.pop(f.toQd),
  }));
  const deadline = p.clock.now() + limitSeconds * 1e9;
  for (;;) {
    let done = true;
    for (const s of state) {
      const f = s.f;
      while (s.pushes.length < 4 && s.sent < f.total) {
        const n = Math.min(chunk, f.total - s.sent);
        const sga = f.from.sgaalloc(n);
        fill(f.from.bytes(sga), s.sent, f.seed);
        s.sh.update(f.from.bytes(sga));
        s.pushes.push({ qt: f.from.push(f.fromQd, sga), sga });
        s.sent += n;
      }
      while (s.pushes.length > 0) {
        const r = f.from.tryWait(s.pushes[0].qt);
        if (r === null) break;
        assert.is(r.ret, 0, `push failed: errno ${r.ret}`);
        f.from.sgafree(s.pushes.shift()!.sga);
      }
      for (let r = f.to.tryWait(s.popQt); r !== null; r = f.to.tryWait(s.popQt)) {
        assert.is(r.ret, 0, `pop failed: errno ${r.ret}`);
        assert.ok(r.sga!.len > 0, "no end of stream before the data");
        s.rh.update(f.to.bytes(r.sga!));
        s.got += r.sga!.len;
        f.to.sgafree(r.sga!);
        s.popQt = f.to.pop(f.toQd);
      }
      if (s.got < f.total || s.pushes.length > 0) done = false;
    }
    if (done) break;
    if (p.link.poll() === 0) {
      assert.ok(p.clock.now() < deadline, `transfer stuck: ${state.map((s) => `${s.got}/${s.f.total}`).join(", ")}`);
      p.clock.idle(deadline, p.link.nextEvent());
    }
  }
  return state.map((s) => ({ sent: s.sh.digest("hex"), got: s.rh.digest("hex") }));
}

/** Runs the link until cond() or the virtual time limit. */
export function runUntil(p: Pair, cond: () => boolean, limitSeconds = 600): void {
  const deadline = p.clock.now() + limitSeconds * 1e9;
  while (!cond()) {
    if (p.link.poll() === 0) {
      assert.ok(p.clock.now() < deadline, "condition never held");
      p.clock.idle(deadline, p.link.nextEvent());
    }
  }
}

/** TCP connections by state name on a stack. */
export function states(s: LibOS): Record<string, number> {
  const out: Record<string, number> = {};
  TCP_STATES.forEach((n, i) => { const c = s.dp.exports.tcpConnections(i); if (c > 0 && n !== "CLOSED") out[n] = c; });
  return out;
}

/** A TCP segment from the scripted host (198.18.0.99) to the stack (198.18.0.1), checksummed. */
export function hostSegment(sport: number, dport: number, seq: number, ack: number, flags: number, window: number,
                            options: number[], payload: Uint8Array, csum: (b: Uint8Array) => number): Uint8Array {
  const hlen = 20 + options.length;
  const tcp = new Uint8Array(hlen + payload.length);
  const dv = new DataView(tcp.buffer);
  dv.setUint16(0, sport); dv.setUint16(2, dport); dv.setUint32(4, seq >>> 0); dv.setUint32(8, ack >>> 0);
  tcp[12] = (hlen >> 2) << 4; tcp[13] = flags; dv.setUint16(14, window);
  tcp.set(options, 20);
  tcp.set(payload, hlen);
  const pseudo = Uint8Array.from([198, 18, 0, 99, 198, 18, 0, 1, 0, 6, tcp.length >> 8, tcp.length & 255]);
  dv.setUint16(16, csum(Uint8Array.from([...pseudo, ...tcp])));
  return tcp;
}

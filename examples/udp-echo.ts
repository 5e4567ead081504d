// A UDP echo server and a flooding client on the PDPIX API. Each is a state machine with a
// non-blocking step(), so several run on one thread over one datapath turn loop, as
// Demikernel's coroutines do. Used by `demiwasm udp-echo`, `npm start` and `demiwasm bench udp`.
import { type LibOS, type SockAddr, type Sga } from "../host/libos.js";

/** Echoes every datagram back to its sender, zero-copy: the received buffer is pushed as is. */
export class EchoServer {
  private popQt: number;
  private readonly inflight: { qt: number; sga: Sga }[] = [];
  echoed = 0;
  ios = 0;

  constructor(private readonly libos: LibOS, readonly qd: number) {
    this.popQt = libos.pop(qd);
  }

  step(): void {
    const l = this.libos;
    while (l.isDone(this.popQt)) {
      const r = l.wait(this.popQt);
      this.ios++;
      this.popQt = l.pop(this.qd);
      if (r.sga === undefined) continue;            // a failed pop (socket closed)
      const qt = l.pushto(this.qd, r.sga, r.addr!);
      this.ios++;
      if (l.isDone(qt)) { l.wait(qt); l.sgafree(r.sga); this.echoed++; }
      else this.inflight.push({ qt, sga: r.sga });
    }
    for (let i = this.inflight.length - 1; i >= 0; i--) {
      const p = this.inflight[i];
      if (!l.isDone(p.qt)) continue;
      l.wait(p.qt);
      l.sgafree(p.sga);
      this.inflight.splice(i, 1);
      this.echoed++;
    }
  }
}

/**
 * Sends numbered datagrams in bursts, keeping at most `window` unanswered, and checks every echo
 * byte for byte. A datagram unanswered after `lossTimeoutNs` counts as lost.
 */
export class EchoClient {
  private popQt: number;
  private nextSeq = 0;
  private readonly sentAt = new Map<number, number>();
  sent = 0;
  echoed = 0;
  corrupt = 0;
  lost = 0;
  ios = 0;
  readonly rttNs: number[] = [];

  constructor(private readonly libos: LibOS, readonly qd: number, private readonly server: SockAddr,
              private readonly size = 64, private readonly window = 32, private readonly burst = 32,
              private readonly lossTimeoutNs = 200e6, private readonly recordRtt = false) {
    if (size < 4) throw new Error("demiwasm: echo payload must be at least 4 bytes (it carries a sequence number)");
    this.popQt = libos.pop(qd);
  }

  /** Sends while the window allows, collects echoes; `now` is the clock's time in ns. */
  step(now: number, mayStart = true): void {
    const l = this.libos;
    while (l.isDone(this.popQt)) {
      const r = l.wait(this.popQt);
      this.ios++;
      this.popQt = l.pop(this.qd);
      if (r.sga === undefined) continue;
      this.check(r.sga, now);
      l.sgafree(r.sga);
    }
    if (this.sentAt.size > 0 && now - this.oldest() > this.lossTimeoutNs) this.expire(now);
    if (!mayStart) return;
    let n = Math.min(this.burst, this.window - this.sentAt.size);
    while (n-- > 0) this.send(now);
  }

  get outstanding(): number { return this.sentAt.size; }

  private send(now: number): void {
    const l = this.libos;
    const sga = l.sgaalloc(this.size);
    const seq = this.nextSeq++ >>> 0;
    fill(l.u8, sga.buf, this.size, seq);
    const qt = l.pushto(this.qd, sga, this.server);
    this.ios++;
    // A push completes once the stack has the data (or after ARP); either way the buffer is ours
    // to free: the stack holds its own reference until the link is done.
    l.wait(qt);
    l.sgafree(sga);
    this.sentAt.set(seq, now);
    this.sent++;
  }

  private check(sga: Sga, now: number): void {
    const u8 = this.libos.u8;
    const b = sga.buf;
    const seq = (u8[b] | (u8[b + 1] << 8) | (u8[b + 2] << 16) | (u8[b + 3] << 24)) >>> 0;
    const t = this.sentAt.get(seq);
    if (t === undefined) return;                       // a duplicate, or an echo we gave up on
    if (sga.len !== this.size || !verify(u8, b, this.size, seq)) { this.corrupt++; return; }
    this.sentAt.delete(seq);
    this.echoed++;
    if (this.recordRtt) this.rttNs.push(now - t);
  }

  private oldest(): number {
    for (const t of this.sentAt.values()) return t;   // insertion order: the first is the oldest
    return Infinity;
  }

  private expire(now: number): void {
    for (const [seq, t] of this.sentAt) {
      if (now - t <= this.lossTimeoutNs) break;
      this.sentAt.delete(seq);
      this.lost++;
    }
  }
}

function fill(u8: Uint8Array, b: number, n: number, seq: number): void {
  u8[b] = seq & 255; u8[b + 1] = (seq >>> 8) & 255; u8[b + 2] = (seq >>> 16) & 255; u8[b + 3] = seq >>> 24;
  for (let i = 4; i < n; i++) u8[b + i] = (seq + i) & 255;
}

function verify(u8: Uint8Array, b: number, n: number, seq: number): boolean {
  for (let i = 4; i < n; i++) if (u8[b + i] !== ((seq + i) & 255)) return false;
  return true;
}

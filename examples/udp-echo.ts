// A UDP echo server and a flooding client on the PDPIX API. Each is a state machine with a
// non-blocking step(), so several run on one thread over one datapath turn loop, as
// Demikernel's coroutines do. Used by `demiwasm udp-echo`, `npm start` and `demiwasm bench udp`.
import type { Pdpix } from "../host/pdpix.js";
import { newResultBuffer, type SockAddr, type Sga } from "../host/libos.js";

/** Echoes every datagram back to its sender, zero-copy: the received buffer is pushed as is. */
export class EchoServer {
  private popQt: number;
  private readonly inflight: { qt: number; sga: Sga }[] = [];
  echoed = 0;
  ios = 0;

  constructor(private readonly libos: Pdpix, readonly qd: number) {
    this.popQt = libos.pop(qd);
  }

  private readonly r = newResultBuffer();
  private readonly w = newResultBuffer();

  step(): void {
    const l = this.libos;
    const r = this.r;
    while (l.tryWaitInto(r, this.popQt)) {
      this.ios++;
      this.popQt = l.pop(this.qd);
      if (r.ret !== 0) continue;                    // a failed pop (socket closed)
      const qt = l.pushto(this.qd, r.sga, r.addr);
      this.ios++;
      if (l.tryWaitInto(this.w, qt)) { l.sgafree(r.sga); this.echoed++; }
      else this.inflight.push({ qt, sga: { buf: r.sga.buf, len: r.sga.len } });  // waiting for ARP
    }
    for (let i = this.inflight.length - 1; i >= 0; i--) {
      const p = this.inflight[i];
      if (!l.tryWaitInto(this.w, p.qt)) continue;
      l.sgafree(p.sga);
      this.inflight.splice(i, 1);
      this.echoed++;
    }
  }
}

export interface EchoClientOptions {
  size?: number;            // payload bytes, at least 4 (the sequence number)
  window?: number;          // datagrams in flight at most (a power of two up to 4096 is best)
  burst?: number;           // datagrams sent per step at most
  lossTimeoutNs?: number;   // unanswered this long: lost
  recordRtt?: boolean;
  /** Fill and verify every payload byte (true), or only the sequence number (benchmarks). */
  pattern?: boolean;
}

/**
 * Sends numbered datagrams in bursts, keeping at most `window` unanswered, and checks every echo.
 * A datagram unanswered after `lossTimeoutNs` counts as lost.
 */
export class EchoClient {
  private popQt: number;
  private nextSeq = 0;       // next sequence number to send
  private oldestSeq = 0;     // every sequence below this is answered or lost
  private readonly sentAt: Float64Array;  // send time by sequence, NaN once answered
  private readonly mask: number;
  private inFlight = 0;
  private readonly o: Required<EchoClientOptions>;
  sent = 0;
  echoed = 0;
  corrupt = 0;
  lost = 0;
  ios = 0;
  readonly rttNs: number[] = [];

  constructor(private readonly libos: Pdpix, readonly qd: number, private readonly server: SockAddr, opts: EchoClientOptions = {}) {
    this.o = { size: 64, window: 32, burst: 32, lossTimeoutNs: 200e6, recordRtt: false, pattern: true, ...opts };
    if (this.o.size < 4) throw new Error("demiwasm: echo payload must be at least 4 bytes (it carries a sequence number)");
    const slots = 1 << Math.ceil(Math.log2(Math.max(2, this.o.window)));
    this.sentAt = new Float64Array(slots).fill(NaN);
    this.mask = slots - 1;
    this.popQt = libos.pop(qd);
  }

  get outstanding(): number { return this.inFlight; }

  private readonly r = newResultBuffer();

  /** Collects echoes, expires the lost, then sends while the window allows; `now` in ns. */
  step(now: number, mayStart = true): void {
    const l = this.libos;
    const r = this.r;
    while (l.tryWaitInto(r, this.popQt)) {
      this.ios++;
      this.popQt = l.pop(this.qd);
      if (r.ret !== 0) continue;
      this.check(r.sga, now);
      l.sgafree(r.sga);
    }
    this.expire(now);
    if (!mayStart) return;
    let n = Math.min(this.o.burst, this.o.window - (this.nextSeq - this.oldestSeq));
    while (n-- > 0) this.send(now);
  }

  private send(now: number): void {
    const l = this.libos;
    const size = this.o.size;
    const sga = l.sgaalloc(size);
    const seq = this.nextSeq++;
    stamp(l.u8, sga.buf, size, seq, this.o.pattern);
    const qt = l.pushto(this.qd, sga, this.server);
    this.ios++;
    // The push completes once the stack has the data (or after ARP). Either way the buffer is ours
    // to free now: the stack keeps its own reference until the link is done with the frame.
    l.waitInto(this.r, qt);
    l.sgafree(sga);
    this.sentAt[seq & this.mask] = now;
    this.inFlight++;
    this.sent++;
  }

  private check(sga: Sga, now: number): void {
    const u8 = this.libos.u8;
    const b = sga.buf;
    const seq = (u8[b] | (u8[b + 1] << 8) | (u8[b + 2] << 16) | (u8[b + 3] << 24)) >>> 0;
    // A duplicate, or an echo we already gave up on.
    if (seq < this.oldestSeq || seq >= this.nextSeq) return;
    const t = this.sentAt[seq & this.mask];
    if (t !== t) return;
    if (sga.len !== this.o.size || (this.o.pattern && !verify(u8, b, this.o.size, seq))) { this.corrupt++; return; }
    this.sentAt[seq & this.mask] = NaN;
    this.inFlight--;
    this.echoed++;
    if (this.o.recordRtt) this.rttNs.push(now - t);
  }

  private expire(now: number): void {
    while (this.oldestSeq < this.nextSeq) {
      const t = this.sentAt[this.oldestSeq & this.mask];
      if (t === t) {
        if (now - t <= this.o.lossTimeoutNs) return;
        this.sentAt[this.oldestSeq & this.mask] = NaN;
        this.inFlight--;
        this.lost++;
      }
      this.oldestSeq++;
    }
  }
}

function stamp(u8: Uint8Array, b: number, n: number, seq: number, pattern: boolean): void {
  u8[b] = seq & 255; u8[b + 1] = (seq >>> 8) & 255; u8[b + 2] = (seq >>> 16) & 255; u8[b + 3] = seq >>> 24;
  if (pattern) for (let i = 4; i < n; i++) u8[b + i] = (seq + i) & 255;
}

function verify(u8: Uint8Array, b: number, n: number, seq: number): boolean {
  for (let i = 4; i < n; i++) if (u8[b + i] !== ((seq + i) & 255)) return false;
  return true;
}

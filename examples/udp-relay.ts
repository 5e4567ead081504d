// A UDP relay between two LibOSes, which may sit on different backends in one process (Demikernel
// cannot: its issue #158). Datagrams that arrive on the front socket go out of the back socket to
// a fixed destination; what comes back on the back socket returns to the front peer it answers.
// The bytes cross between the two datapaths' memories once, here.
import type { Pdpix } from "../host/pdpix.js";
import { newResultBuffer, type SockAddr, type Sga } from "../host/libos.js";

export class UdpRelay {
  private frontPop: number;
  private backPop: number;
  private readonly r = newResultBuffer();
  private readonly w = newResultBuffer();
  private readonly waiting: SockAddr[] = [];     // front peers awaiting an answer, in order
  forwarded = 0;
  returned = 0;

  constructor(private readonly front: Pdpix, private readonly frontQd: number,
              private readonly back: Pdpix, private readonly backQd: number, private readonly dest: SockAddr) {
    this.frontPop = front.pop(frontQd);
    this.backPop = back.pop(backQd);
  }

  step(): void {
    const r = this.r;
    while (this.front.tryWaitInto(r, this.frontPop)) {
      if (r.ret === 0) {
        this.waiting.push({ addr: r.addr.addr, port: r.addr.port });
        this.copyOut(this.front, r.sga, this.back, this.backQd, this.dest);
        this.forwarded++;
      }
      this.frontPop = this.front.pop(this.frontQd);
    }
    while (this.back.tryWaitInto(r, this.backPop)) {
      const to = this.waiting.shift();
      if (r.ret === 0 && to) { this.copyOut(this.back, r.sga, this.front, this.frontQd, to); this.returned++; }
      else if (r.ret === 0) this.back.sgafree(r.sga);
      this.backPop = this.back.pop(this.backQd);
    }
  }

  /** Moves a received buffer from one LibOS to a push on the other, and frees the original. */
  private copyOut(from: Pdpix, sga: Sga, to: Pdpix, qd: number, addr: SockAddr): void {
    const out = to.sgaalloc(sga.len);
    to.bytes(out).set(from.bytes(sga));
    from.sgafree(sga);
    to.waitInto(this.w, to.pushto(qd, out, addr), 1000);
    to.sgafree(out);
  }
}

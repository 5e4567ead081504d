// A fabric peer for the two-process tests and `demiwasm bench fabric`: listens on PORT of
// fabric.node (127.0.0.1 unless the config or DEMIWASM_FABRIC_NODE says another, ::1 for IPv6),
// accepts connections, echoes every message, and answers a "region N" message with the
// descriptor of an N-byte buffer it exports for one-sided reads and writes. It keeps polling
// (libfabric progress is manual) until it is killed or DURATION seconds pass.
import { FabricLibOS } from "../host/backends/fabric.js";
import { loadConfig } from "../host/config.js";
import { sockaddr, Opcode, newResultBuffer } from "../host/libos.js";

export function runFabricPeer(port: number, maxSeconds: number): void {
  const config = loadConfig();
  const f = new FabricLibOS(config);
  const l = f.socket();
  f.bind(l, sockaddr(config.fabric.node, port));
  f.listen(l);
  process.stdout.write(`ready ${port}\n`);
  const r = newResultBuffer();
  let acceptQt = f.accept(l);
  const pops = new Map<number, number>();           // pop qt -> qd
  const pushes = new Map<number, number>();         // push qt -> buffer to free
  const end = Date.now() + maxSeconds * 1000;
  while (Date.now() < end) {
    f.poll();
    if (f.tryWaitInto(r, acceptQt)) {
      if (r.ret === 0) pops.set(f.pop(r.acceptedQd), r.acceptedQd);
      acceptQt = f.accept(l);
    }
    for (const [qt, qd] of pops) {
      if (!f.tryWaitInto(r, qt)) continue;
      pops.delete(qt);
      if (r.opcode !== Opcode.POP) { f.close(qd); continue; }   // the peer closed or died
      const text = r.sga.len < 32 ? Buffer.from(f.bytes(r.sga)).toString() : "";
      if (text.startsWith("region ")) {
        const region = f.sgaalloc(Number(text.slice(7)));
        const d = Buffer.from(JSON.stringify(f.exportRegion(region)));
        f.sgafree(r.sga);
        const reply = f.sgaalloc(d.length);
        f.bytes(reply).set(d);
        pushes.set(f.push(qd, reply), reply.buf);
      } else {
        pushes.set(f.push(qd, { buf: r.sga.buf, len: r.sga.len }), r.sga.buf);   // echo, zero-copy
      }
      pops.set(f.pop(qd), qd);
    }
    for (const [qt, buf] of pushes) {
      if (!f.tryWaitInto(r, qt)) continue;
      pushes.delete(qt);
      f.sgafree({ buf, len: 0 });
    }
  }
  f.shutdown();
}

if (process.argv[1]?.endsWith("fabric-peer.js")) runFabricPeer(Number(process.argv[2] ?? 47500), Number(process.argv[3] ?? 60));

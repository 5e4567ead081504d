// The baseline for bench tcp: Node's net over 127.0.0.1 — request/response RTT and bulk throughput.
import { createServer, connect, type Socket, type AddressInfo } from "node:net";

export async function nodeTcp(rounds: number, warmup: number, bulkBytes: number): Promise<{ rttNs: number[]; bulkGbps: number }> {
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on("data", (d) => { if (d[0] !== 0x42) s.write(d); else bulkSeen += d.length; });
  });
  let bulkSeen = 0;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const c: Socket = connect(port, "127.0.0.1");
  c.setNoDelay(true);
  await new Promise<void>((r) => c.once("connect", () => r()));
  const msg = Buffer.alloc(64, 0x61);
  const rttNs: number[] = [];
  try {
    for (let i = 0; i < warmup + rounds; i++) {
      const t0 = process.hrtime.bigint();
      await new Promise<void>((resolve) => { let got = 0; const on = (d: Buffer) => { got += d.length; if (got >= 64) { c.off("data", on); resolve(); } }; c.on("data", on); c.write(msg); });
      if (i >= warmup) rttNs.push(Number(process.hrtime.bigint() - t0));
    }
    // Bulk: one direction, 64 KiB writes, until the server has seen every byte.
    const chunk = Buffer.alloc(65536, 0x42);
    const t0 = performance.now();
    let sent = 0;
    await new Promise<void>((resolve) => {
      const pump = () => { while (sent < bulkBytes) { sent += chunk.length; if (!c.write(chunk)) { c.once("drain", pump); return; } } };
      pump();
      const check = setInterval(() => { if (bulkSeen >= bulkBytes) { clearInterval(check); resolve(); } }, 1);
    });
    const secs = (performance.now() - t0) / 1000;
    return { rttNs, bulkGbps: (bulkBytes * 8) / secs / 1e9 };
  } finally {
    c.destroy();
    server.close();
  }
}

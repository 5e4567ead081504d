// The baseline: Node's dgram echo over 127.0.0.1, one datagram in flight.
import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";

export async function nodeUdpRtt(rounds: number, warmup: number, size: number): Promise<number[]> {
  const server = createSocket("udp4");
  const client = createSocket("udp4");
  server.on("message", (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((r) => server.bind(0, "127.0.0.1", r));
  await new Promise<void>((r) => client.bind(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const payload = Buffer.alloc(size, 0x61);
  const rtt: number[] = [];
  try {
    for (let i = 0; i < warmup + rounds; i++) {
      const t0 = process.hrtime.bigint();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("demiwasm: node dgram echo timed out")), 1000);
        client.once("message", () => { clearTimeout(timer); resolve(); });
        client.send(payload, port, "127.0.0.1");
      });
      if (i >= warmup) rtt.push(Number(process.hrtime.bigint() - t0));
    }
  } finally {
    client.close();
    server.close();
  }
  return rtt;
}

// Node's own http server and keep-alive client, written once against node:http's shape, so that
// the same code runs on the stack (stack.http) and on kernel sockets (node:http itself). Used by
// `demiwasm http-serve` and `demiwasm bench http`.
import type * as http from "node:http";

/** What these programs need of an http module: node:http and every stack's `http` have it. */
export interface HttpModule {
  createServer(listener?: http.RequestListener): http.Server;
  request(options: http.RequestOptions, cb?: (res: http.IncomingMessage) => void): http.ClientRequest;
  Agent: new (options?: http.AgentOptions) => http.Agent;
}

export interface FixedServer { server: http.Server; requests(): number }

/** An http server that answers every request with the same `bodyBytes`-byte body and counts them. */
export function fixedBodyServer(h: HttpModule, bodyBytes: number): FixedServer {
  const body = Buffer.alloc(bodyBytes, 0x61);
  let n = 0;
  const server = h.createServer((req, res) => {
    n++;
    res.setHeader("content-type", "application/octet-stream");
    res.setHeader("content-length", bodyBytes);
    if (req.readableEnded) { res.end(body); return; }
    req.resume();
    req.once("end", () => res.end(body));
  });
  return { server, requests: () => n };
}

export interface LoadResult { requests: number; failed: number; seconds: number; latNs: number[] }

/**
 * One keep-alive connection, sequential GETs for `seconds` (or `count` requests), as a person
 * measuring http latency would: each request starts when the last response has been read.
 */
export async function keepAliveLoad(h: HttpModule, host: string, port: number, opts: { seconds: number; count?: number }): Promise<LoadResult> {
  const agent = new h.Agent({ keepAlive: true, maxSockets: 1 });
  const latNs: number[] = [];
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + opts.seconds * 1000;
  const count = opts.count ?? Infinity;
  try {
    while (latNs.length + failed < count && performance.now() < end) {
      const s = process.hrtime.bigint();
      const ok = await new Promise<boolean>((resolve) => {
        const req = h.request({ host, port, path: "/", agent }, (res) => {
          res.on("data", () => {});
          res.once("end", () => resolve(res.statusCode === 200));
          res.once("error", () => resolve(false));
        });
        req.once("error", () => resolve(false));
        req.end();
      });
      if (ok) latNs.push(Number(process.hrtime.bigint() - s));
      else failed++;
    }
  } finally {
    agent.destroy();
  }
  return { requests: latNs.length, failed, seconds: (performance.now() - t0) / 1000, latNs };
}

// node:http on the stack, unchanged: createServer returns Node's own http.Server, fed the
// stack's connections through its 'connection' event (Node's http accepts any Duplex there, and
// without a native handle it parses through the 'data' path); the client side is Node's own
// http.request and http.Agent with createConnection taken from stack.net.
import * as http from "node:http";
import type { NetFace, Server as NetServer, Socket, TcpConnectOptions } from "./net.js";

export interface HttpFace {
  /** A real http.Server whose listen/close/address/ref/unref act on a server of the stack. */
  createServer(listener?: http.RequestListener): http.Server;
  createServer(options: http.ServerOptions, listener?: http.RequestListener): http.Server;
  /** http.Agent whose connections are the stack's sockets (keep-alive on by default, as Node's global agent). */
  Agent: new (options?: http.AgentOptions) => http.Agent;
  /** The agent request/get use when the options name none. */
  globalAgent: http.Agent;
  request(url: string | URL, options?: http.RequestOptions, cb?: (res: http.IncomingMessage) => void): http.ClientRequest;
  request(url: string | URL, cb?: (res: http.IncomingMessage) => void): http.ClientRequest;
  request(options: http.RequestOptions, cb?: (res: http.IncomingMessage) => void): http.ClientRequest;
  get: HttpFace["request"];
}

/** node:http over `net`, the stack's own node:net face. */
export function httpFace(net: NetFace): HttpFace {

  const createServer = (a?: http.ServerOptions | http.RequestListener, b?: http.RequestListener): http.Server => {
    const server = typeof a === "function" ? http.createServer(a) : http.createServer(a ?? {}, b);
    // Node's http.Server is a net.Server: node:net's own listen would open a kernel socket. Its
    // connections come from a server of the stack instead, with allowHalfOpen as http asks.
    const inner: NetServer = net.createServer({ allowHalfOpen: true, noDelay: true }, (s: Socket) => server.emit("connection", s));
    inner.on("listening", () => server.emit("listening"));
    inner.on("error", (e: Error) => server.emit("error", e));
    inner.on("drop", (d: unknown) => server.emit("drop", d));
    Object.defineProperty(server, "listening", { get: () => inner.listening, configurable: true });
    Object.defineProperty(server, "maxConnections", { get: () => inner.maxConnections, set: (v) => { inner.maxConnections = v; }, configurable: true });
    const s = server as unknown as Record<string, unknown>;
    s.listen = (...args: unknown[]) => { (inner.listen as (...a: unknown[]) => NetServer)(...args); return server; };
    s.address = () => inner.address();
    s.getConnections = (cb: (err: Error | null, n: number) => void) => { inner.getConnections(cb); return server; };
    s.ref = () => { inner.ref(); return server; };
    s.unref = () => { inner.unref(); return server; };
    s.close = (cb?: (err?: Error) => void) => {
      // What http.Server.close does before net.Server.close: drop idle keep-alive connections and
      // stop the headers/request timeout checker it started on 'listening'.
      server.closeIdleConnections();
      const checker = Object.getOwnPropertySymbols(server).find((k) => k.description === "http.server.connectionsCheckingInterval");
      if (checker) clearInterval(s[checker as unknown as string] as NodeJS.Timeout);
      inner.close((err) => { if (cb) cb(err); if (!err) server.emit("close"); });
      return server;
    };
    return server;
  };

  class StackAgent extends http.Agent {
    constructor(options: http.AgentOptions = {}) { super({ keepAlive: true, ...options }); }
    // http.Agent hands the socket to the request at once, as with net.createConnection.
    // `path` here is the request's path, not an IPC path (that one is `socketPath`).
    createConnection(options: http.ClientRequestArgs): Socket {
      return net.createConnection({ ...options, path: options.socketPath ?? undefined, port: options.port ?? 80,
                                    host: options.host ?? options.hostname ?? undefined } as TcpConnectOptions);
    }
  }
  const globalAgent = new StackAgent();

  const request = (...args: unknown[]): http.ClientRequest => {
    // The options object is the one after an optional URL; fill in the stack's agent.
    const withAgent = (o: http.RequestOptions | undefined): http.RequestOptions => ({ agent: globalAgent, ...(o ?? {}) });
    if (typeof args[0] === "string" || args[0] instanceof URL) {
      if (typeof args[1] === "object" && args[1] !== null) return http.request(args[0], withAgent(args[1] as http.RequestOptions), args[2] as never);
      return http.request(args[0], withAgent(undefined), args[1] as never);
    }
    return http.request(withAgent(args[0] as http.RequestOptions), args[1] as never);
  };
  const get = (...args: unknown[]): http.ClientRequest => {
    const req = (request as (...a: unknown[]) => http.ClientRequest)(...args);
    req.end();
    return req;
  };

  return { createServer: createServer as HttpFace["createServer"], Agent: StackAgent as unknown as HttpFace["Agent"],
           globalAgent, request: request as HttpFace["request"], get: get as HttpFace["get"] };
}

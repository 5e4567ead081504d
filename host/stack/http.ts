// node:http on the stack, unchanged: createServer returns Node's own http.Server served by a
// server of the stack (adopt.ts: its accepted sockets reach http through the 'connection' event;
// Node's http accepts any Duplex there and parses through the 'data' path); the client side is
// Node's own http.request and http.Agent with createConnection taken from stack.net. A request
// that names its own agent, `agent: false` (a fresh agent of the stack's kind) or its own
// createConnection is served as http.request serves it.
import * as http from "node:http";
import type { NetFace, Socket, TcpConnectOptions } from "./net.js";
import { adoptServer } from "./adopt.js";
import { callable } from "./callable.js";

export interface HttpFace {
  /** A real http.Server whose listen/close/address/ref/unref act on a server of the stack. */
  createServer(listener?: http.RequestListener): http.Server;
  createServer(options: http.ServerOptions, listener?: http.RequestListener): http.Server;
  /** http.Agent whose connections are the stack's sockets; callable without new. */
  Agent: new (options?: http.AgentOptions) => http.Agent;
  /** The agent request/get use when the options name none. */
  globalAgent: http.Agent;
  request(url: string | URL, options?: http.RequestOptions, cb?: (res: http.IncomingMessage) => void): http.ClientRequest;
  request(url: string | URL, cb?: (res: http.IncomingMessage) => void): http.ClientRequest;
  request(options: http.RequestOptions, cb?: (res: http.IncomingMessage) => void): http.ClientRequest;
  get: HttpFace["request"];
}

/** An http.Agent's createConnection on the stack: `path` in its options is the request's path,
 *  an IPC path is `socketPath` (which stays on the kernel and is refused here). */
export function stackConnection(net: NetFace, options: http.ClientRequestArgs): Socket {
  return net.createConnection({ ...options, path: options.socketPath ?? undefined, port: options.port ?? 80,
                                host: options.host ?? options.hostname ?? undefined } as TcpConnectOptions);
}

/** node:http over `net`, the stack's own node:net face. */
export function httpFace(net: NetFace): HttpFace {
  const createServer = (a?: http.ServerOptions | http.RequestListener, b?: http.RequestListener): http.Server =>
    adoptServer(typeof a === "function" ? http.createServer(a) : http.createServer(a ?? {}, b), net);

  class StackAgent extends http.Agent {
    // http.Agent hands the socket to the request at once, as with net.createConnection (whose
    // argument forms it also takes when called directly).
    createConnection(...args: unknown[]): Socket {
      if (typeof args[0] === "object" && args[0] !== null) return stackConnection(net, args[0] as http.ClientRequestArgs);
      return (net.createConnection as (...a: unknown[]) => Socket)(...args);
    }
  }
  Object.defineProperty(StackAgent, "name", { value: "Agent" });
  // As Node's global agent (19+): keep-alive, last-in first-out, 5 s idle timeout; a new Agent
  // takes Node's defaults (no keep-alive).
  const globalAgent = new StackAgent({ keepAlive: true, scheduling: "lifo", timeout: 5000 });

  // ClientRequest takes `_defaultAgent` for the agent it uses when none is named, and makes a
  // fresh one of its class for `agent: false`; a createConnection of the caller's goes first.
  const withDefault = (o: http.RequestOptions | undefined): http.RequestOptions => ({ _defaultAgent: globalAgent, ...(o ?? {}) } as http.RequestOptions);
  const request = (...args: unknown[]): http.ClientRequest => {
    if (typeof args[0] === "string" || args[0] instanceof URL) {
      if (typeof args[1] === "object" && args[1] !== null) return http.request(args[0], withDefault(args[1] as http.RequestOptions), args[2] as never);
      return http.request(args[0], withDefault(undefined), args[1] as never);
    }
    return http.request(withDefault(args[0] as http.RequestOptions), args[1] as never);
  };
  const get = (...args: unknown[]): http.ClientRequest => {
    const req = (request as (...a: unknown[]) => http.ClientRequest)(...args);
    req.end();
    return req;
  };
  const Agent = callable(StackAgent);
  return { createServer: createServer as HttpFace["createServer"], Agent: Agent as unknown as HttpFace["Agent"],
           globalAgent, request: request as HttpFace["request"], get: get as HttpFace["get"] };
}

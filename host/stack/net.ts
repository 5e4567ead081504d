// node:net on the stack: the face a Stack offers (stack.net), with node:net's createServer,
// connect/createConnection, and Socket/Server callable with or without new. The classes are
// socket.ts and server.ts; the argument shapes netargs.ts.
import { Socket } from "./socket.js";
import { Server, type ServerOptions } from "./server.js";
import { normalizeConnectArgs, type SocketOptions, type TcpConnectOptions } from "./netargs.js";
import type { StackCore } from "./core.js";
import { callable } from "./callable.js";

export { Socket } from "./socket.js";
export { Server, type ServerOptions, type ListenOptions } from "./server.js";
export { normalizeConnectArgs, type SocketOptions, type TcpConnectOptions, type LookupFn, type OnRead } from "./netargs.js";

export interface NetFace {
  createServer(listener?: (s: Socket) => void): Server;
  createServer(options: ServerOptions, listener?: (s: Socket) => void): Server;
  connect(options: TcpConnectOptions, listener?: () => void): Socket;
  connect(port: number | string, host?: string, listener?: () => void): Socket;
  createConnection: NetFace["connect"];
  /** stack.net.Socket([options]), with or without new, as net.Socket. */
  Socket: new (options?: SocketOptions) => Socket;
  /** stack.net.Server([options][, listener]), with or without new, as net.Server. */
  Server: new (options?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void) => Server;
  Stream: NetFace["Socket"];
}


export function netFace(stack: StackCore): NetFace {
  class StackSocket extends Socket { constructor(options?: SocketOptions) { super(stack, options); } }
  class StackServer extends Server {
    constructor(options?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void) { super(stack, options, listener); }
    protected newSocket(options: SocketOptions & { qd: number }): Socket { return new FaceSocket(options as SocketOptions); }
  }
  // Accepted sockets are made through the face's class, so they are `instanceof` its Socket.
  const FaceSocket = StackSocket as unknown as new (o: SocketOptions & { qd?: number }) => Socket;
  Object.defineProperty(StackSocket, "name", { value: "Socket" });
  Object.defineProperty(StackServer, "name", { value: "Server" });
  const SocketC = callable(StackSocket);
  const ServerC = callable(StackServer);
  const createServer = (a?: ServerOptions | ((s: Socket) => void), b?: (s: Socket) => void): Server => new StackServer(a, b);
  const connect = (...args: unknown[]): Socket => {
    const n = normalizeConnectArgs(args);
    const s = new StackSocket(n[0] as SocketOptions);
    if (n[0].timeout) s.setTimeout(n[0].timeout);
    return s.connect(n as unknown as TcpConnectOptions);
  };
  return { createServer: createServer as NetFace["createServer"], connect: connect as NetFace["connect"],
           createConnection: connect as NetFace["connect"], Socket: SocketC, Server: ServerC, Stream: SocketC };
}

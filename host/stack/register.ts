// demiwasm/register: `node --import demiwasm/register app.js` moves an unmodified program onto
// one stack, opened from the usual config (DEMIWASM_* variables, or the file DEMIWASM_CONFIG
// names; the in-memory backend by default). Node's builtin module objects are changed in place,
// so the program, the libraries it loads and Node's own modules that read them at call time
// (http's and https' agents through tls, the fetch client's connector) all see the stack:
//   net     Socket/Stream and connect/createConnection are the stack's; net.Server (so http,
//           https and tls servers, express, fastify, ws) listens on the stack (adopt.ts);
//   dgram   createSocket/Socket are the stack's;
//   tls     connect() runs TLS over a socket of the stack unless given one (https clients);
//   http    every http.Agent connects through the stack.
// ESM named imports follow (module.syncBuiltinESMExports). What the stack cannot carry keeps
// working on the kernel: IPC paths (net.connect(path), listen(path)), fds and handles.
import { createRequire, syncBuiltinESMExports } from "node:module";
import type * as NetNs from "node:net";
import type * as DgramNs from "node:dgram";
import type * as TlsNs from "node:tls";
import type * as HttpNs from "node:http";
import { loadConfig } from "../config.js";
import { openStack, type Stack } from "./stack.js";
import { normalizeConnectArgs, type TcpConnectOptions } from "./net.js";
import { setDefaultServers } from "./adopt.js";
import { stackConnection } from "./http.js";

const require = createRequire(import.meta.url);
const net = require("node:net") as typeof NetNs & Record<string, unknown>;
const dgram = require("node:dgram") as typeof DgramNs & Record<string, unknown>;
const tls = require("node:tls") as typeof TlsNs & Record<string, unknown>;
const http = require("node:http") as typeof HttpNs;

/** The stack the program runs on. */
export const stack: Stack = openStack(loadConfig());

const kernel = { Socket: net.Socket, connect: net.connect, tlsConnect: tls.connect };

/** An options object or fd that only a kernel socket can take. */
const kernelSocketOptions = (o: unknown) =>
  typeof o === "number" || (o !== null && typeof o === "object" && ((o as { fd?: unknown }).fd !== undefined || (o as { handle?: unknown }).handle !== undefined));

// net: new net.Socket() (with or without new, subclasses too) and connect() are the stack's.
// Node's own function-style subclasses made before this ran (tls.TLSSocket) still call
// net.Socket with their `this`: those, and fd/handle sockets, get the kernel's constructor; both
// kinds are `instanceof net.Socket`.
const StackSocket = stack.net.Socket;
const Socket: typeof StackSocket = new Proxy(StackSocket, {
  construct: (target, args, newTarget): object => kernelSocketOptions(args[0])
    ? Reflect.construct(kernel.Socket, args, newTarget === Socket ? kernel.Socket : newTarget)
    : Reflect.construct(target, args, newTarget === Socket ? target : newTarget),
  apply: (_t, self, args) => self instanceof kernel.Socket ? Reflect.apply(kernel.Socket, self, args) : new Socket(...args as [never]),
  get: (target, key, receiver) => key === Symbol.hasInstance
    ? (v: unknown) => v instanceof StackSocket || v instanceof kernel.Socket
    : Reflect.get(target, key, receiver),
});
const connect = (...args: unknown[]) => {
  const n = normalizeConnectArgs(args);
  if (n[0].path != null) return (kernel.connect as (...a: unknown[]) => unknown)(...args);
  return (stack.net.connect as (...a: unknown[]) => unknown)(...args);
};
Object.assign(net, { Socket, Stream: Socket, connect, createConnection: connect });
setDefaultServers(stack.net);

// dgram
Object.assign(dgram, { createSocket: stack.dgram.createSocket, Socket: stack.dgram.Socket });

// tls: a client without a socket of its own gets one of the stack's (https.Agent reads
// tls.connect at call time, so https clients follow).
tls.connect = function connectOverStack(...args: unknown[]) {
  const cb = typeof args[args.length - 1] === "function" ? args[args.length - 1] : undefined;
  let options: TlsNs.ConnectionOptions & TcpConnectOptions;
  if (typeof args[0] === "object" && args[0] !== null) options = { ...args[0] as object };
  else {
    options = { port: args[0] as number };
    if (typeof args[1] === "string") options.host = args[1];
    if (typeof args[args.length - 2] === "object" && args[args.length - 2] !== null) Object.assign(options, args[args.length - 2]);
  }
  if (options.socket === undefined && options.path == null) {
    options.socket = stack.net.connect({ port: options.port ?? 443, host: options.host ?? "localhost", localAddress: options.localAddress,
                                         family: options.family, lookup: options.lookup as never }) as never;
    options.servername ??= options.host !== undefined && !net.isIP(options.host) ? options.host : undefined;
  }
  return kernel.tlsConnect(options, cb as () => void);
} as typeof tls.connect;

// tls over a connected socket of the stack: TLSSocket takes any net.Socket without a native
// handle as still connecting (it waits for a 'connect' that an accepted socket never emits), so
// its setup learns here that a connected one is connected.
const tlsInit = tls.TLSSocket.prototype as unknown as { _init: (socket: unknown, wrap: unknown) => unknown; connecting: boolean };
const kernelTlsInit = tlsInit._init;
tlsInit._init = function (this: { connecting: boolean }, socket: unknown, wrap: unknown) {
  const r = kernelTlsInit.call(this, socket, wrap);
  if (socket instanceof StackSocket && !socket.connecting && !socket.destroyed) this.connecting = false;
  return r;
};

// http: every Agent (the global one, express/undici-free clients, libraries' own) connects
// through the stack; a socketPath stays on the kernel.
const agentConnect = http.Agent.prototype as unknown as { createConnection: (...a: unknown[]) => unknown };
const kernelAgentConnect = agentConnect.createConnection;
agentConnect.createConnection = function (this: unknown, ...args: unknown[]) {
  const o = args[0];
  if (typeof o !== "object" || o === null) return (connect as (...a: unknown[]) => unknown)(...args);
  return (o as HttpNs.ClientRequestArgs).socketPath ? kernelAgentConnect.apply(this, args as never) : stackConnection(stack.net, o as HttpNs.ClientRequestArgs);
};

syncBuiltinESMExports();

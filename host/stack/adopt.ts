// Node's own servers on the stack. A node:net Server (and through it http.Server, https.Server,
// tls.Server, whatever library made it) can take its connections from a server of the stack:
// listen, close, address, getConnections, ref/unref and `listening` then act on the stack's
// server, whose accepted sockets reach the outer server through its 'connection' event, which is
// all Node's http and tls servers listen to (they read any Duplex through the JS 'data' path).
// The outer server's options (allowHalfOpen, pauseOnConnect, noDelay, keepAlive, highWaterMark,
// blockList) and its maxConnections are the inner server's.
//
// This works by wrapping those methods on net.Server.prototype once: http.Server.close calls
// net.Server.prototype.close by reference (after closing its idle connections), so only the
// prototype sees every server. A server is the stack's when a face adopted it (stack.http's
// createServer) or when a default stack is set (demiwasm/register) and its listen names a port;
// every other server, and every IPC path, fd or handle, keeps Node's kernel methods.
import * as nodeNet from "node:net";
import type { NetFace, Server as StackServer, Socket } from "./net.js";
import { isPipeName } from "./netargs.js";

type Outer = nodeNet.Server & {
  allowHalfOpen?: boolean; pauseOnConnect?: boolean; noDelay?: boolean; keepAlive?: boolean; highWaterMark?: number; blockList?: unknown;
};

const owners = new WeakMap<object, NetFace>();
const inners = new WeakMap<object, StackServer>();
let defaultFace: NetFace | null = null;
let installed = false;

/** Serves `server` (a Node net/http/https/tls server) from the stack of `net`. */
export function adoptServer<T extends nodeNet.Server>(server: T, net: NetFace): T {
  install();
  owners.set(server, net);
  return server;
}

/** Every TCP server listened from now on is served by `net`'s stack (null: back to the kernel). */
export function setDefaultServers(net: NetFace | null): void {
  install();
  defaultFace = net;
}

/** listen(path | {path} | {fd} | {handle} | handle) stays on the kernel. */
function isKernelListen(args: unknown[]): boolean {
  const a = args[0];
  if (isPipeName(a)) return true;
  if (a !== null && typeof a === "object") {
    const o = a as Record<string, unknown>;
    return o.path != null || typeof o.fd === "number" || o.handle !== undefined || o._handle !== undefined || !("port" in o || "host" in o || "backlog" in o || "signal" in o || "exclusive" in o || "ipv6Only" in o);
  }
  return false;
}

function innerOf(outer: Outer, net: NetFace): StackServer {
  let inner = inners.get(outer);
  if (inner !== undefined) return inner;
  inner = net.createServer({ allowHalfOpen: outer.allowHalfOpen, pauseOnConnect: outer.pauseOnConnect, noDelay: outer.noDelay,
                             keepAlive: outer.keepAlive, highWaterMark: outer.highWaterMark, blockList: outer.blockList as never },
                           (s: Socket) => outer.emit("connection", s));
  Object.defineProperty(inner, "maxConnections", { get: () => outer.maxConnections, set: (v) => { outer.maxConnections = v; }, configurable: true });
  inner.on("listening", () => outer.emit("listening"));
  inner.on("error", (e: Error) => outer.emit("error", e));
  inner.on("drop", (d: unknown) => outer.emit("drop", d));
  inner.on("close", () => outer.emit("close"));
  // unref() before listen() is Node's _unref flag (its unref with no handle yet): honoured here.
  if ((outer as { _unref?: boolean })._unref) inner.unref();
  inners.set(outer, inner);
  return inner;
}

function install(): void {
  if (installed) return;
  installed = true;
  const proto = nodeNet.Server.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const kernel = { listen: proto.listen, close: proto.close, address: proto.address, getConnections: proto.getConnections,
                   ref: proto.ref, unref: proto.unref };
  const listening = Object.getOwnPropertyDescriptor(nodeNet.Server.prototype, "listening")!;
  const onStack = (self: object) => inners.get(self);
  Object.defineProperties(nodeNet.Server.prototype, {
    listen: {
      configurable: true, writable: true,
      value(this: Outer, ...args: unknown[]) {
        const face = owners.get(this) ?? (defaultFace !== null && !isKernelListen(args) ? defaultFace : null);
        if (face === null || (owners.get(this) !== undefined && isKernelListen(args))) return kernel.listen.apply(this, args);
        // The listening callback is the outer server's, called with it as `this`.
        if (typeof args[args.length - 1] === "function") this.once("listening", args.pop() as () => void);
        (innerOf(this, face).listen as (...a: unknown[]) => unknown)(...args);
        return this;
      },
    },
    close: {
      configurable: true, writable: true,
      value(this: Outer, cb?: (e?: Error) => void) {
        const inner = onStack(this);
        if (inner === undefined) return kernel.close.call(this, cb);
        if (typeof cb === "function") {
          if (!inner.listening) this.once("close", () => cb(Object.assign(new Error("Server is not running."), { code: "ERR_SERVER_NOT_RUNNING" })));
          else this.once("close", cb);
        }
        inner.close();
        return this;
      },
    },
    address: { configurable: true, writable: true, value(this: Outer) { return onStack(this)?.address() ?? kernel.address.call(this); } },
    getConnections: {
      configurable: true, writable: true,
      value(this: Outer, cb: (e: Error | null, n: number) => void) {
        const inner = onStack(this);
        if (inner === undefined) return kernel.getConnections.call(this, cb);
        inner.getConnections(cb);
        return this;
      },
    },
    ref: { configurable: true, writable: true, value(this: Outer) { const i = onStack(this); if (i === undefined) return kernel.ref.call(this); i.ref(); return this; } },
    unref: { configurable: true, writable: true, value(this: Outer) { const i = onStack(this); if (i === undefined) return kernel.unref.call(this); i.unref(); return this; } },
    listening: {
      configurable: true, enumerable: listening.enumerable,
      get(this: Outer) { const i = onStack(this); return i !== undefined ? i.listening : listening.get!.call(this); },
    },
  });
}

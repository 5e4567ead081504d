// node:net's argument shapes for the stack's sockets: the options Socket, connect and listen take,
// and node:net's reading of (options | path | port[, host])[, cb].
import type { BlockList } from "node:net";

export type LookupFn = (host: string, opts: { family: number; hints?: number; all?: boolean },
                        cb: (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void) => void;

export interface SocketOptions {
  allowHalfOpen?: boolean;
  /** Do not start reading until resume() (node:net's pauseOnConnect, for accepted sockets). */
  pauseOnCreate?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  signal?: AbortSignal;
  blockList?: BlockList;
  readable?: boolean;
  writable?: boolean;
  highWaterMark?: number;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  objectMode?: boolean;
  readableObjectMode?: boolean;
  writableObjectMode?: boolean;
  /** Data into the caller's buffer instead of 'data' events (node:net's onread). */
  onread?: OnRead;
}

export interface OnRead {
  buffer: Uint8Array | (() => Uint8Array);
  /** Called with each read's length and the buffer; false stops reading until resume(). */
  callback: (nread: number, buf: Uint8Array) => boolean | void;
}

export interface TcpConnectOptions {
  port?: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: number;
  hints?: number;
  lookup?: LookupFn;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
  path?: string;
  allowHalfOpen?: boolean;
  signal?: AbortSignal;
  blockList?: BlockList;
  autoSelectFamily?: boolean;
  autoSelectFamilyAttemptTimeout?: number;
}

export type AddrInfo = { address: string; family: "IPv4" | "IPv6"; port: number };
export type Normalized = [TcpConnectOptions, (() => void) | null] & { [normalized]?: true };
const normalized = Symbol("demiwasm.net.normalizedArgs");


/** A numeric string or number is a port; any other string is an IPC path (node:net's rule). */
export function isPipeName(s: unknown): s is string { return typeof s === "string" && !(Number(s) >= 0); }

/** (options[, cb]) | (path[, cb]) | ([port][, host][, cb]) as node:net reads them. */
export function normalizeConnectArgs(args: unknown[]): Normalized {
  if (Array.isArray(args[0]) && (args[0] as Normalized)[normalized]) return args[0] as Normalized;
  let out: Normalized;
  if (args.length === 0) out = [{}, null];
  else {
    const a0 = args[0];
    let options: TcpConnectOptions = {};
    if (typeof a0 === "object" && a0 !== null) options = a0 as TcpConnectOptions;
    else if (isPipeName(a0)) options.path = a0;
    else {
      options.port = a0 as number;
      if (args.length > 1 && typeof args[1] === "string") options.host = args[1];
    }
    const cb = args[args.length - 1];
    out = [options, typeof cb === "function" ? cb as () => void : null];
  }
  out[normalized] = true;
  return out;
}

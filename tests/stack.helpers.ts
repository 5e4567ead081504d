// Stacks driven from the event loop, for the Node-facing suites: two Wasm stacks on a fresh
// loopback link (real clock), or two on kernel sockets (posix), with the address a server binds.
import { LibOS } from "../host/libos.js";
import { PosixLibOS } from "../host/backends/posix.js";
import { LoopbackLink } from "../host/backends/loopback.js";
import { RealClock } from "../host/clock.js";
import { loadConfig } from "../host/config.js";
import { Stack } from "../host/stack/stack.js";
import { A_IP, A_MAC, B_IP, B_MAC } from "./helpers.js";

export interface StackPair { kind: "wasm" | "posix"; a: Stack; b: Stack; serverIp: string; serverIp6: string; close(): Promise<void> }

const BASE = { memory_mb: 24, "pool.small_buffers": 2048, "tcp.max_connections": 128, "tcp.time_wait_ms": 5 };

/** Two Wasm stacks on a fresh loopback link; `serverOverrides` apply to a (the server) alone. */
export function wasmPair(overrides: Record<string, unknown> = {}, serverOverrides: Record<string, unknown> = {}): StackPair {
  const link = new LoopbackLink({ seed: 1 }, new RealClock(), true);
  const cfg = (ip: string, mac: string, more: Record<string, unknown> = {}) =>
    loadConfig({ env: {}, overrides: { ...BASE, local_ipv4: ip, mac, seed: 7, ...overrides, ...more } });
  const a = new Stack(new LibOS({ config: cfg(A_IP, A_MAC, serverOverrides), link }));
  const b = new Stack(new LibOS({ config: cfg(B_IP, B_MAC), link }));
  return { kind: "wasm", a, b, serverIp: A_IP, serverIp6: "", close: async () => { await a.close(); await b.close(); } };
}

/** Two dual-stack Wasm stacks (fd00:6::1 serves, fd00:6::2 is the client), addresses usable at once. */
export function wasmPair6(): StackPair {
  const link = new LoopbackLink({ seed: 1 }, new RealClock(), true);
  const cfg = (ip: string, mac: string, ip6: string) =>
    loadConfig({ env: {}, overrides: { ...BASE, local_ipv4: ip, mac, seed: 7, local_ipv6: [`${ip6}/64`], "ndp.dad_transmits": 0 } });
  const a = new Stack(new LibOS({ config: cfg(A_IP, A_MAC, "fd00:6::1"), link }));
  const b = new Stack(new LibOS({ config: cfg(B_IP, B_MAC, "fd00:6::2"), link }));
  return { kind: "wasm", a, b, serverIp: A_IP, serverIp6: "fd00:6::1", close: async () => { await a.close(); await b.close(); } };
}

export function posixPair(overrides: Record<string, unknown> = {}): StackPair {
  const cfg = () => loadConfig({ env: {}, overrides: { ...BASE, backend: "posix", ...overrides } });
  const a = new Stack(new PosixLibOS(cfg()));
  const b = new Stack(new PosixLibOS(cfg()));
  return { kind: "posix", a, b, serverIp: "127.0.0.1", serverIp6: "::1", close: async () => { await a.close(); await b.close(); } };
}

export const PAIRS: [string, (o?: Record<string, unknown>) => StackPair][] = [["wasm", wasmPair], ["posix", posixPair]];
/** The same over IPv6 (serverIp6: the server's address). */
export const PAIRS6: [string, () => StackPair][] = [["wasm", wasmPair6], ["posix", () => posixPair()]];

/** Resolves once `cond` holds, checking every millisecond; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Every byte a readable gives until 'end'. */
export function collect(r: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    r.on("data", (d: Buffer) => parts.push(d));
    r.on("end", () => resolve(Buffer.concat(parts)));
    r.on("error", reject);
  });
}

/** The next 'error' event of an emitter. */
export function nextError(e: NodeJS.EventEmitter): Promise<Error & { code?: string; syscall?: string; address?: string; port?: number }> {
  return new Promise((resolve) => e.once("error", resolve));
}

/** A pool size that says every buffer is back (both stacks). */
export function poolFull(p: StackPair): boolean {
  return [p.a, p.b].every((s) => s.libos.dp.exports.poolAvailable() === s.libos.dp.exports.poolSize());
}

/** A server on p.a that reads and discards everything, and a client on p.b connected to it. */
export async function sinkAndClient(p: StackPair): Promise<{ server: ReturnType<Stack["net"]["createServer"]>; port: number; c: ReturnType<Stack["net"]["connect"]> }> {
  const server = p.a.net.createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(0, p.serverIp, r));
  const port = (server.address() as { port: number }).port;
  const c = p.b.net.connect(port, p.serverIp);
  await new Promise((r) => c.once("connect", r));
  return { server, port, c };
}

// The optional native bridge (native/, raw N-API). Loaded on first use; when it was not built,
// the error is one line naming what to install.
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface FabricNative {
  open(provider: string, node: string, service: string, memory: Uint8Array, regionOff: number, regionLen: number, cqSize: number): unknown;
  info(h: unknown): { name: Buffer; key: number; provider: string; domain: string };
  avInsert(h: unknown, name: Buffer): number;
  resolve(provider: string, node: string, service: string): Buffer;
  send(h: unknown, fiAddr: number, tag: number, off: number, len: number, ctx: number): number;
  recv(h: unknown, tag: number, off: number, len: number, ctx: number): number;
  rma(h: unknown, write: boolean, fiAddr: number, off: number, len: number, remoteOff: number, key: number, ctx: number): number;
  poll(h: unknown, out: Int32Array, max: number): number;
  cancel(h: unknown, ctx: number): number;
  close(h: unknown): void;
}

export interface PosixNative {
  /** An IPv6 socket is IPV6_V6ONLY. Addresses travel in a block (host/backends/posix.ts AddrBlock). */
  socket(stream: boolean, v6: boolean): number;
  bind(fd: number, at: Uint32Array): number;
  connect(fd: number, to: Uint32Array): number;
  connected(fd: number): number;
  listen(fd: number, backlog: number): number;
  accept(fd: number, out: Uint32Array): number;
  recv(fd: number, mem: Uint8Array, off: number, len: number, from: Uint32Array | null): number;
  pending(fd: number): number;
  send(fd: number, mem: Uint8Array, off: number, len: number, to: Uint32Array | null): number;
  sockname(fd: number, peer: boolean, out: Uint32Array): number;
  close(fd: number): number;
  /** TCP_NODELAY (1) or SO_KEEPALIVE (2). */
  setsockopt(fd: number, opt: number, on: number): number;
  /** SHUT_WR: the FIN of a half-close. */
  shutdown(fd: number): number;
  /** The one process-wide function a ready watched fd calls with the fd (native/watch.c), or null. */
  setWaker(fn: ((fd: number) => void) | null): void;
  /** Watches fd for READABLE (1) and/or WRITABLE (2) through libuv; 0 stops. 0 or -errno. */
  watch(fd: number, events: number): number;
}

/** A DPDK port bound to one datapath (native/dpdk); it holds the Wasm memory alive. */
export type DpdkPortHandle = { readonly __dpdkPort: unique symbol };

export interface DpdkNative {
  init(args: string[]): void;
  open(device: string, memory: Uint8Array, slotsOff: number, slots: number, regionOff: number, regionLen: number,
       rings: Uint32Array, flags: number, queue: number, rxDesc: number, txDesc: number, burst: number): DpdkPortHandle;
  /** TX burst from the tx ring, then RX burst into the rx ring (fill/comp protocol); frames moved. */
  burst(h: DpdkPortHandle): number;
  /** The same for a raw (benchmark) port: no fill/comp, the device owns the frames. */
  rawBurst(h: DpdkPortHandle): number;
  close(h: DpdkPortHandle): void;
  /** The ports (the link group's, in order) a tx entry may name as its egress (a REDIRECT). */
  setEgress(h: DpdkPortHandle, ports: DpdkPortHandle[]): void;
  stats(h: DpdkPortHandle, out: Float64Array): number;
  mac(h: DpdkPortHandle): string;
  ringPort(name: string, rxRing: string, txRing: string): void;
  /** One port for several datapaths: configure it with N queue pairs, open one queue per datapath, then start it. */
  configure(device: string, queues: number): void;
  start(device: string): void;
  inject(h: DpdkPortHandle, count: number, len: number): number;
  injectBad(ring: string, kind: string): number;
  nativeReflect(h: DpdkPortHandle, bursts: number): [number, number];
  /** 0 when the kernel lets this process open an AF_XDP socket, else the errno that refused it. */
  afXdpProbe(): number;
}

/** What scripts/build-native.mjs wrote: the parts it built, or why it failed. */
interface BuildStatus { parts: string[]; why: string | null }

function buildStatus(dir: string): BuildStatus | null {
  try { return JSON.parse(readFileSync(`${dir}/../demiwasm-build.json`, "utf8")) as BuildStatus; } catch { return null; }
}

/**
 * Loads one part of the native bridge, or throws one line that says why it is not there: it
 * failed to load, the bridge did not build (and why), it was built without the library the part
 * needs (`needs`: what to install), or it was never built because npm did not run the install
 * script. DEMIWASM_NATIVE_DIR points at another build (packaging, tests of its absence).
 */
function load<T>(name: string, needs: string | null): T {
  const dir = process.env.DEMIWASM_NATIVE_DIR ?? fileURLToPath(new URL("../../native/build/Release", import.meta.url));
  const file = `${dir}/demiwasm_${name}.node`;
  const head = name === "nfnative" ? "demiwasm: the C baselines of the NF benchmark are not available: " : `demiwasm: backend '${name}' is not available: `;
  if (existsSync(file)) {
    try { return createRequire(import.meta.url)(file) as T; } catch (e) {
      throw new Error(`${head}its native part failed to load (${(e as Error).message.split("\n")[0]})`);
    }
  }
  const status = buildStatus(dir);
  if (status?.why) throw new Error(`${head}the native bridge did not build when demiwasm was installed (${status.why}); fix that, then npm rebuild demiwasm`);
  if (needs !== null) throw new Error(`${head}the native bridge was built without it; ${needs}, then npm rebuild demiwasm`);
  throw new Error(`${head}the native bridge was never built: npm did not run demiwasm's install script (--ignore-scripts, ` +
    "or npm 11+ waiting for approval: see docs/install.md); npm rebuild demiwasm builds it");
}

let fabric: FabricNative | null = null;
let dpdk: DpdkNative | null = null;
let posix: PosixNative | null = null;

export function fabricNative(): FabricNative {
  return fabric ??= load<FabricNative>("fabric", "apt-get install libfabric-dev libfabric-bin pkg-config");
}

export function posixNative(): PosixNative {
  return posix ??= load<PosixNative>("posix", null);
}

export function dpdkNative(): DpdkNative {
  return dpdk ??= load<DpdkNative>("dpdk", "apt-get install dpdk libdpdk-dev pkg-config");
}

/** The sample NFs' logic in C (native/nf), the baseline of `demiwasm bench nf`. */
export interface NfNative {
  open(name: string, params: Float64Array, extra: Float64Array): unknown;
  process(nf: unknown, area: Uint8Array, count: number): void;
}

let nfnative: NfNative | null = null;

export function nfNative(): NfNative {
  return nfnative ??= load<NfNative>("nfnative", null);
}

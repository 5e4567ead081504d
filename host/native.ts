// The optional native bridge (native/, raw N-API). Loaded on first use; when it was not built,
// the error is one line naming what to install.
import { createRequire } from "node:module";
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

let fabric: FabricNative | null = null;

export function fabricNative(): FabricNative {
  if (fabric) return fabric;
  // DEMIWASM_NATIVE_DIR points at another build of the bridge (packaging, tests of its absence).
  const dir = process.env.DEMIWASM_NATIVE_DIR ?? fileURLToPath(new URL("../../native/build/Release", import.meta.url));
  const path = `${dir}/demiwasm_fabric.node`;
  try {
    fabric = createRequire(import.meta.url)(path) as FabricNative;
  } catch {
    throw new Error("demiwasm: backend 'fabric' is not available: the native bridge is not built; " +
      "apt-get install libfabric-dev libfabric-bin pkg-config, then npm rebuild");
  }
  return fabric;
}

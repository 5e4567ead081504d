// Loading an NF module: it must import its memory and nothing outside the NF ABI, and export the
// entry points; then it is metered (when the manifest sets a fuel budget) and compiled once.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import binaryen from "binaryen";
import { meter, METER_EXPORTS } from "./meter.js";
import { validateNf } from "./validate.js";

/** Every function an NF may import, by module. */
export const ALLOWED_IMPORTS: Record<string, readonly string[]> = {
  nf: ["map_get", "map_put", "map_del", "shared_get", "shared_put", "shared_del", "map_open", "config", "log"],
  // WASI preview1, limited to a clock, randomness and standard output (as log lines).
  wasi_snapshot_preview1: ["clock_time_get", "random_get", "fd_write", "proc_exit"],
};
const REQUIRED_EXPORTS = ["nf_area", "nf_init", "nf_process"];
/** The entry points' types (parameters → results), as the host calls them. */
const ENTRY_TYPES: Record<string, string> = { nf_area: "() → (i32)", nf_init: "() → (i32)", nf_process: "(i32) → ()", nf_tick: "(f64) → ()" };

export class NfLoadError extends Error {
  constructor(name: string, msg: string) {
    // One line whatever the module holds: names it declares (imports, exports) may carry control
    // characters, shown escaped.
    super(`demiwasm: NF '${name}' refused: ${msg}`.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
    this.name = "NfLoadError";
  }
}

export interface NfModule {
  module: WebAssembly.Module;
  metered: boolean;
  memoryInitial: number;          // pages the module asks for at least
  memoryMaximum: number | null;   // pages it declares at most, if it does
  hasTick: boolean;
  digest: string;
}

const cache = new Map<string, NfModule>();

/** Reads, checks, meters and compiles an NF module; throws NfLoadError (one line) when refused. */
export function loadNfModule(name: string, path: string, metered: boolean): NfModule {
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync(path)); } catch (e) { throw new NfLoadError(name, `cannot read ${path}: ${(e as Error).message}`); }
  return checkNfModule(name, bytes, metered);
}

export function checkNfModule(name: string, bytes: Uint8Array, metered: boolean): NfModule {
  const digest = createHash("sha256").update(bytes).digest("hex");
  const key = `${digest}:${metered}`;
  const hit = cache.get(key);
  if (hit) return hit;
  // Our rules first, the same on every Node; then the engine's own validation.
  const v = validateNf(bytes);
  if (!v.ok) throw new NfLoadError(name, `${v.detail} (rule: ${v.rule})`);
  let plain: WebAssembly.Module;
  try { plain = new WebAssembly.Module(bytes as unknown as BufferSource); } catch (e) { throw new NfLoadError(name, `not a valid Wasm module: ${(e as Error).message}`); }
  let memory = false;
  for (const imp of WebAssembly.Module.imports(plain)) {
    if (imp.kind === "memory" && imp.module === "env" && imp.name === "memory") { memory = true; continue; }
    const allowed = ALLOWED_IMPORTS[imp.module];
    if (imp.kind !== "function" || !allowed || !allowed.includes(imp.name)) {
      throw new NfLoadError(name, `it imports ${imp.module}.${imp.name} (${imp.kind}), which the NF ABI does not allow ` +
        `(allowed: env.memory, nf.{${ALLOWED_IMPORTS.nf.join(",")}}, wasi_snapshot_preview1.{${ALLOWED_IMPORTS.wasi_snapshot_preview1.join(",")}})`);
    }
  }
  if (!memory) throw new NfLoadError(name, "it must import its memory as env.memory (the host sizes it from the manifest)");
  const exported = WebAssembly.Module.exports(plain);
  const exports = exported.map((e) => e.name);
  for (const e of REQUIRED_EXPORTS) {
    if (!exported.some((x) => x.name === e && x.kind === "function")) throw new NfLoadError(name, `it does not export ${e} as a function`);
  }
  for (const e of METER_EXPORTS) if (exports.includes(e)) throw new NfLoadError(name, `it exports ${e}, a name fuel metering uses`);
  let mem: { initial: number; max?: number };
  let badEntry: string | null = null;
  try {
    const mod = binaryen.readBinary(bytes);
    mem = mod.getMemoryInfo() as unknown as { initial: number; max?: number };
    badEntry = entryTypeMismatch(mod);
    mod.dispose();
  } catch (e) {
    // binaryen throws non-Error objects; V8 took the module, binaryen could not read it.
    throw new NfLoadError(name, `binaryen cannot read it: ${String((e as { message?: string }).message ?? e).split("\n")[0]}`);
  }
  if (badEntry) throw new NfLoadError(name, badEntry);
  let module = plain;
  if (metered) {
    try {
      module = new WebAssembly.Module(meter(bytes).bytes as unknown as BufferSource);
    } catch (e) {
      throw new NfLoadError(name, `fuel metering failed: ${String((e as { message?: string }).message ?? e).split("\n")[0]}`);
    }
  }
  const out: NfModule = {
    module, metered, memoryInitial: mem.initial, memoryMaximum: typeof mem.max === "number" ? mem.max : null,
    hasTick: exports.includes("nf_tick"), digest,
  };
  cache.set(key, out);
  return out;
}

const typeText = (t: number) => `(${binaryen.expandType(t).map((x) => TYPE_NAMES.get(x) ?? "?").join(", ")})`;
const TYPE_NAMES = new Map<number, string>([[binaryen.i32, "i32"], [binaryen.i64, "i64"], [binaryen.f32, "f32"], [binaryen.f64, "f64"],
  [binaryen.v128, "v128"], [binaryen.funcref, "funcref"], [binaryen.externref, "externref"]]);

/** Why an exported entry point's type is not the one the host calls it with, or null. */
function entryTypeMismatch(mod: binaryen.Module): string | null {
  for (const [entry, want] of Object.entries(ENTRY_TYPES)) {
    const ex = mod.getExport(entry);
    if (!ex || binaryen.getExportInfo(ex).kind !== binaryen.ExternalFunction) continue;
    const f = binaryen.getFunctionInfo(mod.getFunction(binaryen.getExportInfo(ex).value));
    const got = `${typeText(f.params)} → ${typeText(f.results)}`;
    if (got !== want) return `it exports ${entry} as ${got}; the NF ABI's is ${want}`;
  }
  return null;
}

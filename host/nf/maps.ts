// The maps of one owner (an NF's private maps, or a chain's shared ones): an instance of the
// trusted map engine (assembly/nf/maps.ts) with its own memory sized for what the manifests
// declare. NFs import its functions directly; the host reads it for stats and carries it over a
// hot reload when the new manifest declares the same maps.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { MapSpec } from "./manifest.js";
import { MAP_HASH, MAP_LRU, MAP_ARRAY, MAP_ENTRY as ENTRY } from "../schema/nf.js";

const KIND = { hash: MAP_HASH, lru: MAP_LRU, array: MAP_ARRAY } as const;

interface Engine {
  map_bytes(kind: number, capacity: number): number;
  map_create(kind: number, capacity: number): number;
  map_get(id: number, k0: bigint, k1: bigint): bigint;
  map_put(id: number, k0: bigint, k1: bigint, v: bigint): number;
  map_del(id: number, k0: bigint, k1: bigint): number;
  map_count(id: number): number;
  map_next(id: number, from: number): number;
  entry_ptr(id: number, slot: number): number;
}

let engineModule: WebAssembly.Module | null = null;

function engine(): WebAssembly.Module {
  if (engineModule) return engineModule;
  const path = fileURLToPath(new URL("../../../build/nf/maps.wasm", import.meta.url));
  try {
    engineModule = new WebAssembly.Module(readFileSync(path));
  } catch {
    throw new Error(`demiwasm: ${path} is missing: run 'npm run build' first`);
  }
  return engineModule;
}

/** What assembly/nf/maps.ts map_bytes() takes: hash maps keep at most half their slots used. */
function mapBytes(s: MapSpec): number {
  if (s.kind === "array") return s.capacity * ENTRY;
  let slots = 16;
  while (slots < s.capacity * 2) slots *= 2;
  return slots * ENTRY;
}

export class MapSet {
  readonly exports: Engine;
  private readonly ids = new Map<string, number>();
  private readonly memory: WebAssembly.Memory;

  constructor(readonly specs: readonly MapSpec[]) {
    const bytes = specs.reduce((n, s) => n + mapBytes(s), 0) + 65536;     // + the engine's headers and data
    const pages = Math.ceil(bytes / 65536) + 1;
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    this.exports = new WebAssembly.Instance(engine(), { env: { memory: this.memory } }).exports as unknown as Engine;
    for (const s of specs) {
      const id = this.exports.map_create(KIND[s.kind], s.capacity);
      if (id < 0) throw new Error(`demiwasm: map '${s.name}' could not be created (${-id})`);
      this.ids.set(s.name, id);
    }
  }

  id(name: string): number { return this.ids.get(name) ?? -1; }

  /** True when `specs` declares exactly these maps (name, kind, capacity): state may carry over. */
  sameSchema(specs: readonly MapSpec[]): boolean {
    if (specs.length !== this.specs.length) return false;
    return specs.every((s) => this.specs.some((o) => o.name === s.name && o.kind === s.kind && o.capacity === s.capacity));
  }

  get(name: string, k0: bigint, k1 = 0n): bigint | null {
    const id = this.id(name);
    if (id < 0) return null;
    const v = this.exports.map_get(id, k0, k1);
    return v === -1n ? null : v;
  }

  count(name: string): number { const id = this.id(name); return id < 0 ? 0 : this.exports.map_count(id); }

  /** Every entry of a hash or LRU map as [k0, k1, value]. */
  entries(name: string): [bigint, bigint, bigint][] {
    const id = this.id(name);
    const out: [bigint, bigint, bigint][] = [];
    if (id < 0) return out;
    const view = new DataView(this.memory.buffer);
    for (let s = this.exports.map_next(id, -1); s >= 0; s = this.exports.map_next(id, s)) {
      const p = this.exports.entry_ptr(id, s);
      out.push([view.getBigInt64(p, true), view.getBigInt64(p + 8, true), view.getBigInt64(p + 16, true)]);
    }
    return out;
  }
}

// An NF's manifest: its module, the limits it runs under, what happens when it fails, the maps
// it declares and its config. Written in YAML (or given as an object); every bad value is one
// line naming the field.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { SLOT } from "./abi.js";

export type MapKind = "hash" | "lru" | "array";
export interface MapSpec { name: string; kind: MapKind; capacity: number; shared: boolean }

export interface Manifest {
  name: string;
  module: string;                  // path to the .wasm (relative to the manifest file)
  memoryPages: number;             // the NF memory's maximum, 64 KiB pages
  snaplen: number;                 // bytes of each frame copied into the NF (the rest stays where it is)
  fuel: number;                    // budget per burst; 0 turns metering off
  initFuel: number;                // budget of nf_init (building tables from the config)
  onTrap: "drop" | "pass";         // what a burst whose NF trapped becomes
  quarantineAfter: number;         // traps within quarantineWindowMs that quarantine the NF
  quarantineWindowMs: number;
  quarantined: "bypass" | "drop";  // what a quarantined NF does to packets
  maps: MapSpec[];
  config: Record<string, string>;
}

export class ManifestError extends Error {
  constructor(where: string, msg: string) {
    super(`demiwasm: NF manifest ${where}: ${msg}`);
    this.name = "ManifestError";
  }
}

const NAME = /^[\w.-]{1,64}$/;

function int(where: string, v: unknown, dflt: number, lo: number, hi: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw new ManifestError(where, `expected an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(where: string, v: unknown, dflt: T, xs: readonly T[]): T {
  if (v === undefined) return dflt;
  if (typeof v !== "string" || !xs.includes(v as T)) throw new ManifestError(where, `expected one of ${xs.join(", ")}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Checks a manifest object; `base` resolves a relative module path. */
export function parseManifest(doc: unknown, base = process.cwd(), label = "(inline)"): Manifest {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new ManifestError(label, "expected a mapping");
  const d = doc as Record<string, unknown>;
  const known = ["name", "module", "memory_pages", "snaplen", "fuel", "init_fuel", "on_trap", "quarantine_after", "quarantine_window_ms", "quarantined", "maps", "config"];
  for (const k of Object.keys(d)) if (!known.includes(k)) throw new ManifestError(`${label} key '${k}'`, `unknown key (known: ${known.join(", ")})`);
  if (typeof d.name !== "string" || !NAME.test(d.name)) throw new ManifestError(`${label} key 'name'`, "expected a name of letters, digits, '.', '_' or '-'");
  const where = (k: string) => `'${d.name}' key '${k}'`;
  if (typeof d.module !== "string" || d.module === "") throw new ManifestError(where("module"), "expected the path of a .wasm file");
  const mapsIn = d.maps ?? [];
  if (!Array.isArray(mapsIn)) throw new ManifestError(where("maps"), "expected a list");
  const maps: MapSpec[] = mapsIn.map((m: unknown, i: number) => {
    const w = where(`maps[${i}]`), wf = (f: string) => where(`maps[${i}].${f}`);
    if (typeof m !== "object" || m === null) throw new ManifestError(w, "expected a mapping");
    const o = m as Record<string, unknown>;
    if (typeof o.name !== "string" || !NAME.test(o.name)) throw new ManifestError(w, "expected a name");
    return {
      name: o.name,
      kind: oneOf(wf("kind"), o.kind, "hash", ["hash", "lru", "array"] as const),
      capacity: int(wf("capacity"), o.capacity, 1024, 1, 1 << 22),
      shared: o.shared === true,
    };
  });
  if (new Set(maps.map((m) => m.name)).size !== maps.length) throw new ManifestError(where("maps"), "two maps share a name");
  const cfg = d.config ?? {};
  if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg)) throw new ManifestError(where("config"), "expected a mapping");
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (typeof v === "object" && v !== null) config[k] = (Array.isArray(v) ? v : [v]).join(",");
    else config[k] = String(v);
  }
  return {
    name: d.name,
    module: resolve(base, d.module),
    memoryPages: int(where("memory_pages"), d.memory_pages, 32, 2, 16384),
    snaplen: int(where("snaplen"), d.snaplen, SLOT, 14, SLOT),
    fuel: int(where("fuel"), d.fuel, 1_000_000, 0, 2 ** 40),
    initFuel: int(where("init_fuel"), d.init_fuel, 1_000_000_000, 1, 2 ** 50),
    onTrap: oneOf(where("on_trap"), d.on_trap, "drop", ["drop", "pass"] as const),
    quarantineAfter: int(where("quarantine_after"), d.quarantine_after, 5, 1, 1_000_000),
    quarantineWindowMs: int(where("quarantine_window_ms"), d.quarantine_window_ms, 10_000, 1, 86_400_000),
    quarantined: oneOf(where("quarantined"), d.quarantined, "bypass", ["bypass", "drop"] as const),
    maps, config,
  };
}

export function loadManifest(path: string): Manifest {
  let text: string;
  try { text = readFileSync(path, "utf8"); } catch (e) { throw new ManifestError(path, `cannot read: ${(e as Error).message}`); }
  let doc: unknown;
  try { doc = parseYaml(text); } catch (e) { throw new ManifestError(path, `not valid YAML: ${(e as Error).message.split("\n")[0]}`); }
  return parseManifest(doc, dirname(path), path);
}

// One definition of every table that crosses a language boundary (schema/datapath.mjs): the
// generated files match it, nothing else defines those tables, and the datapath holds the same
// bounds as the host.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { instantiate } from "../host/abi.js";
import { DATAPATH_KEYS, CFG } from "../host/schema/config.js";
import { MTU_MAX, MBUF_MTU_MAX, SMALL_SIZE, HEADROOM, ETH_HLEN } from "../host/schema/layout.js";
import { DpdkLink } from "../host/backends/dpdk.js";
import { EINVAL } from "../host/errno.js";
import { loadConfig, ConfigError } from "../host/config.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

function gen(dir: string, ...args: string[]) {
  return spawnSync(process.execPath, [join(dir, "scripts/gen-schema.mjs"), ...args], { encoding: "utf8" });
}

test("the checked-in generated files are what the schema makes", () => {
  const r = gen(root, "--check");
  assert.is(r.status, 0, r.stderr);
});

test("a generated file edited by hand is caught, by name", () => {
  const dir = mkdtempSync(join(tmpdir(), "demiwasm-schema-"));
  try {
    for (const p of ["scripts/gen-schema.mjs", "schema", "assembly/schema", "host/schema", "native/schema.h", "assembly/nf/abi.ts", "nf/c/demiwasm_nf_abi.h", "nf/rust/demiwasm_nf_abi.rs"]) {
      cpSync(join(root, p), join(dir, p), { recursive: true });
    }
    const f = join(dir, "host/schema/layout.ts");
    writeFileSync(f, readFileSync(f, "utf8").replace("export const RING_HDR = 16;", "export const RING_HDR = 24;"));
    const r = gen(dir, "--check");
    assert.is(r.status, 1);
    assert.match(r.stderr, /host\/schema\/layout\.ts differ/);
    assert.is(gen(dir).status, 0);              // regenerating mends it
    assert.is(gen(dir, "--check").status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== "schema" && name !== "build") out.push(...files(p, ext)); }
    else if (ext.test(name)) out.push(p);
  }
  return out;
}

test("no other file defines an errno value, a counter index, a config key, the ring and slot geometry or the NF area, verdicts and map kinds", () => {
  const offenders: string[] = [];
  const rules: [RegExp, string][] = [
    [/^export const E[A-Z]+\s*(:\s*i32)?\s*=\s*\d+/m, "errno value"],
    [/^export const [CD]_[A-Z_]+\s*:\s*i32\s*=\s*\d+/m, "counter index"],
    [/^export const K_[A-Z_]+\s*:\s*i32\s*=\s*\d+/m, "config key"],
    [/COUNTER_NAMES\s*=\s*\[/, "counter names"],
    [/#define\s+SLOT_(SIZE|HEADROOM)\s+\d/, "slot geometry"],
    [/^export const (RING_HDR|HEADROOM|SMALL_SIZE|LARGE_SIZE|RESULT_SIZE)\s*(:\s*\w+)?\s*=\s*\d/m, "layout"],
    [/PASS\s*(:\s*u32\s*)?=\s*0|PASS:\s*0,\s*DROP|NF_PASS\s*=\s*0/, "NF verdicts"],
    [/^export const (SLOT\s*(:\s*\w+)?\s*=\s*2048|(DATA|DESC)\s*(:\s*\w+)?\s*=\s*(DESC|32))|#define\s+NF_(SLOT|MAX_BURST)\s/m, "NF area layout"],
    [/(HASH|MAP_HASH)\s*(:\s*u32\s*)?=\s*0|hash:\s*0/, "NF map kinds"],
  ];
  for (const tree of ["assembly", "host", "native", "nf"]) {
    for (const f of files(join(root, tree), /\.(ts|c|h|rs)$/)) {
      if (f.endsWith("nf/abi.ts") && f.includes("assembly") || /demiwasm_nf_abi\.(h|rs)$/.test(f)) continue;   // generated
      const text = readFileSync(f, "utf8");
      for (const [re, what] of rules) if (re.test(text)) offenders.push(`${relative(root, f)}: ${what}`);
    }
  }
  assert.equal(offenders, []);
});

test("the MTU bounds are one truth: jumbo up to MTU_MAX on the host and in the datapath; a DPDK port takes what an mbuf-sized slot holds", () => {
  assert.is(MBUF_MTU_MAX, SMALL_SIZE - HEADROOM - ETH_HLEN);
  assert.is(MTU_MAX, 9000);
  assert.is(loadConfig({ env: {}, overrides: { mtu: MTU_MAX } }).mtu, MTU_MAX);
  try {
    loadConfig({ env: {}, overrides: { mtu: MTU_MAX + 1 } });
    assert.unreachable("accepted an MTU past the bound");
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.is((e as ConfigError).key, "mtu");
  }
  const dp = instantiate(64 * 16, () => 4);
  assert.is(dp.exports.configure(CFG.MTU, MTU_MAX + 1), EINVAL);
  assert.is(dp.exports.configure(CFG.MTU, MTU_MAX), 0);
  // Refused before DPDK itself is asked (so this runs without it), in one line naming the bound.
  const jumbo = loadConfig({ env: {}, overrides: { mtu: MBUF_MTU_MAX + 1, backend: "dpdk" } });
  try {
    new DpdkLink(jumbo);
    assert.unreachable("a DPDK port took a jumbo MTU");
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.is((e as ConfigError).key, "mtu");
    assert.match((e as Error).message, new RegExp(`at most ${MBUF_MTU_MAX}$`));
  }
});

test("the datapath refuses just past every bound the host checks, and takes the bound itself", () => {
  const dp = instantiate(64 * 16, () => 4);
  let checked = 0;
  for (const k of DATAPATH_KEYS) {
    if (k.min === undefined || k.max === undefined) continue;
    const id = k.ids[0], min = k.min, max = k.max;
    assert.is(dp.exports.configure(id, max), 0, `${k.key} = ${max}`);
    assert.is(dp.exports.configure(id, max + 1), EINVAL, `${k.key} = ${max + 1}`);
    if (k.type !== "auto") assert.is(dp.exports.configure(id, min - 1), EINVAL, `${k.key} = ${min - 1}`);
    assert.is(dp.exports.configure(id, min + 0.5), EINVAL, `${k.key} = ${min + 0.5}`);
    assert.throws(() => loadConfig({ env: {}, overrides: { [k.key]: max + 1 } }), (e: Error) => e instanceof ConfigError && e.key === k.key);
    checked++;
  }
  assert.ok(checked >= 20, `checked ${checked} keys`);
  assert.is(dp.exports.configure(CFG.TCP_BUFFER_BYTES, 3 << 12), EINVAL, "not a power of two");
  assert.is(dp.exports.configure(CFG.TCP_CONGESTION, 2), EINVAL, "no third algorithm");
  assert.is(dp.exports.configure(999, 1), EINVAL, "unknown key");
});

test.run();

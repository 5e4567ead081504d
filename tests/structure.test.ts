// The code's structure as a newcomer depends on it: dependencies in `assembly/` and `host/` point
// one way. Reads every import statement (including multi-line and `export ... from`) and fails on
// any cycle, naming its files in order. Type-only imports count too: a cycle of types is still a
// cycle a reader has to untangle.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join, dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;"']*?\bfrom\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']/g;

/** Each file's relative imports resolved to files of the same tree. */
export function importGraph(tree: string): Map<string, string[]> {
  const files = sources(join(root, tree));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith(".")) continue;
      const base = resolve(dirname(file), spec).replace(/\.js$/, "");
      const target = [`${base}.ts`, join(base, "index.ts")].find((p) => existsSync(p));
      if (target) deps.push(relative(root, target));
    }
    graph.set(relative(root, file), deps);
  }
  return graph;
}

/** Every cycle's strongly connected component (Tarjan), each as its files sorted. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

for (const tree of ["assembly", "host"]) {
  test(`no import cycle in ${tree}/`, () => {
    const graph = importGraph(tree);
    assert.ok(graph.size > 10, `read ${graph.size} files of ${tree}/`);
    const found = cycles(graph);
    assert.equal(found, [], found.map((c) => c.join(" ↔ ")).join("\n"));
  });
}

test("every task and timer kind has its handler in the one table", () => {
  const kinds = [...readFileSync(join(root, "assembly/sched/kinds.ts"), "utf8").matchAll(/export const ([KT]_\w+)/g)].map((m) => m[1]);
  const table = readFileSync(join(root, "assembly/handlers.ts"), "utf8");
  assert.ok(kinds.length >= 15, `read ${kinds.length} kinds`);
  const missing = kinds.filter((k) => !new RegExp(`case ${k}:`).test(table));
  assert.equal(missing, [], `kinds without a handler: ${missing.join(", ")}`);
  // Numbered in one place: no other file of assembly/ defines a task or timer kind.
  const elsewhere = [...importGraph("assembly").keys()].filter((f) => f !== "assembly/sched/kinds.ts"
    && /export const (K_\w+\s*:\s*u8|T_(ARP|REASM|TCP)\w*\s*:\s*u32)\b/.test(readFileSync(join(root, f), "utf8")));
  assert.equal(elsewhere, []);
});

test("the checked views keep no packet state: they parse into and emit from a record the caller owns", () => {
  const wire = readdirSync(join(root, "assembly/wire")).filter((f) => f.endsWith(".ts"));
  assert.ok(wire.length >= 7);
  for (const f of wire) {
    const text = readFileSync(join(root, "assembly/wire", f), "utf8");
    assert.not.match(text, /^(export\s+)?(let|var)\s/m, `assembly/wire/${f} has module-level mutable state`);
    assert.not.match(text, /^export const \w+\s*(:\s*usize)?\s*=\s*memory\.data/m, `assembly/wire/${f} exports shared scratch memory`);
  }
});

test("no AssemblyScript for loop goes without a condition: asc 0.28 drops the code after one whose body ends in break or return", () => {
  // \`for (;;) { if (x) { ...; continue; } break; } after();\` compiles with after() left out
  // (and a break from a body ending in return traps as unreachable), optimized or not; while
  // loops and for loops with a condition compile right. tcpOutput's last statement was lost this way.
  const offenders = sources(join(root, "assembly")).filter((f) => /\bfor\s*\([^;()]*;\s*;/.test(readFileSync(f, "utf8")));
  assert.equal(offenders.map((f) => relative(root, f)), []);
});

test("on the host, only rings.ts knows the ring layout, and a link needs no NF sandbox to carry chains", () => {
  const offenders: string[] = [];
  // abi.ts declares the exports' types; host/schema/ is the generated layout itself.
  const mayKnow = (f: string) => f === "host/rings.ts" || f === "host/abi.ts" || f.startsWith("host/schema/");
  for (const file of importGraph("host").keys()) {
    const text = readFileSync(join(root, file), "utf8");
    if (!mayKnow(file) && /\bRING(_(PROD|CONS|MASK|HDR|ENTRY))?\b|\bring(Fill|Rx|Tx|Comp)\(/.test(text)) offenders.push(`${file}: ring layout`);
  }
  assert.equal(offenders, []);
  // The links (and so a plain LibOS) reach the sandbox (binaryen) only through type imports.
  for (const link of ["host/backends/loopback.ts", "host/backends/dpdk.ts", "host/link/chains.ts", "host/libos.ts"]) {
    const text = readFileSync(join(root, link), "utf8");
    assert.not.match(text, /^import\s+\{[^}]*\}\s+from\s+"[./]*nf\/(chain|sandbox|loader|meter|index)\.js"/m, link);
  }
});

test("the cycle finder finds a cycle it is shown", () => {
  const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]], ["e", ["e"]]]);
  assert.equal(cycles(g), [["a", "b", "c"], ["e"]]);
});

test.run();

// Fuel metering, injected at load time with binaryen: a mutable i64 global `__fuel` (exported, so
// the host can set and read it) is charged, with the number of expressions each charge guards
// running straight through, at the top of every loop body (through a local, below) and on entry
// to a function that calls; when it drops below zero the NF executes `unreachable` and traps.
// Nested loops charge for themselves.
import binaryen from "binaryen";

const FUEL = "__fuel";
/** The metered burst entry: `(count: i32, fuel: f64) -> f64` sets the budget, runs nf_process and
 *  returns what is left, in one call. Setting and reading the i64 global from JS would cost two
 *  BigInt conversions per burst, as much as the NF's own work on a few packets. */
export const PROCESS_FUELED = "__nf_process_fueled";
/** Export names metering adds: a module may not export them itself. */
export const METER_EXPORTS = [FUEL, PROCESS_FUELED] as const;
const START_FUEL = 100_000_000n;
// Loops charge a local first and move it to the global once it reaches BATCH: a register add and
// compare per iteration instead of a global load and store. What is still counted when the
// function ends is charged then; a function that returns early drops it (less than BATCH), so
// accounting is exact to within BATCH per call, and an endless loop reaches the global every
// BATCH units and traps. (Moving it every 8 iterations of a large body instead was measured:
// 2-3 points more metering cost on the AssemblyScript samples, none less on the C one.)
const BATCH = 1024;
const addVar = (binaryen as unknown as { _BinaryenFunctionAddVar(f: number, t: number): number })._BinaryenFunctionAddVar;

// binaryen.js has these wrappers at run time; its typings do not declare them.
const B = binaryen as unknown as typeof binaryen & {
  Loop: { getBody(loop: number): number; setBody(loop: number, body: number): void };
  Function: { setBody(func: number, body: number): void };
};

// Expression fields that hold child expressions (binaryen.getExpressionInfo names them).
const CHILD_FIELDS = ["children", "operands", "condition", "ifTrue", "ifFalse", "body", "value", "ptr", "left", "right",
  "target", "size", "delta", "dest", "source", "expected", "replacement", "timeout", "vec", "vecA", "vecB", "c", "shift",
  "ref", "notifyCount", "offset"] as const;

const LEAVES = new Set([binaryen.UnreachableId, binaryen.NopId, binaryen.ConstId, binaryen.LocalGetId, binaryen.GlobalGetId,
  binaryen.MemorySizeId]);

function children(info: Record<string, unknown>): number[] {
  const out: number[] = [];
  for (const f of CHILD_FIELDS) {
    const v = info[f];
    if (f === "offset" && info.id !== binaryen.MemoryInitId) continue;   // a load/store offset is a number
    if (f === "target" && info.id !== binaryen.CallIndirectId) continue; // a call's target is a name
    if (typeof v === "number" && v !== 0) out.push(v);
    else if (Array.isArray(v)) for (const c of v) if (typeof c === "number" && c !== 0) out.push(c);
  }
  return out;
}

/** Expressions in `expr` outside nested loops (the cost of one straight pass), and the loops;
 *  `calls` counts the calls met on the way. */
function scan(expr: number, loops: number[], calls = { n: 0 }): number {
  const id = binaryen.getExpressionId(expr);
  if (LEAVES.has(id)) return 1;                           // (getExpressionInfo fails on Unreachable)
  if (id === binaryen.LoopId) { loops.push(expr); return 1; }
  if (id === binaryen.CallId || id === binaryen.CallIndirectId) calls.n++;
  const info = binaryen.getExpressionInfo(expr) as unknown as Record<string, unknown>;
  let n = 1;
  for (const c of children(info)) n += scan(c, loops, calls);
  return n;
}

export interface Metered { bytes: Uint8Array; loops: number; functions: number }

/** The module with fuel metering added; throws (one line) when binaryen cannot read it. */
export function meter(bytes: Uint8Array): Metered {
  const m = binaryen.readBinary(bytes);
  try {
    // What Node 20's V8 runs: enabling more would let binaryen emit encodings it cannot read
    // (compact imports, for one).
    const F = binaryen.Features;
    m.setFeatures(F.MVP | F.MutableGlobals | F.NontrappingFPToInt | F.SIMD128 | F.BulkMemory | F.BulkMemoryOpt | F.SignExt |
      F.ReferenceTypes | F.Multivalue);
    // The start function runs at instantiation, before the host can set a budget: it gets this one.
    m.addGlobal(FUEL, binaryen.i64, true, m.i64.const(START_FUEL as unknown as number));
    m.addGlobalExport(FUEL, FUEL);
    const charge = (cost: number) => m.block(null, [
      m.global.set(FUEL, m.i64.sub(m.global.get(FUEL, binaryen.i64), m.i64.const(BigInt(cost) as unknown as number))),
      m.if(m.i64.lt_s(m.global.get(FUEL, binaryen.i64), m.i64.const(0n as unknown as number)), m.unreachable()),
    ], binaryen.none);
    /** The local count moved to the global (and the trap when it ran out). */
    const flush = (pending: number) => m.block(null, [
      m.global.set(FUEL, m.i64.sub(m.global.get(FUEL, binaryen.i64), m.i64.extend_u(m.local.get(pending, binaryen.i32)))),
      m.local.set(pending, m.i32.const(0)),
      m.if(m.i64.lt_s(m.global.get(FUEL, binaryen.i64), m.i64.const(0n as unknown as number)), m.unreachable()),
    ], binaryen.none);
    const chargeLoop = (pending: number, cost: number) => m.block(null, [
      m.local.set(pending, m.i32.add(m.local.get(pending, binaryen.i32), m.i32.const(cost))),
      m.if(m.i32.ge_u(m.local.get(pending, binaryen.i32), m.i32.const(BATCH)), flush(pending)),
    ], binaryen.none);
    let loopCount = 0, fnCount = 0;
    for (let i = 0; i < m.getNumFunctions(); i++) {
      const f = m.getFunctionByIndex(i);
      const fi = binaryen.getFunctionInfo(f);
      if (fi.module !== "" || fi.body === 0) continue;        // an import
      const loops: number[] = [];
      const calls = { n: 0 };
      const cost = scan(fi.body, loops, calls);
      // Unbounded work needs a loop or a call (recursion). A function with neither runs a bounded
      // straight line each time something charged calls it: it needs no meter of its own. One
      // with loops starts its local count at its own cost (under BATCH: no global touched on
      // entry, and what a call leaves uncharged stays under BATCH); a larger one, or one that
      // only calls, charges the global on entry.
      const pending = loops.length > 0 ? addVar(f, binaryen.i32) : -1;
      if (loops.length > 0 || calls.n > 0) {
        const onEntry = pending >= 0 && cost < BATCH ? m.local.set(pending, m.i32.const(cost)) : charge(cost);
        const type = binaryen.getExpressionType(fi.body);
        let body = [onEntry, fi.body];
        // A body that ends (not in a return or a trap) charges what its loops left counted.
        if (pending >= 0 && type === binaryen.none) body = [...body, flush(pending)];
        else if (pending >= 0 && type !== binaryen.unreachable) {
          const result = addVar(f, type);
          body = [onEntry, m.local.set(result, fi.body), flush(pending), m.local.get(result, type)];
        }
        B.Function.setBody(f, m.block(null, body, type));
        fnCount++;
      }
      // Each loop's body, then the loops nested in it, until none is left.
      while (loops.length > 0) {
        const loop = loops.pop()!;
        const body = B.Loop.getBody(loop);
        const inner: number[] = [];
        const c = scan(body, inner);
        B.Loop.setBody(loop, m.block(null, [chargeLoop(pending, Math.min(c, BATCH)), body], binaryen.getExpressionType(body)));
        loops.push(...inner);
        loopCount++;
      }
    }
    // Added after the pass above: it runs no loop of its own, and nf_process charges for itself.
    const entry = m.getExport("nf_process");
    const target = entry ? binaryen.getExportInfo(entry).value : null;
    if (target !== null) {
      m.addFunction(PROCESS_FUELED, binaryen.createType([binaryen.i32, binaryen.f64]), binaryen.f64, [], m.block(null, [
        m.global.set(FUEL, m.i64.trunc_s_sat.f64(m.local.get(1, binaryen.f64))),
        m.call(target, [m.local.get(0, binaryen.i32)], binaryen.none),
        m.f64.convert_s.i64(m.global.get(FUEL, binaryen.i64)),
      ], binaryen.f64));
      m.addFunctionExport(PROCESS_FUELED, PROCESS_FUELED);
    }
    if (!m.validate()) throw new Error("demiwasm: fuel metering produced an invalid module");
    return { bytes: m.emitBinary(), loops: loopCount, functions: fnCount };
  } finally {
    m.dispose();
  }
}

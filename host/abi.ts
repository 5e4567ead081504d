// The boundary with the Wasm datapath: its exports, the result block layout, and instantiation.
// One compiled Module per process; one Instance and one Memory (initial == maximum, never grown)
// per datapath.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { COUNTER_NAMES, type Counters } from "./counters.js";
import { RESULT_OPCODE, RESULT_QD, RESULT_QT, RESULT_RET, RESULT_SGA_BUF, RESULT_SGA_LEN, RESULT_ADDR, RESULT_PORT,
         RESULT_NEWQD, RESULT_FAMILY, RESULT_ADDR6, RESULT_SIZE, QT_INDEX_BITS } from "./schema/layout.js";

export interface DatapathExports {
  configure(key: number, value: number): number;
  init(): number;
  poll(now: number): number;
  advanceClock(now: number): void;
  socket(domain: number, type: number, protocol: number): number;
  bind(qd: number, ip: number, port: number): number;
  /** The IPv6 forms take 16 bytes in network order at `a`, in the scratch area. */
  bind6(qd: number, a: number, port: number): number;
  connect6(qd: number, a: number, port: number): number;
  pushto6(qd: number, ptr: number, len: number, a: number, port: number): number;
  listen(qd: number, backlog: number): number;
  accept(qd: number): number;
  connect(qd: number, ip: number, port: number): number;
  close(qd: number): number;
  shutdown(qd: number): number;
  cancel(qt: number): number;
  pushto(qd: number, ptr: number, len: number, ip: number, port: number): number;
  pop(qd: number): number;
  sockname(qd: number, peer: number): number;
  sgaalloc(len: number): number;
  sgafree(ptr: number): number;
  bufHold(ptr: number): number;
  bufRelease(ptr: number): number;
  done(qt: number): number;
  take(qt: number): number;
  nextDone(from: number): number;
  arpAddStatic(ip: number, hi: number, lo: number): number;
  arpDump(max: number): number;
  resultPtr(): number;
  scratchPtr(): number;
  countersPtr(): number;
  countersLen(): number;
  ringFill(): number;
  ringRx(): number;
  ringTx(): number;
  ringComp(): number;
  l2Reflect(budget: number): number;
  frameSlotBytes(): number;
  poolRegionBase(): number;
  poolRegionBytes(): number;
  layoutTop(): number;
  poolAvailable(): number;
  poolSize(): number;
  qtokensFree(): number;
  qtokensTotal(): number;
  timersPending(): number;
  nextDeadline(): number;
  openSockets(): number;
  heapTop(): number;
  tcpConnections(state: number): number;
  tcpBytesPerConnection(): number;
  tcpMaxConnectionCount(): number;
  tcpBufferBytesFree(): number;
  tcpInfo(qd: number): number;
  setsockopt(qd: number, opt: number, value: number): number;
  getsockopt(qd: number, opt: number): number;
  addr6Add(p: number, prefix: number): number;
  addr6Dump(): number;
  ndpDump(max: number): number;
  ndpAddStatic(p: number, hi: number, lo: number): number;
  /** Debug build only (assembly/debug.ts): parse then emit one header, for the wire tests. */
  wireRoundTrip?(kind: number, p: number, len: number, out: number): number;
  /** Debug build only: the Internet checksum of len bytes at p, as the stack sums them. */
  checksumOf?(p: number, len: number): number;
  /** Debug build only: a timer due at that time (ns), and its cancellation, for the wheel's tests. */
  timerStartAt?(deadlineNs: number): number;
  timerStop?(id: number): void;
}

export { CFG } from "./schema/config.js";

/**
 * The result block take() fills, our demi_qresult_t, in i32 words (the schema's byte offsets / 4;
 * tests/abi.test.ts pins them as Demikernel pins its C structs).
 */
export const RES = {
  OPCODE: RESULT_OPCODE >> 2, QD: RESULT_QD >> 2, QT: RESULT_QT >> 2, RET: RESULT_RET >> 2,
  SGA_BUF: RESULT_SGA_BUF >> 2, SGA_LEN: RESULT_SGA_LEN >> 2, ADDR: RESULT_ADDR >> 2, PORT: RESULT_PORT >> 2,
  NEWQD: RESULT_NEWQD >> 2, FAMILY: RESULT_FAMILY >> 2, WORDS: RESULT_SIZE >> 2,
} as const;
/** Byte offset of the 16-byte IPv6 address in the result block. */
export const RES_ADDR6 = RESULT_ADDR6;
export { RESULT_SIZE };

/** A qtoken is generation << QT_INDEX_BITS | table index (assembly/sched/qtoken.ts). */
export const QT_INDEX_MASK = (1 << QT_INDEX_BITS) - 1;

const wasmPath = (debug: boolean) =>
  fileURLToPath(new URL(`../../build/datapath${debug ? ".debug" : ""}.wasm`, import.meta.url));

const modules = new Map<boolean, WebAssembly.Module>();

export function datapathModule(debug = false): WebAssembly.Module {
  let m = modules.get(debug);
  if (!m) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(wasmPath(debug));
    } catch {
      throw new Error(`demiwasm: ${wasmPath(debug)} is missing: run 'npm run build' first`);
    }
    m = new WebAssembly.Module(new Uint8Array(bytes));
    modules.set(debug, m);
  }
  return m;
}

export interface Datapath {
  exports: DatapathExports;
  /** Calls from JS into this datapath so far, when instantiated to count them (else null). */
  crossings: { calls: number } | null;
  memory: WebAssembly.Memory;
  u8: Uint8Array;
  u32: Uint32Array;
  i32: Int32Array;
  result: number;      // byte offset of the result block
}

/**
 * A datapath in a fresh memory of `pages`. `countCrossings` wraps every export in a counter
 * (tests, and `bench udp`'s crossingsPerEcho: how often the host calls in per operation); it costs
 * a JS call per crossing, so timed runs leave it off.
 */
export function instantiate(pages: number, random: () => number, debug = false, countCrossings = false): Datapath {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = new WebAssembly.Instance(datapathModule(debug), {
    env: {
      memory,
      random_u32: random,
      abort: (_msg: number, _file: number, line: number, col: number) => {
        throw new Error(`demiwasm: datapath assertion failed at ${line}:${col}`);
      },
    },
  });
  let exports = instance.exports as unknown as DatapathExports;
  const crossings = countCrossings ? { calls: 0 } : null;
  if (crossings !== null) exports = counted(exports, crossings);
  const buf = memory.buffer;
  return {
    exports, memory, crossings,
    u8: new Uint8Array(buf), u32: new Uint32Array(buf), i32: new Int32Array(buf),
    result: 0,
  };
}

function counted(x: DatapathExports, crossings: { calls: number }): DatapathExports {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(x)) {
    out[name] = typeof f === "function" ? (...a: unknown[]) => { crossings.calls++; return (f as (...a: unknown[]) => unknown)(...a); } : f;
  }
  return out as unknown as DatapathExports;
}

export function readCounters(dp: Datapath): Counters {
  const base = dp.exports.countersPtr();
  const view = new BigUint64Array(dp.memory.buffer, base, dp.exports.countersLen());
  const out = {} as Counters;
  COUNTER_NAMES.forEach((n, i) => { out[n] = Number(view[i]); });
  return out;
}

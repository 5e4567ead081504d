// The boundary with the Wasm datapath: its exports, the result block layout, and instantiation.
// One compiled Module per process; one Instance and one Memory (initial == maximum, never grown)
// per datapath.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { COUNTER_NAMES, type Counters } from "./counters.js";

export interface DatapathExports {
  configure(key: number, value: number): number;
  init(): number;
  poll(now: number): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(qd: number, ip: number, port: number): number;
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
  wireRoundTrip(kind: number, p: number, len: number, out: number): number;
}

/** Configuration keys of assembly/config.ts. */
export const CFG = {
  LOCAL_IP: 0, MAC_HI: 1, MAC_LO: 2, MTU: 3, ARP_TTL_MS: 4, ARP_TIMEOUT_MS: 5, ARP_RETRIES: 6,
  REASM_TIMEOUT_MS: 7, REASM_SLOTS: 8, POOL_SMALL: 9, POOL_LARGE: 10, UDP_QUEUE_DEPTH: 11,
  DISABLE_ARP: 12, ARP_QUEUE_DEPTH: 13, TCP_MAX_CONNECTIONS: 14, TCP_BUFFER: 15, TCP_RTO_MIN_MS: 16,
  TCP_RTO_INITIAL_MS: 17, TCP_TIME_WAIT_MS: 18, TCP_SYN_RETRIES: 19, TCP_MAX_RETRIES: 20, TCP_DELAYED_ACK_MS: 21,
  TCP_CONGESTION: 22, TCP_KEEPALIVE_IDLE_MS: 23, TCP_KEEPALIVE_INTERVAL_MS: 24, TCP_KEEPALIVE_PROBES: 25,
} as const;

/**
 * The result block take() fills, our demi_qresult_t. Pinned by tests/abi.test.ts like Demikernel
 * pins its C structs: i32 opcode @0, i32 qd @4, u32 qt @8, i32 ret @12, u32 sga buf @16,
 * u32 sga len @20, u32 addr @24, u32 port @28, i32 accepted qd @32.
 */
export const RESULT_SIZE = 36;

/** A qtoken is generation << 18 | table index (assembly/sched/qtoken.ts QBITS). */
export const QT_INDEX_MASK = 0x3ffff;

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
  memory: WebAssembly.Memory;
  u8: Uint8Array;
  u32: Uint32Array;
  i32: Int32Array;
  result: number;      // byte offset of the result block
}

export function instantiate(pages: number, random: () => number, debug = false): Datapath {
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
  const exports = instance.exports as unknown as DatapathExports;
  const buf = memory.buffer;
  return {
    exports, memory,
    u8: new Uint8Array(buf), u32: new Uint32Array(buf), i32: new Int32Array(buf),
    result: 0,
  };
}

export function readCounters(dp: Datapath): Counters {
  const base = dp.exports.countersPtr();
  const view = new BigUint64Array(dp.memory.buffer, base, dp.exports.countersLen());
  const out = {} as Counters;
  COUNTER_NAMES.forEach((n, i) => { out[n] = Number(view[i]); });
  return out;
}

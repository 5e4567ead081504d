// The NF ABI's fixed shapes, shared by the sandbox and the links that carry chains (loopback,
// dpdk): the burst area's layout, the verdicts, and a burst of frames as a link hands it over.
// Kept apart from the sandbox so that a link (and `import "demiwasm"`) does not load binaryen.

// The numbers (area layout, verdicts, map kinds) are generated from schema/nf.mjs.
import { MAX_BURST } from "../schema/nf.js";
export * from "../schema/nf.js";

/** Frames of one burst in some memory (a datapath's, or a test's buffer). */
export interface FrameBatch {
  mem: Uint8Array;
  off: Uint32Array;      // where each frame starts
  len: Uint32Array;      // its length; the chain updates it when an NF rewrites the frame
  cap: Uint32Array;      // how long it may become in place
  verdict: Uint8Array;   // out: Verdict per frame
  arg: Uint32Array;      // out: the port of a REDIRECT
  count: number;
}

export function newBatch(mem: Uint8Array): FrameBatch {
  return { mem, off: new Uint32Array(MAX_BURST), len: new Uint32Array(MAX_BURST), cap: new Uint32Array(MAX_BURST),
           verdict: new Uint8Array(MAX_BURST), arg: new Uint32Array(MAX_BURST), count: 0 };
}

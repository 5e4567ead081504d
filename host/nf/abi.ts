// The NF ABI's fixed shapes, shared by the sandbox and the links that carry chains (loopback,
// dpdk): the burst area's layout, the verdicts, and a burst of frames as a link hands it over.
// Kept apart from the sandbox so that a link (and `import "demiwasm"`) does not load binaryen.

/** Frames per burst. */
export const MAX_BURST = 32;
/** Bytes per frame slot in the NF's burst area. */
export const SLOT = 2048;
/** The burst area: a 32-byte header, 16 bytes of descriptor per frame, then the frame slots. */
export const DESC = 32;
export const DATA = DESC + MAX_BURST * 16;
export const AREA_BYTES = DATA + MAX_BURST * SLOT;
/** What an NF says of a frame (nf/c/demiwasm_nf_abi.h has the same numbers for C NFs). */
export const Verdict = { PASS: 0, DROP: 1, TX: 2, REDIRECT: 3 } as const;
/** Where shared maps' handles start. */
export const SHARED_BASE = 1 << 16;

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

// The NF ABI's plain data: the burst area a host fills and an NF reads and answers in, the
// verdicts, and the map handle space. One definition for the AssemblyScript SDK
// (assembly/nf/abi.ts), the host (host/schema/nf.ts), C NFs and the native baselines
// (nf/c/demiwasm_nf_abi.h) and Rust NFs (nf/rust/demiwasm_nf_abi.rs); scripts/gen-schema.mjs
// writes all four. Edit here, then `npm run gen`.

// Byte offsets and sizes; a string is an expression over the names defined before it.
export const area = {
  MAX_BURST: [32, "frames per burst"],
  SLOT: [2048, "bytes per frame slot in the area; an NF may grow a frame in place up to this"],
  AREA_COUNT: [0, "u32 frames in this burst"],
  AREA_PORT: [4, "u32 ingress port"],
  AREA_DIR: [8, "u32 direction (DIR_IN, DIR_OUT)"],
  AREA_NOW: [16, "f64 host time in ns"],
  DESC: [32, "the first descriptor: {u32 off (from the area), u32 len, u32 verdict, u32 arg}"],
  DESC_SIZE: [16, "bytes per descriptor"],
  DESC_OFF: [0, "u32 where the frame starts, from the area"],
  DESC_LEN: [4, "u32 frame length; the NF may change it up to SLOT"],
  DESC_VERDICT: [8, "u32 the NF's verdict (PASS before the NF runs)"],
  DESC_ARG: [12, "u32 in: the frame's whole length (more than len when the manifest's snaplen cut it); out: the port of a REDIRECT"],
  DATA: ["DESC + MAX_BURST * DESC_SIZE", "the first frame slot"],
  NF_COUNTERS: [32, "the NF's own counters (i64), which the host reports as its stats"],
  AREA_COUNTERS: ["DATA + MAX_BURST * SLOT", "i64 × NF_COUNTERS: counting is a store into the NF's own memory"],
  AREA_BYTES: ["AREA_COUNTERS + NF_COUNTERS * 8", "the whole area"],
  SHARED: [1 << 16, "map handles from here on name the chain's shared maps"],
};

/** What an NF says of a frame. */
export const verdicts = { PASS: 0, DROP: 1, TX: 2, REDIRECT: 3 };
/** Which way a burst is going. */
export const directions = { DIR_IN: [0, "toward the stack"], DIR_OUT: [1, "from the stack"] };

/** The map engine's contract (assembly/nf/maps.ts, native/nf/maps.h, host/nf/maps.ts). */
export const maps = {
  MAP_HASH: [0, "bounded: a put into a full map fails with -ENOSPC"],
  MAP_LRU: [1, "a put into a full map evicts the least recently used entry"],
  MAP_ARRAY: [2, "key k0 is an index below the capacity"],
  MAP_ENTRY: [40, "bytes per entry: k0, k1, value, used, LRU prev and next"],
};
/** The value a lookup returns for an absent key (values are i64). */
export const ABSENT = -1;

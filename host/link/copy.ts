// Moving frames between two memories (two stacks' on the loopback link, a datapath's and an NF's
// area). set() on a subarray costs about 35 ns whatever the size (an object per call, then the
// copy); a small frame moves several times faster as 8-byte words through typed views made
// once. Words go through Float64Array element copies and DataView reads, which keep every bit
// pattern (NaNs included; tests/link.test.ts and tests/nf.test.ts check it).

/** Views of one memory, made again when it grows (its old views are then detached). */
export class Views {
  u8: Uint8Array;
  f64: Float64Array;
  dv: DataView;
  constructor(u8: Uint8Array) { this.u8 = u8; this.f64 = new Float64Array(u8.buffer, u8.byteOffset, u8.byteLength >> 3); this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength); }
  /** These views, or new ones when `u8` is not the memory they view. */
  static of(prev: Views | null, u8: Uint8Array): Views { return prev !== null && prev.u8 === u8 && u8.byteLength !== 0 ? prev : new Views(u8); }
}

/** Up to this many bytes go as words; longer frames by set(). */
const WORDS_UP_TO = 256;

/**
 * Copies len bytes from src at sOff into dst at dOff, where dOff is 8-aligned and dst may take
 * up to 7 bytes past the frame (the rest of an area slot). Reads may run up to 7 bytes past the
 * frame when src has them; those bytes are zeroed in dst again, so nothing of src beyond the
 * frame (a datapath's memory, past a frame an NF gets) reaches dst.
 */
export function copyIntoSlot(dst: Views, dOff: number, src: Views, sOff: number, len: number): void {
  if (len > WORDS_UP_TO || sOff + len + 8 > src.u8.length) { dst.u8.set(src.u8.subarray(sOff, sOff + len), dOff); return; }
  const n = (len + 7) >> 3, d = dOff >> 3, to = dst.f64;
  if ((sOff & 7) === 0) {
    const from = src.f64, s = sOff >> 3;
    for (let i = 0; i < n; i++) to[d + i] = from[s + i];
  } else {
    const from = src.dv;
    for (let i = 0; i < n; i++) to[d + i] = from.getFloat64(sOff + (i << 3), true);
  }
  const d8 = dst.u8;
  for (let i = dOff + len, end = dOff + (n << 3); i < end; i++) d8[i] = 0;
}

/** Copies len bytes from src at sOff to dst at dOff, exactly: nothing past the frame is written. */
export function copyExact(dst: Views, dOff: number, src: Views, sOff: number, len: number): void {
  if (len > WORDS_UP_TO) { dst.u8.set(src.u8.subarray(sOff, sOff + len), dOff); return; }
  const whole = len >> 3;
  if (((sOff | dOff) & 7) === 0) {
    const to = dst.f64, from = src.f64, d = dOff >> 3, s = sOff >> 3;
    for (let i = 0; i < whole; i++) to[d + i] = from[s + i];
  } else {
    const to = dst.dv, from = src.dv;
    for (let i = 0; i < whole; i++) to.setFloat64(dOff + (i << 3), from.getFloat64(sOff + (i << 3), true), true);
  }
  const d8 = dst.u8, s8 = src.u8;
  for (let i = whole << 3; i < len; i++) d8[dOff + i] = s8[sOff + i];
}

// Our own rules for an NF module's structure, checked on its bytes before any engine sees it, so
// that what a module may contain is the same on every Node (V8's feature set grows: Node 24
// accepts multi-memory, which Node 20 refuses). The allowlist, and why (docs/nf.md, "NF modules"):
//   - exactly one memory, the imported env.memory: not shared, not 64-bit, no memory of its own;
//   - imports of functions only (the ABI's, checked by the loader), no tables, globals or tags;
//   - at most one table, of funcref, its own (C's indirect calls), neither imported nor exported;
//   - features: the MVP, sign extension, non-trapping float-to-int, multi-value, mutable globals,
//     bulk memory on the one memory and table, reference types on funcref, and fixed-width SIMD
//     (deterministic, and binaryen meters it like any other instruction);
//   - refused: atomics and shared memory (an NF has no threads), exceptions and tail calls (they
//     leave a function without passing the meter's charge points), GC and typed function
//     references, relaxed SIMD (its results differ between engines), multi-memory, memory64.
//     A start function (AssemblyScript's top-level code) is allowed: it is metered too.
// Each refusal is one line that names the rule. The engine still validates types afterwards.

export type Verdict = { ok: true } | { ok: false; rule: string; detail: string };

class Refused extends Error {
  constructor(readonly rule: string, readonly detail: string) { super(detail); }
}

function refuse(rule: string, detail: string): never { throw new Refused(rule, detail); }

const SECTION_NAMES = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element",
  "code", "data", "data count", "tag"];

// Value types a local, global, parameter or result may have: i32 i64 f32 f64 v128 funcref externref.
const VALUE_TYPES = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f]);

/** A cursor over the module's bytes. */
class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array, readonly end = b.length) {}
  byte(): number {
    if (this.pos >= this.end) refuse("well-formed", `it ends in the middle of a section (byte ${this.pos})`);
    return this.b[this.pos++];
  }
  u32(): number {
    let v = 0, shift = 0;
    for (;;) {
      const x = this.byte();
      v += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) refuse("well-formed", `a number at byte ${this.pos} is longer than 5 bytes`);
    }
    if (v > 0xffffffff) refuse("well-formed", `a number at byte ${this.pos} exceeds 32 bits`);
    return v;
  }
  /** A signed LEB128 of at most `bits` bits, skipped. */
  sleb(bits: number): void {
    for (let n = 0; ; n++) {
      if (n >= Math.ceil(bits / 7)) refuse("well-formed", `a constant at byte ${this.pos} is too long`);
      if ((this.byte() & 0x80) === 0) return;
    }
  }
  u32le(): number {
    this.skip(4);
    const b = this.b, p = this.pos - 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }
  skip(n: number): void {
    if (this.pos + n > this.end) refuse("well-formed", `it ends in the middle of a section (byte ${this.pos})`);
    this.pos += n;
  }
  /** A name, as a message may show it: printable, at most 64 characters. */
  name(): string {
    const n = this.u32();
    this.skip(n);
    const text = new TextDecoder().decode(this.b.subarray(this.pos - n, this.pos));
    const shown = /^[\x20-\x7e]*$/.test(text) ? text : JSON.stringify(text);
    return shown.length > 64 ? `${shown.slice(0, 61)}...` : shown;
  }
}

function valueType(r: Reader, what: string): number {
  const t = r.byte();
  if (!VALUE_TYPES.has(t)) refuse("types", `${what} has type 0x${t.toString(16)} (GC and typed references are not allowed)`);
  return t;
}

function limits(r: Reader, what: string): { min: number; max: number | null } {
  const flags = r.byte();
  if (flags & 2) refuse("no shared memory", `${what} is shared (an NF has no threads)`);
  if (flags & 4) refuse("one 32-bit memory", `${what} is 64-bit`);
  if (flags > 1) refuse("well-formed", `${what} has limit flags 0x${flags.toString(16)}`);
  const min = r.u32();
  return { min, max: flags & 1 ? r.u32() : null };
}

function tableType(r: Reader, what: string): void {
  const t = r.byte();
  if (t !== 0x70) refuse("one funcref table", `${what} holds 0x${t.toString(16)}, not funcref`);
  limits(r, what);
}

/** A constant expression (global initialisers, segment offsets). */
function constExpr(r: Reader): void {
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) return;
    if (op === 0x41) r.sleb(32);
    else if (op === 0x42) r.sleb(64);
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0x23 || op === 0xd2) r.u32();
    else if (op === 0xd0) r.byte();
    else if (op === 0xfd && r.u32() === 12) r.skip(16);
    else refuse("constant expressions", `an initialiser uses opcode 0x${op.toString(16)}`);
  }
}

function memarg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) refuse("one memory", "an instruction names a memory index (multi-memory)");
  r.u32();
}

const zeroIndex = (r: Reader, rule: string, what: string) => { if (r.u32() !== 0) refuse(rule, `${what} names a second one`); };

/** One function body's instructions: every opcode must be one the allowlist names. */
function code(r: Reader, f: number): void {
  for (let n = r.u32(); n > 0; n--) { r.u32(); valueType(r, `a local of function ${f}`); }
  let depth = 1;
  while (depth > 0) {
    const at = r.pos;
    const op = r.byte();
    if (op === 0x02 || op === 0x03 || op === 0x04) {
      const bt = r.b[r.pos];
      if (bt === 0x40 || VALUE_TYPES.has(bt)) r.pos++;
      else if (bt & 0x40) refuse("types", `function ${f} has a block of type 0x${bt.toString(16)}`);
      else r.sleb(33);
      depth++;
    } else if (op === 0x0b) depth--;
    else if (op <= 0x01 || op === 0x05 || op === 0x0f || op === 0x1a || op === 0x1b || op === 0xd1) { /* no immediates */ }
    else if (op === 0x0c || op === 0x0d || op === 0x10 || (op >= 0x20 && op <= 0x24) || op === 0xd2) r.u32();
    else if (op === 0x0e) { for (let k = r.u32(); k >= 0; k--) r.u32(); }
    else if (op === 0x11) { r.u32(); zeroIndex(r, "one funcref table", `function ${f}'s call_indirect`); }
    else if (op === 0x1c) { for (let k = r.u32(); k > 0; k--) valueType(r, `function ${f}'s select`); }
    else if (op === 0x25 || op === 0x26) zeroIndex(r, "one funcref table", `function ${f}'s table access`);
    else if (op >= 0x28 && op <= 0x3e) memarg(r);
    else if (op === 0x3f || op === 0x40) zeroIndex(r, "one memory", `function ${f}'s memory.size/grow`);
    else if (op === 0x41) r.sleb(32);
    else if (op === 0x42) r.sleb(64);
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op >= 0x45 && op <= 0xc4) { /* numeric, sign extension included */ }
    else if (op === 0xd0) { if (r.byte() !== 0x70) refuse("types", `function ${f} names a reference type other than funcref`); }
    else if (op === 0xfc) miscOp(r, f);
    else if (op === 0xfd) simdOp(r, f);
    else if (op === 0xfe) refuse("no atomics", `function ${f} uses an atomic instruction (an NF has no threads)`);
    else if (op >= 0x06 && op <= 0x0a || op === 0x18 || op === 0x19 || op === 0x1f) {
      refuse("no exceptions", `function ${f} uses exception handling (opcode 0x${op.toString(16)} at byte ${at})`);
    } else if (op === 0x12 || op === 0x13 || op === 0x15) refuse("no tail calls", `function ${f} uses a tail call`);
    else if (op === 0x14 || op >= 0xd3 && op <= 0xd6 || op === 0xfb) {
      refuse("no GC or typed references", `function ${f} uses opcode 0x${op.toString(16)}`);
    } else refuse("known instructions", `function ${f} uses opcode 0x${op.toString(16)} at byte ${at}`);
  }
}

/** 0xFC: saturating truncations, bulk memory and table operations on the one memory and table. */
function miscOp(r: Reader, f: number): void {
  const sub = r.u32();
  if (sub <= 7) return;
  if (sub === 8) { r.u32(); zeroIndex(r, "one memory", `function ${f}'s memory.init`); return; }
  if (sub === 9 || sub === 13) { r.u32(); return; }
  if (sub === 10) { zeroIndex(r, "one memory", `function ${f}'s memory.copy`); zeroIndex(r, "one memory", `function ${f}'s memory.copy`); return; }
  if (sub === 11) { zeroIndex(r, "one memory", `function ${f}'s memory.fill`); return; }
  if (sub === 12) { r.u32(); zeroIndex(r, "one funcref table", `function ${f}'s table.init`); return; }
  if (sub === 14) { zeroIndex(r, "one funcref table", `function ${f}'s table.copy`); zeroIndex(r, "one funcref table", `function ${f}'s table.copy`); return; }
  if (sub >= 15 && sub <= 17) { zeroIndex(r, "one funcref table", `function ${f}'s table operation`); return; }
  refuse("known instructions", `function ${f} uses 0xfc ${sub}`);
}

/** 0xFD: fixed-width SIMD; relaxed SIMD (0x100 and up) differs between engines and is refused. */
function simdOp(r: Reader, f: number): void {
  const sub = r.u32();
  if (sub >= 0x100) refuse("no relaxed SIMD", `function ${f} uses relaxed SIMD (its results differ between engines)`);
  if (sub <= 11 || sub === 92 || sub === 93) memarg(r);
  else if (sub === 12 || sub === 13) r.skip(16);
  else if (sub >= 21 && sub <= 34) r.skip(1);
  else if (sub >= 84 && sub <= 91) { memarg(r); r.skip(1); }
}

/** Checks `bytes` against the rules above. */
export function validateNf(bytes: Uint8Array): Verdict {
  try {
    check(new Reader(bytes));
    return { ok: true };
  } catch (e) {
    if (e instanceof Refused) return { ok: false, rule: e.rule, detail: e.detail };
    throw e;
  }
}

function check(r: Reader): void {
  if (r.b.length < 8 || r.u32le() !== 0x6d736100) refuse("well-formed", "it is not a Wasm module (no \\0asm header)");
  if (r.u32le() !== 1) refuse("well-formed", "it is not Wasm version 1");
  let memories = 0, tables = 0, last = 0;
  while (r.pos < r.end) {
    const id = r.byte();
    const size = r.u32();
    if (r.pos + size > r.end) refuse("well-formed", `section ${SECTION_NAMES[id] ?? id} runs past the end`);
    const s = new Reader(r.b, r.pos + size);
    s.pos = r.pos;
    r.pos += size;
    if (id > 13) refuse("known sections", `it has a section with id ${id}`);
    if (id !== 0 && id !== 12 && id !== 13) {
      if (id <= last) refuse("well-formed", `section ${SECTION_NAMES[id]} is out of order or repeated`);
      last = id;
    }
    switch (id) {
      case 0: s.name(); break;
      case 1:
        for (let n = s.u32(), i = 0; i < n; i++) {
          const form = s.byte();
          if (form !== 0x60) refuse("no GC or typed references", `type ${i} is not a function type (form 0x${form.toString(16)})`);
          for (let k = s.u32(); k > 0; k--) valueType(s, `type ${i}'s parameter`);
          for (let k = s.u32(); k > 0; k--) valueType(s, `type ${i}'s result`);
        }
        break;
      case 2:
        for (let n = s.u32(); n > 0; n--) {
          const mod = s.name(), field = s.name(), kind = s.byte();
          if (kind === 0) s.u32();
          else if (kind === 2) {
            if (mod !== "env" || field !== "memory") refuse("one memory", `it imports a memory as ${mod}.${field}; the only memory is env.memory`);
            limits(s, "the imported memory");
            memories++;
          } else if (kind === 1) refuse("no imported tables", `it imports a table (${mod}.${field})`);
          else if (kind === 3) refuse("no imported globals", `it imports a global (${mod}.${field})`);
          else if (kind === 4) refuse("no tags", `it imports a tag (${mod}.${field}): exceptions are not allowed`);
          else refuse("well-formed", `import ${mod}.${field} has kind ${kind}`);
        }
        break;
      case 3: for (let n = s.u32(); n > 0; n--) s.u32(); break;
      case 4:
        for (let n = s.u32(); n > 0; n--) { tableType(s, "its table"); tables++; }
        if (tables > 1) refuse("one funcref table", `it defines ${tables} tables`);
        break;
      case 5:
        if (s.u32() > 0) refuse("one memory", "it defines a memory of its own (an NF's only memory is the imported env.memory)");
        break;
      case 6:
        for (let n = s.u32(); n > 0; n--) { valueType(s, "a global"); const mut = s.byte(); if (mut > 1) refuse("well-formed", "a global's mutability is not 0 or 1"); constExpr(s); }
        break;
      case 7:
        for (let n = s.u32(); n > 0; n--) {
          const field = s.name(), kind = s.byte();
          s.u32();
          if (kind === 1) refuse("no exported tables", `it exports a table as ${field}`);
          if (kind === 4) refuse("no tags", `it exports a tag as ${field}`);
          if (kind > 4) refuse("well-formed", `export ${field} has kind ${kind}`);
        }
        break;
      case 8: s.u32(); break;             // a start function is metered like the rest (meter.ts's initial fuel)
      case 9:
        for (let n = s.u32(); n > 0; n--) {
          const flags = s.u32();
          if (flags > 7) refuse("well-formed", `an element segment has flags ${flags}`);
          if ((flags & 3) === 2) zeroIndex(s, "one funcref table", "an element segment");
          if ((flags & 1) === 0) constExpr(s);
          if (flags & 4) {
            if (flags & 3) { const t = s.byte(); if (t !== 0x70) refuse("one funcref table", "an element segment holds non-funcref values"); }
            for (let k = s.u32(); k > 0; k--) constExpr(s);
          } else {
            if (flags & 3) { if (s.byte() !== 0) refuse("well-formed", "an element segment's kind is not a function"); }
            for (let k = s.u32(); k > 0; k--) s.u32();
          }
        }
        break;
      case 10: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const len = s.u32();
          const body = new Reader(s.b, s.pos + len);
          body.pos = s.pos;
          s.skip(len);
          code(body, i);
          if (body.pos !== body.end) refuse("well-formed", `function ${i}'s body has bytes after its end`);
        }
        break;
      }
      case 11:
        for (let n = s.u32(); n > 0; n--) {
          const flags = s.u32();
          if (flags === 2) zeroIndex(s, "one memory", "a data segment");
          else if (flags > 2) refuse("well-formed", `a data segment has flags ${flags}`);
          if (flags !== 1) constExpr(s);
          s.skip(s.u32());
        }
        break;
      case 12: s.u32(); break;
      case 13: refuse("no tags", "it defines tags: exceptions are not allowed");
    }
    if (id !== 0 && s.pos !== s.end) refuse("well-formed", `section ${SECTION_NAMES[id]} has ${s.end - s.pos} bytes left over`);
  }
  if (memories !== 1) refuse("one memory", "it must import its memory as env.memory (the host sizes it from the manifest)");
}

// Driving NF chains in tests: manifests for the built samples, hostile modules written in WAT,
// and bursts of frames built independently of the NFs.
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";
import { parseManifest, type Manifest } from "../host/nf/manifest.js";
import { newBatch, type FrameBatch } from "../host/nf/abi.js";
import { eth, ipv4, ipv6, udp, checksum } from "./helpers.js";

export const NF_DIR = fileURLToPath(new URL("../../build/nf/", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "demiwasm-nf-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));   // the WAT modules a suite wrote
let n = 0;

/** A manifest for a built sample (build/nf/NAME.wasm) with overrides. */
export function sample(name: string, o: Record<string, unknown> = {}): Manifest {
  return parseManifest({ name, module: join(NF_DIR, `${name}.wasm`), ...o });
}

/** A module from WAT text, written to a scratch file; returns its path. `extra` features beyond what V8 reads by default. */
export function wat(text: string, extra = 0): string {
  let m: binaryen.Module;
  // binaryen throws a non-Error object on bad text, which uvu cannot report: make it an Error.
  try { m = binaryen.parseText(text); } catch (e) { throw new Error(`WAT: ${(e as { message?: string }).message ?? String(e)}`); }
  const F = binaryen.Features;
  m.setFeatures(F.MVP | F.MutableGlobals | F.BulkMemory | F.SignExt | extra);   // what V8 reads (no compact imports)
  const bytes = m.emitBinary();
  m.dispose();
  const path = join(scratch, `nf${n++}.wasm`);
  writeFileSync(path, bytes);
  return path;
}

/**
 * A hostile or test NF in WAT: imports its memory, puts its area at 65536 and runs `process`
 * (the body of nf_process, with the count in local 0). `extra` adds imports/functions.
 */
export function watNf(process: string, extra = "", init = "(i32.const 0)"): string {
  return wat(`(module
    (import "env" "memory" (memory 3 64))
    ${extra}
    (func (export "nf_area") (result i32) (i32.const 65536))
    (func (export "nf_init") (result i32) ${init})
    (func (export "nf_process") (param i32) ${process}))`);
}

/** A watNf body: for each packet of the burst, `each` runs with $d its descriptor's address and
 *  $p its frame's; $x and $y are free for it. */
export const perPacketNf = (each: string) => "(local $i i32) (local $d i32) (local $p i32) (local $x i32) (local $y i32) " +
  "(loop $l (if (i32.lt_u (local.get $i) (local.get 0)) (then " +
  "(local.set $d (i32.add (i32.const 65568) (i32.shl (local.get $i) (i32.const 4)))) (local.set $p (i32.add (i32.const 65536) (i32.load (local.get $d)))) " +
  each + " (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))))";

export const SRC = "10.0.0.2", DST = "198.18.0.1";

/** An Ethernet/IPv4/UDP frame with correct checksums. */
export function udpTo(dst: string, dport: number, src = SRC, sport = 4000, payload = new Uint8Array(18)): Uint8Array {
  return eth("02:00:00:00:00:01", "02:00:00:00:00:02", 0x0800, ipv4({ src, dst, proto: 17 }, udp(src, dst, sport, dport, payload)));
}

export const SRC6 = "fd00::2", DST6 = "fd00:6::1";
/** An IPv6/UDP frame; `ext` extension header bytes (their chain ending in next header 17) may go
 *  between the fixed header and UDP, named by `firstNh`. */
export function udp6To(dst: string, dport: number, src = SRC6, sport = 4000, payload = new Uint8Array(18), ext: number[] = [], firstNh = 17): Uint8Array {
  const u = new Uint8Array(8 + payload.length);
  u[0] = sport >> 8; u[1] = sport & 255; u[2] = dport >> 8; u[3] = dport & 255; u[4] = u.length >> 8; u[5] = u.length & 255;
  u.set(payload, 8);
  const plain = ipv6(src, dst, 17, u);                       // the checksum over the pseudo-header
  const body = Uint8Array.from([...ext, ...plain.subarray(40)]);
  const f = Uint8Array.from([...plain.subarray(0, 40), ...body]);
  f[4] = body.length >> 8; f[5] = body.length & 255; f[6] = firstNh;
  return eth("02:00:00:00:00:01", "02:00:00:00:00:02", 0x86dd, f);
}

/** The upper-layer checksum of an IPv6 frame without extension headers sums right (RFC 8200 §8.1). */
export function checksums6Ok(f: Uint8Array): boolean {
  const len = (f[18] << 8) | f[19];
  const pseudo = Uint8Array.from([...f.subarray(22, 54), 0, 0, len >> 8, len & 255, 0, 0, 0, f[20]]);
  return checksum(Uint8Array.from([...pseudo, ...f.subarray(54, 54 + len)])) === 0;
}

/** A batch over a scratch memory holding `frames` (each in a 2048-byte slot). */
export function batchOf(frames: Uint8Array[]): FrameBatch {
  const mem = new Uint8Array(64 * 2048);
  const b = newBatch(mem);
  frames.forEach((f, i) => {
    mem.set(f, i * 2048);
    b.off[i] = i * 2048; b.len[i] = f.length; b.cap[i] = 2048;
  });
  b.count = frames.length;
  return b;
}

export function frameOut(b: FrameBatch, i: number): Uint8Array { return b.mem.slice(b.off[i], b.off[i] + b.len[i]); }

/** True when the IPv4 header checksum and the UDP/TCP checksum of a frame are right. */
export function checksumsOk(f: Uint8Array): boolean {
  const ihl = (f[14] & 15) * 4;
  if (checksum(f.subarray(14, 14 + ihl)) !== 0) return false;
  const proto = f[23], total = (f[16] << 8) | f[17];
  const l4 = f.subarray(14 + ihl, 14 + total);
  const pseudo = Uint8Array.from([...f.subarray(26, 34), 0, proto, l4.length >> 8, l4.length & 255]);
  return checksum(Uint8Array.from([...pseudo, ...l4])) === 0;
}

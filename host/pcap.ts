// Classic libpcap files (https://wiki.wireshark.org/Development/LibpcapFileFormat), link type
// Ethernet: read for fixtures and replays, written for captures tshark can read.
import { openSync, writeSync, closeSync } from "node:fs";
export interface PcapRecord { tsSec: number; tsUsec: number; data: Uint8Array }

const MAGIC_LE = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;

export function readPcap(buf: Uint8Array): PcapRecord[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 24) throw new Error("pcap: file shorter than its header");
  const magic = dv.getUint32(0, true);
  let le: boolean;
  if (magic === MAGIC_LE) le = true;
  else if (dv.getUint32(0, false) === MAGIC_LE) le = false;
  else throw new Error(`pcap: bad magic 0x${magic.toString(16)} (pcapng is not supported)`);
  if (dv.getUint32(20, le) !== LINKTYPE_ETHERNET) throw new Error("pcap: link type is not Ethernet");
  const out: PcapRecord[] = [];
  let p = 24;
  while (p + 16 <= buf.length) {
    const tsSec = dv.getUint32(p, le);
    const tsUsec = dv.getUint32(p + 4, le);
    const incl = dv.getUint32(p + 8, le);
    if (p + 16 + incl > buf.length) throw new Error(`pcap: record at byte ${p} runs past the end`);
    out.push({ tsSec, tsUsec, data: buf.subarray(p + 16, p + 16 + incl) });
    p += 16 + incl;
  }
  return out;
}

export function pcapHeader(snaplen = 65535): Uint8Array {
  const h = new Uint8Array(24);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, MAGIC_LE, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, snaplen, true);
  dv.setUint32(20, LINKTYPE_ETHERNET, true);
  return h;
}

export function pcapRecord(tsNs: number, frame: Uint8Array): Uint8Array {
  const r = new Uint8Array(16 + frame.length);
  const dv = new DataView(r.buffer);
  const sec = Math.floor(tsNs / 1e9);
  dv.setUint32(0, sec, true);
  dv.setUint32(4, Math.floor((tsNs - sec * 1e9) / 1e3), true);
  dv.setUint32(8, frame.length, true);
  dv.setUint32(12, frame.length, true);
  r.set(frame, 16);
  return r;
}

/**
 * A capture file being written: frames are buffered and written a megabyte at a time, and once
 * more by close(). What a link records is its own business (loopback: each transmission once,
 * before faults; a DPDK port: what it hands the device and what the device delivered).
 */
export class PcapWriter {
  private readonly fd: number;
  private pending: Uint8Array[] = [];
  private bytes = 0;
  frames = 0;

  constructor(path: string) {
    this.fd = openSync(path, "w");
    writeSync(this.fd, pcapHeader());
  }

  record(tsNs: number, u8: Uint8Array, off: number, len: number): void {
    const r = pcapRecord(tsNs, u8.subarray(off, off + len));
    this.pending.push(r);
    this.bytes += r.length;
    this.frames++;
    if (this.bytes > 1 << 20) this.flush();
  }

  flush(): void {
    for (const r of this.pending) writeSync(this.fd, r);
    this.pending = [];
    this.bytes = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

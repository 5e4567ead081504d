// A key-value server on the PDPIX API speaking the RESP subset that redis-cli and
// redis-benchmark use. One connection's malformed input or unknown command gets a RESP error;
// no other client notices.
import type { Pdpix } from "../host/pdpix.js";
import { newResultBuffer, Opcode, type Sga } from "../host/libos.js";
import { parseCommand, encode, Parse, type Reply } from "./resp.js";

const OK: Reply = { ok: "OK" };
const NIL: Reply = { bulk: null };
const NOT_INT: Reply = { err: "ERR value is not an integer or out of range" };

interface Entry { v: Uint8Array; exp: number }   // exp: ms on the store's clock, 0 = never

export class KvStore {
  private readonly map = new Map<string, Entry>();
  constructor(private readonly nowMs: () => number) {}

  get size(): number { return this.map.size; }

  private live(k: string): Entry | undefined {
    const e = this.map.get(k);
    if (e && e.exp !== 0 && e.exp <= this.nowMs()) { this.map.delete(k); return undefined; }
    return e;
  }

  exec(args: Uint8Array[]): Reply {
    if (args.length === 0) return { err: "ERR empty command" };
    const name = Buffer.from(args[0]).toString("latin1").toLowerCase();
    const key = (i: number) => Buffer.from(args[i]).toString("latin1");
    const arity = (min: number, max = min, step = 1) =>
      args.length < min || args.length > max || (args.length - min) % step !== 0;
    const wrong = (): Reply => ({ err: `ERR wrong number of arguments for '${name}' command` });
    switch (name) {
      case "ping": return args.length === 1 ? { ok: "PONG" } : args.length === 2 ? { bulk: args[1] } : wrong();
      case "echo": return arity(2) ? wrong() : { bulk: args[1] };
      case "get": { if (arity(2)) return wrong(); const e = this.live(key(1)); return e ? { bulk: e.v } : NIL; }
      case "set": {
        if (args.length < 3) return wrong();
        let exp = 0, nx = false, xx = false;
        for (let i = 3; i < args.length; i++) {
          const o = key(i).toUpperCase();
          if (o === "NX") nx = true;
          else if (o === "XX") xx = true;
          else if ((o === "EX" || o === "PX") && i + 1 < args.length) {
            const n = Number(key(++i));
            if (!Number.isInteger(n) || n <= 0) return { err: "ERR invalid expire time in 'set' command" };
            exp = this.nowMs() + (o === "EX" ? n * 1000 : n);
          } else return { err: "ERR syntax error" };
        }
        const had = this.live(key(1)) !== undefined;
        if ((nx && had) || (xx && !had)) return NIL;
        this.map.set(key(1), { v: args[2], exp });
        return OK;
      }
      case "del": case "exists": {
        if (args.length < 2) return wrong();
        let n = 0;
        for (let i = 1; i < args.length; i++) if (this.live(key(i))) { n++; if (name === "del") this.map.delete(key(i)); }
        return { int: n };
      }
      case "incr": case "decr": case "incrby": case "decrby": {
        if (arity(name.endsWith("by") ? 3 : 2)) return wrong();
        const by = name.endsWith("by") ? Number(key(2)) : 1;
        if (!Number.isSafeInteger(by)) return NOT_INT;
        const e = this.live(key(1));
        const cur = e ? Number(Buffer.from(e.v).toString("latin1")) : 0;
        if (e && (!/^-?\d+$/.test(Buffer.from(e.v).toString("latin1")) || !Number.isSafeInteger(cur))) return NOT_INT;
        const next = cur + (name.startsWith("decr") ? -by : by);
        if (!Number.isSafeInteger(next)) return NOT_INT;
        this.map.set(key(1), { v: Buffer.from(String(next)), exp: e?.exp ?? 0 });
        return { int: next };
      }
      case "mset": {
        if (arity(3, Infinity, 2)) return wrong();
        for (let i = 1; i < args.length; i += 2) this.map.set(key(i), { v: args[i + 1], exp: 0 });
        return OK;
      }
      case "mget": {
        if (args.length < 2) return wrong();
        return { array: args.slice(1).map((_, i) => { const e = this.live(key(i + 1)); return e ? { bulk: e.v } : NIL; }) };
      }
      case "expire": case "pexpire": {
        if (arity(3)) return wrong();
        const n = Number(key(2));
        if (!Number.isInteger(n)) return NOT_INT;
        const e = this.live(key(1));
        if (!e) return { int: 0 };
        if (n <= 0) { this.map.delete(key(1)); return { int: 1 }; }
        e.exp = this.nowMs() + (name === "expire" ? n * 1000 : n);
        return { int: 1 };
      }
      case "ttl": case "pttl": {
        if (arity(2)) return wrong();
        const e = this.live(key(1));
        if (!e) return { int: -2 };
        if (e.exp === 0) return { int: -1 };
        const ms = e.exp - this.nowMs();
        return { int: name === "ttl" ? Math.ceil(ms / 1000) : ms };
      }
      case "dbsize": return { int: this.size };
      case "quit": return OK;                             // the connection closes after the reply (serve)
      // Clients' ready checks (ioredis, node-redis) read INFO's server and persistence fields.
      case "info": return { bulk: Buffer.from(`# Server\r\nredis_version:7.2.0\r\nredis_mode:standalone\r\n# Persistence\r\nloading:0\r\n# Keyspace\r\ndb0:keys=${this.size},expires=0\r\n`) };
      case "config": return { array: [] };                // redis-benchmark asks for save/appendonly
      default: {
        const first = args.slice(1, 4).map((a) => `'${Buffer.from(a).toString("latin1")}'`).join(" ");
        return { err: `ERR unknown command '${Buffer.from(args[0]).toString("latin1")}', with args beginning with: ${first}` };
      }
    }
  }
}

interface Conn { popQt: number; buf: Uint8Array; len: number; pushes: { qt: number; sga: Sga }[]; closing: boolean }

/** Accepts connections, parses pipelined commands as bytes arrive, answers each batch in one push. */
export class KvServer {
  private acceptQt: number;
  private readonly conns = new Map<number, Conn>();
  private readonly r = newResultBuffer();
  commands = 0;
  errors = 0;

  constructor(private readonly l: Pdpix, readonly lqd: number, readonly store: KvStore) {
    this.acceptQt = l.accept(lqd);
  }

  get connections(): number { return this.conns.size; }

  step(): void {
    const l = this.l, r = this.r;
    if (this.acceptQt >= 0 && l.tryWaitInto(r, this.acceptQt)) {
      if (r.opcode === Opcode.ACCEPT) {
        this.conns.set(r.acceptedQd, { popQt: l.pop(r.acceptedQd), buf: new Uint8Array(4096), len: 0, pushes: [], closing: false });
        this.acceptQt = l.accept(this.lqd);
      } else this.acceptQt = -1;
    }
    for (const [qd, c] of this.conns) {
      while (c.pushes.length > 0 && l.tryWaitInto(r, c.pushes[0].qt)) l.sgafree(c.pushes.shift()!.sga);
      if (c.closing) { if (c.pushes.length === 0) { l.close(qd); this.conns.delete(qd); } continue; }
      while (l.tryWaitInto(r, c.popQt)) {
        if (r.ret !== 0 || r.sga.len === 0) { c.closing = true; break; }      // reset or end of stream
        this.append(c, l.bytes(r.sga));
        l.sgafree(r.sga);
        c.popQt = l.pop(qd);
        this.serve(qd, c);
        if (c.closing) break;
      }
    }
  }

  private append(c: Conn, bytes: Uint8Array): void {
    if (c.len + bytes.length > c.buf.length) {
      const b = new Uint8Array(Math.max(c.buf.length * 2, c.len + bytes.length));
      b.set(c.buf.subarray(0, c.len));
      c.buf = b;
    }
    c.buf.set(bytes, c.len);
    c.len += bytes.length;
  }

  private serve(qd: number, c: Conn): void {
    const replies: Uint8Array[] = [];
    let at = 0;
    for (;;) {
      const [state, next, args, msg] = parseCommand(c.buf, at, c.len);
      if (state === Parse.NEED_MORE) break;
      if (state === Parse.ERROR) {
        // As Redis does: answer the protocol error and close this connection only.
        replies.push(encode({ err: `ERR ${msg}` }));
        this.errors++;
        c.closing = true;
        at = c.len;
        break;
      }
      at = next;
      if (args.length === 0) continue;
      const reply = this.store.exec(args);
      if ("err" in reply) this.errors++;
      this.commands++;
      replies.push(encode(reply));
      if (Buffer.from(args[0]).toString("latin1").toLowerCase() === "quit") { c.closing = true; break; }
    }
    c.buf.copyWithin(0, at, c.len);
    c.len -= at;
    if (replies.length > 0) this.send(qd, c, Buffer.concat(replies));
  }

  private send(qd: number, c: Conn, bytes: Uint8Array): void {
    const l = this.l;
    for (let off = 0; off < bytes.length; off += 65536) {
      const n = Math.min(65536, bytes.length - off);
      const sga = l.sgaalloc(n);
      l.bytes(sga).set(bytes.subarray(off, off + n));
      c.pushes.push({ qt: l.push(qd, sga), sga });
    }
  }
}

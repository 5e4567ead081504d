// RESP, the Redis protocol (https://redis.io/docs/reference/protocol-spec/): incremental parsing
// of client commands (arrays of bulk strings, or inline commands) and encoding of replies.

export type Reply = { ok: string } | { err: string } | { int: number } | { bulk: Uint8Array | null } | { array: Reply[] };

export const enum Parse { NEED_MORE = 0, OK = 1, ERROR = 2 }

const CR = 13, LF = 10;

/** Finds CRLF at or after `from`; -1 when not yet there. */
function crlf(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) if (b[i] === CR && b[i + 1] === LF) return i;
  return -1;
}

function int(b: Uint8Array, from: number, to: number): number {
  let n = 0, sign = 1, i = from;
  if (b[i] === 45) { sign = -1; i++; }
  if (i >= to) return NaN;
  for (; i < to; i++) { const d = b[i] - 48; if (d < 0 || d > 9) return NaN; n = n * 10 + d; }
  return sign * n;
}

/**
 * Parses one command from buf[start, end). Returns [state, next offset, args, message]: OK with
 * the command's arguments, NEED_MORE when it is incomplete, ERROR with Redis's protocol message.
 */
export function parseCommand(buf: Uint8Array, start: number, end: number): [Parse, number, Uint8Array[], string] {
  if (start >= end) return [Parse.NEED_MORE, start, [], ""];
  if (buf[start] !== 42 /* '*' */) {
    // Inline command: words separated by spaces, ended by a newline.
    let nl = -1;
    for (let i = start; i < end; i++) if (buf[i] === LF) { nl = i; break; }
    if (nl < 0) return end - start > 65536 ? [Parse.ERROR, end, [], "Protocol error: too big inline request"] : [Parse.NEED_MORE, start, [], ""];
    const line = Buffer.from(buf.subarray(start, nl > start && buf[nl - 1] === CR ? nl - 1 : nl)).toString("latin1");
    const words = line.split(" ").filter((w) => w.length > 0).map((w) => Buffer.from(w, "latin1"));
    return [Parse.OK, nl + 1, words, ""];
  }
  const e = crlf(buf, start + 1, end);
  if (e < 0) return [Parse.NEED_MORE, start, [], ""];
  const n = int(buf, start + 1, e);
  if (!Number.isInteger(n) || n > 1024 * 1024) return [Parse.ERROR, end, [], "Protocol error: invalid multibulk length"];
  const out: Uint8Array[] = [];
  let p = e + 2;
  for (let k = 0; k < n; k++) {
    if (p >= end) return [Parse.NEED_MORE, start, [], ""];
    if (buf[p] !== 36 /* '$' */) return [Parse.ERROR, end, [], `Protocol error: expected '$', got '${String.fromCharCode(buf[p])}'`];
    const le = crlf(buf, p + 1, end);
    if (le < 0) return [Parse.NEED_MORE, start, [], ""];
    const len = int(buf, p + 1, le);
    if (!Number.isInteger(len) || len < 0 || len > 512 * 1024 * 1024) return [Parse.ERROR, end, [], "Protocol error: invalid bulk length"];
    const d = le + 2;
    if (d + len + 2 > end) return [Parse.NEED_MORE, start, [], ""];
    if (buf[d + len] !== CR || buf[d + len + 1] !== LF) return [Parse.ERROR, end, [], "Protocol error: bulk string not ended by CRLF"];
    out.push(buf.slice(d, d + len));
    p = d + len + 2;
  }
  return [Parse.OK, p, out, ""];
}

/** The bytes of a reply. */
export function encode(r: Reply): Uint8Array {
  const parts: Uint8Array[] = [];
  const put = (x: Reply) => {
    if ("ok" in x) parts.push(Buffer.from(`+${x.ok}\r\n`));
    else if ("err" in x) parts.push(Buffer.from(`-${x.err}\r\n`));
    else if ("int" in x) parts.push(Buffer.from(`:${x.int}\r\n`));
    else if ("bulk" in x) {
      if (x.bulk === null) parts.push(Buffer.from("$-1\r\n"));
      else { parts.push(Buffer.from(`$${x.bulk.length}\r\n`)); parts.push(x.bulk); parts.push(Buffer.from("\r\n")); }
    } else { parts.push(Buffer.from(`*${x.array.length}\r\n`)); x.array.forEach(put); }
  };
  put(r);
  return Buffer.concat(parts);
}

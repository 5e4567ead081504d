// Argument checks with the error codes, classes and message shapes node:net and node:dgram use
// (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE, ERR_SOCKET_BAD_PORT, ...), so a program that tests
// for them on Node's modules sees the same on the stack's.
import { inspect } from "node:util";
import { isIP, BlockList } from "node:net";
import { codedError } from "./errors.js";

/** How Node's messages name a received value: "type number (5)", "an instance of Foo", "null". */
export function received(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  switch (typeof v) {
    case "function": return `function ${(v as { name: string }).name}`;
    case "object": {
      const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === "string" && name !== "" ? `an instance of ${name}` : inspect(v, { depth: -1 });
    }
    case "string": {
      const s = v.length > 28 ? `${v.slice(0, 25)}...` : v;
      return s.includes("'") ? `type string (${JSON.stringify(s)})` : `type string ('${s}')`;
    }
    case "number": return `type number (${Object.is(v, -0) ? "-0" : String(v)})`;
    case "bigint": return `type bigint (${v}n)`;
    default: return `type ${typeof v} (${String(v)})`;
  }
}

const PRIMITIVES = new Set(["string", "number", "bigint", "boolean", "symbol", "undefined", "function", "object"]);

/** ERR_INVALID_ARG_TYPE: `name` (an argument, or a property when dotted) must be of `expected`. */
export function invalidArgType(name: string, expected: string | string[], actual: unknown): TypeError & { code: string } {
  const list = Array.isArray(expected) ? expected : [expected];
  const types = list.filter((t) => PRIMITIVES.has(t.toLowerCase()) && t === t.toLowerCase());
  const classes = list.filter((t) => !types.includes(t));
  const parts: string[] = [];
  const join = (l: string[]) => l.length > 2 ? `${l.slice(0, -1).join(", ")}, or ${l[l.length - 1]}` : l.join(" or ");
  if (types.length > 0) parts.push(types.length === 1 ? `of type ${types[0]}` : `one of type ${join(types)}`);
  if (classes.length > 0) parts.push(`an instance of ${join(classes)}`);
  const what = name.endsWith(" argument") ? name : `"${name}" ${name.includes(".") ? "property" : "argument"}`;
  return codedError("ERR_INVALID_ARG_TYPE", `The ${what} must be ${parts.join(" or ")}. Received ${received(actual)}`, TypeError) as TypeError & { code: string };
}

/** ERR_INVALID_ARG_VALUE: `name` is not acceptable (`reason`, "is invalid" by default). */
export function invalidArgValue(name: string, value: unknown, reason = "is invalid"): TypeError & { code: string } {
  const kind = name.includes(".") ? "property" : "argument";
  return codedError("ERR_INVALID_ARG_VALUE", `The ${kind} '${name}' ${reason}. Received ${inspect(value)}`, TypeError) as TypeError & { code: string };
}

/** ERR_OUT_OF_RANGE. */
export function outOfRange(name: string, range: string, value: unknown): RangeError & { code: string } {
  return codedError("ERR_OUT_OF_RANGE", `The value of "${name}" is out of range. It must be ${range}. Received ${String(value)}`, RangeError) as RangeError & { code: string };
}

export function validateNumber(v: unknown, name: string, min?: number, max?: number): asserts v is number {
  if (typeof v !== "number") throw invalidArgType(name, "number", v);
  if ((min !== undefined && v < min) || (max !== undefined && v > max) || ((min !== undefined || max !== undefined) && Number.isNaN(v))) {
    throw outOfRange(name, `${min !== undefined ? `>= ${min}` : ""}${min !== undefined && max !== undefined ? " && " : ""}${max !== undefined ? `<= ${max}` : ""}`, v);
  }
}

export function validateInt32(v: unknown, name: string, min = -2147483648, max = 2147483647): asserts v is number {
  if (typeof v !== "number") throw invalidArgType(name, "number", v);
  if (!Number.isInteger(v)) throw outOfRange(name, "an integer", v);
  if (v < min || v > max) throw outOfRange(name, `>= ${min} && <= ${max}`, v);
}

export function validateUint32(v: unknown, name: string, positive = false): asserts v is number {
  if (typeof v !== "number") throw invalidArgType(name, "number", v);
  if (!Number.isInteger(v)) throw outOfRange(name, "an integer", v);
  const min = positive ? 1 : 0;
  if (v < min || v > 4294967295) throw outOfRange(name, `>= ${min} && <= 4294967295`, v);
}

export function validateFunction(v: unknown, name: string): asserts v is (...a: unknown[]) => unknown {
  if (typeof v !== "function") throw invalidArgType(name, "function", v);
}

export function validateBoolean(v: unknown, name: string): asserts v is boolean {
  if (typeof v !== "boolean") throw invalidArgType(name, "boolean", v);
}

export function validateString(v: unknown, name: string): asserts v is string {
  if (typeof v !== "string") throw invalidArgType(name, "string", v);
}

export function validateObject(v: unknown, name: string): asserts v is object {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw invalidArgType(name, "object", v);
}

export function validateAbortSignal(v: unknown, name: string): asserts v is AbortSignal | undefined {
  if (v !== undefined && (v === null || typeof v !== "object" || !("aborted" in v))) throw invalidArgType(name, "AbortSignal", v);
}

/** A port as Node takes it (a number or a numeric string, 0-65535), or ERR_SOCKET_BAD_PORT. */
export function validatePort(port: unknown, name = "Port", allowZero = true): number {
  if ((typeof port !== "number" && typeof port !== "string") || (typeof port === "string" && port.trim().length === 0)
      || +port !== (+port >>> 0) || +port > 0xffff || (+port === 0 && !allowZero)) {
    throw codedError("ERR_SOCKET_BAD_PORT", `${name} should be ${allowZero ? ">=" : ">"} 0 and < 65536. Received ${received(port)}.`, RangeError);
  }
  return +port | 0;
}

/** A timer's duration as timers.enroll checks it (setTimeout's msecs). */
export function timerDuration(msecs: unknown, name: string): number {
  validateNumber(msecs, name);
  if (msecs < 0 || !Number.isFinite(msecs)) throw outOfRange(name, "a non-negative finite number", msecs);
  return msecs > 2147483647 ? 1 : msecs;
}

/** ERR_INVALID_IP_ADDRESS unless `s` is an IP literal. */
export function validateIp(s: unknown): string {
  if (typeof s !== "string" || isIP(s) === 0) throw codedError("ERR_INVALID_IP_ADDRESS", `Invalid IP address: ${String(s)}`, TypeError);
  return s;
}

/** ERR_MISSING_ARGS: each argument a name, or a list of names any one of which would do. */
export function missingArgs(...args: (string | string[])[]): TypeError & { code: string } {
  const names = args.map((a) => Array.isArray(a) ? a.map((n) => `"${n}"`).join(" or ") : `"${a}"`);
  const n = names.length;
  const what = n === 1 ? `${names[0]} argument` : n === 2 ? `${names[0]} and ${names[1]} arguments`
    : `${names.slice(0, -1).join(", ")}, and ${names[n - 1]} arguments`;
  return codedError("ERR_MISSING_ARGS", `The ${what} must be specified`, TypeError) as TypeError & { code: string };
}

/** net.BlockList.isBlockList where Node has it (22+), instanceof before. */
export function isBlockList(v: unknown): v is BlockList {
  const f = (BlockList as unknown as { isBlockList?: (v: unknown) => boolean }).isBlockList;
  return f !== undefined ? f(v) : v instanceof BlockList;
}

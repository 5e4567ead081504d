// Errors as Node's own socket modules raise them: `code` is the errno name (ECONNREFUSED …),
// `errno` the negative number, `syscall` the call, and for connect the address and port.
import { getSystemErrorName } from "node:util";
import { DemiError } from "../errno.js";

export interface SystemError extends Error {
  errno: number; code: string; syscall: string; address?: string; port?: number;
}

/** A positive errno (as PDPIX returns it) as node:net would report it. */
export function systemError(errno: number, syscall: string, address?: string, port?: number): SystemError {
  let code: string;
  try { code = getSystemErrorName(-errno); } catch { code = `E${errno}`; }
  const where = address === undefined ? "" : port === undefined ? ` ${address}` : ` ${address}:${port}`;
  const e = new Error(`${syscall} ${code}${where}`) as SystemError;
  e.errno = -errno;
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined) e.port = port;
  return e;
}

/**
 * The errno of what a PDPIX call threw (a DemiError). Anything else is a bug of ours, not the
 * network's: it goes on up rather than being reported as some errno.
 */
export function errnoOf(e: unknown): number {
  if (e instanceof DemiError) return e.errno;
  throw e;
}

/** An error with one of Node's ERR_* codes (the ones node:net and node:dgram throw). */
export function codedError(code: string, message: string, Kind: ErrorConstructor = Error): Error & { code: string } {
  const e = new Kind(message) as Error & { code: string };
  e.code = code;
  return e;
}

/** What an aborted operation rejects with, as Node's own AbortError. */
export function abortError(signal: AbortSignal): Error & { code: string } {
  const e = codedError("ABORT_ERR", "The operation was aborted");
  e.name = "AbortError";
  (e as Error & { cause?: unknown }).cause = signal.reason;
  return e;
}

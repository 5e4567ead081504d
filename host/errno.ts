// errno values (the schema's: positive, Linux's, as Demikernel returns them) and the error
// synchronous calls throw.
import { ERRNO_NAMES } from "./schema/errno.js";

export * from "./schema/errno.js";

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** Thrown by synchronous PDPIX calls; `errno` is the positive value Demikernel would return. */
export class DemiError extends Error {
  constructor(readonly errno: number, what: string) {
    super(`${what}: ${errnoName(errno)}`);
    this.name = "DemiError";
  }
  get code(): string { return errnoName(this.errno); }
}

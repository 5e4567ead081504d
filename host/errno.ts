// Positive errno values (Linux, as Demikernel returns them) and the error synchronous calls throw.
export const EPERM = 1;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EINVAL = 22;
export const EDESTADDRREQ = 89;
export const EMSGSIZE = 90;
export const ENOPROTOOPT = 92;
export const EPROTONOSUPPORT = 93;
export const ENOTSUP = 95;
export const EAFNOSUPPORT = 97;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const EISCONN = 106;
export const ENOTCONN = 107;
export const ETIMEDOUT = 110;
export const ECONNREFUSED = 111;
export const EPIPE = 32;
export const EHOSTUNREACH = 113;
export const ECANCELED = 125;

const NAMES: Record<number, string> = {
  [EPERM]: "EPERM", [EBADF]: "EBADF", [EAGAIN]: "EAGAIN", [ENOMEM]: "ENOMEM", [EINVAL]: "EINVAL",
  [EDESTADDRREQ]: "EDESTADDRREQ", [EMSGSIZE]: "EMSGSIZE", [ENOPROTOOPT]: "ENOPROTOOPT", [EPROTONOSUPPORT]: "EPROTONOSUPPORT",
  [ENOTSUP]: "ENOTSUP", [EAFNOSUPPORT]: "EAFNOSUPPORT", [EADDRINUSE]: "EADDRINUSE",
  [EADDRNOTAVAIL]: "EADDRNOTAVAIL", [ECONNRESET]: "ECONNRESET", [ENOBUFS]: "ENOBUFS", [EISCONN]: "EISCONN", 5: "EIO", [ECONNREFUSED]: "ECONNREFUSED", [EPIPE]: "EPIPE", 13: "EACCES", [ENOTCONN]: "ENOTCONN",
  [ETIMEDOUT]: "ETIMEDOUT", [EHOSTUNREACH]: "EHOSTUNREACH", [ECANCELED]: "ECANCELED",
};

export function errnoName(errno: number): string {
  return NAMES[errno] ?? `errno ${errno}`;
}

/** Thrown by synchronous PDPIX calls; `errno` is the positive value Demikernel would return. */
export class DemiError extends Error {
  constructor(readonly errno: number, what: string) {
    super(`${what}: ${errnoName(errno)}`);
    this.name = "DemiError";
  }
  get code(): string { return errnoName(this.errno); }
}

// Positive errno values as Linux (and so Demikernel) defines them. Exports that can fail return
// the negated value where a success value is also returned (qd, qt, pointer), the plain value
// where only a status is returned.
export const EPERM: i32 = 1;
export const EBADF: i32 = 9;
export const EAGAIN: i32 = 11;
export const ENOMEM: i32 = 12;
export const EINVAL: i32 = 22;
export const EMSGSIZE: i32 = 90;
export const ENOPROTOOPT: i32 = 92;
export const EPROTONOSUPPORT: i32 = 93;
export const ENOTSUP: i32 = 95;
export const EAFNOSUPPORT: i32 = 97;
export const EADDRINUSE: i32 = 98;
export const EADDRNOTAVAIL: i32 = 99;
export const ECONNRESET: i32 = 104;
export const ENOBUFS: i32 = 105;
export const EISCONN: i32 = 106;
export const EPIPE: i32 = 32;
export const ECONNREFUSED: i32 = 111;
export const ENOTCONN: i32 = 107;
export const ETIMEDOUT: i32 = 110;
export const EHOSTUNREACH: i32 = 113;
export const EDESTADDRREQ: i32 = 89;
export const ECANCELED: i32 = 125;

// The posix half of the native bridge (raw N-API): Demikernel's catnap, non-blocking kernel
// sockets polled by the host's scheduler. Data moves straight between the socket and the Wasm
// memory (an offset into it), never through a JS Buffer. Every call returns a value or -errno.
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include "napi_util.h"
#include "watch.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/** The bytes [off, off+len) of a Uint8Array over the Wasm memory, or NULL when out of range. */
static uint8_t *span(napi_env env, napi_value mem, double off, double len) {
  napi_typedarray_type t;
  size_t length = 0, byte_off = 0;
  void *data = NULL;
  napi_value ab;
  if (napi_get_typedarray_info(env, mem, &t, &length, &data, &ab, &byte_off) != napi_ok || t != napi_uint8_array) return NULL;
  if (off < 0 || len < 0 || off + len > (double)length) return NULL;
  return (uint8_t *)data + (size_t)off;
}

// An address block, shared with host/backends/posix.ts: u32 family (4 or 6), u32 port, u32 IPv4
// address in host order, then 16 bytes of IPv6 address in network order.
#define BLOCK_BYTES 28

/** The block behind a typed array of at least BLOCK_BYTES, or NULL. */
static uint8_t *block(napi_env env, napi_value v) {
  napi_typedarray_type t;
  size_t n = 0, bo = 0;
  void *data = NULL;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &t, &n, &data, &ab, &bo) != napi_ok) return NULL;
  size_t bytes = t == napi_uint32_array ? n * 4 : t == napi_uint8_array ? n : 0;
  return bytes >= BLOCK_BYTES ? (uint8_t *)data : NULL;
}

/** The sockaddr a block names; its length, or 0 when the block is not one. */
static socklen_t sa_from(const uint8_t *b, struct sockaddr_storage *ss) {
  uint32_t family, port, ip;
  memcpy(&family, b, 4); memcpy(&port, b + 4, 4); memcpy(&ip, b + 8, 4);
  memset(ss, 0, sizeof *ss);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    memcpy(&a->sin6_addr, b + 12, 16);
    return sizeof *a;
  }
  if (family != 4) return 0;
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(ip);
  a->sin_port = htons((uint16_t)port);
  return sizeof *a;
}

/** The sockaddr the block argument `v` names: its length, or 0 when `v` is not a block. */
static socklen_t sa_arg(napi_env env, napi_value v, struct sockaddr_storage *ss) {
  uint8_t *b = block(env, v);
  return b ? sa_from(b, ss) : 0;
}

/** Writes a sockaddr into a block. */
static void sa_to(const struct sockaddr_storage *ss, uint8_t *b) {
  uint32_t family = 4, port = 0, ip = 0;
  memset(b + 12, 0, 16);
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    family = 6;
    port = ntohs(a->sin6_port);
    memcpy(b + 12, &a->sin6_addr, 16);
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    port = ntohs(a->sin_port);
    ip = ntohl(a->sin_addr.s_addr);
  }
  memcpy(b, &family, 4); memcpy(b + 4, &port, 4); memcpy(b + 8, &ip, 4);
}

// socket(stream: bool, v6: bool) -> fd. An IPv6 socket is IPv6 only (IPV6_V6ONLY), as the Wasm
// stack's are: binding :: leaves the IPv4 port to an IPv4 socket.
static napi_value p_socket(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, 2, a)) return NULL;
  bool stream = false, v6 = false;
  napi_get_value_bool(env, a[0], &stream);
  napi_get_value_bool(env, a[1], &v6);
  int fd = socket(v6 ? AF_INET6 : AF_INET, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  int one = 1;
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (stream) {
    // A server may listen again on a port whose connections are in TIME_WAIT (as node:net's
    // servers do); on a datagram socket SO_REUSEADDR would let two sockets share a port.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the Wasm stack: Nagle off
  }
  return num(env, fd);
}

// bind(fd, block) / connect(fd, block) -> 0 or -errno (connect: -EINPROGRESS while pending)
static napi_value p_bind(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, 2, a)) return NULL;
  struct sockaddr_storage s;
  socklen_t l = sa_arg(env, a[1], &s);
  if (l == 0) return num(env, -EINVAL);
  return num(env, bind((int)arg_num(env, a[0]), (struct sockaddr *)&s, l) == 0 ? 0 : -errno);
}

// connect to an all-zero address and port 0 dissolves a datagram socket's default peer
// (AF_UNSPEC, POSIX).
static napi_value p_connect(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, 2, a)) return NULL;
  struct sockaddr_storage s;
  socklen_t l = sa_arg(env, a[1], &s);
  if (l == 0) return num(env, -EINVAL);
  static const uint8_t zero[BLOCK_BYTES - 4];
  if (memcmp(block(env, a[1]) + 4, zero, sizeof zero) == 0) s.ss_family = AF_UNSPEC;
  return num(env, connect((int)arg_num(env, a[0]), (struct sockaddr *)&s, l) == 0 ? 0 : -errno);
}

// connected(fd) -> 1 connected, 0 still pending, -errno failed
static napi_value p_connected(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, 1, a)) return NULL;
  int fd = (int)arg_num(env, a[0]);
  int err = 0;
  socklen_t l = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) return num(env, -errno);
  if (err != 0) return num(env, -err);
  struct sockaddr_storage peer;
  socklen_t pl = sizeof peer;
  return num(env, getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 ? 1 : 0);
}

static napi_value p_listen(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, 2, a)) return NULL;
  return num(env, listen((int)arg_num(env, a[0]), (int)arg_num(env, a[1])) == 0 ? 0 : -errno);
}

// accept(fd, out: block) -> new fd or -errno (-EAGAIN: none yet)
static napi_value p_accept(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, 2, a)) return NULL;
  struct sockaddr_storage s;
  socklen_t l = sizeof s;
  int fd = accept4((int)arg_num(env, a[0]), (struct sockaddr *)&s, &l, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return num(env, -errno);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint8_t *b = block(env, a[1]);
  if (b) sa_to(&s, b);
  return num(env, fd);
}

// recv(fd, mem, off, len, from: block | null) -> bytes, 0 at end of stream, or -errno
static napi_value p_recv(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!args(env, info, 5, a)) return NULL;
  uint8_t *p = span(env, a[1], arg_num(env, a[2]), arg_num(env, a[3]));
  if (!p) return num(env, -EFAULT);
  struct sockaddr_storage s;
  socklen_t l = sizeof s;
  memset(&s, 0, sizeof s);
  ssize_t n = recvfrom((int)arg_num(env, a[0]), p, (size_t)arg_num(env, a[3]), 0, (struct sockaddr *)&s, &l);
  if (n < 0) return num(env, -errno);
  napi_valuetype vt;
  napi_typeof(env, a[4], &vt);
  uint8_t *b = vt == napi_object ? block(env, a[4]) : NULL;
  if (b) sa_to(&s, b);
  return num(env, (double)n);
}

// pending(fd) -> the size of the next datagram (it stays queued), or -errno (-EAGAIN: none)
static napi_value p_pending(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, 1, a)) return NULL;
  ssize_t n = recv((int)arg_num(env, a[0]), NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  return num(env, n < 0 ? -errno : (double)n);
}

// send(fd, mem, off, len, to: block | null) -> bytes or -errno; null sends on a connected socket
static napi_value p_send(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!args(env, info, 5, a)) return NULL;
  uint8_t *p = span(env, a[1], arg_num(env, a[2]), arg_num(env, a[3]));
  if (!p) return num(env, -EFAULT);
  napi_valuetype vt;
  napi_typeof(env, a[4], &vt);
  ssize_t n;
  if (vt != napi_object) n = send((int)arg_num(env, a[0]), p, (size_t)arg_num(env, a[3]), MSG_NOSIGNAL);
  else {
    struct sockaddr_storage s;
    socklen_t l = sa_arg(env, a[4], &s);
    if (l == 0) return num(env, -EINVAL);
    n = sendto((int)arg_num(env, a[0]), p, (size_t)arg_num(env, a[3]), MSG_NOSIGNAL, (struct sockaddr *)&s, l);
  }
  return num(env, n < 0 ? -errno : (double)n);
}

// sockname(fd, peer: bool, out: block) -> 0 or -errno
static napi_value p_sockname(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!args(env, info, 3, a)) return NULL;
  bool peer = false;
  napi_get_value_bool(env, a[1], &peer);
  struct sockaddr_storage s;
  socklen_t l = sizeof s;
  int fd = (int)arg_num(env, a[0]);
  int r = peer ? getpeername(fd, (struct sockaddr *)&s, &l) : getsockname(fd, (struct sockaddr *)&s, &l);
  if (r != 0) return num(env, -errno);
  uint8_t *b = block(env, a[2]);
  if (!b) return num(env, -EINVAL);
  sa_to(&s, b);
  return num(env, 0);
}

static napi_value p_close(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, 1, a)) return NULL;
  int fd = (int)arg_num(env, a[0]);
  watch_forget(fd);                     // libuv must stop polling an fd before it is closed
  return num(env, close(fd) == 0 ? 0 : -errno);
}

// setsockopt(fd, opt: 1 TCP_NODELAY | 2 SO_KEEPALIVE | 4 SO_LINGER (zero timeout: close resets), on) -> 0 or -errno
static napi_value p_setsockopt(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!args(env, info, 3, a)) return NULL;
  int opt = (int)arg_num(env, a[1]);
  int on = arg_num(env, a[2]) != 0;
  int fd = (int)arg_num(env, a[0]);
  int r;
  if (opt == 1) r = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  else if (opt == 2) r = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  else if (opt == 4) {
    struct linger l = { .l_onoff = on, .l_linger = 0 };
    r = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  else return num(env, -ENOPROTOOPT);
  return num(env, r == 0 ? 0 : -errno);
}

// shutdown(fd) -> 0 or -errno: SHUT_WR, the FIN of a half-close
static napi_value p_shutdown(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, 1, a)) return NULL;
  return num(env, shutdown((int)arg_num(env, a[0]), SHUT_WR) == 0 ? 0 : -errno);
}

napi_value posix_init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    { "socket", NULL, p_socket, NULL, NULL, NULL, napi_default, NULL },
    { "bind", NULL, p_bind, NULL, NULL, NULL, napi_default, NULL },
    { "connect", NULL, p_connect, NULL, NULL, NULL, napi_default, NULL },
    { "connected", NULL, p_connected, NULL, NULL, NULL, napi_default, NULL },
    { "listen", NULL, p_listen, NULL, NULL, NULL, napi_default, NULL },
    { "accept", NULL, p_accept, NULL, NULL, NULL, napi_default, NULL },
    { "recv", NULL, p_recv, NULL, NULL, NULL, napi_default, NULL },
    { "pending", NULL, p_pending, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, p_send, NULL, NULL, NULL, napi_default, NULL },
    { "sockname", NULL, p_sockname, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, p_close, NULL, NULL, NULL, napi_default, NULL },
    { "shutdown", NULL, p_shutdown, NULL, NULL, NULL, napi_default, NULL },
    { "setsockopt", NULL, p_setsockopt, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  watch_init(env, exports);
  return exports;
}

NAPI_MODULE_INIT() {
  return posix_init(env, exports);
}

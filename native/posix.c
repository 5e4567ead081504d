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

static void sin_of(struct sockaddr_in *a, double ip, double port) {
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl((uint32_t)ip);
  a->sin_port = htons((uint16_t)port);
}

// socket(stream: bool) -> fd
static napi_value p_socket(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, 1, a)) return NULL;
  bool stream = false;
  napi_get_value_bool(env, a[0], &stream);
  int fd = socket(AF_INET, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  int one = 1;
  if (stream) {
    // A server may listen again on a port whose connections are in TIME_WAIT (as node:net's
    // servers do); on a datagram socket SO_REUSEADDR would let two sockets share a port.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the Wasm stack: Nagle off
  }
  return num(env, fd);
}

// bind(fd, ip, port) / connect(fd, ip, port) -> 0 or -errno (connect: -EINPROGRESS while pending)
static napi_value p_bind(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!args(env, info, 3, a)) return NULL;
  struct sockaddr_in s;
  sin_of(&s, arg_num(env, a[1]), arg_num(env, a[2]));
  return num(env, bind((int)arg_num(env, a[0]), (struct sockaddr *)&s, sizeof s) == 0 ? 0 : -errno);
}

// connect to 0.0.0.0:0 dissolves a datagram socket's default peer (AF_UNSPEC, POSIX).
static napi_value p_connect(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!args(env, info, 3, a)) return NULL;
  struct sockaddr_in s;
  sin_of(&s, arg_num(env, a[1]), arg_num(env, a[2]));
  if (s.sin_addr.s_addr == 0 && s.sin_port == 0) s.sin_family = AF_UNSPEC;
  return num(env, connect((int)arg_num(env, a[0]), (struct sockaddr *)&s, sizeof s) == 0 ? 0 : -errno);
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
  struct sockaddr_in peer;
  socklen_t pl = sizeof peer;
  return num(env, getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 ? 1 : 0);
}

static napi_value p_listen(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, 2, a)) return NULL;
  return num(env, listen((int)arg_num(env, a[0]), (int)arg_num(env, a[1])) == 0 ? 0 : -errno);
}

// accept(fd, out: Uint32Array[2] = ip, port) -> new fd or -errno (-EAGAIN: none yet)
static napi_value p_accept(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, 2, a)) return NULL;
  struct sockaddr_in s;
  socklen_t l = sizeof s;
  int fd = accept4((int)arg_num(env, a[0]), (struct sockaddr *)&s, &l, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return num(env, -errno);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint32_t *out = NULL;
  size_t n = 0;
  napi_typedarray_type t;
  napi_value ab;
  size_t bo;
  if (napi_get_typedarray_info(env, a[1], &t, &n, (void **)&out, &ab, &bo) == napi_ok && t == napi_uint32_array && n >= 2) {
    out[0] = ntohl(s.sin_addr.s_addr);
    out[1] = ntohs(s.sin_port);
  }
  return num(env, fd);
}

// recv(fd, mem, off, len, from: Uint32Array[2] | null) -> bytes, 0 at end of stream, or -errno
static napi_value p_recv(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!args(env, info, 5, a)) return NULL;
  uint8_t *p = span(env, a[1], arg_num(env, a[2]), arg_num(env, a[3]));
  if (!p) return num(env, -EFAULT);
  struct sockaddr_in s;
  socklen_t l = sizeof s;
  ssize_t n = recvfrom((int)arg_num(env, a[0]), p, (size_t)arg_num(env, a[3]), 0, (struct sockaddr *)&s, &l);
  if (n < 0) return num(env, -errno);
  napi_valuetype vt;
  napi_typeof(env, a[4], &vt);
  if (vt == napi_object) {
    uint32_t *out = NULL;
    size_t cnt = 0;
    napi_typedarray_type t;
    napi_value ab;
    size_t bo;
    if (napi_get_typedarray_info(env, a[4], &t, &cnt, (void **)&out, &ab, &bo) == napi_ok && t == napi_uint32_array && cnt >= 2) {
      out[0] = ntohl(s.sin_addr.s_addr);
      out[1] = ntohs(s.sin_port);
    }
  }
  return num(env, (double)n);
}

// pending(fd) -> the size of the next datagram (it stays queued), or -errno (-EAGAIN: none)
static napi_value p_pending(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, 1, a)) return NULL;
  ssize_t n = recv((int)arg_num(env, a[0]), NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  return num(env, n < 0 ? -errno : (double)n);
}

// send(fd, mem, off, len, ip, port) -> bytes or -errno; ip 0 sends on a connected socket
static napi_value p_send(napi_env env, napi_callback_info info) {
  napi_value a[6];
  if (!args(env, info, 6, a)) return NULL;
  uint8_t *p = span(env, a[1], arg_num(env, a[2]), arg_num(env, a[3]));
  if (!p) return num(env, -EFAULT);
  double ip = arg_num(env, a[4]);
  ssize_t n;
  if (ip == 0) n = send((int)arg_num(env, a[0]), p, (size_t)arg_num(env, a[3]), MSG_NOSIGNAL);
  else {
    struct sockaddr_in s;
    sin_of(&s, ip, arg_num(env, a[5]));
    n = sendto((int)arg_num(env, a[0]), p, (size_t)arg_num(env, a[3]), MSG_NOSIGNAL, (struct sockaddr *)&s, sizeof s);
  }
  return num(env, n < 0 ? -errno : (double)n);
}

// sockname(fd, peer: bool, out: Uint32Array[2]) -> 0 or -errno
static napi_value p_sockname(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!args(env, info, 3, a)) return NULL;
  bool peer = false;
  napi_get_value_bool(env, a[1], &peer);
  struct sockaddr_in s;
  socklen_t l = sizeof s;
  int fd = (int)arg_num(env, a[0]);
  int r = peer ? getpeername(fd, (struct sockaddr *)&s, &l) : getsockname(fd, (struct sockaddr *)&s, &l);
  if (r != 0) return num(env, -errno);
  uint32_t *out = NULL;
  size_t cnt = 0;
  napi_typedarray_type t;
  napi_value ab;
  size_t bo;
  if (napi_get_typedarray_info(env, a[2], &t, &cnt, (void **)&out, &ab, &bo) != napi_ok || t != napi_uint32_array || cnt < 2) return num(env, -EINVAL);
  out[0] = ntohl(s.sin_addr.s_addr);
  out[1] = ntohs(s.sin_port);
  return num(env, 0);
}

static napi_value p_close(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, 1, a)) return NULL;
  int fd = (int)arg_num(env, a[0]);
  watch_forget(fd);                     // libuv must stop polling an fd before it is closed
  return num(env, close(fd) == 0 ? 0 : -errno);
}

// setsockopt(fd, opt: 1 TCP_NODELAY | 2 SO_KEEPALIVE, on) -> 0 or -errno
static napi_value p_setsockopt(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!args(env, info, 3, a)) return NULL;
  int opt = (int)arg_num(env, a[1]);
  int on = arg_num(env, a[2]) != 0;
  int fd = (int)arg_num(env, a[0]);
  int r;
  if (opt == 1) r = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  else if (opt == 2) r = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
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

// Readiness of kernel sockets through libuv, so that an idle posix stack sleeps in Node's own
// event loop (epoll) instead of spinning. The JS side keeps, per socket, the events its
// pending operations wait for (readable: pops and accepts; writable: pushes and connects) and
// calls watch(fd, events) when they change; a ready fd calls the one process-wide waker with the
// fd, and the waker turns the stack that owns it. Handles are unreferenced: whether the process stays alive is the JS
// driver's decision (a listening server keeps it alive, an unref'd one does not).
#define NAPI_VERSION 8
#include "watch.h"
#include "napi_util.h"
#include <errno.h>
#include <stdlib.h>
#include <uv.h>

#define MAX_FD 65536

static uv_poll_t *watchers[MAX_FD];
static napi_env waker_env = NULL;
static napi_ref waker_fn = NULL;
static napi_async_context waker_ctx = NULL;
static int tearing_down = 0;   // the environment is being freed: no more calls into JS

static void on_ready(uv_poll_t *h, int status, int events) {
  (void)status; (void)events;
  if (waker_fn == NULL || tearing_down) return;
  napi_handle_scope scope;
  napi_open_handle_scope(waker_env, &scope);
  napi_value fn, recv, result, fd;
  napi_get_reference_value(waker_env, waker_fn, &fn);
  napi_create_int32(waker_env, (int32_t)(intptr_t)h->data, &fd);
  napi_get_global(waker_env, &recv);   // make_callback's receiver must be an object (undefined throws)
  // make_callback runs the microtasks the waker queues, as any libuv callback into JS does. An
  // exception the waker throws is Node's uncaught exception, as in any libuv callback.
  if (napi_make_callback(waker_env, waker_ctx, recv, fn, 1, &fd, &result) == napi_pending_exception) {
    napi_value e;
    napi_get_and_clear_last_exception(waker_env, &e);
    napi_fatal_exception(waker_env, e);
  }
  napi_close_handle_scope(waker_env, scope);
}

static void on_closed(uv_handle_t *h) { free(h); }

void watch_forget(int fd) {
  if (fd < 0 || fd >= MAX_FD || watchers[fd] == NULL) return;
  uv_poll_stop(watchers[fd]);
  uv_close((uv_handle_t *)watchers[fd], on_closed);
  watchers[fd] = NULL;
}

// setWaker(fn(fd) | null)
static napi_value w_set_waker(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, 1, a)) return NULL;
  if (waker_fn != NULL) { napi_delete_reference(env, waker_fn); waker_fn = NULL; }
  if (waker_ctx != NULL) { napi_async_destroy(env, waker_ctx); waker_ctx = NULL; }
  napi_valuetype t;
  napi_typeof(env, a[0], &t);
  if (t == napi_function) {
    napi_value name;
    napi_create_string_utf8(env, "demiwasm.readiness", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, NULL, name, &waker_ctx);
    napi_create_reference(env, a[0], 1, &waker_fn);
    waker_env = env;
  }
  return NULL;
}

// watch(fd, events: 0 | UV_READABLE (1) | UV_WRITABLE (2)) -> 0 or -errno
static napi_value w_watch(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, 2, a)) return NULL;
  int fd = (int)arg_num(env, a[0]);
  int events = (int)arg_num(env, a[1]) & (UV_READABLE | UV_WRITABLE);
  if (fd < 0 || fd >= MAX_FD) return num(env, -EBADF);
  if (events == 0) {
    if (watchers[fd] != NULL) uv_poll_stop(watchers[fd]);
    return num(env, 0);
  }
  if (watchers[fd] == NULL) {
    uv_loop_t *loop = NULL;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) return num(env, -ENOSYS);
    uv_poll_t *h = malloc(sizeof *h);
    if (h == NULL) return num(env, -ENOMEM);
    int r = uv_poll_init_socket(loop, h, fd);
    if (r != 0) { free(h); return num(env, r); }
    uv_unref((uv_handle_t *)h);
    h->data = (void *)(intptr_t)fd;
    watchers[fd] = h;
  }
  return num(env, uv_poll_start(watchers[fd], events, on_ready));
}

// When Node frees the environment (process exit) it runs the loop once more to close handles:
// a socket still watched then must not call into the environment being freed. Stop them all.
static void watch_teardown(void *arg) {
  (void)arg;
  tearing_down = 1;
  for (int fd = 0; fd < MAX_FD; fd++) watch_forget(fd);
}

void watch_init(napi_env env, napi_value exports) {
  napi_add_env_cleanup_hook(env, watch_teardown, NULL);
  napi_property_descriptor d[] = {
    { "setWaker", NULL, w_set_waker, NULL, NULL, NULL, napi_default, NULL },
    { "watch", NULL, w_watch, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
}

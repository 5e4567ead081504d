// Readiness of kernel sockets through libuv (the posix backend's sleep): one uv_poll_t per
// watched fd on Node's own event loop, each of which calls one JS waker when its fd is ready.
#ifndef DEMIWASM_WATCH_H
#define DEMIWASM_WATCH_H
#include <node_api.h>

/** Adds setWaker(fn) and watch(fd, events) to the exports. */
void watch_init(napi_env env, napi_value exports);
/** Stops and releases fd's watcher, if any; call before closing fd. */
void watch_forget(int fd);
#endif

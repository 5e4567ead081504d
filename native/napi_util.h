// Small N-API helpers shared by the bridge's parts: numbers in and out, argument counts.
#ifndef DEMIWASM_NAPI_UTIL_H
#define DEMIWASM_NAPI_UTIL_H
#include <node_api.h>
#include <stddef.h>

static inline double arg_num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

static inline napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

/** Fetches exactly n arguments; throws a TypeError and returns 0 when fewer were passed. */
static inline int args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, NULL, "demiwasm native: missing arguments");
    return 0;
  }
  return 1;
}

#endif

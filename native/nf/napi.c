// The C baselines of the sample NFs as N-API functions, called per burst by the same harness
// as the Wasm NFs (host/bench/nf.ts): open(name, params, extra), process(nf, area, count).
#define NAPI_VERSION 8
#include <node_api.h>
#include "../napi_util.h"
#include "samples.h"
#include <stdlib.h>
#include <string.h>

static double *f64_of(napi_env env, napi_value v, size_t *n) {
  napi_typedarray_type t; void *d; size_t len;
  if (napi_get_typedarray_info(env, v, &t, &len, &d, NULL, NULL) != napi_ok || t != napi_float64_array) { *n = 0; return NULL; }
  *n = len;
  return d;
}

static void finalize(napi_env env, void *data, void *hint) {
  nf_native *nf = data;
  map_free(&nf->maps[0]); map_free(&nf->maps[1]);
  free(nf);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv)) return NULL;
  char name[32]; size_t nl;
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &nl);
  size_t np, ne;
  double *p = f64_of(env, argv[1], &np), *e = f64_of(env, argv[2], &ne);
  nf_native *nf = calloc(1, sizeof *nf);
  if (!nf) { napi_throw_error(env, NULL, "demiwasm: out of memory"); return NULL; }
  if (nf_native_init(nf, name, p, np, e, ne) != 0) {
    map_free(&nf->maps[0]); map_free(&nf->maps[1]); free(nf);
    napi_throw_error(env, NULL, "demiwasm: no such native NF, or bad parameters");
    return NULL;
  }
  napi_value ext;
  napi_create_external(env, nf, finalize, NULL, &ext);
  return ext;
}

static napi_value js_process(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv)) return NULL;
  nf_native *nf; napi_typedarray_type t; void *d; size_t len;
  if (napi_get_value_external(env, argv[0], (void **)&nf) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &t, &len, &d, NULL, NULL) != napi_ok || t != napi_uint8_array ||
      len < sizeof(nf_area)) {
    napi_throw_type_error(env, NULL, "demiwasm: process(nf, area, count)");
    return NULL;
  }
  uint32_t count = (uint32_t)arg_num(env, argv[2]);
  nf->process(nf, d, count > NF_MAX_BURST ? NF_MAX_BURST : count);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
    { "open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL },
    { "process", NULL, js_process, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

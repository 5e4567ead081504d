// The C baselines (./samples.c) as one sandboxed NF, compiled by clang for wasm32
// (build/nf/baseline.wasm; scripts/build-nf.mjs). `bench nf` runs it beside each sample's own
// Wasm, so the report separates the two parts of Wasm's distance from native: the engine's (the
// very C of the baseline, run by V8) and our toolchain's (the sample's Wasm against that).
// Config: `sample` (flowmon, …), and `params` and `extra`, the numbers the bench gives the
// native baseline (host/bench/nf.ts), comma-separated.
#include <string.h>
#include "samples.h"

// The one host function it needs (nf/c/demiwasm_nf.h declares it for NFs; its name for the area
// collides with the baselines' type of the same name).
__attribute__((import_module("nf"), import_name("config"))) int32_t nf_config(const char *key, uint32_t key_len, char *out, uint32_t cap);

static nf_area burst __attribute__((aligned(16)));
static nf_native nf;

__attribute__((export_name("nf_area"))) uintptr_t area(void) { return (uintptr_t)&burst; }

/** The numbers of config key `key` into out (at most cap); how many, or -1 when it is unset. */
static int numbers(const char *key, double *out, int cap) {
  static char text[1024];
  int32_t n = nf_config(key, (uint32_t)strlen(key), text, sizeof text - 1);
  if (n < 0 || n >= (int32_t)sizeof text) return n < 0 ? -1 : 0;
  text[n] = 0;
  // Integers only (what the bench passes), so no strtod: it would pull in stdio.
  int k = 0;
  for (const char *s = text; *s && k < cap; ) {
    int neg = *s == '-';
    double v = 0;
    for (s += neg; *s >= '0' && *s <= '9'; s++) v = v * 10 + (*s - '0');
    out[k++] = neg ? -v : v;
    if (*s) s++;
  }
  return k;
}

__attribute__((export_name("nf_init"))) int32_t init(void) {
  char sample[32];
  int32_t n = nf_config("sample", 6, sample, sizeof sample - 1);
  if (n <= 0 || n >= (int32_t)sizeof sample) return 1;
  sample[n] = 0;
  double params[8], extra[64];
  int np = numbers("params", params, 8), ne = numbers("extra", extra, 64);
  return nf_native_init(&nf, sample, params, np < 0 ? 0 : (size_t)np, extra, ne < 0 ? 0 : (size_t)ne) == 0 ? 0 : 2;
}

__attribute__((export_name("nf_process"))) void process(uint32_t count) { nf.process(&nf, &burst, count > NF_MAX_BURST ? NF_MAX_BURST : count); }

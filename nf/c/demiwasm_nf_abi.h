/* The NF burst area and verdicts: the part of the demiwasm NF ABI that is plain data, shared by
 * NFs built for wasm32 (demiwasm_nf.h) and by the native C baselines (native/nf). */
#ifndef DEMIWASM_NF_ABI_H
#define DEMIWASM_NF_ABI_H
#include <stdint.h>

#define NF_MAX_BURST 32
#define NF_SLOT 2048
enum { NF_PASS = 0, NF_DROP = 1, NF_TX = 2, NF_REDIRECT = 3 };
enum { NF_DIR_IN = 0, NF_DIR_OUT = 1 };
#define NF_SHARED (1u << 16)
#define NF_ABSENT ((int64_t)-1)

typedef struct { uint32_t off, len, verdict, arg; } nf_desc;
typedef struct {
  uint32_t count, port, dir, reserved;
  double now_ns;
  uint64_t pad;
  nf_desc desc[NF_MAX_BURST];
  uint8_t data[NF_MAX_BURST][NF_SLOT];
} nf_area_t;
#endif

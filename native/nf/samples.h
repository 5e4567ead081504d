// The C baselines of the sample NFs (native/nf/samples.c) and the state they keep.
#ifndef DEMIWASM_NF_SAMPLES_H
#define DEMIWASM_NF_SAMPLES_H
#include <stddef.h>
#include <stdint.h>
#include "maps.h"
#include "../../nf/c/demiwasm_nf_abi.h"     // the burst area, as the Wasm NFs see it

#define MAGLEV_M 4099
typedef nf_area_t nf_area;

typedef struct nf_native {
  void (*process)(struct nf_native *, nf_area *, uint32_t);
  map_t maps[2];
  uint64_t p[8];                 // the NF's numeric parameters
  uint64_t counters[32];
  uint8_t any_port[3]; uint8_t port_bits[3][8192];   // the firewall's ACL, as the Wasm sample compiles it
  uint32_t cursor;
  uint32_t backends, backend[32]; uint64_t mac[32];
  uint8_t table[MAGLEV_M];
  uint8_t blocked[65536 / 8]; uint16_t rewrite_to[65536];   // portblock's ports
} nf_native;

/** Sets up sample `name` (its function, maps and tables) from the numeric parameters and extra
 *  list host/bench/nf.ts gives it; 0, or -1 for an unknown name, bad parameters or no memory. */
int nf_native_init(nf_native *, const char *name, const double *params, size_t np, const double *extra, size_t ne);
void flowmon(nf_native *, nf_area *, uint32_t);
void ratelimit(nf_native *, nf_area *, uint32_t);
void firewall(nf_native *, nf_area *, uint32_t);
void nat(nf_native *, nf_area *, uint32_t);
void maglev(nf_native *, nf_area *, uint32_t);
void maglev_populate(nf_native *);
void portblock(nf_native *, nf_area *, uint32_t);
#endif

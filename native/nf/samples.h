// The C baselines of the sample NFs (native/nf/samples.c) and the state they keep.
#ifndef DEMIWASM_NF_SAMPLES_H
#define DEMIWASM_NF_SAMPLES_H
#include <stdint.h>
#include "maps.h"

#define NF_MAX_BURST 32
#define NF_SLOT 2048
#define MAGLEV_M 4099

typedef struct { uint32_t off, len, verdict, arg; } nf_desc;
typedef struct {
  uint32_t count, port, dir, reserved;
  double now_ns;
  uint64_t pad;
  nf_desc desc[NF_MAX_BURST];
} nf_area;   // followed by the packet slots

typedef struct nf_native {
  void (*process)(struct nf_native *, nf_area *, uint32_t);
  map_t maps[2];
  uint64_t p[8];                 // the NF's numeric parameters
  uint64_t counters[32];
  uint8_t any_port[3]; uint8_t port_bits[3][8192];   // the firewall's ACL, as the Wasm sample compiles it
  uint32_t cursor;
  uint32_t backends, backend[32]; uint64_t mac[32];
  uint8_t table[MAGLEV_M];
} nf_native;

void flowmon(nf_native *, nf_area *, uint32_t);
void ratelimit(nf_native *, nf_area *, uint32_t);
void firewall(nf_native *, nf_area *, uint32_t);
void nat(nf_native *, nf_area *, uint32_t);
void maglev(nf_native *, nf_area *, uint32_t);
void maglev_populate(nf_native *);
#endif

// The DPDK half of the native bridge as N-API functions. EAL starts once per process, from the
// config's arguments, and gives the calling thread its CPU affinity back. Every failure is one
// thrown line; the process stays usable.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include "../napi_util.h"
#include "dpdk.h"
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_errno.h>

int ring_port(const char *name, const char *rx, const char *tx);
uint32_t inject(wport_t *w, uint32_t count, uint32_t len);
int inject_bad(const char *ring, const char *kind);
uint64_t native_reflect(wport_t *w, uint64_t bursts, double *ns);

static int eal_state;            // 0 not started, 1 up, -1 failed (EAL cannot be retried)
// DPDK's control path (probing, configuring, pools: and the process-wide mempool-ops choice
// wasm_pool_create sets and restores) is not thread-safe; worker threads open and close ports at
// the same time, so every control call holds this. Bursts do not.
static pthread_mutex_t control = PTHREAD_MUTEX_INITIALIZER;
static char eal_error[512];

static napi_value throw_line(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t n = 0;
  return napi_get_value_string_utf8(env, v, buf, cap, &n) == napi_ok && n < cap - 1;
}

/** The most telling line EAL printed: an option it did not know, else its last "EAL:" complaint. */
static const char *eal_reason(char *out, int err) {
  static char line[256];
  const char *pick = NULL;
  for (char *l = strtok(out, "\n"); l != NULL; l = strtok(NULL, "\n")) {
    if (strstr(l, "unrecognized option") || strstr(l, "invalid option") || strstr(l, "requires an argument")) { pick = l; break; }
    if (strncmp(l, "EAL: ", 5) == 0 && !strstr(l, "Detected")) pick = l;
  }
  if (pick == NULL) return rte_strerror(err);
  const char *colon = strncmp(pick, "EAL: ", 5) == 0 ? pick + 5 : strchr(pick, ':');
  if (colon != pick + 5 && colon != NULL) colon += 2;   // "prog: unrecognized option" -> "unrecognized option"
  snprintf(line, sizeof line, "%s", colon ? colon : pick);
  return line;
}

static napi_value js_init(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  if (eal_state == 1) return NULL;
  if (eal_state == -1) return throw_line(env, eal_error);
  uint32_t argc = 0;
  napi_get_array_length(env, argv[0], &argc);
  if (argc > 62) return throw_line(env, "demiwasm: dpdk.eal_args has more than 62 arguments");
  char *eal_argv[64], store[64][256];
  eal_argv[0] = "demiwasm";
  for (uint32_t i = 0; i < argc; i++) {
    napi_value s;
    napi_get_element(env, argv[0], i, &s);
    if (!get_string(env, s, store[i], sizeof store[i])) return throw_line(env, "demiwasm: dpdk.eal_args: each argument must be a string under 255 bytes");
    eal_argv[i + 1] = store[i];
  }
  eal_argv[argc + 1] = NULL;
  cpu_set_t mask;
  int have_mask = sched_getaffinity(0, sizeof mask, &mask) == 0;
  // EAL prints its usage to stdout and its complaints to stderr: catch both, pass them on when
  // it starts, and make the one line of a failure out of them.
  char out[8192];
  size_t out_len = 0;
  FILE *cap = tmpfile();
  int saved_out = dup(1), saved_err = dup(2);
  fflush(stdout); fflush(stderr);
  if (cap) { dup2(fileno(cap), 1); dup2(fileno(cap), 2); }
  pthread_mutex_lock(&control);
  int rc = rte_eal_init((int)argc + 1, eal_argv);
  pthread_mutex_unlock(&control);
  int eal_errno = rte_errno;
  fflush(stdout); fflush(stderr);
  if (cap) {
    dup2(saved_out, 1); dup2(saved_err, 2);
    rewind(cap);
    out_len = fread(out, 1, sizeof out - 1, cap);
    fclose(cap);
  }
  close(saved_out); close(saved_err);
  out[out_len] = 0;
  if (have_mask) sched_setaffinity(0, sizeof mask, &mask);   // EAL pinned us to its main lcore
  if (rc < 0) {
    eal_state = -1;
    snprintf(eal_error, sizeof eal_error, "demiwasm: DPDK EAL init failed (dpdk.eal_args): %s; EAL cannot start again in this process",
             eal_reason(out, eal_errno));
    return throw_line(env, eal_error);
  }
  if (out_len > 0) fwrite(out, 1, out_len, stderr);
  eal_state = 1;
  return NULL;
}

static wport_t *get_port(napi_env env, napi_value v) {
  wport_t *w = NULL;
  if (napi_get_value_external(env, v, (void **)&w) != napi_ok || w == NULL || w->mp == NULL) {
    napi_throw_error(env, NULL, "demiwasm: dpdk port is closed");
    return NULL;
  }
  return w;
}

static void port_free(wport_t *w) {
  free(w->by_slot); free(w->state); free(w->idle); free(w->comp_over); free(w->held);
  free(w);
}

static void port_finalize(napi_env env, void *data, void *hint) {
  wport_t *w = data;
  pthread_mutex_lock(&control);
  if (w->mp) port_close(w);
  pthread_mutex_unlock(&control);
  if (w->mem_ref) napi_delete_reference(env, w->mem_ref);
  port_free(w);
}

/** open(device, memory, slotsOff, slots, regionOff, regionLen, rings[4], flags, queue, rxDesc, txDesc, burst) */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!args(env, info, 12, argv)) return NULL;
  if (eal_state != 1) return throw_line(env, "demiwasm: dpdk port opened before EAL init");
  char device[256];
  if (!get_string(env, argv[0], device, sizeof device)) return throw_line(env, "demiwasm: dpdk.device must be a string under 255 bytes");
  napi_typedarray_type t; size_t len; void *data; napi_value ab; size_t boff;
  if (napi_get_typedarray_info(env, argv[1], &t, &len, &data, &ab, &boff) != napi_ok || t != napi_uint8_array)
    return throw_line(env, "demiwasm: dpdk open needs the datapath memory as a Uint8Array");
  uint32_t rings[4];
  napi_typedarray_type rt; size_t rl; void *rd;
  if (napi_get_typedarray_info(env, argv[6], &rt, &rl, &rd, NULL, NULL) != napi_ok || rt != napi_uint32_array || rl < 4)
    return throw_line(env, "demiwasm: dpdk open needs the four ring offsets as a Uint32Array");
  memcpy(rings, rd, sizeof rings);
  wport_t *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_line(env, "demiwasm: out of memory");
  w->mem = data; w->mem_len = len;
  w->slots_off = (uint32_t)arg_num(env, argv[2]);
  w->slots = (uint32_t)arg_num(env, argv[3]);
  w->region_off = (uint32_t)arg_num(env, argv[4]);
  w->region_len = (uint32_t)arg_num(env, argv[5]);
  uint32_t flags = (uint32_t)arg_num(env, argv[7]);
  w->zero_copy = flags & 1; w->raw = (flags >> 1) & 1;
  w->queue = (uint16_t)arg_num(env, argv[8]);
  uint16_t rx_desc = (uint16_t)arg_num(env, argv[9]), tx_desc = (uint16_t)arg_num(env, argv[10]);
  uint32_t burst = (uint32_t)arg_num(env, argv[11]);
  w->burst = (uint16_t)(burst == 0 || burst > 64 ? 32 : burst);
  for (int i = 0; i < 4; i++) {
    if ((size_t)rings[i] + 16 > len) { port_free(w); return throw_line(env, "demiwasm: dpdk ring offset outside the memory"); }
  }
  w->fill = (wring_t *)(w->mem + rings[0]); w->rx = (wring_t *)(w->mem + rings[1]);
  w->tx = (wring_t *)(w->mem + rings[2]); w->comp = (wring_t *)(w->mem + rings[3]);
  if ((size_t)w->slots_off + (size_t)w->slots * SLOT_SIZE > len || (w->raw && (w->slots & (w->slots - 1)))) {
    port_free(w); return throw_line(env, "demiwasm: dpdk slot region outside the memory");
  }
  w->by_slot = calloc(w->slots, sizeof *w->by_slot);
  w->state = calloc(w->slots, 1);
  w->idle = calloc(w->slots, sizeof *w->idle);
  w->comp_over = calloc(w->slots, sizeof *w->comp_over);
  w->held = calloc(w->rx->mask + 1, sizeof *w->held);
  if (!w->by_slot || !w->state || !w->idle || !w->comp_over || !w->held) { port_free(w); return throw_line(env, "demiwasm: out of memory"); }
  pthread_mutex_lock(&control);
  const char *err = port_open(w, device, rx_desc, tx_desc);
  char msg[512];
  if (err) {
    snprintf(msg, sizeof msg, "%s", err);
    port_close(w);
  }
  pthread_mutex_unlock(&control);
  if (err) {
    port_free(w);
    return throw_line(env, msg);
  }
  napi_value ext;
  napi_create_external(env, w, port_finalize, NULL, &ext);
  // Keep the memory alive as long as DPDK may write into it.
  napi_create_reference(env, argv[1], 1, &w->mem_ref);
  return ext;
}

#define PORT_ARG(n) napi_value argv[n]; if (!args(env, info, n, argv)) return NULL; \
  wport_t *w = get_port(env, argv[0]); if (!w) return NULL;

static napi_value js_burst(napi_env env, napi_callback_info info) { PORT_ARG(1); uint32_t t = port_tx(w); return num(env, t + port_rx(w)); }
static napi_value js_raw_burst(napi_env env, napi_callback_info info) { PORT_ARG(1); uint32_t t = raw_tx(w); return num(env, t + raw_rx(w)); }

/** setEgress(port, ports: handle[]): the ports (of the link's group, in its order) a tx entry
 *  may name for a REDIRECT; their queues are sent to in this port's burst. */
static napi_value js_set_egress(napi_env env, napi_callback_info info) {
  PORT_ARG(2);
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[1], &n) != napi_ok || n > DW_EGRESS_PORTS) { napi_throw_range_error(env, NULL, "demiwasm: setEgress takes at most 8 ports"); return NULL; }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v; napi_get_element(env, argv[1], i, &v);
    wport_t *o = get_port(env, v);
    if (!o) return NULL;
    w->egress[i].port = o->port;
    w->egress[i].queue = o->queue;
  }
  w->n_egress = (uint8_t)n;
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  PORT_ARG(1);
  pthread_mutex_lock(&control);
  port_close(w);
  pthread_mutex_unlock(&control);
  return NULL;
}

/** stats(port, Float64Array): ours then the ethdev's (ipackets opackets imissed ierrors oerrors rx_nombuf). */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  PORT_ARG(2);
  napi_typedarray_type t; size_t n; void *data;
  if (napi_get_typedarray_info(env, argv[1], &t, &n, &data, NULL, NULL) != napi_ok || t != napi_float64_array) return NULL;
  double *o = data;
  const uint64_t *s = (const uint64_t *)&w->st;
  size_t k = sizeof w->st / sizeof(uint64_t), i = 0;
  for (; i < k && i < n; i++) o[i] = (double)s[i];
  struct rte_eth_stats es;
  memset(&es, 0, sizeof es);
  rte_eth_stats_get(w->port, &es);
  double e[] = { es.ipackets, es.opackets, es.imissed, es.ierrors, es.oerrors, es.rx_nombuf,
                 w->idle_n, w->comp_over_n };
  for (size_t j = 0; j < sizeof e / sizeof e[0] && i < n; j++, i++) o[i] = e[j];
  return num(env, (double)i);
}

static napi_value js_mac(napi_env env, napi_callback_info info) {
  PORT_ARG(1);
  struct rte_ether_addr a;
  rte_eth_macaddr_get(w->port, &a);
  char s[18];
  snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", a.addr_bytes[0], a.addr_bytes[1], a.addr_bytes[2], a.addr_bytes[3], a.addr_bytes[4], a.addr_bytes[5]);
  napi_value r;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r);
  return r;
}

/** Leaves the control lock; a control call's error (which may live in a shared buffer) is copied
 *  first and thrown as the one line. */
static napi_value unlock_and_answer(napi_env env, const char *err) {
  char msg[512];
  if (err) snprintf(msg, sizeof msg, "%s", err);
  pthread_mutex_unlock(&control);
  return err ? throw_line(env, msg) : NULL;
}

/** configure(device, queues): one port, several datapaths (one queue each), started by start(). */
static napi_value js_configure(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv)) return NULL;
  if (eal_state != 1) return throw_line(env, "demiwasm: dpdk port configured before EAL init");
  char device[256];
  if (!get_string(env, argv[0], device, sizeof device)) return throw_line(env, "demiwasm: dpdk.device must be a string under 255 bytes");
  pthread_mutex_lock(&control);
  return unlock_and_answer(env, port_configure(device, (uint16_t)arg_num(env, argv[1])));
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  char device[256];
  if (!get_string(env, argv[0], device, sizeof device)) return throw_line(env, "demiwasm: dpdk.device must be a string under 255 bytes");
  pthread_mutex_lock(&control);
  return unlock_and_answer(env, port_start_shared(device));
}

static napi_value js_ring_port(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv)) return NULL;
  if (eal_state != 1) return throw_line(env, "demiwasm: dpdk ring port made before EAL init");
  char name[64], rx[32], tx[32];
  if (!get_string(env, argv[0], name, sizeof name) || !get_string(env, argv[1], rx, sizeof rx) || !get_string(env, argv[2], tx, sizeof tx))
    return throw_line(env, "demiwasm: dpdk ring port names must be short strings");
  pthread_mutex_lock(&control);
  int rc = ring_port(name, rx, tx);
  pthread_mutex_unlock(&control);
  if (rc < 0) {
    char msg[256];
    snprintf(msg, sizeof msg, "demiwasm: dpdk ring port '%s' failed: %s", name, rte_strerror(-rc));
    return throw_line(env, msg);
  }
  return NULL;
}

static napi_value js_inject(napi_env env, napi_callback_info info) {
  PORT_ARG(3);
  return num(env, inject(w, (uint32_t)arg_num(env, argv[1]), (uint32_t)arg_num(env, argv[2])));
}

static napi_value js_inject_bad(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv)) return NULL;
  char ring[32], kind[32];
  if (!get_string(env, argv[0], ring, sizeof ring) || !get_string(env, argv[1], kind, sizeof kind)) return NULL;
  return num(env, inject_bad(ring, kind));
}

/** afXdpProbe(): 0 when this kernel lets us open an AF_XDP socket, else the errno that refused it
 *  (EAFNOSUPPORT: no CONFIG_XDP_SOCKETS; EPERM: no CAP_NET_RAW or a sandbox). */
static napi_value js_af_xdp_probe(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_XDP, SOCK_RAW, 0);
  if (fd < 0) return num(env, errno);
  close(fd);
  return num(env, 0);
}

static napi_value js_native_reflect(napi_env env, napi_callback_info info) {
  PORT_ARG(2);
  double ns = 0;
  uint64_t pkts = native_reflect(w, (uint64_t)arg_num(env, argv[1]), &ns);
  napi_value r;
  napi_create_array_with_length(env, 2, &r);
  napi_set_element(env, r, 0, num(env, (double)pkts));
  napi_set_element(env, r, 1, num(env, ns));
  return r;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
    { "init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL },
    { "open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL },
    { "burst", NULL, js_burst, NULL, NULL, NULL, napi_default, NULL },
    { "rawBurst", NULL, js_raw_burst, NULL, NULL, NULL, napi_default, NULL },
    { "setEgress", NULL, js_set_egress, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
    { "stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL },
    { "mac", NULL, js_mac, NULL, NULL, NULL, napi_default, NULL },
    { "configure", NULL, js_configure, NULL, NULL, NULL, napi_default, NULL },
    { "start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL },
    { "ringPort", NULL, js_ring_port, NULL, NULL, NULL, napi_default, NULL },
    { "inject", NULL, js_inject, NULL, NULL, NULL, napi_default, NULL },
    { "injectBad", NULL, js_inject_bad, NULL, NULL, NULL, napi_default, NULL },
    { "nativeReflect", NULL, js_native_reflect, NULL, NULL, NULL, napi_default, NULL },
    { "afXdpProbe", NULL, js_af_xdp_probe, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

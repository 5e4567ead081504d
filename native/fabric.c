// The libfabric half of the native bridge (raw N-API). One RDM endpoint per handle, the Wasm
// buffer pool registered once with fi_mr_reg, tagged messages for PDPIX queues and one-sided
// RMA. Progress is manual: the host calls poll(), which reads the completion queue into an
// Int32Array. Offsets are Wasm memory addresses; each is checked against the registered region.
#define NAPI_VERSION 8
#include <node_api.h>
#include "napi_util.h"
#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_tagged.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_errno.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAB_VERSION FI_VERSION(1, 17)
#define MAX_CONTEXTS 65536

typedef struct {
  struct fi_info *info;
  struct fid_fabric *fabric;
  struct fid_domain *domain;
  struct fid_ep *ep;
  struct fid_av *av;
  struct fid_cq *cq;
  struct fid_mr *mr;
  void *desc;
  uint8_t *mem;            // start of the Wasm memory
  size_t mem_len;
  size_t region_off;       // the registered pool region, as offsets into the memory
  size_t region_len;
  uint64_t key;
  struct fi_context ctx[MAX_CONTEXTS];  // one per operation id, as FI_CONTEXT mode asks
  char name[256];
  size_t name_len;
  int closed;
} fab_t;

#define CHECK_NAPI(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "demiwasm native: N-API call failed: " #call); return NULL; } } while (0)

static napi_value throw_fi(napi_env env, const char *what, int rc) {
  char msg[256];
  snprintf(msg, sizeof msg, "demiwasm: libfabric %s failed: %s (%d)", what, fi_strerror(-rc), rc);
  napi_throw_error(env, NULL, msg);
  return NULL;
}


static fab_t *get_fab(napi_env env, napi_value v) {
  fab_t *f = NULL;
  if (napi_get_value_external(env, v, (void **)&f) != napi_ok || f == NULL || f->closed) {
    napi_throw_error(env, NULL, "demiwasm: fabric handle is closed");
    return NULL;
  }
  return f;
}


static char *get_str(napi_env env, napi_value v, char *buf, size_t len) {
  size_t n = 0;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) return NULL;
  napi_get_value_string_utf8(env, v, buf, len, &n);
  return buf;
}

static void fab_free(fab_t *f) {
  if (f->mr) fi_close(&f->mr->fid);
  if (f->ep) fi_close(&f->ep->fid);
  if (f->cq) fi_close(&f->cq->fid);
  if (f->av) fi_close(&f->av->fid);
  if (f->domain) fi_close(&f->domain->fid);
  if (f->fabric) fi_close(&f->fabric->fid);
  if (f->info) fi_freeinfo(f->info);
  f->mr = NULL; f->ep = NULL; f->cq = NULL; f->av = NULL; f->domain = NULL; f->fabric = NULL; f->info = NULL;
  f->closed = 1;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  fab_t *f = data;
  if (!f->closed) fab_free(f);
  free(f);
}

static struct fi_info *make_hints(const char *prov) {
  struct fi_info *h = fi_allocinfo();
  if (!h) return NULL;
  h->ep_attr->type = FI_EP_RDM;
  h->caps = FI_MSG | FI_TAGGED | FI_RMA | FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE | FI_SEND | FI_RECV;
  h->mode = FI_CONTEXT;
  h->domain_attr->mr_mode = 0;          // with FI_VERSION(1,17): remote addresses are offsets
  h->domain_attr->threading = FI_THREAD_DOMAIN;
  h->domain_attr->control_progress = FI_PROGRESS_MANUAL;
  h->domain_attr->data_progress = FI_PROGRESS_MANUAL;
  h->tx_attr->op_flags = FI_DELIVERY_COMPLETE;
  if (prov && *prov) h->fabric_attr->prov_name = strdup(prov);
  return h;
}

// open(provider, node, service, memory: Uint8Array, regionOff, regionLen, cqSize) -> external
static napi_value fab_open(napi_env env, napi_callback_info cbi) {
  napi_value argv[7];
  if (!args(env, cbi, 7, argv)) return NULL;
  char prov[128] = "", node[128] = "", service[32] = "";
  get_str(env, argv[0], prov, sizeof prov);
  if (!get_str(env, argv[1], node, sizeof node) || !get_str(env, argv[2], service, sizeof service)) {
    napi_throw_type_error(env, NULL, "demiwasm: fabric open needs a node and a service");
    return NULL;
  }
  napi_typedarray_type tt;
  size_t length = 0, byte_off = 0;
  void *data = NULL;
  napi_value ab;
  CHECK_NAPI(napi_get_typedarray_info(env, argv[3], &tt, &length, &data, &ab, &byte_off));
  size_t roff = (size_t)arg_num(env, argv[4]);
  size_t rlen = (size_t)arg_num(env, argv[5]);
  size_t cq_size = (size_t)arg_num(env, argv[6]);
  if (tt != napi_uint8_array || roff + rlen > length || rlen == 0) {
    napi_throw_range_error(env, NULL, "demiwasm: fabric region lies outside the memory");
    return NULL;
  }
  fab_t *f = calloc(1, sizeof *f);
  if (!f) { napi_throw_error(env, NULL, "demiwasm: out of memory"); return NULL; }
  f->mem = data;
  f->mem_len = length;
  f->region_off = roff;
  f->region_len = rlen;
  struct fi_info *hints = make_hints(prov);
  int rc = fi_getinfo(FAB_VERSION, node, service, FI_SOURCE, hints, &f->info);
  fi_freeinfo(hints);
  if (rc) { free(f); return throw_fi(env, "fi_getinfo", rc); }
  struct fi_av_attr av_attr = { .type = FI_AV_TABLE };
  struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_TAGGED, .size = cq_size, .wait_obj = FI_WAIT_NONE };
  const char *step = "fi_fabric";
  if ((rc = fi_fabric(f->info->fabric_attr, &f->fabric, NULL))) goto fail;
  step = "fi_domain";
  if ((rc = fi_domain(f->fabric, f->info, &f->domain, NULL))) goto fail;
  step = "fi_av_open";
  if ((rc = fi_av_open(f->domain, &av_attr, &f->av, NULL))) goto fail;
  step = "fi_cq_open";
  if ((rc = fi_cq_open(f->domain, &cq_attr, &f->cq, NULL))) goto fail;
  step = "fi_endpoint";
  if ((rc = fi_endpoint(f->domain, f->info, &f->ep, NULL))) goto fail;
  step = "fi_ep_bind(av)";
  if ((rc = fi_ep_bind(f->ep, &f->av->fid, 0))) goto fail;
  step = "fi_ep_bind(cq)";
  if ((rc = fi_ep_bind(f->ep, &f->cq->fid, FI_TRANSMIT | FI_RECV))) goto fail;
  step = "fi_enable";
  if ((rc = fi_enable(f->ep))) goto fail;
  step = "fi_mr_reg";
  if ((rc = fi_mr_reg(f->domain, f->mem + roff, rlen,
                      FI_SEND | FI_RECV | FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE,
                      0, 0, 0, &f->mr, NULL))) goto fail;
  f->desc = fi_mr_desc(f->mr);
  f->key = fi_mr_key(f->mr);
  f->name_len = sizeof f->name;
  step = "fi_getname";
  if ((rc = fi_getname(&f->ep->fid, f->name, &f->name_len))) goto fail;
  napi_value ext;
  CHECK_NAPI(napi_create_external(env, f, finalize, NULL, &ext));
  return ext;
fail:
  fab_free(f);
  free(f);
  return throw_fi(env, step, rc);
}

// info(h) -> { name: Buffer, key: number, provider: string, domain: string }
static napi_value fab_info(napi_env env, napi_callback_info cbi) {
  napi_value argv[1];
  if (!args(env, cbi, 1, argv)) return NULL;
  fab_t *f = get_fab(env, argv[0]);
  if (!f) return NULL;
  napi_value o, name, prov, dom;
  void *copy;
  CHECK_NAPI(napi_create_object(env, &o));
  CHECK_NAPI(napi_create_buffer_copy(env, f->name_len, f->name, &copy, &name));
  CHECK_NAPI(napi_create_string_utf8(env, f->info->fabric_attr->prov_name, NAPI_AUTO_LENGTH, &prov));
  CHECK_NAPI(napi_create_string_utf8(env, f->info->domain_attr->name, NAPI_AUTO_LENGTH, &dom));
  napi_set_named_property(env, o, "name", name);
  napi_set_named_property(env, o, "key", num(env, (double)f->key));
  napi_set_named_property(env, o, "provider", prov);
  napi_set_named_property(env, o, "domain", dom);
  return o;
}

// avInsert(h, name: Buffer) -> fi_addr
static napi_value fab_av_insert(napi_env env, napi_callback_info cbi) {
  napi_value argv[2];
  if (!args(env, cbi, 2, argv)) return NULL;
  fab_t *f = get_fab(env, argv[0]);
  if (!f) return NULL;
  void *data; size_t len;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || len == 0) {
    napi_throw_type_error(env, NULL, "demiwasm: avInsert needs an address buffer");
    return NULL;
  }
  fi_addr_t a = FI_ADDR_UNSPEC;
  int n = fi_av_insert(f->av, data, 1, &a, 0, NULL);
  if (n != 1) return throw_fi(env, "fi_av_insert", n < 0 ? n : -FI_EINVAL);
  return num(env, (double)a);
}

// resolve(provider, node, service) -> Buffer: the endpoint name of a listening peer
static napi_value fab_resolve(napi_env env, napi_callback_info cbi) {
  napi_value argv[3];
  if (!args(env, cbi, 3, argv)) return NULL;
  char prov[128] = "", node[128] = "", service[32] = "";
  get_str(env, argv[0], prov, sizeof prov);
  get_str(env, argv[1], node, sizeof node);
  get_str(env, argv[2], service, sizeof service);
  struct fi_info *hints = make_hints(prov), *info = NULL;
  int rc = fi_getinfo(FAB_VERSION, node, service, 0, hints, &info);
  fi_freeinfo(hints);
  if (rc) return throw_fi(env, "fi_getinfo(peer)", rc);
  napi_value buf;
  void *copy;
  napi_status st = napi_create_buffer_copy(env, info->dest_addrlen, info->dest_addr, &copy, &buf);
  fi_freeinfo(info);
  if (st != napi_ok) { napi_throw_error(env, NULL, "demiwasm: resolve failed"); return NULL; }
  return buf;
}

static int in_region(fab_t *f, double off, double len) {
  return off >= (double)f->region_off && len >= 0 && off + len <= (double)(f->region_off + f->region_len);
}

// send(h, fiAddr, tag, off, len, ctx) -> 0 or -errno
static napi_value fab_send(napi_env env, napi_callback_info cbi) {
  napi_value argv[6];
  if (!args(env, cbi, 6, argv)) return NULL;
  fab_t *f = get_fab(env, argv[0]);
  if (!f) return NULL;
  double addr = arg_num(env, argv[1]), tag = arg_num(env, argv[2]), off = arg_num(env, argv[3]), len = arg_num(env, argv[4]);
  int ctx = (int)arg_num(env, argv[5]);
  if (!in_region(f, off, len) || ctx < 0 || ctx >= MAX_CONTEXTS) return num(env, -EINVAL);
  ssize_t rc = fi_tsend(f->ep, f->mem + (size_t)off, (size_t)len, f->desc, (fi_addr_t)addr, (uint64_t)tag, &f->ctx[ctx]);
  return num(env, rc == -FI_EAGAIN ? -EAGAIN : (double)rc);
}

// recv(h, tag, off, len, ctx) -> 0 or -errno  (from any source, exact tag)
static napi_value fab_recv(napi_env env, napi_callback_info cbi) {
  napi_value argv[5];
  if (!args(env, cbi, 5, argv)) return NULL;
  fab_t *f = get_fab(env, argv[0]);
  if (!f) return NULL;
  double tag = arg_num(env, argv[1]), off = arg_num(env, argv[2]), len = arg_num(env, argv[3]);
  int ctx = (int)arg_num(env, argv[4]);
  if (!in_region(f, off, len) || ctx < 0 || ctx >= MAX_CONTEXTS) return num(env, -EINVAL);
  ssize_t rc = fi_trecv(f->ep, f->mem + (size_t)off, (size_t)len, f->desc, FI_ADDR_UNSPEC, (uint64_t)tag, 0, &f->ctx[ctx]);
  return num(env, rc == -FI_EAGAIN ? -EAGAIN : (double)rc);
}

// rma(h, write: bool, fiAddr, localOff, len, remoteOff, key, ctx) -> 0 or -errno
// Writes ask for delivery-complete: a plain fi_write to a bad remote address reports success here.
static napi_value fab_rma(napi_env env, napi_callback_info cbi) {
  napi_value argv[8];
  if (!args(env, cbi, 8, argv)) return NULL;
  fab_t *f = get_fab(env, argv[0]);
  if (!f) return NULL;
  bool write = false;
  napi_get_value_bool(env, argv[1], &write);
  double addr = arg_num(env, argv[2]), off = arg_num(env, argv[3]), len = arg_num(env, argv[4]);
  double roff = arg_num(env, argv[5]), key = arg_num(env, argv[6]);
  int ctx = (int)arg_num(env, argv[7]);
  if (!in_region(f, off, len) || ctx < 0 || ctx >= MAX_CONTEXTS || roff < 0) return num(env, -EINVAL);
  struct iovec iov = { .iov_base = f->mem + (size_t)off, .iov_len = (size_t)len };
  void *desc = f->desc;
  struct fi_rma_iov rma = { .addr = (uint64_t)roff, .len = (size_t)len, .key = (uint64_t)key };
  struct fi_msg_rma msg = { .msg_iov = &iov, .desc = &desc, .iov_count = 1, .addr = (fi_addr_t)addr,
                            .rma_iov = &rma, .rma_iov_count = 1, .context = &f->ctx[ctx], .data = 0 };
  ssize_t rc = write ? fi_writemsg(f->ep, &msg, FI_DELIVERY_COMPLETE | FI_COMPLETION)
                     : fi_readmsg(f->ep, &msg, FI_COMPLETION);
  return num(env, rc == -FI_EAGAIN ? -EAGAIN : (double)rc);
}

// poll(h, out: Int32Array, max) -> n; each completion is 4 ints: ctx, errno (0 ok), len, tag.
// For an error, the tag slot carries the provider's own error code instead (prov_errno).
static napi_value fab_poll(napi_env env, napi_callback_info cbi) {
  napi_value argv[3];
  if (!args(env, cbi, 3, argv)) return NULL;
  fab_t *f = get_fab(env, argv[0]);
  if (!f) return NULL;
  napi_typedarray_type tt;
  size_t length = 0, byte_off = 0;
  void *data = NULL;
  napi_value ab;
  CHECK_NAPI(napi_get_typedarray_info(env, argv[1], &tt, &length, &data, &ab, &byte_off));
  int max = (int)arg_num(env, argv[2]);
  if (tt != napi_int32_array || (size_t)max * 4 > length) { napi_throw_range_error(env, NULL, "demiwasm: poll buffer too small"); return NULL; }
  int32_t *out = data;
  struct fi_cq_tagged_entry e[32];
  int n = 0;
  while (n < max) {
    int want = max - n < 32 ? max - n : 32;
    ssize_t got = fi_cq_read(f->cq, e, want);
    if (got == -FI_EAGAIN) break;
    if (got == -FI_EAVAIL) {
      struct fi_cq_err_entry err = {0};
      if (fi_cq_readerr(f->cq, &err, 0) != 1) break;
      int32_t *o = out + 4 * n++;
      o[0] = err.op_context ? (int32_t)((struct fi_context *)err.op_context - f->ctx) : -1;
      o[1] = err.err ? err.err : EIO;
      o[2] = (int32_t)err.len;
      o[3] = err.prov_errno;
      continue;
    }
    if (got < 0) return throw_fi(env, "fi_cq_read", (int)got);
    for (ssize_t i = 0; i < got; i++) {
      int32_t *o = out + 4 * n++;
      o[0] = (int32_t)((struct fi_context *)e[i].op_context - f->ctx);
      o[1] = 0;
      o[2] = (int32_t)e[i].len;
      o[3] = (int32_t)e[i].tag;
    }
    if (got < want) break;
  }
  return num(env, n);
}

// cancel(h, ctx): cancels a posted receive; its completion arrives with ECANCELED.
static napi_value fab_cancel(napi_env env, napi_callback_info cbi) {
  napi_value argv[2];
  if (!args(env, cbi, 2, argv)) return NULL;
  fab_t *f = get_fab(env, argv[0]);
  if (!f) return NULL;
  int ctx = (int)arg_num(env, argv[1]);
  if (ctx < 0 || ctx >= MAX_CONTEXTS) return num(env, -EINVAL);
  return num(env, (double)fi_cancel(&f->ep->fid, &f->ctx[ctx]));
}

static napi_value fab_close(napi_env env, napi_callback_info cbi) {
  napi_value argv[1];
  if (!args(env, cbi, 1, argv)) return NULL;
  fab_t *f = get_fab(env, argv[0]);
  if (!f) return NULL;
  fab_free(f);
  return NULL;
}

napi_value fabric_init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    { "open", NULL, fab_open, NULL, NULL, NULL, napi_default, NULL },
    { "info", NULL, fab_info, NULL, NULL, NULL, napi_default, NULL },
    { "avInsert", NULL, fab_av_insert, NULL, NULL, NULL, napi_default, NULL },
    { "resolve", NULL, fab_resolve, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, fab_send, NULL, NULL, NULL, napi_default, NULL },
    { "recv", NULL, fab_recv, NULL, NULL, NULL, napi_default, NULL },
    { "rma", NULL, fab_rma, NULL, NULL, NULL, napi_default, NULL },
    { "poll", NULL, fab_poll, NULL, NULL, NULL, napi_default, NULL },
    { "cancel", NULL, fab_cancel, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, fab_close, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE_INIT() {
  return fabric_init(env, exports);
}

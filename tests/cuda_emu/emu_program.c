/* lathe_emu_check_program(s): kernel programs through codegen/cuda and the
 * emulator versus the reference interpreter (emu_program.h says what is
 * checked and how), one program or a batch sharing one host compile (one
 * program is a batch of one, compiled as generated). The "device" side mirrors what runtime/cuda does on a
 * GPU: one pointer table (views point at their root) and one param table
 * shared by every kernel, kernels launched in program order with the launch
 * table's sizes; only the memory is the emulator's guarded pages.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "codegen/cuda/cuda.h"
#include "support/half.h"
#include "tests/cuda_emu/emu_program.h"

#define MAX_SHARED_BYTES (48u * 1024u)

/* Element i of a dense buffer as a double (16-bit floats widened). */
static double elem(lathe_dtype_t t, const void *data, int64_t i) {
  const uint8_t *p = data;
  switch (t) {
  case LATHE_DTYPE_F32: return ((const float *)data)[i];
  case LATHE_DTYPE_F64: return ((const double *)data)[i];
  case LATHE_DTYPE_F16: return lathe_f16_to_f32(((const uint16_t *)data)[i]);
  case LATHE_DTYPE_BF16: return lathe_bf16_to_f32(((const uint16_t *)data)[i]);
  case LATHE_DTYPE_I8: return ((const int8_t *)data)[i];
  case LATHE_DTYPE_U8:
  case LATHE_DTYPE_BOOL: return p[i];
  case LATHE_DTYPE_I16: return ((const int16_t *)data)[i];
  case LATHE_DTYPE_U16: return ((const uint16_t *)data)[i];
  case LATHE_DTYPE_I32: return ((const int32_t *)data)[i];
  case LATHE_DTYPE_U32: return ((const uint32_t *)data)[i];
  case LATHE_DTYPE_I64: return (double)((const int64_t *)data)[i];
  case LATHE_DTYPE_U64: return (double)((const uint64_t *)data)[i];
  case LATHE_DTYPE_I4: {
    int v = (p[i / 2] >> (4 * (i & 1))) & 0xf;
    return v >= 8 ? v - 16 : v;
  }
  case LATHE_DTYPE_U4: return (p[i / 2] >> (4 * (i & 1))) & 0xf;
  default: return NAN;
  }
}

/* Exact comparison for 64-bit integers (doubles lose their low bits). */
static bool same_int64(lathe_dtype_t t, const void *a, const void *b, int64_t i) {
  if (t == LATHE_DTYPE_I64 || t == LATHE_DTYPE_U64)
    return ((const uint64_t *)a)[i] == ((const uint64_t *)b)[i];
  return true;
}

static bool close_enough(double got, double want, bool is_float, const lathe_emu_check_opts_t *o) {
  if (!is_float) return got == want;
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= o->abs_tol + o->rel_tol * fabs(want);
}

typedef struct device {
  uint32_t n;
  void **ptr;     /* per buffer id; views alias their root */
  uint64_t *bytes; /* roots only */
} device_t;

static void device_free(const lathe_kprogram_t *p, device_t *d) {
  for (uint32_t i = 0; i < d->n; ++i)
    if (p->buffers[i]->view_of < 0) lathe_emu_free(d->ptr[i]);
  free(d->ptr), free(d->bytes);
}

/* Every root in its own guarded allocation: inputs and weights copied in and
 * made read-only, the rest poisoned. */
static lathe_status_t device_alloc(const lathe_kprogram_t *p, const int64_t *params,
                                   const void *const *inputs, device_t *d) {
  d->n = p->num_buffers;
  d->ptr = calloc(d->n + 1, sizeof *d->ptr);
  d->bytes = calloc(d->n + 1, sizeof *d->bytes);
  if (!d->ptr || !d->bytes) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (uint32_t i = 0; i < d->n; ++i) {
    const lathe_kbuffer_t *b = p->buffers[i];
    if (b->view_of >= 0) continue;
    LATHE_RETURN_IF_ERROR(lathe_kbuffer_num_bytes(b, params, &d->bytes[i]));
    size_t align = lathe_dtype_bits(b->dtype) >= 8 ? lathe_dtype_bits(b->dtype) / 8 : 1;
    d->ptr[i] = lathe_emu_alloc(d->bytes[i], align, 0xff, b->name);
    if (!d->ptr[i]) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    const void *src = NULL;
    if (b->role == LATHE_KBUF_INPUT) src = inputs[b->index];
    if (b->role == LATHE_KBUF_CONST) {
      if (!b->weight || (!b->weight->data && d->bytes[i]) || b->weight->num_bytes < d->bytes[i])
        return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "weight buffer '%s' has no data",
                                 b->name);
      src = b->weight->data;
    }
    if (src) {
      if (d->bytes[i]) memcpy(d->ptr[i], src, d->bytes[i]);
      lathe_emu_protect(d->ptr[i]);
    }
  }
  for (uint32_t i = 0; i < d->n; ++i)
    if (p->buffers[i]->view_of >= 0) d->ptr[i] = d->ptr[p->buffers[i]->view_of];
  return NULL;
}

/* Outputs and temporaries back to poison between runs. */
static void device_repoison(const lathe_kprogram_t *p, device_t *d) {
  for (uint32_t i = 0; i < d->n; ++i) {
    const lathe_kbuffer_t *b = p->buffers[i];
    if (b->view_of < 0 && (b->role == LATHE_KBUF_OUTPUT || b->role == LATHE_KBUF_TEMP))
      memset(d->ptr[i], 0xff, d->bytes[i]);
  }
}

static lathe_status_t check_launches(const lathe_cuda_source_t *src) {
  for (uint32_t k = 0; k < src->num_kernels; ++k) {
    const lathe_cuda_launch_t *l = &src->launches[k];
    uint32_t threads = l->block[0] * l->block[1] * l->block[2];
    if (threads < 32 || threads > 256 || threads % 32)
      return lathe_status_make(LATHE_STATUS_INTERNAL, "kernel '%s': launch block of %u threads",
                               l->kernel, threads);
    if (l->shared_bytes > MAX_SHARED_BYTES)
      return lathe_status_make(LATHE_STATUS_INTERNAL,
                               "kernel '%s': %u bytes of static shared memory (limit %u)",
                               l->kernel, l->shared_bytes, MAX_SHARED_BYTES);
  }
  return NULL;
}

static lathe_status_t run_kernels(const lathe_cuda_source_t *src, lathe_emu_image_t *img,
                                  device_t *d, const int64_t *params, lathe_emu_order_t order,
                                  uint64_t seed, lathe_emu_stats_t *stats) {
  for (uint32_t k = 0; k < src->num_kernels; ++k) {
    const lathe_cuda_launch_t *l = &src->launches[k];
    lathe_emu_kernel_t fn;
    LATHE_RETURN_IF_ERROR(lathe_emu_image_kernel(img, l->symbol, &fn));
    uint32_t grid[3];
    lathe_cuda_launch_grid(l, params, grid);
    lathe_emu_launch_opts_t o = {.order = order, .seed = seed + k, .poison = 0xff, .name = l->kernel};
    lathe_emu_stats_t s = {0};
    LATHE_RETURN_IF_ERROR(lathe_emu_launch(img, fn, grid, l->block, d->ptr,
                                           (const long long *)params, &o, &s));
    stats->blocks += s.blocks, stats->barriers += s.barriers, stats->shuffles += s.shuffles;
  }
  return NULL;
}

static const char *order_name(lathe_emu_order_t o) {
  return o == LATHE_EMU_ORDER_FORWARD ? "forward" : o == LATHE_EMU_ORDER_REVERSE ? "reverse" : "random";
}

static lathe_status_t compare(const lathe_kprogram_t *p, const int64_t *params, void *const *want,
                              const device_t *d, const lathe_emu_check_opts_t *o,
                              lathe_emu_order_t order, double *worst) {
  for (uint32_t k = 0; k < p->num_outputs; ++k) {
    const lathe_kbuffer_t *b = p->buffers[p->outputs[k]];
    const void *got = d->ptr[p->outputs[k]];
    int64_t count;
    LATHE_RETURN_IF_ERROR(lathe_kbuffer_num_elements(b, params, &count));
    bool fl = lathe_dtype_is_float(b->dtype);
    for (int64_t e = 0; e < count; ++e) {
      double g = elem(b->dtype, got, e), w = elem(b->dtype, want[k], e);
      if (!close_enough(g, w, fl, o) || !same_int64(b->dtype, got, want[k], e))
        return lathe_status_make(LATHE_STATUS_INTERNAL,
                                 "program '%s' output %u ('%s') element %lld: emulated CUDA gives "
                                 "%.9g, the interpreter %.9g (%s order)",
                                 p->name, k, b->name, (long long)e, g, w, order_name(order));
      if (fl && isfinite(w) && fabs(g - w) > *worst) *worst = fabs(g - w);
    }
  }
  return NULL;
}

/* A case made ready to run: its params, the interpreter's outputs and its
 * CUDA C (kernel symbols "<symbol>_<kernel>"). */
typedef struct prepared {
  int64_t *params;
  void **want;
  lathe_cuda_source_t *src;
} prepared_t;

static void release(const lathe_kprogram_t *p, prepared_t *c) {
  for (uint32_t k = 0; c->want && k < p->num_outputs; ++k) free(c->want[k]);
  free(c->want), free(c->params);
  lathe_cuda_source_destroy(c->src);
  *c = (prepared_t){0};
}

static lathe_status_t prepare(const lathe_emu_case_t *c, const char *symbol, prepared_t *out) {
  const lathe_kprogram_t *p = c->program;
  out->params = calloc(p->num_params + 1, sizeof *out->params);
  out->want = calloc(p->num_outputs + 1, sizeof *out->want);
  if (!out->params || !out->want)
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  LATHE_RETURN_IF_ERROR(lathe_kprogram_bind_params(p, c->in_dims, out->params));
  for (uint32_t k = 0; k < p->num_outputs; ++k) {
    uint64_t bytes = 0;
    LATHE_RETURN_IF_ERROR(lathe_kbuffer_num_bytes(p->buffers[p->outputs[k]], out->params, &bytes));
    if (!(out->want[k] = calloc(bytes + 8, 1)))
      return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  lathe_codegen_options_t gen;
  lathe_codegen_options_init(&gen);
  gen.program_symbol = symbol;
  LATHE_RETURN_IF_ERROR(lathe_cuda_generate(p, &gen, &out->src));
  LATHE_RETURN_IF_ERROR(
      lathe_kprogram_run_reference(p, out->params, c->inputs, out->want, NULL, NULL));
  return check_launches(out->src);
}

/* Runs a prepared case on its image under each requested order. */
static lathe_status_t run_case(const lathe_emu_case_t *c, const prepared_t *pc,
                               lathe_emu_image_t *img, lathe_emu_check_report_t *r) {
  const lathe_kprogram_t *p = c->program;
  const lathe_emu_check_opts_t *o = &c->opts;
  r->num_kernels = pc->src->num_kernels, r->uses_wmma = pc->src->uses_wmma;
  device_t d = {0};
  lathe_status_t st = device_alloc(p, pc->params, c->inputs, &d);
  static const lathe_emu_order_t default_orders[] = {LATHE_EMU_ORDER_REVERSE,
                                                     LATHE_EMU_ORDER_RANDOM};
  uint32_t n = o->num_orders ? o->num_orders : 2;
  for (uint32_t i = 0; !st && i < n; ++i) {
    lathe_emu_order_t order = o->num_orders ? o->orders[i] : default_orders[i];
    device_repoison(p, &d);
    st = run_kernels(pc->src, img, &d, pc->params, order, 1 + i, &r->stats);
    if (!st) st = compare(p, pc->params, pc->want, &d, o, order, &r->worst_abs);
  }
  if (d.ptr) device_free(p, &d);
  return st;
}

/* One translation unit for a batch: each program in a namespace of its own
 * (its helpers and kernels cannot clash; kernel symbols differ already). The
 * headers the generated code includes are cuda_emu.h's stand-ins, guarded,
 * so an #include inside a namespace adds nothing. */
static char *batch_text(const prepared_t *pcs, uint32_t n) {
  size_t size = 1;
  for (uint32_t k = 0; k < n; ++k)
    if (pcs[k].src) size += pcs[k].src->length + 64;
  char *text = malloc(size), *at = text;
  if (!text) return NULL;
  *at = 0;
  for (uint32_t k = 0; k < n; ++k)
    if (pcs[k].src)
      at += sprintf(at, "namespace lathe_emu_case%u {\n%s\n}\n", k, pcs[k].src->text);
  return text;
}

lathe_status_t lathe_emu_check_programs(lathe_emu_case_t *cases, uint32_t n) {
  prepared_t *pcs = calloc(n + 1, sizeof *pcs);
  if (!pcs) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  uint32_t ready = 0;
  for (uint32_t k = 0; k < n; ++k) {
    char symbol[48];
    snprintf(symbol, sizeof symbol, "lathe_emu_case%u", k);
    cases[k].report = (lathe_emu_check_report_t){0};
    cases[k].status = prepare(&cases[k], n == 1 ? NULL : symbol, &pcs[k]);
    if (cases[k].status) release(cases[k].program, &pcs[k]);
    else ++ready;
  }
  /* One compile for the batch; when it fails, one per case, so the failure
   * is named against its own program and the others still run. */
  lathe_emu_image_t *shared = NULL;
  lathe_status_t st = NULL;
  if (ready > 1) {
    char *text = batch_text(pcs, n);
    if (!text) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    lathe_status_t cst = st ? NULL : lathe_emu_image_compile(text, true, &shared);
    lathe_status_free(cst);
    free(text);
  }
  for (uint32_t k = 0; !st && k < n; ++k) {
    if (!pcs[k].src) continue;
    lathe_emu_image_t *img = shared;
    if (!img)
      cases[k].status = lathe_emu_image_compile(pcs[k].src->text, !cases[k].opts.allow_warnings, &img);
    if (!cases[k].status) cases[k].status = run_case(&cases[k], &pcs[k], img, &cases[k].report);
    if (img != shared) lathe_emu_image_destroy(img);
  }
  lathe_emu_image_destroy(shared);
  for (uint32_t k = 0; k < n; ++k) release(cases[k].program, &pcs[k]);
  free(pcs);
  return st;
}

lathe_status_t lathe_emu_check_program(const lathe_kprogram_t *p, const int64_t *const *in_dims,
                                       const void *const *inputs, const lathe_emu_check_opts_t *opts,
                                       lathe_emu_check_report_t *out_report) {
  lathe_emu_case_t c = {.program = p, .in_dims = in_dims, .inputs = inputs,
                        .opts = {.rel_tol = 1e-5, .abs_tol = 1e-6}};
  if (opts) c.opts = *opts;
  lathe_status_t st = lathe_emu_check_programs(&c, 1);
  if (st) {
    lathe_status_free(c.status);
    return st;
  }
  if (!c.status && out_report) *out_report = c.report;
  return c.status;
}

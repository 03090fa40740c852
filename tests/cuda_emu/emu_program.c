/* lathe_emu_check_program: a kernel program through codegen/cuda and the
 * emulator versus the reference interpreter (emu_program.h says what is
 * checked and how). The "device" side mirrors what runtime/cuda does on a
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

static lathe_status_t check(const lathe_kprogram_t *p, const int64_t *params,
                            const void *const *inputs, void *const *want,
                            const lathe_emu_check_opts_t *o, lathe_emu_check_report_t *r,
                            lathe_cuda_source_t *src, lathe_emu_image_t **img, device_t *d) {
  LATHE_RETURN_IF_ERROR(lathe_kprogram_run_reference(p, params, inputs, want, NULL, NULL));
  LATHE_RETURN_IF_ERROR(lathe_emu_image_compile(src->text, !o->allow_warnings, img));
  LATHE_RETURN_IF_ERROR(check_launches(src));
  LATHE_RETURN_IF_ERROR(device_alloc(p, params, inputs, d));
  static const lathe_emu_order_t default_orders[] = {LATHE_EMU_ORDER_REVERSE,
                                                     LATHE_EMU_ORDER_RANDOM};
  uint32_t n = o->num_orders ? o->num_orders : 2;
  for (uint32_t i = 0; i < n; ++i) {
    lathe_emu_order_t order = o->num_orders ? o->orders[i] : default_orders[i];
    device_repoison(p, d);
    LATHE_RETURN_IF_ERROR(run_kernels(src, *img, d, params, order, 1 + i, &r->stats));
    LATHE_RETURN_IF_ERROR(compare(p, params, want, d, o, order, &r->worst_abs));
  }
  return NULL;
}

lathe_status_t lathe_emu_check_program(const lathe_kprogram_t *p, const int64_t *const *in_dims,
                                       const void *const *inputs, const lathe_emu_check_opts_t *opts,
                                       lathe_emu_check_report_t *out_report) {
  lathe_emu_check_opts_t o = {.rel_tol = 1e-5, .abs_tol = 1e-6};
  if (opts) o = *opts;
  int64_t *params = calloc(p->num_params + 1, sizeof *params);
  void **want = calloc(p->num_outputs + 1, sizeof *want);
  if (!params || !want) {
    free(params), free(want);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  lathe_status_t st = lathe_kprogram_bind_params(p, in_dims, params);
  for (uint32_t k = 0; !st && k < p->num_outputs; ++k) {
    uint64_t bytes = 0;
    st = lathe_kbuffer_num_bytes(p->buffers[p->outputs[k]], params, &bytes);
    if (!st && !(want[k] = calloc(bytes + 8, 1)))
      st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  lathe_cuda_source_t *src = NULL;
  if (!st) st = lathe_cuda_generate(p, NULL, &src);
  lathe_emu_image_t *img = NULL;
  device_t d = {0};
  lathe_emu_check_report_t r = {0};
  if (!st) {
    r.num_kernels = src->num_kernels, r.uses_wmma = src->uses_wmma;
    st = check(p, params, inputs, want, &o, &r, src, &img, &d);
  }
  if (d.ptr) device_free(p, &d);
  lathe_emu_image_destroy(img);
  lathe_cuda_source_destroy(src);
  for (uint32_t k = 0; k < p->num_outputs; ++k) free(want[k]);
  free(want), free(params);
  if (!st && out_report) *out_report = r;
  return st;
}

/* Test harness for the LLVM backend: runs one kernel program through the
 * reference interpreter (the oracle) and through the backend's JIT with the
 * runtime's executor on a real thread pool, and compares every output.
 *
 * Included by the test_codegen_llvm*.c files; each uses harness_check.
 * Float outputs compare with |got - want| <= abs_tol + rel_tol * |want|
 * (NaN matches NaN, infinities match exactly); integers and bools exactly.
 */
#ifndef LATHE_TESTS_CODEGEN_LLVM_HARNESS_H
#define LATHE_TESTS_CODEGEN_LLVM_HARNESS_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/backend.h"
#include "codegen/llvm/llvm.h"
#include "kernel/kernel.h"
#include "runtime/runtime.h"
#include "support/half.h"

#define OK(expr)                                                   \
  do {                                                             \
    lathe_status_t st_ = (expr);                                   \
    if (st_) fail_msg("%s: %s", #expr, lathe_status_message(st_)); \
  } while (0)

typedef struct harness_opts {
  double rel_tol, abs_tol;
  const char *target;    /* NULL = host */
  uint32_t opt_level;    /* 0 = the default (3) */
  bool opt0;             /* force -O0 */
  uint32_t vector_width; /* the option of the same name */
  /* Run twice on one weights table (outputs reset in between) and check
   * that kernels derived data from the constants (packed GEMM weights) that
   * the second run reused. */
  bool derived;
} harness_opts_t;

static inline double elem_as_double(lathe_dtype_t t, const void *data, int64_t i, bool *is_float) {
  const uint8_t *p = data;
  *is_float = lathe_dtype_is_float(t);
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

static inline bool close_enough(double got, double want, bool is_float, const harness_opts_t *o) {
  if (!is_float) return got == want;
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= o->abs_tol + o->rel_tol * fabs(want);
}

/* Runs p both ways on `inputs` (dims per input: in_dims[k]) with `threads`
 * threads and checks the outputs agree. Returns the largest abs error. */
static inline double harness_check(const lathe_kprogram_t *p, const int64_t *const *in_dims,
                                   const void *const *inputs, int32_t threads,
                                   const harness_opts_t *o) {
  int64_t params[64] = {0};
  OK(lathe_kprogram_bind_params(p, in_dims, params));
  uint32_t no = p->num_outputs, ni = p->num_inputs;
  void **want = calloc(no + 1, sizeof *want), **got = calloc(no + 1, sizeof *got);
  uint64_t *bytes = calloc(no + 1, sizeof *bytes);
  for (uint32_t k = 0; k < no; ++k) {
    OK(lathe_kbuffer_num_bytes(p->buffers[p->outputs[k]], params, &bytes[k]));
    want[k] = calloc(bytes[k] + 8, 1);
    got[k] = malloc(bytes[k] + 8);
    memset(got[k], 0x5a, bytes[k] + 8); /* garbage: every element must be written */
  }
  OK(lathe_kprogram_run_reference(p, params, inputs, want, NULL, NULL));

  const lathe_backend_t *be = lathe_backend_find("llvm");
  assert_non_null(be);
  lathe_codegen_options_t opts;
  lathe_codegen_options_init(&opts);
  opts.target = o->target;
  if (o->opt_level) opts.opt_level = o->opt_level;
  if (o->opt0) opts.opt_level = 0;
  opts.vector_width = o->vector_width;
  lathe_codegen_artifact_t *art = NULL;
  OK(be->compile(p, &opts, &art));
  if (getenv("LATHE_DUMP_IR")) { /* debugging: the optimised module */
    lathe_strbuf_t sb;
    lathe_strbuf_init(&sb);
    OK(be->emit_text(art, &sb));
    fputs(lathe_strbuf_cstr(&sb), stderr);
    lathe_strbuf_destroy(&sb);
  }
  lathe_codegen_jit_t *jit = NULL;
  OK(be->jit(art, &jit));
  be->destroy(art); /* the JIT outlives its artifact */
  const lathe_rt_program_t *rp = be->jit_program(jit);
  OK(lathe_rt_program_validate(rp));

  int32_t nw = lathe_codegen_num_weights(p);
  lathe_rt_weights_t *weights = NULL;
  OK(lathe_rt_weights_create(nw, &weights));
  for (uint32_t i = 0; i < p->num_buffers; ++i) {
    int32_t id = lathe_codegen_weight_id(p, i);
    if (id >= 0)
      OK(lathe_rt_weights_set_memory(weights, id, p->buffers[i]->weight->data,
                                     p->buffers[i]->weight->num_bytes));
  }
  lathe_rt_tensor_t *tin = calloc(ni + 1, sizeof *tin), *tout = calloc(no + 1, sizeof *tout);
  for (uint32_t k = 0; k < ni; ++k) {
    const lathe_kbuffer_t *b = p->buffers[p->inputs[k]];
    uint64_t nb;
    OK(lathe_kbuffer_num_bytes(b, params, &nb));
    OK(lathe_rt_tensor_init(b->dtype, (int32_t)b->rank, in_dims[k], (void *)inputs[k], nb,
                            &tin[k]));
  }
  for (uint32_t k = 0; k < no; ++k) {
    const lathe_kbuffer_t *b = p->buffers[p->outputs[k]];
    int64_t dims[LATHE_RT_MAX_RANK];
    for (uint32_t d = 0; d < b->rank; ++d) dims[d] = lathe_kdim_value(b->dims[d], params);
    OK(lathe_rt_tensor_init(b->dtype, (int32_t)b->rank, dims, got[k], bytes[k], &tout[k]));
  }
  lathe_rt_pool_t *pool = NULL;
  lathe_rt_context_t *ctx = NULL;
  OK(lathe_rt_pool_create(threads, &pool));
  OK(lathe_rt_context_create(pool, &ctx));
  OK(lathe_rt_program_run(rp, weights, ctx, tin, (int32_t)ni, tout, (int32_t)no));
  if (o->derived) {
    uint64_t derived = lathe_rt_weights_derived_bytes(weights);
    assert_true(derived > 0);
    for (uint32_t k = 0; k < no; ++k) memset(got[k], 0x5a, bytes[k] + 8);
    OK(lathe_rt_program_run(rp, weights, ctx, tin, (int32_t)ni, tout, (int32_t)no));
    assert_int_equal(lathe_rt_weights_derived_bytes(weights), derived);
  }

  double worst = 0;
  for (uint32_t k = 0; k < no; ++k) {
    const lathe_kbuffer_t *b = p->buffers[p->outputs[k]];
    int64_t count;
    OK(lathe_kbuffer_num_elements(b, params, &count));
    for (int64_t e = 0; e < count; ++e) {
      bool fl;
      double g = elem_as_double(b->dtype, got[k], e, &fl),
             w = elem_as_double(b->dtype, want[k], e, &fl);
      if (!close_enough(g, w, fl, o))
        fail_msg("program '%s' output %u (%s, %s) element %lld: got %.9g, want %.9g (threads %d)",
                 p->name, k, b->name, lathe_dtype_name(b->dtype), (long long)e, g, w, threads);
      if (fl && isfinite(w) && fabs(g - w) > worst) worst = fabs(g - w);
    }
  }
  lathe_rt_context_destroy(ctx);
  lathe_rt_pool_destroy(pool);
  lathe_rt_weights_destroy(weights);
  be->jit_destroy(jit);
  for (uint32_t k = 0; k < no; ++k) free(want[k]), free(got[k]);
  free(want), free(got), free(bytes), free(tin), free(tout);
  return worst;
}

/* Deterministic pseudo-random floats in [lo, hi). */
static inline void harness_fill(float *x, size_t n, uint32_t seed, float lo, float hi) {
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    x[i] = lo + (hi - lo) * (float)(s >> 8) / (float)(1u << 24);
  }
}

#endif

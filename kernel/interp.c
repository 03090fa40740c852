/* The reference interpreter: runs a kernel program on host memory. It is the
 * oracle every backend is checked against, so it is written for obviousness,
 * not speed: LOOPS kernels walk their isl AST (interp_ast.c), GEMM kernels are
 * a naive triple loop, every value is held in f64/i64 and rounded to its
 * dtype only on store (and CAST), and every access is bounds-checked.
 */
#include <stdlib.h>
#include <string.h>

#include "kernel/interp.h"

/* ---- element access ---- */

kval_t ibuf_get(const ibuf_t *b, int64_t flat) {
  return b->vals ? b->vals[flat] : kval_load(b->dtype, b->bytes, flat);
}

void ibuf_set(ibuf_t *b, int64_t flat, kval_t v) { b->vals[flat] = kval_round(b->dtype, v); }

lathe_status_t ibuf_flat(const irun_t *r, uint32_t buffer, const int64_t *index,
                         int64_t *out_flat) {
  const ibuf_t *b = &r->bufs[buffer];
  int64_t flat = 0;
  for (uint32_t d = 0; d < b->rank; ++d) {
    if (index[d] < 0 || index[d] >= b->dims[d])
      return lathe_status_make(
          LATHE_STATUS_INTERNAL, "kernel '%s': index %lld of dim %u of %%%s is out of [0, %lld)",
          r->kernel, (long long)index[d], d, r->p->buffers[buffer]->name, (long long)b->dims[d]);
    flat = flat * b->dims[d] + index[d];
  }
  *out_flat = flat;
  return NULL;
}

/* ---- GEMM ---- */

static kval_t operand(const ibuf_t *x, const lathe_kgemm_operand_t *o, int64_t b, int64_t rows,
                      int64_t cols, int64_t row, int64_t col) {
  int64_t base = o->broadcast ? 0 : b * rows * cols;
  return ibuf_get(x, base + (o->trans ? col * rows + row : row * cols + col));
}

static lathe_status_t check_count(const irun_t *r, uint32_t buffer, int64_t want) {
  if (r->bufs[buffer].count >= want) return NULL;
  return lathe_status_make(
      LATHE_STATUS_INTERNAL, "kernel '%s': %%%s holds %lld elements, gemm needs %lld", r->kernel,
      r->p->buffers[buffer]->name, (long long)r->bufs[buffer].count, (long long)want);
}

static lathe_status_t run_gemm(irun_t *r, const lathe_kgemm_t *g) {
  int64_t B = lathe_kdim_value(g->batch, r->params), M = lathe_kdim_value(g->m, r->params);
  int64_t N = lathe_kdim_value(g->n, r->params), K = lathe_kdim_value(g->k, r->params);
  LATHE_RETURN_IF_ERROR(check_count(r, g->a.buffer, (g->a.broadcast ? 1 : B) * M * K));
  LATHE_RETURN_IF_ERROR(check_count(r, g->b.buffer, (g->b.broadcast ? 1 : B) * K * N));
  LATHE_RETURN_IF_ERROR(check_count(r, g->c, B * M * N));
  const ibuf_t *a = &r->bufs[g->a.buffer], *bb = &r->bufs[g->b.buffer];
  ibuf_t *c = &r->bufs[g->c];
  bool is_float = lathe_dtype_is_float(g->acc_dtype);
  tape_t tape = {0};
  uint32_t slot = 0;
  if (g->epilogue) tape_build(&tape, 1, &g->epilogue, &slot);
  lathe_status_t st = NULL;
  for (int64_t b = 0; b < B && !st; ++b)
    for (int64_t m = 0; m < M && !st; ++m)
      for (int64_t n = 0; n < N && !st; ++n) {
        kval_t acc = {0};
        for (int64_t k = 0; k < K; ++k) {
          kval_t x = operand(a, &g->a, b, M, K, m, k), y = operand(bb, &g->b, b, K, N, k, n);
          if (is_float) acc.f += x.f * y.f;
          else
            acc = kval_round(g->acc_dtype, (kval_t){.i = (int64_t)((uint64_t)acc.i +
                                                                   (uint64_t)x.i * (uint64_t)y.i)});
        }
        acc = kval_round(g->acc_dtype, acc);
        kval_t v;
        if (g->epilogue) {
          const int64_t iters[3] = {b, m, n};
          st = tape_run(r, &tape, iters, acc);
          v = tape.slots[slot];
        } else {
          v = kval_convert(c->dtype, g->acc_dtype, acc);
        }
        ibuf_set(c, (b * M + m) * N + n, v);
      }
  tape_free(&tape);
  return st;
}

/* ---- program ---- */

static lathe_status_t setup_buffers(irun_t *r, const void *const *inputs) {
  const lathe_kprogram_t *p = r->p;
  for (uint32_t i = 0; i < p->num_buffers; ++i) {
    const lathe_kbuffer_t *kb = p->buffers[i];
    ibuf_t *b = &r->bufs[i];
    b->dtype = kb->dtype;
    b->rank = kb->rank;
    for (uint32_t d = 0; d < kb->rank; ++d) b->dims[d] = lathe_kdim_value(kb->dims[d], r->params);
    LATHE_RETURN_IF_ERROR(lathe_kbuffer_num_elements(kb, r->params, &b->count));
    if (kb->view_of >= 0) {
      const ibuf_t *root = &r->bufs[kb->view_of]; /* roots come before their views */
      if (root->count != b->count)
        return lathe_status_make(LATHE_STATUS_INTERNAL,
                                 "view %%%s has %lld elements, its base %lld", kb->name,
                                 (long long)b->count, (long long)root->count);
      b->vals = root->vals;
      b->bytes = root->bytes;
    } else if (kb->role == LATHE_KBUF_INPUT) {
      b->bytes = inputs[kb->index];
    } else if (kb->role == LATHE_KBUF_CONST) {
      uint64_t need;
      LATHE_RETURN_IF_ERROR(lathe_kbuffer_num_bytes(kb, r->params, &need));
      if (kb->weight->num_bytes < need)
        return lathe_status_make(LATHE_STATUS_INTERNAL, "const %%%s has %llu bytes, needs %llu",
                                 kb->name, (unsigned long long)kb->weight->num_bytes,
                                 (unsigned long long)need);
      b->bytes = kb->weight->data;
    } else {
      b->vals = calloc((size_t)(b->count ? b->count : 1), sizeof *b->vals);
      if (!b->vals)
        return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "no memory for %%%s", kb->name);
    }
  }
  return NULL;
}

lathe_status_t lathe_kprogram_run_reference(const lathe_kprogram_t *p, const int64_t *params,
                                            const void *const *inputs, void *const *outputs,
                                            lathe_kschedule_chooser_t choose, void *choose_ctx) {
  if (p->build) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "program is not finished");
  irun_t r = {.p = p, .params = params};
  r.bufs = calloc(p->num_buffers ? p->num_buffers : 1, sizeof *r.bufs);
  if (!r.bufs) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  lathe_status_t st = setup_buffers(&r, inputs);
  for (uint32_t k = 0; k < p->num_kernels && !st; ++k) {
    const lathe_kernel_t *kernel = p->kernels[k];
    r.kernel = kernel->name;
    if (kernel->kind == LATHE_KERNEL_GEMM) st = run_gemm(&r, kernel->gemm);
    else st = interp_loops_kernel(&r, kernel, choose ? choose(choose_ctx, kernel) : NULL);
  }
  for (uint32_t i = 0; i < p->num_outputs && !st; ++i) {
    const ibuf_t *b = &r.bufs[p->outputs[i]];
    for (int64_t e = 0; e < b->count; ++e) kval_store(b->dtype, outputs[i], e, b->vals[e]);
  }
  for (uint32_t i = 0; i < p->num_buffers; ++i)
    if (p->buffers[i]->view_of < 0) free(r.bufs[i].vals);
  free(r.bufs);
  return st;
}

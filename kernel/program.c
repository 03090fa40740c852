/* The kernel-program builder: params, buffers, kernels and statements.
 *
 * While a program is being built its tables live in malloc'd growable arrays
 * (kbuild_t) so objects can be appended; the public pointers in
 * lathe_kprogram_t always point at the current arrays. Every object itself is
 * arena-allocated, so pointers to params, buffers, kernels and statements stay
 * valid as the tables grow. lathe_kprogram_finish checks the whole program,
 * copies the tables into the arena and drops the builder state.
 *
 * Constructors report misuse (a bad dtype, a wrong index count) by recording
 * the first error and returning NULL; finish returns that error, so lowering
 * code can build a whole kernel and check once.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/internal.h"

void *kvec_push(kvec_t *v, size_t elem_size) {
  if (v->len == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    void *data = realloc(v->data, cap * elem_size);
    if (!data) abort();
    v->data = data;
    v->cap = cap;
  }
  void *slot = (char *)v->data + v->len++ * elem_size;
  memset(slot, 0, elem_size);
  return slot;
}

void kvec_free(kvec_t *v) {
  free(v->data);
  *v = (kvec_t){0};
}

static kbuild_t *B(lathe_kprogram_t *p) { return p->build; }

void *kbuild_fail(lathe_kprogram_t *p, const char *fmt, ...) {
  if (!p->build || B(p)->error) return NULL;
  va_list ap;
  va_start(ap, fmt);
  B(p)->error = lathe_status_makev(LATHE_STATUS_INTERNAL, fmt, ap);
  va_end(ap);
  return NULL;
}

lathe_status_t kbuild_take_error(lathe_kprogram_t *p) {
  if (!p->build) return NULL;
  lathe_status_t st = B(p)->error;
  B(p)->error = NULL;
  return st;
}

/* Re-points the public table pointers after a push. */
static void sync(lathe_kprogram_t *p) {
  kbuild_t *b = B(p);
  p->num_params = (uint32_t)b->params.len;
  p->params = b->params.data;
  p->num_buffers = (uint32_t)b->buffers.len;
  p->buffers = b->buffers.data;
  p->num_kernels = (uint32_t)b->kernels.len;
  p->kernels = b->kernels.data;
  p->num_inputs = (uint32_t)b->inputs.len;
  p->inputs = b->inputs.data;
  p->num_outputs = (uint32_t)b->outputs.len;
  p->outputs = b->outputs.data;
}

lathe_kprogram_t *lathe_kprogram_create(const char *name) {
  lathe_kprogram_t *p = calloc(1, sizeof *p);
  kbuild_t *b = calloc(1, sizeof *b);
  if (!p || !b) abort();
  lathe_arena_init(&p->arena);
  p->name = lathe_arena_strdup(&p->arena, name ? name : "main");
  lathe_hashmap_init(&b->names);
  p->build = b;
  return p;
}

void kbuild_free(lathe_kprogram_t *p) {
  kbuild_t *b = B(p);
  if (!b) return;
  kvec_t *per_kernel = b->stmts.data;
  for (size_t i = 0; i < b->stmts.len; ++i) kvec_free(&per_kernel[i]);
  kvec_free(&b->stmts);
  kvec_free(&b->params);
  kvec_free(&b->buffers);
  kvec_free(&b->kernels);
  kvec_free(&b->inputs);
  kvec_free(&b->outputs);
  lathe_hashmap_destroy(&b->names);
  lathe_status_free(b->error);
  free(b);
  p->build = NULL;
}

void lathe_kprogram_destroy(lathe_kprogram_t *p) {
  if (!p) return;
  kbuild_free(p);
  lathe_arena_destroy(&p->arena);
  free(p);
}

/* isl and C backends see names as identifiers: anything else becomes '_', a
 * leading digit gets a 't' in front, and a param named "c<digits>" (isl's
 * loop iterator names) gets a '_' suffix. Then a numeric suffix makes the
 * name unique. */
static const char *unique_name(lathe_kprogram_t *p, const char *hint, const char *fallback,
                               bool is_param) {
  char base[96];
  const char *h = hint && *hint ? hint : fallback;
  size_t n = 0;
  if (isdigit((unsigned char)h[0])) base[n++] = 't'; /* %0 -> %t0 */
  for (; *h && n < sizeof base - 16; ++h) base[n++] = isalnum((unsigned char)*h) ? *h : '_';
  base[n] = '\0';
  bool iter_like = is_param && base[0] == 'c' && base[1] != '\0';
  for (size_t i = 1; iter_like && base[i]; ++i) iter_like = isdigit((unsigned char)base[i]);
  if (iter_like) strcat(base, "_");
  char name[112];
  snprintf(name, sizeof name, "%s", base);
  for (unsigned k = 1; lathe_hashmap_get_str(&B(p)->names, name); ++k)
    snprintf(name, sizeof name, "%s_%u", base, k);
  const char *copy = lathe_arena_strdup(&p->arena, name);
  lathe_hashmap_put_str(&B(p)->names, copy, (void *)copy);
  return copy;
}

/* ---- params ---- */

static uint32_t push_param(lathe_kprogram_t *p, lathe_kparam_t *param) {
  *(lathe_kparam_t **)kvec_push(&B(p)->params, sizeof param) = param;
  sync(p);
  return p->num_params - 1;
}

uint32_t lathe_kprogram_add_input_param(lathe_kprogram_t *p, const char *name, uint32_t input,
                                        uint32_t dim) {
  lathe_kparam_t *param = LATHE_ARENA_NEW(&p->arena, lathe_kparam_t);
  param->name = unique_name(p, name, "P", true);
  param->kind = LATHE_KPARAM_INPUT_DIM;
  param->input = input;
  param->dim = dim;
  return push_param(p, param);
}

uint32_t lathe_kprogram_add_derived_param(lathe_kprogram_t *p, const char *name,
                                          const lathe_kexpr_t *expr) {
  lathe_kparam_t *param = LATHE_ARENA_NEW(&p->arena, lathe_kparam_t);
  param->name = unique_name(p, name, "P", true);
  param->kind = LATHE_KPARAM_DERIVED;
  param->expr = expr;
  if (!expr) kbuild_fail(p, "derived param '%s' has no expression", param->name);
  return push_param(p, param);
}

lathe_kdim_t lathe_kprogram_dim_of(lathe_kprogram_t *p, const lathe_kexpr_t *expr) {
  if (!expr) {
    kbuild_fail(p, "size expression missing");
    return lathe_kdim_static(0);
  }
  if (expr->kind == LATHE_KEXPR_INT) return lathe_kdim_static(expr->i < 0 ? 0 : expr->i);
  if (expr->kind == LATHE_KEXPR_PARAM) return lathe_kdim_param((int32_t)expr->index);
  for (uint32_t k = 0; k < p->num_params; ++k)
    if (p->params[k]->kind == LATHE_KPARAM_DERIVED && kexpr_equal(p->params[k]->expr, expr))
      return lathe_kdim_param((int32_t)k);
  char hint[16];
  snprintf(hint, sizeof hint, "P%u", p->num_params);
  return lathe_kdim_param((int32_t)lathe_kprogram_add_derived_param(p, hint, expr));
}

/* ---- buffers ---- */

static lathe_kbuffer_t *new_buffer(lathe_kprogram_t *p, const char *name, lathe_dtype_t dtype,
                                   uint32_t rank, const lathe_kdim_t *dims) {
  if (rank > LATHE_MAX_RANK) return kbuild_fail(p, "buffer '%s' has rank %u", name, rank);
  lathe_kbuffer_t *buf = LATHE_ARENA_NEW(&p->arena, lathe_kbuffer_t);
  buf->id = p->num_buffers;
  buf->name = unique_name(p, name, "t", false);
  buf->dtype = dtype;
  buf->rank = rank;
  buf->dims = rank ? lathe_arena_memdup(&p->arena, dims, rank * sizeof *dims) : NULL;
  buf->view_of = -1;
  buf->local_to = -1;
  *(lathe_kbuffer_t **)kvec_push(&B(p)->buffers, sizeof buf) = buf;
  sync(p);
  return buf;
}

lathe_kbuffer_t *lathe_kprogram_add_buffer(lathe_kprogram_t *p, const char *name,
                                           lathe_dtype_t dtype, uint32_t rank,
                                           const lathe_kdim_t *dims, lathe_kbuffer_role_t role) {
  lathe_kbuffer_t *buf = new_buffer(p, name, dtype, rank, dims);
  if (buf) buf->role = role;
  return buf;
}

lathe_kbuffer_t *lathe_kprogram_add_view(lathe_kprogram_t *p, const char *name,
                                         const lathe_kbuffer_t *base, uint32_t rank,
                                         const lathe_kdim_t *dims) {
  if (!base) return kbuild_fail(p, "view '%s' of nothing", name);
  const lathe_kbuffer_t *root = base->view_of >= 0 ? p->buffers[base->view_of] : base;
  lathe_kbuffer_t *buf = new_buffer(p, name, root->dtype, rank, dims);
  if (!buf) return NULL;
  buf->role = root->role;
  buf->index = root->index;
  buf->weight = root->weight;
  buf->view_of = (int32_t)root->id;
  return buf;
}

static void set_slot(lathe_kprogram_t *p, kvec_t *v, uint32_t index, uint32_t buffer) {
  if (buffer >= p->num_buffers) {
    kbuild_fail(p, "graph input/output %u set to no buffer", index);
    return;
  }
  p->buffers[buffer]->index = index;
  while (v->len <= index) *(uint32_t *)kvec_push(v, sizeof(uint32_t)) = UINT32_MAX;
  ((uint32_t *)v->data)[index] = buffer;
  sync(p);
}

void lathe_kprogram_set_input(lathe_kprogram_t *p, uint32_t index, uint32_t buffer) {
  set_slot(p, &B(p)->inputs, index, buffer);
}

void lathe_kprogram_set_output(lathe_kprogram_t *p, uint32_t index, uint32_t buffer) {
  set_slot(p, &B(p)->outputs, index, buffer);
}

/* ---- kernels ---- */

static lathe_kernel_t *new_kernel(lathe_kprogram_t *p, const char *name, lathe_kernel_kind_t kind) {
  lathe_kernel_t *k = LATHE_ARENA_NEW(&p->arena, lathe_kernel_t);
  k->index = p->num_kernels;
  k->name = lathe_arena_strdup(&p->arena, name ? name : "kernel");
  k->kind = kind;
  *(lathe_kernel_t **)kvec_push(&B(p)->kernels, sizeof k) = k;
  kvec_push(&B(p)->stmts, sizeof(kvec_t));
  sync(p);
  return k;
}

lathe_kernel_t *lathe_kprogram_add_loops_kernel(lathe_kprogram_t *p, const char *name) {
  return new_kernel(p, name, LATHE_KERNEL_LOOPS);
}

lathe_kernel_t *lathe_kprogram_add_gemm_kernel(lathe_kprogram_t *p, const char *name,
                                               const lathe_kgemm_t *gemm) {
  lathe_kernel_t *k = new_kernel(p, name, LATHE_KERNEL_GEMM);
  k->gemm = lathe_arena_memdup(&p->arena, gemm, sizeof *gemm);
  return k;
}

lathe_kstmt_t *lathe_kernel_add_stmt(lathe_kprogram_t *p, lathe_kernel_t *kernel,
                                     const lathe_kstmt_desc_t *d) {
  if (kernel->kind != LATHE_KERNEL_LOOPS)
    return kbuild_fail(p, "kernel '%s': statements need a loops kernel", kernel->name);
  if (d->num_iters > LATHE_KMAX_ITERS || d->num_reduce > d->num_iters || !d->target || !d->value)
    return kbuild_fail(p, "kernel '%s': malformed statement", kernel->name);
  if ((d->combiner == LATHE_KCOMB_NONE) != (d->num_reduce == 0 && !d->init))
    return kbuild_fail(p, "kernel '%s': a reduction needs a combiner and an init value",
                       kernel->name);
  lathe_arena_t *a = &p->arena;
  lathe_kstmt_t *s = LATHE_ARENA_NEW(a, lathe_kstmt_t);
  s->num_iters = d->num_iters;
  s->extents =
      d->num_iters ? lathe_arena_memdup(a, d->extents, d->num_iters * sizeof *d->extents) : NULL;
  s->num_reduce = d->num_reduce;
  s->target = d->target->id;
  uint32_t rank = d->target->rank;
  s->target_index = rank ? lathe_arena_memdup(a, d->target_index, rank * sizeof(void *)) : NULL;
  s->value = d->value;
  s->combiner = d->combiner;
  s->init = d->init;
  s->schedule = lathe_kschedule_default(s, 8);
  kvec_t *stmts = &((kvec_t *)B(p)->stmts.data)[kernel->index];
  *(lathe_kstmt_t **)kvec_push(stmts, sizeof s) = s;
  kernel->num_stmts = (uint32_t)stmts->len;
  kernel->stmts = stmts->data;
  return s;
}

void lathe_kernel_set_num_shared(lathe_kernel_t *kernel, uint32_t num_shared) {
  kernel->num_shared = num_shared;
  /* A shared loop holds several statements: it is never a vector loop. */
  for (uint32_t s = 0; s < kernel->num_stmts; ++s) {
    lathe_kschedule_t *sc = &kernel->stmts[s]->schedule;
    if (sc->vector >= 0 && (uint32_t)sc->vector < num_shared) {
      sc->tile[sc->vector] = 0;
      sc->vector = -1;
      sc->vector_width = 0;
    }
  }
}

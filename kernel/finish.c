/* Finishing a program: the checks that make a built program safe to walk,
 * each kernel's read and write sets, and freezing the builder's growable
 * tables into the arena.
 *
 * Everything checked here is something a backend would otherwise have to
 * guard against: an iterator index beyond the statement, a reduction target
 * indexed by a reduction iterator, a store whose value has another dtype than
 * its buffer, an ACC outside a GEMM epilogue, a schedule that breaks the
 * rules. A failure is an internal error (the lowering built something wrong).
 */
#include <stdlib.h>
#include <string.h>

#include "kernel/internal.h"

typedef struct {
  const lathe_kprogram_t *p;
  const lathe_kernel_t *k;
  uint32_t max_iter; /* ITER indices must be below this */
  bool allow_acc;
  lathe_dtype_t acc_dtype;
  lathe_hashmap_t seen; /* expression pointers already checked */
  kvec_t *reads;
} walk_t;

static lathe_status_t bad(const walk_t *w, const char *what) {
  return lathe_status_make(LATHE_STATUS_INTERNAL, "kernel '%s': %s", w->k->name, what);
}

static void add_unique(kvec_t *v, uint32_t id) {
  const uint32_t *d = v->data;
  for (size_t i = 0; i < v->len; ++i)
    if (d[i] == id) return;
  *(uint32_t *)kvec_push(v, sizeof id) = id;
}

static lathe_status_t walk(walk_t *w, const lathe_kexpr_t *e) {
  if (!e) return bad(w, "missing expression");
  if (lathe_hashmap_get(&w->seen, &e, sizeof e, NULL)) return NULL;
  lathe_hashmap_put(&w->seen, &e, sizeof e, (void *)e);
  switch (e->kind) {
  case LATHE_KEXPR_ITER:
    if (e->index >= w->max_iter) return bad(w, "expression uses an iterator out of scope");
    break;
  case LATHE_KEXPR_PARAM:
    if (e->index >= w->p->num_params) return bad(w, "expression uses an unknown param");
    break;
  case LATHE_KEXPR_LOAD:
    if (e->index >= w->p->num_buffers) return bad(w, "load from an unknown buffer");
    if (e->num_args != w->p->buffers[e->index]->rank)
      return bad(w, "load with a wrong index count");
    add_unique(w->reads, e->index);
    break;
  case LATHE_KEXPR_ACC:
    if (!w->allow_acc || e->dtype != w->acc_dtype) return bad(w, "acc outside a gemm epilogue");
    break;
  default: break;
  }
  for (uint32_t i = 0; i < e->num_args; ++i) LATHE_RETURN_IF_ERROR(walk(w, e->args[i]));
  return NULL;
}

static lathe_status_t check_stmt(walk_t *w, const lathe_kstmt_t *s, uint32_t index,
                                 kvec_t *writes) {
  const lathe_kprogram_t *p = w->p;
  if (s->target >= p->num_buffers) return bad(w, "statement stores to an unknown buffer");
  const lathe_kbuffer_t *t = p->buffers[s->target];
  if (t->role == LATHE_KBUF_INPUT || t->role == LATHE_KBUF_CONST)
    return bad(w, "statement stores to a read-only buffer");
  for (uint32_t i = 0; i < s->num_iters; ++i)
    if (s->extents[i].param >= (int32_t)p->num_params) return bad(w, "extent of an unknown param");
  w->max_iter = s->num_iters - s->num_reduce;
  for (uint32_t i = 0; i < t->rank; ++i) {
    LATHE_RETURN_IF_ERROR(walk(w, s->target_index[i]));
    if (s->target_index[i]->dtype != LATHE_DTYPE_I64) return bad(w, "target index is not i64");
  }
  if (s->init) {
    LATHE_RETURN_IF_ERROR(walk(w, s->init));
    if (s->init->dtype != t->dtype)
      return bad(w, "reduction init has another dtype than its target");
    if (t->dtype == LATHE_DTYPE_BOOL) return bad(w, "reduction into a bool buffer");
  }
  w->max_iter = s->num_iters;
  LATHE_RETURN_IF_ERROR(walk(w, s->value));
  if (s->value->dtype != t->dtype) return bad(w, "stored value has another dtype than its target");
  lathe_status_t st = lathe_kschedule_check(s, &s->schedule);
  if (st) return lathe_status_annotate(st, "kernel '%s' statement %u", w->k->name, index);
  add_unique(writes, s->target);
  return NULL;
}

static lathe_status_t check_shared(const walk_t *w) {
  const lathe_kernel_t *k = w->k;
  for (uint32_t si = 0; si < k->num_stmts; ++si) {
    const lathe_kstmt_t *s = k->stmts[si];
    if (k->num_shared > s->num_iters - s->num_reduce)
      return bad(w, "more shared iterators than a statement has");
    for (uint32_t j = 0; j < k->num_shared; ++j) {
      lathe_kdim_t a = s->extents[j], b = k->stmts[0]->extents[j];
      if (a.param != b.param || (a.param < 0 && a.size != b.size))
        return bad(w, "shared iterators have different extents");
      if (s->schedule.order[j] != j) return bad(w, "shared iterators must lead every schedule");
    }
  }
  return NULL;
}

static lathe_status_t check_gemm(walk_t *w) {
  const lathe_kgemm_t *g = w->k->gemm;
  const lathe_kprogram_t *p = w->p;
  if (!g || g->a.buffer >= p->num_buffers || g->b.buffer >= p->num_buffers ||
      g->c >= p->num_buffers)
    return bad(w, "gemm operands are not buffers");
  add_unique(w->reads, g->a.buffer);
  add_unique(w->reads, g->b.buffer);
  if (g->epilogue) {
    w->max_iter = 3;
    w->allow_acc = true;
    w->acc_dtype = g->acc_dtype;
    LATHE_RETURN_IF_ERROR(walk(w, g->epilogue));
    if (g->epilogue->dtype != p->buffers[g->c]->dtype)
      return bad(w, "gemm epilogue has another dtype than C");
  }
  return NULL;
}

static lathe_status_t check_kernel(const lathe_kprogram_t *p, lathe_kernel_t *k) {
  kvec_t reads = {0}, writes = {0};
  walk_t w = {.p = p, .k = k, .reads = &reads};
  lathe_hashmap_init(&w.seen);
  lathe_status_t st = NULL;
  if (k->kind == LATHE_KERNEL_GEMM) {
    st = check_gemm(&w);
    if (!st) add_unique(&writes, k->gemm->c);
  } else {
    for (uint32_t s = 0; s < k->num_stmts && !st; ++s) st = check_stmt(&w, k->stmts[s], s, &writes);
    if (!st) st = check_shared(&w);
  }
  lathe_hashmap_destroy(&w.seen);
  if (!st) {
    lathe_arena_t *a = (lathe_arena_t *)&p->arena;
    k->num_reads = (uint32_t)reads.len;
    k->reads = reads.len ? lathe_arena_memdup(a, reads.data, reads.len * sizeof(uint32_t)) : NULL;
    k->num_writes = (uint32_t)writes.len;
    k->writes =
        writes.len ? lathe_arena_memdup(a, writes.data, writes.len * sizeof(uint32_t)) : NULL;
  }
  kvec_free(&reads);
  kvec_free(&writes);
  return st;
}

static lathe_status_t check_buffers(const lathe_kprogram_t *p) {
  for (uint32_t i = 0; i < p->num_buffers; ++i) {
    const lathe_kbuffer_t *b = p->buffers[i];
    if (b->role == LATHE_KBUF_CONST && !b->weight && b->view_of < 0)
      return lathe_status_make(LATHE_STATUS_INTERNAL, "const buffer '%s' has no weight", b->name);
    for (uint32_t d = 0; d < b->rank; ++d)
      if (b->dims[d].param >= (int32_t)p->num_params)
        return lathe_status_make(LATHE_STATUS_INTERNAL, "buffer '%s' has a dim of no param",
                                 b->name);
  }
  for (uint32_t i = 0; i < p->num_inputs; ++i)
    if (p->inputs[i] >= p->num_buffers)
      return lathe_status_make(LATHE_STATUS_INTERNAL, "graph input %u has no buffer", i);
  for (uint32_t i = 0; i < p->num_outputs; ++i)
    if (p->outputs[i] >= p->num_buffers || p->buffers[p->outputs[i]]->role != LATHE_KBUF_OUTPUT ||
        p->buffers[p->outputs[i]]->view_of >= 0)
      return lathe_status_make(LATHE_STATUS_INTERNAL, "graph output %u has no output buffer", i);
  return NULL;
}

static void *freeze(lathe_kprogram_t *p, const kvec_t *v, size_t elem) {
  return v->len ? lathe_arena_memdup(&p->arena, v->data, v->len * elem) : NULL;
}

lathe_status_t lathe_kprogram_finish(lathe_kprogram_t *p) {
  kbuild_t *b = p->build;
  if (!b) return lathe_status_make(LATHE_STATUS_INTERNAL, "program finished twice");
  if (b->error) {
    lathe_status_t st = b->error;
    b->error = NULL;
    return st;
  }
  LATHE_RETURN_IF_ERROR(check_buffers(p));
  for (uint32_t k = 0; k < p->num_kernels; ++k)
    LATHE_RETURN_IF_ERROR(check_kernel(p, p->kernels[k]));
  kvec_t *per_kernel = b->stmts.data;
  for (uint32_t k = 0; k < p->num_kernels; ++k)
    p->kernels[k]->stmts = freeze(p, &per_kernel[k], sizeof(lathe_kstmt_t *));
  p->params = freeze(p, &b->params, sizeof(void *));
  p->buffers = freeze(p, &b->buffers, sizeof(void *));
  p->kernels = freeze(p, &b->kernels, sizeof(void *));
  p->inputs = freeze(p, &b->inputs, sizeof(uint32_t));
  p->outputs = freeze(p, &b->outputs, sizeof(uint32_t));
  kbuild_free(p);
  return NULL;
}

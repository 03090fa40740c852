/* Expression evaluation for the interpreter: a DAG is flattened once into a
 * tape (post-order, each node once), then evaluated per iteration point by one
 * pass over the tape. Shared subexpressions (a fused x * sigmoid(x)) cost one
 * evaluation, and nothing recurses at run time.
 *
 * Both arms of a SELECT are evaluated, as the kernel-IR contract allows; a
 * LOAD out of bounds is an error (see interp.h).
 */
#include <stdlib.h>
#include <string.h>

#include "kernel/interp.h"

typedef struct {
  tape_t *t;
  lathe_hashmap_t slot_of; /* expression pointer -> slot + 1 */
  kvec_t ins, args;        /* tins_t, uint32_t (arg slots; pointers fixed up at the end) */
} tbuild_t;

static uint32_t visit(tbuild_t *b, const lathe_kexpr_t *e) {
  void *found;
  if (lathe_hashmap_get(&b->slot_of, &e, sizeof e, &found)) return (uint32_t)(uintptr_t)found - 1;
  uint32_t local[LATHE_MAX_RANK + 3];
  for (uint32_t i = 0; i < e->num_args; ++i) local[i] = visit(b, e->args[i]);
  size_t first_arg = b->args.len;
  for (uint32_t i = 0; i < e->num_args; ++i)
    *(uint32_t *)kvec_push(&b->args, sizeof(uint32_t)) = local[i];
  tins_t *ins = kvec_push(&b->ins, sizeof *ins);
  ins->e = e;
  ins->args = (const uint32_t *)(uintptr_t)first_arg; /* an offset until fixed up */
  uint32_t slot = (uint32_t)b->ins.len - 1;
  lathe_hashmap_put(&b->slot_of, &e, sizeof e, (void *)(uintptr_t)(slot + 1));
  return slot;
}

void tape_build(tape_t *t, uint32_t num_roots, const lathe_kexpr_t *const *roots,
                uint32_t *out_slots) {
  tbuild_t b = {.t = t};
  lathe_hashmap_init(&b.slot_of);
  for (uint32_t i = 0; i < num_roots; ++i) out_slots[i] = visit(&b, roots[i]);
  lathe_hashmap_destroy(&b.slot_of);
  t->n = (uint32_t)b.ins.len;
  t->ins = b.ins.data;
  t->arg_slots = b.args.data;
  for (uint32_t i = 0; i < t->n; ++i) t->ins[i].args = t->arg_slots + (uintptr_t)t->ins[i].args;
  t->slots = calloc(t->n ? t->n : 1, sizeof *t->slots);
  if (!t->slots) abort();
}

void tape_free(tape_t *t) {
  free(t->ins);
  free(t->arg_slots);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

static lathe_status_t load(const irun_t *r, const tins_t *in, const kval_t *slots, kval_t *out) {
  int64_t index[LATHE_MAX_RANK], flat;
  for (uint32_t i = 0; i < in->e->num_args; ++i) index[i] = slots[in->args[i]].i;
  LATHE_RETURN_IF_ERROR(ibuf_flat(r, in->e->index, index, &flat));
  *out = ibuf_get(&r->bufs[in->e->index], flat);
  return NULL;
}

lathe_status_t tape_run(const irun_t *r, tape_t *t, const int64_t *iters, kval_t acc) {
  kval_t *s = t->slots;
  for (uint32_t i = 0; i < t->n; ++i) {
    const tins_t *in = &t->ins[i];
    const lathe_kexpr_t *e = in->e;
    switch (e->kind) {
    case LATHE_KEXPR_ITER: s[i].i = iters[e->index]; break;
    case LATHE_KEXPR_PARAM: s[i].i = r->params[e->index]; break;
    case LATHE_KEXPR_INT: s[i].i = e->i; break;
    case LATHE_KEXPR_FLOAT: s[i].f = e->f; break;
    case LATHE_KEXPR_ACC: s[i] = acc; break;
    case LATHE_KEXPR_LOAD: LATHE_RETURN_IF_ERROR(load(r, in, s, &s[i])); break;
    case LATHE_KEXPR_UNARY:
      s[i] = kop_eval(e->op, e->args[0]->dtype, s[in->args[0]], (kval_t){0});
      break;
    case LATHE_KEXPR_BINARY:
      s[i] = kop_eval(e->op, e->args[0]->dtype, s[in->args[0]], s[in->args[1]]);
      break;
    case LATHE_KEXPR_SELECT: s[i] = s[in->args[0]].i ? s[in->args[1]] : s[in->args[2]]; break;
    case LATHE_KEXPR_CAST: s[i] = kval_convert(e->dtype, e->args[0]->dtype, s[in->args[0]]); break;
    }
  }
  return NULL;
}

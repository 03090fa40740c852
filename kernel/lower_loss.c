/* The losses: negative_log_likelihood_loss and softmax_cross_entropy_loss.
 *
 * Both pick, for each target element t = target[n, d...], the class-t entry
 * of a [N, C, d...] tensor (a gather on the class dim: an index expression
 * that loads the target), negate it and weigh it. For the cross entropy that
 * tensor is log_softmax(x) over the class dim, two row statements (max, sum
 * of exp) whose expression both the loss and the optional log_prob result
 * read. reduction none leaves the per-element loss as an expression; sum and
 * mean add it up in one statement over every target dim, mean dividing by
 * the summed weights in a second one (ONNX's reference: sum(w * l) / sum(w)).
 */
#include <string.h>

#include "kernel/lower.h"

typedef struct loss {
  const lval_t *x, *target, *weight;
  const lathe_kexpr_t *log_prob; /* cross entropy: over x's index, else NULL */
  bool has_ignore;
  int64_t ignore;
} loss_t;

/* log_softmax(x) over dim 1, as an expression over x's own index. */
static lathe_status_t log_softmax(lower_ctx_t *c, const lathe_op_t *op, const lval_t *x,
                                  const lathe_kexpr_t **out) {
  int64_t axis = 1;
  red_t r;
  LATHE_RETURN_IF_ERROR(red_init(op, x, &axis, 1, true, &r));
  lathe_dtype_t cd = compute_dtype(x->dtype);
  const lathe_kexpr_t *xi[LATHE_MAX_RANK], *ti[LATHE_MAX_RANK], *idx[LATHE_MAX_RANK],
      *oi[LATHE_MAX_RANK];
  red_input_index(c, &r, xi);
  iters(c, r.no, ti);
  iters(c, x->rank, idx);
  red_outer_of(&r, idx, oi);
  const lathe_kexpr_t *v = lv_at(c, x, xi);
  const lathe_kbuffer_t *mb, *sb;
  LATHE_RETURN_IF_ERROR(accumulate(c, &r, "max", cd, v, LATHE_KCOMB_MAX, &mb));
  const lathe_kexpr_t *m = lathe_kexpr_load(c->p, mb, ti);
  LATHE_RETURN_IF_ERROR(accumulate(
      c, &r, "sum", cd, kun(c, LATHE_KOP_EXP, kbin(c, LATHE_KOP_SUB, v, m)), LATHE_KCOMB_SUM, &sb));
  const lathe_kexpr_t *shifted =
      kbin(c, LATHE_KOP_SUB, lv_at(c, x, idx), lathe_kexpr_load(c->p, mb, oi));
  *out = kbin(c, LATHE_KOP_SUB, shifted, kun(c, LATHE_KOP_LOG, lathe_kexpr_load(c->p, sb, oi)));
  return NULL;
}

/* The weight and the loss of the target element at ITER(0 .. rank-2). */
static void element(lower_ctx_t *c, const loss_t *L, const lathe_kexpr_t **out_weight,
                    const lathe_kexpr_t **out_loss) {
  const lval_t *x = L->x;
  lathe_dtype_t cd = compute_dtype(x->dtype);
  const lathe_kexpr_t *ti[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK];
  iters(c, L->target->rank, ti);
  const lathe_kexpr_t *t = lathe_kexpr_cast(c->p, LATHE_DTYPE_I64, lv_at(c, L->target, ti));
  /* Never a read outside x: a bad target reads the nearest class. */
  const lathe_kexpr_t *cls =
      kclamp(c, t, kint(c, 0), kbin(c, LATHE_KOP_SUB, kdim(c, x->dims[1]), kint(c, 1)));
  xi[0] = ti[0];
  xi[1] = cls;
  for (uint32_t d = 1; d < L->target->rank; ++d) xi[d + 1] = ti[d];
  const lathe_kexpr_t *picked = L->log_prob ? subst(c, L->log_prob, x->rank, xi) : lv_at(c, x, xi);
  const lathe_kexpr_t *w = L->weight ? lv_at(c, L->weight, &cls) : kf(c, cd, 1);
  const lathe_kexpr_t *loss = kun(c, LATHE_KOP_NEG, picked);
  if (L->weight) loss = kbin(c, LATHE_KOP_MUL, loss, w);
  if (L->has_ignore) {
    const lathe_kexpr_t *ignored = kbin(c, LATHE_KOP_EQ, t, kint(c, L->ignore));
    w = ksel(c, ignored, kf(c, cd, 0), w);
    loss = ksel(c, ignored, kf(c, cd, 0), loss);
  }
  *out_weight = w;
  *out_loss = loss;
}

lathe_status_t lower_loss(lower_ctx_t *c, const lathe_op_t *op) {
  const lathe_attr_t *ignore = lathe_op_find_attr(op, "ignore_index");
  loss_t L = {.x = lv_operand(c, op, 0),
              .target = lv_operand(c, op, 1),
              .weight = lv_operand(c, op, 2),
              .has_ignore = ignore != NULL,
              .ignore = lathe_op_attr_int(op, "ignore_index")};
  const lval_t *x = L.x;
  if (x->rank < 2 || L.target->rank + 1 != x->rank)
    return unsupported(op, "needs x [N, C, d...] and target [N, d...]");
  lathe_dtype_t cd = compute_dtype(x->dtype);
  if (op->kind == LATHE_OP_SOFTMAX_CROSS_ENTROPY_LOSS) {
    LATHE_RETURN_IF_ERROR(log_softmax(c, op, x, &L.log_prob));
    if (op->num_results > 1) {
      lathe_kdim_t dims[LATHE_MAX_RANK];
      LATHE_RETURN_IF_ERROR(result_dims(c, op, 1, x->dims, dims));
      set_expr(c, op, 1, dims, L.log_prob, NULL);
    }
  }
  const lathe_kexpr_t *w, *loss;
  element(c, &L, &w, &loss);
  const char *reduction = lathe_op_attr_string(op, "reduction");
  lathe_kdim_t dims[LATHE_MAX_RANK];
  if (!strcmp(reduction, "none")) {
    LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, L.target->dims, dims));
    set_expr(c, op, 0, dims, loss, NULL);
    return NULL;
  }
  /* Every target dim reduced: statement iterator d is target dim d. */
  red_t r;
  LATHE_RETURN_IF_ERROR(red_init(op, L.target, NULL, 0, false, &r));
  const lathe_kbuffer_t *sum, *wsum;
  LATHE_RETURN_IF_ERROR(accumulate(c, &r, "sum", cd, loss, LATHE_KCOMB_SUM, &sum));
  const lathe_kexpr_t *e = lathe_kexpr_load(c->p, sum, NULL);
  if (!strcmp(reduction, "mean")) {
    LATHE_RETURN_IF_ERROR(accumulate(c, &r, "wsum", cd, w, LATHE_KCOMB_SUM, &wsum));
    e = kbin(c, LATHE_KOP_DIV, e, lathe_kexpr_load(c->p, wsum, NULL));
  }
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, NULL, dims));
  set_expr(c, op, 0, dims, e, NULL);
  return NULL;
}

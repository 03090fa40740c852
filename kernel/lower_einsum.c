/* einsum: a sum of products over labelled dims.
 *
 * Every label (a letter, or one dim covered by '...') becomes one iterator:
 * the result's labels in result order, then the summed labels (those the
 * result leaves out) as reduction iterators. The value is the product of the
 * operands, each read at its labels' iterators, so a repeated label in one
 * term reads a diagonal and a label of size 1 in one operand broadcasts
 * (index 0). Without summed labels the result is just that product, an
 * expression that fuses like any elementwise op (a transpose, an outer
 * product); otherwise it is one SUM reduction statement, accumulated in the
 * compute dtype.
 *
 * Two operands whose labels spell a (batched) matrix product become a GEMM
 * kernel instead: batch labels lead every term in the same order, then one
 * M label and one summed K label in A (either order: K first is a transposed
 * A), one K and one N label in B, and the result is [batch..., M, N] (or
 * [batch..., N, M], computed as B'A'). That covers "ij,jk->ik",
 * "bij,bjk->bik" and attention's "bhqd,bhkd->bhqk". lower.c counts einsum
 * as a heavy op, so a group holding one is either a GEMM epilogue group
 * headed by it (elementwise consumers fuse into the GEMM's epilogue) or split
 * into single ops.
 *
 * The equation grammar and the implicit-output rule are those of
 * ir/infer_einsum.c (numpy's), which has already checked the equation.
 */
#include <string.h>

#include "kernel/lower.h"

#define ELL 128 /* labels ELL + j: broadcast dim j of '...' (left-aligned over the widest) */
#define NUM_LABELS (ELL + LATHE_MAX_RANK)

typedef struct {
  uint32_t n; /* operands */
  uint32_t rank[LATHE_MAX_RANK + 1];
  uint16_t label[LATHE_MAX_RANK + 1][LATHE_MAX_RANK]; /* [operand][dim] */
  uint32_t out_rank;
  uint16_t out[LATHE_MAX_RANK];
  uint32_t ell_rank; /* the widest '...' */
  bool seen[NUM_LABELS];
  uint32_t count[NUM_LABELS]; /* occurrences over the input terms */
  lathe_kdim_t size[NUM_LABELS];
} eq_t;

static bool is_letter(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* Labels of one term over `rank` dims; '...' covers rank - letters dims,
 * right-aligned against the widest ellipsis (numpy broadcasting). */
static bool term_labels(const char *t, size_t len, uint32_t rank, uint32_t ell_rank,
                        uint16_t *out) {
  uint32_t letters = 0, d = 0;
  for (size_t i = 0; i < len; ++i) letters += is_letter(t[i]);
  if (letters > rank) return false;
  for (size_t i = 0; i < len; ++i) {
    if (is_letter(t[i])) {
      if (d >= rank) return false;
      out[d++] = (uint16_t)(unsigned char)t[i];
    } else if (t[i] == '.') {
      uint32_t e = rank - letters;
      if (e > ell_rank) return false;
      for (uint32_t j = 0; j < e; ++j) out[d++] = (uint16_t)(ELL + ell_rank - e + j);
      i += 2;
    }
  }
  return d == rank;
}

static lathe_status_t parse(lower_ctx_t *c, const lathe_op_t *op, eq_t *e) {
  const char *eq = lathe_op_attr_string(op, "equation");
  const char *arrow = strstr(eq, "->");
  size_t in_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
  memset(e, 0, sizeof *e);
  e->n = op->num_operands;
  if (e->n > LATHE_MAX_RANK + 1) return unsupported(op, "too many operands");
  const char *terms[LATHE_MAX_RANK + 1];
  size_t lens[LATHE_MAX_RANK + 1];
  const char *p = eq;
  for (uint32_t k = 0; k < e->n; ++k) {
    const lval_t *v = lv_operand(c, op, k);
    const char *end = memchr(p, ',', in_len - (size_t)(p - eq));
    terms[k] = p;
    lens[k] = end ? (size_t)(end - p) : in_len - (size_t)(p - eq);
    e->rank[k] = v->rank;
    uint32_t letters = 0;
    for (size_t i = 0; i < lens[k]; ++i) letters += is_letter(p[i]);
    if (letters <= v->rank && v->rank - letters > e->ell_rank) e->ell_rank = v->rank - letters;
    p = end ? end + 1 : p + lens[k];
  }
  for (uint32_t k = 0; k < e->n; ++k) {
    const lval_t *v = lv_operand(c, op, k);
    if (!term_labels(terms[k], lens[k], v->rank, e->ell_rank, e->label[k]))
      return unsupported(op, "equation term %u does not match operand %u", k, k);
    for (uint32_t d = 0; d < v->rank; ++d) {
      uint16_t l = e->label[k][d];
      lathe_kdim_t s = v->dims[d];
      bool unit = lathe_kdim_is_static(s) && s.size == 1;
      /* A label's size: any operand's size other than a broadcast 1. */
      if (!e->seen[l] || (lathe_kdim_is_static(e->size[l]) && e->size[l].size == 1 && !unit))
        e->size[l] = s;
      e->seen[l] = true;
      if (l < ELL) e->count[l]++;
    }
  }
  if (arrow) {
    const char *t = arrow + 2;
    size_t len = strlen(t), letters = 0;
    for (size_t i = 0; i < len; ++i) letters += is_letter(t[i]);
    bool has_ell = strstr(t, "...") != NULL;
    e->out_rank = (uint32_t)letters + (has_ell ? e->ell_rank : 0);
    if (e->out_rank > LATHE_MAX_RANK || !term_labels(t, len, e->out_rank, e->ell_rank, e->out))
      return unsupported(op, "equation output term is malformed");
  } else {
    for (uint32_t j = 0; j < e->ell_rank; ++j) e->out[e->out_rank++] = (uint16_t)(ELL + j);
    for (uint16_t l = 0; l < ELL; ++l)
      if (e->count[l] == 1) {
        if (e->out_rank == LATHE_MAX_RANK) return unsupported(op, "result rank is too large");
        e->out[e->out_rank++] = l;
      }
  }
  return NULL;
}

/* ---- the GEMM path ---- */

/* Operand k's labels are `batch` then {x, y} in some order: *out_last is
 * the label of its last dim. */
static bool gemm_term(const eq_t *e, uint32_t k, const uint16_t *batch, uint32_t nb, uint16_t x,
                      uint16_t y, uint16_t *out_last) {
  if (e->rank[k] != nb + 2) return false;
  for (uint32_t d = 0; d < nb; ++d)
    if (e->label[k][d] != batch[d]) return false;
  uint16_t a = e->label[k][nb], b = e->label[k][nb + 1];
  if (!((a == x && b == y) || (a == y && b == x))) return false;
  *out_last = b;
  return true;
}

/* Operands (ia, ib) as A and B of C = A B with C = the result: the result
 * ends in M (from A) and N (from B), one label K is summed. */
static gemm_pending_t *gemm_try(lower_ctx_t *c, const lathe_op_t *op, const eq_t *e, uint32_t ia,
                                uint32_t ib, const lathe_kdim_t *dims) {
  uint32_t nb = e->out_rank - 2;
  uint16_t m = e->out[nb], n = e->out[nb + 1], k = 0;
  uint32_t ra = e->rank[ia];
  if (ra != nb + 2) return NULL;
  /* K: A's non-batch label that is not M. */
  for (uint32_t d = nb; d < ra; ++d)
    if (e->label[ia][d] != m) k = e->label[ia][d];
  if (k == m || k == n || !k) return NULL;
  for (uint32_t j = 0; j < e->out_rank; ++j)
    if (e->out[j] == k) return NULL;
  uint16_t last_a, last_b;
  if (!gemm_term(e, ia, e->out, nb, m, k, &last_a) || !gemm_term(e, ib, e->out, nb, k, n, &last_b))
    return NULL;
  const lval_t *a = lv_operand(c, op, ia), *b = lv_operand(c, op, ib);
  /* Every label must have one size in both operands (no broadcast 1s). */
  for (uint32_t d = 0; d < ra; ++d)
    if (!dim_eq(a->dims[d], e->size[e->label[ia][d]]) ||
        !dim_eq(b->dims[d], e->size[e->label[ib][d]]))
      return NULL;
  return gemm_plan(c, a, b, last_a == m, last_b == k, dims, e->out_rank);
}

static gemm_pending_t *as_gemm(lower_ctx_t *c, const lathe_op_t *op, const eq_t *e,
                               const lathe_kdim_t *dims) {
  /* lower.c keeps a group with an einsum only as a GEMM epilogue group
   * headed by it. */
  if (e->n != 2 || e->out_rank < 2 || c->group[0] != op) return NULL;
  const lval_t *a = lv_operand(c, op, 0), *b = lv_operand(c, op, 1);
  if (!a->buf || !b->buf || lathe_dtype_is_integer(a->dtype) != lathe_dtype_is_integer(b->dtype))
    return NULL;
  /* The summed labels: exactly one, in both operands. */
  uint32_t summed = 0;
  for (uint16_t l = 0; l < NUM_LABELS; ++l) {
    bool in_out = false;
    for (uint32_t j = 0; j < e->out_rank; ++j) in_out |= e->out[j] == l;
    summed += e->seen[l] && !in_out;
  }
  if (summed != 1) return NULL;
  gemm_pending_t *g = gemm_try(c, op, e, 0, 1, dims);
  return g ? g : gemm_try(c, op, e, 1, 0, dims);
}

/* ---- the LOOPS path ---- */

lathe_status_t lower_einsum(lower_ctx_t *c, const lathe_op_t *op) {
  eq_t e;
  LATHE_RETURN_IF_ERROR(parse(c, op, &e));
  /* Iterators: result labels, then summed labels in first-seen order. */
  uint16_t order[NUM_LABELS];
  int32_t iter_of[NUM_LABELS];
  uint32_t num_iters = 0;
  for (uint32_t l = 0; l < NUM_LABELS; ++l) iter_of[l] = -1;
  for (uint32_t j = 0; j < e.out_rank; ++j) {
    if (!e.seen[e.out[j]]) return unsupported(op, "an output label is not in the inputs");
    iter_of[e.out[j]] = (int32_t)num_iters;
    order[num_iters++] = e.out[j];
  }
  uint32_t num_out = num_iters;
  for (uint32_t k = 0; k < e.n; ++k)
    for (uint32_t d = 0; d < e.rank[k]; ++d)
      if (iter_of[e.label[k][d]] < 0) {
        if (num_iters == LATHE_KMAX_ITERS) return unsupported(op, "too many labels");
        iter_of[e.label[k][d]] = (int32_t)num_iters;
        order[num_iters++] = e.label[k][d];
      }
  lathe_kdim_t ext[LATHE_KMAX_ITERS], dims[LATHE_MAX_RANK];
  for (uint32_t i = 0; i < num_iters; ++i) ext[i] = e.size[order[i]];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, ext, dims));
  for (uint32_t i = 0; i < num_out; ++i) ext[i] = dims[i];
  gemm_pending_t *g = as_gemm(c, op, &e, dims);
  if (g) {
    set_expr(c, op, 0, dims, lathe_kexpr_acc(c->p, gemm_acc_dtype(g)), g);
    return NULL;
  }
  lathe_dtype_t dtype = op->results[0].type.dtype, cd = compute_dtype(dtype);
  const lathe_kexpr_t *it[LATHE_KMAX_ITERS], *value = NULL;
  iters(c, num_iters, it);
  for (uint32_t k = 0; k < e.n; ++k) {
    const lval_t *v = lv_operand(c, op, k);
    const lathe_kexpr_t *idx[LATHE_MAX_RANK];
    for (uint32_t d = 0; d < v->rank; ++d) {
      uint16_t l = e.label[k][d];
      bool unit = lathe_kdim_is_static(v->dims[d]) && v->dims[d].size == 1;
      idx[d] = unit ? kint(c, 0) : it[iter_of[l]];
    }
    const lathe_kexpr_t *x = lv_at(c, v, idx);
    value = value ? kbin(c, LATHE_KOP_MUL, value, x) : x;
  }
  if (num_iters == num_out) {
    set_expr(c, op, 0, dims, value, NULL);
    return NULL;
  }
  const lathe_kbuffer_t *t =
      cd == dtype ? set_buffer(c, op, 0, dims) : scratch(c, "acc", cd, num_out, dims);
  lathe_kstmt_desc_t s = {.num_iters = num_iters,
                          .extents = ext,
                          .num_reduce = num_iters - num_out,
                          .target = t,
                          .target_index = it,
                          .value = lathe_kexpr_cast(c->p, cd, value),
                          .combiner = LATHE_KCOMB_SUM,
                          .init = kf(c, cd, 0)};
  LATHE_RETURN_IF_ERROR(emit(c, &s));
  if (cd != dtype) set_expr(c, op, 0, dims, lathe_kexpr_load(c->p, t, it), NULL);
  return NULL;
}

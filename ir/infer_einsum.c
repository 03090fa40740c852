/* Inference for einsum: parses the equation and derives the result shape.
 *
 *   equation := term (',' term)* ['->' term]      spaces are ignored
 *   term     := (LETTER | '...')*                 at most one '...' per term
 *
 * Each letter names one dim; every occurrence of a letter must have a
 * compatible size. '...' stands for the dims not named by letters; those
 * broadcast across operands like numpy. Without '->' (implicit mode) the
 * result is the broadcast '...' dims followed by the letters that occur
 * exactly once, in ASCII order (numpy's rule). An explicit output may name
 * each letter at most once; letters it omits are summed over.
 */
#include <string.h>

#include "ir/infer.h"

#define NUM_LABELS 128 /* indexed by ASCII code */

typedef struct {
  const char *text; /* start of the term */
  size_t len;
} term_t;

typedef struct {
  lathe_dim_t dim[NUM_LABELS];
  uint32_t count[NUM_LABELS]; /* occurrences over all input terms */
  uint32_t ell_rank;
  lathe_dim_t ell[LATHE_MAX_RANK]; /* broadcast dims covered by '...' */
} einsum_t;

static bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Counts letters in a term and checks its characters; sets *out_ellipsis. */
static lathe_status_t scan_term(term_t t, uint32_t *out_letters, bool *out_ellipsis) {
  uint32_t letters = 0;
  bool ell = false;
  for (size_t i = 0; i < t.len; ++i) {
    char c = t.text[i];
    if (c == ' ') continue;
    if (c == '.') {
      if (ell || i + 2 >= t.len || t.text[i + 1] != '.' || t.text[i + 2] != '.')
        return LATHE_INFER_ERROR("equation has a malformed or repeated '...' in \"%.*s\"",
                                 (int)t.len, t.text);
      ell = true;
      i += 2;
    } else if (is_letter(c)) {
      ++letters;
    } else {
      return LATHE_INFER_ERROR("equation has an unexpected character '%c'", c);
    }
  }
  *out_letters = letters;
  *out_ellipsis = ell;
  return NULL;
}

/* Binds the labels of input term `k` to the dims of operand type `t`. */
static lathe_status_t bind_term(einsum_t *e, uint32_t k, term_t term, const lathe_type_t *t) {
  uint32_t letters;
  bool ell;
  LATHE_RETURN_IF_ERROR(scan_term(term, &letters, &ell));
  if (letters > t->rank || (!ell && letters != t->rank))
    return LATHE_INFER_ERROR("equation term %u names %u dims but operand %u has rank %u", k,
                             letters, k, t->rank);
  uint32_t ell_rank = t->rank - letters, d = 0;
  for (size_t i = 0; i < term.len; ++i) {
    char c = term.text[i];
    if (c == ' ') continue;
    if (c == '.') {
      lathe_dim_t acc[LATHE_MAX_RANK];
      memcpy(acc, e->ell, sizeof acc);
      LATHE_RETURN_IF_ERROR_CTX(
          lathe_broadcast_dims(e->ell_rank, acc, ell_rank, t->dims + d, &e->ell_rank, e->ell),
          "equation '...' of operand %u", k);
      d += ell_rank;
      i += 2;
      continue;
    }
    unsigned char l = (unsigned char)c;
    lathe_dim_t merged = t->dims[d];
    if (e->count[l] && !lathe_dim_merge(e->dim[l], t->dims[d], &merged)) {
      char a[32], b[32];
      return LATHE_INFER_ERROR("equation label '%c' has sizes %s and %s", c,
                               lathe_dim_str(e->dim[l], a, sizeof a),
                               lathe_dim_str(t->dims[d], b, sizeof b));
    }
    e->dim[l] = merged;
    e->count[l]++;
    ++d;
  }
  return NULL;
}

lathe_status_t lathe_infer_einsum(lathe_infer_ctx_t *ctx) {
  const char *eq = lathe_op_attr_string(ctx->op, "equation");
  const char *arrow = strstr(eq, "->");
  size_t inputs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
  uint32_t n = ctx->op->num_operands;
  einsum_t e;
  memset(&e, 0, sizeof e);
  const char *p = eq;
  for (uint32_t k = 0; k < n; ++k) {
    const char *end = memchr(p, ',', inputs_len - (size_t)(p - eq));
    term_t term = {p, end ? (size_t)(end - p) : inputs_len - (size_t)(p - eq)};
    if (!end && k + 1 < n)
      return LATHE_INFER_ERROR("equation has %u input terms but the op has %u operands", k + 1, n);
    if (end && k + 1 == n)
      return LATHE_INFER_ERROR("equation has more input terms than the op's %u operands", n);
    if (!lathe_infer_has_operand(ctx, k))
      return LATHE_INFER_ERROR("operand %u is missing", k);
    if (k > 0) LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, k));
    LATHE_RETURN_IF_ERROR(bind_term(&e, k, term, lathe_infer_operand_type(ctx, k)));
    p = end ? end + 1 : p + term.len;
  }
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank = 0;
  if (!arrow) {
    for (uint32_t i = 0; i < e.ell_rank; ++i) dims[rank++] = e.ell[i];
    for (int l = 0; l < NUM_LABELS; ++l)
      if (e.count[l] == 1) {
        if (rank == LATHE_MAX_RANK)
          return LATHE_INFER_ERROR("result rank exceeds %d", LATHE_MAX_RANK);
        dims[rank++] = e.dim[l];
      }
  } else {
    term_t out = {arrow + 2, strlen(arrow + 2)};
    uint32_t letters;
    bool ell;
    LATHE_RETURN_IF_ERROR(scan_term(out, &letters, &ell));
    (void)letters;
    bool used[NUM_LABELS] = {0};
    for (size_t i = 0; i < out.len; ++i) {
      char c = out.text[i];
      if (c == ' ') continue;
      if (rank == LATHE_MAX_RANK) return LATHE_INFER_ERROR("result rank exceeds %d", LATHE_MAX_RANK);
      if (c == '.') {
        if (rank + e.ell_rank > LATHE_MAX_RANK)
          return LATHE_INFER_ERROR("result rank exceeds %d", LATHE_MAX_RANK);
        for (uint32_t j = 0; j < e.ell_rank; ++j) dims[rank++] = e.ell[j];
        i += 2;
        continue;
      }
      unsigned char l = (unsigned char)c;
      if (!e.count[l])
        return LATHE_INFER_ERROR("equation output label '%c' does not occur in the inputs", c);
      if (used[l]) return LATHE_INFER_ERROR("equation output label '%c' is repeated", c);
      used[l] = true;
      dims[rank++] = e.dim[l];
    }
  }
  lathe_infer_set_result(ctx, 0, lathe_infer_operand_type(ctx, 0)->dtype, rank, dims);
  return NULL;
}

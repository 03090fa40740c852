/* Inference for matrix products. */
#include <inttypes.h>

#include "ir/infer.h"

static void print_dim(char *buf, size_t n, lathe_dim_t d) {
  if (d.sym) snprintf(buf, n, "%s", d.sym);
  else if (d.size < 0) snprintf(buf, n, "?");
  else snprintf(buf, n, "%" PRId64, d.size);
}

/* numpy matmul: 1-D operands are promoted (and the added dim removed after),
 * leading (batch) dims broadcast. */
lathe_status_t lathe_infer_matmul(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
  const lathe_type_t *a = lathe_infer_operand_type(ctx, 0);
  const lathe_type_t *b = lathe_infer_operand_type(ctx, 1);
  if (a->rank == 0 || b->rank == 0)
    return lathe_status_make(LATHE_STATUS_VERIFY_ERROR, "operands must have rank >= 1");
  lathe_dim_t one = lathe_dim_static(1);
  lathe_dim_t ak = a->dims[a->rank - 1];
  lathe_dim_t bk = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (!lathe_dim_compatible(ak, bk)) {
    char sa[32], sb[32];
    print_dim(sa, sizeof sa, ak);
    print_dim(sb, sizeof sb, bk);
    return lathe_status_make(LATHE_STATUS_VERIFY_ERROR,
                             "contraction dims differ: %s (operand 0) vs %s (operand 1)", sa, sb);
  }
  uint32_t a_batch = a->rank > 2 ? a->rank - 2 : 0, b_batch = b->rank > 2 ? b->rank - 2 : 0;
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank = 0;
  LATHE_RETURN_IF_ERROR(lathe_broadcast_dims(a_batch, a->dims, b_batch, b->dims, &rank, dims));
  if (rank + 2 > LATHE_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "result rank exceeds %d", LATHE_MAX_RANK);
  if (a->rank >= 2) dims[rank++] = a->dims[a->rank - 2];
  if (b->rank >= 2) dims[rank++] = b->dims[b->rank - 1];
  (void)one;
  lathe_infer_set_result(ctx, 0, a->dtype, rank, dims);
  return NULL;
}

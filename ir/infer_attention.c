/* Inference for the transformer building blocks that are ops of their own:
 * attention and rotary_embedding.
 *
 * Spelling attention out of matmul, softmax and a mask would need the causal
 * mask as a [S, T] tensor, whose size is symbolic, and GQA as a repeat of the
 * key/value heads, whose count is a product of dims; both lose the symbolic
 * `seq` and hide from compression passes which matmul is the attention. As
 * ops they keep the shapes exact and say what they compute. docs/ops.md states
 * the math both follow.
 */
#include <inttypes.h>
#include <math.h>

#include "ir/infer.h"

/* Merges two dims that must agree, or explains which ones do not. */
static lathe_status_t merge(lathe_dim_t x, uint32_t a, lathe_dim_t y, uint32_t b, const char *what,
                            lathe_dim_t *out) {
  if (lathe_dim_merge(x, y, out)) return NULL;
  char sx[32], sy[32];
  return LATHE_INFER_ERROR("%s differs: %s in operand %u, %s in operand %u", what,
                           lathe_dim_str(x, sx, sizeof sx), a, lathe_dim_str(y, sy, sizeof sy), b);
}

lathe_status_t lathe_infer_attention(lathe_infer_ctx_t *ctx) {
  for (uint32_t i = 0; i < 3; ++i) {
    LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, i, LATHE_DTC_FLOAT));
    LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, i, 4, 4));
  }
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 2));
  const lathe_dim_t *q = lathe_infer_operand_type(ctx, 0)->dims;
  const lathe_dim_t *k = lathe_infer_operand_type(ctx, 1)->dims;
  const lathe_dim_t *v = lathe_infer_operand_type(ctx, 2)->dims;
  lathe_dim_t batch, kv_heads, keys, head_size;
  LATHE_RETURN_IF_ERROR(merge(q[0], 0, k[0], 1, "batch dim", &batch));
  LATHE_RETURN_IF_ERROR(merge(batch, 0, v[0], 2, "batch dim", &batch));
  LATHE_RETURN_IF_ERROR(merge(k[1], 1, v[1], 2, "key/value head count", &kv_heads));
  LATHE_RETURN_IF_ERROR(merge(k[2], 1, v[2], 2, "key/value length", &keys));
  LATHE_RETURN_IF_ERROR(merge(q[3], 0, k[3], 1, "query/key head size", &head_size));
  if (lathe_dim_is_static(kv_heads) && kv_heads.size == 0 &&
      !(lathe_dim_is_static(q[1]) && q[1].size == 0))
    return LATHE_INFER_ERROR("0 key/value heads cannot serve the query heads");
  if (lathe_dim_is_static(kv_heads) && kv_heads.size > 0 && lathe_dim_is_static(q[1]) &&
      q[1].size % kv_heads.size != 0)
    return LATHE_INFER_ERROR("%" PRId64 " key/value heads do not divide %" PRId64 " query heads",
                             kv_heads.size, q[1].size);
  if (lathe_infer_has_operand(ctx, 3)) {
    if (lathe_infer_operand_type(ctx, 3)->dtype != LATHE_DTYPE_BOOL)
      LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 3));
    lathe_dim_t scores[4] = {batch, q[1], q[2], keys};
    lathe_type_t target = {lathe_infer_operand_type(ctx, 0)->dtype, 4, scores};
    LATHE_RETURN_IF_ERROR(lathe_infer_unidirectional(&target, lathe_infer_operand_type(ctx, 3), 3));
  }
  lathe_dim_t out[4] = {batch, q[1], q[2], v[3]};
  lathe_infer_set_result(ctx, 0, lathe_infer_operand_type(ctx, 0)->dtype, 4, out);
  return NULL;
}

lathe_status_t lathe_verify_attention(const lathe_op_t *op) {
  LATHE_RETURN_IF_ERROR(lathe_verify_flags(op));
  double scale = lathe_op_attr_float(op, "scale");
  if (!(scale >= 0.0 && isfinite(scale)))
    return LATHE_INFER_ERROR("attribute 'scale' must be finite and >= 0 (0: 1/sqrt(head size)), "
                             "got %g",
                             scale);
  return NULL;
}

lathe_status_t lathe_infer_rotary_embedding(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 4, 4));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  lathe_dim_t d = x->dims[3];
  if (lathe_dim_is_static(d) && d.size % 2 != 0)
    return LATHE_INFER_ERROR("head size %" PRId64 " is odd; rotations need feature pairs", d.size);
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, x->dims);
  return NULL;
}

lathe_status_t lathe_verify_rotary_embedding(const lathe_op_t *op) {
  LATHE_RETURN_IF_ERROR(lathe_verify_flags(op));
  double theta = lathe_op_attr_float(op, "theta");
  if (!(theta > 0.0 && isfinite(theta)))
    return LATHE_INFER_ERROR("attribute 'theta' must be finite and > 0, got %g", theta);
  return NULL;
}

/* rotary_embedding_cached: x [B, H, S, D] or [B, S, num_heads * D]; the
 * caches [P, R/2] with position_ids [B, S], else [B, S, R/2]. */
lathe_status_t lathe_infer_rotary_cached(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 3, 4));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 2));
  bool positions = lathe_infer_has_operand(ctx, 3);
  uint32_t cache_rank = positions ? 2 : 3;
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 1, cache_rank, cache_rank));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 2, cache_rank, cache_rank));
  if (positions) {
    LATHE_RETURN_IF_ERROR(lathe_infer_require_index_dtype(ctx, 3));
    LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 3, 2, 2));
  }
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  int64_t heads = lathe_op_attr_int(ctx->op, "num_heads");
  int64_t rot = lathe_op_attr_int(ctx->op, "rotary_embedding_dim");
  if (x->rank == 3 && heads <= 0)
    return LATHE_INFER_ERROR("a 3-D x needs attribute 'num_heads' > 0");
  if (rot < 0 || rot % 2 != 0)
    return LATHE_INFER_ERROR("attribute 'rotary_embedding_dim' must be even and >= 0, got %" PRId64,
                             rot);
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, x->dims);
  return NULL;
}

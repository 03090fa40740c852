/* Inference for linear (de)quantization. The scale (and zero point, which
 * has the scale's shape) is one of:
 *   per tensor   a scalar
 *   per axis     1-D, the length of x's dim `axis`        (block_size = 0)
 *   blocked      x's rank, dim `axis` = ceil(x dim / block_size), the rest equal
 * quantize_linear's result takes the zero point's dtype, else output_dtype,
 * else u8; dequantize_linear's takes the scale's dtype.
 */
#include <inttypes.h>

#include "ir/infer.h"

static lathe_status_t check_scale_shape(const lathe_infer_ctx_t *ctx, uint32_t si) {
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0), *s = lathe_infer_operand_type(ctx, si);
  int64_t block = lathe_op_attr_int(ctx->op, "block_size");
  if (block < 0) return LATHE_INFER_ERROR("block_size must be >= 0, got %" PRId64, block);
  bool scalar = s->rank == 0 || (s->rank == 1 && lathe_dim_is_static(s->dims[0]) &&
                                 s->dims[0].size == 1 && block == 0);
  if (scalar) return NULL;
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), x->rank, &axis));
  if (block == 0) return lathe_infer_require_vector(ctx, si, x->dims[axis]);
  char a[32], b[32];
  if (s->rank != x->rank)
    return LATHE_INFER_ERROR("blocked quantization needs operand %u of rank %u, got %u", si,
                             x->rank, s->rank);
  for (uint32_t i = 0; i < x->rank; ++i) {
    lathe_dim_t want = x->dims[i];
    if (i == axis)
      want = lathe_dim_is_static(want) ? lathe_dim_static(want.size / block + (want.size % block != 0))
             : block == 1                ? want
                                         : lathe_dim_unknown();
    if (!lathe_dim_compatible(s->dims[i], want))
      return LATHE_INFER_ERROR("operand %u has dim %u of size %s, expected %s", si, i,
                               lathe_dim_str(s->dims[i], a, sizeof a), lathe_dim_str(want, b, sizeof b));
  }
  return NULL;
}

/* True when every dim is a static 1 (a scalar has none). */
static bool is_single_element(const lathe_type_t *t) {
  for (uint32_t i = 0; i < t->rank; ++i)
    if (!lathe_dim_is_static(t->dims[i]) || t->dims[i].size != 1) return false;
  return true;
}

/* Scale (operand 1) and optional zero point (operand 2): float scale, zero
 * point of the scale's shape. */
static lathe_status_t check_params(const lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 1, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(check_scale_shape(ctx, 1));
  if (!lathe_infer_has_operand(ctx, 2)) return NULL;
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 2, LATHE_DTC_INT));
  const lathe_type_t *s = lathe_infer_operand_type(ctx, 1), *z = lathe_infer_operand_type(ctx, 2);
  /* ONNX's own tests pair a scalar scale with a [1] zero point: one element
   * each is the same per-tensor parameter. */
  if (!lathe_type_compatible(&(lathe_type_t){z->dtype, s->rank, s->dims}, z) &&
      !(is_single_element(s) && is_single_element(z)))
    return LATHE_INFER_ERROR("the zero point's shape differs from the scale's");
  return NULL;
}

lathe_status_t lathe_infer_quantize_linear(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  if (!lathe_dtype_is_float(x->dtype) && x->dtype != LATHE_DTYPE_I32)
    return LATHE_INFER_ERROR("operand 0 must be float or i32, got %s", lathe_dtype_name(x->dtype));
  LATHE_RETURN_IF_ERROR(check_params(ctx));
  lathe_dtype_t out = lathe_op_attr_dtype(ctx->op, "output_dtype");
  if (lathe_infer_has_operand(ctx, 2)) {
    lathe_dtype_t zp = lathe_infer_operand_type(ctx, 2)->dtype;
    if (out && out != zp)
      return LATHE_INFER_ERROR("output_dtype %s differs from the zero point's dtype %s",
                               lathe_dtype_name(out), lathe_dtype_name(zp));
    out = zp;
  }
  if (!out) out = LATHE_DTYPE_U8;
  if (!lathe_dtype_is_integer(out))
    return LATHE_INFER_ERROR("output_dtype must be an integer dtype, got %s", lathe_dtype_name(out));
  lathe_infer_set_result(ctx, 0, out, x->rank, x->dims);
  return NULL;
}

lathe_status_t lathe_infer_dequantize_linear(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_INT));
  LATHE_RETURN_IF_ERROR(check_params(ctx));
  if (lathe_infer_has_operand(ctx, 2))
    LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 2));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  lathe_infer_set_result(ctx, 0, lathe_infer_operand_type(ctx, 1)->dtype, x->rank, x->dims);
  return NULL;
}

lathe_status_t lathe_infer_dynamic_quantize_linear(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  if (x->dtype != LATHE_DTYPE_F32)
    return LATHE_INFER_ERROR("operand 0 must be f32, got %s", lathe_dtype_name(x->dtype));
  lathe_infer_set_result(ctx, 0, LATHE_DTYPE_U8, x->rank, x->dims);
  lathe_infer_set_result(ctx, 1, LATHE_DTYPE_F32, 0, NULL);
  lathe_infer_set_result(ctx, 2, LATHE_DTYPE_U8, 0, NULL);
  return NULL;
}

lathe_status_t lathe_verify_quantize(const lathe_op_t *op) { return lathe_verify_flags(op); }

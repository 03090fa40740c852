/* Shape/type inference and extra verification functions named in ops.def.
 * Internal to ir/: passes use lathe_build_op / the verifier, not these.
 *
 * Families: one function serves every op with the same typing rule
 * (lathe_infer_unary_float for float activations, lathe_infer_binary_numeric
 * for broadcasting arithmetic, ...), so an op's dtype constraint is read off
 * the name of its inference function in ops.def. Helpers at the bottom are
 * shared by the inference files.
 *
 * Contract of every inference function: it reads operand types and
 * attributes of ctx->op (required operands are present; attributes may be
 * absent, of the wrong kind or nonsensical: such input yields an error status,
 * never a crash), fills ctx->results[0 .. ctx->num_results) and returns NULL,
 * or returns an unlocated status whose message completes "op 'NAME': ...".
 * Dims that would need an expression over symbols become unknown (`?`).
 *
 * Verify functions run on a parsed op after the attribute schema check and
 * before inference; they check what inference does not need (enumerated
 * string values, 0/1 flags, value ranges that do not change the shape).
 */
#ifndef LATHE_IR_INFER_H
#define LATHE_IR_INFER_H

#include "ir/ir.h"

/* ---- elementwise (infer_elementwise.c) ---- */
lathe_status_t lathe_infer_same_as_operand0(lathe_infer_ctx_t *ctx); /* any dtype */
lathe_status_t lathe_infer_unary_float(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_unary_numeric(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_unary_signed(lathe_infer_ctx_t *ctx); /* float or signed int */
lathe_status_t lathe_infer_unary_int(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_unary_bool(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_float_to_bool(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_binary_numeric(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_binary_int(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_binary_uint(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_binary_bool(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_compare(lathe_infer_ctx_t *ctx);    /* numeric -> bool */
lathe_status_t lathe_infer_equal(lathe_infer_ctx_t *ctx);      /* any -> bool */
lathe_status_t lathe_infer_pow(lathe_infer_ctx_t *ctx);        /* base and exponent may differ */
lathe_status_t lathe_infer_prelu(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_variadic_numeric(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_variadic_float(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_where(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_clip(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_dropout(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_cast(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_cast_like(lathe_infer_ctx_t *ctx);

/* ---- linear algebra (infer_linalg.c, infer_einsum.c) ---- */
lathe_status_t lathe_infer_matmul(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_gemm(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_matmul_integer(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_qlinear_matmul(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_einsum(lathe_infer_ctx_t *ctx);

/* ---- convolution and pooling (infer_conv.c, infer_pool.c) ---- */
lathe_status_t lathe_infer_conv(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_conv_transpose(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_conv_integer(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_qlinear_conv(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_pool(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_global_pool(lathe_infer_ctx_t *ctx);

/* ---- normalization and softmax (infer_norm.c) ---- */
lathe_status_t lathe_infer_batch_norm(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_layer_norm(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_rms_norm(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_instance_norm(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_group_norm(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_lrn(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_mvn(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_softmax(lathe_infer_ctx_t *ctx);

/* ---- attention (infer_attention.c) ---- */
lathe_status_t lathe_infer_attention(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_loss(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_rotary_cached(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_eye_like(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_rotary_embedding(lathe_infer_ctx_t *ctx);

/* ---- reductions (infer_reduce.c) ---- */
lathe_status_t lathe_infer_reduce(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_arg_reduce(lathe_infer_ctx_t *ctx);

/* ---- data movement (infer_shape_ops.c, infer_slice.c, infer_index.c,
 *      infer_resize.c) ---- */
lathe_status_t lathe_infer_transpose(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_reshape(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_flatten(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_squeeze(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_unsqueeze(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_concat(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_split(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_slice(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_expand(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_tile(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_pad(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_shape(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_size(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_iota(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_trilu(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_cum_sum(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_gather(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_gather_elements(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_gather_nd(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_scatter_elements(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_scatter_nd(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_one_hot(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_top_k(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_range(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_nonzero(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_unique(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_resize(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_depth_to_space(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_space_to_depth(lathe_infer_ctx_t *ctx);

/* ---- quantization (infer_quant.c) ---- */
lathe_status_t lathe_infer_quantize_linear(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_dequantize_linear(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_dynamic_quantize_linear(lathe_infer_ctx_t *ctx);

/* Sliding windows (convolution and pooling), read from the op's auto_pad,
 * kernel_shape, strides, dilations, pads and ceil_mode attributes. */
typedef enum {
  LATHE_AUTO_PAD_NOTSET,
  LATHE_AUTO_PAD_SAME_UPPER,
  LATHE_AUTO_PAD_SAME_LOWER,
  LATHE_AUTO_PAD_VALID,
} lathe_auto_pad_t;

typedef struct lathe_window {
  uint32_t n; /* spatial dims */
  lathe_auto_pad_t auto_pad;
  bool ceil_mode;
  int64_t kernel[LATHE_MAX_RANK]; /* -1: unknown (symbolic weight dim) */
  int64_t strides[LATHE_MAX_RANK], dilations[LATHE_MAX_RANK];
  int64_t pads[2 * LATHE_MAX_RANK]; /* begins, then ends */
} lathe_window_t;

/* Reads and checks the window attributes for `spatial` dims. kernel_shape
 * defaults to `weight_kernel` (the weight's spatial dims) when that is given. */
lathe_status_t lathe_window_read(const lathe_op_t *op, uint32_t spatial,
                                 const lathe_dim_t *weight_kernel, lathe_window_t *out);
/* Output size of spatial dim i for input size `in` (ONNX conv/pool rules,
 * including SAME_* padding, dilation and ceil_mode). */
lathe_status_t lathe_window_out_dim(const lathe_window_t *w, uint32_t i, lathe_dim_t in,
                                    lathe_dim_t *out);

/* ---- extra verifiers ---- */
lathe_status_t lathe_verify_window(const lathe_op_t *op); /* conv and pool attributes */
lathe_status_t lathe_verify_const(const lathe_op_t *op);
lathe_status_t lathe_verify_gelu(const lathe_op_t *op);
lathe_status_t lathe_verify_dropout(const lathe_op_t *op);
lathe_status_t lathe_verify_mod(const lathe_op_t *op);
lathe_status_t lathe_verify_bit_shift(const lathe_op_t *op);
lathe_status_t lathe_verify_cast(const lathe_op_t *op);
lathe_status_t lathe_verify_conv(const lathe_op_t *op);
lathe_status_t lathe_verify_pool(const lathe_op_t *op);
lathe_status_t lathe_verify_norm(const lathe_op_t *op);
lathe_status_t lathe_verify_lrn(const lathe_op_t *op);
lathe_status_t lathe_verify_reshape(const lathe_op_t *op);
lathe_status_t lathe_verify_pad(const lathe_op_t *op);
lathe_status_t lathe_verify_flags(const lathe_op_t *op); /* every INT attribute is 0 or 1 */
lathe_status_t lathe_verify_scatter(const lathe_op_t *op);
lathe_status_t lathe_verify_resize(const lathe_op_t *op);
lathe_status_t lathe_verify_depth_to_space(const lathe_op_t *op);
lathe_status_t lathe_verify_quantize(const lathe_op_t *op);
lathe_status_t lathe_verify_attention(const lathe_op_t *op);
lathe_status_t lathe_verify_loss(const lathe_op_t *op);
lathe_status_t lathe_verify_lp_normalization(const lathe_op_t *op);
lathe_status_t lathe_verify_rotary_embedding(const lathe_op_t *op);

/* ---- helpers ---- */

/* Operand dtype classes, masks of the LATHE_DTYPE_* class flags. */
enum {
  LATHE_DTC_FLOAT = LATHE_DTYPE_FLOAT,
  LATHE_DTC_SINT = LATHE_DTYPE_SIGNED,
  LATHE_DTC_UINT = LATHE_DTYPE_UNSIGNED,
  LATHE_DTC_BOOL = LATHE_DTYPE_BOOLEAN,
  LATHE_DTC_INT = LATHE_DTC_SINT | LATHE_DTC_UINT,
  LATHE_DTC_SIGNED = LATHE_DTC_FLOAT | LATHE_DTC_SINT,
  LATHE_DTC_NUMERIC = LATHE_DTC_FLOAT | LATHE_DTC_INT,
  LATHE_DTC_ANY = LATHE_DTC_NUMERIC | LATHE_DTC_BOOL,
};

/* An unlocated verification failure; the caller adds "op 'NAME': ". */
#define LATHE_INFER_ERROR(...) lathe_status_make(LATHE_STATUS_VERIFY_ERROR, __VA_ARGS__)

/* Type of operand i (must be present). */
static inline const lathe_type_t *lathe_infer_operand_type(const lathe_infer_ctx_t *ctx,
                                                           uint32_t i) {
  return &ctx->op->operands[i].value->type;
}
/* True when optional operand i is present. */
static inline bool lathe_infer_has_operand(const lathe_infer_ctx_t *ctx, uint32_t i) {
  return i < ctx->op->num_operands && ctx->op->operands[i].value != NULL;
}
/* Sets result i to dtype + dims (copied into the arena). */
void lathe_infer_set_result(lathe_infer_ctx_t *ctx, uint32_t i, lathe_dtype_t dtype,
                            uint32_t rank, const lathe_dim_t *dims);
/* Error unless operands a and b have the same dtype. */
lathe_status_t lathe_infer_require_same_dtype(const lathe_infer_ctx_t *ctx, uint32_t a,
                                              uint32_t b);
/* Error unless operand i's dtype is in `classes` (LATHE_DTC_*). */
lathe_status_t lathe_infer_require_dtype(const lathe_infer_ctx_t *ctx, uint32_t i,
                                         unsigned classes);
/* Error unless operand i is i32 or i64 (index tensors). */
lathe_status_t lathe_infer_require_index_dtype(const lathe_infer_ctx_t *ctx, uint32_t i);
/* Error unless operand i is i8 or u8 (quantized integer operands). */
lathe_status_t lathe_infer_require_8bit(const lathe_infer_ctx_t *ctx, uint32_t i);
/* When optional zero point `zp` is present: error unless it has operand q's dtype. */
lathe_status_t lathe_infer_check_zero_point(const lathe_infer_ctx_t *ctx, uint32_t zp, uint32_t q);
/* Error unless operand i has a rank in [min_rank, max_rank]. */
lathe_status_t lathe_infer_require_rank(const lathe_infer_ctx_t *ctx, uint32_t i,
                                        uint32_t min_rank, uint32_t max_rank);
/* Error unless operand i is a scalar: rank 0, or every dim a static 1. */
lathe_status_t lathe_infer_require_scalar(const lathe_infer_ctx_t *ctx, uint32_t i);
/* Error unless operand i is a 1-D tensor whose dim is compatible with `len`. */
lathe_status_t lathe_infer_require_vector(const lathe_infer_ctx_t *ctx, uint32_t i,
                                          lathe_dim_t len);

/* Writes a dim as text ("3", "N", "?") into buf and returns buf. */
const char *lathe_dim_str(lathe_dim_t d, char *buf, size_t n);
/* Two dims that must be equal at run time: false when they cannot be (two
 * different static sizes); otherwise the more precise one (static over
 * symbolic; two different symbols give unknown). */
bool lathe_dim_merge(lathe_dim_t a, lathe_dim_t b, lathe_dim_t *out_dim);
/* Product of dims: static when all are, the lone non-1 symbol when the rest
 * are static 1s, unknown otherwise. Error on overflow. */
lathe_status_t lathe_dims_product(const lathe_dim_t *dims, uint32_t n, lathe_dim_t *out_dim);
/* Sum of two dims (static only; one static 0 keeps the other; unknown otherwise). */
lathe_status_t lathe_dim_add(lathe_dim_t a, lathe_dim_t b, lathe_dim_t *out_dim);

/* Normalizes the INTS attribute `name` as axes against `rank`: each in
 * [-rank, rank), no repeats. Writes the count and a bitmask of the axes. */
lathe_status_t lathe_infer_axes_attr(const lathe_op_t *op, const char *name, uint32_t rank,
                                     uint32_t *out_count, uint32_t *out_mask);
/* Normalizes a list of axes the same way, writing them in list order. */
lathe_status_t lathe_normalize_axes(const int64_t *axes, size_t n, uint32_t rank,
                                    uint32_t *out_axes);
/* Error unless the STRING attribute `name` (or its default) is one of the
 * '|'-separated `choices`. */
lathe_status_t lathe_infer_check_enum(const lathe_op_t *op, const char *name,
                                      const char *choices);
/* Shape of `source` stretches to `target` (ONNX unidirectional broadcast):
 * error naming operand `source_index` otherwise. */
lathe_status_t lathe_infer_unidirectional(const lathe_type_t *target, const lathe_type_t *source,
                                          uint32_t source_index);

#endif

/* Shape/type inference and extra verification functions named in ops.def.
 * Internal to ir/: passes use lathe_build_op / the verifier, not these.
 *
 * Families: one function serves every op with the same typing rule
 * (lathe_infer_same_as_operand0 for unary elementwise ops, lathe_infer_broadcast
 * for binary arithmetic, ...). Helpers at the bottom are shared by the
 * inference files.
 */
#ifndef LATHE_IR_INFER_H
#define LATHE_IR_INFER_H

#include "ir/ir.h"

/* ---- inference families ---- */
lathe_status_t lathe_infer_same_as_operand0(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_broadcast(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_matmul(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_transpose(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_reshape(lathe_infer_ctx_t *ctx);
lathe_status_t lathe_infer_cast(lathe_infer_ctx_t *ctx);

/* ---- extra verifiers ---- */
lathe_status_t lathe_verify_const(const lathe_op_t *op);

/* ---- helpers ---- */
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

#endif

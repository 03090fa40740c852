/* Internals of the lowering from graph IR to kernel IR (lower*.c), not an API.
 *
 * While a fusion group is lowered, every graph value it touches has an lval:
 * either materialized in a buffer, or an expression over the value's own
 * index (ITER 0 .. rank-1) that consumers substitute their index into. An
 * elementwise op just composes its operands' expressions, so a fused chain
 * becomes one expression; data movement rewrites the index (transpose permutes
 * it, slice scales and offsets it, gather loads it); reductions, norms and
 * softmax emit statements into the group's kernel and read their scratch
 * buffers back as expressions. Values that leave the group are materialized
 * at the end (lower.c). A matmul/gemm whose group is a GEMM pattern yields an
 * expression over ACC that its elementwise consumers extend: the group's
 * output then becomes a GEMM kernel with that expression as epilogue.
 *
 * Expressions of f16/bf16 values compute in f32 (the compute dtype): loads
 * widen, stores narrow. Integer and f32/f64 values compute in their dtype.
 */
#ifndef LATHE_KERNEL_LOWER_H
#define LATHE_KERNEL_LOWER_H

#include "kernel/internal.h"

typedef struct gemm_pending gemm_pending_t;

typedef struct lval {
  lathe_dtype_t dtype; /* the graph value's dtype */
  uint32_t rank;
  lathe_kdim_t dims[LATHE_MAX_RANK];
  const lathe_kbuffer_t *buf; /* materialized here, or NULL */
  const lathe_kexpr_t *expr;  /* else: over ITER(0 .. rank-1), in the compute dtype */
  const gemm_pending_t *gemm; /* expr contains that GEMM's ACC */
} lval_t;

typedef struct lower_ctx {
  const lathe_graph_t *graph;
  lathe_kprogram_t *p;
  lval_t **vals;        /* by value id */
  lathe_hashmap_t syms; /* interned symbol -> param index + 1 */
  const lathe_op_t *op; /* the op being lowered (for messages) */
  /* The group being lowered. */
  const lathe_op_t **group;
  uint32_t group_size;
  lathe_kernel_t *kernel; /* its LOOPS kernel, created by the first statement */
  char kernel_name[96];
  uint32_t first_buffer; /* buffers created from here on belong to the group */
} lower_ctx_t;

/* An op's lowering: defines the lvals of its results. */
typedef lathe_status_t (*lower_fn_t)(lower_ctx_t *c, const lathe_op_t *op);

/* ---- values ---- */

lathe_dtype_t compute_dtype(lathe_dtype_t dtype);
/* The lval of operand `i` of op (NULL when absent or not yet lowered). */
const lval_t *lv_operand(lower_ctx_t *c, const lathe_op_t *op, uint32_t i);
/* Element `index` of v, in v's compute dtype. */
const lathe_kexpr_t *lv_at(lower_ctx_t *c, const lval_t *v, const lathe_kexpr_t *const *index);
/* Element of v broadcast (numpy rules) to a result of `rank` dims at `index`. */
const lathe_kexpr_t *lv_at_bcast(lower_ctx_t *c, const lval_t *v, uint32_t rank,
                                 const lathe_kexpr_t *const *index);
/* ITER(0) .. ITER(n-1) into out. */
void iters(lower_ctx_t *c, uint32_t n, const lathe_kexpr_t **out);

/* Dims of result `i` of op: the type's static and symbolic dims, `fallback`
 * (may be NULL) where the type says `?`. */
lathe_status_t result_dims(lower_ctx_t *c, const lathe_op_t *op, uint32_t i,
                           const lathe_kdim_t *fallback, lathe_kdim_t *out);
/* The same with fallback sizes given as i64 expressions, turned into params
 * only where the type leaves a dim unknown (no needless derived params). */
lathe_status_t result_dims_e(lower_ctx_t *c, const lathe_op_t *op, uint32_t i,
                             const lathe_kexpr_t *const *fallback, lathe_kdim_t *out);
/* Defines result `i` as an expression (compute dtype) over its own index. */
void set_expr(lower_ctx_t *c, const lathe_op_t *op, uint32_t i, const lathe_kdim_t *dims,
              const lathe_kexpr_t *expr, const gemm_pending_t *gemm);
/* Defines result `i` as a new buffer (an OUTPUT when the value is a graph
 * output, else a TEMP) that the caller's statements fill. */
lathe_kbuffer_t *set_buffer(lower_ctx_t *c, const lathe_op_t *op, uint32_t i,
                            const lathe_kdim_t *dims);
/* Defines result `i` as a view of a buffer with the result's dims. */
void set_view(lower_ctx_t *c, const lathe_op_t *op, uint32_t i, const lathe_kbuffer_t *base,
              const lathe_kdim_t *dims);
/* A kernel-local scratch buffer of the current group. */
lathe_kbuffer_t *scratch(lower_ctx_t *c, const char *name, lathe_dtype_t dtype, uint32_t rank,
                         const lathe_kdim_t *dims);
/* Appends a statement to the group's LOOPS kernel (created on first use). */
lathe_status_t emit(lower_ctx_t *c, const lathe_kstmt_desc_t *d);
/* Stores v (an lval) into `target` element-wise: one statement over v's dims. */
lathe_status_t emit_copy(lower_ctx_t *c, const lval_t *v, const lathe_kbuffer_t *target);

/* ---- expressions ---- */

/* e with ITER(k) replaced by index[k] (k < n). */
const lathe_kexpr_t *subst(lower_ctx_t *c, const lathe_kexpr_t *e, uint32_t n,
                           const lathe_kexpr_t *const *index);
const lathe_kexpr_t *kint(lower_ctx_t *c, int64_t v);                   /* i64 */
const lathe_kexpr_t *kf(lower_ctx_t *c, lathe_dtype_t dtype, double v); /* typed constant */
const lathe_kexpr_t *kdim(lower_ctx_t *c, lathe_kdim_t d);              /* i64 */
const lathe_kexpr_t *kbin(lower_ctx_t *c, lathe_kop_t op, const lathe_kexpr_t *a,
                          const lathe_kexpr_t *b);
const lathe_kexpr_t *kun(lower_ctx_t *c, lathe_kop_t op, const lathe_kexpr_t *a);
const lathe_kexpr_t *ksel(lower_ctx_t *c, const lathe_kexpr_t *cond, const lathe_kexpr_t *a,
                          const lathe_kexpr_t *b);
/* min(max(e, lo), hi) on i64. */
const lathe_kexpr_t *kclamp(lower_ctx_t *c, const lathe_kexpr_t *e, const lathe_kexpr_t *lo,
                            const lathe_kexpr_t *hi);
/* A size from an i64 expression over params (constant, param or derived). */
lathe_kdim_t dim_of(lower_ctx_t *c, const lathe_kexpr_t *e);
lathe_kdim_t dim_mul(lower_ctx_t *c, lathe_kdim_t a, lathe_kdim_t b);
bool dim_eq(lathe_kdim_t a, lathe_kdim_t b);

/* ---- errors ---- */

/* "unsupported op 'x' (node ...): why" at the op's location. */
lathe_status_t unsupported(const lathe_op_t *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- reductions (lower_reduce.c) ---- */

/* Which dims of an operand a reduction folds, and the shapes that follow:
 * statement iterators are the kept (outer) dims, then the reduced ones. */
typedef struct red {
  uint32_t rank, no, nr; /* operand rank, kept dims, reduced dims */
  bool keep;             /* keepdims: the result keeps reduced dims as 1 */
  bool reduced[LATHE_MAX_RANK];
  lathe_kdim_t outer[LATHE_MAX_RANK], red[LATHE_MAX_RANK], all[2 * LATHE_MAX_RANK];
} red_t;

/* Reduces `axes` (all when n == 0) of x. */
lathe_status_t red_init(const lathe_op_t *op, const lval_t *x, const int64_t *axes, size_t n,
                        bool keep, red_t *r);
/* The operand index at statement iterators (outer..., reduced...). */
void red_input_index(lower_ctx_t *c, const red_t *r, const lathe_kexpr_t **out);
/* The result's dims, and its index from the outer iterators. */
void red_result(lower_ctx_t *c, const red_t *r, lathe_kdim_t *dims, const lathe_kexpr_t **index);
/* The outer index from a result index (keep decides whether the result has
 * the reduced dims). */
void red_outer_of(const red_t *r, const lathe_kexpr_t *const *result_index,
                  const lathe_kexpr_t **out);
/* scratch[outer] COMB= value over (outer, reduced), init the combiner's
 * identity; *out is the new kernel-local scratch of dtype t. */
lathe_status_t accumulate(lower_ctx_t *c, const red_t *r, const char *name, lathe_dtype_t t,
                          const lathe_kexpr_t *value, lathe_kcombiner_t comb,
                          const lathe_kbuffer_t **out);

/* ---- GEMM groups (lower_gemm.c) ---- */

/* True when `group` is a heavy op whose elementwise consumers can become a
 * GEMM epilogue (checked before lowering, so a bad grouping falls back to one
 * kernel per op). */
bool gemm_group_ok(lower_ctx_t *c, const lathe_op_t *const *group, uint32_t n);
/* The pending GEMM for a = [.., M, K] x b = [.., K, N] (before the
 * transposes ta/tb) with a result of `rank` dims, or NULL when the operands
 * do not fit a GEMM kernel (see lower_gemm.c); `a` and `b` must be buffers. */
gemm_pending_t *gemm_plan(lower_ctx_t *c, const lval_t *a, const lval_t *b, bool ta, bool tb,
                          const lathe_kdim_t *dims, uint32_t rank);
lathe_dtype_t gemm_acc_dtype(const gemm_pending_t *g);
/* Numpy matmul of a [.., M, K] and b [.., K, N] (rank-1 operands as a row on
 * the left, a column on the right; ta/tb swap the inner dims) as a
 * reduction over statement iterators it[0 .. rank] (the result's index, then
 * k): the operands' indices and the extent of k. */
void matmul_index(lower_ctx_t *c, const lval_t *a, const lval_t *b, bool ta, bool tb, uint32_t rank,
                  const lathe_kexpr_t *const *it, const lathe_kexpr_t **ai,
                  const lathe_kexpr_t **bi, lathe_kdim_t *out_k);
/* The result dims of that product (broadcast batch dims), for `?` dims. */
void matmul_dims(const lval_t *a, const lval_t *b, bool ta, bool tb, uint32_t rank,
                 lathe_kdim_t *out);
/* Builds the GEMM kernel computing `v` (whose expr holds the ACC of v->gemm)
 * into `target`. */
lathe_status_t emit_gemm(lower_ctx_t *c, const lval_t *v, const lathe_kbuffer_t *target);

/* ---- quantized products (lower_qlinear.c) ---- */

/* The element of quantization param p (a scale or zero point) for operand
 * v's element at idx: p has one element, or is 1-D along v's dim `chan`, or
 * has v's rank with dim `kdim` (the reduced one) of size 1. NULL for other
 * shapes. */
const lathe_kexpr_t *qparam_at(lower_ctx_t *c, const lval_t *p, const lval_t *v, uint32_t kdim,
                               uint32_t chan, const lathe_kexpr_t *const *idx);
/* saturate(round_half_even(acc * M + y_zp)) cast to `out`, where
 * M = (a_scale * b_scale) / y_scale rounded to scale_dtype after each step
 * (ONNX's reference arithmetic); any NULL param means an unsupported shape. */
lathe_status_t requantize(lower_ctx_t *c, const lathe_op_t *op, const lathe_kexpr_t *acc,
                          lathe_dtype_t scale_dtype, const lathe_kexpr_t *a_scale,
                          const lathe_kexpr_t *b_scale, const lathe_kexpr_t *y_scale,
                          const lathe_kexpr_t *y_zp, lathe_dtype_t out,
                          const lathe_kexpr_t **out_y);

/* ---- per-family lowerings, named in lower.def ---- */

#define LOWER(e, fn) lathe_status_t fn(lower_ctx_t *c, const lathe_op_t *op);
#define LOWER_NONE(e, why)
#include "kernel/lower.def"
#undef LOWER
#undef LOWER_NONE

#endif

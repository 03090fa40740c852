/* The kernel IR: the API of kernel/ (library lathe_kernel).
 *
 * A kernel program is what one graph compiles to: a list of kernels, run in
 * order, that read and write dense row-major buffers. It keeps *what* each
 * kernel computes (statements over box-shaped iteration domains, scalar
 * expression trees) apart from *how* its loops run (a schedule per statement:
 * loop order, tiles, vector and parallel loops). isl turns the domains and a
 * schedule into a loop AST that the interpreter and every backend walk, so a
 * backend chooses its own schedule for the same statements.
 *
 *   program    symbolic params, buffers, kernels (in execution order)
 *   param      a run-time size: a dim of a graph input, or an expression over
 *              earlier params (N*128, (H+1)/2) so every size below is either a
 *              constant or exactly one param, which keeps isl domains affine
 *   buffer     dtype + dims; role INPUT / OUTPUT / CONST / TEMP; may be a
 *              VIEW of another buffer (same bytes, other shape: reshape)
 *   kernel     LOOPS: ordered statements; GEMM: a batched matrix product with a
 *              fused epilogue expression
 *   statement  target[index(i)] (=|op=) value(i) over 0 <= i_k < extent_k
 *   expression a scalar DAG: ITER, PARAM, INT, FLOAT, LOAD, UNARY, BINARY,
 *              SELECT, CAST, ACC (kernel/scalar_ops.def lists the scalar ops)
 *
 * Memory and ownership: a program owns one arena holding every object reached
 * from it (names, dims, expressions, statements); pointers into it are borrowed
 * until lathe_kprogram_destroy. CONST buffers point at graph-IR weights by
 * reference: the module they came from must outlive the program. Expressions
 * are immutable once built and may be shared (a DAG): walkers may memoize by
 * pointer. The public structs are plain data for walking; build them only with
 * the builder functions below (schedules excepted: a caller may edit the
 * schedule of a statement, or pass its own to lathe_kernel_build_ast).
 *
 * Thread safety: a finished program is read-only and may be walked and run
 * from several threads at once; building is single-threaded. isl objects are
 * created in the isl_ctx the caller passes (one ctx per thread).
 */
#ifndef LATHE_KERNEL_KERNEL_H
#define LATHE_KERNEL_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <isl/ast.h>
#include <isl/ctx.h>
#include <isl/id.h>
#include <isl/set.h>

#include "ir/ir.h"
#include "support/arena.h"
#include "support/status.h"
#include "support/strbuf.h"

/* Limits; the builder refuses anything larger with a status. */
#define LATHE_KMAX_ITERS 32 /* iterators of one statement (output rank + reduction dims) */

typedef struct lathe_kprogram lathe_kprogram_t;
typedef struct lathe_kbuffer lathe_kbuffer_t;
typedef struct lathe_kernel lathe_kernel_t;
typedef struct lathe_kstmt lathe_kstmt_t;
typedef struct lathe_kexpr lathe_kexpr_t;

/* ---- scalar ops ----------------------------------------------------------- */

typedef enum {
#define SCALAR_OP(e, name, arity, operands, result) LATHE_KOP_##e,
#include "kernel/scalar_ops.def"
#undef SCALAR_OP
  LATHE_KOP_COUNT
} lathe_kop_t;

/* Operand classes and result rules of scalar_ops.def. */
typedef enum {
  LATHE_KOPD_NUM,
  LATHE_KOPD_FLOAT,
  LATHE_KOPD_INT,
  LATHE_KOPD_LOGIC,
  LATHE_KOPD_ANY
} lathe_kop_operands_t;
typedef enum { LATHE_KRES_SAME, LATHE_KRES_BOOL } lathe_kop_result_t;

typedef struct lathe_kop_info {
  const char *name;
  uint32_t arity; /* 1 or 2 */
  lathe_kop_operands_t operands;
  lathe_kop_result_t result;
} lathe_kop_info_t;

const lathe_kop_info_t *lathe_kop_info(lathe_kop_t op); /* NULL when out of range */
/* Looks an op up by its text name; false when unknown. */
bool lathe_kop_from_name(const char *name, lathe_kop_t *out_op);

/* ---- sizes and params ----------------------------------------------------- */

/* A size: a constant (param < 0) or the value of one param. */
typedef struct lathe_kdim {
  int64_t size;  /* >= 0 when param < 0 */
  int32_t param; /* index into program->params, or -1 */
} lathe_kdim_t;

static inline lathe_kdim_t lathe_kdim_static(int64_t size) { return (lathe_kdim_t){size, -1}; }
static inline lathe_kdim_t lathe_kdim_param(int32_t param) { return (lathe_kdim_t){0, param}; }
static inline bool lathe_kdim_is_static(lathe_kdim_t d) { return d.param < 0; }

typedef enum {
  LATHE_KPARAM_INPUT_DIM, /* dims[dim] of graph input `input` at run time */
  LATHE_KPARAM_DERIVED,   /* `expr`, an i64 expression over earlier params */
} lathe_kparam_kind_t;

typedef struct lathe_kparam {
  const char *name; /* a C identifier, unique in the program, never "c<digits>" */
  lathe_kparam_kind_t kind;
  uint32_t input, dim;       /* INPUT_DIM */
  const lathe_kexpr_t *expr; /* DERIVED: PARAM and INT leaves, i64 ops only */
} lathe_kparam_t;

/* ---- buffers -------------------------------------------------------------- */

typedef enum {
  LATHE_KBUF_INPUT,  /* graph input `index`: caller memory, read-only */
  LATHE_KBUF_OUTPUT, /* graph output `index`: caller memory, written once */
  LATHE_KBUF_CONST,  /* a graph-IR weight (`weight`), read-only */
  LATHE_KBUF_TEMP,   /* an intermediate; the runtime's planner places it by liveness */
} lathe_kbuffer_role_t;

/* A dense row-major tensor. A VIEW (view_of >= 0) has no storage of its own:
 * it is the bytes of buffer `view_of` (always a root, never itself a view)
 * seen with another shape of the same element count and dtype; its role is
 * the root's. A TEMP root lives from its first writer to the last reader of it
 * or of any of its views. A TEMP with local_to >= 0 is scratch used only
 * inside that kernel (softmax's row max, say). Packed dtypes (i4/u4) store two
 * elements per byte, low nibble first. */
struct lathe_kbuffer {
  uint32_t id; /* index in program->buffers */
  const char *name;
  lathe_dtype_t dtype;
  uint32_t rank;
  const lathe_kdim_t *dims;
  lathe_kbuffer_role_t role;
  uint32_t index;               /* INPUT / OUTPUT: position in the graph signature */
  /* INPUT / OUTPUT bound to the signature: the graph value's name verbatim
   * (`name` is an identifier: "t2" for %2, "out0" for an output that is a
   * copy of a view), which descriptors and so compiled libraries report;
   * NULL for other buffers. */
  const char *io_name;
  const lathe_weight_t *weight; /* CONST: borrowed from the graph's module */
  int32_t view_of;              /* root buffer id, or -1 */
  int32_t local_to;             /* kernel index for kernel-local scratch, or -1 */
};

/* ---- expressions ---------------------------------------------------------- */

typedef enum {
  LATHE_KEXPR_ITER,   /* statement iterator `index` (GEMM epilogue: 0 = b, 1 = m, 2 = n) */
  LATHE_KEXPR_PARAM,  /* program param `index` (i64) */
  LATHE_KEXPR_INT,    /* `i`, of an integer or bool dtype */
  LATHE_KEXPR_FLOAT,  /* `f`, of a float dtype (already representable in it) */
  LATHE_KEXPR_LOAD,   /* buffer `index` at args[0 .. rank) (i64 indices, always in bounds) */
  LATHE_KEXPR_UNARY,  /* op(args[0]) */
  LATHE_KEXPR_BINARY, /* op(args[0], args[1]) */
  LATHE_KEXPR_SELECT, /* args[0] (bool) ? args[1] : args[2]; both arms are safe to evaluate */
  LATHE_KEXPR_CAST,   /* args[0] converted to `dtype` (float->int truncates, saturating;
                         NaN -> 0; to bool: != 0) */
  LATHE_KEXPR_ACC,    /* the GEMM accumulator (epilogues only), of the kernel's acc dtype */
} lathe_kexpr_kind_t;

/* Iterators, params and index arithmetic are i64. Every LOAD's indices lie
 * inside the buffer for every point of the statement's domain (lowering clamps
 * gathers and pads), so backends need no bounds checks and may evaluate both
 * arms of a SELECT. */
struct lathe_kexpr {
  lathe_kexpr_kind_t kind;
  lathe_dtype_t dtype;
  lathe_kop_t op; /* UNARY, BINARY */
  uint32_t index; /* ITER, PARAM, LOAD (buffer id) */
  int64_t i;      /* INT */
  double f;       /* FLOAT */
  uint32_t num_args;
  const lathe_kexpr_t *const *args;
};

/* ---- statements and schedules --------------------------------------------- */

/* How a reduction folds a value into its target: target = target OP value. */
typedef enum {
  LATHE_KCOMB_NONE = 0, /* plain assignment */
  LATHE_KCOMB_SUM,
  LATHE_KCOMB_PROD,
  LATHE_KCOMB_MAX, /* NaN-propagating like the max scalar op */
  LATHE_KCOMB_MIN,
} lathe_kcombiner_t;

/* How one statement's loops run. Iterators are named by their index in the
 * statement. Loop nest, outermost first: the tile loops of the tiled
 * iterators in `order`, then the point loops (untiled iterators: their full
 * loop) in `order`. */
typedef struct lathe_kschedule {
  uint8_t order[LATHE_KMAX_ITERS]; /* a permutation of 0 .. num_iters-1 */
  uint32_t tile[LATHE_KMAX_ITERS]; /* tile size per iterator; 0 = not tiled */
  bool unroll[LATHE_KMAX_ITERS];   /* fully unroll the iterator's point loop (tiled or static) */
  int32_t parallel;      /* a non-reduction iterator, order[0]: its outermost loop is marked
                            "parallel"; -1 = none */
  int32_t vector;        /* the last iterator in `order`: its innermost loop is marked
                            "vector" with vector_width lanes; -1 = none */
  uint32_t vector_width; /* > 0 when vector >= 0 */
} lathe_kschedule_t;

/* target[target_index(i)] = value(i)                          (combiner NONE)
 * target[target_index(i)] = init(i); then for every reduction point
 * target[target_index(i)] = target[...] COMBINER value(i, r)  (reductions)
 * over the box 0 <= i_k < extents[k]. The trailing num_reduce iterators are
 * reduction iterators; target_index and init use only the others. Values are
 * rounded to the target's dtype on every store. */
struct lathe_kstmt {
  uint32_t num_iters;
  const lathe_kdim_t *extents;
  uint32_t num_reduce;
  uint32_t target;                          /* buffer id */
  const lathe_kexpr_t *const *target_index; /* one per target dim */
  const lathe_kexpr_t *value;
  lathe_kcombiner_t combiner;
  const lathe_kexpr_t *init;  /* reductions: the starting value (target's dtype) */
  lathe_kschedule_t schedule; /* the CPU default; editable, see build_ast */
};

/* ---- kernels -------------------------------------------------------------- */

typedef enum { LATHE_KERNEL_LOOPS, LATHE_KERNEL_GEMM } lathe_kernel_kind_t;

/* One GEMM operand: a contiguous matrix per batch entry (row-major [M, K] for
 * A, [K, N] for B; transposed: [K, M] / [N, K]), batch entries one matrix
 * apart, or all the same matrix when `broadcast`. */
typedef struct lathe_kgemm_operand {
  uint32_t buffer;
  bool trans;
  bool broadcast;
} lathe_kgemm_operand_t;

/* C[b, m, n] = epilogue(acc), acc = sum over k of A(b, m, k) * B(b, k, n),
 * computed in acc_dtype. C is the buffer `c` seen as [batch, M, N] row-major
 * (its own dims may split batch and M further). In the epilogue, ITER 0/1/2
 * are b, m, n, ACC is acc, and loads index their buffers by expressions of
 * those (the lowering makes views so these stay affine). A NULL epilogue means
 * cast(acc) to C's dtype. */
typedef struct lathe_kgemm {
  lathe_kgemm_operand_t a, b;
  uint32_t c;
  lathe_kdim_t batch, m, n, k;
  lathe_dtype_t acc_dtype; /* f32 for f32/f16/bf16, f64 for f64, i32 (or i64) for integers */
  const lathe_kexpr_t *epilogue;
} lathe_kgemm_t;

struct lathe_kernel {
  uint32_t index;   /* position in program->kernels */
  const char *name; /* "k0_matmul_add_relu": index and the fused graph ops */
  lathe_kernel_kind_t kind;
  /* Buffer ids read and written (views as themselves), each once, in first-use
   * order; filled in by lathe_kprogram_finish. */
  uint32_t num_reads, num_writes;
  const uint32_t *reads, *writes;
  /* LOOPS: statements run in order. The first num_shared iterators of every
   * statement are non-reduction iterators with equal extents, and statement s
   * at a point of them depends only on what earlier statements wrote at the
   * same point: those loops may be fused into one outer nest (a softmax row). */
  uint32_t num_stmts;
  lathe_kstmt_t *const *stmts;
  uint32_t num_shared;
  /* GEMM */
  const lathe_kgemm_t *gemm;
};

struct lathe_kprogram {
  const char *name; /* the graph's name */
  lathe_arena_t arena;
  uint32_t num_params;
  lathe_kparam_t *const *params;
  uint32_t num_buffers;
  lathe_kbuffer_t *const *buffers;
  uint32_t num_kernels;
  lathe_kernel_t *const *kernels;
  /* Buffer ids of the graph inputs and outputs, in signature order. */
  uint32_t num_inputs, num_outputs;
  const uint32_t *inputs, *outputs;
  void *build; /* builder state; NULL once finished */
};

/* ---- lowering from the graph IR ------------------------------------------- */

/* Lowers `graph` to a new program the caller owns. Ops in one fusion group
 * (passes/fuse.c, graph->fusion) become one kernel; without groups each op is
 * its own kernel. Unsupported ops fail with "unsupported op 'x' (node ...)".
 * Graph dims must be static or symbolic, except where lowering derives them
 * (reshape's -1, flatten); symbols must be bound by some graph input dim. The
 * graph's module must outlive the program (CONST buffers view its weights). */
lathe_status_t lathe_kernel_lower_graph(const lathe_graph_t *graph, lathe_kprogram_t **out_program);

/* ---- building -------------------------------------------------------------- */

lathe_kprogram_t *lathe_kprogram_create(const char *name);
void lathe_kprogram_destroy(lathe_kprogram_t *program); /* NULL is fine */

/* Params. Names are made unique and C-safe (the given name is a hint). */
uint32_t lathe_kprogram_add_input_param(lathe_kprogram_t *p, const char *name, uint32_t input,
                                        uint32_t dim);
uint32_t lathe_kprogram_add_derived_param(lathe_kprogram_t *p, const char *name,
                                          const lathe_kexpr_t *expr);
/* A size equal to `expr` (i64 over params and constants): a constant when it
 * folds, an existing param when one already has this exact expression, else a
 * new derived param. */
lathe_kdim_t lathe_kprogram_dim_of(lathe_kprogram_t *p, const lathe_kexpr_t *expr);

/* Buffers; `dims` are copied. Names are made unique. Returns the buffer. */
lathe_kbuffer_t *lathe_kprogram_add_buffer(lathe_kprogram_t *p, const char *name,
                                           lathe_dtype_t dtype, uint32_t rank,
                                           const lathe_kdim_t *dims, lathe_kbuffer_role_t role);
/* A view of `base` (or of base's root) with another shape; `dims` copied. */
lathe_kbuffer_t *lathe_kprogram_add_view(lathe_kprogram_t *p, const char *name,
                                         const lathe_kbuffer_t *base, uint32_t rank,
                                         const lathe_kdim_t *dims);
/* Records that graph input/output `index` is buffer `buffer`. */
void lathe_kprogram_set_input(lathe_kprogram_t *p, uint32_t index, uint32_t buffer);
void lathe_kprogram_set_output(lathe_kprogram_t *p, uint32_t index, uint32_t buffer);

/* Expressions (arena-allocated in the program; args are borrowed pointers to
 * other expressions of the same program). Constructors that can be misused
 * (wrong operand dtypes, wrong index count) return NULL; lathe_kprogram_finish
 * and the lowering report that as an internal error. */
const lathe_kexpr_t *lathe_kexpr_iter(lathe_kprogram_t *p, uint32_t iter);
const lathe_kexpr_t *lathe_kexpr_param(lathe_kprogram_t *p, uint32_t param);
const lathe_kexpr_t *lathe_kexpr_int(lathe_kprogram_t *p, lathe_dtype_t dtype, int64_t v);
const lathe_kexpr_t *lathe_kexpr_float(lathe_kprogram_t *p, lathe_dtype_t dtype, double v);
const lathe_kexpr_t *lathe_kexpr_dim(lathe_kprogram_t *p, lathe_kdim_t dim); /* i64 */
const lathe_kexpr_t *lathe_kexpr_load(lathe_kprogram_t *p, const lathe_kbuffer_t *buffer,
                                      const lathe_kexpr_t *const *index);
const lathe_kexpr_t *lathe_kexpr_unary(lathe_kprogram_t *p, lathe_kop_t op, const lathe_kexpr_t *a);
const lathe_kexpr_t *lathe_kexpr_binary(lathe_kprogram_t *p, lathe_kop_t op, const lathe_kexpr_t *a,
                                        const lathe_kexpr_t *b);
const lathe_kexpr_t *lathe_kexpr_select(lathe_kprogram_t *p, const lathe_kexpr_t *cond,
                                        const lathe_kexpr_t *a, const lathe_kexpr_t *b);
/* Returns `a` itself when it already has `dtype`. */
const lathe_kexpr_t *lathe_kexpr_cast(lathe_kprogram_t *p, lathe_dtype_t dtype,
                                      const lathe_kexpr_t *a);
const lathe_kexpr_t *lathe_kexpr_acc(lathe_kprogram_t *p, lathe_dtype_t dtype);

/* Kernels are appended in execution order. */
lathe_kernel_t *lathe_kprogram_add_loops_kernel(lathe_kprogram_t *p, const char *name);
/* Appends a statement (arrays copied) with the default CPU schedule; returns
 * it, or NULL after recording an error for finish to report. */
typedef struct lathe_kstmt_desc {
  uint32_t num_iters;
  const lathe_kdim_t *extents;
  uint32_t num_reduce;
  const lathe_kbuffer_t *target;
  const lathe_kexpr_t *const *target_index;
  const lathe_kexpr_t *value;
  lathe_kcombiner_t combiner;
  const lathe_kexpr_t *init;
} lathe_kstmt_desc_t;
lathe_kstmt_t *lathe_kernel_add_stmt(lathe_kprogram_t *p, lathe_kernel_t *kernel,
                                     const lathe_kstmt_desc_t *desc);
/* Declares the first num_shared iterators shared (see lathe_kernel_t); drops
 * vector marks from shared iterators in the statements' schedules. */
void lathe_kernel_set_num_shared(lathe_kernel_t *kernel, uint32_t num_shared);
/* A GEMM kernel (the struct is copied). */
lathe_kernel_t *lathe_kprogram_add_gemm_kernel(lathe_kprogram_t *p, const char *name,
                                               const lathe_kgemm_t *gemm);
/* Checks every kernel (types, index counts, shared iterators, schedules),
 * fills each kernel's reads/writes and ends building. */
lathe_status_t lathe_kprogram_finish(lathe_kprogram_t *p);

/* The default CPU schedule for a statement of `num_iters` iterators: natural
 * order, the outermost non-reduction iterator parallel, the innermost
 * non-reduction iterator vectorized by `vector_width` when it is the last
 * iterator (0 = no vector loop). */
lathe_kschedule_t lathe_kschedule_default(const lathe_kstmt_t *stmt, uint32_t vector_width);
/* Checks a schedule against its statement (permutation, tile/parallel/vector
 * rules); a status naming the problem otherwise. */
lathe_status_t lathe_kschedule_check(const lathe_kstmt_t *stmt, const lathe_kschedule_t *s);

/* ---- isl ------------------------------------------------------------------ */

/* The isl id of param `k`: its name (no user pointer). isl sets, schedules
 * and ASTs of the program name params by these ids. */
__isl_give isl_id *lathe_kprogram_param_id(const lathe_kprogram_t *p, isl_ctx *ctx, uint32_t k);
/* The param an AST identifier names (compared by name), or -1 (a loop
 * iterator: isl names those c0, c1, ...; param names never look like that). */
int32_t lathe_kprogram_param_of_id(const lathe_kprogram_t *p, __isl_keep isl_id *id);

/* The iteration domain of statement `s` of a LOOPS kernel:
 * [params] -> { S<s>[i0, ..., in-1] : 0 <= ik < extent_k }. */
__isl_give isl_set *lathe_kstmt_domain(const lathe_kprogram_t *p, const lathe_kernel_t *kernel,
                                       uint32_t s, isl_ctx *ctx);

/* Builds the loop AST of a LOOPS kernel under `schedules` (one per statement;
 * NULL = each statement's own). The AST's user nodes are calls
 *     S<s>(e0, ..., en-1)   statement s at iterator values e0.. (in statement
 *                           iterator order, every iterator)
 *     I<s>(e0, ..., em-1)   initialise the reduction target of statement s at
 *                           its non-reduction iterators e0..em-1
 * (lathe_kast_user reads one); mark nodes (lathe_kast_mark) wrap the loop that
 * may run in parallel and the loop to vectorize. Identifiers in expressions
 * are loop iterators or params (lathe_kprogram_param_of_id). Statements
 * sharing iterators (num_shared) run in one outer nest, tiled and marked as
 * statement 0's schedule says for those iterators; each statement's
 * reduction init runs before its updates. The caller owns the AST. */
lathe_status_t lathe_kernel_build_ast(const lathe_kprogram_t *p, const lathe_kernel_t *kernel,
                                      isl_ctx *ctx, const lathe_kschedule_t *schedules,
                                      __isl_give isl_ast_node **out_ast);

/* Decodes a user node of such an AST: the statement index, whether it is the
 * init (I) call, and the call expression whose arguments 1.. are the iterator
 * values (caller frees *out_call). */
lathe_status_t lathe_kast_user(__isl_keep isl_ast_node *user, uint32_t *out_stmt, bool *out_is_init,
                               __isl_give isl_ast_expr **out_call);

typedef enum { LATHE_KMARK_PARALLEL, LATHE_KMARK_VECTOR } lathe_kmark_kind_t;
/* Decodes a mark node: parallel, or vector with its lane count. */
lathe_status_t lathe_kast_mark(__isl_keep isl_ast_node *mark, lathe_kmark_kind_t *out_kind,
                               uint32_t *out_width);

/* Appends the AST as C-like text (for --lower=ast and debugging). */
void lathe_kast_print(lathe_strbuf_t *sb, __isl_keep isl_ast_node *ast, int indent);

/* ---- text ----------------------------------------------------------------- */

/* Appends the program's text form (print-only; see docs/kernel-ir.md). */
void lathe_kprogram_print(lathe_strbuf_t *sb, const lathe_kprogram_t *p);
/* Appends one expression as text; iterators print as i<k> (r<k> for the
 * reduction iterators of a statement with num_iters/num_reduce given; pass 0
 * and 0 outside statements). */
void lathe_kexpr_print(lathe_strbuf_t *sb, const lathe_kprogram_t *p, const lathe_kexpr_t *e,
                       uint32_t num_iters, uint32_t num_reduce);

/* ---- run-time sizes and the reference interpreter ------------------------- */

/* Binds every param from the concrete dims of the graph inputs
 * (input_dims[k] has the rank of input k) and evaluates the derived ones;
 * checks that static dims of the inputs match. out_params: num_params. */
lathe_status_t lathe_kprogram_bind_params(const lathe_kprogram_t *p,
                                          const int64_t *const *input_dims, int64_t *out_params);
/* A dim's value under bound params. */
static inline int64_t lathe_kdim_value(lathe_kdim_t d, const int64_t *params) {
  return d.param < 0 ? d.size : params[d.param];
}
/* Element count and storage bytes of a buffer under bound params. */
lathe_status_t lathe_kbuffer_num_elements(const lathe_kbuffer_t *b, const int64_t *params,
                                          int64_t *out_count);
lathe_status_t lathe_kbuffer_num_bytes(const lathe_kbuffer_t *b, const int64_t *params,
                                       uint64_t *out_bytes);

/* Runs the program on host memory: inputs[k] / outputs[k] are dense row-major
 * buffers of graph input / output k sized by the bound params. Computes in
 * f64 (floats) and i64 (integers), rounding to the dtype on every store.
 * LOOPS kernels run by walking their isl AST under `schedules` chosen per
 * kernel by the callback (NULL = each statement's own schedule), so a test can
 * check that a schedule changes nothing. Temps are allocated here. */
typedef const lathe_kschedule_t *(*lathe_kschedule_chooser_t)(void *ctx,
                                                              const lathe_kernel_t *kernel);
lathe_status_t lathe_kprogram_run_reference(const lathe_kprogram_t *p, const int64_t *params,
                                            const void *const *inputs, void *const *outputs,
                                            lathe_kschedule_chooser_t choose, void *choose_ctx);

#endif

/* Internals of the CUDA backend's source generator, shared by its files; not
 * an API (codegen/cuda/cuda.h is).
 *
 *   prelude.c  the device helpers every source starts with (integer edge
 *              cases, NaN-propagating max/min, saturating casts, 4-bit
 *              elements)
 *   scalar.c   dtypes as CUDA types, constants, loads/stores, casts, and the
 *              one table mapping every scalar op to a CUDA expression
 *   expr.c     expression DAGs at one point, one `const` temporary per node
 *   nest.c     loop-nest queries on isl ASTs, flattening nests into one
 *              distributed index
 *   ast.c      isl loop ASTs as CUDA C: cooperative rows, block reductions,
 *              per-thread loops
 *   loops.c    LOOPS kernels: GPU schedule, mapping mode, launch entry
 *   gemm.c     SIMT GEMM kernels; wmma.c: tensor-core GEMM kernels
 *   source.c   the whole program: headers, prelude, kernels, launch table
 *   nvrtc.c    NVRTC; artifact.c: PTX and shared-library files;
 *   backend.c  the lathe_backend_t table
 *
 * The generator writes text: values are C expressions (strings in the
 * generator's arena), usually the name of a `const` temporary. Every value
 * is in its dtype's register type (scalar.c). Indices and iterators are
 * `long long`. Errors: the first failure is recorded in g->error (gen_fail)
 * and generation goes on harmlessly, so callers check once per kernel.
 */
#ifndef LATHE_CODEGEN_CUDA_INTERNAL_H
#define LATHE_CODEGEN_CUDA_INTERNAL_H

#include <isl/ast.h>
#include <isl/id.h>

#include "codegen/cuda/cuda.h"
#include "support/hashmap.h"

/* Most threads one block of a generated kernel has. */
#define CU_MAX_THREADS 256

/* ---- generator state ------------------------------------------------------ */

typedef struct gen {
  const lathe_kprogram_t *p;
  const char *symbol; /* program symbol; kernels are symbol_<name> */
  lathe_arena_t arena;
  lathe_status_t error;
  bool wmma_ok; /* every target architecture has f16 and bf16 WMMA */
  /* what the program needs from headers, found while generating */
  bool need_f16, need_bf16, need_wmma;
  /* the kernel being generated */
  const lathe_kernel_t *k;
  lathe_strbuf_t *out; /* where gen_line writes */
  int indent;
  uint32_t tmp;          /* next temporary number */
  bool *param_used;      /* [num_params] */
  bool *buffer_used;     /* [num_buffers] */
  bool *root_written;    /* [num_buffers]: roots this kernel writes */
  lathe_strbuf_t shared; /* the kernel's __shared__ declarations */
  uint32_t shared_bytes;
} gen_t;

/* Records the first error, prefixed with the kernel's name; returns NULL. */
void *gen_fail(gen_t *g, lathe_status_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An indented line of code in g->out. */
void gen_line(gen_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A string in the generator's arena. */
const char *gen_str(gen_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A fresh identifier "<prefix><n>". */
const char *gen_tmp(gen_t *g, const char *prefix);
/* The C names of param k ("p_N") and buffer id ("b3"); mark them used. */
const char *gen_param(gen_t *g, uint32_t k);
const char *gen_buffer(gen_t *g, uint32_t id);
/* Declares `__shared__ TYPE name[count]` (aligned to `align` bytes) in the
 * current kernel and counts its bytes; returns the name. */
const char *gen_shared(gen_t *g, const char *type, uint32_t count, uint32_t elem_bytes,
                       uint32_t align);
/* The root buffer of a (possibly view) buffer. */
uint32_t cu_root(const lathe_kprogram_t *p, uint32_t buffer);

/* ---- prelude (prelude.c) -------------------------------------------------- */

/* The device helpers every source starts with. */
void cu_prelude(lathe_strbuf_t *sb);

/* ---- scalars (scalar.c) --------------------------------------------------- */

bool cu_dtype_supported(lathe_dtype_t t);
/* What memory holds (`__half`) and what expressions compute with (`float`). */
const char *cu_storage_type(lathe_dtype_t t);
const char *cu_reg_type(lathe_dtype_t t);
/* The type a value of dtype t is shuffled as (`int` for narrow integers). */
const char *cu_shuffle_type(lathe_dtype_t t);
uint32_t cu_shuffle_bytes(lathe_dtype_t t);
/* Constants of dtype t in its register type. */
const char *cu_const_int(gen_t *g, lathe_dtype_t t, int64_t v);
const char *cu_const_float(gen_t *g, lathe_dtype_t t, double v);
/* Element `flat` of buffer `buffer` in register form; the store (a line). */
const char *cu_load(gen_t *g, uint32_t buffer, const char *flat);
void cu_store(gen_t *g, uint32_t buffer, const char *flat, const char *value);
/* CAST semantics of kernel/scalar.c. */
const char *cu_cast(gen_t *g, lathe_dtype_t to, lathe_dtype_t from, const char *v);
/* A float register rounded as a store to t would round it (f16, bf16). */
const char *cu_round(gen_t *g, lathe_dtype_t t, const char *v);
/* op(a[, b]) on operands of dtype t; NULL (and g->error) when unsupported. */
const char *cu_op(gen_t *g, lathe_kop_t op, lathe_dtype_t t, const char *a, const char *b);
bool cu_op_supported(lathe_kop_t op, lathe_dtype_t t);
/* The scalar op a reduction combiner applies, and its identity in dtype t. */
lathe_kop_t cu_combine_op(lathe_kcombiner_t c);
const char *cu_identity(gen_t *g, lathe_kcombiner_t c, lathe_dtype_t t);

/* ---- expressions (expr.c) ------------------------------------------------- */

/* Evaluates expression DAGs at one point: ITER k is iters[k], ACC is acc.
 * Each node is emitted once per evaluator (memoized by pointer) as a
 * temporary at the current position, so an evaluator serves one scope. */
typedef struct ev {
  gen_t *g;
  const char *const *iters;
  const char *acc;
  lathe_hashmap_t memo;
} ev_t;

void ev_init(ev_t *e, gen_t *g, const char *const *iters, const char *acc);
void ev_free(ev_t *e);
const char *ev_expr(ev_t *e, const lathe_kexpr_t *x);
/* Row-major flat index of buffer `buffer` at idx[rank] (a long long expression). */
const char *ev_flat(ev_t *e, uint32_t buffer, const lathe_kexpr_t *const *idx);
/* Flat index from dims and index strings (for code that has no kexprs). */
const char *cu_flat(gen_t *g, uint32_t buffer, const char *const *idx);
/* Whether x reads buffer root `root` (through any view). */
bool cu_expr_reads_root(const lathe_kprogram_t *p, const lathe_kexpr_t *x, uint32_t root);
/* A size as a long long expression ("64LL", "p_N"). */
const char *cu_dim(gen_t *g, lathe_kdim_t d);

/* ---- kernels -------------------------------------------------------------- */

/* How a LOOPS kernel's AST is mapped (ast.c). */
typedef enum {
  CU_MAP_THREAD, /* outer `depth` loops flattened over the grid's threads */
  CU_MAP_ROW,    /* outer `depth` loops flattened over blocks; the rest cooperatively */
  CU_MAP_SINGLE, /* the whole AST cooperatively, in block 0 */
} cu_map_t;

/* ---- loop nests (nest.c) --------------------------------------------------- */

/* An isl expression as a long long C expression; argument i of an op. */
const char *cu_isl_expr(gen_t *g, __isl_keep isl_ast_expr *x);
const char *cu_isl_arg(gen_t *g, __isl_keep isl_ast_expr *x, int i);
bool cu_isl_uses_id(__isl_keep isl_ast_expr *x, __isl_keep isl_id *id);
/* The node below any marks (takes n, gives a reference); a for's iterator. */
__isl_give isl_ast_node *cu_ast_strip(__isl_take isl_ast_node *n);
isl_id *cu_ast_for_id(__isl_keep isl_ast_node *f);
/* The statement of a user node and whether it is an init; false if malformed. */
bool cu_ast_user_stmt(gen_t *g, __isl_keep isl_ast_node *user, uint32_t *out_s, bool *out_init);
/* The first user node below n (a new reference), or NULL. */
__isl_give isl_ast_node *cu_ast_first_user(__isl_keep isl_ast_node *n);
/* s when every call below n is S<s> of one reduction whose target does not
 * move inside n and whose value does not read its own target; else -1. */
int32_t cu_ast_reduction_nest(gen_t *g, __isl_keep isl_ast_node *n);
/* Iterator values of a user call (C expressions); with outer_only the
 * reduction iterators are 0. False (and g->error) when malformed. */
bool cu_ast_call_iters(gen_t *g, __isl_keep isl_ast_node *user, bool outer_only, uint32_t *out_s,
                       bool *out_init, const char **iters);

/* A perfect nest of canonical loops to run as one distributed index. */
typedef struct cu_chain {
  uint32_t n;
  const char *name[LATHE_KMAX_ITERS], *lo[LATHE_KMAX_ITERS], *ext[LATHE_KMAX_ITERS];
  isl_id *ids[LATHE_KMAX_ITERS];
  isl_ast_node *body; /* what runs at each point (owned) */
} cu_chain_t;
typedef enum { CU_OVER_GRID, CU_OVER_BLOCKS, CU_OVER_THREADS } cu_over_t;

/* The chain of up to `max` loops at `node` (none when it is not a loop);
 * loops reduced over below stop it unless allow_reduce. */
void cu_ast_flatten(gen_t *g, __isl_keep isl_ast_node *node, uint32_t max, bool allow_reduce,
                    cu_chain_t *out_chain);
void cu_chain_free(cu_chain_t *c);
/* Opens the distributed loop and declares the chain's iterators; the caller
 * emits the body, then cu_chain_close. */
void cu_chain_open(gen_t *g, const cu_chain_t *c, cu_over_t over);
void cu_chain_close(gen_t *g);

/* Emits the body of a LOOPS kernel from its AST. */
void cu_ast_kernel(gen_t *g, __isl_keep isl_ast_node *ast, cu_map_t map, uint32_t depth,
                   uint32_t threads);

/* Each emits the kernel's body into g->out and fills its launch entry
 * (everything but kernel and symbol). */
void cu_loops_kernel(gen_t *g, const lathe_kernel_t *k, lathe_cuda_launch_t *launch);
void cu_gemm_kernel(gen_t *g, const lathe_kernel_t *k, lathe_cuda_launch_t *launch);
/* Whether a GEMM kernel runs on tensor cores, and its body then (wmma.c). */
bool cu_gemm_wmma(const gen_t *g, const lathe_kgemm_t *gm);
void cu_wmma_kernel(gen_t *g, const lathe_kernel_t *k, lathe_cuda_launch_t *launch);
/* The epilogue store of GEMM element (b, m, n) with accumulator `acc`, when
 * m < M and n < N (shared by both GEMM generators). */
void cu_gemm_store(gen_t *g, const lathe_kgemm_t *gm, const char *b, const char *m, const char *n,
                   const char *acc, const char *M, const char *N);
/* GEMM scaffolding both generators share (gemm.c): declares M, N, K, NB,
 * tid and opens the batch / row-tile / column-tile stride loops (bz, m0, n0;
 * aoff/boff are the batch offsets of A and B); close_tiles closes them. */
void cu_gemm_open_tiles(gen_t *g, const lathe_kgemm_t *gm, int bm, int bn);
void cu_gemm_close_tiles(gen_t *g);
/* Stages a rows x cols tile of a GEMM operand (A: [M, K], B: [K, N], maybe
 * transposed) starting at (r0, c0) of its R x C matrix into dst[dst_index]
 * (an expression of the tile coordinates r, c), zero outside the matrix;
 * converted to dtype `to`, or copied raw when `to` is INVALID. */
void cu_gemm_stage(gen_t *g, const lathe_kgemm_operand_t *op, const char *off, int rows, int cols,
                   const char *r0, const char *c0, const char *R, const char *C, const char *dst,
                   const char *dst_index, const char *zero, lathe_dtype_t to);
/* Work amount of a product of sizes, for launch entries. */
lathe_cuda_work_t cu_work(const lathe_kdim_t *dims, uint32_t n);
/* A grid dimension over `work` with `per_block` of it per block. */
lathe_cuda_grid_dim_t cu_grid_dim(lathe_cuda_work_t work, int64_t per_block, int64_t cap);

/* ---- files (artifact.c) --------------------------------------------------- */

/* The PTX of one binary as a text file. */
lathe_status_t cu_write_ptx(const lathe_cuda_binary_t *b, const char *path);
/* A shared library exporting `symbol` (the descriptor) and `<symbol>_cuda`. */
lathe_status_t cu_write_shared(const lathe_rt_program_t *d, const lathe_cuda_program_t *cuda,
                               const char *symbol, const char *path);

#endif

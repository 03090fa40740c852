/* Internals of the LLVM backend, shared by its files; not an API.
 *
 *   target.c   target strings -> TargetMachine; host detection; the pass run
 *   func.c     kernel/task functions: the ABI types, the prologue that loads
 *              buffer pointers and params, alias scopes, loop metadata
 *   scalar.c   dtypes -> LLVM types, element loads/stores (f16, bf16, i4),
 *              constants, casts
 *   ops.c      the one table from kernel/scalar_ops.def to LLVM code
 *   vmath.c    exp, tanh, erf for f32 as vectorizable polynomials
 *   expr.c     expression DAGs at one iteration point (memoized per node)
 *   loops.c    LOOPS kernels from the isl AST (parallel outlining, vector
 *              loops, register accumulators for reductions)
 *   gemm.c     GEMM kernels: packing, the register-blocked micro-kernel,
 *              blocking, parallel tiles (gemm.h: its internals)
 *   gemm_kernel.c  the GEMM kernel function: paths, groups, weights packed
 *              once (rt->derived), scratch layout
 *   gemm_store.c  GEMM tile stores: partial sums, the fused epilogue
 *   gemv.c     GEMM kernels with few rows: B streamed once, unpacked
 *   program.c  the lathe_rt_program_t descriptor as constant globals
 *   backend.c  the lathe_backend_t table: compile, emit, JIT
 *
 * Values in registers: every dtype has a storage type (what memory holds:
 * i16 for f16/bf16, i8 for bool and for a byte of two i4/u4) and a register
 * type (what expressions compute with: float for f16/bf16/f32, double for
 * f64, i1 for bool, i8 for i4/u4 kept sign- or zero-extended from 4 bits,
 * iN otherwise). Indices and loop iterators are i64.
 *
 * Errors: generators record the first failure in cg->error (cg_fail) and keep
 * emitting harmless code, so callers check once per kernel.
 */
#ifndef LATHE_CODEGEN_LLVM_INTERNAL_H
#define LATHE_CODEGEN_LLVM_INTERNAL_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "codegen/llvm/llvm.h"
#include "support/hashmap.h"

/* ---- module-wide state ---------------------------------------------------- */

typedef struct cg {
  const lathe_kprogram_t *p;
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMTargetMachineRef tm;
  lathe_llvm_target_info_t target;
  uint32_t force_width; /* the vector_width option: lanes forced on innermost loops, or 0 */
  const char *symbol;   /* program descriptor symbol; kernel symbols are symbol_<name> */
  /* types */
  LLVMTypeRef void_t, i1, i8, i16, i32, i64, f16, f32, f64, i8p, i64p;
  LLVMTypeRef args_t, rt_t, task_t; /* lathe_rt_kernel_args_t, lathe_rt_functions_t, task fn */
  LLVMTypeRef pfor_t, scratch_t, kernel_t; /* rt->parallel_for, rt->scratch, a kernel */
  LLVMTypeRef derived_t, fill_t;           /* rt->derived, its fill callback */
  /* metadata kinds and per-root-buffer alias scopes (NULL until used) */
  unsigned md_scope, md_noalias, md_loop;
  LLVMMetadataRef scope_domain;
  LLVMMetadataRef *scopes;                   /* [num_buffers], roots only, made on first use */
  const lathe_kernel_t *tag_kernel;          /* the kernel the lists below are for */
  LLVMValueRef *scope_lists, *noalias_lists; /* [num_buffers] by root */
  /* the kernel being generated, for messages */
  const char *kernel_name;
  lathe_status_t error;
  lathe_arena_t arena;
} cg_t;

/* Records the first error, prefixed with the kernel name; returns NULL. */
void *cg_fail(cg_t *cg, lathe_status_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- functions (func.c) --------------------------------------------------- */

/* One function being emitted: a kernel or a parallel task outlined from it. */
typedef struct fn {
  cg_t *cg;
  const lathe_kernel_t *kernel;
  LLVMValueRef fn;
  LLVMBuilderRef b;
  LLVMValueRef args;       /* lathe_rt_kernel_args_t * */
  LLVMValueRef *bufs;      /* [num_buffers]: storage-typed base pointer, loaded on first use */
  LLVMValueRef *params;    /* [num_params]: i64, loaded on first use */
  LLVMValueRef rt, rt_ctx; /* lathe_rt_functions_t *, void * (after fn_load_args) */
  /* `entry` holds allocas and the loads of buffer pointers and params, made
   * on first use; it falls through to `start` (fn_end adds the branch). */
  LLVMBasicBlockRef entry, start;
  LLVMBuilderRef eb; /* positioned at the end of entry */
} fn_t;

void cg_types_init(cg_t *cg);
/* Creates `name` with `type` and a builder at its entry block. */
void fn_begin(fn_t *f, cg_t *cg, const lathe_kernel_t *kernel, const char *name, LLVMTypeRef type);
/* Makes `args` (a lathe_rt_kernel_args_t *) the source of buffer pointers,
 * params and the runtime table. */
void fn_load_args(fn_t *f, LLVMValueRef args);
/* Base pointer of buffer `id` (storage type *) and param k (i64). */
LLVMValueRef fn_buffer(fn_t *f, uint32_t id);
LLVMValueRef fn_param(fn_t *f, uint32_t k);
void fn_end(fn_t *f);

/* A new basic block in f. */
LLVMBasicBlockRef fn_block(fn_t *f, const char *name);
/* An alloca in the entry block (so mem2reg promotes it). */
LLVMValueRef fn_alloca(fn_t *f, LLVMTypeRef type, const char *name);

/* Tags a load/store of buffer `buffer` with its root's alias scope and
 * noalias against every other root the kernel touches: distinct root buffers
 * never overlap (the runtime plans temporaries apart; inputs, outputs and
 * constants are distinct memory), views share their root's scope. */
void cg_tag_access(cg_t *cg, const lathe_kernel_t *kernel, LLVMValueRef inst, uint32_t buffer);
/* The same for an access to runtime scratch (disjoint from every buffer). */
void cg_tag_scratch(cg_t *cg, const lathe_kernel_t *kernel, LLVMValueRef inst);
/* Loop metadata on a latch branch: vectorize (allowing FP reordering; width
 * 0 lets LLVM choose), and no_unroll keeps the full unroller (which runs
 * before the vectorizer) from turning a short constant loop into straight
 * code the vectorizer never sees. */
void cg_loop_hint(cg_t *cg, LLVMValueRef latch_br, bool vectorize, uint32_t width, bool no_unroll);

/* rt->parallel_for(ctx, begin, end, grain, task, closure) and rt->scratch(ctx,
 * bytes) through the function table (needs fn_load_args). */
void fn_parallel_for(fn_t *f, LLVMValueRef begin, LLVMValueRef end, LLVMValueRef grain,
                     LLVMValueRef task, LLVMValueRef closure);
LLVMValueRef fn_scratch(fn_t *f, LLVMValueRef bytes);
/* rt->derived(ctx, slot, source, bytes, fill, closure): an i8* block of data
 * derived once from a constant, or NULL. */
LLVMValueRef fn_derived(fn_t *f, uint32_t slot, LLVMValueRef source, LLVMValueRef bytes,
                        LLVMValueRef fill, LLVMValueRef closure);

/* Calls an intrinsic overloaded on `types`. */
LLVMValueRef cg_intrinsic(fn_t *f, const char *name, LLVMTypeRef *types, unsigned num_types,
                          LLVMValueRef *args, unsigned num_args);
/* Calls (declaring if needed) an external function `ret name(args)`. */
LLVMValueRef cg_call_extern(fn_t *f, const char *name, LLVMTypeRef ret, LLVMValueRef *args,
                            unsigned num_args);

/* A counted loop for (i = lo; i < hi; i += step) with nsw increments and an
 * icmp slt exit test, the form LLVM's vectorizer recognises. fn_loop_begin
 * leaves the builder in the body; fn_loop_end closes it and returns the latch
 * branch (for cg_loop_hint). */
typedef struct loop {
  LLVMValueRef iv, step, hi;
  LLVMBasicBlockRef header, body, exit, pre;
} loop_t;
void fn_loop_begin(fn_t *f, loop_t *l, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef step,
                   const char *name);
LLVMValueRef fn_loop_end(fn_t *f, loop_t *l);

/* i64 helpers (nsw arithmetic: index math never overflows). */
LLVMValueRef cg_i64(cg_t *cg, int64_t v);
LLVMValueRef fn_dim(fn_t *f, lathe_kdim_t d);

/* ---- scalars (scalar.c) --------------------------------------------------- */

LLVMTypeRef cg_storage_type(cg_t *cg, lathe_dtype_t t);
LLVMTypeRef cg_reg_type(cg_t *cg, lathe_dtype_t t);
/* A scalar constant of dtype t in its register type. */
LLVMValueRef cg_const_int(cg_t *cg, lathe_dtype_t t, int64_t v);
LLVMValueRef cg_const_float(cg_t *cg, lathe_dtype_t t, double v);
/* Element `flat` (i64) of buffer `buffer` in register form, and the store. */
LLVMValueRef fn_load_elem(fn_t *f, uint32_t buffer, LLVMValueRef flat);
void fn_store_elem(fn_t *f, uint32_t buffer, LLVMValueRef flat, LLVMValueRef v);
/* A float register rounded as a store to dtype t would round it (f16, bf16). */
LLVMValueRef fn_round(fn_t *f, lathe_dtype_t t, LLVMValueRef v);
/* CAST semantics of kernel/scalar.c (saturating float->int, NaN -> 0, ...). */
LLVMValueRef fn_cast(fn_t *f, lathe_dtype_t to, lathe_dtype_t from, LLVMValueRef v);
/* op(a[, b]) on operands of dtype t (the table in scalar.c). */
LLVMValueRef fn_scalar_op(fn_t *f, lathe_kop_t op, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b);
/* Whether the table has code for op on operands of dtype t. */
bool cg_op_supported(lathe_kop_t op, lathe_dtype_t t);
/* Whether dtype t is one the backend knows. */
bool cg_dtype_supported(cg_t *cg, lathe_dtype_t t);

/* ---- vectorizable f32 math (vmath.c) ---------------------------------- */

LLVMValueRef vm_exp_f32(fn_t *f, LLVMValueRef x);
LLVMValueRef vm_tanh_f32(fn_t *f, LLVMValueRef x);
LLVMValueRef vm_erf_f32(fn_t *f, LLVMValueRef x);

/* ---- expressions (expr.c) ------------------------------------------------- */

/* Evaluates expression DAGs at one point: ITER k = iters[k], ACC = acc. Each
 * node is emitted once per evaluator (memoized by pointer), so build a new
 * evaluator for each point. */
typedef struct eval {
  fn_t *f;
  const LLVMValueRef *iters;
  LLVMValueRef acc;
  lathe_hashmap_t memo;
} eval_t;

void eval_init(eval_t *e, fn_t *f, const LLVMValueRef *iters, LLVMValueRef acc);
void eval_free(eval_t *e);
LLVMValueRef eval_expr(eval_t *e, const lathe_kexpr_t *x);
/* Row-major flat index of buffer `buffer` at index expressions idx[rank]. */
LLVMValueRef eval_flat(eval_t *e, uint32_t buffer, const lathe_kexpr_t *const *idx);
/* Whether x reads buffer root `root` (through any view). */
bool expr_reads_root(const lathe_kprogram_t *p, const lathe_kexpr_t *x, uint32_t root);

/* ---- kernels -------------------------------------------------------------- */

uint32_t cg_root(const lathe_kprogram_t *p, uint32_t buffer);
/* Emits kernel k as "<symbol>_<name>"; returns the function (NULL on error). */
LLVMValueRef cg_loops_kernel(cg_t *cg, const lathe_kernel_t *k, const char *symbol);
LLVMValueRef cg_gemm_kernel(cg_t *cg, const lathe_kernel_t *k, const char *symbol);
/* The task of a GEMM kernel's few-rows path (gemv.c): items are (batch
 * entry, run of GEMV_NCHUNK columns); the closure's slot 0 is the args. */
#define GEMV_M_MAX 16
#define GEMV_NCHUNK 256
LLVMValueRef cg_gemv_task(cg_t *cg, const lathe_kernel_t *k, const char *symbol);
/* Emits the descriptor global `cg->symbol` referring to the kernel functions. */
void cg_program_descriptor(cg_t *cg, LLVMValueRef *kernel_fns);

/* ---- target (target.c) ---------------------------------------------------- */

lathe_status_t cg_target_machine(const lathe_codegen_options_t *opts,
                                 lathe_llvm_target_info_t *out_info, LLVMTargetMachineRef *out_tm);
/* Sets the module's triple and data layout from tm. */
void cg_module_target(LLVMModuleRef mod, LLVMTargetMachineRef tm);
/* default<Ox> through the new pass manager with the TargetMachine. */
lathe_status_t cg_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, uint32_t opt_level);

#endif

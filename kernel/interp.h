/* Internals of the reference interpreter (interp*.c), not an API.
 *
 *   interp.c       program level: buffers, params, running kernels, GEMM
 *   interp_tape.c  expression DAGs flattened into tapes and evaluated
 *   interp_ast.c   isl ASTs compiled into a small loop tree and executed
 *
 * Every buffer is seen through an ibuf_t: read-only bytes (inputs, consts and
 * their views) or an array of kval_t (temps and outputs, held at full f64/i64
 * width but rounded to the dtype on every store). Every load and store is
 * bounds-checked: the interpreter is the oracle, so a lowering bug must
 * surface as an error, never as a silent read of the wrong element.
 */
#ifndef LATHE_KERNEL_INTERP_H
#define LATHE_KERNEL_INTERP_H

#include "kernel/internal.h"

typedef struct ibuf {
  lathe_dtype_t dtype;
  uint32_t rank;
  int64_t dims[LATHE_MAX_RANK];
  int64_t count;
  kval_t *vals;         /* writable storage (the root's, for views) */
  const uint8_t *bytes; /* read-only storage */
} ibuf_t;

typedef struct irun {
  const lathe_kprogram_t *p;
  const int64_t *params;
  ibuf_t *bufs;       /* one per program buffer */
  const char *kernel; /* name of the running kernel, for messages */
} irun_t;

/* Element `flat` of a buffer; element `flat` := v (rounded to the dtype). */
kval_t ibuf_get(const ibuf_t *b, int64_t flat);
void ibuf_set(ibuf_t *b, int64_t flat, kval_t v);
/* Row-major flat index of `index` in `b`, or a status when out of bounds. */
lathe_status_t ibuf_flat(const irun_t *r, uint32_t buffer, const int64_t *index, int64_t *out_flat);

/* An expression DAG as a straight-line list of instructions, operands before
 * users, each node once (shared subexpressions are computed once per point). */
typedef struct tins {
  const lathe_kexpr_t *e;
  const uint32_t *args; /* slot of each argument */
} tins_t;

typedef struct tape {
  uint32_t n;
  tins_t *ins;
  uint32_t *arg_slots; /* storage behind ins[].args */
  kval_t *slots;       /* n values, one per instruction */
} tape_t;

/* Flattens `roots` into a tape; out_slots[i] is where root i's value lands. */
void tape_build(tape_t *t, uint32_t num_roots, const lathe_kexpr_t *const *roots,
                uint32_t *out_slots);
void tape_free(tape_t *t);
/* Evaluates the whole tape at iterator values `iters` (and GEMM acc). */
lathe_status_t tape_run(const irun_t *r, tape_t *t, const int64_t *iters, kval_t acc);

/* Runs one LOOPS kernel by building its isl AST and executing it. */
lathe_status_t interp_loops_kernel(irun_t *r, const lathe_kernel_t *k,
                                   const lathe_kschedule_t *schedules);

#endif

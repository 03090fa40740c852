/* Shared internals of kernel/: the builder's growable arrays and state, and
 * helpers the builder, printer, isl code and interpreter all use. Not an API:
 * other folders include kernel/kernel.h only.
 */
#ifndef LATHE_KERNEL_INTERNAL_H
#define LATHE_KERNEL_INTERNAL_H

#include <stddef.h>

#include "kernel/kernel.h"
#include "support/hashmap.h"

/* A malloc'd growable array; aborts on out-of-memory like the arena. */
typedef struct kvec {
  void *data;
  size_t len, cap;
} kvec_t;

void *kvec_push(kvec_t *v, size_t elem_size);
void kvec_free(kvec_t *v);

/* Builder state, hung off program->build until lathe_kprogram_finish. */
typedef struct kbuild {
  kvec_t params, buffers, kernels; /* pointers */
  kvec_t stmts;                    /* one kvec_t of lathe_kstmt_t* per kernel */
  kvec_t inputs, outputs;          /* uint32_t buffer ids; UINT32_MAX = unset */
  lathe_hashmap_t names;           /* buffer and param names in use */
  lathe_status_t error;            /* the first misuse recorded by a constructor */
} kbuild_t;

/* Frees the builder state (not the objects it built) and clears p->build. */
void kbuild_free(lathe_kprogram_t *p);

/* Records a builder misuse (first one wins); returns NULL for convenience. */
void *kbuild_fail(lathe_kprogram_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns (and clears) the first recorded misuse, or NULL. */
lathe_status_t kbuild_take_error(lathe_kprogram_t *p);

/* Structural equality of two expressions. */
bool kexpr_equal(const lathe_kexpr_t *a, const lathe_kexpr_t *b);

/* A scalar value as the interpreter and constant folding hold it: f for float
 * dtypes, i for everything else (bool is 0/1). */
typedef union kval {
  double f;
  int64_t i;
} kval_t;

/* Applies a scalar op to values of dtype `dtype` (the operands' dtype);
 * the result has the op's result dtype. Never traps. */
kval_t kop_eval(lathe_kop_t op, lathe_dtype_t dtype, kval_t a, kval_t b);
/* Rounds a value to `dtype` (wraps integers, rounds floats through f32/f16/bf16). */
kval_t kval_round(lathe_dtype_t dtype, kval_t v);
/* Converts a value between dtypes (CAST semantics). */
kval_t kval_convert(lathe_dtype_t to, lathe_dtype_t from, kval_t v);

/* Element `i` of dense row-major bytes of `dtype`, and the reverse (packed
 * dtypes: two per byte, low nibble first; little-endian host). */
kval_t kval_load(lathe_dtype_t dtype, const uint8_t *bytes, int64_t i);
void kval_store(lathe_dtype_t dtype, uint8_t *bytes, int64_t i, kval_t v);

/* Evaluates an i64 expression over bound params (no ITER, LOAD or ACC). */
int64_t kexpr_eval_index(const lathe_kexpr_t *e, const int64_t *params);

/* The isl name of a statement's tuple: "S<s>" or "I<s>". */
void kstmt_tuple_name(char *buf, size_t size, uint32_t s, bool init);

#endif

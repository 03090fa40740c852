/* Tensor types: a dtype plus a shape whose dims are static, symbolic or unknown.
 *
 *   static    f32[2, 3]        size >= 0, sym == NULL
 *   symbolic  f32[N, seq]      sym points at a string interned in the module, so
 *                               two dims name the same symbol iff sym pointers match
 *   unknown   f32[?, 3]        size == LATHE_DIM_UNKNOWN, sym == NULL
 *
 * A type's dims array is owned by whoever built it (the module arena for IR
 * values); lathe_type_t itself is a small value that is copied freely.
 * Shape arithmetic here never overflows silently: products are checked.
 */
#ifndef LATHE_IR_TYPE_H
#define LATHE_IR_TYPE_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/dtype.h"
#include "support/arena.h"
#include "support/status.h"
#include "support/strbuf.h"

#define LATHE_DIM_UNKNOWN ((int64_t)-1)
/* Ranks above this are refused as malformed input. */
#define LATHE_MAX_RANK 16

typedef struct lathe_dim {
  int64_t size;    /* >= 0 when static, LATHE_DIM_UNKNOWN otherwise */
  const char *sym; /* interned symbol name, or NULL */
} lathe_dim_t;

typedef struct lathe_type {
  lathe_dtype_t dtype;
  uint32_t rank;
  const lathe_dim_t *dims; /* `rank` entries; NULL when rank == 0 */
} lathe_type_t;

static inline lathe_dim_t lathe_dim_static(int64_t size) { return (lathe_dim_t){size, NULL}; }
static inline lathe_dim_t lathe_dim_unknown(void) {
  return (lathe_dim_t){LATHE_DIM_UNKNOWN, NULL};
}
static inline lathe_dim_t lathe_dim_symbolic(const char *interned) {
  return (lathe_dim_t){LATHE_DIM_UNKNOWN, interned};
}
static inline bool lathe_dim_is_static(lathe_dim_t d) { return !d.sym && d.size >= 0; }
static inline bool lathe_dim_is_symbolic(lathe_dim_t d) { return d.sym != NULL; }
static inline bool lathe_dim_is_unknown(lathe_dim_t d) { return !d.sym && d.size < 0; }

/* Same static size, same symbol, or both unknown. */
bool lathe_dim_equal(lathe_dim_t a, lathe_dim_t b);
/* Could the two dims be the same at run time? (false only for two different
 * static sizes) */
bool lathe_dim_compatible(lathe_dim_t a, lathe_dim_t b);

bool lathe_type_equal(const lathe_type_t *a, const lathe_type_t *b);
/* Same dtype and rank, each dim pair compatible. */
bool lathe_type_compatible(const lathe_type_t *a, const lathe_type_t *b);
/* `declared` refines-or-equals `inferred`: same dtype and rank, and each
 * inferred dim that is known (static or symbolic) is matched exactly. */
bool lathe_type_refines(const lathe_type_t *declared, const lathe_type_t *inferred);
/* No contradiction between two descriptions of one value: same dtype and rank,
 * and every dim pair where both are known (static or symbolic) is equal. An
 * unknown dim on either side agrees with anything, so a declared type may be
 * less precise than the inferred one (infer-shapes then refines it). */
bool lathe_type_consistent(const lathe_type_t *a, const lathe_type_t *b);
bool lathe_type_is_static(const lathe_type_t *t);

/* Copies t's dims into the arena so the result does not borrow t. */
lathe_type_t lathe_type_clone(lathe_arena_t *arena, const lathe_type_t *t);
/* Builds a type with `rank` dims copied from `dims` (may be NULL for rank 0). */
lathe_type_t lathe_type_make(lathe_arena_t *arena, lathe_dtype_t dtype, uint32_t rank,
                             const lathe_dim_t *dims);
/* All-static type from an int64 shape. */
lathe_type_t lathe_type_make_static(lathe_arena_t *arena, lathe_dtype_t dtype, uint32_t rank,
                                    const int64_t *sizes);

/* Element count of a static type; an error status when a dim is not static or
 * the product overflows int64. */
lathe_status_t lathe_type_num_elements(const lathe_type_t *t, int64_t *out_count);
/* Storage bytes of a static type (packed dtypes round up). */
lathe_status_t lathe_type_num_bytes(const lathe_type_t *t, uint64_t *out_bytes);

/* a*b with overflow detection; false on overflow or negative input. */
bool lathe_checked_mul_i64(int64_t a, int64_t b, int64_t *out);
bool lathe_checked_add_i64(int64_t a, int64_t b, int64_t *out);

/* Normalizes a possibly negative axis against `rank` (ONNX convention:
 * -1 is the last axis). Error when out of [-rank, rank). */
lathe_status_t lathe_normalize_axis(int64_t axis, uint32_t rank, uint32_t *out_axis);

/* Numpy/ONNX multidirectional broadcasting. A dim of static size 1 stretches;
 * equal dims (static or the same symbol) pass through; a symbolic dim against
 * a static size other than 1 is assumed equal to that size's dim (the static one
 * wins); two different symbols give an unknown dim. Writes max(rank) dims into
 * out_dims (caller provides LATHE_MAX_RANK entries). */
lathe_status_t lathe_broadcast_dims(uint32_t rank_a, const lathe_dim_t *a, uint32_t rank_b,
                                    const lathe_dim_t *b, uint32_t *out_rank,
                                    lathe_dim_t *out_dims);

/* Appends the text form, e.g. "f32[N, 128, ?]" or "i64[]". */
void lathe_type_print(lathe_strbuf_t *sb, const lathe_type_t *t);

#endif

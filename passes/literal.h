/* Constant tensors as passes read and write them (internal to passes/).
 *
 * A literal is a `const` op's bytes seen through its static type: row-major
 * elements of one dtype. Folding and pattern matching do their arithmetic in
 * two domains only, double for float dtypes and int64 for integer and bool
 * dtypes, converting on load and store, so evaluators are written once rather
 * than once per dtype. Every dtype with an exact image in its domain is
 * supported: f32, f64, f16, bf16 (through support/half.h), signed and unsigned
 * integers up to 32 bits, i64 and bool. u64 (no exact int64 image) and packed
 * 4-bit types are not.
 */
#ifndef LATHE_PASSES_LITERAL_H
#define LATHE_PASSES_LITERAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"

typedef struct lathe_literal {
  lathe_type_t type;   /* static */
  int64_t count;       /* elements */
  const uint8_t *data; /* borrowed, row-major; NULL only when count == 0 */
} lathe_literal_t;

/* Can elements of this dtype be loaded and stored? */
bool lathe_literal_dtype_supported(lathe_dtype_t dtype);
/* Float dtypes compute in double, the others in int64. */
static inline bool lathe_literal_float_domain(lathe_dtype_t dtype) {
  return lathe_dtype_is_float(dtype);
}

/* True when `value` is the result of a `const` op whose bytes are readable,
 * whose type is static and whose dtype is supported; fills *out. */
bool lathe_literal_of(const lathe_value_t *value, lathe_literal_t *out);

/* Element i converted to the domain (dtype must be supported). Loading an
 * integer as double or a float as int64 converts the value (floats truncate
 * toward zero; out-of-range floats must be rejected by the caller first). */
double lathe_literal_load_f64(lathe_dtype_t dtype, const void *data, int64_t i);
int64_t lathe_literal_load_i64(lathe_dtype_t dtype, const void *data, int64_t i);
/* Stores a domain value as element i: floats round to the dtype, integers
 * wrap to its width, bool is `v != 0`. */
void lathe_literal_store_f64(lathe_dtype_t dtype, void *data, int64_t i, double v);
void lathe_literal_store_i64(lathe_dtype_t dtype, void *data, int64_t i, int64_t v);

/* True when every element of the literal equals `v` exactly (an empty literal
 * never counts as a splat). */
bool lathe_literal_is_splat_of(const lathe_literal_t *lit, double v);

#endif

/* Op attributes: named, typed, static parameters of an op (axis, strides,
 * epsilon, target dtype...). Values that ONNX passes as constant inputs
 * (Reshape's shape, Slice's starts) become attributes at import, so passes and
 * backends see them statically.
 *
 * Attribute payloads (strings, lists) live in the module arena.
 */
#ifndef LATHE_IR_ATTR_H
#define LATHE_IR_ATTR_H

#include <stddef.h>
#include <stdint.h>

#include "ir/dtype.h"

typedef enum {
  LATHE_ATTR_NONE = 0,
  LATHE_ATTR_INT,     /* 3 */
  LATHE_ATTR_FLOAT,   /* 1.0e-05 (always printed with '.', 'e', "inf" or "nan") */
  LATHE_ATTR_STRING,  /* "nearest" */
  LATHE_ATTR_INTS,    /* [1, 2] */
  LATHE_ATTR_FLOATS,  /* [0.5, 1.0] */
  LATHE_ATTR_STRINGS, /* ["a", "b"] */
  LATHE_ATTR_DTYPE,   /* f16 */
  LATHE_ATTR_KIND_COUNT
} lathe_attr_kind_t;

typedef struct lathe_attr {
  const char *name;
  lathe_attr_kind_t kind;
  union {
    int64_t i;
    double f;
    const char *s;
    lathe_dtype_t dtype;
    struct {
      const int64_t *data;
      size_t count;
    } ints;
    struct {
      const double *data;
      size_t count;
    } floats;
    struct {
      const char *const *data;
      size_t count;
    } strings;
  } u;
} lathe_attr_t;

/* Schema entry in the op registry: name, kind, whether it must be present,
 * and the default used when absent (only for scalar kinds; lists default to
 * empty). */
typedef struct lathe_attr_schema {
  const char *name;
  lathe_attr_kind_t kind;
  int required;
  int64_t default_int;
  double default_float;
  const char *default_string;
  lathe_dtype_t default_dtype;
} lathe_attr_schema_t;

const char *lathe_attr_kind_name(lathe_attr_kind_t kind);

#endif

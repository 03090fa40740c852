/* Loading and storing constant elements: see literal.h.
 *
 * The only per-dtype code in the folder lives here, in one switch per
 * direction; everything above works in the double / int64 domains.
 */
#include "passes/literal.h"

#include <math.h>
#include <string.h>

#include "support/half.h"

bool lathe_literal_dtype_supported(lathe_dtype_t dtype) {
  switch (dtype) {
  case LATHE_DTYPE_F32:
  case LATHE_DTYPE_F64:
  case LATHE_DTYPE_F16:
  case LATHE_DTYPE_BF16:
  case LATHE_DTYPE_I8:
  case LATHE_DTYPE_U8:
  case LATHE_DTYPE_I16:
  case LATHE_DTYPE_U16:
  case LATHE_DTYPE_I32:
  case LATHE_DTYPE_U32:
  case LATHE_DTYPE_I64:
  case LATHE_DTYPE_BOOL: return true;
  default: return false;
  }
}

bool lathe_literal_of(const lathe_value_t *value, lathe_literal_t *out) {
  const lathe_op_t *def = value ? value->def : NULL;
  if (!def || def->kind != LATHE_OP_CONST || !def->weight) return false;
  const lathe_type_t *t = &value->type;
  if (!lathe_type_is_static(t) || !lathe_literal_dtype_supported(t->dtype)) return false;
  int64_t count;
  lathe_status_t st = lathe_type_num_elements(t, &count);
  if (st) {
    lathe_status_free(st);
    return false;
  }
  if (count > 0 && !def->weight->data) return false; /* bytes not mapped */
  *out = (lathe_literal_t){*t, count, def->weight->data};
  return true;
}

/* Reads / writes a T at element i without alignment assumptions. */
#define GET(T) \
  (memcpy(&u.T##_, (const uint8_t *)data + i * (int64_t)sizeof u.T##_, sizeof u.T##_), u.T##_)
#define PUT(T, v) \
  (u.T##_ = (v), memcpy((uint8_t *)data + i * (int64_t)sizeof u.T##_, &u.T##_, sizeof u.T##_))

typedef union {
  float f32_;
  double f64_;
  uint16_t u16_;
  int8_t i8_;
  uint8_t u8_;
  int16_t i16_;
  int32_t i32_;
  uint32_t u32_;
  int64_t i64_;
} scalar_t;

double lathe_literal_load_f64(lathe_dtype_t dtype, const void *data, int64_t i) {
  scalar_t u;
  switch (dtype) {
  case LATHE_DTYPE_F32: return GET(f32);
  case LATHE_DTYPE_F64: return GET(f64);
  case LATHE_DTYPE_F16: return lathe_f16_to_f32(GET(u16));
  case LATHE_DTYPE_BF16: return lathe_bf16_to_f32(GET(u16));
  default: return (double)lathe_literal_load_i64(dtype, data, i);
  }
}

int64_t lathe_literal_load_i64(lathe_dtype_t dtype, const void *data, int64_t i) {
  scalar_t u;
  switch (dtype) {
  case LATHE_DTYPE_I8: return GET(i8);
  case LATHE_DTYPE_U8: return GET(u8);
  case LATHE_DTYPE_BOOL: return GET(u8) != 0;
  case LATHE_DTYPE_I16: return GET(i16);
  case LATHE_DTYPE_U16: return GET(u16);
  case LATHE_DTYPE_I32: return GET(i32);
  case LATHE_DTYPE_U32: return GET(u32);
  case LATHE_DTYPE_I64: return GET(i64);
  default:
    /* Unsupported dtypes read as 0 rather than recursing forever. */
    return lathe_dtype_is_float(dtype) ? (int64_t)lathe_literal_load_f64(dtype, data, i) : 0;
  }
}

void lathe_literal_store_f64(lathe_dtype_t dtype, void *data, int64_t i, double v) {
  scalar_t u;
  switch (dtype) {
  case LATHE_DTYPE_F32: PUT(f32, (float)v); break;
  case LATHE_DTYPE_F64: PUT(f64, v); break;
  case LATHE_DTYPE_F16: PUT(u16, lathe_f32_to_f16((float)v)); break;
  case LATHE_DTYPE_BF16: PUT(u16, lathe_f32_to_bf16((float)v)); break;
  case LATHE_DTYPE_BOOL: PUT(u8, v != 0); break;
  /* Callers range-check before storing a float into an integer. */
  default: lathe_literal_store_i64(dtype, data, i, (int64_t)v); break;
  }
}

void lathe_literal_store_i64(lathe_dtype_t dtype, void *data, int64_t i, int64_t v) {
  scalar_t u;
  /* Narrowing goes through the unsigned type: defined wrap-around. */
  switch (dtype) {
  case LATHE_DTYPE_I8:
  case LATHE_DTYPE_U8: PUT(u8, (uint8_t)v); break;
  case LATHE_DTYPE_BOOL: PUT(u8, v != 0); break;
  case LATHE_DTYPE_I16:
  case LATHE_DTYPE_U16: PUT(u16, (uint16_t)v); break;
  case LATHE_DTYPE_I32:
  case LATHE_DTYPE_U32: PUT(u32, (uint32_t)v); break;
  case LATHE_DTYPE_I64: PUT(i64, v); break;
  default:
    if (lathe_dtype_is_float(dtype)) lathe_literal_store_f64(dtype, data, i, (double)v);
    break;
  }
}

bool lathe_literal_is_splat_of(const lathe_literal_t *lit, double v) {
  if (lit->count <= 0) return false;
  lathe_dtype_t dt = lit->type.dtype;
  for (int64_t i = 0; i < lit->count; ++i) {
    double x = lathe_literal_float_domain(dt) ? lathe_literal_load_f64(dt, lit->data, i)
                                              : (double)lathe_literal_load_i64(dt, lit->data, i);
    if (x != v) return false;
  }
  return true;
}

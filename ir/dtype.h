/* Element types: one table (LATHE_DTYPES) is the source of truth for each
 * dtype's text name, storage width, numpy name and class. */
#ifndef LATHE_IR_DTYPE_H
#define LATHE_IR_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  LATHE_DTYPE_FLOAT = 1u << 0,
  LATHE_DTYPE_SIGNED = 1u << 1, /* signed integer */
  LATHE_DTYPE_UNSIGNED = 1u << 2,
  LATHE_DTYPE_BOOLEAN = 1u << 3,
  LATHE_DTYPE_PACKED = 1u << 4, /* sub-byte: two elements per byte, low nibble first */
};

/* X(ENUM, text name, bits per element, numpy dtype name, class flags) */
#define LATHE_DTYPES(X)                                     \
  X(F32, "f32", 32, "float32", LATHE_DTYPE_FLOAT)           \
  X(F16, "f16", 16, "float16", LATHE_DTYPE_FLOAT)           \
  X(BF16, "bf16", 16, "bfloat16", LATHE_DTYPE_FLOAT)        \
  X(F64, "f64", 64, "float64", LATHE_DTYPE_FLOAT)           \
  X(I8, "i8", 8, "int8", LATHE_DTYPE_SIGNED)                \
  X(U8, "u8", 8, "uint8", LATHE_DTYPE_UNSIGNED)             \
  X(I16, "i16", 16, "int16", LATHE_DTYPE_SIGNED)            \
  X(U16, "u16", 16, "uint16", LATHE_DTYPE_UNSIGNED)         \
  X(I32, "i32", 32, "int32", LATHE_DTYPE_SIGNED)            \
  X(U32, "u32", 32, "uint32", LATHE_DTYPE_UNSIGNED)         \
  X(I64, "i64", 64, "int64", LATHE_DTYPE_SIGNED)            \
  X(U64, "u64", 64, "uint64", LATHE_DTYPE_UNSIGNED)         \
  X(BOOL, "bool", 8, "bool", LATHE_DTYPE_BOOLEAN)           \
  X(I4, "i4", 4, "int4", LATHE_DTYPE_SIGNED | LATHE_DTYPE_PACKED) \
  X(U4, "u4", 4, "uint4", LATHE_DTYPE_UNSIGNED | LATHE_DTYPE_PACKED)

typedef enum {
  LATHE_DTYPE_INVALID = 0,
#define X(e, name, bits, np, flags) LATHE_DTYPE_##e,
  LATHE_DTYPES(X)
#undef X
  LATHE_DTYPE_COUNT
} lathe_dtype_t;

/* "f32"...; "invalid" for out-of-range values. */
const char *lathe_dtype_name(lathe_dtype_t dtype);
const char *lathe_dtype_numpy_name(lathe_dtype_t dtype);
unsigned lathe_dtype_bits(lathe_dtype_t dtype);
unsigned lathe_dtype_flags(lathe_dtype_t dtype);
/* Parses a text name of `len` bytes; LATHE_DTYPE_INVALID when unknown. */
lathe_dtype_t lathe_dtype_from_name(const char *name, size_t len);

bool lathe_dtype_is_float(lathe_dtype_t dtype);
bool lathe_dtype_is_integer(lathe_dtype_t dtype); /* signed or unsigned, not bool */
bool lathe_dtype_is_signed(lathe_dtype_t dtype);  /* signed ints and floats */

/* Bytes needed to store `count` elements (packed types round up), or false
 * when the result would overflow uint64_t. */
bool lathe_dtype_storage_bytes(lathe_dtype_t dtype, uint64_t count, uint64_t *out_bytes);

#endif

/* The dtype table: see dtype.h. */
#include "ir/dtype.h"

#include <string.h>

typedef struct {
  const char *name;
  unsigned bits;
  const char *numpy;
  unsigned flags;
} dtype_info_t;

static const dtype_info_t dtype_table[] = {
    [LATHE_DTYPE_INVALID] = {"invalid", 0, "invalid", 0},
#define X(e, name, bits, np, flags) [LATHE_DTYPE_##e] = {name, bits, np, flags},
    LATHE_DTYPES(X)
#undef X
};
_Static_assert(sizeof dtype_table / sizeof dtype_table[0] == LATHE_DTYPE_COUNT,
               "one dtype_table entry per dtype");

static const dtype_info_t *info(lathe_dtype_t d) {
  return (unsigned)d < LATHE_DTYPE_COUNT ? &dtype_table[d] : &dtype_table[0];
}

const char *lathe_dtype_name(lathe_dtype_t d) { return info(d)->name; }
const char *lathe_dtype_numpy_name(lathe_dtype_t d) { return info(d)->numpy; }
unsigned lathe_dtype_bits(lathe_dtype_t d) { return info(d)->bits; }
unsigned lathe_dtype_flags(lathe_dtype_t d) { return info(d)->flags; }

lathe_dtype_t lathe_dtype_from_name(const char *name, size_t len) {
  for (int d = 1; d < LATHE_DTYPE_COUNT; ++d)
    if (strlen(dtype_table[d].name) == len && memcmp(dtype_table[d].name, name, len) == 0)
      return (lathe_dtype_t)d;
  return LATHE_DTYPE_INVALID;
}

bool lathe_dtype_is_float(lathe_dtype_t d) { return info(d)->flags & LATHE_DTYPE_FLOAT; }
bool lathe_dtype_is_integer(lathe_dtype_t d) {
  return info(d)->flags & (LATHE_DTYPE_SIGNED | LATHE_DTYPE_UNSIGNED);
}
bool lathe_dtype_is_signed(lathe_dtype_t d) {
  return info(d)->flags & (LATHE_DTYPE_SIGNED | LATHE_DTYPE_FLOAT);
}

bool lathe_dtype_storage_bytes(lathe_dtype_t d, uint64_t count, uint64_t *out_bytes) {
  unsigned bits = info(d)->bits;
  if (bits == 0) return false;
  if (bits < 8) {
    uint64_t per_byte = 8 / bits;
    *out_bytes = count / per_byte + (count % per_byte != 0);
    return true;
  }
  uint64_t size = bits / 8;
  if (count > UINT64_MAX / size) return false;
  *out_bytes = count * size;
  return true;
}

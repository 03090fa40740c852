/* Mapping between Lathe dtypes and safetensors dtype names.
 *
 * Kept as an explicit table rather than derived from the Lathe text names
 * ("f32" -> "F32") so that a dtype added to Lathe never silently acquires a
 * safetensors spelling the format does not define.
 */
#include <string.h>

#include "frontend/safetensors/safetensors.h"

static const struct {
  lathe_dtype_t dtype;
  const char *name;
} names[] = {
    {LATHE_DTYPE_F32, "F32"},   {LATHE_DTYPE_F16, "F16"}, {LATHE_DTYPE_BF16, "BF16"},
    {LATHE_DTYPE_F64, "F64"},   {LATHE_DTYPE_I8, "I8"},   {LATHE_DTYPE_U8, "U8"},
    {LATHE_DTYPE_I16, "I16"},   {LATHE_DTYPE_U16, "U16"}, {LATHE_DTYPE_I32, "I32"},
    {LATHE_DTYPE_U32, "U32"},   {LATHE_DTYPE_I64, "I64"}, {LATHE_DTYPE_U64, "U64"},
    {LATHE_DTYPE_BOOL, "BOOL"},
};

const char *lathe_safetensors_dtype_name(lathe_dtype_t dtype) {
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
    if (names[i].dtype == dtype) return names[i].name;
  return NULL;
}

lathe_dtype_t lathe_safetensors_dtype_from_name(const char *name) {
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
    if (strcmp(names[i].name, name) == 0) return names[i].dtype;
  return LATHE_DTYPE_INVALID;
}

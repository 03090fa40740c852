/* The op table built from ops.def: see op_registry.h. */
#include <string.h>

#include "ir/infer.h"
#include "ir/ir.h"

static const lathe_op_info_t op_table[] = {
#define OP(e, name, min_in, max_in, min_out, max_out, flags, infer, verify, attrs) \
  [LATHE_OP_##e] = {name, min_in, max_in, min_out, max_out, flags, infer, verify, attrs},
#include "ir/ops.def"
#undef OP
};
_Static_assert(sizeof op_table / sizeof op_table[0] == LATHE_OP_KIND_COUNT,
               "one op_table entry per op kind");

const lathe_op_info_t *lathe_op_info(lathe_op_kind_t kind) {
  return (unsigned)kind < LATHE_OP_KIND_COUNT ? &op_table[kind] : NULL;
}

const char *lathe_op_name(lathe_op_kind_t kind) {
  return (unsigned)kind < LATHE_OP_KIND_COUNT ? op_table[kind].name : "<invalid op>";
}

bool lathe_op_kind_from_name(const char *name, size_t len, lathe_op_kind_t *out_kind) {
  for (int k = 0; k < LATHE_OP_KIND_COUNT; ++k)
    if (strlen(op_table[k].name) == len && memcmp(op_table[k].name, name, len) == 0) {
      *out_kind = (lathe_op_kind_t)k;
      return true;
    }
  return false;
}

int lathe_op_attr_schema_index(lathe_op_kind_t kind, const char *name) {
  const lathe_op_info_t *info = lathe_op_info(kind);
  if (!info || !info->attrs) return -1;
  for (int i = 0; info->attrs[i].name; ++i)
    if (strcmp(info->attrs[i].name, name) == 0) return i;
  return -1;
}

const lathe_attr_schema_t *lathe_op_attr_schema(lathe_op_kind_t kind, const char *name) {
  int i = lathe_op_attr_schema_index(kind, name);
  return i < 0 ? NULL : &lathe_op_info(kind)->attrs[i];
}

const char *lathe_attr_kind_name(lathe_attr_kind_t kind) {
  static const char *const names[LATHE_ATTR_KIND_COUNT] = {
      "none", "int", "float", "string", "ints", "floats", "strings", "dtype"};
  return (unsigned)kind < LATHE_ATTR_KIND_COUNT ? names[kind] : "invalid";
}

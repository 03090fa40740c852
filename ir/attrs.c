/* Attribute storage and access on ops (see ir.h). Attributes are kept sorted in
 * registry schema order, so printing is canonical and lookups can stop early;
 * reads of absent attributes fall back to the schema default. */
#include <math.h>
#include <string.h>

#include "ir/ir.h"

lathe_attr_t lathe_attr_int(const char *name, int64_t v) {
  return (lathe_attr_t){.name = name, .kind = LATHE_ATTR_INT, .u.i = v};
}
lathe_attr_t lathe_attr_float(const char *name, double v) {
  return (lathe_attr_t){.name = name, .kind = LATHE_ATTR_FLOAT, .u.f = v};
}
lathe_attr_t lathe_attr_string(const char *name, const char *v) {
  return (lathe_attr_t){.name = name, .kind = LATHE_ATTR_STRING, .u.s = v};
}
lathe_attr_t lathe_attr_dtype(const char *name, lathe_dtype_t v) {
  return (lathe_attr_t){.name = name, .kind = LATHE_ATTR_DTYPE, .u.dtype = v};
}
lathe_attr_t lathe_attr_ints(const char *name, const int64_t *v, size_t n) {
  return (lathe_attr_t){.name = name, .kind = LATHE_ATTR_INTS, .u.ints = {v, n}};
}
lathe_attr_t lathe_attr_floats(const char *name, const double *v, size_t n) {
  return (lathe_attr_t){.name = name, .kind = LATHE_ATTR_FLOATS, .u.floats = {v, n}};
}

static bool same_double(double a, double b) {
  return a == b || (isnan(a) && isnan(b)); /* NaN attributes compare equal to themselves */
}

bool lathe_attr_equal(const lathe_attr_t *a, const lathe_attr_t *b) {
  if (strcmp(a->name, b->name) != 0 || a->kind != b->kind) return false;
  switch (a->kind) {
  case LATHE_ATTR_INT: return a->u.i == b->u.i;
  case LATHE_ATTR_FLOAT: return same_double(a->u.f, b->u.f);
  case LATHE_ATTR_STRING: return strcmp(a->u.s, b->u.s) == 0;
  case LATHE_ATTR_DTYPE: return a->u.dtype == b->u.dtype;
  case LATHE_ATTR_INTS:
    return a->u.ints.count == b->u.ints.count &&
           (a->u.ints.count == 0 ||
            memcmp(a->u.ints.data, b->u.ints.data, a->u.ints.count * sizeof(int64_t)) == 0);
  case LATHE_ATTR_FLOATS:
    if (a->u.floats.count != b->u.floats.count) return false;
    for (size_t i = 0; i < a->u.floats.count; ++i)
      if (!same_double(a->u.floats.data[i], b->u.floats.data[i])) return false;
    return true;
  case LATHE_ATTR_STRINGS:
    if (a->u.strings.count != b->u.strings.count) return false;
    for (size_t i = 0; i < a->u.strings.count; ++i)
      if (strcmp(a->u.strings.data[i], b->u.strings.data[i]) != 0) return false;
    return true;
  default: return true;
  }
}

const lathe_attr_t *lathe_op_find_attr(const lathe_op_t *op, const char *name) {
  for (uint32_t i = 0; i < op->num_attrs; ++i)
    if (strcmp(op->attrs[i].name, name) == 0) return &op->attrs[i];
  return NULL;
}

static const lathe_attr_t *find_kind(const lathe_op_t *op, const char *name,
                                     lathe_attr_kind_t kind) {
  const lathe_attr_t *a = lathe_op_find_attr(op, name);
  return a && a->kind == kind ? a : NULL;
}

int64_t lathe_op_attr_int(const lathe_op_t *op, const char *name) {
  const lathe_attr_t *a = find_kind(op, name, LATHE_ATTR_INT);
  if (a) return a->u.i;
  const lathe_attr_schema_t *s = lathe_op_attr_schema(op->kind, name);
  return s ? s->default_int : 0;
}

double lathe_op_attr_float(const lathe_op_t *op, const char *name) {
  const lathe_attr_t *a = find_kind(op, name, LATHE_ATTR_FLOAT);
  if (a) return a->u.f;
  const lathe_attr_schema_t *s = lathe_op_attr_schema(op->kind, name);
  return s ? s->default_float : 0.0;
}

const char *lathe_op_attr_string(const lathe_op_t *op, const char *name) {
  const lathe_attr_t *a = find_kind(op, name, LATHE_ATTR_STRING);
  if (a) return a->u.s;
  const lathe_attr_schema_t *s = lathe_op_attr_schema(op->kind, name);
  return s && s->default_string ? s->default_string : "";
}

lathe_dtype_t lathe_op_attr_dtype(const lathe_op_t *op, const char *name) {
  const lathe_attr_t *a = find_kind(op, name, LATHE_ATTR_DTYPE);
  if (a) return a->u.dtype;
  const lathe_attr_schema_t *s = lathe_op_attr_schema(op->kind, name);
  return s ? s->default_dtype : LATHE_DTYPE_INVALID;
}

size_t lathe_op_attr_ints(const lathe_op_t *op, const char *name, const int64_t **out_data) {
  const lathe_attr_t *a = find_kind(op, name, LATHE_ATTR_INTS);
  if (out_data) *out_data = a ? a->u.ints.data : NULL;
  return a ? a->u.ints.count : 0;
}

size_t lathe_op_attr_floats(const lathe_op_t *op, const char *name, const double **out_data) {
  const lathe_attr_t *a = find_kind(op, name, LATHE_ATTR_FLOATS);
  if (out_data) *out_data = a ? a->u.floats.data : NULL;
  return a ? a->u.floats.count : 0;
}

/* Deep copy of an attribute's payload into the arena. */
static lathe_attr_t copy_attr(lathe_arena_t *a, const lathe_attr_t *src) {
  lathe_attr_t dst = *src;
  dst.name = lathe_arena_strdup(a, src->name);
  switch (src->kind) {
  case LATHE_ATTR_STRING: dst.u.s = lathe_arena_strdup(a, src->u.s); break;
  case LATHE_ATTR_INTS:
    dst.u.ints.data = lathe_arena_memdup(a, src->u.ints.data, src->u.ints.count * sizeof(int64_t));
    break;
  case LATHE_ATTR_FLOATS:
    dst.u.floats.data =
        lathe_arena_memdup(a, src->u.floats.data, src->u.floats.count * sizeof(double));
    break;
  case LATHE_ATTR_STRINGS: {
    const char **strs = LATHE_ARENA_NEW_ARRAY(a, const char *, src->u.strings.count ? src->u.strings.count : 1);
    for (size_t i = 0; i < src->u.strings.count; ++i)
      strs[i] = lathe_arena_strdup(a, src->u.strings.data[i]);
    dst.u.strings.data = strs;
    break;
  }
  default: break;
  }
  return dst;
}

/* Schema position, with unknown names sorting after all known ones. */
static int rank_of(lathe_op_kind_t kind, const char *name) {
  int i = lathe_op_attr_schema_index(kind, name);
  return i < 0 ? 1 << 20 : i;
}

void lathe_op_set_attr(lathe_op_t *op, const lathe_attr_t *attr) {
  lathe_arena_t *a = lathe_module_arena(op->graph->module);
  lathe_attr_t copy = copy_attr(a, attr);
  for (uint32_t i = 0; i < op->num_attrs; ++i)
    if (strcmp(op->attrs[i].name, attr->name) == 0) {
      op->attrs[i] = copy;
      return;
    }
  lathe_attr_t *attrs = LATHE_ARENA_NEW_ARRAY(a, lathe_attr_t, op->num_attrs + 1);
  int r = rank_of(op->kind, attr->name);
  uint32_t pos = op->num_attrs;
  for (uint32_t i = 0; i < op->num_attrs; ++i)
    if (rank_of(op->kind, op->attrs[i].name) > r) {
      pos = i;
      break;
    }
  for (uint32_t i = 0, j = 0; i < op->num_attrs + 1; ++i)
    attrs[i] = i == pos ? copy : op->attrs[j++];
  op->attrs = attrs;
  op->num_attrs++;
}

void lathe_op_remove_attr(lathe_op_t *op, const char *name) {
  for (uint32_t i = 0; i < op->num_attrs; ++i)
    if (strcmp(op->attrs[i].name, name) == 0) {
      memmove(&op->attrs[i], &op->attrs[i + 1], (op->num_attrs - i - 1) * sizeof *op->attrs);
      op->num_attrs--;
      return;
    }
}

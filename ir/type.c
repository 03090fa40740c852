/* Type and shape arithmetic: see type.h. */
#include "ir/type.h"

#include <inttypes.h>
#include <string.h>

bool lathe_dim_equal(lathe_dim_t a, lathe_dim_t b) {
  if (a.sym || b.sym) return a.sym == b.sym;
  return a.size == b.size;
}

bool lathe_dim_compatible(lathe_dim_t a, lathe_dim_t b) {
  if (lathe_dim_is_static(a) && lathe_dim_is_static(b)) return a.size == b.size;
  return true;
}

bool lathe_type_equal(const lathe_type_t *a, const lathe_type_t *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (uint32_t i = 0; i < a->rank; ++i)
    if (!lathe_dim_equal(a->dims[i], b->dims[i])) return false;
  return true;
}

bool lathe_type_compatible(const lathe_type_t *a, const lathe_type_t *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (uint32_t i = 0; i < a->rank; ++i)
    if (!lathe_dim_compatible(a->dims[i], b->dims[i])) return false;
  return true;
}

bool lathe_type_refines(const lathe_type_t *declared, const lathe_type_t *inferred) {
  if (declared->dtype != inferred->dtype || declared->rank != inferred->rank) return false;
  for (uint32_t i = 0; i < declared->rank; ++i) {
    lathe_dim_t d = declared->dims[i], n = inferred->dims[i];
    if (lathe_dim_is_unknown(n)) continue;
    if (!lathe_dim_equal(d, n)) return false;
  }
  return true;
}

bool lathe_type_consistent(const lathe_type_t *a, const lathe_type_t *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (uint32_t i = 0; i < a->rank; ++i) {
    lathe_dim_t x = a->dims[i], y = b->dims[i];
    if (lathe_dim_is_unknown(x) || lathe_dim_is_unknown(y)) continue;
    if (!lathe_dim_equal(x, y)) return false;
  }
  return true;
}

bool lathe_type_is_static(const lathe_type_t *t) {
  for (uint32_t i = 0; i < t->rank; ++i)
    if (!lathe_dim_is_static(t->dims[i])) return false;
  return true;
}

lathe_type_t lathe_type_make(lathe_arena_t *arena, lathe_dtype_t dtype, uint32_t rank,
                             const lathe_dim_t *dims) {
  lathe_type_t t = {dtype, rank, NULL};
  if (rank) {
    lathe_dim_t *copy = LATHE_ARENA_NEW_ARRAY(arena, lathe_dim_t, rank);
    memcpy(copy, dims, rank * sizeof *copy);
    t.dims = copy;
  }
  return t;
}

lathe_type_t lathe_type_clone(lathe_arena_t *arena, const lathe_type_t *t) {
  return lathe_type_make(arena, t->dtype, t->rank, t->dims);
}

lathe_type_t lathe_type_make_static(lathe_arena_t *arena, lathe_dtype_t dtype, uint32_t rank,
                                    const int64_t *sizes) {
  lathe_type_t t = {dtype, rank, NULL};
  if (rank) {
    lathe_dim_t *dims = LATHE_ARENA_NEW_ARRAY(arena, lathe_dim_t, rank);
    for (uint32_t i = 0; i < rank; ++i) dims[i] = lathe_dim_static(sizes[i]);
    t.dims = dims;
  }
  return t;
}

bool lathe_checked_mul_i64(int64_t a, int64_t b, int64_t *out) {
  if (a < 0 || b < 0) return false;
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

bool lathe_checked_add_i64(int64_t a, int64_t b, int64_t *out) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

lathe_status_t lathe_type_num_elements(const lathe_type_t *t, int64_t *out_count) {
  int64_t n = 1;
  for (uint32_t i = 0; i < t->rank; ++i) {
    if (!lathe_dim_is_static(t->dims[i]))
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "dim %u is not static, so the element count is unknown", i);
    if (!lathe_checked_mul_i64(n, t->dims[i].size, &n))
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE,
                               "element count overflows int64 at dim %u", i);
  }
  *out_count = n;
  return NULL;
}

lathe_status_t lathe_type_num_bytes(const lathe_type_t *t, uint64_t *out_bytes) {
  int64_t n;
  LATHE_RETURN_IF_ERROR(lathe_type_num_elements(t, &n));
  if (!lathe_dtype_storage_bytes(t->dtype, (uint64_t)n, out_bytes))
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "byte size overflows uint64");
  return NULL;
}

lathe_status_t lathe_normalize_axis(int64_t axis, uint32_t rank, uint32_t *out_axis) {
  int64_t r = (int64_t)rank;
  if (axis < -r || axis >= r)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "axis %" PRId64 " is out of range for rank %u",
                             axis, rank);
  *out_axis = (uint32_t)(axis < 0 ? axis + r : axis);
  return NULL;
}

static bool is_one(lathe_dim_t d) { return lathe_dim_is_static(d) && d.size == 1; }

lathe_status_t lathe_broadcast_dims(uint32_t rank_a, const lathe_dim_t *a, uint32_t rank_b,
                                    const lathe_dim_t *b, uint32_t *out_rank,
                                    lathe_dim_t *out_dims) {
  uint32_t rank = rank_a > rank_b ? rank_a : rank_b;
  if (rank > LATHE_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "rank %u exceeds the limit of %d", rank,
                             LATHE_MAX_RANK);
  for (uint32_t i = 0; i < rank; ++i) {
    /* Align from the right: missing leading dims act as 1. */
    lathe_dim_t da = i + rank_a >= rank ? a[i + rank_a - rank] : lathe_dim_static(1);
    lathe_dim_t db = i + rank_b >= rank ? b[i + rank_b - rank] : lathe_dim_static(1);
    lathe_dim_t r;
    if (is_one(da)) r = db;
    else if (is_one(db)) r = da;
    else if (lathe_dim_equal(da, db)) r = da;
    else if (lathe_dim_is_static(da) && lathe_dim_is_static(db))
      return lathe_status_make(LATHE_STATUS_VERIFY_ERROR,
                               "cannot broadcast dim %" PRId64 " against %" PRId64, da.size,
                               db.size);
    else if (lathe_dim_is_static(da)) r = da;
    else if (lathe_dim_is_static(db)) r = db;
    else r = lathe_dim_unknown();
    out_dims[i] = r;
  }
  *out_rank = rank;
  return NULL;
}

void lathe_type_print(lathe_strbuf_t *sb, const lathe_type_t *t) {
  lathe_strbuf_append(sb, lathe_dtype_name(t->dtype));
  lathe_strbuf_putc(sb, '[');
  for (uint32_t i = 0; i < t->rank; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    lathe_dim_t d = t->dims[i];
    if (d.sym) lathe_strbuf_append(sb, d.sym);
    else if (d.size < 0) lathe_strbuf_putc(sb, '?');
    else lathe_strbuf_printf(sb, "%" PRId64, d.size);
  }
  lathe_strbuf_putc(sb, ']');
}

/* Running inference, and the helpers shared by the inference families:
 * operand dtype/rank checks, dim arithmetic that stays honest about symbols,
 * axis-list normalization, and the generic verifiers (0/1 flags, enums).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ir/infer.h"

lathe_status_t lathe_op_infer_types(const lathe_op_t *op, lathe_type_t *out_types) {
  const lathe_op_info_t *info = lathe_op_info(op->kind);
  if (!info->infer) {
    for (uint32_t i = 0; i < op->num_results; ++i) out_types[i] = op->results[i].type;
    return NULL;
  }
  /* Inference reads operand types; a missing required operand must not crash it. */
  for (uint32_t i = 0; i < op->num_operands && (int32_t)i < info->min_operands; ++i)
    if (!op->operands[i].value)
      return lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "required operand %u is missing", i);
  lathe_infer_ctx_t ctx = {op, op->graph->module, lathe_module_arena(op->graph->module),
                           op->num_results, out_types};
  for (uint32_t i = 0; i < op->num_results; ++i) out_types[i] = (lathe_type_t){0};
  lathe_status_t st = info->infer(&ctx);
  if (!st) return NULL;
  lathe_status_t located = lathe_op_error(op, lathe_status_code(st), "%s", lathe_status_message(st));
  lathe_status_free(st);
  return located;
}

void lathe_infer_set_result(lathe_infer_ctx_t *ctx, uint32_t i, lathe_dtype_t dtype,
                            uint32_t rank, const lathe_dim_t *dims) {
  if (i < ctx->num_results) ctx->results[i] = lathe_type_make(ctx->arena, dtype, rank, dims);
}

/* ---- operand checks ---- */

lathe_status_t lathe_infer_require_same_dtype(const lathe_infer_ctx_t *ctx, uint32_t a,
                                              uint32_t b) {
  lathe_dtype_t da = lathe_infer_operand_type(ctx, a)->dtype;
  lathe_dtype_t db = lathe_infer_operand_type(ctx, b)->dtype;
  if (da != db)
    return LATHE_INFER_ERROR("operands %u and %u have different dtypes (%s vs %s)", a, b,
                             lathe_dtype_name(da), lathe_dtype_name(db));
  return NULL;
}

static const char *describe_classes(unsigned c) {
  switch (c) {
  case LATHE_DTC_FLOAT: return "float";
  case LATHE_DTC_SINT: return "a signed integer";
  case LATHE_DTC_UINT: return "an unsigned integer";
  case LATHE_DTC_BOOL: return "bool";
  case LATHE_DTC_INT: return "an integer";
  case LATHE_DTC_SIGNED: return "float or a signed integer";
  case LATHE_DTC_NUMERIC: return "numeric";
  default: return "of another dtype";
  }
}

lathe_status_t lathe_infer_require_dtype(const lathe_infer_ctx_t *ctx, uint32_t i,
                                         unsigned classes) {
  lathe_dtype_t d = lathe_infer_operand_type(ctx, i)->dtype;
  if (!(lathe_dtype_flags(d) & classes))
    return LATHE_INFER_ERROR("operand %u must be %s, got %s", i, describe_classes(classes),
                             lathe_dtype_name(d));
  return NULL;
}

lathe_status_t lathe_infer_require_index_dtype(const lathe_infer_ctx_t *ctx, uint32_t i) {
  lathe_dtype_t d = lathe_infer_operand_type(ctx, i)->dtype;
  if (d != LATHE_DTYPE_I32 && d != LATHE_DTYPE_I64)
    return LATHE_INFER_ERROR("operand %u (indices) must be i32 or i64, got %s", i,
                             lathe_dtype_name(d));
  return NULL;
}

lathe_status_t lathe_infer_require_8bit(const lathe_infer_ctx_t *ctx, uint32_t i) {
  lathe_dtype_t d = lathe_infer_operand_type(ctx, i)->dtype;
  if (d != LATHE_DTYPE_I8 && d != LATHE_DTYPE_U8)
    return LATHE_INFER_ERROR("operand %u must be i8 or u8, got %s", i, lathe_dtype_name(d));
  return NULL;
}

lathe_status_t lathe_infer_check_zero_point(const lathe_infer_ctx_t *ctx, uint32_t zp,
                                            uint32_t q) {
  return lathe_infer_has_operand(ctx, zp) ? lathe_infer_require_same_dtype(ctx, q, zp) : NULL;
}

lathe_status_t lathe_infer_require_rank(const lathe_infer_ctx_t *ctx, uint32_t i,
                                        uint32_t min_rank, uint32_t max_rank) {
  uint32_t r = lathe_infer_operand_type(ctx, i)->rank;
  if (r >= min_rank && r <= max_rank) return NULL;
  if (min_rank == max_rank)
    return LATHE_INFER_ERROR("operand %u must have rank %u, got %u", i, min_rank, r);
  if (max_rank >= LATHE_MAX_RANK)
    return LATHE_INFER_ERROR("operand %u must have rank >= %u, got %u", i, min_rank, r);
  return LATHE_INFER_ERROR("operand %u must have rank %u to %u, got %u", i, min_rank, max_rank, r);
}

lathe_status_t lathe_infer_require_scalar(const lathe_infer_ctx_t *ctx, uint32_t i) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, i);
  for (uint32_t d = 0; d < t->rank; ++d)
    if (!lathe_dim_is_static(t->dims[d]) || t->dims[d].size != 1) {
      lathe_strbuf_t sb;
      lathe_strbuf_init(&sb);
      lathe_type_print(&sb, t);
      lathe_status_t st = LATHE_INFER_ERROR("operand %u must be a scalar, got %s", i,
                                            lathe_strbuf_cstr(&sb));
      lathe_strbuf_destroy(&sb);
      return st;
    }
  return NULL;
}

lathe_status_t lathe_infer_require_vector(const lathe_infer_ctx_t *ctx, uint32_t i,
                                          lathe_dim_t len) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, i);
  char want[32], got[32];
  if (t->rank != 1)
    return LATHE_INFER_ERROR("operand %u must be 1-D of size %s, got rank %u", i,
                             lathe_dim_str(len, want, sizeof want), t->rank);
  if (!lathe_dim_compatible(t->dims[0], len))
    return LATHE_INFER_ERROR("operand %u must have size %s, got %s", i,
                             lathe_dim_str(len, want, sizeof want),
                             lathe_dim_str(t->dims[0], got, sizeof got));
  return NULL;
}

/* ---- dim arithmetic ---- */

const char *lathe_dim_str(lathe_dim_t d, char *buf, size_t n) {
  if (d.sym) snprintf(buf, n, "%s", d.sym);
  else if (d.size < 0) snprintf(buf, n, "?");
  else snprintf(buf, n, "%" PRId64, d.size);
  return buf;
}

bool lathe_dim_merge(lathe_dim_t a, lathe_dim_t b, lathe_dim_t *out_dim) {
  if (!lathe_dim_compatible(a, b)) return false;
  if (lathe_dim_is_static(a)) *out_dim = a;
  else if (lathe_dim_is_static(b)) *out_dim = b;
  else if (lathe_dim_equal(a, b) || lathe_dim_is_unknown(b)) *out_dim = a;
  else if (lathe_dim_is_unknown(a)) *out_dim = b;
  else *out_dim = lathe_dim_unknown(); /* two different symbols */
  return true;
}

lathe_status_t lathe_dims_product(const lathe_dim_t *dims, uint32_t n, lathe_dim_t *out_dim) {
  int64_t p = 1;
  uint32_t non_static = 0;
  lathe_dim_t lone = lathe_dim_unknown();
  bool zero = false;
  for (uint32_t i = 0; i < n; ++i) {
    if (!lathe_dim_is_static(dims[i])) {
      ++non_static;
      lone = dims[i];
    } else if (dims[i].size == 0) {
      zero = true;
    } else if (!lathe_checked_mul_i64(p, dims[i].size, &p)) {
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "element count overflows int64");
    }
  }
  if (zero) *out_dim = lathe_dim_static(0); /* zero times anything */
  else if (non_static == 0) *out_dim = lathe_dim_static(p);
  else if (non_static == 1 && p == 1) *out_dim = lone;
  else *out_dim = lathe_dim_unknown();
  return NULL;
}

lathe_status_t lathe_dim_add(lathe_dim_t a, lathe_dim_t b, lathe_dim_t *out_dim) {
  if (lathe_dim_is_static(a) && lathe_dim_is_static(b)) {
    int64_t s;
    if (!lathe_checked_add_i64(a.size, b.size, &s))
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "dim sum overflows int64");
    *out_dim = lathe_dim_static(s);
  } else if (lathe_dim_is_static(a) && a.size == 0) {
    *out_dim = b;
  } else if (lathe_dim_is_static(b) && b.size == 0) {
    *out_dim = a;
  } else {
    *out_dim = lathe_dim_unknown();
  }
  return NULL;
}

/* ---- attributes ---- */

lathe_status_t lathe_normalize_axes(const int64_t *axes, size_t n, uint32_t rank,
                                    uint32_t *out_axes) {
  if (n > rank) return LATHE_INFER_ERROR("%zu axes given for rank %u", n, rank);
  uint32_t seen = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t a;
    LATHE_RETURN_IF_ERROR(lathe_normalize_axis(axes[i], rank, &a));
    if (seen & (1u << a)) return LATHE_INFER_ERROR("axis %" PRId64 " is repeated", axes[i]);
    seen |= 1u << a;
    out_axes[i] = a;
  }
  return NULL;
}

lathe_status_t lathe_infer_axes_attr(const lathe_op_t *op, const char *name, uint32_t rank,
                                     uint32_t *out_count, uint32_t *out_mask) {
  const int64_t *axes;
  size_t n = lathe_op_attr_ints(op, name, &axes);
  uint32_t norm[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR_CTX(lathe_normalize_axes(axes, n, rank, norm), "attribute '%s'", name);
  uint32_t mask = 0;
  for (size_t i = 0; i < n; ++i) mask |= 1u << norm[i];
  *out_count = (uint32_t)n;
  *out_mask = mask;
  return NULL;
}

lathe_status_t lathe_infer_check_enum(const lathe_op_t *op, const char *name,
                                      const char *choices) {
  const char *v = lathe_op_attr_string(op, name);
  size_t len = strlen(v);
  for (const char *p = choices; *p;) {
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n == len && memcmp(p, v, n) == 0) return NULL;
    p += n + (bar != NULL);
  }
  char list[256];
  size_t j = 0;
  for (const char *p = choices; *p && j + 3 < sizeof list; ++p) {
    if (*p == '|') {
      list[j++] = ',';
      list[j++] = ' ';
    } else {
      list[j++] = *p;
    }
  }
  list[j] = '\0';
  return LATHE_INFER_ERROR("attribute '%s' must be one of %s; got \"%s\"", name, list, v);
}

lathe_status_t lathe_infer_unidirectional(const lathe_type_t *target, const lathe_type_t *source,
                                          uint32_t source_index) {
  char a[32], b[32];
  if (source->rank > target->rank)
    return LATHE_INFER_ERROR("operand %u has rank %u, above the rank %u it must broadcast to",
                             source_index, source->rank, target->rank);
  uint32_t off = target->rank - source->rank;
  for (uint32_t i = 0; i < source->rank; ++i) {
    lathe_dim_t s = source->dims[i], t = target->dims[off + i];
    if (lathe_dim_is_static(s) && s.size == 1) continue;
    if (!lathe_dim_compatible(s, t))
      return LATHE_INFER_ERROR("operand %u does not broadcast: dim %u is %s, expected %s%s",
                               source_index, i, lathe_dim_str(s, a, sizeof a),
                               lathe_dim_str(t, b, sizeof b),
                               lathe_dim_is_static(t) && t.size == 1 ? "" : " or 1");
  }
  return NULL;
}

/* ---- generic verifiers ---- */

/* INT attributes that ONNX defines as booleans. Kept in one place so every op
 * that has one gets the same check through lathe_verify_flags. */
static const char *const flag_names[] = {
    "allowzero",  "antialias",       "causal",          "ceil_mode",         "count_include_pad",
    "detect_negative", "detect_positive", "exclude_outside", "exclusive",     "fmod",
    "interleaved", "keepdims",       "largest",         "noop_with_empty_axes", "reverse",
    "saturate",   "select_last_index", "sorted",        "storage_order",     "trans_a",
    "trans_b",    "upper",
};

lathe_status_t lathe_verify_flags(const lathe_op_t *op) {
  for (uint32_t i = 0; i < op->num_attrs; ++i) {
    const lathe_attr_t *a = &op->attrs[i];
    if (a->kind != LATHE_ATTR_INT) continue;
    for (size_t j = 0; j < sizeof flag_names / sizeof flag_names[0]; ++j)
      if (strcmp(a->name, flag_names[j]) == 0 && a->u.i != 0 && a->u.i != 1)
        return LATHE_INFER_ERROR("attribute '%s' must be 0 or 1, got %" PRId64, a->name, a->u.i);
  }
  return NULL;
}

lathe_status_t lathe_verify_const(const lathe_op_t *op) {
  if (!op->weight) return LATHE_INFER_ERROR("has no weight");
  uint64_t bytes;
  LATHE_RETURN_IF_ERROR(lathe_type_num_bytes(&op->results[0].type, &bytes));
  if (op->weight->dtype != op->results[0].type.dtype || op->weight->num_bytes != bytes)
    return LATHE_INFER_ERROR("type needs %llu bytes of %s but the weight holds %llu bytes of %s",
                             (unsigned long long)bytes, lathe_dtype_name(op->results[0].type.dtype),
                             (unsigned long long)op->weight->num_bytes,
                             lathe_dtype_name(op->weight->dtype));
  return NULL;
}

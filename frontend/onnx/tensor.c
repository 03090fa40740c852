/* ONNX TensorProto -> Lathe constant: dtype, static shape and a weight.
 *
 * A tensor's bytes come from one of three places, and each keeps its cost:
 *   raw_data        stripped from the skeleton by wire.c; viewed in the model
 *                   mapping as a FILE weight (@file("model.onnx", OFFSET))
 *   external data   data_location = EXTERNAL with location/offset/length keys;
 *                   the named file (relative to the model's directory) is
 *                   mapped once and viewed as a FILE weight
 *   typed fields    float_data, int32_data (also 8/16-bit ints, bool, f16 and
 *                   bf16 bit patterns, packed 4-bit pairs), int64_data,
 *                   double_data, uint64_data: converted into an INLINE weight
 *                   (these are varint-encoded, so there is nothing to view)
 * Constants with at most `inline_max_elements` elements are INLINE whatever
 * their source, so they print as `dense[...]`.
 *
 * Every size is checked before use: negative or overflowing dims, data whose
 * length disagrees with dims and dtype, external ranges past the end of file.
 * raw_data is little-endian, as is every host Lathe supports.
 */
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

/* X(ONNX DataType value, ONNX name, Lathe dtype or INVALID) */
#define ONNX_DTYPES(X)      \
  X(1, "FLOAT", F32)        \
  X(2, "UINT8", U8)         \
  X(3, "INT8", I8)          \
  X(4, "UINT16", U16)       \
  X(5, "INT16", I16)        \
  X(6, "INT32", I32)        \
  X(7, "INT64", I64)        \
  X(8, "STRING", INVALID)   \
  X(9, "BOOL", BOOL)        \
  X(10, "FLOAT16", F16)     \
  X(11, "DOUBLE", F64)      \
  X(12, "UINT32", U32)      \
  X(13, "UINT64", U64)      \
  X(14, "COMPLEX64", INVALID) \
  X(15, "COMPLEX128", INVALID) \
  X(16, "BFLOAT16", BF16)   \
  X(17, "FLOAT8E4M3FN", INVALID) \
  X(18, "FLOAT8E4M3FNUZ", INVALID) \
  X(19, "FLOAT8E5M2", INVALID) \
  X(20, "FLOAT8E5M2FNUZ", INVALID) \
  X(21, "UINT4", U4)        \
  X(22, "INT4", I4)         \
  X(23, "FLOAT4E2M1", INVALID) \
  X(24, "FLOAT8E8M0", INVALID)

lathe_dtype_t onnx_dtype_to_lathe(int32_t t) {
  switch (t) {
#define X(v, name, d) \
  case v: return LATHE_DTYPE_##d;
    ONNX_DTYPES(X)
#undef X
  default: return LATHE_DTYPE_INVALID;
  }
}

const char *onnx_dtype_name(int32_t t) {
  switch (t) {
#define X(v, name, d) \
  case v: return name;
    ONNX_DTYPES(X)
#undef X
  case 0: return "UNDEFINED";
  default: return "unknown";
  }
}

static lathe_status_t fail(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static lathe_status_t fail(const char *what, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t st = lathe_status_makev(LATHE_STATUS_INVALID_ARGUMENT, fmt, ap);
  va_end(ap);
  return lathe_status_annotate(st, "%s", what);
}

static const char *type_text(lathe_arena_t *a, const lathe_type_t *t) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_type_print(&sb, t);
  const char *s = lathe_arena_strdup(a, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return s;
}

static const char *join(lathe_arena_t *a, const char *dir, const char *name) {
  if (!dir || !*dir || !strcmp(dir, ".")) return lathe_arena_strdup(a, name);
  size_t n = strlen(dir);
  return lathe_arena_printf(a, "%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", name);
}

/* ---- typed fields ---------------------------------------------------------- */

/* Which typed field an ONNX dtype stores its values in. */
typedef enum { F_NONE, F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64 } field_t;

static field_t typed_field(lathe_dtype_t d) {
  switch (d) {
  case LATHE_DTYPE_F32: return F_FLOAT;
  case LATHE_DTYPE_I64: return F_INT64;
  case LATHE_DTYPE_F64: return F_DOUBLE;
  case LATHE_DTYPE_U32:
  case LATHE_DTYPE_U64: return F_UINT64;
  default: return F_INT32; /* ints up to 32 bits, bool, f16/bf16 bits, 4-bit pairs */
  }
}

static size_t field_count(const Onnx__TensorProto *t, field_t f) {
  switch (f) {
  case F_FLOAT: return t->n_float_data;
  case F_INT32: return t->n_int32_data;
  case F_INT64: return t->n_int64_data;
  case F_DOUBLE: return t->n_double_data;
  case F_UINT64: return t->n_uint64_data;
  case F_NONE: break;
  }
  return 0;
}

static const char *field_name(field_t f) {
  static const char *const names[] = {"", "float_data", "int32_data", "int64_data",
                                      "double_data", "uint64_data"};
  return names[f];
}

static bool any_typed(const Onnx__TensorProto *t) {
  return t->n_float_data || t->n_int32_data || t->n_int64_data || t->n_double_data ||
         t->n_uint64_data || t->n_string_data;
}

/* Converts the typed field into `count` storage units of `d` (packed dtypes:
 * one byte per int32 entry, as ONNX stores them). */
static void convert_typed(const Onnx__TensorProto *t, lathe_dtype_t d, size_t count, uint8_t *out) {
  unsigned bytes = lathe_dtype_bits(d) >= 8 ? lathe_dtype_bits(d) / 8 : 1;
  for (size_t i = 0; i < count; ++i) {
    uint8_t *dst = out + i * bytes;
    switch (typed_field(d)) {
    case F_FLOAT: memcpy(dst, &t->float_data[i], 4); break;
    case F_INT64: memcpy(dst, &t->int64_data[i], 8); break;
    case F_DOUBLE: memcpy(dst, &t->double_data[i], 8); break;
    case F_UINT64:
      if (bytes == 8) memcpy(dst, &t->uint64_data[i], 8);
      else {
        uint32_t v = (uint32_t)t->uint64_data[i];
        memcpy(dst, &v, 4);
      }
      break;
    case F_INT32: {
      uint32_t v = (uint32_t)t->int32_data[i];
      if (d == LATHE_DTYPE_BOOL) v = v != 0;
      /* little-endian: the low `bytes` bytes of the value are the element */
      uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
      memcpy(dst, le, bytes);
      break;
    }
    case F_NONE: break;
    }
  }
}

/* ---- external data --------------------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s) return false;
  uint64_t v = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return true;
}

/* A relative path that stays inside the model's directory. */
static bool safe_location(const char *loc) {
  if (!*loc || loc[0] == '/') return false;
  for (const char *p = loc; *p;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') return false;
    p += n + (slash != NULL);
  }
  return true;
}

/* Finds the mapped file and offset of an external tensor of `expected` bytes. */
static lathe_status_t external_range(onnx_tensor_ctx_t *ctx, const Onnx__TensorProto *t,
                                     const char *what, uint64_t expected,
                                     lathe_mapped_file_t **out_file, uint64_t *out_offset,
                                     const char **out_display) {
  lathe_arena_t *a = lathe_module_arena(ctx->module);
  const char *location = NULL, *offset_s = NULL, *length_s = NULL;
  for (size_t i = 0; i < t->n_external_data; ++i) {
    const Onnx__StringStringEntryProto *e = t->external_data[i];
    if (!e->key) continue;
    if (!strcmp(e->key, "location")) location = e->value;
    else if (!strcmp(e->key, "offset")) offset_s = e->value;
    else if (!strcmp(e->key, "length")) length_s = e->value;
  }
  if (!location) return fail(what, "external data without a 'location' key");
  if (!safe_location(location))
    return fail(what, "external data location '%s' must be a relative path inside the model's "
                      "directory", location);
  uint64_t offset = 0, length = expected;
  if (offset_s && !parse_u64(offset_s, &offset))
    return fail(what, "external data offset '%s' is not a non-negative integer", offset_s);
  if (length_s && !parse_u64(length_s, &length))
    return fail(what, "external data length '%s' is not a non-negative integer", length_s);
  if (length != expected)
    return fail(what, "external data length %llu does not match the %llu bytes of its type",
                (unsigned long long)length, (unsigned long long)expected);

  lathe_mapped_file_t *file = lathe_hashmap_get_str(ctx->external, location);
  if (!file) {
    const char *path = join(a, ctx->model_dir, location);
    lathe_status_t st = lathe_mapped_file_open(path, &file);
    if (st) return lathe_status_annotate(st, "%s: external data", what);
    if (!lathe_hashmap_put_str(ctx->external, location, file)) {
      lathe_mapped_file_release(file);
      return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
  }
  LATHE_RETURN_IF_ERROR_CTX(lathe_mapped_file_check_range(file, offset, length), "%s", what);
  *out_file = file;
  *out_offset = offset;
  *out_display = join(a, ctx->display_dir, location);
  return NULL;
}

/* ---- decoding -------------------------------------------------------------- */

lathe_status_t onnx_tensor_decode(onnx_tensor_ctx_t *ctx, const Onnx__TensorProto *t,
                                  const onnx_raw_ref_t *raw, const char *what,
                                  onnx_const_t *out_const) {
  lathe_arena_t *a = lathe_module_arena(ctx->module);
  int32_t onnx_dtype = t->has_data_type ? t->data_type : 0;
  lathe_dtype_t dtype = onnx_dtype_to_lathe(onnx_dtype);
  if (dtype == LATHE_DTYPE_INVALID)
    return lathe_status_annotate(
        lathe_status_make(LATHE_STATUS_UNSUPPORTED, "data type %s (%d) is not supported",
                          onnx_dtype_name(onnx_dtype), (int)onnx_dtype),
        "%s", what);
  if (t->n_dims > LATHE_MAX_RANK)
    return fail(what, "rank %zu is above the supported maximum of %d", t->n_dims, LATHE_MAX_RANK);
  int64_t count = 1;
  for (size_t i = 0; i < t->n_dims; ++i) {
    if (t->dims[i] < 0) return fail(what, "dim %zu is negative (%lld)", i, (long long)t->dims[i]);
    if (!lathe_checked_mul_i64(count, t->dims[i], &count))
      return fail(what, "the element count of its dims overflows int64");
  }
  lathe_type_t type = lathe_type_make_static(a, dtype, (uint32_t)t->n_dims, t->dims);
  uint64_t expected;
  if (!lathe_dtype_storage_bytes(dtype, (uint64_t)count, &expected))
    return fail(what, "%s is too large", type_text(a, &type));
  if (t->segment) return fail(what, "segmented tensors are not supported");

  bool external = t->has_data_location &&
                  t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  bool has_raw = raw && raw->present;
  if ((external && (has_raw || any_typed(t))) || (has_raw && any_typed(t)))
    return fail(what, "holds its data in more than one form (raw_data, typed fields, external)");

  lathe_weight_t *w = NULL;
  if (external || has_raw) {
    lathe_mapped_file_t *file = ctx->model;
    uint64_t offset = has_raw ? raw->offset : 0;
    const char *display = ctx->model_display;
    if (external) {
      LATHE_RETURN_IF_ERROR(external_range(ctx, t, what, expected, &file, &offset, &display));
    } else if (raw->length != expected) {
      return fail(what, "raw_data has %llu bytes, expected %llu for %s",
                  (unsigned long long)raw->length, (unsigned long long)expected,
                  type_text(a, &type));
    }
    if (count <= ctx->inline_max_elements)
      LATHE_RETURN_IF_ERROR(lathe_weight_create_inline(
          ctx->module, dtype, expected ? lathe_mapped_file_data(file) + offset : NULL, expected,
          &w));
    else
      LATHE_RETURN_IF_ERROR(lathe_weight_create_file_view(ctx->module, dtype, file, display,
                                                          offset, expected, &w));
  } else {
    if (t->n_string_data) return fail(what, "string tensors are not supported");
    field_t f = typed_field(dtype);
    size_t n = field_count(t, f);
    size_t units = lathe_dtype_flags(dtype) & LATHE_DTYPE_PACKED ? expected : (size_t)count;
    if (n != units || (n == 0 && any_typed(t)))
      return fail(what, "%s has %zu elements, expected %zu for %s",
                  n == 0 && any_typed(t) ? "its typed data field" : field_name(f), n, units,
                  type_text(a, &type));
    uint8_t *buf = malloc(expected ? expected : 1);
    if (!buf) return fail(what, "out of memory for %llu bytes", (unsigned long long)expected);
    convert_typed(t, dtype, units, buf);
    w = lathe_weight_adopt_buffer(ctx->module, dtype, buf, expected);
  }
  *out_const = (onnx_const_t){.type = type, .weight = w, .data = w->data};
  return NULL;
}

/* ---- element access -------------------------------------------------------- */

int64_t onnx_const_count(const onnx_const_t *c) {
  int64_t n = 1;
  for (uint32_t i = 0; i < c->type.rank; ++i) n *= c->type.dims[i].size;
  return n;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13);
  else if (exp) bits = sign | ((exp + 112) << 23) | (man << 13);
  else if (!man) bits = sign;
  else {
    int e = -1;
    do {
      ++e;
      man <<= 1;
    } while (!(man & 0x400));
    bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

double onnx_const_float(const onnx_const_t *c, int64_t i) {
  const uint8_t *p = c->data;
  lathe_dtype_t d = c->type.dtype;
  unsigned bits = lathe_dtype_bits(d);
  if (bits < 8) {
    unsigned nib = (p[i / 2] >> (i % 2 ? 4 : 0)) & 0xf;
    return d == LATHE_DTYPE_I4 && nib >= 8 ? (double)nib - 16 : (double)nib;
  }
  p += (size_t)i * (bits / 8);
  union {
    float f;
    double g;
    int8_t i8;
    uint8_t u8;
    int16_t i16;
    uint16_t u16;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
  } v;
  memcpy(&v, p, bits / 8);
  switch (d) {
  case LATHE_DTYPE_F32: return v.f;
  case LATHE_DTYPE_F64: return v.g;
  case LATHE_DTYPE_F16: return half_to_float(v.u16);
  case LATHE_DTYPE_BF16: {
    uint32_t b = (uint32_t)v.u16 << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
  }
  case LATHE_DTYPE_I8: return v.i8;
  case LATHE_DTYPE_U8:
  case LATHE_DTYPE_BOOL: return v.u8;
  case LATHE_DTYPE_I16: return v.i16;
  case LATHE_DTYPE_U16: return v.u16;
  case LATHE_DTYPE_I32: return v.i32;
  case LATHE_DTYPE_U32: return v.u32;
  case LATHE_DTYPE_I64: return (double)v.i64;
  case LATHE_DTYPE_U64: return (double)v.u64;
  default: return 0;
  }
}

int64_t onnx_const_int(const onnx_const_t *c, int64_t i) {
  lathe_dtype_t d = c->type.dtype;
  if (d == LATHE_DTYPE_I64 || d == LATHE_DTYPE_U64) {
    int64_t v;
    memcpy(&v, c->data + (size_t)i * 8, 8);
    return v; /* exact, where a double would round */
  }
  double f = onnx_const_float(c, i);
  if (f != f) return 0;
  if (f >= 9.2e18) return INT64_MAX;
  if (f <= -9.2e18) return INT64_MIN;
  return (int64_t)f;
}

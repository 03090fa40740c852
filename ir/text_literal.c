/* Number reading and printing for the text IR: see text_literal.h.
 *
 * Shortest round-trip printing tries increasing precisions with "%.*g" and
 * keeps the first that reads back to the same bits. That is at most 17 tries
 * per double and 9 per float, simple to check, and exact by construction,
 * which is all the printer needs (it is not a hot path).
 */
#include "ir/text_literal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/half.h"

/* ---- helpers ---- */

/* A NUL-terminated copy of a token's text: strtod and friends need one. */
typedef struct {
  char small[128];
  char *heap;
  const char *str;
} cstr_t;

static void cstr_init(cstr_t *c, const char *text, size_t len) {
  c->heap = NULL;
  char *dst = c->small;
  if (len >= sizeof c->small) {
    c->heap = malloc(len + 1);
    if (!c->heap) abort();
    dst = c->heap;
  }
  memcpy(dst, text, len);
  dst[len] = '\0';
  c->str = dst;
}

static void cstr_free(cstr_t *c) { free(c->heap); }

static bool text_is(const char *text, size_t len, const char *word) {
  return strlen(word) == len && memcmp(text, word, len) == 0;
}

static bool looks_float(const char *text, size_t len) {
  if (text_is(text, len, "inf") || text_is(text, len, "-inf") || text_is(text, len, "nan"))
    return true;
  for (size_t i = 0; i < len; ++i)
    if (text[i] == '.' || text[i] == 'e' || text[i] == 'E') return true;
  return false;
}

static bool looks_int(const char *text, size_t len) {
  size_t i = len && text[0] == '-' ? 1 : 0;
  if (i == len) return false;
  for (; i < len; ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

/* Makes "%g" output read back as a float: "1" -> "1.0". */
static void append_floatlike(lathe_strbuf_t *sb, const char *s) {
  lathe_strbuf_append(sb, s);
  if (!strpbrk(s, ".eEni")) lathe_strbuf_append(sb, ".0");
}

/* ---- printing ---- */

/* "%g" switches to an exponent as soon as the digits run out: 100 with one
 * digit is "1e+02", 65504 with three is "6.55e+04". Plain notation reads
 * better and is as exact (the p-digit decimal is also a wider one, so
 * rounding to more digits lands at least as close; the caller still checks),
 * so it wins unless it is more than two characters longer: "100.0",
 * "65504.0", but "1e+10". Returns the precision that prints `shortest`
 * (found with precision p) in plain form, or 0 to keep it. */
static int plain_precision(const char *shortest, int p) {
  const char *e = strchr(shortest, 'e');
  if (!e) return 0;
  int exponent = atoi(e + 1);
  if (exponent < 0 || exponent >= 17) return 0;
  int digits = exponent + 1 > p ? exponent + 1 : p;
  /* Plain text: the digits, ".0" or a '.', and a sign. */
  size_t plain_len = (size_t)digits + 2 + (shortest[0] == '-');
  return plain_len <= strlen(shortest) + 2 ? digits : 0;
}

/* Whether `back` (read from text) stores as the same element as `f`. */
static bool same_element(lathe_dtype_t dtype, float back, float f) {
  if (dtype == LATHE_DTYPE_F16) return lathe_f32_to_f16(back) == lathe_f32_to_f16(f);
  if (dtype == LATHE_DTYPE_BF16) return lathe_f32_to_bf16(back) == lathe_f32_to_bf16(f);
  return lathe_f32_bits(back) == lathe_f32_bits(f);
}

void lathe_text_print_double(lathe_strbuf_t *sb, double v) {
  if (isnan(v)) {
    lathe_strbuf_append(sb, "nan");
    return;
  }
  char buf[48];
  int p = 1;
  for (; p <= 17; ++p) {
    snprintf(buf, sizeof buf, "%.*g", p, v);
    double back = strtod(buf, NULL);
    if (memcmp(&back, &v, sizeof v) == 0) break;
  }
  int wide = plain_precision(buf, p);
  if (wide) {
    char fixed[48];
    snprintf(fixed, sizeof fixed, "%.*g", wide, v);
    double back = strtod(fixed, NULL);
    if (memcmp(&back, &v, sizeof v) == 0) memcpy(buf, fixed, sizeof buf);
  }
  append_floatlike(sb, buf);
}

/* Shortest decimal for `f` such that `same(strtof(text))` holds: plain f32
 * compares bits, f16/bf16 compare after narrowing. */
static void print_float_via(lathe_strbuf_t *sb, float f, lathe_dtype_t dtype) {
  if (isnan(f)) {
    lathe_strbuf_append(sb, "nan");
    return;
  }
  char buf[48];
  int p = 1;
  for (; p <= 9; ++p) {
    snprintf(buf, sizeof buf, "%.*g", p, (double)f);
    if (same_element(dtype, strtof(buf, NULL), f)) break;
  }
  int wide = plain_precision(buf, p);
  if (wide) {
    char fixed[48];
    snprintf(fixed, sizeof fixed, "%.*g", wide, (double)f);
    if (same_element(dtype, strtof(fixed, NULL), f)) memcpy(buf, fixed, sizeof buf);
  }
  append_floatlike(sb, buf);
}

/* Integers are stored little-endian (weights.h), so the low `bytes` of a
 * uint64 hold them on the little-endian hosts Lathe supports. */
static uint64_t load_raw(const uint8_t *p, unsigned bytes) {
  uint64_t raw = 0;
  memcpy(&raw, p, bytes);
  return raw;
}

static int64_t sign_extend(uint64_t raw, unsigned bits) {
  if (bits >= 64 || !((raw >> (bits - 1)) & 1)) return (int64_t)raw;
  return (int64_t)(raw - ((uint64_t)1 << bits));
}

void lathe_text_print_element(lathe_strbuf_t *sb, lathe_dtype_t dtype, const uint8_t *data,
                              uint64_t index) {
  unsigned bits = lathe_dtype_bits(dtype);
  if (bits == 0) return;
  if (lathe_dtype_flags(dtype) & LATHE_DTYPE_PACKED) {
    uint64_t raw = (data[index / 2] >> (index % 2 ? 4 : 0)) & 0xf;
    if (lathe_dtype_is_signed(dtype)) lathe_strbuf_printf(sb, "%" PRId64, sign_extend(raw, 4));
    else lathe_strbuf_printf(sb, "%" PRIu64, raw);
    return;
  }
  const uint8_t *p = data + index * (bits / 8);
  if (dtype == LATHE_DTYPE_F64) {
    double d;
    memcpy(&d, p, sizeof d);
    lathe_text_print_double(sb, d);
  } else if (dtype == LATHE_DTYPE_F32) {
    float f;
    memcpy(&f, p, sizeof f);
    print_float_via(sb, f, dtype);
  } else if (dtype == LATHE_DTYPE_F16) {
    print_float_via(sb, lathe_f16_to_f32((uint16_t)load_raw(p, 2)), dtype);
  } else if (dtype == LATHE_DTYPE_BF16) {
    print_float_via(sb, lathe_bf16_to_f32((uint16_t)load_raw(p, 2)), dtype);
  } else if (dtype == LATHE_DTYPE_BOOL) {
    lathe_strbuf_append(sb, *p ? "true" : "false");
  } else if (lathe_dtype_is_signed(dtype)) {
    lathe_strbuf_printf(sb, "%" PRId64, sign_extend(load_raw(p, bits / 8), bits));
  } else {
    lathe_strbuf_printf(sb, "%" PRIu64, load_raw(p, bits / 8));
  }
}

/* ---- reading ---- */

lathe_status_t lathe_text_parse_int(const char *text, size_t len, int64_t *out) {
  if (!looks_int(text, len))
    return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "expected an integer, got '%.*s'", (int)len,
                             text);
  cstr_t c;
  cstr_init(&c, text, len);
  errno = 0;
  long long v = strtoll(c.str, NULL, 10);
  int err = errno;
  cstr_free(&c);
  if (err == ERANGE)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "integer %.*s does not fit in 64 bits",
                             (int)len, text);
  *out = v;
  return NULL;
}

lathe_status_t lathe_text_parse_double(const char *text, size_t len, double *out) {
  if (text_is(text, len, "inf") || text_is(text, len, "-inf") || text_is(text, len, "nan")) {
    *out = text[0] == 'n' ? NAN : text[0] == '-' ? -INFINITY : INFINITY;
    return NULL;
  }
  if (!looks_int(text, len) && !looks_float(text, len))
    return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "expected a number, got '%.*s'", (int)len,
                             text);
  cstr_t c;
  cstr_init(&c, text, len);
  double v = strtod(c.str, NULL);
  cstr_free(&c);
  if (isinf(v))
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "%.*s is out of range for f64", (int)len,
                             text);
  *out = v;
  return NULL;
}

/* Reads a float literal for an f32/f16/bf16 element: through strtof, so the
 * decimal is rounded once to f32; the printer checks its output the same way. */
static lathe_status_t parse_float(lathe_dtype_t dtype, const char *text, size_t len, float *out) {
  double special;
  if (text_is(text, len, "inf") || text_is(text, len, "-inf") || text_is(text, len, "nan")) {
    LATHE_RETURN_IF_ERROR(lathe_text_parse_double(text, len, &special));
    *out = (float)special;
    return NULL;
  }
  cstr_t c;
  cstr_init(&c, text, len);
  float v = strtof(c.str, NULL);
  cstr_free(&c);
  bool overflow = isinf(v);
  if (dtype == LATHE_DTYPE_F16) overflow |= (lathe_f32_to_f16(v) & 0x7fff) == 0x7c00;
  if (dtype == LATHE_DTYPE_BF16) overflow |= (lathe_f32_to_bf16(v) & 0x7fff) == 0x7f80;
  if (overflow)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "%.*s is out of range for %s", (int)len,
                             text, lathe_dtype_name(dtype));
  *out = v;
  return NULL;
}

static void store_raw(uint8_t *p, uint64_t raw, unsigned bytes) { memcpy(p, &raw, bytes); }

/* Integer element: range-checked against the dtype's width. */
static lathe_status_t store_int(lathe_dtype_t dtype, const char *text, size_t len, uint8_t *data,
                                uint64_t index) {
  unsigned bits = lathe_dtype_bits(dtype);
  bool is_signed = lathe_dtype_is_signed(dtype);
  uint64_t raw;
  bool in_range;
  if (text[0] == '-' || is_signed) {
    int64_t v;
    lathe_status_t st = lathe_text_parse_int(text, len, &v);
    if (st) {
      lathe_status_free(st);
      in_range = false;
      v = 0;
    } else if (!is_signed) {
      in_range = v == 0; /* "-0" */
    } else {
      int64_t lo = bits >= 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
      int64_t hi = bits >= 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1;
      in_range = v >= lo && v <= hi;
    }
    raw = (uint64_t)v;
  } else {
    cstr_t c;
    cstr_init(&c, text, len);
    errno = 0;
    unsigned long long v = strtoull(c.str, NULL, 10);
    in_range = errno != ERANGE && (bits >= 64 || v < ((unsigned long long)1 << bits));
    cstr_free(&c);
    raw = v;
  }
  if (!in_range)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "%.*s is out of range for %s", (int)len,
                             text, lathe_dtype_name(dtype));
  if (lathe_dtype_flags(dtype) & LATHE_DTYPE_PACKED) {
    unsigned shift = index % 2 ? 4 : 0;
    data[index / 2] = (uint8_t)((data[index / 2] & ~(0xf << shift)) | ((raw & 0xf) << shift));
  } else {
    store_raw(data + index * (bits / 8), raw, bits / 8);
  }
  return NULL;
}

lathe_status_t lathe_text_store_element(lathe_dtype_t dtype, const char *text, size_t len,
                                        uint8_t *data, uint64_t index) {
  bool is_bool_text = text_is(text, len, "true") || text_is(text, len, "false");
  if (dtype == LATHE_DTYPE_BOOL) {
    if (!is_bool_text)
      return lathe_status_make(LATHE_STATUS_PARSE_ERROR,
                               "expected true or false for a bool element, got '%.*s'", (int)len,
                               text);
    data[index] = text[0] == 't';
    return NULL;
  }
  if (lathe_dtype_is_integer(dtype)) {
    if (!looks_int(text, len))
      return lathe_status_make(LATHE_STATUS_PARSE_ERROR,
                               "expected an integer for a %s element, got '%.*s'",
                               lathe_dtype_name(dtype), (int)len, text);
    return store_int(dtype, text, len, data, index);
  }
  if (is_bool_text || (!looks_int(text, len) && !looks_float(text, len)))
    return lathe_status_make(LATHE_STATUS_PARSE_ERROR,
                             "expected a number for a %s element, got '%.*s'",
                             lathe_dtype_name(dtype), (int)len, text);
  if (dtype == LATHE_DTYPE_F64) {
    double d;
    LATHE_RETURN_IF_ERROR(lathe_text_parse_double(text, len, &d));
    memcpy(data + index * 8, &d, 8);
    return NULL;
  }
  float f = 0.0f;
  LATHE_RETURN_IF_ERROR(parse_float(dtype, text, len, &f));
  if (dtype == LATHE_DTYPE_F32) memcpy(data + index * 4, &f, 4);
  else if (dtype == LATHE_DTYPE_F16) store_raw(data + index * 2, lathe_f32_to_f16(f), 2);
  else store_raw(data + index * 2, lathe_f32_to_bf16(f), 2);
  return NULL;
}

/* ---- whole buffers ---- */

void lathe_text_fill_elements(lathe_dtype_t dtype, uint8_t *data, uint64_t count) {
  if (count < 2) return;
  if (lathe_dtype_flags(dtype) & LATHE_DTYPE_PACKED) {
    uint8_t nib = data[0] & 0xf;
    memset(data, nib | (nib << 4), count / 2);
    if (count % 2) data[count / 2] = nib; /* the pad nibble stays zero */
    return;
  }
  /* Double the filled prefix each step: log2(count) memcpy calls. */
  size_t size = lathe_dtype_bits(dtype) / 8, filled = size, total = (size_t)count * size;
  while (filled < total) {
    size_t n = filled < total - filled ? filled : total - filled;
    memcpy(data + filled, data, n);
    filled += n;
  }
}

bool lathe_text_elements_equal(lathe_dtype_t dtype, const uint8_t *data, uint64_t count) {
  if (lathe_dtype_flags(dtype) & LATHE_DTYPE_PACKED) {
    unsigned first = data[0] & 0xf;
    for (uint64_t i = 1; i < count; ++i)
      if (((data[i / 2] >> (i % 2 ? 4 : 0)) & 0xf) != first) return false;
    return true;
  }
  size_t size = lathe_dtype_bits(dtype) / 8;
  for (uint64_t i = 1; i < count; ++i)
    if (memcmp(data, data + i * size, size) != 0) return false;
  return true;
}

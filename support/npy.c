/* .npy reading and writing (see npy.h). The header is a tiny subset of a
 * Python literal, so it is parsed by hand: a dict of three known keys whose
 * values are a string, a bool and a tuple of integers. */
#include "support/npy.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lathe/runtime.h"
#include "support/mapped_file.h"

/* numpy's descr (without the byte-order char) of each supported dtype. */
static const struct {
  int32_t dtype;
  const char *descr;
  unsigned size;
} descrs[] = {
    {LATHE_RT_DTYPE_F32, "f4", 4}, {LATHE_RT_DTYPE_F16, "f2", 2}, {LATHE_RT_DTYPE_F64, "f8", 8},
    {LATHE_RT_DTYPE_I8, "i1", 1},  {LATHE_RT_DTYPE_U8, "u1", 1},  {LATHE_RT_DTYPE_I16, "i2", 2},
    {LATHE_RT_DTYPE_U16, "u2", 2}, {LATHE_RT_DTYPE_I32, "i4", 4}, {LATHE_RT_DTYPE_U32, "u4", 4},
    {LATHE_RT_DTYPE_I64, "i8", 8}, {LATHE_RT_DTYPE_U64, "u8", 8}, {LATHE_RT_DTYPE_BOOL, "b1", 1},
};
#define NUM_DESCRS (sizeof descrs / sizeof descrs[0])

static const char magic[] = "\x93NUMPY";
#define MAGIC_LEN 6

typedef struct {
  const char *p, *end;
  const char *name;
} cursor_t;

static lathe_status_t bad(const cursor_t *c, const char *what) {
  return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: .npy header: %s", c->name, what);
}

static void skip_space(cursor_t *c) {
  while (c->p < c->end && isspace((unsigned char)*c->p)) ++c->p;
}

static bool eat(cursor_t *c, char ch) {
  skip_space(c);
  if (c->p < c->end && *c->p == ch) {
    ++c->p;
    return true;
  }
  return false;
}

/* A quoted string ('...' or "..."); no escapes appear in valid headers. */
static lathe_status_t string(cursor_t *c, const char **out, size_t *out_len) {
  skip_space(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return bad(c, "expected a string");
  char q = *c->p++;
  const char *start = c->p;
  while (c->p < c->end && *c->p != q) ++c->p;
  if (c->p >= c->end) return bad(c, "unterminated string");
  *out = start;
  *out_len = (size_t)(c->p - start);
  ++c->p;
  return NULL;
}

static lathe_status_t descr_value(cursor_t *c, lathe_npy_header_t *h) {
  const char *s;
  size_t n;
  LATHE_RETURN_IF_ERROR(string(c, &s, &n));
  if (n == 3 && s[0] == '>' && s[2] != '1')
    return bad(c, "big-endian arrays are not supported (use a little-endian dtype)");
  if (n != 3 || (s[0] != '<' && s[0] != '|' && s[0] != '=' && s[0] != '>'))
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s: .npy dtype '%.*s' is not supported",
                             c->name, (int)n, s);
  for (size_t i = 0; i < NUM_DESCRS; ++i)
    if (!memcmp(s + 1, descrs[i].descr, 2)) {
      h->dtype = descrs[i].dtype;
      return NULL;
    }
  return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s: .npy dtype '%.*s' is not supported",
                           c->name, (int)n, s);
}

static lathe_status_t shape_value(cursor_t *c, lathe_npy_header_t *h) {
  if (!eat(c, '(')) return bad(c, "expected a shape tuple");
  h->rank = 0;
  while (!eat(c, ')')) {
    skip_space(c);
    if (h->rank == LATHE_NPY_MAX_RANK) return bad(c, "too many dims");
    int64_t v = 0;
    const char *start = c->p;
    for (; c->p < c->end && isdigit((unsigned char)*c->p); ++c->p) {
      if (v > (INT64_MAX - 9) / 10) return bad(c, "dim too large");
      v = v * 10 + (*c->p - '0');
    }
    if (c->p < c->end && *c->p == 'L') ++c->p; /* Python 2 longs */
    if (c->p == start) return bad(c, "bad dim in shape");
    h->dims[h->rank++] = v;
    if (!eat(c, ',')) {
      if (!eat(c, ')')) return bad(c, "expected ',' or ')' in shape");
      break;
    }
  }
  return NULL;
}

static lathe_status_t parse_dict(cursor_t *c, lathe_npy_header_t *h) {
  bool seen_descr = false, seen_shape = false;
  if (!eat(c, '{')) return bad(c, "expected '{'");
  while (!eat(c, '}')) {
    const char *key;
    size_t n;
    LATHE_RETURN_IF_ERROR(string(c, &key, &n));
    if (!eat(c, ':')) return bad(c, "expected ':'");
    skip_space(c);
    if (n == 5 && !memcmp(key, "descr", 5)) {
      LATHE_RETURN_IF_ERROR(descr_value(c, h));
      seen_descr = true;
    } else if (n == 13 && !memcmp(key, "fortran_order", 13)) {
      if ((size_t)(c->end - c->p) >= 4 && !memcmp(c->p, "True", 4))
        return bad(c, "Fortran-order arrays are not supported (save a C-order copy)");
      if ((size_t)(c->end - c->p) < 5 || memcmp(c->p, "False", 5))
        return bad(c, "bad fortran_order value");
      c->p += 5;
    } else if (n == 5 && !memcmp(key, "shape", 5)) {
      LATHE_RETURN_IF_ERROR(shape_value(c, h));
      seen_shape = true;
    } else {
      return bad(c, "unknown key");
    }
    if (!eat(c, ',')) {
      if (!eat(c, '}')) return bad(c, "expected ',' or '}'");
      break;
    }
  }
  if (!seen_descr || !seen_shape) return bad(c, "missing 'descr' or 'shape'");
  return NULL;
}

static unsigned dtype_size(int32_t dtype) {
  for (size_t i = 0; i < NUM_DESCRS; ++i)
    if (descrs[i].dtype == dtype) return descrs[i].size;
  return 0;
}

lathe_status_t lathe_npy_parse(const uint8_t *bytes, uint64_t size, const char *name,
                               lathe_npy_header_t *out_header) {
  if (size < MAGIC_LEN + 4 || memcmp(bytes, magic, MAGIC_LEN))
    return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: not an .npy file", name);
  unsigned major = bytes[6];
  uint64_t len, start;
  if (major == 1) {
    len = bytes[8] | (uint64_t)bytes[9] << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: truncated .npy", name);
    len =
        bytes[8] | (uint64_t)bytes[9] << 8 | (uint64_t)bytes[10] << 16 | (uint64_t)bytes[11] << 24;
    start = 12;
  } else {
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s: .npy version %u is not supported", name,
                             major);
  }
  if (len > size - start)
    return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: truncated .npy header", name);
  lathe_npy_header_t h = {.data_offset = start + len};
  cursor_t c = {(const char *)bytes + start, (const char *)bytes + start + len, name};
  LATHE_RETURN_IF_ERROR(parse_dict(&c, &h));
  uint64_t count = 1;
  for (uint32_t d = 0; d < h.rank; ++d) {
    if (h.dims[d] && count > UINT64_MAX / (uint64_t)h.dims[d])
      return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: .npy shape overflows", name);
    count *= (uint64_t)h.dims[d];
  }
  unsigned esize = dtype_size(h.dtype);
  if (count > UINT64_MAX / esize)
    return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: .npy shape overflows", name);
  h.num_bytes = count * esize;
  if (h.num_bytes > size - h.data_offset)
    return lathe_status_make(
        LATHE_STATUS_PARSE_ERROR, "%s: .npy data truncated (%llu bytes announced, %llu present)",
        name, (unsigned long long)h.num_bytes, (unsigned long long)(size - h.data_offset));
  *out_header = h;
  return NULL;
}

lathe_status_t lathe_npy_read(const char *path, lathe_npy_header_t *out_header, void **out_data) {
  lathe_mapped_file_t *f;
  LATHE_RETURN_IF_ERROR(lathe_mapped_file_open(path, &f));
  lathe_npy_header_t h;
  lathe_status_t st =
      lathe_npy_parse(lathe_mapped_file_data(f), lathe_mapped_file_size(f), path, &h);
  void *data = NULL;
  if (!st) {
    data = malloc(h.num_bytes ? h.num_bytes : 1);
    if (!data) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "%s: out of memory", path);
    else if (h.num_bytes) memcpy(data, lathe_mapped_file_data(f) + h.data_offset, h.num_bytes);
  }
  lathe_mapped_file_release(f);
  if (st) return st;
  *out_header = h;
  *out_data = data;
  return NULL;
}

lathe_status_t lathe_npy_write(const char *path, int32_t dtype, uint32_t rank, const int64_t *dims,
                               const void *data, uint64_t num_bytes) {
  const char *descr = NULL;
  for (size_t i = 0; i < NUM_DESCRS; ++i)
    if (descrs[i].dtype == dtype) descr = descrs[i].descr;
  if (!descr)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s: numpy has no dtype for code %d", path,
                             (int)dtype);
  char dict[1024];
  int n = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                   descr[1] == '1' ? '|' : '<', descr);
  for (uint32_t d = 0; d < rank && n < (int)sizeof dict; ++d)
    n += snprintf(dict + n, sizeof dict - (size_t)n,
                  rank == 1 ? "%lld,"
                  : d       ? ", %lld"
                            : "%lld",
                  (long long)dims[d]);
  if (n < (int)sizeof dict) n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
  if (n >= (int)sizeof dict - 64)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s: shape too long", path);
  /* Pad with spaces so magic + lengths + dict + '\n' is a multiple of 64. */
  size_t total = (size_t)(MAGIC_LEN + 4 + n + 1);
  size_t pad = (64 - total % 64) % 64;
  memset(dict + n, ' ', pad);
  n += (int)pad;
  dict[n++] = '\n';
  FILE *f = fopen(path, "wb");
  if (!f) return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", path);
  uint8_t pre[MAGIC_LEN + 4] = {
      0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(n & 0xff), (uint8_t)(n >> 8)};
  bool ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre &&
            fwrite(dict, 1, (size_t)n, f) == (size_t)n &&
            (!num_bytes || fwrite(data, 1, num_bytes, f) == num_bytes);
  ok &= fclose(f) == 0;
  if (!ok) return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", path);
  return NULL;
}

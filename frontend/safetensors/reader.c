/* safetensors reader: maps a file and validates its header completely before
 * anyone touches a tensor, so that later code can trust every view.
 *
 * The file is untrusted input. Every way it can be wrong is reported as a
 * one-line status naming the file and, where there is one, the tensor:
 * truncated file, absurd header length, invalid UTF-8 or JSON, wrong JSON
 * shapes, unsupported dtypes, bad shapes, element-count overflow, data
 * offsets that disagree with the shape or leave the data section, tensors
 * whose bytes overlap, and duplicate names (cJSON keeps duplicate object keys,
 * so they are caught here rather than silently shadowed).
 *
 * Unlike the reference implementation, gaps between tensors and trailing
 * bytes are accepted: they are harmless to a reader and some writers align
 * tensors that way.
 *
 * Memory: the header JSON tree lives only during open; names and metadata are
 * copied into an arena owned by the handle. Tensor bytes stay in the mapping.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frontend/safetensors/safetensors.h"
#include "support/arena.h"
#include "support/hashmap.h"

typedef struct {
  const char *key, *value;
} meta_t;

struct lathe_safetensors {
  lathe_mapped_file_t *file;
  uint64_t data_start; /* 8 + header length */
  uint64_t data_len;
  size_t num_tensors;
  lathe_safetensors_tensor_t *tensors;      /* header order */
  const lathe_safetensors_tensor_t **order; /* file order */
  lathe_hashmap_t by_name;
  size_t num_metadata;
  meta_t *metadata;
  lathe_arena_t strings;
};

/* JSON numbers arrive as doubles, so only integers a double holds exactly
 * (up to 2^53, far beyond any real file) are accepted. */
#define MAX_JSON_INT 9007199254740992.0

/* Builds "PATH: NAME: reason" (or "PATH: reason" when name is NULL). */
static lathe_status_t fail(lathe_status_code_t code, const lathe_safetensors_t *st,
                           const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static lathe_status_t fail(lathe_status_code_t code, const lathe_safetensors_t *st,
                           const char *name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t s = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  if (name) s = lathe_status_annotate(s, "%s", name[0] ? name : "\"\"");
  return lathe_status_annotate(s, "%s", lathe_mapped_file_path(st->file));
}

static uint64_t load_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

/* Returns the offset of the first byte that is not part of well-formed UTF-8
 * (RFC 3629: no overlongs, surrogates or code points past U+10FFFF), or n. */
static size_t utf8_error_at(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (n - i < len) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return n;
}

static bool json_uint(const cJSON *item, uint64_t *out) {
  if (!cJSON_IsNumber(item)) return false;
  double d = item->valuedouble;
  if (!(d >= 0 && d <= MAX_JSON_INT) || (double)(uint64_t)d != d) return false;
  *out = (uint64_t)d;
  return true;
}

/* Checks the length prefix against the file and returns the header bytes. */
static lathe_status_t read_header_bytes(lathe_safetensors_t *st, const char **out_header,
                                        size_t *out_len) {
  uint64_t size = lathe_mapped_file_size(st->file);
  const uint8_t *base = lathe_mapped_file_data(st->file);
  if (size < 8)
    return fail(LATHE_STATUS_PARSE_ERROR, st, NULL,
                "file is %llu bytes, too short for the 8-byte header length",
                (unsigned long long)size);
  uint64_t n = load_le64(base);
  if (n > LATHE_SAFETENSORS_MAX_HEADER_BYTES)
    return fail(LATHE_STATUS_OUT_OF_RANGE, st, NULL,
                "header length %llu exceeds the %llu-byte limit (not a safetensors file?)",
                (unsigned long long)n, (unsigned long long)LATHE_SAFETENSORS_MAX_HEADER_BYTES);
  if (n > size - 8)
    return fail(LATHE_STATUS_OUT_OF_RANGE, st, NULL,
                "header length %llu runs past the end of the file (%llu bytes)",
                (unsigned long long)n, (unsigned long long)size);
  size_t bad = utf8_error_at(base + 8, (size_t)n);
  if (bad != n)
    return fail(LATHE_STATUS_PARSE_ERROR, st, NULL, "header is not valid UTF-8 at byte %zu",
                bad);
  st->data_start = 8 + n;
  st->data_len = size - st->data_start;
  *out_header = (const char *)base + 8;
  *out_len = (size_t)n;
  return NULL;
}

static lathe_status_t parse_header_json(lathe_safetensors_t *st, const char *header, size_t len,
                                        cJSON **out_root) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(header, len, &end, 0);
  if (!root)
    return fail(LATHE_STATUS_PARSE_ERROR, st, NULL, "header JSON syntax error at byte %zu",
                end ? (size_t)(end - header) : (size_t)0);
  /* Writers pad the header with spaces; anything else after the JSON is junk. */
  for (const char *p = end; p < header + len; ++p) {
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      cJSON_Delete(root);
      return fail(LATHE_STATUS_PARSE_ERROR, st, NULL,
                  "header JSON syntax error at byte %zu: unexpected data after the object",
                  (size_t)(p - header));
    }
  }
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return fail(LATHE_STATUS_PARSE_ERROR, st, NULL, "header is not a JSON object");
  }
  *out_root = root;
  return NULL;
}

static lathe_status_t parse_metadata(lathe_safetensors_t *st, const cJSON *meta) {
  if (!cJSON_IsObject(meta))
    return fail(LATHE_STATUS_PARSE_ERROR, st, "__metadata__", "not a JSON object");
  size_t n = (size_t)cJSON_GetArraySize(meta);
  st->metadata = lathe_arena_try_alloc_array(&st->strings, n, sizeof *st->metadata);
  if (n && !st->metadata)
    return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, st, NULL, "out of memory");
  for (const cJSON *kv = meta->child; kv; kv = kv->next) {
    if (!cJSON_IsString(kv))
      return fail(LATHE_STATUS_PARSE_ERROR, st, "__metadata__", "value of \"%s\" is not a string",
                  kv->string);
    st->metadata[st->num_metadata++] = (meta_t){lathe_arena_strdup(&st->strings, kv->string),
                                                lathe_arena_strdup(&st->strings, kv->valuestring)};
  }
  return NULL;
}

/* A repeated field would be shadowed by cJSON's first-match lookup. */
static lathe_status_t check_fields_unique(const lathe_safetensors_t *st, const char *name,
                                          const cJSON *entry) {
  static const char *const fields[] = {"dtype", "shape", "data_offsets"};
  bool seen[sizeof fields / sizeof fields[0]] = {false};
  for (const cJSON *f = entry->child; f; f = f->next)
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; ++k)
      if (strcmp(f->string, fields[k]) == 0) {
        if (seen[k])
          return fail(LATHE_STATUS_PARSE_ERROR, st, name, "duplicate \"%s\" field", fields[k]);
        seen[k] = true;
      }
  return NULL;
}

static lathe_status_t parse_shape(const lathe_safetensors_t *st, const char *name,
                                  const cJSON *shape, lathe_safetensors_tensor_t *t,
                                  uint64_t *out_num_bytes) {
  if (!cJSON_IsArray(shape))
    return fail(LATHE_STATUS_PARSE_ERROR, st, name, "\"shape\" is missing or not a list");
  int64_t count = 1;
  uint32_t rank = 0;
  for (const cJSON *d = shape->child; d; d = d->next, ++rank) {
    uint64_t v;
    if (rank == LATHE_MAX_RANK)
      return fail(LATHE_STATUS_UNSUPPORTED, st, name, "rank %d exceeds the maximum rank %d",
                  cJSON_GetArraySize(shape), LATHE_MAX_RANK);
    if (!json_uint(d, &v))
      return fail(LATHE_STATUS_PARSE_ERROR, st, name,
                  "\"shape\" entry %u is not a non-negative integer", rank);
    t->dims[rank] = (int64_t)v;
    if (!lathe_checked_mul_i64(count, (int64_t)v, &count))
      return fail(LATHE_STATUS_OUT_OF_RANGE, st, name, "element count of \"shape\" overflows");
  }
  t->rank = rank;
  if (!lathe_dtype_storage_bytes(t->dtype, (uint64_t)count, out_num_bytes))
    return fail(LATHE_STATUS_OUT_OF_RANGE, st, name, "byte size of the tensor overflows");
  return NULL;
}

static lathe_status_t parse_offsets(const lathe_safetensors_t *st, const char *name,
                                    const cJSON *offsets, uint64_t need,
                                    lathe_safetensors_tensor_t *t) {
  uint64_t begin, end;
  if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
      !json_uint(offsets->child, &begin) || !json_uint(offsets->child->next, &end))
    return fail(LATHE_STATUS_PARSE_ERROR, st, name,
                "\"data_offsets\" is missing or not a list of two non-negative integers");
  if (begin > end)
    return fail(LATHE_STATUS_PARSE_ERROR, st, name,
                "data_offsets [%llu, %llu]: begin is after end", (unsigned long long)begin,
                (unsigned long long)end);
  if (end > st->data_len)
    return fail(LATHE_STATUS_OUT_OF_RANGE, st, name,
                "data_offsets [%llu, %llu]: end is past the end of the data (%llu bytes)",
                (unsigned long long)begin, (unsigned long long)end,
                (unsigned long long)st->data_len);
  if (end - begin != need)
    return fail(LATHE_STATUS_PARSE_ERROR, st, name,
                "data_offsets [%llu, %llu] hold %llu bytes but shape and dtype %s need %llu",
                (unsigned long long)begin, (unsigned long long)end,
                (unsigned long long)(end - begin), lathe_safetensors_dtype_name(t->dtype),
                (unsigned long long)need);
  t->offset = st->data_start + begin;
  t->num_bytes = need;
  t->data = lathe_mapped_file_data(st->file) + t->offset;
  return NULL;
}

static lathe_status_t parse_entry(lathe_safetensors_t *st, const cJSON *entry,
                                  lathe_safetensors_tensor_t *t) {
  const char *name = entry->string;
  if (!cJSON_IsObject(entry))
    return fail(LATHE_STATUS_PARSE_ERROR, st, name, "entry is not a JSON object");
  LATHE_RETURN_IF_ERROR(check_fields_unique(st, name, entry));
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
  if (!cJSON_IsString(dtype))
    return fail(LATHE_STATUS_PARSE_ERROR, st, name, "\"dtype\" is missing or not a string");
  t->dtype = lathe_safetensors_dtype_from_name(dtype->valuestring);
  if (t->dtype == LATHE_DTYPE_INVALID)
    return fail(LATHE_STATUS_UNSUPPORTED, st, name,
                "unsupported dtype \"%s\" (Lathe reads F32, F16, BF16, F64, I8, U8, I16, U16, "
                "I32, U32, I64, U64 and BOOL)",
                dtype->valuestring);
  uint64_t need;
  LATHE_RETURN_IF_ERROR(
      parse_shape(st, name, cJSON_GetObjectItemCaseSensitive(entry, "shape"), t, &need));
  LATHE_RETURN_IF_ERROR(parse_offsets(
      st, name, cJSON_GetObjectItemCaseSensitive(entry, "data_offsets"), need, t));
  t->name = lathe_arena_strdup(&st->strings, name);
  return NULL;
}

static lathe_status_t parse_entries(lathe_safetensors_t *st, const cJSON *root) {
  size_t n = (size_t)cJSON_GetArraySize(root);
  st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
  st->order = calloc(n ? n : 1, sizeof *st->order);
  if (!st->tensors || !st->order)
    return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, st, NULL, "out of memory");
  bool have_metadata = false;
  for (const cJSON *e = root->child; e; e = e->next) {
    if (strcmp(e->string, "__metadata__") == 0) {
      if (have_metadata)
        return fail(LATHE_STATUS_PARSE_ERROR, st, NULL, "duplicate \"__metadata__\" object");
      have_metadata = true;
      LATHE_RETURN_IF_ERROR(parse_metadata(st, e));
      continue;
    }
    if (lathe_hashmap_get_str(&st->by_name, e->string))
      return fail(LATHE_STATUS_PARSE_ERROR, st, e->string, "duplicate tensor name");
    lathe_safetensors_tensor_t *t = &st->tensors[st->num_tensors];
    LATHE_RETURN_IF_ERROR(parse_entry(st, e, t));
    if (!lathe_hashmap_put_str(&st->by_name, t->name, t))
      return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, st, NULL, "out of memory");
    st->order[st->num_tensors++] = t;
  }
  return NULL;
}

/* By data offset; ties (empty tensors) keep header order, which is the order
 * of the tensors array the pointers point into. */
static int by_offset(const void *a, const void *b) {
  const lathe_safetensors_tensor_t *x = *(const lathe_safetensors_tensor_t *const *)a;
  const lathe_safetensors_tensor_t *y = *(const lathe_safetensors_tensor_t *const *)b;
  if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
  return x < y ? -1 : x > y;
}

/* After sorting by begin, a tensor overlaps an earlier one iff it begins
 * before the furthest end seen so far. Empty tensors occupy no bytes. */
static lathe_status_t check_overlaps(const lathe_safetensors_t *st) {
  const lathe_safetensors_tensor_t *last = NULL; /* non-empty, furthest end */
  for (size_t i = 0; i < st->num_tensors; ++i) {
    const lathe_safetensors_tensor_t *t = st->order[i];
    if (t->num_bytes == 0) continue;
    if (last && t->offset < last->offset + last->num_bytes)
      return fail(LATHE_STATUS_PARSE_ERROR, st, t->name,
                  "data_offsets [%llu, %llu] overlap those of \"%s\" [%llu, %llu]",
                  (unsigned long long)(t->offset - st->data_start),
                  (unsigned long long)(t->offset - st->data_start + t->num_bytes), last->name,
                  (unsigned long long)(last->offset - st->data_start),
                  (unsigned long long)(last->offset - st->data_start + last->num_bytes));
    if (!last || t->offset + t->num_bytes > last->offset + last->num_bytes) last = t;
  }
  return NULL;
}

static lathe_status_t parse(lathe_safetensors_t *st) {
  const char *header = NULL;
  size_t len = 0;
  cJSON *root = NULL;
  LATHE_RETURN_IF_ERROR(read_header_bytes(st, &header, &len));
  LATHE_RETURN_IF_ERROR(parse_header_json(st, header, len, &root));
  lathe_status_t s = parse_entries(st, root);
  cJSON_Delete(root);
  if (s) return s;
  if (st->num_tensors > 1) qsort(st->order, st->num_tensors, sizeof *st->order, by_offset);
  return check_overlaps(st);
}

lathe_status_t lathe_safetensors_open(const char *path, lathe_safetensors_t **out_file) {
  lathe_safetensors_t *st = calloc(1, sizeof *st);
  if (!st) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "%s: out of memory", path);
  lathe_hashmap_init(&st->by_name);
  lathe_arena_init(&st->strings);
  lathe_status_t s = lathe_mapped_file_open(path, &st->file);
  if (!s) s = parse(st);
  if (s) {
    lathe_safetensors_close(st);
    return s;
  }
  *out_file = st;
  return NULL;
}

void lathe_safetensors_close(lathe_safetensors_t *st) {
  if (!st) return;
  lathe_mapped_file_release(st->file);
  free(st->tensors);
  free(st->order);
  lathe_hashmap_destroy(&st->by_name);
  lathe_arena_destroy(&st->strings);
  free(st);
}

const char *lathe_safetensors_path(const lathe_safetensors_t *st) {
  return lathe_mapped_file_path(st->file);
}

lathe_mapped_file_t *lathe_safetensors_mapped_file(const lathe_safetensors_t *st) {
  return st->file;
}

size_t lathe_safetensors_num_tensors(const lathe_safetensors_t *st) { return st->num_tensors; }

const lathe_safetensors_tensor_t *lathe_safetensors_tensor_at(const lathe_safetensors_t *st,
                                                              size_t i) {
  return i < st->num_tensors ? st->order[i] : NULL;
}

const lathe_safetensors_tensor_t *lathe_safetensors_find(const lathe_safetensors_t *st,
                                                         const char *name) {
  return lathe_hashmap_get_str(&st->by_name, name);
}

size_t lathe_safetensors_num_metadata(const lathe_safetensors_t *st) { return st->num_metadata; }

bool lathe_safetensors_metadata_at(const lathe_safetensors_t *st, size_t i, const char **out_key,
                                   const char **out_value) {
  if (i >= st->num_metadata) return false;
  *out_key = st->metadata[i].key;
  *out_value = st->metadata[i].value;
  return true;
}

const char *lathe_safetensors_metadata_get(const lathe_safetensors_t *st, const char *key) {
  for (size_t i = 0; i < st->num_metadata; ++i)
    if (strcmp(st->metadata[i].key, key) == 0) return st->metadata[i].value;
  return NULL;
}

/* safetensors writer: weights out, in the format every Hugging Face tool reads.
 *
 * The header is built with cJSON and printed without whitespace, then padded
 * with spaces to a multiple of 8 bytes as the reference implementation does,
 * so the data section starts 8-aligned. Integers go into the JSON as raw text
 * rather than cJSON numbers: cJSON prints doubles, which would turn offsets
 * past 10^15 into exponent notation that strict readers reject.
 *
 * Tensors are laid out back to back in the caller's order. The reference
 * reader rejects gaps between tensors, so alignment padding is not inserted;
 * callers wanting every tensor aligned to its element size order them by
 * decreasing element size.
 *
 * The file appears atomically: bytes go to a temporary file in the target's
 * directory (same filesystem, so rename is atomic), which is flushed, synced
 * and renamed over `path`. On failure the temporary file is removed and any
 * previous file at `path` is untouched.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "frontend/safetensors/safetensors.h"
#include "support/hashmap.h"

static lathe_status_t fail(lathe_status_code_t code, const char *path, const char *name,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static lathe_status_t fail(lathe_status_code_t code, const char *path, const char *name,
                           const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t s = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  if (name) s = lathe_status_annotate(s, "%s", name[0] ? name : "\"\"");
  return lathe_status_annotate(s, "%s", path);
}

/* cJSON's add functions leave the item with the caller when they fail. */
static bool put(cJSON *object, const char *key, cJSON *item) {
  if (item && cJSON_AddItemToObject(object, key, item)) return true;
  cJSON_Delete(item);
  return false;
}

static bool push(cJSON *array, cJSON *item) {
  if (item && cJSON_AddItemToArray(array, item)) return true;
  cJSON_Delete(item);
  return false;
}

static cJSON *raw_uint(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  return cJSON_CreateRaw(buf);
}

/* {"dtype":..., "shape":[...], "data_offsets":[begin,end]}; NULL on OOM.
 * Every put is attempted so ownership of both arrays always passes to entry. */
static cJSON *tensor_entry(const lathe_safetensors_write_tensor_t *t, uint64_t begin) {
  cJSON *entry = cJSON_CreateObject();
  if (!entry) return NULL;
  cJSON *shape = cJSON_CreateArray(), *offsets = cJSON_CreateArray();
  bool ok = put(entry, "dtype", cJSON_CreateString(lathe_safetensors_dtype_name(t->dtype)));
  ok = put(entry, "shape", shape) && ok;
  ok = put(entry, "data_offsets", offsets) && ok;
  for (uint32_t i = 0; ok && i < t->rank; ++i) ok = push(shape, raw_uint((uint64_t)t->dims[i]));
  ok = ok && push(offsets, raw_uint(begin)) && push(offsets, raw_uint(begin + t->num_bytes));
  if (ok) return entry;
  cJSON_Delete(entry);
  return NULL;
}

static lathe_status_t check_tensor(const char *path, const lathe_safetensors_write_tensor_t *t,
                                   lathe_hashmap_t *seen) {
  if (!t->name) return fail(LATHE_STATUS_INVALID_ARGUMENT, path, NULL, "tensor without a name");
  if (strcmp(t->name, "__metadata__") == 0)
    return fail(LATHE_STATUS_INVALID_ARGUMENT, path, t->name, "reserved name");
  if (lathe_hashmap_get_str(seen, t->name))
    return fail(LATHE_STATUS_INVALID_ARGUMENT, path, t->name, "duplicate tensor name");
  if (!lathe_hashmap_put_str(seen, t->name, (void *)t))
    return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, path, NULL, "out of memory");
  if (!lathe_safetensors_dtype_name(t->dtype))
    return fail(LATHE_STATUS_UNSUPPORTED, path, t->name,
                "dtype %s has no safetensors equivalent%s", lathe_dtype_name(t->dtype),
                lathe_dtype_flags(t->dtype) & LATHE_DTYPE_PACKED
                    ? " (packed sub-byte types cannot be stored; unpack to i8/u8)"
                    : "");
  if (t->rank > LATHE_MAX_RANK || (t->rank && !t->dims))
    return fail(LATHE_STATUS_INVALID_ARGUMENT, path, t->name, "rank %u without %s", t->rank,
                t->dims ? "a supported rank" : "dims");
  int64_t count = 1;
  for (uint32_t i = 0; i < t->rank; ++i)
    if (!lathe_checked_mul_i64(count, t->dims[i], &count))
      return fail(LATHE_STATUS_INVALID_ARGUMENT, path, t->name,
                  "dim %u (%" PRId64 ") is negative or the element count overflows", i,
                  t->dims[i]);
  uint64_t need;
  if (!lathe_dtype_storage_bytes(t->dtype, (uint64_t)count, &need) || need != t->num_bytes)
    return fail(LATHE_STATUS_INVALID_ARGUMENT, path, t->name,
                "%" PRIu64 " data bytes given but the shape and dtype need %" PRIu64,
                t->num_bytes, need);
  if (t->num_bytes && !t->data)
    return fail(LATHE_STATUS_INVALID_ARGUMENT, path, t->name, "no data");
  return NULL;
}

static lathe_status_t build_metadata(const char *path, cJSON *root,
                                     const lathe_safetensors_metadata_entry_t *metadata,
                                     size_t n) {
  cJSON *meta = cJSON_CreateObject();
  if (!put(root, "__metadata__", meta))
    return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, path, NULL, "out of memory");
  for (size_t i = 0; i < n; ++i) {
    const char *key = metadata[i].key, *value = metadata[i].value;
    if (!key || !value)
      return fail(LATHE_STATUS_INVALID_ARGUMENT, path, "__metadata__",
                  "entry %zu has no key or no value", i);
    if (cJSON_GetObjectItemCaseSensitive(meta, key))
      return fail(LATHE_STATUS_INVALID_ARGUMENT, path, "__metadata__", "duplicate key \"%s\"",
                  key);
    if (!put(meta, key, cJSON_CreateString(value)))
      return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, path, NULL, "out of memory");
  }
  return NULL;
}

/* Validates every tensor and returns the header JSON text (malloc'd). */
static lathe_status_t build_header(const char *path, const lathe_safetensors_write_tensor_t *tensors,
                                   size_t num_tensors,
                                   const lathe_safetensors_metadata_entry_t *metadata,
                                   size_t num_metadata, char **out_json) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, path, NULL, "out of memory");
  lathe_hashmap_t seen;
  lathe_hashmap_init(&seen);
  lathe_status_t s = num_metadata ? build_metadata(path, root, metadata, num_metadata) : NULL;
  uint64_t offset = 0;
  for (size_t i = 0; i < num_tensors && !s; ++i) {
    const lathe_safetensors_write_tensor_t *t = &tensors[i];
    s = check_tensor(path, t, &seen);
    if (!s && !put(root, t->name, tensor_entry(t, offset)))
      s = fail(LATHE_STATUS_RESOURCE_EXHAUSTED, path, NULL, "out of memory");
    if (!s && t->num_bytes > UINT64_MAX - offset)
      s = fail(LATHE_STATUS_OUT_OF_RANGE, path, t->name, "total data size overflows");
    if (!s) offset += t->num_bytes;
  }
  lathe_hashmap_destroy(&seen);
  char *json = s ? NULL : cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!s && !json) s = fail(LATHE_STATUS_RESOURCE_EXHAUSTED, path, NULL, "out of memory");
  if (!s) *out_json = json;
  return s;
}

static bool write_all(FILE *f, const void *data, size_t n) {
  return n == 0 || fwrite(data, 1, n, f) == n;
}

/* Writes the whole file to an open stream; false on an I/O error (errno set). */
static bool write_file(FILE *f, const char *json, const lathe_safetensors_write_tensor_t *tensors,
                       size_t num_tensors) {
  size_t len = strlen(json);
  size_t pad = (8 - len % 8) % 8;
  uint8_t prefix[8];
  uint64_t header_len = (uint64_t)(len + pad);
  for (int i = 0; i < 8; ++i) prefix[i] = (uint8_t)(header_len >> (8 * i));
  bool ok = write_all(f, prefix, 8) && write_all(f, json, len) &&
            write_all(f, "        ", pad);
  for (size_t i = 0; ok && i < num_tensors; ++i)
    ok = write_all(f, tensors[i].data, (size_t)tensors[i].num_bytes);
  return ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
}

lathe_status_t lathe_safetensors_write(const char *path,
                                       const lathe_safetensors_write_tensor_t *tensors,
                                       size_t num_tensors,
                                       const lathe_safetensors_metadata_entry_t *metadata,
                                       size_t num_metadata) {
  char *json = NULL;
  LATHE_RETURN_IF_ERROR(build_header(path, tensors, num_tensors, metadata, num_metadata, &json));
  size_t tmp_len = strlen(path) + sizeof ".tmp.XXXXXX";
  char *tmp = malloc(tmp_len);
  if (!tmp) {
    free(json);
    return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, path, NULL, "out of memory");
  }
  snprintf(tmp, tmp_len, "%s.tmp.XXXXXX", path);
  lathe_status_t s = NULL;
  int fd = mkstemp(tmp);
  FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!f) {
    s = fail(LATHE_STATUS_IO_ERROR, path, NULL, "cannot create a temporary file: %s",
             strerror(errno));
    if (fd >= 0) close(fd);
  } else {
    /* mkstemp makes the file private; a weights file is ordinary output. */
    bool ok = fchmod(fd, 0644) == 0 && write_file(f, json, tensors, num_tensors);
    int err = errno;
    if (fclose(f) != 0 && ok) ok = false, err = errno;
    if (ok && rename(tmp, path) != 0) ok = false, err = errno;
    if (!ok) s = fail(LATHE_STATUS_IO_ERROR, path, NULL, "write failed: %s", strerror(err));
  }
  if (s && fd >= 0) unlink(tmp);
  free(tmp);
  free(json);
  return s;
}

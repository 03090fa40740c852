/* The weights table: constant buffer ids -> bytes, as views into mmapped
 * files (STYLE rule 6: weights are never copied).
 *
 * Each distinct file path is mapped once per table and the mapping is shared
 * by every weight in it; destroying the table releases the mappings. The only
 * copy ever made is for a view whose address is misaligned for its element
 * type (a hand-written file with odd offsets): generated code may assume
 * element alignment, so such a view is copied into an aligned block and the
 * bytes are counted, never silently.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "support/mapped_file.h"

typedef struct {
  const void *data;
  uint64_t bytes;
  void *owned; /* aligned copy, when the view had to be copied */
  bool set;
} entry_t;

struct lathe_rt_weights {
  entry_t *entries;
  int32_t count;
  lathe_mapped_file_t **files;
  size_t num_files, files_cap;
  uint64_t copied_bytes;
  lathe_rt_derived_t *derived; /* data kernels derive from these constants */
};

lathe_status_t lathe_rt_weights_create(int32_t count, lathe_rt_weights_t **out_weights) {
  if (count < 0)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "negative weight count %d", (int)count);
  lathe_rt_weights_t *w = calloc(1, sizeof *w);
  if (w) w->entries = calloc(count ? (size_t)count : 1, sizeof *w->entries);
  if (w && w->entries && lathe_rt_derived_create(&w->derived)) w->derived = NULL;
  if (!w || !w->entries || !w->derived) {
    if (w) free(w->entries);
    free(w);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory for %d weights",
                             (int)count);
  }
  w->count = count;
  *out_weights = w;
  return NULL;
}

void lathe_rt_weights_destroy(lathe_rt_weights_t *weights) {
  if (!weights) return;
  for (int32_t i = 0; i < weights->count; ++i) free(weights->entries[i].owned);
  for (size_t i = 0; i < weights->num_files; ++i) lathe_mapped_file_release(weights->files[i]);
  free(weights->files);
  free(weights->entries);
  lathe_rt_derived_destroy(weights->derived);
  free(weights);
}

static lathe_status_t check_id(const lathe_rt_weights_t *weights, int32_t id) {
  if (id < 0 || id >= weights->count)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "weight id %d is outside [0, %d)", (int)id,
                             (int)weights->count);
  return NULL;
}

/* The table's mapping of `path`, mapping it on first use. Borrowed. */
static lathe_status_t find_file(lathe_rt_weights_t *weights, const char *path,
                                lathe_mapped_file_t **out_file) {
  for (size_t i = 0; i < weights->num_files; ++i) {
    if (strcmp(lathe_mapped_file_path(weights->files[i]), path) == 0) {
      *out_file = weights->files[i];
      return NULL;
    }
  }
  if (weights->num_files == weights->files_cap) {
    size_t cap = weights->files_cap ? weights->files_cap * 2 : 4;
    lathe_mapped_file_t **files = realloc(weights->files, cap * sizeof *files);
    if (!files) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    weights->files = files;
    weights->files_cap = cap;
  }
  lathe_mapped_file_t *file;
  LATHE_RETURN_IF_ERROR(lathe_mapped_file_open(path, &file));
  weights->files[weights->num_files++] = file;
  *out_file = file;
  return NULL;
}

static void set_entry(lathe_rt_weights_t *weights, int32_t id, const void *data, uint64_t bytes,
                      void *owned) {
  entry_t *e = &weights->entries[id];
  free(e->owned);
  *e = (entry_t){data, bytes, owned, true};
}

lathe_status_t lathe_rt_weights_set_file(lathe_rt_weights_t *weights, int32_t id, const char *path,
                                         uint64_t offset, uint64_t bytes, uint32_t align) {
  LATHE_RETURN_IF_ERROR(check_id(weights, id));
  if (align == 0) align = 1;
  if (align & (align - 1))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "weight %d: alignment %u is not a power of two", (int)id,
                             (unsigned)align);
  lathe_mapped_file_t *file = NULL;
  LATHE_RETURN_IF_ERROR_CTX(find_file(weights, path, &file), "weight %d", (int)id);
  LATHE_RETURN_IF_ERROR_CTX(lathe_mapped_file_check_range(file, offset, bytes), "weight %d",
                            (int)id);
  const uint8_t *data = bytes ? lathe_mapped_file_data(file) + offset : NULL;
  if ((uintptr_t)data % align == 0) {
    set_entry(weights, id, data, bytes, NULL);
    return NULL;
  }
  size_t a = align > LATHE_RT_ALIGNMENT ? align : LATHE_RT_ALIGNMENT;
  if (bytes > SIZE_MAX - a)
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "weight %d is too large", (int)id);
  void *copy = aligned_alloc(a, ((size_t)bytes + a - 1) / a * a);
  if (!copy)
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED,
                             "weight %d: out of memory copying %llu misaligned bytes", (int)id,
                             (unsigned long long)bytes);
  memcpy(copy, data, (size_t)bytes);
  weights->copied_bytes += bytes;
  set_entry(weights, id, copy, bytes, copy);
  return NULL;
}

lathe_status_t lathe_rt_weights_set_memory(lathe_rt_weights_t *weights, int32_t id,
                                           const void *data, uint64_t bytes) {
  LATHE_RETURN_IF_ERROR(check_id(weights, id));
  if (!data && bytes)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "weight %d: NULL data for %llu bytes",
                             (int)id, (unsigned long long)bytes);
  set_entry(weights, id, data, bytes, NULL);
  return NULL;
}

lathe_status_t lathe_rt_weights_get(const lathe_rt_weights_t *weights, int32_t id,
                                    const void **out_data, uint64_t *out_bytes) {
  LATHE_RETURN_IF_ERROR(check_id(weights, id));
  const entry_t *e = &weights->entries[id];
  if (!e->set) return lathe_status_make(LATHE_STATUS_NOT_FOUND, "weight %d was never set", (int)id);
  *out_data = e->data;
  *out_bytes = e->bytes;
  return NULL;
}

int32_t lathe_rt_weights_count(const lathe_rt_weights_t *weights) { return weights->count; }

uint64_t lathe_rt_weights_copied_bytes(const lathe_rt_weights_t *weights) {
  return weights->copied_bytes;
}

lathe_rt_derived_t *lathe_rt_weights_derived(const lathe_rt_weights_t *weights) {
  return weights ? weights->derived : NULL;
}

uint64_t lathe_rt_weights_derived_bytes(const lathe_rt_weights_t *weights) {
  return lathe_rt_derived_bytes(lathe_rt_weights_derived(weights));
}

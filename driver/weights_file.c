/* The weights of a compiled shared library, in one layout whether they sit in
 * a sidecar file (OUT.so.weights) or are appended to the .so itself
 * (--embed-weights; the dynamic loader ignores bytes past the ELF image):
 *
 *   weight 0's bytes, padded to 64 | weight 1's bytes, padded to 64 | ...
 *   table: per weight id, u64 file offset, u64 byte count
 *   footer (32 bytes): "LATHEWT1", u64 table offset, u64 weight count,
 *                      u64 runtime ABI version
 *
 * all little-endian, offsets from the start of the file. The footer sits at
 * the very end, so a loader finds it without knowing whether the file is a
 * sidecar or a library. Every weight starts 64-byte aligned in the file, so
 * its mmap view is aligned too and the runtime maps it without a copy.
 * Weight ids are lathe_codegen_weight_id's, the ones the backend wrote into
 * the library's program descriptor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/internal.h"

static const char magic[8] = {'L', 'A', 'T', 'H', 'E', 'W', 'T', '1'};
#define FOOTER_BYTES 32u
#define ALIGN 64u

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static bool pad_to(FILE *f, uint64_t *pos) {
  static const uint8_t zeros[ALIGN];
  uint64_t pad = (ALIGN - *pos % ALIGN) % ALIGN;
  *pos += pad;
  return fwrite(zeros, 1, pad, f) == pad;
}

lathe_status_t weights_file_write(const lathe_kprogram_t *p, const char *path, bool append) {
  int32_t n = lathe_codegen_num_weights(p);
  uint8_t *table = calloc((size_t)n + 1, 16);
  if (!table) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  FILE *f = fopen(path, append ? "ab" : "wb");
  if (!f) {
    free(table);
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", path);
  }
  bool ok = fseek(f, 0, SEEK_END) == 0;
  long start = ok ? ftell(f) : -1;
  ok = start >= 0;
  uint64_t pos = ok ? (uint64_t)start : 0;
  for (uint32_t b = 0; ok && b < p->num_buffers; ++b) {
    int32_t id = lathe_codegen_weight_id(p, b);
    if (id < 0) continue;
    const lathe_weight_t *w = p->buffers[b]->weight;
    ok = pad_to(f, &pos);
    put_u64(table + 16 * id, pos);
    put_u64(table + 16 * id + 8, w->num_bytes);
    if (ok && w->num_bytes) ok = fwrite(w->data, 1, w->num_bytes, f) == w->num_bytes;
    pos += w->num_bytes;
  }
  ok = ok && pad_to(f, &pos);
  uint8_t footer[FOOTER_BYTES];
  memcpy(footer, magic, 8);
  put_u64(footer + 8, pos);
  put_u64(footer + 16, (uint64_t)n);
  put_u64(footer + 24, LATHE_RT_ABI_VERSION);
  ok = ok && fwrite(table, 16, (size_t)n, f) == (size_t)n;
  ok = ok && fwrite(footer, 1, FOOTER_BYTES, f) == FOOTER_BYTES;
  ok &= fclose(f) == 0;
  free(table);
  if (!ok) return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", path);
  return NULL;
}

static lathe_status_t bad(const char *path, const char *why) {
  return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: weights: %s", path, why);
}

/* Bytes of CONST buffer `id` (static dims), or UINT64_MAX when unknown. */
static uint64_t const_bytes(const lathe_rt_buffer_desc_t *b) {
  lathe_rt_tensor_t t = {.dtype = b->dtype, .rank = b->rank};
  for (int32_t d = 0; d < b->rank; ++d) {
    if (b->dims[d].param >= 0) return UINT64_MAX;
    t.dims[d] = b->dims[d].size;
  }
  uint64_t bytes;
  lathe_status_t st = lathe_rt_tensor_dense_bytes(&t, &bytes);
  lathe_status_free(st);
  return st ? UINT64_MAX : bytes;
}

lathe_status_t weights_file_load(const lathe_rt_program_t *program, const char *path,
                                 lathe_rt_weights_t *weights) {
  FILE *f = fopen(path, "rb");
  if (!f) return lathe_status_make(LATHE_STATUS_NOT_FOUND, "%s: cannot open", path);
  uint8_t footer[FOOTER_BYTES];
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  bool ok = size >= (long)FOOTER_BYTES && fseek(f, size - (long)FOOTER_BYTES, SEEK_SET) == 0 &&
            fread(footer, 1, FOOTER_BYTES, f) == FOOTER_BYTES;
  if (!ok || memcmp(footer, magic, 8)) {
    fclose(f);
    return lathe_status_make(LATHE_STATUS_NOT_FOUND, "%s: holds no Lathe weights", path);
  }
  uint64_t table_at = get_u64(footer + 8), n = get_u64(footer + 16);
  lathe_status_t st = NULL;
  if (get_u64(footer + 24) != LATHE_RT_ABI_VERSION)
    st = bad(path, "written for another runtime ABI");
  else if (n != (uint64_t)program->num_weights)
    st = bad(path, "weight count differs from the library's");
  else if (table_at > (uint64_t)size || ((uint64_t)size - table_at - FOOTER_BYTES) / 16 != n ||
           ((uint64_t)size - table_at - FOOTER_BYTES) % 16)
    st = bad(path, "bad table");
  uint8_t *table = st ? NULL : malloc(n * 16 + 1);
  if (!st && !table) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  if (!st && (fseek(f, (long)table_at, SEEK_SET) != 0 || fread(table, 16, n, f) != n))
    st = bad(path, "truncated table");
  fclose(f);
  for (int32_t id = 0; !st && id < program->num_buffers; ++id) {
    const lathe_rt_buffer_desc_t *b = &program->buffers[id];
    if (b->role != LATHE_RT_BUFFER_CONST) continue;
    uint64_t off = get_u64(table + 16 * b->index), bytes = get_u64(table + 16 * b->index + 8);
    if (off > table_at || bytes > table_at - off) st = bad(path, "a weight lies outside the file");
    else if (bytes != const_bytes(b)) st = bad(path, "a weight's size differs from its buffer's");
    unsigned align = lathe_rt_dtype_bits(b->dtype) / 8;
    if (!st) st = lathe_rt_weights_set_file(weights, b->index, path, off, bytes, align ? align : 1);
  }
  free(table);
  return st;
}

/* Calibration samples on disk. A sample is one tensor per graph input, found
 * by the input's name:
 *
 *   DIR/NAME.npy ...          DIR is one sample
 *   DIR/<sub>/NAME.npy ...    each subfolder is a sample (sorted by name)
 *   DIR/<x>.npz               each archive is a sample (numpy.savez: NAME.npy
 *                             members), mixed with subfolders in name order
 *   FILE.npz                  one sample
 *
 * Archives are read with libzip, stored or deflated alike.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "driver/samples.h"
#include "support/npy.h"
#include "support/strbuf.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static lathe_status_t push(samples_t *s, char *path) {
  if (!path) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  char **grown = realloc(s->paths, (s->count + 1) * sizeof *grown);
  if (!grown) {
    free(path);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  s->paths = grown;
  s->paths[s->count++] = path;
  return NULL;
}

static char *join(const char *dir, const char *name) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_strbuf_printf(&sb, "%s/%s", dir, name);
  return lathe_strbuf_release(&sb);
}

lathe_status_t samples_list(const char *path, samples_t *out) {
  samples_t s = {0};
  if (!is_dir(path)) {
    if (!ends_with(path, ".npz"))
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "calibration: '%s' is neither a folder nor an .npz file", path);
    LATHE_RETURN_IF_ERROR(push(&s, strdup(path)));
    *out = s;
    return NULL;
  }
  DIR *d = opendir(path);
  if (!d) return lathe_status_make(LATHE_STATUS_IO_ERROR, "calibration: cannot read '%s'", path);
  bool has_npy = false;
  lathe_status_t st = NULL;
  for (struct dirent *e; !st && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char *full = join(path, e->d_name);
    if (ends_with(e->d_name, ".npy")) has_npy = true;
    if (ends_with(e->d_name, ".npz") || is_dir(full)) st = push(&s, full);
    else free(full);
  }
  closedir(d);
  if (!st && has_npy) { /* the folder itself is the one sample */
    samples_free(&s);
    st = push(&s, strdup(path));
  }
  if (!st && s.count == 0)
    st = lathe_status_make(LATHE_STATUS_NOT_FOUND, "calibration: '%s' holds no samples", path);
  if (st) {
    samples_free(&s);
    return st;
  }
  qsort(s.paths, s.count, sizeof *s.paths, by_name);
  *out = s;
  return NULL;
}

void samples_free(samples_t *s) {
  for (size_t i = 0; i < s->count; ++i) free(s->paths[i]);
  free(s->paths);
  *s = (samples_t){0};
}

static lathe_status_t read_npz_member(zip_t *z, const char *archive, const char *name,
                                      lathe_rt_tensor_t *out) {
  lathe_strbuf_t member;
  lathe_strbuf_init(&member);
  lathe_strbuf_printf(&member, "%s.npy", name);
  zip_stat_t zs;
  lathe_status_t st = NULL;
  if (zip_stat(z, lathe_strbuf_cstr(&member), 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE))
    st = lathe_status_make(LATHE_STATUS_NOT_FOUND, "%s: no member '%s'", archive,
                           lathe_strbuf_cstr(&member));
  uint8_t *bytes = st ? NULL : malloc(zs.size ? zs.size : 1);
  if (!st && !bytes) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  if (!st) {
    zip_file_t *f = zip_fopen(z, lathe_strbuf_cstr(&member), 0);
    if (!f || zip_fread(f, bytes, zs.size) != (zip_int64_t)zs.size)
      st = lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: cannot read member '%s'", archive,
                             lathe_strbuf_cstr(&member));
    if (f) zip_fclose(f);
  }
  lathe_npy_header_t h;
  if (!st) st = lathe_npy_parse(bytes, zs.size, lathe_strbuf_cstr(&member), &h);
  if (!st) st = lathe_tensor_alloc(h.dtype, (int32_t)h.rank, h.dims, out);
  if (!st && h.num_bytes) memcpy(out->data, bytes + h.data_offset, h.num_bytes);
  free(bytes);
  lathe_strbuf_destroy(&member);
  return st;
}

lathe_status_t samples_read(const char *sample, uint32_t num_inputs, const char *const *names,
                            lathe_rt_tensor_t *out_tensors) {
  zip_t *z = NULL;
  if (ends_with(sample, ".npz")) {
    int err = 0;
    z = zip_open(sample, ZIP_RDONLY, &err);
    if (!z)
      return lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: not a readable .npz archive", sample);
  }
  lathe_status_t st = NULL;
  uint32_t k = 0;
  for (; k < num_inputs && !st; ++k) {
    if (z) {
      st = read_npz_member(z, sample, names[k], &out_tensors[k]);
    } else {
      char *file = join(sample, names[k]);
      lathe_strbuf_t sb;
      lathe_strbuf_init(&sb);
      lathe_strbuf_printf(&sb, "%s.npy", file);
      st = lathe_tensor_read(lathe_strbuf_cstr(&sb), &out_tensors[k]);
      lathe_strbuf_destroy(&sb);
      free(file);
    }
  }
  if (z) zip_discard(z);
  if (st)
    for (uint32_t j = 0; j + 1 < k; ++j) lathe_tensor_free(&out_tensors[j]);
  return st;
}

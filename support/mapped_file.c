/* mmap wrapper: see mapped_file.h. */
#include "support/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct lathe_mapped_file {
  atomic_int refs;
  uint8_t *data;
  uint64_t size;
  char *path;
};

lathe_status_t lathe_mapped_file_open(const char *path, lathe_mapped_file_t **out_file) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: %s", path, strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: %s", path,
                             S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
  }
  void *data = NULL;
  if (st.st_size > 0) {
    data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      int err = errno;
      close(fd);
      return lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: mmap failed: %s", path, strerror(err));
    }
  }
  close(fd);
  lathe_mapped_file_t *f = calloc(1, sizeof *f);
  char *p = strdup(path);
  if (!f || !p) {
    if (data) munmap(data, (size_t)st.st_size);
    free(f);
    free(p);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "%s: out of memory", path);
  }
  atomic_init(&f->refs, 1);
  f->data = data;
  f->size = (uint64_t)st.st_size;
  f->path = p;
  *out_file = f;
  return NULL;
}

void lathe_mapped_file_retain(lathe_mapped_file_t *file) {
  if (file) atomic_fetch_add(&file->refs, 1);
}

void lathe_mapped_file_release(lathe_mapped_file_t *file) {
  if (!file || atomic_fetch_sub(&file->refs, 1) != 1) return;
  if (file->data) munmap(file->data, (size_t)file->size);
  free(file->path);
  free(file);
}

const uint8_t *lathe_mapped_file_data(const lathe_mapped_file_t *file) { return file->data; }
uint64_t lathe_mapped_file_size(const lathe_mapped_file_t *file) { return file->size; }
const char *lathe_mapped_file_path(const lathe_mapped_file_t *file) { return file->path; }

lathe_status_t lathe_mapped_file_check_range(const lathe_mapped_file_t *file, uint64_t offset,
                                             uint64_t length) {
  if (offset > file->size || length > file->size - offset)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE,
                             "%s: byte range [%llu, +%llu) is past the end of the file (%llu bytes)",
                             file->path, (unsigned long long)offset, (unsigned long long)length,
                             (unsigned long long)file->size);
  return NULL;
}

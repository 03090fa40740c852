/* Read-only memory-mapped files: how weights stay uncopied (STYLE rule 6).
 *
 * A lathe_mapped_file_t is refcounted because weight-store views in several
 * modules (and a compiled artifact) may share one mapping; the last release
 * unmaps. Empty files map to a zero-length view with data == NULL.
 *
 * Thread safety: retain/release are atomic; the bytes are read-only.
 */
#ifndef LATHE_SUPPORT_MAPPED_FILE_H
#define LATHE_SUPPORT_MAPPED_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "support/status.h"

typedef struct lathe_mapped_file lathe_mapped_file_t;

/* Maps `path` read-only. On success *out_file holds one reference. */
lathe_status_t lathe_mapped_file_open(const char *path, lathe_mapped_file_t **out_file);
void lathe_mapped_file_retain(lathe_mapped_file_t *file);
/* Drops one reference; NULL is fine. */
void lathe_mapped_file_release(lathe_mapped_file_t *file);

const uint8_t *lathe_mapped_file_data(const lathe_mapped_file_t *file);
uint64_t lathe_mapped_file_size(const lathe_mapped_file_t *file);
/* The path as given to open (borrowed). */
const char *lathe_mapped_file_path(const lathe_mapped_file_t *file);

/* Checks that [offset, offset+length) lies inside the file without overflow. */
lathe_status_t lathe_mapped_file_check_range(const lathe_mapped_file_t *file, uint64_t offset,
                                             uint64_t length);

#endif

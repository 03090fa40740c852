/* The weight store: where constant tensor bytes live.
 *
 * Every `const` op points at a lathe_weight_t owned by its module. A weight is
 * one of
 *   INLINE  bytes written in the text IR (small constants) or produced by a
 *           pass (folded constants, compressed weights); the store owns them.
 *   FILE    a byte range of a file (raw region, ONNX raw_data, external data),
 *           viewed through a shared mmap; never copied.
 *   NAMED   a tensor looked up by name in a weight source (a safetensors file)
 *           that the module declares; also an mmap view.
 * The kind is remembered so the printer writes a weight back the way it came.
 *
 * Weight sources are opened by a loader callback the caller supplies (the
 * frontend provides the safetensors one), so ir/ never depends on a file format.
 */
#ifndef LATHE_IR_WEIGHTS_H
#define LATHE_IR_WEIGHTS_H

#include <stdint.h>

#include "ir/type.h"
#include "support/mapped_file.h"
#include "support/status.h"

typedef enum {
  LATHE_WEIGHT_INLINE = 0,
  LATHE_WEIGHT_FILE,
  LATHE_WEIGHT_NAMED,
} lathe_weight_kind_t;

/* How the printer writes an INLINE weight. The parser records the form it
 * read, so text round-trips; weights made by passes start as AUTO: `splat(v)`
 * when there is more than one element and all are bitwise equal, else
 * `dense[...]`. */
typedef enum {
  LATHE_WEIGHT_FORM_AUTO = 0,
  LATHE_WEIGHT_FORM_DENSE,
  LATHE_WEIGHT_FORM_SPLAT,
} lathe_weight_form_t;

typedef struct lathe_weight {
  lathe_weight_kind_t kind;
  lathe_weight_form_t form; /* INLINE: how to print it */
  lathe_dtype_t dtype;
  uint64_t num_bytes;
  const uint8_t *data; /* borrowed view (mapping) or the owned buffer */
  lathe_mapped_file_t *file; /* FILE and NAMED: one reference held */
  const char *path;          /* FILE: path as written; NAMED: the source's path */
  uint64_t offset;           /* FILE: byte offset in the file */
  const char *name;          /* NAMED: tensor name in the source */
  void *owned;               /* INLINE: malloc'd bytes freed with the store */
} lathe_weight_t;

/* What a weight source reports for one tensor name. */
typedef struct lathe_weight_source_entry {
  lathe_dtype_t dtype;
  uint32_t rank;
  int64_t dims[LATHE_MAX_RANK];
  lathe_mapped_file_t *file; /* borrowed; the store retains it */
  uint64_t offset;           /* byte offset of the data in file */
  uint64_t num_bytes;
} lathe_weight_source_entry_t;

/* A weight source opened from a path ("model.safetensors"). */
typedef struct lathe_weight_source {
  const char *path;
  void *impl;
  /* Finds `name`; LATHE_STATUS_NOT_FOUND when absent. */
  lathe_status_t (*lookup)(void *impl, const char *name, lathe_weight_source_entry_t *out_entry);
  void (*close)(void *impl);
} lathe_weight_source_t;

/* Opens a weight source for `path` (already resolved against the IR file's
 * directory). Supplied by the caller of the parser. */
typedef lathe_status_t (*lathe_weight_source_opener_t)(void *ctx, const char *path,
                                                       lathe_weight_source_t *out_source);

#endif

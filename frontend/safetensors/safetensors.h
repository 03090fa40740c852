/* safetensors: the weight file format of Hugging Face checkpoints.
 *
 * Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON mapping each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
 * first byte after the header) plus an optional "__metadata__" object of
 * string -> string, then the tensor bytes.
 *
 * Three layers, each usable on its own:
 *   reader      lathe_safetensors_t: one file, mmapped and fully validated on
 *               open; tensors are zero-copy views into the mapping.
 *   checkpoint  lathe_safetensors_checkpoint_t: one file, or a sharded
 *               checkpoint described by a "*.safetensors.index.json" whose
 *               "weight_map" names the shard of each tensor; shards open lazily.
 *   writer      lathe_safetensors_write: writes a file atomically (temp file in
 *               the same directory, then rename).
 * plus lathe_safetensors_open_weight_source, the opener the text-IR parser
 * uses for `weights "model.safetensors"` declarations.
 *
 * Errors are one line, "FILE: TENSOR: reason" (or "FILE: reason" for the file
 * as a whole), so a bad checkpoint names the offending tensor.
 *
 * Ownership: open/create functions hand over an owned handle released by the
 * matching close (NULL is fine). Everything a getter returns is borrowed and
 * valid until the handle is closed. Tensor data is never copied.
 *
 * Thread safety: a reader is immutable after open and may be shared between
 * threads. A checkpoint opens shards lazily, so it is not thread-safe.
 */
#ifndef LATHE_FRONTEND_SAFETENSORS_SAFETENSORS_H
#define LATHE_FRONTEND_SAFETENSORS_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/dtype.h"
#include "ir/type.h"
#include "ir/weights.h"
#include "support/mapped_file.h"
#include "support/status.h"

/* Headers above this size are refused as malformed (the reference
 * implementation's limit too). */
#define LATHE_SAFETENSORS_MAX_HEADER_BYTES ((uint64_t)100000000)

/* ---- dtypes ------------------------------------------------------------------ */

/* The safetensors name of a dtype ("F32", "BF16", "BOOL"...), or NULL when the
 * format has none (packed i4/u4). */
const char *lathe_safetensors_dtype_name(lathe_dtype_t dtype);
/* Parses a safetensors dtype name; LATHE_DTYPE_INVALID when Lathe has no such
 * dtype (including valid safetensors names such as "F8_E4M3"). */
lathe_dtype_t lathe_safetensors_dtype_from_name(const char *name);

/* ---- reader ------------------------------------------------------------------ */

typedef struct lathe_safetensors lathe_safetensors_t;

/* One tensor of an open file. All fields are read-only. */
typedef struct lathe_safetensors_tensor {
  const char *name;
  lathe_dtype_t dtype;
  uint32_t rank;
  int64_t dims[LATHE_MAX_RANK];
  uint64_t offset;     /* absolute byte offset of the data in the file */
  uint64_t num_bytes;  /* == element count * dtype size */
  const uint8_t *data; /* view into the mapping at `offset` */
} lathe_safetensors_tensor_t;

/* Maps and validates `path`. On success *out_file is a new handle. */
lathe_status_t lathe_safetensors_open(const char *path, lathe_safetensors_t **out_file);
void lathe_safetensors_close(lathe_safetensors_t *file);

const char *lathe_safetensors_path(const lathe_safetensors_t *file);
/* The mapping the tensor views point into; borrowed (retain it to keep the
 * bytes alive past close). */
lathe_mapped_file_t *lathe_safetensors_mapped_file(const lathe_safetensors_t *file);

size_t lathe_safetensors_num_tensors(const lathe_safetensors_t *file);
/* Tensors in file order (by data offset; zero-size tensors in header order at
 * their offset). NULL when i is out of range. */
const lathe_safetensors_tensor_t *lathe_safetensors_tensor_at(const lathe_safetensors_t *file,
                                                              size_t i);
/* NULL when there is no tensor called `name`. */
const lathe_safetensors_tensor_t *lathe_safetensors_find(const lathe_safetensors_t *file,
                                                         const char *name);

/* The "__metadata__" entries, in header order. */
size_t lathe_safetensors_num_metadata(const lathe_safetensors_t *file);
/* Returns false when i is out of range. */
bool lathe_safetensors_metadata_at(const lathe_safetensors_t *file, size_t i,
                                   const char **out_key, const char **out_value);
/* NULL when absent. */
const char *lathe_safetensors_metadata_get(const lathe_safetensors_t *file, const char *key);

/* ---- checkpoint (single file or sharded) -------------------------------------- */

typedef struct lathe_safetensors_checkpoint lathe_safetensors_checkpoint_t;

/* Opens a ".json" path as a sharded index (shards resolved against the
 * index's directory, opened on first use), any other path as one file. */
lathe_status_t lathe_safetensors_checkpoint_open(const char *path,
                                                 lathe_safetensors_checkpoint_t **out_ckpt);
void lathe_safetensors_checkpoint_close(lathe_safetensors_checkpoint_t *ckpt);

const char *lathe_safetensors_checkpoint_path(const lathe_safetensors_checkpoint_t *ckpt);
/* Tensor names: "weight_map" order for an index, file order for one file. */
size_t lathe_safetensors_checkpoint_num_tensors(const lathe_safetensors_checkpoint_t *ckpt);
const char *lathe_safetensors_checkpoint_tensor_name(const lathe_safetensors_checkpoint_t *ckpt,
                                                     size_t i);
/* Finds `name`, opening its shard if needed. LATHE_STATUS_NOT_FOUND when no
 * tensor has that name; other codes when the shard is bad or lacks the tensor
 * the index promised. *out_shard (may be NULL) is the file holding it. */
lathe_status_t lathe_safetensors_checkpoint_find(lathe_safetensors_checkpoint_t *ckpt,
                                                 const char *name,
                                                 const lathe_safetensors_tensor_t **out_tensor,
                                                 const lathe_safetensors_t **out_shard);

/* A lathe_weight_source_opener_t (ctx unused): opens `path` as a checkpoint
 * and hands it over as a weight source whose close frees it. */
lathe_status_t lathe_safetensors_open_weight_source(void *ctx, const char *path,
                                                    lathe_weight_source_t *out_source);

/* ---- writer ------------------------------------------------------------------ */

typedef struct lathe_safetensors_write_tensor {
  const char *name;
  lathe_dtype_t dtype;
  uint32_t rank;
  const int64_t *dims; /* `rank` entries; may be NULL when rank == 0 */
  const void *data;    /* num_bytes bytes; may be NULL when num_bytes == 0 */
  uint64_t num_bytes;  /* must equal element count * dtype size */
} lathe_safetensors_write_tensor_t;

typedef struct lathe_safetensors_metadata_entry {
  const char *key;
  const char *value;
} lathe_safetensors_metadata_entry_t;

/* Writes `tensors` (in the given order, back to back, so the file is also
 * valid for the reference implementation, which rejects gaps) and optional
 * metadata to `path`. The header is padded with spaces to a multiple of 8
 * bytes, so the data starts 8-aligned; a tensor is aligned to its element
 * size when the tensors before it are whole multiples of it (order tensors by
 * decreasing element size to guarantee that). The file appears atomically:
 * it is written to a temporary file next to `path`, then renamed. Packed
 * dtypes (i4, u4) have no safetensors dtype and are refused. */
lathe_status_t lathe_safetensors_write(const char *path,
                                       const lathe_safetensors_write_tensor_t *tensors,
                                       size_t num_tensors,
                                       const lathe_safetensors_metadata_entry_t *metadata,
                                       size_t num_metadata);

#endif

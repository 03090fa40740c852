/* The safetensors weight source: how `weights "model.safetensors"` (or a
 * sharded "model.safetensors.index.json") in text IR becomes named constants.
 *
 * ir/ knows weight sources only as a lookup/close pair behind a void pointer,
 * so that it never depends on a file format; this adapter puts a checkpoint
 * behind that pair. The module that receives the source owns the checkpoint
 * and closes it; entries borrow the shard's mapping, which the weight store
 * retains for as long as a constant views it.
 */
#include <string.h>

#include "frontend/safetensors/safetensors.h"

static lathe_status_t lookup(void *impl, const char *name, lathe_weight_source_entry_t *out_entry) {
  const lathe_safetensors_tensor_t *t;
  const lathe_safetensors_t *shard;
  LATHE_RETURN_IF_ERROR(lathe_safetensors_checkpoint_find(impl, name, &t, &shard));
  lathe_weight_source_entry_t e = {
      .dtype = t->dtype,
      .rank = t->rank,
      .file = lathe_safetensors_mapped_file(shard),
      .offset = t->offset,
      .num_bytes = t->num_bytes,
  };
  memcpy(e.dims, t->dims, sizeof e.dims);
  *out_entry = e;
  return NULL;
}

static void close_source(void *impl) { lathe_safetensors_checkpoint_close(impl); }

lathe_status_t lathe_safetensors_open_weight_source(void *ctx, const char *path,
                                                    lathe_weight_source_t *out_source) {
  (void)ctx;
  lathe_safetensors_checkpoint_t *c;
  LATHE_RETURN_IF_ERROR(lathe_safetensors_checkpoint_open(path, &c));
  *out_source = (lathe_weight_source_t){
      .path = lathe_safetensors_checkpoint_path(c),
      .impl = c,
      .lookup = lookup,
      .close = close_source,
  };
  return NULL;
}

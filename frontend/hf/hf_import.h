/* The Hugging Face importer: a model folder in, a graph-IR module out.
 *
 * A folder as `save_pretrained` leaves it: config.json plus model.safetensors,
 * or shards listed by model.safetensors.index.json. Supported families (the
 * config's "model_type"): gpt2, opt and llama causal LMs. The module holds one
 * graph
 *
 *   graph @MODEL_TYPE(%input_ids: i64[N, seq]) -> (f32[N, seq, VOCAB])
 *
 * that computes next-token logits for a whole sequence (positions 0..seq-1,
 * no cache, no padding mask): one matmul per projection, layer_norm/rms_norm
 * ops, and attention spelled out as reshape/transpose around an `attention`
 * op. docs/hf.md lists the config keys read per family, how each tensor maps
 * to IR, and what is not supported.
 *
 * Weights are not copied: the module declares the safetensors file (or index)
 * as a weight source and each tensor is a `const @"<tensor name>"` viewing the
 * mapped file. f16 and bf16 tensors are followed by a cast to f32, so the
 * graph computes in f32 whatever the checkpoint stores.
 *
 * Every tensor is checked against the config (present, f32/f16/bf16, the
 * shape the config implies) while the graph is built; nothing is returned
 * unless all are right. Errors are one line naming the file and the key or
 * tensor: "DIR/config.json: n_head: missing",
 * "DIR/model.safetensors: h.0.attn.c_attn.weight: shape [32, 64], but the
 * config gives [32, 96]".
 */
#ifndef LATHE_FRONTEND_HF_IMPORT_H
#define LATHE_FRONTEND_HF_IMPORT_H

#include "ir/ir.h"

typedef struct lathe_hf_import_options {
  /* How the `weights` line names the model folder: the path from where the
   * output .lir will live to the folder ("." when the same; "" or NULL: the
   * folder path as given). */
  const char *display_dir;
} lathe_hf_import_options_t;

/* Imports the model folder `dir` (options may be NULL). On success
 * *out_module is a new, verified module with one graph, owned by the caller. */
lathe_status_t lathe_hf_import(const char *dir, const lathe_hf_import_options_t *options,
                               lathe_module_t **out_module);

#endif

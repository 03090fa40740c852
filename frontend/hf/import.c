/* lathe_hf_import: the folder-level steps shared by every family.
 *
 * Finds config.json and the checkpoint (a sharded index wins over a single
 * file, as in transformers), picks the family builder by "model_type",
 * declares the checkpoint as the module's weight source, creates the graph
 * with its input, lets the family build the body, and verifies the result.
 * Adding a family is one row in `families` plus its builder file.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/hf/hf_internal.h"
#include "frontend/safetensors/safetensors.h"
#include "ir/verify.h"
#include "support/strbuf.h"

static const struct {
  const char *model_type;
  hf_family_build_fn build;
} families[] = {
    {"gpt2", hf_build_gpt2},
    {"opt", hf_build_opt},
    {"llama", hf_build_llama},
};
#define NUM_FAMILIES (sizeof families / sizeof families[0])

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static lathe_status_t check_folder(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0)
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "%s: not a directory (a Hugging Face model is a folder)", dir);
  return NULL;
}

static lathe_status_t find_family(const hf_config_t *c, hf_family_build_fn *out_build,
                                  const char **out_type) {
  const char *type = NULL;
  LATHE_RETURN_IF_ERROR(hf_config_string(c, "model_type", &type));
  for (size_t i = 0; i < NUM_FAMILIES; ++i)
    if (!strcmp(type, families[i].model_type)) {
      *out_build = families[i].build;
      *out_type = families[i].model_type;
      return NULL;
    }
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  for (size_t i = 0; i < NUM_FAMILIES; ++i)
    lathe_strbuf_printf(&sb, "%s%s", i ? ", " : "", families[i].model_type);
  lathe_status_t s = lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                                       "%s: model_type '%s' is not supported (supported: %s)",
                                       c->path, type, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return s;
}

/* Declares DIR's checkpoint as the module's weight source, printed as
 * DISPLAY_DIR/NAME; *out_path is the path the messages use. */
static lathe_status_t open_checkpoint(lathe_module_t *m, const char *dir, const char *display_dir,
                                      const char **out_path) {
  lathe_arena_t *a = lathe_module_arena(m);
  static const char *const names[] = {"model.safetensors.index.json", "model.safetensors"};
  const char *name = NULL, *path = NULL;
  for (size_t i = 0; i < 2 && !name; ++i) {
    path = lathe_arena_printf(a, "%s/%s", dir, names[i]);
    if (is_file(path)) name = names[i];
  }
  if (!name)
    return lathe_status_make(LATHE_STATUS_NOT_FOUND,
                             "%s: has no model.safetensors or model.safetensors.index.json "
                             "(only safetensors checkpoints are read)",
                             dir);
  lathe_weight_source_t source;
  LATHE_RETURN_IF_ERROR(lathe_safetensors_open_weight_source(NULL, path, &source));
  const char *display =
      !strcmp(display_dir, ".") ? name : lathe_arena_printf(a, "%s/%s", display_dir, name);
  lathe_module_add_weight_source(m, display, &source);
  *out_path = path;
  return NULL;
}

static lathe_status_t build(lathe_module_t *m, const char *dir, const char *display_dir,
                            const hf_config_t *config) {
  hf_family_build_fn family = NULL;
  const char *type = NULL;
  LATHE_RETURN_IF_ERROR(find_family(config, &family, &type));
  hf_builder_t h = {.module = m, .prefix = ""};
  LATHE_RETURN_IF_ERROR(open_checkpoint(m, dir, display_dir, &h.weights_path));
  LATHE_RETURN_IF_ERROR(lathe_graph_create(m, type, &h.graph));
  h.at_end = lathe_builder_at_end(h.graph);
  lathe_dim_t dims[2] = {lathe_dim_symbolic(lathe_module_intern(m, "N")),
                         lathe_dim_symbolic(lathe_module_intern(m, "seq"))};
  lathe_type_t ids = lathe_type_make(lathe_module_arena(m), LATHE_DTYPE_I64, 2, dims);
  h.input_ids = lathe_graph_add_input(h.graph, "input_ids", &ids);
  lathe_hashmap_init(&h.weights);
  lathe_value_t *logits = NULL;
  lathe_status_t st = family(&h, config, &logits);
  lathe_hashmap_destroy(&h.weights);
  LATHE_RETURN_IF_ERROR(st);
  lathe_build_return(h.graph, 1, &logits);
  st = lathe_module_verify(m);
  return st ? lathe_status_annotate(st, "internal error: the imported graph fails to verify")
            : NULL;
}

lathe_status_t lathe_hf_import(const char *dir, const lathe_hf_import_options_t *options,
                               lathe_module_t **out_module) {
  LATHE_RETURN_IF_ERROR(check_folder(dir));
  /* "models/gpt2/" and "models/gpt2" name the same folder in messages. */
  size_t len = strlen(dir);
  while (len > 1 && dir[len - 1] == '/') --len;
  lathe_strbuf_t path;
  lathe_strbuf_init(&path);
  lathe_strbuf_printf(&path, "%.*s/config.json", (int)len, dir);
  const char *config_path = lathe_strbuf_cstr(&path);
  if (!is_file(config_path)) {
    lathe_status_t s = lathe_status_make(
        LATHE_STATUS_NOT_FOUND,
        "%.*s: is a directory without a config.json, so not a Hugging Face model folder", (int)len,
        dir);
    lathe_strbuf_destroy(&path);
    return s;
  }
  lathe_module_t *m = lathe_module_create(config_path);
  lathe_strbuf_destroy(&path);
  config_path = lathe_module_source_name(m);
  const char *folder = lathe_arena_strndup(lathe_module_arena(m), dir, len);
  const char *display =
      options && options->display_dir && *options->display_dir ? options->display_dir : folder;
  hf_config_t config;
  lathe_status_t st = hf_config_load(config_path, &config);
  if (!st) {
    st = build(m, folder, display, &config);
    hf_config_free(&config);
  }
  if (st) {
    lathe_module_destroy(m);
    return st;
  }
  *out_module = m;
  return NULL;
}

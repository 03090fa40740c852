/* safetensors checkpoints: one file, or the Hugging Face sharded layout.
 *
 * Large models ship as model-00001-of-00004.safetensors ... plus
 * model.safetensors.index.json, whose "weight_map" maps each tensor name to
 * the shard file holding it (relative to the index's directory). A compiler
 * working on one layer should not map and validate gigabytes of unrelated
 * shards, so shards are opened on the first lookup that needs them and kept
 * open until the checkpoint is closed.
 *
 * The index itself is validated on open (object root, "weight_map" of
 * non-empty relative file names, no duplicate tensor names); a shard is
 * validated in full when it opens, and a tensor the index promised but the
 * shard lacks is an error, not a silent NOT_FOUND.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frontend/safetensors/safetensors.h"
#include "support/arena.h"
#include "support/hashmap.h"

typedef struct {
  const char *path; /* resolved against the index's directory */
  lathe_safetensors_t *file; /* NULL until first needed */
} shard_t;

typedef struct {
  const char *name;
  shard_t *shard;
} entry_t;

struct lathe_safetensors_checkpoint {
  const char *path;
  lathe_safetensors_t *single; /* set for a plain file; the fields below stay empty */
  size_t num_entries;
  entry_t *entries; /* weight_map order */
  size_t num_shards;
  shard_t *shards;
  lathe_hashmap_t by_name; /* tensor name -> entry_t* */
  lathe_arena_t strings;
};

static lathe_status_t fail(lathe_status_code_t code, const char *path, const char *name,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static lathe_status_t fail(lathe_status_code_t code, const char *path, const char *name,
                           const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t s = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  if (name) s = lathe_status_annotate(s, "%s", name[0] ? name : "\"\"");
  return lathe_status_annotate(s, "%s", path);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* "dir/model.safetensors.index.json" + "a.safetensors" -> "dir/a.safetensors". */
static const char *resolve(lathe_arena_t *arena, const char *index_path, const char *file) {
  const char *slash = strrchr(index_path, '/');
  if (!slash) return lathe_arena_strdup(arena, file);
  return lathe_arena_printf(arena, "%.*s/%s", (int)(slash - index_path), index_path, file);
}

static lathe_status_t add_entry(lathe_safetensors_checkpoint_t *c, lathe_hashmap_t *shard_by_file,
                                const cJSON *item) {
  const char *name = item->string;
  if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
    return fail(LATHE_STATUS_PARSE_ERROR, c->path, name,
                "\"weight_map\" value is not a shard file name");
  const char *file = item->valuestring;
  if (file[0] == '/')
    return fail(LATHE_STATUS_PARSE_ERROR, c->path, name,
                "shard \"%s\" must be a path relative to the index's directory", file);
  if (lathe_hashmap_get_str(&c->by_name, name))
    return fail(LATHE_STATUS_PARSE_ERROR, c->path, name, "duplicate tensor name in \"weight_map\"");
  shard_t *shard = lathe_hashmap_get_str(shard_by_file, file);
  if (!shard) {
    shard = &c->shards[c->num_shards++];
    shard->path = resolve(&c->strings, c->path, file);
    if (!lathe_hashmap_put_str(shard_by_file, file, shard))
      return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, c->path, NULL, "out of memory");
  }
  entry_t *e = &c->entries[c->num_entries++];
  *e = (entry_t){lathe_arena_strdup(&c->strings, name), shard};
  if (!lathe_hashmap_put_str(&c->by_name, e->name, e))
    return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, c->path, NULL, "out of memory");
  return NULL;
}

static lathe_status_t parse_index(lathe_safetensors_checkpoint_t *c, const cJSON *root) {
  if (!cJSON_IsObject(root))
    return fail(LATHE_STATUS_PARSE_ERROR, c->path, NULL, "index is not a JSON object");
  const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
  if (!cJSON_IsObject(map))
    return fail(LATHE_STATUS_PARSE_ERROR, c->path, NULL,
                "\"weight_map\" is missing or not a JSON object");
  size_t n = (size_t)cJSON_GetArraySize(map);
  c->entries = calloc(n ? n : 1, sizeof *c->entries);
  c->shards = calloc(n ? n : 1, sizeof *c->shards);
  if (!c->entries || !c->shards)
    return fail(LATHE_STATUS_RESOURCE_EXHAUSTED, c->path, NULL, "out of memory");
  lathe_hashmap_t shard_by_file;
  lathe_hashmap_init(&shard_by_file);
  lathe_status_t s = NULL;
  for (const cJSON *item = map->child; item && !s; item = item->next)
    s = add_entry(c, &shard_by_file, item);
  lathe_hashmap_destroy(&shard_by_file);
  return s;
}

static lathe_status_t open_index(lathe_safetensors_checkpoint_t *c) {
  lathe_mapped_file_t *file;
  LATHE_RETURN_IF_ERROR(lathe_mapped_file_open(c->path, &file));
  const char *text = (const char *)lathe_mapped_file_data(file);
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)lathe_mapped_file_size(file), &end, 0);
  lathe_status_t s =
      root ? parse_index(c, root)
           : fail(LATHE_STATUS_PARSE_ERROR, c->path, NULL, "JSON syntax error at byte %zu",
                  end && text ? (size_t)(end - text) : (size_t)0);
  cJSON_Delete(root);
  lathe_mapped_file_release(file);
  return s;
}

lathe_status_t lathe_safetensors_checkpoint_open(const char *path,
                                                 lathe_safetensors_checkpoint_t **out_ckpt) {
  lathe_safetensors_checkpoint_t *c = calloc(1, sizeof *c);
  if (!c) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "%s: out of memory", path);
  lathe_hashmap_init(&c->by_name);
  lathe_arena_init(&c->strings);
  c->path = lathe_arena_strdup(&c->strings, path);
  lathe_status_t s =
      ends_with(path, ".json") ? open_index(c) : lathe_safetensors_open(path, &c->single);
  if (s) {
    lathe_safetensors_checkpoint_close(c);
    return s;
  }
  *out_ckpt = c;
  return NULL;
}

void lathe_safetensors_checkpoint_close(lathe_safetensors_checkpoint_t *c) {
  if (!c) return;
  lathe_safetensors_close(c->single);
  for (size_t i = 0; i < c->num_shards; ++i) lathe_safetensors_close(c->shards[i].file);
  free(c->shards);
  free(c->entries);
  lathe_hashmap_destroy(&c->by_name);
  lathe_arena_destroy(&c->strings);
  free(c);
}

const char *lathe_safetensors_checkpoint_path(const lathe_safetensors_checkpoint_t *c) {
  return c->path;
}

size_t lathe_safetensors_checkpoint_num_tensors(const lathe_safetensors_checkpoint_t *c) {
  return c->single ? lathe_safetensors_num_tensors(c->single) : c->num_entries;
}

const char *lathe_safetensors_checkpoint_tensor_name(const lathe_safetensors_checkpoint_t *c,
                                                     size_t i) {
  if (c->single) {
    const lathe_safetensors_tensor_t *t = lathe_safetensors_tensor_at(c->single, i);
    return t ? t->name : NULL;
  }
  return i < c->num_entries ? c->entries[i].name : NULL;
}

lathe_status_t lathe_safetensors_checkpoint_find(lathe_safetensors_checkpoint_t *c,
                                                 const char *name,
                                                 const lathe_safetensors_tensor_t **out_tensor,
                                                 const lathe_safetensors_t **out_shard) {
  lathe_safetensors_t *file = c->single;
  if (!file) {
    entry_t *e = lathe_hashmap_get_str(&c->by_name, name);
    if (!e) return fail(LATHE_STATUS_NOT_FOUND, c->path, name, "no such tensor");
    if (!e->shard->file)
      LATHE_RETURN_IF_ERROR(lathe_safetensors_open(e->shard->path, &e->shard->file));
    file = e->shard->file;
  }
  const lathe_safetensors_tensor_t *t = lathe_safetensors_find(file, name);
  if (!t && !c->single)
    return fail(LATHE_STATUS_PARSE_ERROR, c->path, name,
                "\"weight_map\" places it in %s, which has no such tensor",
                lathe_safetensors_path(file));
  if (!t) return fail(LATHE_STATUS_NOT_FOUND, c->path, name, "no such tensor");
  *out_tensor = t;
  if (out_shard) *out_shard = file;
  return NULL;
}

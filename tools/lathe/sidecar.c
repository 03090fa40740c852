/* The safetensors sidecar of `lathe import --weights`: moves the large
 * constants of a module out of the files they view (the .onnx, its external
 * data) into one safetensors file, so the IR no longer depends on the model
 * file. Tensors are named after their const values (unique in a graph; with
 * several graphs, "graph.value"), ordered by decreasing element size so
 * every tensor is aligned to its element size (see safetensors.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "frontend/frontend.h"

typedef struct {
  lathe_op_t *op;
  const char *name;
} moved_t;

/* Every element bitwise equal to the first: printed as splat(), kept inline. */
static bool is_splat(const lathe_weight_t *w) {
  unsigned size = lathe_dtype_bits(w->dtype) / 8;
  if (!size || !w->data) return false;
  for (uint64_t off = size; off + size <= w->num_bytes; off += size)
    if (memcmp(w->data, w->data + off, size)) return false;
  return true;
}

static bool should_move(const lathe_op_t *op, int64_t inline_max) {
  const lathe_weight_t *w = op->weight;
  int64_t count;
  lathe_status_t st = lathe_type_num_elements(&op->results[0].type, &count);
  if (st) {
    lathe_status_free(st);
    return false;
  }
  if (!w || w->kind == LATHE_WEIGHT_NAMED || count <= inline_max) return false;
  if (!lathe_safetensors_dtype_name(w->dtype)) return false; /* packed i4/u4 */
  return w->kind == LATHE_WEIGHT_FILE || !is_splat(w);
}

static int by_element_size(const void *a, const void *b) {
  const moved_t *x = a, *y = b;
  unsigned sx = lathe_dtype_bits(x->op->weight->dtype), sy = lathe_dtype_bits(y->op->weight->dtype);
  if (sx != sy) return sx > sy ? -1 : 1;
  return x->op->id < y->op->id ? -1 : x->op->id > y->op->id; /* stable: graph order */
}

lathe_status_t lathe_sidecar_write(lathe_module_t *module, const char *path,
                                   const char *display_path, int64_t inline_max) {
  lathe_arena_t *arena = lathe_module_arena(module);
  bool many_graphs = lathe_module_num_graphs(module) > 1;
  size_t count = 0, cap = 0;
  moved_t *moved = NULL;
  lathe_hashmap_t names;
  lathe_hashmap_init(&names);
  lathe_status_t st = NULL;
  for (lathe_graph_t *g = lathe_module_first_graph(module); g && !st; g = g->next) {
    LATHE_GRAPH_FOR_EACH_OP(g, op) {
      if (op->kind != LATHE_OP_CONST || !should_move(op, inline_max)) continue;
      const char *v = op->results[0].name;
      const char *base = v ? v : lathe_arena_printf(arena, "const.%u", op->id);
      const char *name = many_graphs ? lathe_arena_printf(arena, "%s.%s", g->name, base) : base;
      for (unsigned k = 1; lathe_hashmap_get_str(&names, name); ++k)
        name = lathe_arena_printf(arena, "%s.%u", base, k);
      if (count == cap) {
        cap = cap ? cap * 2 : 64;
        moved_t *m = realloc(moved, cap * sizeof *m);
        if (!m) {
          st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
          break;
        }
        moved = m;
      }
      lathe_hashmap_put_str(&names, name, (void *)name);
      moved[count++] = (moved_t){op, name};
    }
  }
  lathe_hashmap_destroy(&names);
  if (st) {
    free(moved);
    return st;
  }
  if (count > 1) qsort(moved, count, sizeof *moved, by_element_size); /* moved is NULL when empty */

  lathe_safetensors_write_tensor_t *tensors = calloc(count ? count : 1, sizeof *tensors);
  int64_t *dims = calloc(count ? count * LATHE_MAX_RANK : 1, sizeof *dims);
  if (!tensors || !dims) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (size_t i = 0; i < count && !st; ++i) {
    const lathe_type_t *t = &moved[i].op->results[0].type;
    for (uint32_t d = 0; d < t->rank; ++d) dims[i * LATHE_MAX_RANK + d] = t->dims[d].size;
    const lathe_weight_t *w = moved[i].op->weight;
    tensors[i] = (lathe_safetensors_write_tensor_t){
        .name = moved[i].name,
        .dtype = w->dtype,
        .rank = t->rank,
        .dims = &dims[i * LATHE_MAX_RANK],
        .data = w->data,
        .num_bytes = w->num_bytes,
    };
  }
  const lathe_safetensors_metadata_entry_t meta[] = {
      {"format", "pt"},
      {"producer", "lathe import"},
  };
  if (!st) st = lathe_safetensors_write(path, tensors, count, meta, 2);
  free(tensors);
  free(dims);

  lathe_weight_source_t source;
  if (!st) st = lathe_safetensors_open_weight_source(NULL, path, &source);
  if (!st) lathe_module_add_weight_source(module, display_path, &source);
  for (size_t i = 0; i < count && !st; ++i) {
    lathe_weight_source_entry_t entry;
    lathe_weight_t *w;
    st = lathe_weight_create_named(module, moved[i].name, &entry, &w);
    if (!st) moved[i].op->weight = w;
  }
  free(moved);
  return st;
}

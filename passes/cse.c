/* cse: common subexpression elimination.
 *
 * What: when two ops have the same kind, the same operands (in the same slots,
 * or in either order for commutative binary ops), equal attributes and equal
 * result types, the later one is redundant: its uses are pointed at the
 * earlier op's results and it is erased.
 *
 * How: one forward walk. Each op's signature (kind, operand identities,
 * attributes, result types) is serialized into bytes that are equal exactly
 * when the ops are interchangeable, and looked up in a hash map
 * (support/hashmap.h) from signature to the first op that had it. Because
 * operands are replaced before their users are visited, chains of redundant
 * ops collapse in the same walk.
 *
 * Constants: two `const` ops are merged when they view the same weight, or
 * (option merge-constants) when both are small inline weights with
 * byte-identical payloads. Large or file-backed weights are never compared by
 * content: comparing megabytes to save one op is not worth it, and a
 * compression pass may later treat them differently. Ops flagged
 * LATHE_OPF_NO_CSE (random number generators) and `return` are never merged.
 *
 * Preconditions: a verified graph. Postconditions: no two mergeable ops
 * remain; the merged-away ops are erased (their results have no uses left).
 * Options: merge-constants (bool, default true).
 */
#include <math.h>
#include <string.h>

#include "passes/pass.h"

/* Inline constants up to this many bytes are compared by content. */
enum { MAX_COMPARED_CONST_BYTES = 4096 };

static void put(lathe_strbuf_t *key, const void *data, size_t n) {
  lathe_strbuf_append_n(key, data, n);
}

static void put_u64(lathe_strbuf_t *key, uint64_t v) { put(key, &v, sizeof v); }

static void put_ptr(lathe_strbuf_t *key, const void *p) { put(key, &p, sizeof p); }

/* Strings are written with their terminator so "ab"+"c" and "a"+"bc" differ. */
static void put_str(lathe_strbuf_t *key, const char *s) { put(key, s, strlen(s) + 1); }

/* NaN compares equal to NaN in attributes (lathe_attr_equal); one pattern
 * for all NaNs keeps the bytes in step with that. */
static void put_double(lathe_strbuf_t *key, double d) {
  if (isnan(d)) d = NAN;
  put(key, &d, sizeof d);
}

static void put_type(lathe_strbuf_t *key, const lathe_type_t *t) {
  put_u64(key, (uint64_t)t->dtype << 32 | t->rank);
  for (uint32_t d = 0; d < t->rank; ++d) {
    put_u64(key, (uint64_t)t->dims[d].size);
    put_ptr(key, t->dims[d].sym); /* interned: equal symbols share a pointer */
  }
}

static void put_attr(lathe_strbuf_t *key, const lathe_attr_t *a) {
  put_str(key, a->name);
  put_u64(key, a->kind);
  switch (a->kind) {
  case LATHE_ATTR_INT: put_u64(key, (uint64_t)a->u.i); break;
  case LATHE_ATTR_FLOAT: put_double(key, a->u.f); break;
  case LATHE_ATTR_STRING: put_str(key, a->u.s); break;
  case LATHE_ATTR_DTYPE: put_u64(key, a->u.dtype); break;
  case LATHE_ATTR_INTS:
    put_u64(key, a->u.ints.count);
    put(key, a->u.ints.data, a->u.ints.count * sizeof(int64_t));
    break;
  case LATHE_ATTR_FLOATS:
    put_u64(key, a->u.floats.count);
    for (size_t i = 0; i < a->u.floats.count; ++i) put_double(key, a->u.floats.data[i]);
    break;
  case LATHE_ATTR_STRINGS:
    put_u64(key, a->u.strings.count);
    for (size_t i = 0; i < a->u.strings.count; ++i) put_str(key, a->u.strings.data[i]);
    break;
  default: break;
  }
}

/* The weight part of a const op's signature: the weight's identity, or its
 * bytes when it is small, inline and content merging is on. */
static void put_weight(lathe_strbuf_t *key, const lathe_weight_t *w, bool by_content) {
  if (by_content && w->kind == LATHE_WEIGHT_INLINE && w->num_bytes <= MAX_COMPARED_CONST_BYTES &&
      (w->data || w->num_bytes == 0)) {
    put_u64(key, 1);
    put_u64(key, w->num_bytes);
    put(key, w->data, (size_t)w->num_bytes);
  } else {
    put_u64(key, 0);
    put_ptr(key, w);
  }
}

static void signature(const lathe_op_t *op, bool merge_constants, lathe_strbuf_t *key) {
  put_u64(key, (uint64_t)op->kind << 32 | op->num_operands);
  const lathe_value_t *operands[2];
  bool swap = false;
  if ((lathe_op_info(op->kind)->flags & LATHE_OPF_COMMUTATIVE) && op->num_operands == 2) {
    operands[0] = op->operands[0].value;
    operands[1] = op->operands[1].value;
    /* Order the pair by value id so `add %a, %b` and `add %b, %a` agree. */
    swap = operands[0] && operands[1] && operands[1]->id < operands[0]->id;
  }
  for (uint32_t i = 0; i < op->num_operands; ++i)
    put_ptr(key, op->operands[swap ? 1 - i : i].value);
  put_u64(key, op->num_attrs);
  for (uint32_t i = 0; i < op->num_attrs; ++i) put_attr(key, &op->attrs[i]);
  put_u64(key, op->num_results);
  for (uint32_t i = 0; i < op->num_results; ++i) put_type(key, &op->results[i].type);
  if (op->weight) put_weight(key, op->weight, merge_constants);
}

static bool mergeable(const lathe_op_t *op) {
  uint32_t flags = lathe_op_info(op->kind)->flags;
  if (flags & (LATHE_OPF_NO_CSE | LATHE_OPF_TERMINATOR)) return false;
  return !(flags & LATHE_OPF_CONSTANT) || op->weight;
}

lathe_status_t lathe_pass_cse_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  bool merge_constants = lathe_pass_option_bool(ctx, "merge-constants");
  lathe_hashmap_t seen;
  lathe_hashmap_init(&seen);
  lathe_strbuf_t key;
  lathe_strbuf_init(&key);
  lathe_status_t st = NULL;
  LATHE_GRAPH_FOR_EACH_OP_SAFE(graph, op, next) {
    if (!mergeable(op)) continue;
    key.len = 0;
    signature(op, merge_constants, &key);
    void *found;
    if (lathe_hashmap_get(&seen, key.data, key.len, &found)) {
      lathe_op_t *first = found;
      for (uint32_t i = 0; i < op->num_results; ++i)
        lathe_value_replace_all_uses(&op->results[i], &first->results[i]);
      lathe_op_erase(op);
      lathe_pass_mark_changed(ctx);
    } else if (!lathe_hashmap_put(&seen, key.data, key.len, op)) {
      st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
      break;
    }
  }
  lathe_strbuf_destroy(&key);
  lathe_hashmap_destroy(&seen);
  return st;
}

/* canonicalize: local simplifications, applied until nothing changes.
 *
 * What: a table of patterns, each a small function that looks at one op and
 * its producers and, when it matches, rewires the op's uses to a simpler
 * value (possibly a new op built just before it):
 *   identity(x), dropout(x) (inference mode)      -> x
 *   x * 1, 1 * x, x + 0, 0 + x, x - 0, x / 1       -> x
 *   transpose(transpose(x, p), q)                  -> transpose(x, p∘q), or x when identity
 *   reshape(reshape(x, s), t)                      -> reshape(x, t)
 *   reshape(x) to x's own static shape             -> x
 *   cast(x) to x's dtype                           -> x
 *   cast(cast(x, A), B) where x -> A is lossless   -> cast(x, B), or x when B is x's dtype
 * Rewrites only fire when they are exact: the constant of x*1 must be a splat
 * of exactly 1 (0 for add/sub) and broadcasting it must not change x's shape
 * or dtype; every replacement value must have a type at least as precise as
 * the value it replaces, so graph signatures never lose information.
 *
 * Why: importers and other passes produce these shapes all the time
 * (transpose pairs around layout changes, casts to the same type, identities
 * from ONNX's graph plumbing); removing them early shrinks the graph that
 * folding, CSE and fusion look at.
 *
 * Driver: sweeps the graph in order applying the first matching pattern of
 * each op, until a sweep changes nothing (bounded, in case two patterns ever
 * undo each other). An op whose uses were all rewired is erased on the spot,
 * and so are producers that this leaves without uses; ops that were dead
 * beforehand are left to `dce`.
 *
 * Preconditions: a verified graph. Postconditions: no pattern matches.
 * Options: none.
 */
#include "passes/literal.h"
#include "passes/pass.h"

/* A pattern: returns true when it rewired `op`'s uses (the driver then erases
 * `op`); may build new ops before `op`. */
typedef lathe_status_t (*pattern_fn)(lathe_op_t *op, bool *out_rewired);

/* Replaces the uses of `from` by `to` if that loses no type information. */
static bool replace(lathe_value_t *from, lathe_value_t *to) {
  if (!lathe_type_refines(&to->type, &from->type)) return false;
  lathe_value_replace_all_uses(from, to);
  return true;
}

/* Rewires `op`'s result to the result of `merged`, a new op built just before
 * it, which takes over the old value's name; drops `merged` when the
 * replacement would lose type information. */
static lathe_status_t replace_with_new(lathe_op_t *op, lathe_op_t *merged, bool *out) {
  *out = replace(&op->results[0], &merged->results[0]);
  if (*out) merged->results[0].name = op->results[0].name;
  else lathe_op_erase(merged);
  return NULL;
}

/* ---- patterns ---- */

static lathe_status_t drop_identity(lathe_op_t *op, bool *out) {
  /* dropout's optional mask result must be unused for the op to vanish. */
  for (uint32_t i = 1; i < op->num_results; ++i)
    if (lathe_value_has_uses(&op->results[i])) return NULL;
  *out = replace(&op->results[0], op->operands[0].value);
  return NULL;
}

/* The neutral element of a binary op, and which operand may hold it. */
static bool neutral_of(lathe_op_kind_t kind, double *out_value, bool *out_either_side) {
  switch (kind) {
  case LATHE_OP_ADD: *out_value = 0, *out_either_side = true; return true;
  case LATHE_OP_SUB: *out_value = 0, *out_either_side = false; return true;
  case LATHE_OP_MUL: *out_value = 1, *out_either_side = true; return true;
  case LATHE_OP_DIV: *out_value = 1, *out_either_side = false; return true;
  default: return false;
  }
}

static lathe_status_t drop_neutral(lathe_op_t *op, bool *out) {
  double neutral;
  bool either;
  if (!neutral_of(op->kind, &neutral, &either)) return NULL;
  lathe_value_t *result = &op->results[0];
  /* The constant is operand 1, or for commutative ops possibly operand 0. */
  for (uint32_t k = 1, tries = either ? 2 : 1; tries--; k = 0) {
    lathe_value_t *c = op->operands[k].value, *x = op->operands[1 - k].value;
    lathe_literal_t lit;
    /* x's own type must already be the result's: the splat must not broadcast x. */
    if (lathe_literal_of(c, &lit) && lathe_literal_is_splat_of(&lit, neutral) &&
        lathe_type_equal(&x->type, &result->type) && replace(result, x)) {
      *out = true;
      return NULL;
    }
  }
  return NULL;
}

/* The permutation a transpose applies (its attribute, or reversal when empty). */
static void perm_of(const lathe_op_t *op, uint32_t rank, int64_t *out) {
  const int64_t *perm;
  size_t n = lathe_op_attr_ints(op, "perm", &perm);
  for (uint32_t i = 0; i < rank; ++i) out[i] = n == rank ? perm[i] : (int64_t)(rank - 1 - i);
}

static lathe_status_t fold_transposes(lathe_op_t *op, bool *out) {
  lathe_op_t *inner = op->operands[0].value->def;
  if (!inner || inner->kind != LATHE_OP_TRANSPOSE) return NULL;
  lathe_value_t *x = inner->operands[0].value;
  uint32_t rank = x->type.rank;
  int64_t p[LATHE_MAX_RANK], q[LATHE_MAX_RANK], c[LATHE_MAX_RANK];
  perm_of(inner, rank, p);
  perm_of(op, rank, q);
  bool is_identity = true;
  /* out[i] = inner[q[i]] = x[p[q[i]]] */
  for (uint32_t i = 0; i < rank; ++i) {
    c[i] = p[q[i]];
    is_identity &= c[i] == (int64_t)i;
  }
  if (is_identity) {
    *out = replace(&op->results[0], x);
    return NULL;
  }
  lathe_attr_t attr = lathe_attr_ints("perm", c, rank);
  lathe_builder_t b = lathe_builder_before(op);
  lathe_op_t *merged;
  LATHE_RETURN_IF_ERROR(lathe_build_op(&b, LATHE_OP_TRANSPOSE, 1, &x, 1, &attr, 1, &merged));
  return replace_with_new(op, merged, out);
}

/* reshape(reshape(x, s), t) -> reshape(x, t). Safe when t has no 0 entries
 * that copy a dim of the intermediate (allowzero, or no zeros at all); -1 is
 * solved from the element count, which the inner reshape does not change. */
static lathe_status_t fold_reshapes(lathe_op_t *op, bool *out) {
  lathe_value_t *in = op->operands[0].value;
  lathe_op_t *inner = in->def;
  /* Reshape to the operand's own static shape: nothing to do. */
  if (lathe_type_is_static(&in->type) && lathe_type_equal(&in->type, &op->results[0].type)) {
    *out = replace(&op->results[0], in);
    return NULL;
  }
  if (!inner || inner->kind != LATHE_OP_RESHAPE) return NULL;
  const int64_t *shape;
  size_t n = lathe_op_attr_ints(op, "shape", &shape);
  int64_t allowzero = lathe_op_attr_int(op, "allowzero");
  for (size_t i = 0; i < n && !allowzero; ++i)
    if (shape[i] == 0) return NULL;
  lathe_value_t *x = inner->operands[0].value;
  lathe_attr_t attrs[2] = {lathe_attr_ints("shape", shape, n),
                           lathe_attr_int("allowzero", allowzero)};
  lathe_builder_t b = lathe_builder_before(op);
  lathe_op_t *merged;
  LATHE_RETURN_IF_ERROR(
      lathe_build_op(&b, LATHE_OP_RESHAPE, 1, &x, allowzero ? 2 : 1, attrs, 1, &merged));
  return replace_with_new(op, merged, out);
}

/* Does every value of `from` convert to `to` exactly (and back)? */
static bool lossless(lathe_dtype_t from, lathe_dtype_t to) {
  unsigned fb = lathe_dtype_bits(from), tb = lathe_dtype_bits(to);
  bool ff = lathe_dtype_is_float(from), tf = lathe_dtype_is_float(to);
  if (from == to || from == LATHE_DTYPE_BOOL) return true;
  if ((lathe_dtype_flags(from) | lathe_dtype_flags(to)) & LATHE_DTYPE_PACKED) return false;
  if (ff && tf) return tb > fb; /* f16 and bf16 (same width) do not contain each other */
  if (ff) return false;         /* floats to integers truncate */
  unsigned value_bits = lathe_dtype_is_signed(from) ? fb - 1 : fb; /* magnitude bits */
  if (tf) {
    unsigned mantissa = to == LATHE_DTYPE_F64   ? 53
                        : to == LATHE_DTYPE_F32 ? 24
                        : to == LATHE_DTYPE_F16 ? 11
                                                : 8;
    return value_bits <= mantissa;
  }
  if (to == LATHE_DTYPE_BOOL) return false;
  if (lathe_dtype_is_signed(to)) return tb - 1 >= value_bits;
  return !lathe_dtype_is_signed(from) && tb >= fb; /* unsigned target: no negatives */
}

static lathe_status_t fold_casts(lathe_op_t *op, bool *out) {
  lathe_value_t *in = op->operands[0].value;
  lathe_dtype_t to = lathe_op_attr_dtype(op, "to");
  if (in->type.dtype == to) {
    *out = replace(&op->results[0], in);
    return NULL;
  }
  lathe_op_t *inner = in->def;
  if (!inner || inner->kind != LATHE_OP_CAST) return NULL;
  lathe_value_t *x = inner->operands[0].value;
  if (!lossless(x->type.dtype, in->type.dtype)) return NULL;
  if (x->type.dtype == to) {
    *out = replace(&op->results[0], x);
    return NULL;
  }
  lathe_attr_t attrs[] = {lathe_attr_dtype("to", to),
                          lathe_attr_int("saturate", lathe_op_attr_int(op, "saturate"))};
  bool default_saturate = lathe_op_find_attr(op, "saturate") == NULL;
  lathe_builder_t b = lathe_builder_before(op);
  lathe_op_t *merged;
  LATHE_RETURN_IF_ERROR(
      lathe_build_op(&b, LATHE_OP_CAST, 1, &x, default_saturate ? 1 : 2, attrs, 1, &merged));
  return replace_with_new(op, merged, out);
}

static const pattern_fn patterns[LATHE_OP_KIND_COUNT] = {
    [LATHE_OP_IDENTITY] = drop_identity,    [LATHE_OP_DROPOUT] = drop_identity,
    [LATHE_OP_ADD] = drop_neutral,          [LATHE_OP_SUB] = drop_neutral,
    [LATHE_OP_MUL] = drop_neutral,          [LATHE_OP_DIV] = drop_neutral,
    [LATHE_OP_TRANSPOSE] = fold_transposes, [LATHE_OP_RESHAPE] = fold_reshapes,
    [LATHE_OP_CAST] = fold_casts,
};

/* ---- driver ---- */

/* Erases `op` (whose results are unused) and then any producer of its
 * operands that this leaves unused, depth first. A producer cannot have been
 * erased already: until its last user goes it has uses, and erase refuses. */
static void erase_with_dead_producers(lathe_op_t *op) {
  enum { MAX_PENDING = 64 };
  lathe_op_t *pending[MAX_PENDING];
  uint32_t n = 0;
  pending[n++] = op;
  while (n) {
    lathe_op_t *o = pending[--n];
    lathe_op_t *producers[MAX_PENDING];
    uint32_t np = 0;
    for (uint32_t i = 0; i < o->num_operands && np < MAX_PENDING; ++i)
      if (o->operands[i].value && o->operands[i].value->def)
        producers[np++] = o->operands[i].value->def;
    if (!lathe_op_erase(o)) continue;
    for (uint32_t i = 0; i < np && n < MAX_PENDING; ++i) {
      bool dead = true;
      for (uint32_t r = 0; r < producers[i]->num_results && dead; ++r)
        dead = !lathe_value_has_uses(&producers[i]->results[r]);
      /* Skip producers already queued (an op using one value twice). */
      for (uint32_t k = 0; k < n && dead; ++k) dead = pending[k] != producers[i];
      if (dead && producers[i]->kind != LATHE_OP_RETURN) pending[n++] = producers[i];
    }
  }
}

lathe_status_t lathe_pass_canonicalize_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  enum { MAX_SWEEPS = 32 };
  for (int sweep = 0; sweep < MAX_SWEEPS; ++sweep) {
    bool changed = false;
    LATHE_GRAPH_FOR_EACH_OP_SAFE(graph, op, next) {
      pattern_fn fn = patterns[op->kind];
      bool rewired = false;
      if (fn) LATHE_RETURN_IF_ERROR(fn(op, &rewired));
      if (!rewired) continue;
      /* Producers come before `op`, so `next` survives the erasure. */
      erase_with_dead_producers(op);
      changed = true;
    }
    if (!changed) return NULL;
    lathe_pass_mark_changed(ctx);
  }
  return NULL;
}

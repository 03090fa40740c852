/* Robustness of the op registry: every op's verifier and inference, fed
 * operands of assorted ranks, dtypes and dims (symbolic, unknown, zero) and
 * attributes set to hostile values (INT64 extremes, NaN, empty or overlong
 * lists, unknown strings), must answer with a status and never crash. Run it
 * under the sanitizers (LATHE_SANITIZE=ON) to catch overflow and bad reads.
 *
 * Also checks the registry's own invariants: names unique and well formed,
 * arities consistent, attribute schemas without duplicates. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir/infer.h"
#include "ir/verify.h"

static void test_registry_invariants(void **state) {
  for (int k = 0; k < LATHE_OP_KIND_COUNT; ++k) {
    const lathe_op_info_t *info = lathe_op_info((lathe_op_kind_t)k);
    assert_non_null(info->name);
    for (const char *c = info->name; *c; ++c)
      assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
    lathe_op_kind_t back;
    assert_true(lathe_op_kind_from_name(info->name, strlen(info->name), &back));
    assert_int_equal(back, k); /* names are unique */
    assert_true(info->min_operands >= 0 && info->min_results >= 0);
    assert_true(info->max_operands < 0 || info->max_operands >= info->min_operands);
    assert_true(info->max_results < 0 || info->max_results >= info->min_results);
    if (info->flags & LATHE_OPF_COMMUTATIVE) assert_true(info->flags & LATHE_OPF_ELEMENTWISE);
    for (int i = 0; info->attrs && info->attrs[i].name; ++i)
      for (int j = 0; j < i; ++j) assert_string_not_equal(info->attrs[i].name, info->attrs[j].name);
  }
}

/* ---- hostile inputs ---- */

static const char *const type_pool[] = {
    "f32[]",        "f32[4]",        "f32[N, 3, 8, 8]", "i64[2, 1]",    "u8[1, 3, 8, 8]",
    "bool[?, 4]",   "f32[0, 5]",     "i8[4, 3, 3, 3]",  "i64[3, ?]",    "f16[1]",
    "i32[2]",       "f32[M, N]",     "u4[8, 2]",        "f32[9223372036854775807, 2]",
    "f32[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]",
    "f32[4, 3, 3, 3]", "f32[3]",         "u8[]",            "f32[N, 3, ?, 8]", "i8[1, 3, 8, 8]",
    "f32[1, 3, 8, 8]", "i64[]",          "f32[N, 4]",
};
#define NUM_TYPES (sizeof type_pool / sizeof type_pool[0])

static const int64_t int_pool[] = {INT64_MIN, INT64_MIN + 1, -3, -1, 0, 1, 2, 3, 32, INT64_MAX};
#define NUM_INTS (sizeof int_pool / sizeof int_pool[0])
static const double float_pool[] = {0.0, -1.0, 0.5, 1e300, -INFINITY, INFINITY, NAN};
#define NUM_FLOATS (sizeof float_pool / sizeof float_pool[0])
static const char *const string_pool[] = {"",           "none",     "NOTSET",      "SAME_UPPER",
                                          "VALID",      "bogus",    "ij,jk->ik",   "...i,...i",
                                          "->",         "a,b,c,d,e", "tf_crop_and_resize",
                                          "not_larger", "i...j....", "ij->ijij"};
#define NUM_STRINGS (sizeof string_pool / sizeof string_pool[0])

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

/* Parses "f32[N, 3, ?]" (test input only). */
static lathe_type_t type_of(lathe_module_t *m, const char *s) {
  const char *lb = strchr(s, '[');
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank = 0;
  for (const char *p = lb + 1; *p != ']';) {
    while (*p == ' ' || *p == ',') ++p;
    if (*p == ']') break;
    size_t n = strcspn(p, ", ]");
    char tok[64];
    memcpy(tok, p, n);
    tok[n] = '\0';
    if (tok[0] == '?') dims[rank++] = lathe_dim_unknown();
    else if (tok[0] >= '0' && tok[0] <= '9') dims[rank++] = lathe_dim_static(strtoll(tok, NULL, 10));
    else dims[rank++] = lathe_dim_symbolic(lathe_module_intern(m, tok));
    p += n;
  }
  return lathe_type_make(lathe_module_arena(m), lathe_dtype_from_name(s, (size_t)(lb - s)), rank,
                         dims);
}

/* A random value for schema entry s (sometimes of the wrong kind). */
static lathe_attr_t random_attr(const lathe_attr_schema_t *s, int64_t *ints, double *floats) {
  size_t n = rnd(6) == 0 ? 40 : rnd(7); /* occasionally far too long */
  lathe_attr_kind_t kind = rnd(20) == 0 ? (lathe_attr_kind_t)(1 + rnd(LATHE_ATTR_KIND_COUNT - 2)) : s->kind;
  switch (kind) {
  case LATHE_ATTR_INT: return lathe_attr_int(s->name, int_pool[rnd(NUM_INTS)]);
  case LATHE_ATTR_FLOAT: return lathe_attr_float(s->name, float_pool[rnd(NUM_FLOATS)]);
  case LATHE_ATTR_STRING: return lathe_attr_string(s->name, string_pool[rnd(NUM_STRINGS)]);
  case LATHE_ATTR_DTYPE:
    return lathe_attr_dtype(s->name, (lathe_dtype_t)(1 + rnd(LATHE_DTYPE_COUNT - 1)));
  case LATHE_ATTR_INTS:
    for (size_t i = 0; i < n; ++i) ints[i] = rnd(2) ? int_pool[rnd(NUM_INTS)] : (int64_t)rnd(5);
    return lathe_attr_ints(s->name, ints, n);
  case LATHE_ATTR_FLOATS:
    for (size_t i = 0; i < n; ++i) floats[i] = float_pool[rnd(NUM_FLOATS)];
    return lathe_attr_floats(s->name, floats, n);
  default: return lathe_attr_int(s->name, 0);
  }
}

static uint32_t pick_count(int32_t lo, int32_t hi, uint32_t cap) {
  uint32_t top = hi < 0 ? (uint32_t)lo + 3 : (uint32_t)hi;
  if (top > cap) top = cap;
  if ((uint32_t)lo > top) return (uint32_t)lo;
  return (uint32_t)lo + rnd(top - (uint32_t)lo + 1);
}

static void fuzz_op(lathe_module_t *m, lathe_graph_t *g, lathe_value_t *const *inputs,
                    lathe_op_kind_t kind) {
  const lathe_op_info_t *info = lathe_op_info(kind);
  lathe_value_t *operands[12];
  uint32_t n_in = pick_count(info->min_operands, info->max_operands, 12);
  /* Operands often share one type, so inference gets past its first checks. */
  lathe_value_t *base = inputs[rnd(NUM_TYPES)];
  for (uint32_t i = 0; i < n_in; ++i)
    operands[i] = (int32_t)i >= info->min_operands && rnd(3) == 0 ? NULL
                  : rnd(2)                                         ? base
                                                                   : inputs[rnd(NUM_TYPES)];
  lathe_attr_t attrs[16];
  int64_t ints[16][40];
  double floats[16][40];
  uint32_t n_attrs = 0;
  for (int i = 0; info->attrs && info->attrs[i].name && n_attrs < 16; ++i)
    if (info->attrs[i].required || rnd(3) == 0) {
      attrs[n_attrs] = random_attr(&info->attrs[i], ints[n_attrs], floats[n_attrs]);
      ++n_attrs;
    }
  uint32_t n_out = pick_count(info->min_results, info->max_results, 5);
  lathe_type_t types[5];
  for (uint32_t i = 0; i < n_out; ++i) types[i] = type_of(m, type_pool[rnd(NUM_TYPES)]);
  /* Through the verifier (attributes, op verifier, inference) ... */
  lathe_builder_t b = lathe_builder_at_end(g);
  lathe_op_t *op = lathe_build_op_typed(&b, kind, n_in, operands, n_attrs, attrs, n_out, types);
  lathe_status_free(lathe_op_verify(op));
  for (uint32_t i = 0; i < n_in; ++i) lathe_op_set_operand(op, i, NULL);
  /* ... and through the builder, which infers result types directly. */
  lathe_op_t *built = NULL;
  lathe_status_t st = lathe_build_op(&b, kind, n_in, operands, n_attrs, attrs, n_out, &built);
  if (!st) {
    /* Whatever inference accepted must pass the verifier too. */
    lathe_status_t vst = lathe_op_verify(built);
    if (vst && lathe_status_code(vst) == LATHE_STATUS_VERIFY_ERROR &&
        strstr(lathe_status_message(vst), "is declared"))
      fail_msg("%s", lathe_status_message(vst));
    lathe_status_free(vst);
    for (uint32_t i = 0; i < n_in; ++i) lathe_op_set_operand(built, i, NULL);
  }
  lathe_status_free(st);
}

static void test_hostile_inputs_never_crash(void **state) {
  for (int round = 0; round < 10; ++round) {
    lathe_module_t *m = lathe_module_create("fuzz");
    lathe_graph_t *g;
    assert_null(lathe_graph_create(m, "g", &g));
    lathe_value_t *inputs[NUM_TYPES];
    for (size_t i = 0; i < NUM_TYPES; ++i) {
      lathe_type_t t = type_of(m, type_pool[i]);
      inputs[i] = lathe_graph_add_input(g, NULL, &t);
    }
    for (int k = 0; k < LATHE_OP_KIND_COUNT; ++k) {
      if (k == LATHE_OP_CONST || k == LATHE_OP_RETURN) continue;
      for (int rep = 0; rep < 60; ++rep) fuzz_op(m, g, inputs, (lathe_op_kind_t)k);
    }
    lathe_module_destroy(m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry_invariants),
      cmocka_unit_test(test_hostile_inputs_never_crash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

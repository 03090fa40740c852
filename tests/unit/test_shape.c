/* Unit tests for shape arithmetic (ir/type.c and the dim helpers of
 * ir/infer.h): broadcasting with static, symbolic and unknown dims,
 * overflow-checked products, axis normalization, and reshape inference with
 * 0 (copy), -1 (solve) and symbolic dims. Types are written in the text form
 * ("f32[N, 3, ?]") and results compared as text, so a failure prints both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir/infer.h"

/* ---- fixtures: a module to intern symbols in, a graph to build ops in ---- */

typedef struct {
  lathe_module_t *module;
  lathe_graph_t *graph;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  f->module = lathe_module_create("test");
  if (lathe_graph_create(f->module, "g", &f->graph)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  lathe_module_destroy(f->module);
  free(f);
  return 0;
}

/* Parses "f32[N, 3, ?]" (test input only: no error handling). */
static lathe_type_t type_of(fixture_t *f, const char *s) {
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
    else dims[rank++] = lathe_dim_symbolic(lathe_module_intern(f->module, tok));
    p += n;
  }
  return lathe_type_make(lathe_module_arena(f->module), lathe_dtype_from_name(s, (size_t)(lb - s)),
                         rank, dims);
}

/* Broadcasts a against b; returns the result as text, or the error message. */
static char *broadcast(fixture_t *f, const char *a, const char *b) {
  lathe_type_t ta = type_of(f, a), tb = type_of(f, b);
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank;
  lathe_status_t st = lathe_broadcast_dims(ta.rank, ta.dims, tb.rank, tb.dims, &rank, dims);
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  if (st) {
    lathe_strbuf_append(&sb, lathe_status_message(st));
    lathe_status_free(st);
  } else {
    lathe_type_t t = {ta.dtype, rank, dims};
    lathe_type_print(&sb, &t);
  }
  return lathe_strbuf_release(&sb);
}

static void check_broadcast(fixture_t *f, const char *a, const char *b, const char *want) {
  char *got = broadcast(f, a, b);
  assert_string_equal(got, want);
  free(got);
  /* Broadcasting is symmetric. */
  got = broadcast(f, b, a);
  if (strchr(want, '[')) assert_string_equal(got, want);
  free(got);
}

/* ---- broadcasting ---- */

static void test_broadcast_static(void **state) {
  fixture_t *f = *state;
  check_broadcast(f, "f32[2, 3]", "f32[3]", "f32[2, 3]");
  check_broadcast(f, "f32[2, 1]", "f32[1, 4]", "f32[2, 4]");
  check_broadcast(f, "f32[]", "f32[5, 1]", "f32[5, 1]");
  check_broadcast(f, "f32[0, 3]", "f32[1, 3]", "f32[0, 3]");
  check_broadcast(f, "f32[2]", "f32[3]", "cannot broadcast dim 2 against 3");
  check_broadcast(f, "f32[0]", "f32[2]", "cannot broadcast dim 0 against 2");
}

static void test_broadcast_symbolic(void **state) {
  fixture_t *f = *state;
  check_broadcast(f, "f32[N, 1]", "f32[1, seq]", "f32[N, seq]");
  check_broadcast(f, "f32[N, 4]", "f32[N, 4]", "f32[N, 4]");
  /* A symbol against a static size other than 1 must equal it at run time. */
  check_broadcast(f, "f32[N]", "f32[5]", "f32[5]");
  /* Two different symbols: either could be 1, so the result is unknown. */
  check_broadcast(f, "f32[N]", "f32[M]", "f32[?]");
  check_broadcast(f, "f32[?]", "f32[1]", "f32[?]");
  check_broadcast(f, "f32[?]", "f32[N]", "f32[?]");
  check_broadcast(f, "f32[?]", "f32[7]", "f32[7]");
}

static void test_broadcast_rank_limit(void **state) {
  fixture_t *f = *state;
  lathe_dim_t big[LATHE_MAX_RANK + 1];
  for (int i = 0; i <= LATHE_MAX_RANK; ++i) big[i] = lathe_dim_static(1);
  lathe_dim_t out[LATHE_MAX_RANK];
  uint32_t rank;
  lathe_status_t st = lathe_broadcast_dims(LATHE_MAX_RANK + 1, big, 0, NULL, &rank, out);
  assert_non_null(st);
  assert_int_equal(lathe_status_code(st), LATHE_STATUS_OUT_OF_RANGE);
  lathe_status_free(st);
  (void)f;
}

/* ---- checked arithmetic and element counts ---- */

static void test_checked_arithmetic(void **state) {
  int64_t r = 0;
  assert_true(lathe_checked_mul_i64(INT64_MAX, 1, &r));
  assert_int_equal(r, INT64_MAX);
  assert_true(lathe_checked_mul_i64(0, INT64_MAX, &r));
  assert_int_equal(r, 0);
  assert_false(lathe_checked_mul_i64(INT64_MAX, 2, &r));
  assert_false(lathe_checked_mul_i64((int64_t)1 << 32, (int64_t)1 << 31, &r));
  assert_false(lathe_checked_mul_i64(-1, 2, &r)); /* sizes are never negative */
  assert_true(lathe_checked_add_i64(INT64_MAX - 1, 1, &r));
  assert_false(lathe_checked_add_i64(INT64_MAX, 1, &r));
  assert_false(lathe_checked_add_i64(INT64_MIN, -1, &r));
}

static void test_num_elements(void **state) {
  fixture_t *f = *state;
  int64_t n = -1;
  lathe_type_t t = type_of(f, "f32[2, 3, 4]");
  assert_null(lathe_type_num_elements(&t, &n));
  assert_int_equal(n, 24);
  t = type_of(f, "f32[]");
  assert_null(lathe_type_num_elements(&t, &n));
  assert_int_equal(n, 1);
  t = type_of(f, "f32[4294967296, 4294967296]");
  lathe_status_t st = lathe_type_num_elements(&t, &n);
  assert_int_equal(lathe_status_code(st), LATHE_STATUS_OUT_OF_RANGE);
  lathe_status_free(st);
  t = type_of(f, "f32[N, 3]");
  st = lathe_type_num_elements(&t, &n);
  assert_non_null(st);
  lathe_status_free(st);
  uint64_t bytes = 0;
  t = type_of(f, "i4[3, 3]");
  assert_null(lathe_type_num_bytes(&t, &bytes));
  assert_int_equal(bytes, 5); /* 9 nibbles round up */
}

static void test_dims_product(void **state) {
  fixture_t *f = *state;
  lathe_dim_t d;
  lathe_type_t t = type_of(f, "f32[2, 3, 4]");
  assert_null(lathe_dims_product(t.dims, t.rank, &d));
  assert_true(lathe_dim_is_static(d) && d.size == 24);
  t = type_of(f, "f32[1, N, 1]");
  assert_null(lathe_dims_product(t.dims, t.rank, &d));
  assert_string_equal(d.sym, "N");
  t = type_of(f, "f32[2, N]"); /* 2*N is an expression: unknown */
  assert_null(lathe_dims_product(t.dims, t.rank, &d));
  assert_true(lathe_dim_is_unknown(d));
  t = type_of(f, "f32[N, 0]");
  assert_null(lathe_dims_product(t.dims, t.rank, &d));
  assert_true(lathe_dim_is_static(d) && d.size == 0);
  t = type_of(f, "f32[4294967296, 4294967296]");
  lathe_status_t st = lathe_dims_product(t.dims, t.rank, &d);
  assert_int_equal(lathe_status_code(st), LATHE_STATUS_OUT_OF_RANGE);
  lathe_status_free(st);
}

static void test_dim_merge(void **state) {
  fixture_t *f = *state;
  lathe_type_t t = type_of(f, "f32[N, 3, ?, M, 4]");
  lathe_dim_t d;
  assert_true(lathe_dim_merge(t.dims[0], t.dims[1], &d)); /* symbol vs static: static */
  assert_int_equal(d.size, 3);
  assert_true(lathe_dim_merge(t.dims[2], t.dims[0], &d)); /* unknown vs symbol: symbol */
  assert_string_equal(d.sym, "N");
  assert_true(lathe_dim_merge(t.dims[0], t.dims[3], &d)); /* two symbols: unknown */
  assert_true(lathe_dim_is_unknown(d));
  assert_false(lathe_dim_merge(t.dims[1], t.dims[4], &d));
}

/* ---- axes ---- */

static void test_normalize_axis(void **state) {
  uint32_t a = 99;
  assert_null(lathe_normalize_axis(-1, 3, &a));
  assert_int_equal(a, 2);
  assert_null(lathe_normalize_axis(-3, 3, &a));
  assert_int_equal(a, 0);
  assert_null(lathe_normalize_axis(2, 3, &a));
  assert_int_equal(a, 2);
  static const int64_t bad[] = {3, -4, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    lathe_status_t st = lathe_normalize_axis(bad[i], 3, &a);
    assert_non_null(st);
    assert_int_equal(a, 2); /* out-params are written only on success */
    lathe_status_free(st);
  }
  lathe_status_t st = lathe_normalize_axis(5, 3, &a);
  assert_string_equal(lathe_status_message(st), "axis 5 is out of range for rank 3");
  lathe_status_free(st);
  st = lathe_normalize_axis(0, 0, &a); /* a scalar has no axes */
  assert_non_null(st);
  lathe_status_free(st);
}

static void test_normalize_axes(void **state) {
  uint32_t out[LATHE_MAX_RANK];
  static const int64_t ok[] = {-1, 0};
  assert_null(lathe_normalize_axes(ok, 2, 3, out));
  assert_int_equal(out[0], 2);
  assert_int_equal(out[1], 0);
  static const int64_t repeated[] = {1, -2};
  lathe_status_t st = lathe_normalize_axes(repeated, 2, 3, out);
  assert_string_equal(lathe_status_message(st), "axis -2 is repeated");
  lathe_status_free(st);
  static const int64_t too_many[] = {0, 1, 2, 3};
  st = lathe_normalize_axes(too_many, 4, 3, out);
  assert_non_null(st);
  lathe_status_free(st);
}

/* ---- reshape inference ---- */

/* Builds reshape(input) {shape, allowzero} and returns its type or error as text. */
static char *reshape(fixture_t *f, const char *input, const int64_t *shape, size_t n,
                     int64_t allowzero) {
  lathe_type_t t = type_of(f, input);
  lathe_value_t *x = lathe_graph_add_input(f->graph, NULL, &t);
  lathe_attr_t attrs[2] = {lathe_attr_ints("shape", shape, n), lathe_attr_int("allowzero", allowzero)};
  lathe_builder_t b = lathe_builder_at_end(f->graph);
  lathe_op_t *op = NULL;
  uint32_t before = f->graph->num_ops;
  lathe_status_t st = lathe_build_op(&b, LATHE_OP_RESHAPE, 1, &x, 2, attrs, 1, &op);
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  if (st) {
    assert_int_equal(f->graph->num_ops, before); /* a rejected op is not inserted */
    assert_false(lathe_value_has_uses(x));
    lathe_strbuf_append(&sb, lathe_status_message(st));
    lathe_status_free(st);
  } else {
    lathe_type_print(&sb, &op->results[0].type);
  }
  return lathe_strbuf_release(&sb);
}

#define CHECK_RESHAPE(f, input, allowzero, want, ...)                                 \
  do {                                                                                \
    static const int64_t shape_[] = {__VA_ARGS__};                                    \
    char *got_ = reshape(f, input, shape_, sizeof shape_ / sizeof shape_[0], allowzero); \
    assert_string_equal(got_, want);                                                  \
    free(got_);                                                                       \
  } while (0)

static void test_reshape_static(void **state) {
  fixture_t *f = *state;
  CHECK_RESHAPE(f, "f32[2, 3, 4]", 0, "f32[2, 12]", 0, -1);
  CHECK_RESHAPE(f, "f32[2, 3, 4]", 0, "f32[24]", -1);
  CHECK_RESHAPE(f, "f32[2, 3, 4]", 0, "f32[4, 3, 2]", 4, 3, 2);
  CHECK_RESHAPE(f, "f32[1]", 0, "f32[1, 1]", 1, -1);
  CHECK_RESHAPE(f, "i8[0, 4]", 1, "i8[0, 2, 2]", 0, 2, 2); /* allowzero: 0 is a size */
}

static void test_reshape_symbolic(void **state) {
  fixture_t *f = *state;
  CHECK_RESHAPE(f, "f32[N, 128, 768]", 0, "f32[N, 128, 12, 64]", 0, 0, 12, 64);
  /* 0 copies N, which then cancels; -1 is solved from the static rest. */
  CHECK_RESHAPE(f, "f32[N, 12, 64]", 0, "f32[N, 768]", 0, -1);
  /* The static parts match, so -1 is exactly N. */
  CHECK_RESHAPE(f, "f32[N, 768]", 0, "f32[N, 12, 64]", -1, 12, 64);
  /* -1 = N*128: an expression, so unknown. */
  CHECK_RESHAPE(f, "f32[N, 128, 768]", 0, "f32[?, 768]", -1, 768);
  CHECK_RESHAPE(f, "f32[?, 4]", 0, "f32[?, 2]", -1, 2);
  /* Element counts cannot be compared with a symbol left over: no error. */
  CHECK_RESHAPE(f, "f32[N, 4]", 0, "f32[3, 5]", 3, 5);
}

static void test_reshape_errors(void **state) {
  fixture_t *f = *state;
  CHECK_RESHAPE(f, "f32[2, 3]", 0, "op 'reshape': shape has more than one -1", -1, -1);
  CHECK_RESHAPE(f, "f32[2, 3]", 0, "op 'reshape': shape[2] is 0 (copy) but the input has rank 2",
                2, 3, 0);
  CHECK_RESHAPE(f, "f32[2, 3]", 0, "op 'reshape': shape[0] is -2", -2, -3);
  CHECK_RESHAPE(f, "f32[2, 3]", 0, "op 'reshape': cannot reshape 6 elements into 4", 4);
  CHECK_RESHAPE(f, "f32[2, 3]", 0, "op 'reshape': cannot reshape 6 elements into a shape with -1",
                4, -1);
  CHECK_RESHAPE(f, "f32[2, 3]", 0,
                "op 'reshape': shape element count overflows int64", 4294967296, 4294967296);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_broadcast_static, setup, teardown),
      cmocka_unit_test_setup_teardown(test_broadcast_symbolic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_broadcast_rank_limit, setup, teardown),
      cmocka_unit_test(test_checked_arithmetic),
      cmocka_unit_test_setup_teardown(test_num_elements, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dims_product, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dim_merge, setup, teardown),
      cmocka_unit_test(test_normalize_axis),
      cmocka_unit_test(test_normalize_axes),
      cmocka_unit_test_setup_teardown(test_reshape_static, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reshape_symbolic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reshape_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

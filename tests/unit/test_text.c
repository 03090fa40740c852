/* Unit tests for the text IR (ir/text.h): printer and parser.
 *
 * Round trips: canonical text parses and prints back byte for byte.
 * Diagnostics: each class of bad input gives one exact "FILE:LINE:COL: error:
 * MESSAGE" line and leaks nothing (the suite runs under ASan in CI).
 * Printing what passes build: unnamed values, name clashes, inline weights
 * without a recorded form. Weights: @file views, a fake `weights` source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ir/text.h"
#include "ir/verify.h"

/* ---- helpers ---- */

static char *print_module(const lathe_module_t *m) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_module_print(&sb, m);
  return lathe_strbuf_release(&sb);
}

static lathe_status_t parse_with(const char *text, const lathe_parse_options_t *o,
                                 lathe_module_t **out) {
  return lathe_module_parse(text, strlen(text), "t.lir", o, out);
}

static void assert_roundtrip(const char *text) {
  lathe_module_t *m = NULL;
  lathe_status_t st = parse_with(text, NULL, &m);
  if (st) fail_msg("parse failed: %s: %s", lathe_status_location(st), lathe_status_message(st));
  char *out = print_module(m);
  assert_string_equal(out, text);
  free(out);
  lathe_module_destroy(m);
}

/* "LOC: error: MSG" as a tool would print it. */
static char *diagnostic(lathe_status_t st) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  lathe_status_print(f, "test", st);
  fclose(f);
  if (len && text[len - 1] == '\n') text[len - 1] = '\0';
  return text;
}

static void assert_error(const char *text, const char *expected) {
  lathe_module_t *m = (lathe_module_t *)0x1; /* must stay untouched on failure */
  lathe_status_t st = parse_with(text, NULL, &m);
  if (!st) fail_msg("expected an error for:\n%s", text);
  assert_ptr_equal(m, (lathe_module_t *)0x1);
  char *d = diagnostic(st);
  assert_string_equal(d, expected);
  free(d);
  lathe_status_free(st);
}

#define G1(body) "graph @g(%x: f32[2]) -> (f32[2]) {\n" body "}\n"

/* ---- round trips ---- */

static void test_roundtrip_forms(void **state) {
  assert_roundtrip("");
  assert_roundtrip("graph @empty() -> () {\n  return\n}\n");
  assert_roundtrip(
      "graph @block(%x: f32[N, 128, ?], %mask: bool[], %s.1: i64[0]) -> (f32[N, ?, 128], "
      "f32[N, 128, ?]) {\n"
      "  %w = const dense[0.5, -1.0, 2.0, 1e-05, 1e+20, inf, -inf, nan] : f32[8]\n"
      "  %z = const splat(0.0) : f32[4, 4]\n"
      "  %0 = relu %x : f32[N, 128, ?]\n"
      "  %1 = transpose %0 {perm = [0, 2, 1]} : f32[N, ?, 128]\n"
      "  %r = reshape %0 {shape = [0, -1]} : f32[N, ?]\n"
      "  %c = cast %x {to = f16} : f16[N, 128, ?]\n"
      "  return %1, %0\n"
      "}\n");
  assert_roundtrip("graph @a(%x: f32[2]) -> (f32[2]) {\n  return %x\n}\n\n"
                   "graph @b(%x: f32[2]) -> (f32[2]) {\n  return %x\n}\n");
}

static void test_roundtrip_every_dtype(void **state) {
  assert_roundtrip(
      "graph @d() -> (f32[4], f16[5], bf16[4], f64[3], i8[2], u8[2], i16[2], u16[1], i32[2], "
      "u32[1], i64[2], u64[1], bool[2], i4[3], u4[3]) {\n"
      "  %a = const dense[0.1, -0.0, 3.4028235e+38, 1e-45] : f32[4]\n"
      "  %b = const dense[0.1, 65504.0, 6e-08, -inf, 0.3333] : f16[5]\n"
      "  %c = const dense[0.1, 3.39e+38, -1.0, nan] : bf16[4]\n"
      "  %d = const dense[0.1, 1.7976931348623157e+308, 5e-324] : f64[3]\n"
      "  %e = const dense[-128, 127] : i8[2]\n"
      "  %f = const dense[0, 255] : u8[2]\n"
      "  %g = const dense[-32768, 32767] : i16[2]\n"
      "  %h = const dense[65535] : u16[1]\n"
      "  %i = const dense[-2147483648, 2147483647] : i32[2]\n"
      "  %j = const dense[4294967295] : u32[1]\n"
      "  %k = const dense[-9223372036854775808, 9223372036854775807] : i64[2]\n"
      "  %l = const dense[18446744073709551615] : u64[1]\n"
      "  %m = const dense[true, false] : bool[2]\n"
      "  %n = const dense[-8, 7, -1] : i4[3]\n"
      "  %o = const splat(9) : u4[3]\n"
      "  return %a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %k, %l, %m, %n, %o\n"
      "}\n");
}

static void test_literals_are_stored_exactly(void **state) {
  lathe_module_t *m;
  assert_null(parse_with("graph @g() -> (i4[3], f16[2]) {\n"
                         "  %a = const dense[-8, 7, -1] : i4[3]\n"
                         "  %b = const dense[1, -2.0] : f16[2]\n"
                         "  return %a, %b\n}\n",
                         NULL, &m));
  lathe_op_t *a = lathe_module_first_graph(m)->first;
  assert_int_equal(a->weight->num_bytes, 2);
  assert_int_equal(a->weight->data[0], 0x78); /* low nibble first */
  assert_int_equal(a->weight->data[1], 0x0f); /* pad nibble is zero */
  const uint8_t *b = a->next->weight->data;
  assert_int_equal(b[0] | b[1] << 8, 0x3c00);
  assert_int_equal(b[2] | b[3] << 8, 0xc000);
  lathe_module_destroy(m);
}

static void test_noncanonical_input_prints_canonically(void **state) {
  lathe_module_t *m;
  assert_null(parse_with("// comment\ngraph   @g( %x :f32[ 2 ] )->(f32[2]){ %0=relu %x:f32[2]\n"
                         "  %1 = const dense[1, 2.50, 1e0] : f32[3] return %0 }",
                         NULL, &m));
  char *out = print_module(m);
  assert_string_equal(out, G1("  %0 = relu %x : f32[2]\n"
                              "  %1 = const dense[1.0, 2.5, 1.0] : f32[3]\n"
                              "  return %0\n"));
  free(out);
  lathe_module_destroy(m);
}

/* Prints a dense constant holding `count` elements from `data`, parses the
 * text back and checks the bytes are unchanged. */
static void assert_dense_roundtrip(lathe_dtype_t dtype, const void *data, int64_t count) {
  lathe_module_t *m = lathe_module_create("built");
  lathe_graph_t *g;
  assert_null(lathe_graph_create(m, "g", &g));
  uint64_t bytes;
  assert_true(lathe_dtype_storage_bytes(dtype, (uint64_t)count, &bytes));
  lathe_weight_t *w;
  assert_null(lathe_weight_create_inline(m, dtype, data, bytes, &w));
  w->form = LATHE_WEIGHT_FORM_DENSE;
  lathe_type_t t = lathe_type_make_static(lathe_module_arena(m), dtype, 1, &count);
  lathe_builder_t b = lathe_builder_at_end(g);
  lathe_value_t *v;
  assert_null(lathe_build_const(&b, w, &t, &v));
  lathe_build_return(g, 1, &v);
  char *text = print_module(m);
  lathe_module_destroy(m);
  assert_null(parse_with(text, NULL, &m));
  assert_memory_equal(lathe_module_first_graph(m)->first->weight->data, data, bytes);
  free(text);
  lathe_module_destroy(m);
}

static void test_float_elements_roundtrip(void **state) {
  /* Every f16 and bf16 pattern except NaNs (which all print as "nan"). */
  uint16_t *h = malloc(65536 * sizeof *h), *bf = malloc(65536 * sizeof *bf);
  int64_t nh = 0, nbf = 0;
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    if ((i & 0x7c00) != 0x7c00 || !(i & 0x3ff)) h[nh++] = (uint16_t)i;
    if ((i & 0x7f80) != 0x7f80 || !(i & 0x7f)) bf[nbf++] = (uint16_t)i;
  }
  assert_dense_roundtrip(LATHE_DTYPE_F16, h, nh);
  assert_dense_roundtrip(LATHE_DTYPE_BF16, bf, nbf);
  free(h);
  free(bf);
  /* A spread of f32 and f64 patterns: every exponent, varied mantissas. */
  enum { N = 20000 };
  uint32_t *f = malloc(N * sizeof *f);
  uint64_t *d = malloc(N * sizeof *d);
  uint64_t x = 0x9e3779b97f4a7c15u;
  int64_t nf = 0, nd = 0;
  for (int i = 0; i < N; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
    uint32_t fb = (uint32_t)(x >> 32);
    if ((fb & 0x7f800000) != 0x7f800000) f[nf++] = fb;
    if ((x & 0x7ff0000000000000u) != 0x7ff0000000000000u) d[nd++] = x;
  }
  assert_dense_roundtrip(LATHE_DTYPE_F32, f, nf);
  assert_dense_roundtrip(LATHE_DTYPE_F64, d, nd);
  free(f);
  free(d);
}

/* ---- diagnostics ---- */

static void test_errors_names_and_ops(void **state) {
  assert_error(G1("  %0 = foo %x : f32[2]\n  return %0\n"), "t.lir:2:8: error: unknown op 'foo'");
  assert_error(G1("  %0 = relu %y : f32[2]\n  return %0\n"),
               "t.lir:2:13: error: use of undefined value '%y'");
  assert_error(G1("  %x = relu %x : f32[2]\n  return %x\n"),
               "t.lir:2:3: error: value '%x' is defined twice");
  assert_error(G1("  %0 = add %x : f32[2]\n  return %0\n"),
               "t.lir:2:8: error: op 'add' takes 2 operands, got 1");
  assert_error(G1("  %0, %1 = relu %x : f32[2], f32[2]\n  return %0\n"),
               "t.lir:2:12: error: op 'relu' has 1 results, got 2");
  assert_error(G1("  %0 = relu %x : f32[2], f32[2]\n  return %0\n"),
               "t.lir:2:16: error: 1 result value but 2 result types");
  assert_error("graph @g() -> () {\n  return\n}\ngraph @g() -> () {\n  return\n}\n",
               "t.lir:4:8: error: graph @g is defined twice");
}

static void test_errors_attributes(void **state) {
  assert_error(G1("  %0 = relu %x {foo = 1} : f32[2]\n  return %0\n"),
               "t.lir:2:17: error: op 'relu' has no attribute 'foo'");
  assert_error(
      G1("  %0 = transpose %x {perm = 1} : f32[2]\n  return %0\n"),
      "t.lir:2:29: error: attribute 'perm' of 'transpose' must be a list of ints, got '1'");
  assert_error(
      G1("  %0 = transpose %x {perm = [0.5]} : f32[2]\n  return %0\n"),
      "t.lir:2:30: error: attribute 'perm' of 'transpose' must be a list of ints, got '0.5'");
  assert_error(G1("  %0 = cast %x {to = f17} : f32[2]\n  return %0\n"),
               "t.lir:2:22: error: attribute 'to' of 'cast' must be a dtype, got 'f17'");
  assert_error(G1("  %0 = transpose %x {perm = [0], perm = [0]} : f32[2]\n  return %0\n"),
               "t.lir:2:34: error: attribute 'perm' is given twice");
  /* Missing required attributes are the verifier's to report. */
  assert_error(G1("  %0 = cast %x : f32[2]\n  return %0\n"),
               "t.lir:2:3: error: op 'cast': required attribute 'to' is missing");
}

static void test_errors_types(void **state) {
  assert_error("graph @g(%x: f33[2]) -> () {", "t.lir:1:14: error: unknown dtype 'f33'");
  assert_error("graph @g(%x: f32[-2]) -> () {",
               "t.lir:1:18: error: dims must be non-negative, got -2");
  assert_error("graph @g(%x: f32[4611686018427387905]) -> () {",
               "t.lir:1:18: error: dim 4611686018427387905 is too large (the limit is 2^62)");
  assert_error("graph @g(%x: f32[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]) -> () {",
               "t.lir:1:50: error: rank exceeds the limit of 16 dims");
  assert_error("graph @g(%x: f32[1.5]) -> () {",
               "t.lir:1:18: error: expected a dim (an integer, a symbol or '?'), got '1.5'");
  assert_error(G1("  %0 = relu %x : f32[3]\n  return %0\n"),
               "t.lir:3:10: error: returned value '%0' has type f32[3] but the signature of @g "
               "declares f32[2]");
  assert_error(G1("  return %x, %x\n"),
               "t.lir:2:3: error: @g returns 2 values but its signature declares 1");
  assert_error(G1("  %0 = neg %x : f32[3]\n  return %x\n"),
               "t.lir:2:3: error: op 'neg': result 0 is declared f32[3] but its operands give "
               "f32[2]");
}

static void test_errors_constants(void **state) {
  assert_error(G1("  %0 = const dense[1.0, 2.0, 3.0] : f32[2]\n  return %0\n"),
               "t.lir:2:14: error: dense literal has 3 elements but f32[2] has 2");
  assert_error(G1("  %0 = const dense[1, 300] : u8[2]\n  return %x\n"),
               "t.lir:2:23: error: 300 is out of range for u8");
  assert_error(G1("  %0 = const dense[8] : i4[1]\n  return %x\n"),
               "t.lir:2:20: error: 8 is out of range for i4");
  assert_error(G1("  %0 = const dense[0.5] : i32[1]\n  return %x\n"),
               "t.lir:2:20: error: expected an integer for a i32 element, got '0.5'");
  assert_error(G1("  %0 = const dense[1] : bool[1]\n  return %x\n"),
               "t.lir:2:20: error: expected true or false for a bool element, got '1'");
  assert_error(G1("  %0 = const dense[1e39] : f32[1]\n  return %x\n"),
               "t.lir:2:20: error: 1e39 is out of range for f32");
  assert_error(G1("  %0 = const dense[70000] : f16[1]\n  return %x\n"),
               "t.lir:2:20: error: 70000 is out of range for f16");
  assert_error(G1("  %0 = const splat(1.0) : f32[N]\n  return %x\n"),
               "t.lir:2:27: error: a constant's type must be static, got f32[N]");
  assert_error(G1("  %0 = const splat(0) : i8[2000000000]\n  return %x\n"),
               "t.lir:2:14: error: inline constant of 2000000000 bytes is over the 1 GiB limit; "
               "put large weights in a file (@file or a weights source)");
  assert_error(G1("  %0 = const splat(0) : i8[4611686018427387904, 4]\n  return %x\n"),
               "t.lir:2:25: error: i8[4611686018427387904, 4] has too many elements");
  assert_error(G1("  %0 = const @\"w\" : f32[2]\n  return %x\n"),
               "t.lir:2:14: error: weight \"w\" is referenced but no `weights` source is declared");
  assert_error(G1("  %0, %1 = const splat(0) : i8[2]\n  return %x\n"),
               "t.lir:2:3: error: 'const' defines one value, got 2");
  assert_error("weights \"m.safetensors\"\n",
               "t.lir:1:9: error: cannot open weights \"m.safetensors\": this tool reads no weight "
               "sources (use @file(...) or dense[...] constants)");
}

static void test_errors_syntax(void **state) {
  assert_error(G1("  %0 = relu %x : f32[2]\n"), "t.lir:3:1: error: graph @g has no 'return'");
  assert_error(
      "graph @g(%x: f32[2]) -> (f32[2]) {\n  %0 = relu %x : f32[2]\n",
      "t.lir:3:1: error: unexpected end of input: the body of @g (line 1) has no closing '}'");
  assert_error("graph @g(%x: f32[2",
               "t.lir:1:19: error: unexpected end of input, expected ',' or ']' in the shape");
  assert_error("graph @g(%x: f32[2]) -> () {\n  %0 = const dense[",
               "t.lir:2:20: error: unexpected end of input, expected a literal (number, true, "
               "false, inf or nan)");
  assert_error(G1("  %0 = cast %x {to = \"f16 : f32[2]\n  return %0\n"),
               "t.lir:2:22: error: unterminated string");
  assert_error(G1("  %0 = cast %x {to = \"a\\q\"} : f32[2]\n  return %0\n"),
               "t.lir:2:24: error: unknown escape sequence '\\q' in string");
  assert_error("graph @g() -> () { $ }", "t.lir:1:20: error: unexpected character '$'");
  assert_error("graph @g() -> () {\n  return\n}\nfoo",
               "t.lir:4:1: error: expected 'graph' or 'weights', got 'foo'");
  assert_error(
      G1("  return %x\n  %0 = relu %x : f32[2]\n"),
      "t.lir:3:3: error: expected '}': 'return' must be the last op of the graph, got '%0'");
  assert_error("graph @g(%x: f32[12abc]) -> () {", "t.lir:1:18: error: malformed number '12a'");
  lathe_module_t *m;
  lathe_status_t st = lathe_module_parse("graph\0", 6, "t.lir", NULL, &m);
  char *d = diagnostic(st);
  assert_string_equal(d, "t.lir:1:6: error: unexpected character '\\x00'");
  free(d);
  lathe_status_free(st);
}

/* ---- printing what passes build ---- */

static void test_print_unnamed_and_clashing_values(void **state) {
  lathe_module_t *m = lathe_module_create("built");
  lathe_graph_t *g;
  assert_null(lathe_graph_create(m, "g", &g));
  lathe_type_t t =
      lathe_type_make_static(lathe_module_arena(m), LATHE_DTYPE_F32, 1, (const int64_t[]){2});
  lathe_value_t *x = lathe_graph_add_input(g, "x", &t);
  lathe_value_t *in1 = lathe_graph_add_input(g, "in:0", &t); /* not a VALUE name */
  lathe_builder_t b = lathe_builder_at_end(g);
  lathe_op_t *ops[5];
  lathe_value_t *operands[2] = {x, in1};
  for (int i = 0; i < 5; ++i) {
    assert_null(lathe_build_op(&b, LATHE_OP_ADD, 2, operands, 0, NULL, 0, &ops[i]));
    operands[0] = &ops[i]->results[0];
  }
  ops[0]->results[0].name = "1";   /* unnamed values must skip it */
  ops[2]->results[0].name = "x";   /* clashes with the input */
  ops[3]->results[0].name = "x_1"; /* taken before the clash is renamed */
  lathe_value_t *result = &ops[4]->results[0];
  lathe_build_return(g, 1, &result);
  assert_null(lathe_module_verify(m));
  char *out = print_module(m);
  assert_string_equal(out, "graph @g(%x: f32[2], %in_0: f32[2]) -> (f32[2]) {\n"
                           "  %1 = add %x, %in_0 : f32[2]\n"
                           "  %0 = add %1, %in_0 : f32[2]\n"
                           "  %x_2 = add %0, %in_0 : f32[2]\n"
                           "  %x_1 = add %x_2, %in_0 : f32[2]\n"
                           "  %2 = add %x_1, %in_0 : f32[2]\n"
                           "  return %2\n"
                           "}\n");
  free(out);
  lathe_module_destroy(m);
}

static void test_print_pass_made_inline_weights(void **state) {
  lathe_module_t *m = lathe_module_create("built");
  lathe_graph_t *g;
  assert_null(lathe_graph_create(m, "g", &g));
  lathe_arena_t *a = lathe_module_arena(m);
  lathe_builder_t b = lathe_builder_at_end(g);
  const float same[3] = {1.5f, 1.5f, 1.5f}, mixed[2] = {1.5f, 2.0f};
  struct {
    const float *data;
    int64_t n;
  } cases[] = {{same, 3}, {same, 1}, {mixed, 2}};
  lathe_value_t *vals[3];
  for (int i = 0; i < 3; ++i) {
    lathe_weight_t *w;
    lathe_type_t t = lathe_type_make_static(a, LATHE_DTYPE_F32, 1, &cases[i].n);
    assert_null(lathe_weight_create_inline(m, LATHE_DTYPE_F32, cases[i].data,
                                           (uint64_t)cases[i].n * 4, &w));
    assert_null(lathe_build_const(&b, w, &t, &vals[i]));
  }
  lathe_build_return(g, 3, vals);
  char *out = print_module(m);
  assert_string_equal(out, "graph @g() -> (f32[3], f32[1], f32[2]) {\n"
                           "  %0 = const splat(1.5) : f32[3]\n"
                           "  %1 = const dense[1.5] : f32[1]\n"
                           "  %2 = const dense[1.5, 2.0] : f32[2]\n"
                           "  return %0, %1, %2\n"
                           "}\n");
  free(out);
  lathe_module_destroy(m);
}

static void test_print_double_attributes(void **state) {
  lathe_module_t *m = lathe_module_create("built");
  lathe_graph_t *g;
  assert_null(lathe_graph_create(m, "g", &g));
  lathe_op_t *op = lathe_build_return(g, 0, NULL);
  /* Any attribute prints, whatever the schema says; the verifier objects. */
  const double v[] = {1.0, 0.1, 1e-5, 123456789.0, 1.0 / 3.0, -0.0, 1e300};
  lathe_attr_t attr = lathe_attr_floats("f", v, sizeof v / sizeof v[0]);
  lathe_op_set_attr(op, &attr);
  char *out = print_module(m);
  assert_string_equal(out, "graph @g() -> () {\n  return {f = [1.0, 0.1, 1e-05, 123456789.0, "
                           "0.3333333333333333, -0.0, 1e+300]}\n}\n");
  free(out);
  lathe_module_destroy(m);
}

/* ---- weights from files and sources ---- */

static char tmpdir[] = "/tmp/lathe-text-XXXXXX";

static void write_file(const char *name, const void *data, size_t n) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fwrite(data, 1, n, f);
  fclose(f);
}

static void test_file_weights(void **state) {
  assert_non_null(mkdtemp(tmpdir));
  const float data[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  write_file("raw.bin", data, sizeof data);
  const char *text = "graph @g() -> (f32[2]) {\n"
                     "  %w = const @file(\"raw.bin\", 8) : f32[2]\n"
                     "  return %w\n"
                     "}\n";
  write_file("ok.lir", text, strlen(text));
  char path[256];
  snprintf(path, sizeof path, "%s/ok.lir", tmpdir);
  lathe_module_t *m;
  assert_null(lathe_module_parse_file(path, NULL, &m));
  const lathe_weight_t *w = lathe_module_first_graph(m)->first->weight;
  assert_int_equal(w->kind, LATHE_WEIGHT_FILE);
  assert_memory_equal(w->data, &data[2], 8);
  char *out = print_module(m);
  assert_string_equal(out, text); /* the path prints as written, not resolved */
  free(out);
  lathe_module_destroy(m);

  const char *bad = "graph @g() -> (f32[2]) {\n  %w = const @file(\"raw.bin\", 12) : f32[2]\n"
                    "  return %w\n}\n";
  write_file("bad.lir", bad, strlen(bad));
  snprintf(path, sizeof path, "%s/bad.lir", tmpdir);
  lathe_status_t st = lathe_module_parse_file(path, NULL, &m);
  char *d = diagnostic(st), expected[512];
  snprintf(expected, sizeof expected,
           "%s:2:14: error: %s/raw.bin: byte range [12, +8) is past the end of the file (16 bytes)",
           path, tmpdir);
  assert_string_equal(d, expected);
  free(d);
  lathe_status_free(st);
  snprintf(path, sizeof path, "%s/ok.lir", tmpdir);
  unlink(path);
  snprintf(path, sizeof path, "%s/bad.lir", tmpdir);
  unlink(path);
  snprintf(path, sizeof path, "%s/raw.bin", tmpdir);
  unlink(path);
  rmdir(tmpdir);
}

/* A weight source with one tensor "w" (f32[2]) backed by a temp file. */
static lathe_mapped_file_t *fake_file;
static int fake_closed;

static lathe_status_t fake_lookup(void *impl, const char *name, lathe_weight_source_entry_t *e) {
  if (strcmp(name, "w") != 0) return lathe_status_make(LATHE_STATUS_NOT_FOUND, "no %s", name);
  *e = (lathe_weight_source_entry_t){.dtype = LATHE_DTYPE_F32,
                                     .rank = 1,
                                     .dims = {2},
                                     .file = fake_file,
                                     .offset = 0,
                                     .num_bytes = 8};
  return NULL;
}

static void fake_close(void *impl) { fake_closed++; }

static lathe_status_t fake_open(void *ctx, const char *path, lathe_weight_source_t *out) {
  assert_string_equal(path, "dir/m.safetensors"); /* resolved against the .lir's directory */
  *out = (lathe_weight_source_t){.path = path, .lookup = fake_lookup, .close = fake_close};
  return NULL;
}

static void test_named_weights(void **state) {
  char tmp[] = "/tmp/lathe-text-w-XXXXXX";
  int fd = mkstemp(tmp);
  assert_true(fd >= 0);
  const float data[2] = {5.0f, 6.0f};
  assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
  close(fd);
  assert_null(lathe_mapped_file_open(tmp, &fake_file));
  lathe_parse_options_t o = {.open_weight_source = fake_open};
  const char *text = "weights \"m.safetensors\"\n\n"
                     "graph @g() -> (f32[2]) {\n"
                     "  %w = const @\"w\" : f32[2]\n"
                     "  return %w\n"
                     "}\n";
  lathe_module_t *m;
  assert_null(lathe_module_parse(text, strlen(text), "dir/x.lir", &o, &m));
  assert_memory_equal(lathe_module_first_graph(m)->first->weight->data, data, 8);
  char *out = print_module(m);
  assert_string_equal(out, text);
  free(out);
  lathe_module_destroy(m);
  assert_int_equal(fake_closed, 1);

  const char *wrong = "weights \"m.safetensors\"\n"
                      "graph @g() -> (f16[2]) {\n  %w = const @\"w\" : f16[2]\n  return %w\n}\n";
  lathe_status_t st = lathe_module_parse(wrong, strlen(wrong), "dir/x.lir", &o, &m);
  char *d = diagnostic(st);
  assert_string_equal(d, "dir/x.lir:3:14: error: weight \"w\" is f32[2] in its source, not f16[2]");
  free(d);
  lathe_status_free(st);
  assert_int_equal(fake_closed, 2); /* the failed parse closed its source too */
  lathe_mapped_file_release(fake_file);
  unlink(tmp);
}

static void test_parse_stdin(void **state) {
  char tmp[] = "/tmp/lathe-text-in-XXXXXX";
  int fd = mkstemp(tmp);
  assert_true(fd >= 0);
  const char *text = "graph @g() -> () {\n  return %y\n}\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  assert_non_null(freopen(tmp, "r", stdin));
  lathe_module_t *m;
  lathe_status_t st = lathe_module_parse_file("-", NULL, &m);
  char *d = diagnostic(st);
  assert_string_equal(d, "<stdin>:2:10: error: use of undefined value '%y'");
  free(d);
  lathe_status_free(st);
  unlink(tmp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_forms),
      cmocka_unit_test(test_roundtrip_every_dtype),
      cmocka_unit_test(test_literals_are_stored_exactly),
      cmocka_unit_test(test_noncanonical_input_prints_canonically),
      cmocka_unit_test(test_float_elements_roundtrip),
      cmocka_unit_test(test_errors_names_and_ops),
      cmocka_unit_test(test_errors_attributes),
      cmocka_unit_test(test_errors_types),
      cmocka_unit_test(test_errors_constants),
      cmocka_unit_test(test_errors_syntax),
      cmocka_unit_test(test_print_unnamed_and_clashing_values),
      cmocka_unit_test(test_print_pass_made_inline_weights),
      cmocka_unit_test(test_print_double_attributes),
      cmocka_unit_test(test_file_weights),
      cmocka_unit_test(test_named_weights),
      cmocka_unit_test(test_parse_stdin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

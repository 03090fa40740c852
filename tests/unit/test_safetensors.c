/* Unit tests for frontend/safetensors: reader, writer, sharded checkpoints and
 * the weight-source adapter.
 *
 * Files are built byte by byte in a fresh temporary directory, so each error
 * class of the reader is provoked exactly once and its message is checked for
 * the contract "FILE: TENSOR: reason". Valid files are checked field by field,
 * and the writer is checked by reading its output back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "frontend/frontend.h"

static char dir[] = "/tmp/lathe-safetensors-XXXXXX";
static char created[128][256];
static size_t num_created;

/* Returns "DIR/name" (static storage per call slot) and remembers it for cleanup. */
static const char *path_of(const char *name) {
  assert_true(num_created < 128);
  char *p = created[num_created++];
  snprintf(p, sizeof created[0], "%s/%s", dir, name);
  return p;
}

static const char *write_bytes(const char *name, const void *data, size_t len) {
  const char *path = path_of(name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
  return path;
}

/* A safetensors file: length prefix, `header` verbatim, `data_len` bytes
 * counting up from 0 (mod 256). */
static const char *write_st(const char *name, const char *header, size_t data_len) {
  size_t n = strlen(header);
  uint8_t *buf = malloc(8 + n + data_len);
  assert_non_null(buf);
  for (int i = 0; i < 8; ++i) buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
  memcpy(buf + 8, header, n);
  for (size_t i = 0; i < data_len; ++i) buf[8 + n + i] = (uint8_t)i;
  const char *path = write_bytes(name, buf, 8 + n + data_len);
  free(buf);
  return path;
}

static int setup(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < num_created; ++i) unlink(created[i]);
  return rmdir(dir);
}

/* Opening `path` fails with `code` and the message reads
 * "PATH: NAME: ...REASON..." ("PATH: ...REASON..." when name is NULL). */
static void expect_open_error(const char *path, lathe_status_code_t code, const char *name,
                              const char *reason) {
  lathe_safetensors_t *st = NULL;
  lathe_status_t s = lathe_safetensors_open(path, &st);
  assert_non_null(s);
  assert_null(st);
  const char *msg = lathe_status_message(s);
  char prefix[512];
  snprintf(prefix, sizeof prefix, "%s: %s%s", path, name ? name : "", name ? ": " : "");
  if (strncmp(msg, prefix, strlen(prefix)) != 0 || !strstr(msg, reason) ||
      lathe_status_code(s) != code)
    fail_msg("got [%s] (%s), want prefix [%s], reason [%s] (%s)", msg,
             lathe_status_code_name(lathe_status_code(s)), prefix, reason,
             lathe_status_code_name(code));
  lathe_status_free(s);
}

#define F32_1 "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"

typedef struct {
  const char *header;
  size_t data_len;
  lathe_status_code_t code;
  const char *name;
  const char *reason;
} bad_header_t;

static const bad_header_t bad_headers[] = {
    {"{\"w\":", 0, LATHE_STATUS_PARSE_ERROR, NULL, "header JSON syntax error at byte"},
    {"{\"w\":" F32_1 "} x", 4, LATHE_STATUS_PARSE_ERROR, NULL, "unexpected data after"},
    {"[1, 2]", 0, LATHE_STATUS_PARSE_ERROR, NULL, "header is not a JSON object"},
    {"{\"w\":[1]}", 0, LATHE_STATUS_PARSE_ERROR, "w", "entry is not a JSON object"},
    {"{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, LATHE_STATUS_PARSE_ERROR, "w",
     "\"dtype\" is missing"},
    {"{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
     LATHE_STATUS_UNSUPPORTED, "w", "unsupported dtype \"F8_E4M3\""},
    {"{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     LATHE_STATUS_PARSE_ERROR, "w", "duplicate \"dtype\" field"},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,12]}}", 12,
     LATHE_STATUS_PARSE_ERROR, "w", "\"shape\" is missing or not a list"},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4,
     LATHE_STATUS_PARSE_ERROR, "w", "\"shape\" entry 1 is not a non-negative integer"},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
     LATHE_STATUS_PARSE_ERROR, "w", "\"shape\" entry 0 is not a non-negative integer"},
    {"{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
     "\"data_offsets\":[0,1]}}",
     1, LATHE_STATUS_UNSUPPORTED, "w", "rank 17 exceeds the maximum rank 16"},
    {"{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]}}", 1,
     LATHE_STATUS_OUT_OF_RANGE, "w", "element count of \"shape\" overflows"},
    {"{\"w\":{\"dtype\":\"F64\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,1]}}", 1,
     LATHE_STATUS_OUT_OF_RANGE, "w", "byte size of the tensor overflows"},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
     LATHE_STATUS_PARSE_ERROR, "w", "\"data_offsets\" is missing or not a list of two"},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
     LATHE_STATUS_PARSE_ERROR, "w", "data_offsets [8, 4]: begin is after end"},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
     LATHE_STATUS_OUT_OF_RANGE, "w", "end is past the end of the data (4 bytes)"},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16,
     LATHE_STATUS_PARSE_ERROR, "w", "hold 8 bytes but shape and dtype F32 need 12"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}",
     12, LATHE_STATUS_PARSE_ERROR, "b", "overlap those of \"a\" [0, 8]"},
    {"{\"a\":" F32_1 ",\"a\":" F32_1 "}", 4, LATHE_STATUS_PARSE_ERROR, "a",
     "duplicate tensor name"},
    {"{\"__metadata__\":[],\"w\":" F32_1 "}", 4, LATHE_STATUS_PARSE_ERROR, "__metadata__",
     "not a JSON object"},
    {"{\"__metadata__\":{\"k\":1},\"w\":" F32_1 "}", 4, LATHE_STATUS_PARSE_ERROR,
     "__metadata__", "value of \"k\" is not a string"},
};

static void test_bad_headers(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; ++i) {
    char name[32];
    snprintf(name, sizeof name, "bad%zu.safetensors", i);
    const bad_header_t *c = &bad_headers[i];
    expect_open_error(write_st(name, c->header, c->data_len), c->code, c->name, c->reason);
  }
}

static void test_bad_framing(void **state) {
  (void)state;
  expect_open_error(write_bytes("short.safetensors", "\x02\0\0", 3), LATHE_STATUS_PARSE_ERROR,
                    NULL, "file is 3 bytes, too short");
  uint8_t past[10] = {3, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  expect_open_error(write_bytes("past.safetensors", past, sizeof past),
                    LATHE_STATUS_OUT_OF_RANGE, NULL,
                    "header length 3 runs past the end of the file (10 bytes)");
  uint8_t huge[10] = {0, 0, 0, 0, 0, 0, 0, 0x10, '{', '}'};
  expect_open_error(write_bytes("huge.safetensors", huge, sizeof huge),
                    LATHE_STATUS_OUT_OF_RANGE, NULL, "exceeds the 100000000-byte limit");
  expect_open_error(write_st("utf8.safetensors", "{\"\xc3\x28\":1}", 0),
                    LATHE_STATUS_PARSE_ERROR, NULL, "not valid UTF-8 at byte 2");
  lathe_safetensors_t *st = NULL;
  lathe_status_t s = lathe_safetensors_open(path_of("missing.safetensors"), &st);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_IO_ERROR);
  lathe_status_free(s);
}

static void test_read_valid(void **state) {
  (void)state;
  /* Header order differs from file order; padding spaces after the JSON. */
  const char *path = write_st(
      "ok.safetensors",
      "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
      "\"b\":{\"dtype\":\"I16\",\"shape\":[2,3],\"data_offsets\":[8,20]},"
      "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[8,8]},"
      "\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}   ",
      24);
  lathe_safetensors_t *st = NULL;
  lathe_status_t s = lathe_safetensors_open(path, &st);
  assert_null(s);
  assert_string_equal(lathe_safetensors_path(st), path);
  assert_int_equal(lathe_safetensors_num_tensors(st), 3);
  const char *want_order[] = {"a", "b", "empty"};
  for (size_t i = 0; i < 3; ++i)
    assert_string_equal(lathe_safetensors_tensor_at(st, i)->name, want_order[i]);
  assert_null(lathe_safetensors_tensor_at(st, 3));

  uint64_t data_start = lathe_safetensors_tensor_at(st, 0)->offset;
  const lathe_safetensors_tensor_t *b = lathe_safetensors_find(st, "b");
  assert_non_null(b);
  assert_int_equal(b->dtype, LATHE_DTYPE_I16);
  assert_int_equal(b->rank, 2);
  assert_int_equal(b->dims[0], 2);
  assert_int_equal(b->dims[1], 3);
  assert_int_equal(b->offset, data_start + 8);
  assert_int_equal(b->num_bytes, 12);
  /* Zero-copy: the view is the mapping itself. */
  const uint8_t *base = lathe_mapped_file_data(lathe_safetensors_mapped_file(st));
  assert_ptr_equal(b->data, base + b->offset);
  assert_int_equal(b->data[0], 8);
  assert_int_equal(b->data[11], 19);

  const lathe_safetensors_tensor_t *a = lathe_safetensors_find(st, "a");
  assert_int_equal(a->rank, 0);
  assert_int_equal(a->num_bytes, 8);
  const lathe_safetensors_tensor_t *e = lathe_safetensors_find(st, "empty");
  assert_int_equal(e->num_bytes, 0);
  assert_int_equal(e->dims[1], 5);
  assert_null(lathe_safetensors_find(st, "c"));

  assert_int_equal(lathe_safetensors_num_metadata(st), 2);
  const char *k, *v;
  assert_true(lathe_safetensors_metadata_at(st, 1, &k, &v));
  assert_string_equal(k, "note");
  assert_string_equal(v, "x");
  assert_false(lathe_safetensors_metadata_at(st, 2, &k, &v));
  assert_string_equal(lathe_safetensors_metadata_get(st, "format"), "pt");
  assert_null(lathe_safetensors_metadata_get(st, "nope"));
  lathe_safetensors_close(st);
  lathe_safetensors_close(NULL);
}

static void test_write_round_trip(void **state) {
  (void)state;
  float f[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-7f, 65504.0f};
  uint16_t h[4] = {0x3f80, 0xbf80, 0x0000, 0x7f80};
  uint8_t flag = 1;
  int64_t f_dims[] = {2, 3}, h_dims[] = {4}, e_dims[] = {0, 7};
  const lathe_safetensors_write_tensor_t tensors[] = {
      {"layer.0.weight", LATHE_DTYPE_F32, 2, f_dims, f, sizeof f},
      {"layer.0.bias", LATHE_DTYPE_BF16, 1, h_dims, h, sizeof h},
      {"flag", LATHE_DTYPE_BOOL, 0, NULL, &flag, 1},
      {"nothing", LATHE_DTYPE_I64, 2, e_dims, NULL, 0},
  };
  const lathe_safetensors_metadata_entry_t meta[] = {{"format", "pt"}, {"by", "lathe"}};
  const char *path = path_of("out.safetensors");
  assert_null(lathe_safetensors_write(path, tensors, 4, meta, 2));

  lathe_safetensors_t *st = NULL;
  assert_null(lathe_safetensors_open(path, &st));
  assert_int_equal(lathe_safetensors_num_tensors(st), 4);
  const lathe_safetensors_tensor_t *first = lathe_safetensors_tensor_at(st, 0);
  assert_int_equal(first->offset % 8, 0); /* header padded to 8 bytes */
  for (size_t i = 0; i < 4; ++i) {
    const lathe_safetensors_tensor_t *t = lathe_safetensors_tensor_at(st, i);
    assert_string_equal(t->name, tensors[i].name); /* laid out in the given order */
    assert_int_equal(t->dtype, tensors[i].dtype);
    assert_int_equal(t->rank, tensors[i].rank);
    for (uint32_t d = 0; d < t->rank; ++d) assert_int_equal(t->dims[d], tensors[i].dims[d]);
    assert_int_equal(t->num_bytes, tensors[i].num_bytes);
    if (t->num_bytes) assert_memory_equal(t->data, tensors[i].data, t->num_bytes);
  }
  assert_string_equal(lathe_safetensors_metadata_get(st, "by"), "lathe");
  /* Compact JSON, then spaces only as padding. */
  const char *header = (const char *)lathe_mapped_file_data(lathe_safetensors_mapped_file(st)) + 8;
  assert_memory_equal(header, "{\"__metadata__\":{\"format\":\"pt\",\"by\":\"lathe\"},", 44);
  lathe_safetensors_close(st);

  /* No tensors at all is a valid file too. */
  assert_null(lathe_safetensors_write(path, NULL, 0, NULL, 0));
  assert_null(lathe_safetensors_open(path, &st));
  assert_int_equal(lathe_safetensors_num_tensors(st), 0);
  lathe_safetensors_close(st);
}

static void expect_write_error(const lathe_safetensors_write_tensor_t *tensors, size_t n,
                               lathe_status_code_t code, const char *reason) {
  const char *path = path_of("bad-out.safetensors");
  lathe_status_t s = lathe_safetensors_write(path, tensors, n, NULL, 0);
  if (lathe_status_code(s) != code || !strstr(lathe_status_message(s), reason))
    fail_msg("got [%s], want [%s]", lathe_status_message(s), reason);
  lathe_status_free(s);
  assert_int_not_equal(access(path, F_OK), 0); /* nothing left behind */
}

static void test_write_errors(void **state) {
  (void)state;
  uint8_t bytes[8] = {0};
  int64_t dims[] = {4}, neg[] = {-1};
  lathe_safetensors_write_tensor_t packed = {"q", LATHE_DTYPE_I4, 1, dims, bytes, 2};
  expect_write_error(&packed, 1, LATHE_STATUS_UNSUPPORTED,
                     "q: dtype i4 has no safetensors equivalent (packed");
  lathe_safetensors_write_tensor_t wrong = {"w", LATHE_DTYPE_F32, 1, dims, bytes, 8};
  expect_write_error(&wrong, 1, LATHE_STATUS_INVALID_ARGUMENT,
                     "w: 8 data bytes given but the shape and dtype need 16");
  lathe_safetensors_write_tensor_t negative = {"n", LATHE_DTYPE_U8, 1, neg, bytes, 0};
  expect_write_error(&negative, 1, LATHE_STATUS_INVALID_ARGUMENT, "n: dim 0 (-1) is negative");
  lathe_safetensors_write_tensor_t twice[] = {{"d", LATHE_DTYPE_U8, 1, dims, bytes, 4},
                                              {"d", LATHE_DTYPE_U8, 1, dims, bytes, 4}};
  expect_write_error(twice, 2, LATHE_STATUS_INVALID_ARGUMENT, "d: duplicate tensor name");

  lathe_safetensors_write_tensor_t ok = {"x", LATHE_DTYPE_U8, 1, dims, bytes, 4};
  lathe_status_t s = lathe_safetensors_write("/nonexistent-dir/x.safetensors", &ok, 1, NULL, 0);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_IO_ERROR);
  lathe_status_free(s);
}

/* Two shards and an index; shard 2 is corrupt, to show it is opened lazily. */
static const char *write_sharded(void) {
  float w[2] = {1.0f, 2.0f};
  int64_t dims[] = {2};
  lathe_safetensors_write_tensor_t t = {"enc.w", LATHE_DTYPE_F32, 1, dims, w, sizeof w};
  assert_null(lathe_safetensors_write(path_of("m-1.safetensors"), &t, 1, NULL, 0));
  write_st("m-2.safetensors", "{\"dec.w\":{}}", 0);
  const char *index = "{\"metadata\":{\"total_size\":8},\"weight_map\":{"
                      "\"enc.w\":\"m-1.safetensors\",\"dec.w\":\"m-2.safetensors\","
                      "\"enc.b\":\"m-1.safetensors\"}}";
  return write_bytes("m.safetensors.index.json", index, strlen(index));
}

static void test_sharded_checkpoint(void **state) {
  (void)state;
  const char *index = write_sharded();
  lathe_safetensors_checkpoint_t *c = NULL;
  assert_null(lathe_safetensors_checkpoint_open(index, &c));
  assert_int_equal(lathe_safetensors_checkpoint_num_tensors(c), 3);
  assert_string_equal(lathe_safetensors_checkpoint_tensor_name(c, 1), "dec.w");
  assert_null(lathe_safetensors_checkpoint_tensor_name(c, 3));

  const lathe_safetensors_tensor_t *t = NULL;
  const lathe_safetensors_t *shard = NULL;
  assert_null(lathe_safetensors_checkpoint_find(c, "enc.w", &t, &shard));
  assert_int_equal(t->dtype, LATHE_DTYPE_F32);
  assert_string_equal(lathe_safetensors_path(shard), created[num_created - 3]);
  float got[2];
  memcpy(got, t->data, sizeof got);
  assert_true(got[0] == 1.0f && got[1] == 2.0f);

  lathe_status_t s = lathe_safetensors_checkpoint_find(c, "nope", &t, NULL);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_NOT_FOUND);
  lathe_status_free(s);
  s = lathe_safetensors_checkpoint_find(c, "enc.b", &t, NULL);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_PARSE_ERROR);
  assert_non_null(strstr(lathe_status_message(s), "enc.b: \"weight_map\" places it in"));
  lathe_status_free(s);
  s = lathe_safetensors_checkpoint_find(c, "dec.w", &t, NULL);
  assert_non_null(strstr(lathe_status_message(s), "m-2.safetensors: dec.w: \"dtype\" is missing"));
  lathe_status_free(s);
  lathe_safetensors_checkpoint_close(c);
}

static void test_bad_index(void **state) {
  (void)state;
  static const struct {
    const char *json, *reason;
  } cases[] = {
      {"{\"weight_map\":", "JSON syntax error"},
      {"[]", "index is not a JSON object"},
      {"{\"metadata\":{}}", "\"weight_map\" is missing or not a JSON object"},
      {"{\"weight_map\":{\"w\":3}}", "w: \"weight_map\" value is not a shard file name"},
      {"{\"weight_map\":{\"w\":\"/etc/x.safetensors\"}}", "w: shard \"/etc/x.safetensors\" must be"},
      {"{\"weight_map\":{\"w\":\"a\",\"w\":\"b\"}}", "w: duplicate tensor name"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    char name[32];
    snprintf(name, sizeof name, "bad%zu.index.json", i);
    const char *path = write_bytes(name, cases[i].json, strlen(cases[i].json));
    lathe_safetensors_checkpoint_t *c = NULL;
    lathe_status_t s = lathe_safetensors_checkpoint_open(path, &c);
    assert_null(c);
    assert_int_equal(lathe_status_code(s), LATHE_STATUS_PARSE_ERROR);
    if (strncmp(lathe_status_message(s), path, strlen(path)) ||
        !strstr(lathe_status_message(s), cases[i].reason))
      fail_msg("got [%s], want [%s]", lathe_status_message(s), cases[i].reason);
    lathe_status_free(s);
  }
}

static void test_weight_source(void **state) {
  (void)state;
  int32_t v[3] = {7, 8, 9};
  int64_t dims[] = {1, 3};
  lathe_safetensors_write_tensor_t t = {"h.0.w", LATHE_DTYPE_I32, 2, dims, v, sizeof v};
  const char *path = path_of("src.safetensors");
  assert_null(lathe_safetensors_write(path, &t, 1, NULL, 0));

  lathe_weight_source_opener_t opener = lathe_safetensors_open_weight_source;
  lathe_weight_source_t src;
  assert_null(opener(NULL, path, &src));
  assert_string_equal(src.path, path);
  lathe_weight_source_entry_t e;
  assert_null(src.lookup(src.impl, "h.0.w", &e));
  assert_int_equal(e.dtype, LATHE_DTYPE_I32);
  assert_int_equal(e.rank, 2);
  assert_int_equal(e.dims[1], 3);
  assert_int_equal(e.num_bytes, sizeof v);
  assert_null(lathe_mapped_file_check_range(e.file, e.offset, e.num_bytes));
  assert_memory_equal(lathe_mapped_file_data(e.file) + e.offset, v, sizeof v);
  lathe_status_t s = src.lookup(src.impl, "h.1.w", &e);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_NOT_FOUND);
  lathe_status_free(s);
  src.close(src.impl);

  /* The sharded layout through the same opener. */
  assert_null(opener(NULL, write_sharded(), &src));
  assert_null(src.lookup(src.impl, "enc.w", &e));
  assert_int_equal(e.num_bytes, 8);
  src.close(src.impl);

  s = opener(NULL, path_of("absent.safetensors"), &src);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_IO_ERROR);
  lathe_status_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_headers),        cmocka_unit_test(test_bad_framing),
      cmocka_unit_test(test_read_valid),         cmocka_unit_test(test_write_round_trip),
      cmocka_unit_test(test_write_errors),       cmocka_unit_test(test_sharded_checkpoint),
      cmocka_unit_test(test_bad_index),          cmocka_unit_test(test_weight_source),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

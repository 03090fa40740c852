/* Unit tests for support/arena: the bump allocator every IR object lives in.
 *
 * What matters to callers: every pointer is 16-byte aligned and zero-filled,
 * earlier allocations never move or get overwritten when the arena grows (IR
 * nodes hold raw pointers into it), an allocation bigger than a chunk works,
 * and sizes computed from user input fail softly (NULL) on overflow instead
 * of wrapping around to a small buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "support/arena.h"

static int is_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return 0;
  return 1;
}

/* Sizes chosen to straddle the alignment and the chunk boundaries. */
static const size_t sizes[] = {0, 1, 3, 15, 16, 17, 31, 100, 4095, 8192, 9000, 70000, 1 << 20};

static void test_alignment_and_zeroing(void **state) {
  lathe_arena_t a;
  lathe_arena_init(&a);
  for (int round = 0; round < 50; ++round) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
      unsigned char *p = lathe_arena_alloc(&a, sizes[i]);
      assert_non_null(p);
      assert_int_equal((uintptr_t)p % 16, 0);
      assert_true(is_zero(p, sizes[i]));
      /* Dirty it so a later allocation reusing the bytes would show. */
      memset(p, 0xab, sizes[i]);
    }
  }
  lathe_arena_destroy(&a);
}

/* Allocations must stay where they are and keep their contents while the
 * arena grows new chunks (small ones and oversized ones). */
static void test_earlier_allocations_survive_growth(void **state) {
  enum { N = 2000 };
  static unsigned char *ptrs[N];
  static size_t lens[N];
  lathe_arena_t a;
  lathe_arena_init(&a);
  for (int i = 0; i < N; ++i) {
    lens[i] = (size_t)(i % 7 == 0 ? 50000 : 1 + (i * 37) % 300);
    ptrs[i] = lathe_arena_alloc(&a, lens[i]);
    memset(ptrs[i], i & 0xff, lens[i]);
  }
  for (int i = 0; i < N; ++i)
    for (size_t j = 0; j < lens[i]; ++j) assert_int_equal(ptrs[i][j], i & 0xff);
  lathe_arena_destroy(&a);
}

static void test_big_allocations(void **state) {
  lathe_arena_t a;
  lathe_arena_init(&a);
  unsigned char *small = lathe_arena_alloc(&a, 32);
  memset(small, 1, 32);
  /* Larger than any regular chunk: gets a chunk of its own. */
  size_t big_len = 9u << 20;
  unsigned char *big = lathe_arena_alloc(&a, big_len);
  assert_int_equal((uintptr_t)big % 16, 0);
  assert_true(is_zero(big, big_len));
  memset(big, 2, big_len);
  /* Small allocations after it keep working and don't overlap it. */
  unsigned char *after = lathe_arena_alloc(&a, 32);
  assert_true(is_zero(after, 32));
  assert_true(after + 32 <= big || after >= big + big_len);
  assert_int_equal(small[31], 1);
  assert_int_equal(big[big_len - 1], 2);
  assert_true(a.total_bytes >= big_len);
  lathe_arena_destroy(&a);
  assert_null(a.chunks);
  assert_int_equal(a.total_bytes, 0);
}

static void test_big_allocation_first(void **state) {
  lathe_arena_t a;
  lathe_arena_init(&a);
  unsigned char *big = lathe_arena_alloc(&a, 5u << 20);
  assert_true(is_zero(big, 5u << 20));
  for (int i = 0; i < 1000; ++i) {
    unsigned char *p = lathe_arena_alloc(&a, 64);
    assert_true(p + 64 <= big || p >= big + (5u << 20));
  }
  lathe_arena_destroy(&a);
}

static void test_try_alloc_array_overflow_is_null(void **state) {
  lathe_arena_t a;
  lathe_arena_init(&a);
  /* count * size wraps around. */
  assert_null(lathe_arena_try_alloc_array(&a, SIZE_MAX / 2 + 1, 2));
  assert_null(lathe_arena_try_alloc_array(&a, SIZE_MAX, SIZE_MAX));
  assert_null(lathe_arena_try_alloc_array(&a, (SIZE_MAX >> 3) + 1, 8));
  /* The product fits but rounding up to the alignment would wrap. */
  assert_null(lathe_arena_try_alloc_array(&a, SIZE_MAX - 3, 1));
  assert_null(lathe_arena_try_alloc_array(&a, 1, SIZE_MAX));
  /* The arena is still usable afterwards, and ordinary arrays work. */
  uint64_t *ok = lathe_arena_try_alloc_array(&a, 1000, sizeof(uint64_t));
  assert_non_null(ok);
  assert_true(is_zero((const unsigned char *)ok, 1000 * sizeof(uint64_t)));
  int *zero_count = lathe_arena_try_alloc_array(&a, 0, sizeof(int));
  assert_non_null(zero_count);
  int *typed = LATHE_ARENA_NEW_ARRAY(&a, int, 10);
  assert_int_equal((uintptr_t)typed % 16, 0);
  lathe_arena_destroy(&a);
}

static void test_string_helpers(void **state) {
  lathe_arena_t a;
  lathe_arena_init(&a);
  char *s = lathe_arena_strdup(&a, "hello");
  assert_string_equal(s, "hello");
  char *t = lathe_arena_strndup(&a, "abcdef", 3);
  assert_string_equal(t, "abc");
  char *empty = lathe_arena_strndup(&a, "xyz", 0);
  assert_string_equal(empty, "");
  static const unsigned char bytes[] = {0, 1, 2, 0, 255};
  unsigned char *d = lathe_arena_memdup(&a, bytes, sizeof bytes);
  assert_memory_equal(d, bytes, sizeof bytes);
  assert_non_null(lathe_arena_memdup(&a, NULL, 0));
  assert_string_equal(lathe_arena_printf(&a, "%s-%d", "n", 42), "n-42");
  assert_string_equal(lathe_arena_printf(&a, "%s", ""), "");
  /* Longer than any small buffer a printf might use internally. */
  char *long_text = lathe_arena_printf(&a, "%5000s|", "x");
  assert_int_equal(strlen(long_text), 5001);
  assert_int_equal(long_text[4999], 'x');
  lathe_arena_destroy(&a);
}

static void test_destroy_and_reuse(void **state) {
  lathe_arena_destroy(NULL);
  lathe_arena_t a;
  lathe_arena_init(&a);
  lathe_arena_destroy(&a); /* never used */
  for (int round = 0; round < 3; ++round) {
    int *p = LATHE_ARENA_NEW(&a, int);
    assert_int_equal(*p, 0);
    *p = round + 1;
    lathe_arena_destroy(&a);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alignment_and_zeroing),
      cmocka_unit_test(test_earlier_allocations_survive_growth),
      cmocka_unit_test(test_big_allocations),
      cmocka_unit_test(test_big_allocation_first),
      cmocka_unit_test(test_try_alloc_array_overflow_is_null),
      cmocka_unit_test(test_string_helpers),
      cmocka_unit_test(test_destroy_and_reuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for support/hashmap: the one lookup table of the compiler.
 *
 * Linear probing with backward-shift deletion is easy to get subtly wrong: a
 * removal that fails to pull a displaced key back makes that key vanish, one
 * that pulls the wrong key breaks its probe run. So besides the plain API
 * checks, these tests build probe runs on purpose (keys chosen by their home
 * slot, including runs that wrap past the end of the table) and run a long
 * random put/remove sequence against a trivially correct reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "support/hashmap.h"

/* Values are small integers smuggled in the pointer: the map never looks. */
#define VAL(i) ((void *)(uintptr_t)((i) + 1))

static void key_of(char *buf, size_t cap, int i) { snprintf(buf, cap, "key-%d", i); }

static void test_empty_map(void **state) {
  lathe_hashmap_t m;
  lathe_hashmap_init(&m);
  void *v = VAL(7);
  assert_false(lathe_hashmap_get(&m, "a", 1, &v));
  assert_ptr_equal(v, VAL(7)); /* untouched on a miss */
  assert_false(lathe_hashmap_remove(&m, "a", 1));
  assert_null(lathe_hashmap_get_str(&m, "a"));
  lathe_hashmap_destroy(&m);
  lathe_hashmap_destroy(NULL);
}

static void test_put_get_replace(void **state) {
  lathe_hashmap_t m;
  lathe_hashmap_init(&m);
  assert_true(lathe_hashmap_put_str(&m, "x", VAL(1)));
  assert_true(lathe_hashmap_put_str(&m, "y", VAL(2)));
  assert_ptr_equal(lathe_hashmap_get_str(&m, "x"), VAL(1));
  assert_true(lathe_hashmap_put_str(&m, "x", VAL(3)));
  assert_int_equal(m.count, 2);
  assert_ptr_equal(lathe_hashmap_get_str(&m, "x"), VAL(3));
  /* A NULL value is a real value, distinguishable through get(). */
  assert_true(lathe_hashmap_put_str(&m, "null", NULL));
  void *v = VAL(9);
  assert_true(lathe_hashmap_get(&m, "null", 4, &v));
  assert_null(v);
  assert_true(lathe_hashmap_get(&m, "y", 1, NULL));
  lathe_hashmap_destroy(&m);
}

/* Keys are copied: the caller's buffer may change or die after put. */
static void test_keys_are_copied(void **state) {
  lathe_hashmap_t m;
  lathe_hashmap_init(&m);
  char buf[16] = "temporary";
  assert_true(lathe_hashmap_put_str(&m, buf, VAL(1)));
  strcpy(buf, "changed");
  assert_ptr_equal(lathe_hashmap_get_str(&m, "temporary"), VAL(1));
  assert_null(lathe_hashmap_get_str(&m, "changed"));
  lathe_hashmap_destroy(&m);
}

static void test_binary_keys(void **state) {
  lathe_hashmap_t m;
  lathe_hashmap_init(&m);
  static const char k1[] = {'a'};
  static const char k2[] = {'a', '\0'};
  static const char k3[] = {'a', '\0', 'b'};
  static const char k4[] = {'\0', '\0', '\0', '\0'};
  int x, y;
  const int *p1 = &x, *p2 = &y;
  assert_true(lathe_hashmap_put(&m, k1, sizeof k1, VAL(1)));
  assert_true(lathe_hashmap_put(&m, k2, sizeof k2, VAL(2)));
  assert_true(lathe_hashmap_put(&m, k3, sizeof k3, VAL(3)));
  assert_true(lathe_hashmap_put(&m, k4, sizeof k4, VAL(4)));
  assert_true(lathe_hashmap_put(&m, "", 0, VAL(5))); /* the empty key */
  /* Pointer-keyed side tables: the pointer's bytes are the key. */
  assert_true(lathe_hashmap_put(&m, &p1, sizeof p1, VAL(6)));
  assert_true(lathe_hashmap_put(&m, &p2, sizeof p2, VAL(7)));
  assert_int_equal(m.count, 7);
  void *v;
  assert_true(lathe_hashmap_get(&m, k1, sizeof k1, &v));
  assert_ptr_equal(v, VAL(1));
  assert_true(lathe_hashmap_get(&m, k2, sizeof k2, &v));
  assert_ptr_equal(v, VAL(2));
  assert_true(lathe_hashmap_get(&m, k3, sizeof k3, &v));
  assert_ptr_equal(v, VAL(3));
  assert_true(lathe_hashmap_get(&m, k4, sizeof k4, &v));
  assert_ptr_equal(v, VAL(4));
  assert_false(lathe_hashmap_get(&m, k4, 3, &v)); /* a prefix is another key */
  assert_true(lathe_hashmap_get(&m, "", 0, &v));
  assert_ptr_equal(v, VAL(5));
  const int *q = &y;
  assert_true(lathe_hashmap_get(&m, &q, sizeof q, &v));
  assert_ptr_equal(v, VAL(7));
  assert_true(lathe_hashmap_remove(&m, k2, sizeof k2));
  assert_false(lathe_hashmap_get(&m, k2, sizeof k2, NULL));
  assert_true(lathe_hashmap_get(&m, k1, sizeof k1, NULL));
  assert_true(lathe_hashmap_get(&m, k3, sizeof k3, NULL));
  lathe_hashmap_destroy(&m);
}

/* Growth: the table stays a power of two under 70% load, and every key
 * inserted before a resize is still there after it. */
static void test_many_keys_and_growth(void **state) {
  enum { N = 20000 };
  lathe_hashmap_t m;
  lathe_hashmap_init(&m);
  char k[32];
  for (int i = 0; i < N; ++i) {
    key_of(k, sizeof k, i);
    assert_true(lathe_hashmap_put_str(&m, k, VAL(i)));
    assert_int_equal(m.count, (size_t)i + 1);
    assert_int_equal(m.capacity & (m.capacity - 1), 0);
    assert_true(m.count * 10 <= m.capacity * 7);
  }
  for (int i = 0; i < N; ++i) {
    key_of(k, sizeof k, i);
    assert_ptr_equal(lathe_hashmap_get_str(&m, k), VAL(i));
  }
  /* Remove the odd keys; the even ones must all remain reachable. */
  for (int i = 1; i < N; i += 2) {
    key_of(k, sizeof k, i);
    assert_true(lathe_hashmap_remove(&m, k, strlen(k)));
    assert_false(lathe_hashmap_remove(&m, k, strlen(k)));
  }
  assert_int_equal(m.count, N / 2);
  for (int i = 0; i < N; ++i) {
    key_of(k, sizeof k, i);
    void *v = NULL;
    bool found = lathe_hashmap_get(&m, k, strlen(k), &v);
    assert_int_equal(found, i % 2 == 0);
    if (found) assert_ptr_equal(v, VAL(i));
  }
  lathe_hashmap_destroy(&m);
  assert_int_equal(m.count, 0);
  assert_int_equal(m.capacity, 0);
}

/* Finds `n` distinct keys "c<i>" whose home slot in a table of `cap` slots
 * is `home`. */
static void keys_with_home(size_t cap, size_t home, int n, char out[][16]) {
  int found = 0;
  for (int i = 0; found < n; ++i) {
    char k[16];
    snprintf(k, sizeof k, "c%d", i);
    if ((lathe_hash_bytes(k, strlen(k)) & (cap - 1)) == home) strcpy(out[found++], k);
  }
}

static void check_all(const lathe_hashmap_t *m, char keys[][16], const int *present, int n) {
  for (int i = 0; i < n; ++i) {
    void *v = NULL;
    bool found = lathe_hashmap_get(m, keys[i], strlen(keys[i]), &v);
    assert_int_equal(found, present[i]);
    if (found) assert_ptr_equal(v, VAL(i));
  }
}

/* Probe runs built on purpose in the initial 16-slot table (it grows at the
 * 11th key, so at most 10 keys): three keys homed at slot 14 and three at
 * slot 15 form one run that wraps past the end, followed by two homed at 1
 * that sit in the wrapped part. Each removal order must leave every other key
 * reachable. */
static void test_backward_shift_under_collisions(void **state) {
  enum { N = 8 };
  static const int orders[][N] = {
      {0, 1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1, 0}, {1, 4, 6, 0, 3, 7, 2, 5},
      {3, 0, 5, 1, 7, 2, 6, 4}, {6, 2, 0, 5, 4, 1, 3, 7},
  };
  char keys[N][16];
  keys_with_home(16, 14, 3, keys);
  keys_with_home(16, 15, 3, keys + 3);
  keys_with_home(16, 1, 2, keys + 6);
  for (size_t o = 0; o < sizeof orders / sizeof orders[0]; ++o) {
    lathe_hashmap_t m;
    lathe_hashmap_init(&m);
    int present[N];
    for (int i = 0; i < N; ++i) {
      assert_true(lathe_hashmap_put_str(&m, keys[i], VAL(i)));
      present[i] = 1;
    }
    assert_int_equal(m.capacity, 16); /* the layout above assumes no growth */
    check_all(&m, keys, present, N);
    for (int r = 0; r < N; ++r) {
      int victim = orders[o][r];
      assert_true(lathe_hashmap_remove(&m, keys[victim], strlen(keys[victim])));
      present[victim] = 0;
      check_all(&m, keys, present, N);
      /* Re-inserting and removing again must also leave the run intact. */
      if (r % 2 == 0) {
        assert_true(lathe_hashmap_put_str(&m, keys[victim], VAL(victim)));
        present[victim] = 1;
        check_all(&m, keys, present, N);
        assert_true(lathe_hashmap_remove(&m, keys[victim], strlen(keys[victim])));
        present[victim] = 0;
        check_all(&m, keys, present, N);
      }
    }
    assert_int_equal(m.count, 0);
    lathe_hashmap_destroy(&m);
  }
}

/* A long random sequence over a small key space (so the table is always
 * crowded with collisions and removals) checked against a plain array. */
static void test_random_against_reference(void **state) {
  enum { KEYS = 300, OPS = 60000 };
  static int present[KEYS];
  static int value_of[KEYS];
  memset(present, 0, sizeof present);
  lathe_hashmap_t m;
  lathe_hashmap_init(&m);
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  size_t live = 0;
  char k[32];
  for (int op = 0; op < OPS; ++op) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    int i = (int)(rng % KEYS);
    key_of(k, sizeof k, i);
    if ((rng >> 32) % 3 != 0) {
      live += !present[i];
      present[i] = 1;
      value_of[i] = op;
      assert_true(lathe_hashmap_put_str(&m, k, VAL(op)));
    } else {
      assert_int_equal(lathe_hashmap_remove(&m, k, strlen(k)), present[i]);
      live -= present[i];
      present[i] = 0;
    }
    assert_int_equal(m.count, live);
    if (op % 997 == 0 || op == OPS - 1) {
      for (int j = 0; j < KEYS; ++j) {
        key_of(k, sizeof k, j);
        void *v = NULL;
        assert_int_equal(lathe_hashmap_get(&m, k, strlen(k), &v), present[j]);
        if (present[j]) assert_ptr_equal(v, VAL(value_of[j]));
      }
    }
  }
  lathe_hashmap_destroy(&m);
}

static void test_hash_bytes(void **state) {
  assert_int_equal(lathe_hash_bytes("abc", 3), lathe_hash_bytes("abc", 3));
  assert_int_not_equal(lathe_hash_bytes("abc", 3), lathe_hash_bytes("acb", 3));
  assert_int_not_equal(lathe_hash_bytes("a", 1), lathe_hash_bytes("a\0", 2));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_map),
      cmocka_unit_test(test_put_get_replace),
      cmocka_unit_test(test_keys_are_copied),
      cmocka_unit_test(test_binary_keys),
      cmocka_unit_test(test_many_keys_and_growth),
      cmocka_unit_test(test_backward_shift_under_collisions),
      cmocka_unit_test(test_random_against_reference),
      cmocka_unit_test(test_hash_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

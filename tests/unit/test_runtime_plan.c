/* Unit tests for runtime/plan.c: the liveness-based buffer planner.
 *
 * Two properties matter. Safety: buffers whose live ranges intersect never
 * share a byte, and every offset is 64-byte aligned; a randomized test checks
 * this on thousands of generated cases. Quality: on cases whose optimum is
 * known (chains, disjoint lifetimes, everything alive at once, a big buffer
 * with small ones around it) the peak equals the optimum, and it is never
 * below the lower bound "most bytes alive at one kernel".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/runtime.h"

#define A LATHE_RT_ALIGNMENT

static uint64_t up(uint64_t n) { return (n + A - 1) / A * A; }

/* Plans and checks the safety properties; returns the peak. */
static uint64_t plan_checked(const lathe_rt_plan_item_t *items, size_t n, uint64_t *offsets) {
  uint64_t peak = 0;
  lathe_status_t s = lathe_rt_plan_buffers(items, n, offsets, &peak);
  assert_null(s);
  uint64_t top = 0;
  for (size_t i = 0; i < n; ++i) {
    assert_int_equal(offsets[i] % A, 0);
    if (!items[i].bytes) continue;
    if (offsets[i] + items[i].bytes > top) top = offsets[i] + up(items[i].bytes);
    for (size_t j = 0; j < i; ++j) {
      if (!items[j].bytes) continue;
      bool live = items[i].first <= items[j].last && items[j].first <= items[i].last;
      bool apart =
          offsets[i] + items[i].bytes <= offsets[j] || offsets[j] + items[j].bytes <= offsets[i];
      if (live && !apart) fail_msg("items %zu and %zu overlap in time and memory", i, j);
    }
  }
  assert_int_equal(peak, top); /* the peak is exactly the highest end */
  return peak;
}

/* Most (aligned) bytes alive at any one kernel: no plan can beat it. */
static uint64_t lower_bound(const lathe_rt_plan_item_t *items, size_t n, int32_t kernels) {
  uint64_t best = 0;
  for (int32_t k = 0; k < kernels; ++k) {
    uint64_t live = 0;
    for (size_t i = 0; i < n; ++i)
      if (items[i].first <= k && k <= items[i].last) live += up(items[i].bytes);
    if (live > best) best = live;
  }
  return best;
}

static void test_empty_and_zero_sizes(void **state) {
  uint64_t peak = 123, off[3];
  assert_null(lathe_rt_plan_buffers(NULL, 0, NULL, &peak));
  assert_int_equal(peak, 0);
  lathe_rt_plan_item_t zeros[] = {{0, 0, 5}, {0, 1, 2}, {0, 0, 0}};
  assert_int_equal(plan_checked(zeros, 3, off), 0);
  for (int i = 0; i < 3; ++i) assert_int_equal(off[i], 0);
}

static void test_chain_is_optimal(void **state) {
  /* k0 writes t0, k1 reads t0 writes t1, ...: only neighbours conflict. */
  lathe_rt_plan_item_t chain[] = {{1000, 0, 1}, {3000, 1, 2}, {500, 2, 3},
                                  {2000, 3, 4}, {4000, 4, 5}, {100, 5, 6}};
  uint64_t off[6];
  uint64_t peak = plan_checked(chain, 6, off);
  assert_int_equal(peak, lower_bound(chain, 6, 7));
  assert_int_equal(peak, up(2000) + up(4000));
}

static void test_disjoint_share_everything(void **state) {
  lathe_rt_plan_item_t items[] = {{64, 0, 0}, {640, 1, 1}, {100, 2, 2}, {1, 3, 3}};
  uint64_t off[4];
  assert_int_equal(plan_checked(items, 4, off), 640);
  for (int i = 0; i < 4; ++i) assert_int_equal(off[i], 0);
}

static void test_all_live_sum(void **state) {
  lathe_rt_plan_item_t items[] = {{1, 0, 9}, {65, 2, 3}, {64, 3, 7}, {200, 1, 5}};
  uint64_t off[4];
  /* All intersect at kernel 3: the peak is the sum of aligned sizes. */
  assert_int_equal(plan_checked(items, 4, off), 64 + 128 + 64 + 256);
}

static void test_small_buffers_fill_gaps(void **state) {
  /* A long-lived big buffer, two short ones under it in time: the later
   * small buffers reuse the space the first short ones released. */
  lathe_rt_plan_item_t items[] = {{4096, 0, 1}, {4096, 1, 2}, {1024, 2, 3}, {2048, 3, 4}};
  uint64_t off[4];
  uint64_t peak = plan_checked(items, 4, off);
  assert_int_equal(peak, lower_bound(items, 4, 5));
  assert_int_equal(peak, 8192);
}

static void test_invalid_items(void **state) {
  uint64_t off[1], peak = 77;
  lathe_rt_plan_item_t backwards[] = {{10, 3, 2}};
  lathe_rt_plan_item_t negative[] = {{10, -1, 2}};
  lathe_rt_plan_item_t huge[] = {{UINT64_MAX, 0, 0}};
  lathe_rt_plan_item_t *cases[] = {backwards, negative, huge};
  for (int i = 0; i < 3; ++i) {
    lathe_status_t s = lathe_rt_plan_buffers(cases[i], 1, off, &peak);
    assert_non_null(s);
    lathe_status_free(s);
    assert_int_equal(peak, 77);
  }
  /* Two items that each fit but whose sum overflows the address space. */
  lathe_rt_plan_item_t two[] = {{UINT64_MAX / 2, 0, 1}, {UINT64_MAX / 2 + 64, 1, 2}};
  uint64_t off2[2];
  lathe_status_t s = lathe_rt_plan_buffers(two, 2, off2, &peak);
  assert_non_null(s);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_OUT_OF_RANGE);
  lathe_status_free(s);
}

/* A small deterministic generator (xorshift) so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state % n;
}

static void test_random_plans_never_overlap(void **state) {
  enum { MAX_ITEMS = 60 };
  lathe_rt_plan_item_t items[MAX_ITEMS];
  uint64_t off[MAX_ITEMS], again[MAX_ITEMS];
  for (int round = 0; round < 3000; ++round) {
    size_t n = 1 + rnd(MAX_ITEMS);
    int32_t kernels = 1 + (int32_t)rnd(40);
    for (size_t i = 0; i < n; ++i) {
      int32_t a = (int32_t)rnd((uint64_t)kernels), len = (int32_t)rnd(6);
      int32_t b = a + len < kernels ? a + len : kernels - 1;
      /* Mix of sizes: some zero, many equal (ties), a few large. */
      uint64_t sizes[] = {0, 1, 64, 100, 4096, 1 + rnd(100000), 1u << 20};
      items[i] = (lathe_rt_plan_item_t){sizes[rnd(7)], a, b};
    }
    uint64_t peak = plan_checked(items, n, off);
    assert_true(peak >= lower_bound(items, n, kernels));
    /* Deterministic: the same input gives the same plan. */
    uint64_t peak2;
    assert_null(lathe_rt_plan_buffers(items, n, again, &peak2));
    assert_int_equal(peak, peak2);
    assert_memory_equal(off, again, n * sizeof off[0]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_and_zero_sizes),       cmocka_unit_test(test_chain_is_optimal),
      cmocka_unit_test(test_disjoint_share_everything),  cmocka_unit_test(test_all_live_sum),
      cmocka_unit_test(test_small_buffers_fill_gaps),    cmocka_unit_test(test_invalid_items),
      cmocka_unit_test(test_random_plans_never_overlap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

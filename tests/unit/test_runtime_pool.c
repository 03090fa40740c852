/* Unit tests for runtime/pool.c and runtime/context.c: parallel_for.
 *
 * The contract generated code relies on: every index of [begin, end) runs
 * exactly once; chunks start at begin + k*grain and all but the last are
 * multiples of grain; the call returns only after every chunk finished (the
 * closure lives on the caller's stack); nested calls from inside a task run
 * inline; scratch is private to each thread; and several threads, each with
 * its own context, can share one pool at the same time. Threaded tests
 * record what they saw and check it on the main thread (cmocka's asserts are
 * not thread-safe). Build with -fsanitize=thread to check for races.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/runtime.h"

typedef struct {
  int64_t begin, grain;
  atomic_int *hits;      /* [end - begin], times each index ran */
  atomic_int bad_chunks; /* chunks that broke the grain rule */
  atomic_llong sum;
  int64_t end;
} cover_t;

static void cover_task(void *c, int64_t b, int64_t e) {
  cover_t *cv = c;
  int64_t g = cv->grain > 0 ? cv->grain : 1;
  if ((b - cv->begin) % g != 0 || (e != cv->end && (e - b) % g != 0) || b >= e)
    atomic_fetch_add(&cv->bad_chunks, 1);
  long long s = 0;
  for (int64_t i = b; i < e; ++i) {
    atomic_fetch_add(&cv->hits[i - cv->begin], 1);
    s += i;
  }
  atomic_fetch_add(&cv->sum, s);
}

/* Runs one parallel_for over [begin, end) and checks coverage and grains. */
static void check_cover(lathe_rt_context_t *ctx, int64_t begin, int64_t end, int64_t grain) {
  int64_t n = end > begin ? end - begin : 0;
  cover_t cv = {.begin = begin, .grain = grain, .end = end};
  cv.hits = calloc((size_t)(n ? n : 1), sizeof *cv.hits);
  assert_non_null(cv.hits);
  atomic_init(&cv.bad_chunks, 0);
  atomic_init(&cv.sum, 0);
  lathe_rt_parallel_for(ctx, begin, end, grain, cover_task, &cv);
  for (int64_t i = 0; i < n; ++i)
    if (atomic_load(&cv.hits[i]) != 1)
      fail_msg("index %lld ran %d times", (long long)(begin + i), atomic_load(&cv.hits[i]));
  assert_int_equal(atomic_load(&cv.bad_chunks), 0);
  long long want = 0;
  for (int64_t i = begin; i < end; ++i) want += i;
  assert_int_equal(atomic_load(&cv.sum), want);
  free(cv.hits);
}

static void test_sums_over_ranges(void **state) {
  const int32_t threads[] = {1, 2, 3, 8};
  const int64_t ranges[][3] = {{0, 0, 1},    {5, 3, 1},     {0, 1, 1},       {0, 1000, 1},
                               {-50, 77, 7}, {0, 1001, 16}, {3, 100003, 64}, {0, 10, 100},
                               {0, 37, 0},   {0, 37, -5}};
  for (size_t t = 0; t < sizeof threads / sizeof threads[0]; ++t) {
    lathe_rt_pool_t *pool;
    assert_null(lathe_rt_pool_create(threads[t], &pool));
    assert_int_equal(lathe_rt_pool_num_threads(pool), threads[t]);
    lathe_rt_context_t *ctx;
    assert_null(lathe_rt_context_create(pool, &ctx));
    assert_int_equal(lathe_rt_context_functions(ctx)->num_threads, threads[t]);
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; ++r)
      check_cover(ctx, ranges[r][0], ranges[r][1], ranges[r][2]);
    lathe_rt_context_destroy(ctx);
    lathe_rt_pool_destroy(pool);
  }
}

static void test_no_pool_runs_inline(void **state) {
  lathe_rt_context_t *ctx;
  assert_null(lathe_rt_context_create(NULL, &ctx));
  assert_int_equal(lathe_rt_context_functions(ctx)->num_threads, 1);
  check_cover(ctx, 0, 5000, 3);
  lathe_rt_context_destroy(ctx);
  lathe_rt_pool_destroy(NULL);
  lathe_rt_context_destroy(NULL);
}

static void test_many_small_tasks(void **state) {
  lathe_rt_pool_t *pool;
  assert_null(lathe_rt_pool_create(4, &pool));
  lathe_rt_context_t *ctx;
  assert_null(lathe_rt_context_create(pool, &ctx));
  for (int i = 0; i < 5000; ++i) check_cover(ctx, 0, 1 + i % 13, 1);
  lathe_rt_context_destroy(ctx);
  lathe_rt_pool_destroy(pool);
}

/* ---- nested calls and scratch ---- */

typedef struct {
  void *ctx;
  const lathe_rt_functions_t *rt;
  atomic_llong inner_sum;
  atomic_int scratch_bad;
} nest_t;

static void inner_task(void *c, int64_t b, int64_t e) {
  nest_t *n = c;
  for (int64_t i = b; i < e; ++i) atomic_fetch_add(&n->inner_sum, i);
}

static void outer_task(void *c, int64_t b, int64_t e) {
  nest_t *n = c;
  for (int64_t i = b; i < e; ++i) {
    /* Scratch is this thread's alone: fill it, run a nested loop (inline),
     * and the pattern must survive. */
    unsigned char *s = n->rt->scratch(n->ctx, 256 + (uint64_t)i);
    if (!s || (uintptr_t)s % LATHE_RT_ALIGNMENT) {
      atomic_fetch_add(&n->scratch_bad, 1);
      continue;
    }
    memset(s, (int)(i & 0xff), 256);
    n->rt->parallel_for(n->ctx, 0, 100, 1, inner_task, n);
    for (int j = 0; j < 256; ++j)
      if (s[j] != (unsigned char)(i & 0xff)) {
        atomic_fetch_add(&n->scratch_bad, 1);
        break;
      }
  }
}

static void test_nested_and_scratch(void **state) {
  lathe_rt_pool_t *pool;
  assert_null(lathe_rt_pool_create(4, &pool));
  lathe_rt_context_t *ctx;
  assert_null(lathe_rt_context_create(pool, &ctx));
  nest_t n = {.ctx = lathe_rt_context_handle(ctx), .rt = lathe_rt_context_functions(ctx)};
  atomic_init(&n.inner_sum, 0);
  atomic_init(&n.scratch_bad, 0);
  n.rt->parallel_for(n.ctx, 0, 200, 1, outer_task, &n);
  assert_int_equal(atomic_load(&n.inner_sum), 200LL * 4950);
  assert_int_equal(atomic_load(&n.scratch_bad), 0);
  /* Scratch on the calling thread outside any loop works too. */
  assert_non_null(n.rt->scratch(n.ctx, 0));
  assert_non_null(n.rt->scratch(n.ctx, 1 << 20));
  assert_null(n.rt->scratch(n.ctx, UINT64_MAX)); /* too big: NULL, not a crash */
  lathe_rt_context_destroy(ctx);
  lathe_rt_pool_destroy(pool);
}

/* ---- several callers share one pool ---- */

typedef struct {
  lathe_rt_pool_t *pool;
  int id;
  int failures;
} caller_t;

static void sum_task(void *c, int64_t b, int64_t e) {
  atomic_llong *sum = c;
  long long s = 0;
  for (int64_t i = b; i < e; ++i) s += i;
  atomic_fetch_add(sum, s);
}

static void *caller_main(void *arg) {
  caller_t *c = arg;
  lathe_rt_context_t *ctx;
  lathe_status_t s = lathe_rt_context_create(c->pool, &ctx);
  if (s) {
    lathe_status_free(s);
    c->failures = -1;
    return NULL;
  }
  for (int round = 0; round < 300; ++round) {
    int64_t n = 1 + (round * 37 + c->id * 101) % 5000;
    atomic_llong sum;
    atomic_init(&sum, 0);
    lathe_rt_parallel_for(ctx, 0, n, 1 + round % 9, sum_task, &sum);
    if (atomic_load(&sum) != (long long)(n * (n - 1) / 2)) ++c->failures;
  }
  lathe_rt_context_destroy(ctx);
  return NULL;
}

static void test_concurrent_callers(void **state) {
  enum { CALLERS = 6 };
  lathe_rt_pool_t *pool;
  assert_null(lathe_rt_pool_create(4, &pool));
  pthread_t threads[CALLERS];
  caller_t callers[CALLERS];
  for (int i = 0; i < CALLERS; ++i) {
    callers[i] = (caller_t){pool, i, 0};
    assert_int_equal(pthread_create(&threads[i], NULL, caller_main, &callers[i]), 0);
  }
  for (int i = 0; i < CALLERS; ++i) {
    pthread_join(threads[i], NULL);
    assert_int_equal(callers[i].failures, 0);
  }
  lathe_rt_pool_destroy(pool);
}

static void test_pool_lifecycle(void **state) {
  /* Creating and destroying pools repeatedly (with and without work)
   * neither leaks nor hangs. */
  for (int i = 0; i < 50; ++i) {
    lathe_rt_pool_t *pool;
    assert_null(lathe_rt_pool_create(1 + i % 5, &pool));
    if (i % 2) {
      atomic_llong sum;
      atomic_init(&sum, 0);
      lathe_rt_pool_parallel_for(pool, 0, 1000, 10, sum_task, &sum);
      assert_int_equal(atomic_load(&sum), 499500);
    }
    lathe_rt_pool_destroy(pool);
  }
  lathe_rt_pool_t *pool;
  assert_null(lathe_rt_pool_create(0, &pool)); /* default: one per CPU */
  assert_int_equal(lathe_rt_pool_num_threads(pool), lathe_rt_default_num_threads());
  assert_int_equal(lathe_rt_pool_thread_index(pool), 0);
  lathe_rt_pool_destroy(pool);
  lathe_status_t s = lathe_rt_pool_create(-1, &pool);
  assert_non_null(s);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_INVALID_ARGUMENT);
  lathe_status_free(s);
}

static void test_context_arena_grows(void **state) {
  lathe_rt_context_t *ctx;
  assert_null(lathe_rt_context_create(NULL, &ctx));
  assert_int_equal(lathe_rt_context_arena_bytes(ctx), 0);
  void *base;
  assert_null(lathe_rt_context_arena(ctx, 100, &base));
  assert_int_equal((uintptr_t)base % LATHE_RT_ALIGNMENT, 0);
  assert_true(lathe_rt_context_arena_bytes(ctx) >= 100);
  memset(base, 1, 100);
  void *again;
  assert_null(lathe_rt_context_arena(ctx, 50, &again));
  assert_ptr_equal(base, again); /* smaller needs reuse the arena */
  assert_null(lathe_rt_context_arena(ctx, 1 << 20, &again));
  assert_true(lathe_rt_context_arena_bytes(ctx) >= (1 << 20));
  lathe_status_t s = lathe_rt_context_arena(ctx, UINT64_MAX - 3, &again);
  assert_non_null(s);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_RESOURCE_EXHAUSTED);
  lathe_status_free(s);
  lathe_rt_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sums_over_ranges),    cmocka_unit_test(test_no_pool_runs_inline),
      cmocka_unit_test(test_many_small_tasks),    cmocka_unit_test(test_nested_and_scratch),
      cmocka_unit_test(test_concurrent_callers),  cmocka_unit_test(test_pool_lifecycle),
      cmocka_unit_test(test_context_arena_grows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

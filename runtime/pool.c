/* The thread pool behind parallel_for.
 *
 * A pool is an object (no global state): num_threads - 1 workers sleep on a
 * condition variable until a caller posts a job. A job is one parallel_for:
 * its range is cut into chunks that the caller and any woken worker claim
 * with one atomic counter, so a chunk costs one fetch_add however many
 * threads compete. Several callers may post jobs at once (one per execution
 * context); workers serve them first-come first-served.
 *
 * The job lives on the caller's stack. That is safe because the caller only
 * returns once its job is unlinked from the queue (no new worker can find it)
 * and every worker that took it has let go (users == 0, under the mutex).
 * Each caller runs its own job to exhaustion, so progress never depends on a
 * free worker and nested or concurrent calls cannot deadlock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/runtime.h"

typedef struct job {
  lathe_rt_task_fn fn;
  void *closure;
  int64_t begin, end;
  uint64_t chunk; /* iterations per claim, a multiple of grain */
  uint64_t num_chunks;
  atomic_uint_fast64_t next; /* next unclaimed chunk */
  int users;                 /* workers holding the job; guarded by the pool mutex */
  struct job *link;          /* queue order; guarded by the pool mutex */
} job_t;

struct lathe_rt_pool {
  pthread_mutex_t mu;
  pthread_cond_t work_cv; /* a job was posted, or stop */
  pthread_cond_t done_cv; /* some job lost its last worker */
  job_t *head, *tail;
  bool stop;
  int32_t num_threads;
  int32_t num_started; /* workers actually running */
  pthread_t *threads;
  /* Each worker stores its index (1..num_threads-1) here; other threads see
   * NULL (index 0). Per pool, so contexts on other pools see their own. */
  pthread_key_t index_key;
};

typedef struct {
  lathe_rt_pool_t *pool;
  intptr_t index;
} worker_start_t;

int32_t lathe_rt_default_num_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) return 1;
  return n > 1024 ? 1024 : (int32_t)n;
}

static void run_chunks(job_t *job) {
  for (;;) {
    uint64_t c = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
    if (c >= job->num_chunks) return;
    uint64_t total = (uint64_t)job->end - (uint64_t)job->begin;
    uint64_t lo = c * job->chunk;
    uint64_t hi = total - lo > job->chunk ? lo + job->chunk : total;
    job->fn(job->closure, (int64_t)((uint64_t)job->begin + lo),
            (int64_t)((uint64_t)job->begin + hi));
  }
}

/* Removes the job from the queue if it is still there. Mutex held. */
static void unlink_job(lathe_rt_pool_t *pool, job_t *job) {
  job_t **p = &pool->head, *prev = NULL;
  while (*p && *p != job) prev = *p, p = &(*p)->link;
  if (!*p) return;
  *p = job->link;
  if (pool->tail == job) pool->tail = prev;
  job->link = NULL;
}

static void *worker_main(void *arg) {
  worker_start_t start = *(worker_start_t *)arg;
  free(arg);
  lathe_rt_pool_t *pool = start.pool;
  pthread_setspecific(pool->index_key, (void *)start.index);
  pthread_mutex_lock(&pool->mu);
  for (;;) {
    while (!pool->stop && !pool->head) pthread_cond_wait(&pool->work_cv, &pool->mu);
    if (pool->stop) break;
    job_t *job = pool->head;
    ++job->users;
    pthread_mutex_unlock(&pool->mu);
    run_chunks(job);
    pthread_mutex_lock(&pool->mu);
    /* Every chunk is claimed: nobody else needs to find this job. */
    unlink_job(pool, job);
    if (--job->users == 0) pthread_cond_broadcast(&pool->done_cv);
  }
  pthread_mutex_unlock(&pool->mu);
  return NULL;
}

static void stop_workers(lathe_rt_pool_t *pool) {
  pthread_mutex_lock(&pool->mu);
  pool->stop = true;
  pthread_cond_broadcast(&pool->work_cv);
  pthread_mutex_unlock(&pool->mu);
  for (int32_t i = 0; i < pool->num_started; ++i) pthread_join(pool->threads[i], NULL);
  pool->num_started = 0;
}

static lathe_status_t start_workers(lathe_rt_pool_t *pool) {
  for (int32_t i = 0; i < pool->num_threads - 1; ++i) {
    worker_start_t *start = malloc(sizeof *start);
    if (!start)
      return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory starting workers");
    *start = (worker_start_t){pool, (intptr_t)i + 1};
    int err = pthread_create(&pool->threads[i], NULL, worker_main, start);
    if (err) {
      free(start);
      return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED,
                               "cannot start worker thread %d of %d: %s", (int)i + 1,
                               (int)pool->num_threads - 1, strerror(err));
    }
    ++pool->num_started;
  }
  return NULL;
}

lathe_status_t lathe_rt_pool_create(int32_t num_threads, lathe_rt_pool_t **out_pool) {
  if (num_threads < 0 || num_threads > 4096)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "thread count %d is outside [0, 4096] (0 = one per CPU)",
                             (int)num_threads);
  if (num_threads == 0) num_threads = lathe_rt_default_num_threads();
  lathe_rt_pool_t *pool = calloc(1, sizeof *pool);
  if (!pool) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  pool->num_threads = num_threads;
  pool->threads = calloc((size_t)num_threads, sizeof *pool->threads);
  if (!pool->threads || pthread_key_create(&pool->index_key, NULL) != 0) {
    free(pool->threads);
    free(pool);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "cannot create a thread pool");
  }
  pthread_mutex_init(&pool->mu, NULL);
  pthread_cond_init(&pool->work_cv, NULL);
  pthread_cond_init(&pool->done_cv, NULL);
  lathe_status_t status = start_workers(pool);
  if (status) {
    lathe_rt_pool_destroy(pool);
    return status;
  }
  *out_pool = pool;
  return NULL;
}

void lathe_rt_pool_destroy(lathe_rt_pool_t *pool) {
  if (!pool) return;
  stop_workers(pool);
  pthread_cond_destroy(&pool->done_cv);
  pthread_cond_destroy(&pool->work_cv);
  pthread_mutex_destroy(&pool->mu);
  pthread_key_delete(pool->index_key);
  free(pool->threads);
  free(pool);
}

int32_t lathe_rt_pool_num_threads(const lathe_rt_pool_t *pool) {
  return pool ? pool->num_threads : 1;
}

int32_t lathe_rt_pool_thread_index(const lathe_rt_pool_t *pool) {
  if (!pool) return 0;
  return (int32_t)(intptr_t)pthread_getspecific(pool->index_key);
}

void lathe_rt_pool_parallel_for(lathe_rt_pool_t *pool, int64_t begin, int64_t end, int64_t grain,
                                lathe_rt_task_fn fn, void *closure) {
  if (end <= begin) return;
  uint64_t total = (uint64_t)end - (uint64_t)begin;
  uint64_t g = grain > 0 ? (uint64_t)grain : 1;
  uint64_t units = total / g + (total % g != 0);
  int32_t threads = lathe_rt_pool_num_threads(pool);
  if (threads <= 1 || units <= 1) {
    fn(closure, begin, end);
    return;
  }
  /* About four chunks per thread: enough to balance uneven chunks, few
   * enough that tiny grains do not turn into millions of claims. */
  uint64_t target = (uint64_t)threads * 4;
  uint64_t per_chunk = units > target ? units / target : 1;
  job_t job;
  memset(&job, 0, sizeof job);
  job.fn = fn;
  job.closure = closure;
  job.begin = begin;
  job.end = end;
  job.chunk = g * per_chunk;
  job.num_chunks = total / job.chunk + (total % job.chunk != 0);
  atomic_init(&job.next, 0);

  pthread_mutex_lock(&pool->mu);
  if (pool->tail) pool->tail->link = &job;
  else pool->head = &job;
  pool->tail = &job;
  pthread_cond_broadcast(&pool->work_cv);
  pthread_mutex_unlock(&pool->mu);

  run_chunks(&job);

  pthread_mutex_lock(&pool->mu);
  unlink_job(pool, &job);
  while (job.users > 0) pthread_cond_wait(&pool->done_cv, &pool->mu);
  pthread_mutex_unlock(&pool->mu);
}

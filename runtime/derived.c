/* Derived constants: data computed once from a program's constants and kept
 * for every later run, such as a GEMM's weight packed into the micro-kernel's
 * panel layout. Repacking a 16 MB weight on every run costs as much as the
 * product itself when the batch is small; packing it once, the first time a
 * kernel asks, removes that.
 *
 * The store belongs to a weights table (the constants it derives from), so
 * every context running the program on those weights shares one copy. A
 * block is known by (program, slot, source address): the kernel picks the
 * slot, the source address ties the block to the constant's bytes. The first
 * caller fills the block outside the lock (filling may use the thread pool)
 * while later callers wait on a condition variable; a filled block is never
 * written again, so readers need no lock after the lookup.
 */
#include <pthread.h>
#include <stdlib.h>

#include "runtime/internal.h"

typedef struct {
  const void *program, *source;
  int32_t slot;
  bool ready;
  uint64_t bytes;
  void *data;
} block_t;

struct lathe_rt_derived {
  pthread_mutex_t lock;
  pthread_cond_t filled;
  block_t *blocks;
  size_t count, cap;
  uint64_t bytes;
};

lathe_status_t lathe_rt_derived_create(lathe_rt_derived_t **out) {
  lathe_rt_derived_t *d = calloc(1, sizeof *d);
  if (!d) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  pthread_mutex_init(&d->lock, NULL);
  pthread_cond_init(&d->filled, NULL);
  *out = d;
  return NULL;
}

void lathe_rt_derived_destroy(lathe_rt_derived_t *d) {
  if (!d) return;
  for (size_t i = 0; i < d->count; ++i) free(d->blocks[i].data);
  free(d->blocks);
  pthread_cond_destroy(&d->filled);
  pthread_mutex_destroy(&d->lock);
  free(d);
}

uint64_t lathe_rt_derived_bytes(lathe_rt_derived_t *d) {
  if (!d) return 0;
  pthread_mutex_lock(&d->lock);
  uint64_t bytes = d->bytes;
  pthread_mutex_unlock(&d->lock);
  return bytes;
}

static block_t *find(lathe_rt_derived_t *d, const void *program, int32_t slot, const void *source) {
  for (size_t i = 0; i < d->count; ++i) {
    block_t *b = &d->blocks[i];
    if (b->program == program && b->slot == slot && b->source == source) return b;
  }
  return NULL;
}

/* A new entry, not yet filled; NULL when out of memory. Called locked. */
static block_t *add(lathe_rt_derived_t *d, const void *program, int32_t slot, const void *source,
                    uint64_t bytes) {
  if (d->count == d->cap) {
    size_t cap = d->cap ? 2 * d->cap : 8;
    block_t *blocks = realloc(d->blocks, cap * sizeof *blocks);
    if (!blocks) return NULL;
    d->blocks = blocks;
    d->cap = cap;
  }
  uint64_t a = LATHE_RT_ALIGNMENT;
  if (bytes > SIZE_MAX - a) return NULL;
  void *data = aligned_alloc(a, (size_t)((bytes + a - 1) / a * a));
  if (!data) return NULL;
  block_t *b = &d->blocks[d->count++];
  *b = (block_t){program, source, slot, false, bytes, data};
  return b;
}

const void *lathe_rt_derived_get(lathe_rt_derived_t *d, const void *program, int32_t slot,
                                 const void *source, uint64_t bytes, lathe_rt_fill_fn fill,
                                 void *closure) {
  if (!d || !bytes) return NULL;
  pthread_mutex_lock(&d->lock);
  block_t *b = find(d, program, slot, source);
  if (b) {
    /* The array may grow while this thread waits: keep the index. */
    size_t i = (size_t)(b - d->blocks);
    while (!d->blocks[i].ready) pthread_cond_wait(&d->filled, &d->lock);
    b = &d->blocks[i];
    void *data = b->bytes == bytes ? b->data : NULL;
    pthread_mutex_unlock(&d->lock);
    return data;
  }
  b = add(d, program, slot, source, bytes);
  if (!b) {
    pthread_mutex_unlock(&d->lock);
    return NULL;
  }
  size_t i = (size_t)(b - d->blocks);
  void *data = b->data;
  pthread_mutex_unlock(&d->lock);
  fill(closure, data);
  pthread_mutex_lock(&d->lock);
  d->blocks[i].ready = true;
  d->bytes += bytes;
  pthread_cond_broadcast(&d->filled);
  pthread_mutex_unlock(&d->lock);
  return data;
}

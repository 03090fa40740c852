/* Bump allocator: see arena.h. Chunks grow geometrically so a large module
 * needs few mallocs; an allocation bigger than a chunk gets a chunk of its own
 * so small allocations keep filling the current one. */
#include "support/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lathe_arena_chunk {
  lathe_arena_chunk_t *next;
  size_t capacity;
  _Alignas(16) unsigned char data[];
};

enum { ALIGN = 16, MIN_CHUNK = 16 * 1024, MAX_CHUNK = 4 * 1024 * 1024 };

void lathe_arena_init(lathe_arena_t *arena) { memset(arena, 0, sizeof *arena); }

void lathe_arena_destroy(lathe_arena_t *arena) {
  if (!arena) return;
  lathe_arena_chunk_t *c = arena->chunks;
  while (c) {
    lathe_arena_chunk_t *next = c->next;
    free(c);
    c = next;
  }
  lathe_arena_init(arena);
}

static lathe_arena_chunk_t *new_chunk(size_t capacity) {
  if (capacity > SIZE_MAX - sizeof(lathe_arena_chunk_t)) return NULL;
  lathe_arena_chunk_t *c = malloc(sizeof *c + capacity);
  if (c) c->capacity = capacity;
  return c;
}

static void *try_alloc(lathe_arena_t *arena, size_t size) {
  if (size == 0) size = 1;
  if (size > SIZE_MAX - ALIGN) return NULL;
  size_t rounded = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
  lathe_arena_chunk_t *cur = arena->chunks;
  if (cur && cur->capacity - arena->used_in_current >= rounded) {
    void *p = cur->data + arena->used_in_current;
    arena->used_in_current += rounded;
    memset(p, 0, size);
    return p;
  }
  size_t want = arena->total_bytes < MIN_CHUNK ? MIN_CHUNK : arena->total_bytes;
  if (want > MAX_CHUNK) want = MAX_CHUNK;
  if (rounded > want / 2) {
    /* Oversized: its own chunk, linked behind the current one. */
    lathe_arena_chunk_t *big = new_chunk(rounded);
    if (!big) return NULL;
    arena->total_bytes += rounded;
    if (cur) {
      big->next = cur->next;
      cur->next = big;
    } else {
      big->next = NULL;
      arena->chunks = big;
      arena->used_in_current = rounded;
    }
    memset(big->data, 0, size);
    return big->data;
  }
  lathe_arena_chunk_t *c = new_chunk(want);
  if (!c) return NULL;
  c->next = cur;
  arena->chunks = c;
  arena->total_bytes += want;
  arena->used_in_current = rounded;
  memset(c->data, 0, size);
  return c->data;
}

static void out_of_memory(size_t size) {
  fprintf(stderr, "lathe: fatal: out of memory allocating %zu bytes\n", size);
  abort();
}

void *lathe_arena_alloc(lathe_arena_t *arena, size_t size) {
  void *p = try_alloc(arena, size);
  if (!p) out_of_memory(size);
  return p;
}

void *lathe_arena_try_alloc_array(lathe_arena_t *arena, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  return try_alloc(arena, count * size);
}

void *lathe_arena_alloc_array(lathe_arena_t *arena, size_t count, size_t size) {
  void *p = lathe_arena_try_alloc_array(arena, count, size);
  if (!p) out_of_memory(size && count > SIZE_MAX / size ? SIZE_MAX : count * size);
  return p;
}

void *lathe_arena_memdup(lathe_arena_t *arena, const void *data, size_t size) {
  void *p = lathe_arena_alloc(arena, size);
  if (size) memcpy(p, data, size);
  return p;
}

char *lathe_arena_strndup(lathe_arena_t *arena, const char *s, size_t n) {
  char *p = lathe_arena_alloc(arena, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *lathe_arena_strdup(lathe_arena_t *arena, const char *s) {
  return lathe_arena_strndup(arena, s, strlen(s));
}

char *lathe_arena_printf(lathe_arena_t *arena, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = lathe_arena_alloc(arena, (size_t)(n < 0 ? 0 : n) + 1);
  if (n > 0) vsnprintf(p, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return p;
}

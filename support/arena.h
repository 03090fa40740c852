/* A bump allocator for IR objects.
 *
 * IR nodes, attributes and strings live as long as the graph or module that
 * owns the arena and are never freed one by one: destroying the arena frees
 * them all. Allocations are 16-byte aligned and zero-filled.
 *
 * Fixed-size IR allocations abort on out-of-memory (there is no sensible
 * recovery halfway through building a node). Sizes that come from user input
 * (inline constants, dims) must go through lathe_arena_try_alloc, which returns
 * NULL instead, so the caller can report a status.
 *
 * Thread safety: none; one arena per thread or per graph.
 */
#ifndef LATHE_SUPPORT_ARENA_H
#define LATHE_SUPPORT_ARENA_H

#include <stddef.h>

typedef struct lathe_arena_chunk lathe_arena_chunk_t;

typedef struct lathe_arena {
  lathe_arena_chunk_t *chunks; /* newest first */
  size_t used_in_current;      /* bytes used in chunks->data */
  size_t total_bytes;          /* sum of all chunk capacities */
} lathe_arena_t;

void lathe_arena_init(lathe_arena_t *arena);
/* Frees every allocation; the arena may be reused after. NULL is fine. */
void lathe_arena_destroy(lathe_arena_t *arena);

/* Zero-filled, 16-byte aligned; aborts on out-of-memory. */
void *lathe_arena_alloc(lathe_arena_t *arena, size_t size);
/* Same, but returns NULL on out-of-memory or when count*size overflows. */
void *lathe_arena_try_alloc_array(lathe_arena_t *arena, size_t count, size_t size);
void *lathe_arena_alloc_array(lathe_arena_t *arena, size_t count, size_t size);
/* Copies `size` bytes into the arena. */
void *lathe_arena_memdup(lathe_arena_t *arena, const void *data, size_t size);
/* NUL-terminated copies. */
char *lathe_arena_strdup(lathe_arena_t *arena, const char *s);
char *lathe_arena_strndup(lathe_arena_t *arena, const char *s, size_t n);
char *lathe_arena_printf(lathe_arena_t *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LATHE_ARENA_NEW(arena, type) ((type *)lathe_arena_alloc((arena), sizeof(type)))
#define LATHE_ARENA_NEW_ARRAY(arena, type, n) \
  ((type *)lathe_arena_alloc_array((arena), (n), sizeof(type)))

#endif

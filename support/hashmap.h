/* An open-addressing hash map from byte-string keys to pointers.
 *
 * One structure serves every lookup table in the compiler: names to values in
 * the parser, interned symbols, CSE signatures, pointer-keyed side tables (use
 * the pointer's bytes as the key). Keys are copied into the map; values are
 * borrowed pointers the map never frees.
 *
 * Thread safety: none.
 */
#ifndef LATHE_SUPPORT_HASHMAP_H
#define LATHE_SUPPORT_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lathe_hashmap_entry {
  void *key; /* owned copy, NULL for an empty slot */
  size_t key_len;
  uint64_t hash;
  void *value;
} lathe_hashmap_entry_t;

typedef struct lathe_hashmap {
  lathe_hashmap_entry_t *slots;
  size_t capacity; /* power of two, or 0 */
  size_t count;
} lathe_hashmap_t;

void lathe_hashmap_init(lathe_hashmap_t *map);
void lathe_hashmap_destroy(lathe_hashmap_t *map);

/* Inserts or replaces. Returns false only on out-of-memory. */
bool lathe_hashmap_put(lathe_hashmap_t *map, const void *key, size_t key_len, void *value);
/* Returns true and sets *out_value when found. */
bool lathe_hashmap_get(const lathe_hashmap_t *map, const void *key, size_t key_len,
                       void **out_value);
/* Returns true when the key was present. */
bool lathe_hashmap_remove(lathe_hashmap_t *map, const void *key, size_t key_len);

/* Convenience wrappers for NUL-terminated string keys. */
bool lathe_hashmap_put_str(lathe_hashmap_t *map, const char *key, void *value);
void *lathe_hashmap_get_str(const lathe_hashmap_t *map, const char *key);

uint64_t lathe_hash_bytes(const void *data, size_t len);

#endif

/* Hash map: see hashmap.h. Linear probing with backward-shift deletion keeps
 * lookups tombstone-free; the table doubles at 70% load. FNV-1a hashing is
 * plenty for compiler-sized tables. */
#include "support/hashmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t lathe_hash_bytes(const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

void lathe_hashmap_init(lathe_hashmap_t *map) { memset(map, 0, sizeof *map); }

void lathe_hashmap_destroy(lathe_hashmap_t *map) {
  if (!map) return;
  for (size_t i = 0; i < map->capacity; ++i) free(map->slots[i].key);
  free(map->slots);
  lathe_hashmap_init(map);
}

static size_t find_slot(const lathe_hashmap_t *map, const void *key, size_t len, uint64_t h) {
  size_t mask = map->capacity - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const lathe_hashmap_entry_t *e = &map->slots[i];
    if (!e->key) return i;
    if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0) return i;
  }
}

static bool grow(lathe_hashmap_t *map) {
  size_t cap = map->capacity ? map->capacity * 2 : 16;
  lathe_hashmap_entry_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return false;
  lathe_hashmap_t bigger = {slots, cap, map->count};
  for (size_t i = 0; i < map->capacity; ++i) {
    lathe_hashmap_entry_t *e = &map->slots[i];
    if (e->key) bigger.slots[find_slot(&bigger, e->key, e->key_len, e->hash)] = *e;
  }
  free(map->slots);
  *map = bigger;
  return true;
}

bool lathe_hashmap_put(lathe_hashmap_t *map, const void *key, size_t key_len, void *value) {
  if ((map->count + 1) * 10 > map->capacity * 7 && !grow(map)) return false;
  uint64_t h = lathe_hash_bytes(key, key_len);
  lathe_hashmap_entry_t *e = &map->slots[find_slot(map, key, key_len, h)];
  if (e->key) {
    e->value = value;
    return true;
  }
  void *copy = malloc(key_len ? key_len : 1);
  if (!copy) return false;
  if (key_len) memcpy(copy, key, key_len);
  *e = (lathe_hashmap_entry_t){copy, key_len, h, value};
  map->count++;
  return true;
}

bool lathe_hashmap_get(const lathe_hashmap_t *map, const void *key, size_t key_len,
                       void **out_value) {
  if (!map->capacity) return false;
  const lathe_hashmap_entry_t *e =
      &map->slots[find_slot(map, key, key_len, lathe_hash_bytes(key, key_len))];
  if (!e->key) return false;
  if (out_value) *out_value = e->value;
  return true;
}

bool lathe_hashmap_remove(lathe_hashmap_t *map, const void *key, size_t key_len) {
  if (!map->capacity) return false;
  size_t mask = map->capacity - 1;
  size_t i = find_slot(map, key, key_len, lathe_hash_bytes(key, key_len));
  if (!map->slots[i].key) return false;
  free(map->slots[i].key);
  map->slots[i].key = NULL;
  map->count--;
  /* Backward shift: pull later members of the probe run into the hole. */
  for (size_t j = (i + 1) & mask; map->slots[j].key; j = (j + 1) & mask) {
    size_t home = map->slots[j].hash & mask;
    bool between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (!between) {
      map->slots[i] = map->slots[j];
      map->slots[j].key = NULL;
      i = j;
    }
  }
  return true;
}

bool lathe_hashmap_put_str(lathe_hashmap_t *map, const char *key, void *value) {
  return lathe_hashmap_put(map, key, strlen(key), value);
}

void *lathe_hashmap_get_str(const lathe_hashmap_t *map, const char *key) {
  void *v = NULL;
  return lathe_hashmap_get(map, key, strlen(key), &v) ? v : NULL;
}

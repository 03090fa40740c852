/* The buffer planner: packs temporaries with known sizes and live ranges
 * into one arena so that buffers alive at the same time never overlap, and
 * reports the arena's size (the program's peak temporary memory).
 *
 * Greedy by size (Pisarchyk and Lee, "Efficient Memory Management for Deep
 * Neural Net Inference", 2020): largest first, each into the smallest gap
 * left between the already-placed buffers whose live ranges intersect its
 * own, else just above them. Buffers that are never alive together may share
 * bytes. O(n^2) in the number of temporaries, which stays in the hundreds. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

typedef struct {
  uint64_t size; /* rounded up to LATHE_RT_ALIGNMENT */
  uint64_t offset;
  int32_t first, last;
  size_t index;
} slot_t;

/* Largest first; ties by earlier first use, then by input order, so that
 * the plan does not depend on qsort's instability. */
static int by_size_desc(const void *pa, const void *pb) {
  const slot_t *a = pa, *b = pb;
  if (a->size != b->size) return a->size > b->size ? -1 : 1;
  if (a->first != b->first) return a->first < b->first ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

static bool live_together(const slot_t *a, const slot_t *b) {
  return a->first <= b->last && b->first <= a->last;
}

static lathe_status_t check_items(const lathe_rt_plan_item_t *items, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (items[i].first < 0 || items[i].first > items[i].last)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "buffer plan item %zu has an invalid live range [%d, %d]", i,
                               (int)items[i].first, (int)items[i].last);
    if (items[i].bytes > UINT64_MAX - (LATHE_RT_ALIGNMENT - 1))
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE,
                               "buffer plan item %zu is too large (%llu bytes)", i,
                               (unsigned long long)items[i].bytes);
  }
  return NULL;
}

/* Places slots[k] (the slots before it are placed; `placed` lists their
 * positions in slots[] sorted by offset). */
static lathe_status_t place(slot_t *slots, size_t k, const size_t *placed, size_t num_placed) {
  slot_t *s = &slots[k];
  uint64_t end = 0, best = UINT64_MAX, best_gap = UINT64_MAX;
  for (size_t j = 0; j < num_placed; ++j) {
    const slot_t *p = &slots[placed[j]];
    if (!live_together(p, s)) continue;
    if (p->offset >= end) {
      uint64_t gap = p->offset - end;
      if (gap >= s->size && gap < best_gap) best = end, best_gap = gap;
    }
    if (p->offset + p->size > end) end = p->offset + p->size;
  }
  if (best == UINT64_MAX) {
    if (end > UINT64_MAX - s->size)
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "buffer plan exceeds 64-bit offsets");
    best = end;
  }
  s->offset = best;
  return NULL;
}

lathe_status_t lathe_rt_plan_buffers(const lathe_rt_plan_item_t *items, size_t count,
                                     uint64_t *out_offsets, uint64_t *out_peak_bytes) {
  LATHE_RETURN_IF_ERROR(check_items(items, count));
  if (count == 0) {
    *out_peak_bytes = 0;
    return NULL;
  }
  slot_t *slots = calloc(count, sizeof *slots);
  size_t *placed = calloc(count, sizeof *placed);
  if (!slots || !placed) {
    free(slots);
    free(placed);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory planning %zu buffers",
                             count);
  }
  for (size_t i = 0; i < count; ++i) {
    uint64_t a = LATHE_RT_ALIGNMENT;
    slots[i] = (slot_t){(items[i].bytes + a - 1) / a * a, 0, items[i].first, items[i].last, i};
  }
  qsort(slots, count, sizeof *slots, by_size_desc);

  lathe_status_t status = NULL;
  size_t num_placed = 0;
  uint64_t peak = 0;
  for (size_t k = 0; k < count && !status; ++k) {
    if (slots[k].size == 0) continue; /* offset 0, overlaps nothing */
    status = place(slots, k, placed, num_placed);
    if (status) break;
    /* Keep `placed` sorted by offset: insertion keeps it O(n) per item. */
    size_t pos = num_placed++;
    while (pos > 0 && slots[placed[pos - 1]].offset > slots[k].offset) {
      placed[pos] = placed[pos - 1];
      --pos;
    }
    placed[pos] = k;
    if (slots[k].offset + slots[k].size > peak) peak = slots[k].offset + slots[k].size;
  }
  if (!status) {
    for (size_t k = 0; k < count; ++k) out_offsets[slots[k].index] = slots[k].offset;
    *out_peak_bytes = peak;
  }
  free(slots);
  free(placed);
  return status;
}

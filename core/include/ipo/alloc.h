/* core/include/ipo/alloc.h — the in-region allocator: O(1) allocate and free, offsets only. */
#ifndef IPO_ALLOC_H
#define IPO_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "ipo/layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A process-local view of a heap: where the memory is mapped here and where
 * its root lies. The heap itself holds only offsets from `base`, so a heap in
 * plain process memory (tests) behaves exactly like one in shared memory. */
typedef struct ipo_heap {
    uint8_t          *base;
    ipo_alloc_root_t *root;
    uint64_t          span;   /* bytes mapped at base: no offset past it is followed */
} ipo_heap_t;

typedef struct ipo_alloc_stats {
    uint64_t heap_size;      /* bytes the heap spans, headers included */
    uint64_t free_bytes;     /* sum of free blocks, headers included */
    uint64_t largest_free;   /* the largest payload one allocation could get */
    uint64_t used_blocks;
    uint64_t free_blocks;
} ipo_alloc_stats_t;

/* Formats [start, start + size) of h->base as an empty heap; the root must
 * lie outside that range, and offset 0 (which means "none") too. start and
 * size are rounded inward to the granule; tag_key should be random. 0 or
 * -IPO_EINVAL when the range is too small for one block or outside span. */
int ipo_alloc_init(ipo_heap_t *h, ipo_off_t start, uint64_t size, uint64_t tag_key);

/* Allocates `size` payload bytes whose offset is a multiple of `align` (a
 * power of two; 16 or less means 16). 0 or -IPO_ENOMEM / -IPO_EINVAL; on
 * failure the heap is unchanged. */
int ipo_alloc(ipo_heap_t *h, uint64_t size, uint64_t align, ipo_off_t *out);

/* Frees a payload offset returned by ipo_alloc. 0, or -IPO_EBADOBJ when off
 * is not a live allocation (never allocated, already freed) or its
 * neighbours' boundary tags disagree with it: the heap is left untouched
 * then. Neighbouring free blocks are merged at once. */
int ipo_alloc_free(ipo_heap_t *h, ipo_off_t off);

/* 0 when off is a live allocation, else -IPO_EBADOBJ. Cheap: checks bounds,
 * alignment, the allocated flag and the block's tag. */
int ipo_alloc_validate(const ipo_heap_t *h, ipo_off_t off);

/* Payload bytes usable at a live allocation (at least what was asked). */
uint64_t ipo_alloc_usable_size(const ipo_heap_t *h, ipo_off_t off);

/* The figures of ipo_alloc_stats_t. Needs access, as every function here
 * does: the heap's fields are plain, ordered only by the access word. */
void ipo_alloc_stats(const ipo_heap_t *h, ipo_alloc_stats_t *st);

/* Walks every block and free list and verifies every invariant. 0 or
 * -IPO_ECORRUPT with a description in why (may be NULL). */
int ipo_alloc_check(const ipo_heap_t *h, char *why, size_t why_len);

/* After a holder died in its turn: rebuilds the free lists, bitmaps,
 * boundary tags and counters from a walk of the blocks (merging free
 * neighbours). 0, or -IPO_ECORRUPT (with why) when the blocks themselves
 * cannot be walked; nothing is changed then. */
int ipo_alloc_rebuild(ipo_heap_t *h, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* IPO_ALLOC_H */

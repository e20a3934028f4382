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
    /* The last request that found no room, as the allocator saw it at that
     * moment, for the error that reports it: the payload bytes looked for
     * (rounded up to the granule), their alignment, the largest payload at
     * that alignment that would have fitted (less than `size`), the largest
     * free payload at any alignment, and the free bytes in all. Set by a
     * failed ipo_alloc or by ipo_alloc_refuse; process-local, as this whole
     * struct is. */
    struct {
        uint64_t size, align, fit, largest, free_bytes;
    } refused;
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
 * power of two; 16 or less means 16). 0 or -IPO_ENOMEM / -IPO_EINVAL, or
 * -IPO_ECORRUPT when the block a free list gives is not a free block (a
 * damaged heap: nothing is written through it); on failure the heap is
 * unchanged. */
int ipo_alloc(ipo_heap_t *h, uint64_t size, uint64_t align, ipo_off_t *out);

/* Records a request that cannot be met in h->refused and returns
 * -IPO_ENOMEM: for callers that refuse a size before asking ipo_alloc (one
 * that could not fit the heap, or overflow), so that the report of every
 * -IPO_ENOMEM is the request's own. */
int ipo_alloc_refuse(ipo_heap_t *h, uint64_t size, uint64_t align);

/* The largest payload one allocation aligned to `align` could get now
 * (alignment gaps counted as ipo_alloc counts them): an allocation of `n`
 * bytes at that alignment succeeds exactly when round_up(n, 16) is at most
 * this. Walks the free lists of the largest classes: for reports, not for
 * the hot path. Needs access. */
uint64_t ipo_alloc_largest_fit(const ipo_heap_t *h, uint64_t align);

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

/* Calls fn(ctx, payload offset) for each allocated block, in address order,
 * and stops at the first non-zero return, which it gives back; or
 * -IPO_ECORRUPT where a block's size breaks the walk. Needs access. */
int ipo_alloc_for_each(const ipo_heap_t *h, int (*fn)(void *ctx, ipo_off_t payload), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* IPO_ALLOC_H */

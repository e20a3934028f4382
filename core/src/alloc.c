/* core/src/alloc.c — TLSF-style segregated-fit allocator over offsets, with boundary tags. */
/* The root and the block headers are read and written only by a holder of
 * access (or by the creator before the region is READY), so every load and
 * store here is plain: the access word's acquire and release order them
 * between holders. ipo_alloc_stats() needs access too. */
#include "ipo/alloc.h"

#include <stdio.h>
#include <string.h>

#include "crash_point.h"
#include "ipo/atomics.h"
#include "ipo/errors.h"

/* Before each store that keeps the block walk whole (or the lists
 * rebuildable from it): a crash point in test builds, and in every build a
 * compiler barrier, so that the order the crash points prove (the order of
 * the source) is the order of the instructions. A kill stops the process
 * between two instructions and the stores it executed stay, so no CPU
 * fence is needed: ipo_compiler_order() emits no instruction. */
#define WALK_POINT()          \
    do {                      \
        IPO_CRASH_POINT();    \
        ipo_compiler_order(); \
    } while (0)

#define GRANULE     ((uint64_t)IPO_ALLOC_GRANULE)
#define HDR         ((uint64_t)sizeof(ipo_block_t))
/* A free block must hold its header and its free-list links. */
#define MIN_BLOCK   (HDR + (uint64_t)sizeof(ipo_free_links_t))
#define SL_LOG2     IPO_ALLOC_SL_LOG2
#define SL_COUNT    IPO_ALLOC_SL_COUNT
/* Below this size the classes are linear, one per granule. */
#define SMALL_LIMIT ((uint64_t)SL_COUNT * GRANULE)

static inline ipo_block_t *block_at(const ipo_heap_t *h, ipo_off_t b)
{
    return (ipo_block_t *)(h->base + b);
}

static inline ipo_free_links_t *links_at(const ipo_heap_t *h, ipo_off_t b)
{
    return (ipo_free_links_t *)(h->base + b + HDR);
}

static inline uint64_t block_size(const ipo_block_t *blk)
{
    return blk->size_tag & IPO_BLOCK_SIZE_MASK;
}

static inline uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static inline unsigned msb64(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

static inline uint64_t tag_for(const ipo_heap_t *h, ipo_off_t b)
{
    return ipo_alloc_tag(h, b);
}

/* Whether n can be a free-list link: none (0), or a granule inside the heap. */
static int link_ok(const ipo_heap_t *h, ipo_off_t n)
{
    const ipo_alloc_root_t *root = h->root;
    return n == 0 || (n >= root->heap_start && n < root->heap_end && !(n & (GRANULE - 1)));
}

/* Whether the root's heap bounds lie inside the mapping, as attach found
 * them: one compare before an operation follows anything in the heap (every
 * block it reaches ends at or before heap_end, whose sentinel header must
 * be mapped). */
static inline int heap_ok(const ipo_heap_t *h)
{
    const ipo_alloc_root_t *root = h->root;
    return root->heap_start < root->heap_end && root->heap_end <= h->span - HDR;
}

/* How many steps a scan of free lists may take: no more than the blocks the
 * heap can hold, whatever the (shared, so untrusted) count says, so that a
 * cycle in a damaged list cannot hold access for 2^64 steps. */
static uint64_t scan_budget(const ipo_heap_t *h)
{
    const ipo_alloc_root_t *root = h->root;
    uint64_t most = (root->heap_end - root->heap_start) / MIN_BLOCK;
    return root->free_blocks < most ? root->free_blocks : most;
}

/* The next block of a free list, or 0 at its end or at a damaged link. A
 * scan also stops after `*budget` steps, so a cycle cannot hang it. */
static ipo_off_t next_free(const ipo_heap_t *h, ipo_off_t b, uint64_t *budget)
{
    if (!*budget)
        return 0;
    --*budget;
    ipo_off_t n = links_at(h, b)->next;
    return link_ok(h, n) ? n : 0;
}

/* Whether a free block at b of `size` bytes can hold `need` bytes whose
 * payload is aligned to `align`, counting the gap a split would leave. */
static int fits(ipo_off_t b, uint64_t size, uint64_t need, uint64_t align)
{
    uint64_t gap = round_up(b + HDR, align) - HDR - b;
    if (gap && gap < MIN_BLOCK)
        gap += align;
    return size >= gap && size - gap >= need;
}

/* The class that holds blocks of exactly `size` bytes. */
static void class_of(uint64_t size, unsigned *fl, unsigned *sl)
{
    if (size < SMALL_LIMIT) {
        *fl = 0;
        *sl = (unsigned)(size / GRANULE);
    } else {
        unsigned f = msb64(size);
        *fl = f - (SL_LOG2 + 4) + 1;
        *sl = (unsigned)(size >> (f - SL_LOG2)) ^ SL_COUNT;
    }
}

/* The first class whose every block is at least `size` bytes: rounding up to
 * the next class boundary is what makes the search O(1) without a list walk. */
static void class_at_least(uint64_t size, unsigned *fl, unsigned *sl)
{
    if (size >= SMALL_LIMIT)
        size += (UINT64_C(1) << (msb64(size) - SL_LOG2)) - 1;
    class_of(size, fl, sl);
}

static void list_insert(ipo_heap_t *h, ipo_off_t b)
{
    ipo_alloc_root_t *root = h->root;
    unsigned fl, sl;
    class_of(block_size(block_at(h, b)), &fl, &sl);
    ipo_off_t head = root->free_heads[fl][sl];
    /* A head outside the heap (a damaged root) is not followed: the list
     * restarts at b, and check() reports the blocks it lost. */
    if (!link_ok(h, head))
        head = 0;
    ipo_free_links_t *l = links_at(h, b);
    WALK_POINT();
    l->next = head;
    WALK_POINT();
    l->prev = 0;
    if (head) {
        WALK_POINT();
        links_at(h, head)->prev = b;
    }
    WALK_POINT();
    root->free_heads[fl][sl] = b;
    WALK_POINT();
    root->sl_bitmap[fl] |= UINT32_C(1) << sl;
    WALK_POINT();
    root->fl_bitmap |= UINT64_C(1) << fl;
    WALK_POINT();
    root->free_blocks++;
    WALK_POINT();
    root->free_bytes += block_size(block_at(h, b));
}

static void list_remove(ipo_heap_t *h, ipo_off_t b)
{
    ipo_alloc_root_t *root = h->root;
    unsigned fl, sl;
    class_of(block_size(block_at(h, b)), &fl, &sl);
    ipo_free_links_t *l = links_at(h, b);
    if (l->next) {
        WALK_POINT();
        links_at(h, l->next)->prev = l->prev;
    }
    if (l->prev) {
        WALK_POINT();
        links_at(h, l->prev)->next = l->next;
    } else {
        WALK_POINT();
        root->free_heads[fl][sl] = l->next;
        if (!l->next) {
            WALK_POINT();
            root->sl_bitmap[fl] &= ~(UINT32_C(1) << sl);
            if (!root->sl_bitmap[fl]) {
                WALK_POINT();
                root->fl_bitmap &= ~(UINT64_C(1) << fl);
            }
        }
    }
    WALK_POINT();
    root->free_blocks--;
    WALK_POINT();
    root->free_bytes -= block_size(block_at(h, b));
}

/* What find_free() gives for a class whose bitmap bit is set but whose list
 * is empty: a damaged root, never a real offset (not a granule). */
#define DAMAGED_CLASS (~(ipo_off_t)0)

/* A free block from the first non-empty class at or above (fl, sl), 0, or
 * DAMAGED_CLASS. */
static ipo_off_t find_free(const ipo_heap_t *h, unsigned fl, unsigned sl)
{
    const ipo_alloc_root_t *root = h->root;
    if (fl >= IPO_ALLOC_FL_COUNT)
        return 0;
    uint32_t slmap = root->sl_bitmap[fl] & (~UINT32_C(0) << sl);
    if (!slmap) {
        /* Only classes that exist: a damaged bitmap must not index past them. */
        uint64_t valid = (UINT64_C(1) << IPO_ALLOC_FL_COUNT) - 1;
        uint64_t flmap = root->fl_bitmap & valid & (~UINT64_C(0) << (fl + 1));
        if (!flmap)
            return 0;
        fl = (unsigned)__builtin_ctzll(flmap);
        slmap = root->sl_bitmap[fl];
        if (!slmap)
            return DAMAGED_CLASS; /* the two levels disagree */
    }
    sl = (unsigned)__builtin_ctz(slmap);
    ipo_off_t b = root->free_heads[fl][sl];
    return b ? b : DAMAGED_CLASS;
}

/* Writes a free block's header and tells its physical successor about it. */
static void mark_free(ipo_heap_t *h, ipo_off_t b, uint64_t size, uint64_t prev_free_flag)
{
    WALK_POINT();
    block_at(h, b)->size_tag = size | IPO_BLOCK_FREE | prev_free_flag;
    ipo_block_t *next = block_at(h, b + size);
    WALK_POINT();
    next->prev_size = size;
    WALK_POINT();
    next->size_tag |= IPO_BLOCK_PREV_FREE;
}

/* Whether blocks of sizes a and b are filed in the same class. */
static int same_class(uint64_t a, uint64_t b)
{
    unsigned fa, sa, fb, sb;
    class_of(a, &fa, &sa);
    class_of(b, &fb, &sb);
    return fa == fb && sa == sb;
}

/* Allocates the last `need` bytes of the free block b (of bsize bytes),
 * which stays free, and where it is filed, because its smaller size is of
 * the same class: no list, bitmap or head is written, and neither is the
 * line after b's old end but for one flag. A small message made and
 * destroyed turn after turn by two processes then moves only b's header,
 * its own block and its successor's header between their caches, not the
 * root's lists (issue 12). The block's header is written inside b, where a
 * walk does not look; shrinking b publishes it; its tag, last, hands it
 * out (a kill before leaves an untagged block, which ipo_alloc_rebuild
 * frees and merges back into b). Returns the new block. */
static ipo_off_t carve_end(ipo_heap_t *h, ipo_off_t b, uint64_t bsize, uint64_t need)
{
    ipo_alloc_root_t *root = h->root;
    uint64_t rest = bsize - need;
    ipo_off_t nb = b + rest;
    ipo_block_t *blk = block_at(h, b), *nblk = block_at(h, nb);
    WALK_POINT();
    nblk->prev_size = rest;
    WALK_POINT();
    nblk->size_tag = need | IPO_BLOCK_PREV_FREE;
    WALK_POINT();
    blk->size_tag = rest | IPO_BLOCK_FREE | (blk->size_tag & IPO_BLOCK_PREV_FREE);
    WALK_POINT();
    block_at(h, nb + need)->size_tag &= ~IPO_BLOCK_PREV_FREE;
    WALK_POINT();
    nblk->size_tag = need | IPO_BLOCK_PREV_FREE | (tag_for(h, nb) << IPO_BLOCK_TAG_SHIFT);
    WALK_POINT();
    root->free_bytes -= need;
    WALK_POINT();
    root->used_blocks++;
    return nb;
}

int ipo_alloc_init(ipo_heap_t *h, ipo_off_t start, uint64_t size, uint64_t tag_key)
{
    ipo_off_t first = round_up(start, GRANULE);
    if (start == 0 || size < first - start || start + size > h->span)
        return -IPO_EINVAL;
    ipo_off_t end = (start + size) & ~(GRANULE - 1);
    if (end < first + MIN_BLOCK + HDR)
        return -IPO_EINVAL;

    ipo_alloc_root_t *root = h->root;
    memset(root, 0, sizeof(*root));
    root->tag_key = tag_key;
    root->heap_start = first;
    root->heap_end = end - HDR;

    /* The sentinel: a zero-size block that is never free, so merging with a
     * physical successor needs no bounds test. */
    ipo_block_t *sentinel = block_at(h, root->heap_end);
    sentinel->prev_size = 0;
    sentinel->size_tag = 0;

    ipo_block_t *blk = block_at(h, first);
    blk->prev_size = 0;
    mark_free(h, first, root->heap_end - first, 0);
    list_insert(h, first);
    return 0;
}

static int free_neighbour_ok(const ipo_heap_t *h, ipo_off_t n, uint64_t size);

int ipo_alloc(ipo_heap_t *h, uint64_t size, uint64_t align, ipo_off_t *out)
{
    ipo_alloc_root_t *root = h->root;
    if (!heap_ok(h))
        return -IPO_ECORRUPT;
    if (align < GRANULE)
        align = GRANULE;
    if (align & (align - 1))
        return -IPO_EINVAL;
    uint64_t heap_size = root->heap_end - root->heap_start;
    if (size > heap_size || align > heap_size)
        return ipo_alloc_refuse(h, size, align);

    uint64_t need = round_up(size, GRANULE) + HDR;
    if (need < MIN_BLOCK)
        need = MIN_BLOCK;
    /* An over-aligned payload may need a gap before it; the gap becomes a
     * free block of its own, so it is either 0 or at least MIN_BLOCK. */
    uint64_t search = align > GRANULE ? need + align + MIN_BLOCK : need;

    unsigned fl, sl;
    class_at_least(search, &fl, &sl);
    ipo_off_t b = find_free(h, fl, sl);
    if (b == DAMAGED_CLASS)
        return -IPO_ECORRUPT;
    if (!b) {
        /* Rounding up to a class boundary skips the blocks of the request's
         * own class, some of which may fit (an aligned request may fit with a
         * smaller gap than the worst case searched for). Look there before
         * failing, so that ENOMEM means that no free block fits. */
        unsigned lo_fl, lo_sl;
        class_of(need, &lo_fl, &lo_sl);
        unsigned first = lo_fl * SL_COUNT + lo_sl;
        unsigned last = fl * SL_COUNT + sl; /* exclusive: searched already */
        uint64_t budget = scan_budget(h);
        for (unsigned c = first; !b && c < last && c < IPO_ALLOC_FL_COUNT * SL_COUNT; c++) {
            unsigned f = c / SL_COUNT, s = c % SL_COUNT;
            if (!(root->sl_bitmap[f] & (UINT32_C(1) << s)))
                continue;
            b = root->free_heads[f][s];
            for (; b && link_ok(h, b); b = next_free(h, b, &budget))
                if (fits(b, block_size(block_at(h, b)), need, align))
                    break;
            if (b && !link_ok(h, b))
                b = 0;
        }
        if (!b)
            return ipo_alloc_refuse(h, size, align);
    }
    /* The block came from a shared list: before the list surgery and the
     * split write through it, it must be a free block of its size, inside
     * the heap, linked both ways. A few compares; a damaged heap is
     * -IPO_ECORRUPT (the lists can be rebuilt from a walk), never a write
     * outside it. */
    if (!link_ok(h, b) || !free_neighbour_ok(h, b, block_size(block_at(h, b))))
        return -IPO_ECORRUPT;

    uint64_t bsize = block_size(block_at(h, b));
    /* The class b is filed in (find_free) promised room for the request,
     * but b is checked only against its own class: a block also named as
     * the head of a larger one (a damaged root) is smaller than asked, and
     * bsize - need would wrap into a split past its end. */
    if (!fits(b, bsize, need, align))
        return -IPO_ECORRUPT;
    if (align == GRANULE && bsize - need >= MIN_BLOCK && same_class(bsize, bsize - need)) {
        *out = carve_end(h, b, bsize, need) + HDR;
        return 0;
    }
    list_remove(h, b);
    /* b was free, so immediate coalescing guarantees its predecessor is not. */
    if (align > GRANULE) {
        ipo_off_t payload = round_up(b + HDR, align);
        uint64_t gap = payload - HDR - b;
        if (gap && gap < MIN_BLOCK)
            gap += align;
        if (gap) {
            /* The new block's header first, inside b's payload where a
             * walk does not look; then shrinking b publishes it. A holder
             * killed between the two leaves b whole (see the walk rule at
             * ipo_alloc_rebuild). */
            ipo_off_t nb = b + gap;
            WALK_POINT();
            block_at(h, nb)->prev_size = gap;
            WALK_POINT();
            block_at(h, nb)->size_tag = (bsize - gap) | IPO_BLOCK_PREV_FREE;
            WALK_POINT();
            block_at(h, b)->size_tag = gap | IPO_BLOCK_FREE;
            list_insert(h, b);
            b = nb;
            bsize -= gap;
        }
    }

    uint64_t prev_flag = block_at(h, b)->size_tag & IPO_BLOCK_PREV_FREE;
    if (bsize - need >= MIN_BLOCK) {
        ipo_off_t rest = b + need;
        WALK_POINT();
        block_at(h, rest)->prev_size = 0;
        mark_free(h, rest, bsize - need, 0);
        list_insert(h, rest);
        bsize = need;
    } else {
        WALK_POINT();
        block_at(h, b + bsize)->size_tag &= ~IPO_BLOCK_PREV_FREE;
    }
    WALK_POINT();
    block_at(h, b)->size_tag = bsize | prev_flag | (tag_for(h, b) << IPO_BLOCK_TAG_SHIFT);
    WALK_POINT();
    root->used_blocks++;
    *out = b + HDR;
    return 0;
}

int ipo_alloc_validate(const ipo_heap_t *h, ipo_off_t off)
{
    uint64_t usable;
    return ipo_alloc_live(h, off, &usable) ? 0 : -IPO_EBADOBJ;
}

uint64_t ipo_alloc_usable_size(const ipo_heap_t *h, ipo_off_t off)
{
    return block_size(block_at(h, off - HDR)) - HDR;
}

/* Whether a neighbour named by a boundary tag really is a free block of
 * that size, filed where its links say: a forged or stale offset must not
 * steer list surgery. */
static int free_neighbour_ok(const ipo_heap_t *h, ipo_off_t n, uint64_t size)
{
    const ipo_alloc_root_t *root = h->root;
    if (!link_ok(h, n) || n == 0 || size < MIN_BLOCK || size > root->heap_end - n)
        return 0;
    const ipo_block_t *blk = block_at(h, n);
    if (!(blk->size_tag & IPO_BLOCK_FREE) || block_size(blk) != size)
        return 0;
    /* Its successor carries its boundary tag. */
    const ipo_block_t *succ = block_at(h, n + size);
    if (!(succ->size_tag & IPO_BLOCK_PREV_FREE) || succ->prev_size != size)
        return 0;
    /* Its list neighbours point back at it. */
    const ipo_free_links_t *l = links_at(h, n);
    if (!link_ok(h, l->next) || !link_ok(h, l->prev))
        return 0;
    if (l->next && links_at(h, l->next)->prev != n)
        return 0;
    if (l->prev)
        return links_at(h, l->prev)->next == n;
    unsigned fl, sl;
    class_of(size, &fl, &sl);
    return fl < IPO_ALLOC_FL_COUNT && root->free_heads[fl][sl] == n;
}

/* Frees the block b (of size bytes) into its free predecessor, whose
 * larger size is of the same class: the predecessor grows where it is
 * filed, and no list, bitmap or head is written (carve_end()'s inverse).
 * Its header first, which covers b for a walk; then b's successor learns
 * of its free predecessor; b's header, absorbed, is cleared last. */
static void grow_prev(ipo_heap_t *h, ipo_off_t b, uint64_t size)
{
    ipo_alloc_root_t *root = h->root;
    ipo_block_t *blk = block_at(h, b);
    ipo_off_t start = b - blk->prev_size;
    mark_free(h, start, blk->prev_size + size, block_at(h, start)->size_tag & IPO_BLOCK_PREV_FREE);
    WALK_POINT();
    blk->size_tag = 0; /* absorbed: never valid again */
    WALK_POINT();
    root->free_bytes += size;
    WALK_POINT();
    root->used_blocks--;
}

int ipo_alloc_free(ipo_heap_t *h, ipo_off_t off)
{
    if (!heap_ok(h))
        return -IPO_EBADOBJ;
    int rc = ipo_alloc_validate(h, off);
    if (rc)
        return rc;

    ipo_alloc_root_t *root = h->root;
    ipo_off_t b = off - HDR;
    ipo_block_t *blk = block_at(h, b);
    uint64_t size = block_size(blk);
    uint64_t prev_flag = blk->size_tag & IPO_BLOCK_PREV_FREE;
    ipo_off_t next = b + size;
    ipo_block_t *nblk = block_at(h, next);
    int merge_next = (nblk->size_tag & IPO_BLOCK_FREE) != 0;

    /* Check every neighbour before changing anything. */
    if (prev_flag && (blk->prev_size > b || !free_neighbour_ok(h, b - blk->prev_size, blk->prev_size)))
        return -IPO_EBADOBJ;
    if (nblk->size_tag & IPO_BLOCK_PREV_FREE)
        return -IPO_EBADOBJ; /* our successor thinks we are free already */
    if (merge_next && !free_neighbour_ok(h, next, block_size(nblk)))
        return -IPO_EBADOBJ;

    /* The merged block's header is written before the headers it absorbs
     * are cleared: a walk then always steps from a whole header to a whole
     * header, whichever store a kill stops at (ipo_alloc_rebuild). */
    if (prev_flag && !merge_next && same_class(blk->prev_size, blk->prev_size + size)) {
        grow_prev(h, b, size);
        return 0;
    }
    ipo_off_t start = b;
    if (prev_flag) {
        start = b - blk->prev_size;
        list_remove(h, start);
        size += blk->prev_size;
        /* The predecessor was free, so its own predecessor is not. */
        prev_flag = 0;
    }
    if (merge_next) {
        list_remove(h, next);
        size += block_size(nblk);
    }
    mark_free(h, start, size, prev_flag);
    if (start != b) {
        WALK_POINT();
        blk->size_tag = 0; /* absorbed: never valid again */
    }
    if (merge_next) {
        WALK_POINT();
        nblk->size_tag = 0;
    }
    list_insert(h, start);
    WALK_POINT();
    root->used_blocks--;
    return 0;
}

void ipo_alloc_stats(const ipo_heap_t *h, ipo_alloc_stats_t *st)
{
    const ipo_alloc_root_t *root = h->root;
    st->heap_size = root->heap_end + HDR - root->heap_start;
    st->free_bytes = root->free_bytes;
    st->used_blocks = root->used_blocks;
    st->free_blocks = root->free_blocks;
    st->largest_free = 0;
    if (!root->fl_bitmap)
        return;
    /* The largest block is in the highest non-empty class; that class spans
     * a range of sizes, so its list is scanned. This is for tools and error
     * messages, never the hot path. */
    unsigned fl = msb64(root->fl_bitmap);
    if (fl >= IPO_ALLOC_FL_COUNT || !root->sl_bitmap[fl])
        return; /* inconsistent bitmaps: ipo_alloc_check says more */
    unsigned sl = 31u - (unsigned)__builtin_clz(root->sl_bitmap[fl]);
    if (!heap_ok(h))
        return;
    uint64_t largest = 0, budget = scan_budget(h);
    ipo_off_t head = root->free_heads[fl][sl];
    for (ipo_off_t b = link_ok(h, head) ? head : 0; b; b = next_free(h, b, &budget)) {
        uint64_t s = block_size(block_at(h, b));
        if (s > largest)
            largest = s;
    }
    st->largest_free = largest > HDR ? largest - HDR : 0;
}

/* ---- reports of a request that found no room ------------------------------------ */

/* The first size past every block of class (fl, sl). */
static uint64_t class_limit(unsigned fl, unsigned sl)
{
    if (fl == 0)
        return (uint64_t)(sl + 1) * GRANULE;
    /* The inverse of class_of(): the class's blocks have their top bit at
     * msb and the next SL_LOG2 bits equal to sl. */
    unsigned msb = fl + SL_LOG2 + 3;
    return (uint64_t)(SL_COUNT + sl + 1) << (msb - SL_LOG2);
}

uint64_t ipo_alloc_largest_fit(const ipo_heap_t *h, uint64_t align)
{
    const ipo_alloc_root_t *root = h->root;
    if (align < GRANULE)
        align = GRANULE;
    if (!heap_ok(h))
        return 0;
    uint64_t best = 0, budget = scan_budget(h);
    /* From the largest class down, until a class's largest possible block
     * could not beat what was found: a block of a higher class always holds
     * more, but an alignment gap can make a lower one the better fit. */
    for (unsigned c = IPO_ALLOC_FL_COUNT * SL_COUNT; c-- > 0;) {
        unsigned fl = c / SL_COUNT, sl = c % SL_COUNT;
        if (class_limit(fl, sl) <= best + HDR)
            break;
        if (!(root->sl_bitmap[fl] & (UINT32_C(1) << sl)))
            continue;
        ipo_off_t head = root->free_heads[fl][sl];
        for (ipo_off_t b = link_ok(h, head) ? head : 0; b; b = next_free(h, b, &budget)) {
            uint64_t size = block_size(block_at(h, b));
            if (size > root->heap_end - b)
                continue; /* a damaged block: ipo_alloc_check says more */
            uint64_t gap = align > GRANULE ? round_up(b + HDR, align) - HDR - b : 0;
            if (gap && gap < MIN_BLOCK)
                gap += align;
            if (size >= gap + MIN_BLOCK && size - gap - HDR > best)
                best = size - gap - HDR;
        }
    }
    return best;
}

int ipo_alloc_refuse(ipo_heap_t *h, uint64_t size, uint64_t align)
{
    h->refused.size = size > UINT64_MAX - GRANULE ? size : round_up(size, GRANULE);
    h->refused.align = align < GRANULE ? GRANULE : align;
    h->refused.fit = ipo_alloc_largest_fit(h, h->refused.align);
    h->refused.largest = h->refused.align > GRANULE ? ipo_alloc_largest_fit(h, GRANULE) : h->refused.fit;
    h->refused.free_bytes = h->root->free_bytes;
    return -IPO_ENOMEM;
}

#define FAIL(...) do { if (why) snprintf(why, why_len, __VA_ARGS__); return -IPO_ECORRUPT; } while (0)

int ipo_alloc_check(const ipo_heap_t *h, char *why, size_t why_len)
{
    const ipo_alloc_root_t *root = h->root;
    if ((root->heap_start & (GRANULE - 1)) || (root->heap_end & (GRANULE - 1)) ||
        root->heap_end <= root->heap_start || root->heap_start == 0 ||
        root->heap_end > h->span - HDR)
        FAIL("heap bounds [%llu, %llu) are invalid",
             (unsigned long long)root->heap_start, (unsigned long long)root->heap_end);

    uint64_t free_count = 0, used_count = 0, free_bytes = 0;
    int prev_free = 0;
    uint64_t prev_size = 0;
    ipo_off_t b = root->heap_start;
    while (b < root->heap_end) {
        const ipo_block_t *blk = block_at(h, b);
        uint64_t size = block_size(blk);
        int is_free = (blk->size_tag & IPO_BLOCK_FREE) != 0;
        if (size < MIN_BLOCK || size > root->heap_end - b)
            FAIL("block at %llu has size %llu", (unsigned long long)b, (unsigned long long)size);
        if (((blk->size_tag & IPO_BLOCK_PREV_FREE) != 0) != prev_free)
            FAIL("block at %llu: prev-free flag disagrees with its predecessor", (unsigned long long)b);
        if (prev_free && blk->prev_size != prev_size)
            FAIL("block at %llu: boundary tag says %llu, predecessor has %llu",
                 (unsigned long long)b, (unsigned long long)blk->prev_size, (unsigned long long)prev_size);
        if (is_free && prev_free)
            FAIL("blocks before %llu are free and adjacent: not coalesced", (unsigned long long)b);
        if (is_free) {
            free_count++;
            free_bytes += size;
            unsigned fl, sl;
            class_of(size, &fl, &sl);
            if (!(root->sl_bitmap[fl] & (UINT32_C(1) << sl)))
                FAIL("free block at %llu is in an empty class", (unsigned long long)b);
        } else {
            used_count++;
            if ((blk->size_tag >> IPO_BLOCK_TAG_SHIFT) != tag_for(h, b))
                FAIL("allocated block at %llu has a wrong tag", (unsigned long long)b);
        }
        prev_free = is_free;
        prev_size = size;
        b += size;
    }
    if (b != root->heap_end)
        FAIL("block walk ends at %llu, not at the sentinel %llu",
             (unsigned long long)b, (unsigned long long)root->heap_end);
    const ipo_block_t *sentinel = block_at(h, root->heap_end);
    if (block_size(sentinel) != 0 || (sentinel->size_tag & IPO_BLOCK_FREE))
        FAIL("the sentinel block is damaged");
    if (((sentinel->size_tag & IPO_BLOCK_PREV_FREE) != 0) != prev_free)
        FAIL("the sentinel's prev-free flag disagrees with the last block");

    uint64_t listed = 0;
    for (unsigned fl = 0; fl < IPO_ALLOC_FL_COUNT; fl++) {
        if (((root->fl_bitmap >> fl) & 1) != (root->sl_bitmap[fl] != 0))
            FAIL("first-level bitmap bit %u disagrees with its second level", fl);
        for (unsigned sl = 0; sl < SL_COUNT; sl++) {
            ipo_off_t head = root->free_heads[fl][sl];
            if (((root->sl_bitmap[fl] >> sl) & 1) != (head != 0))
                FAIL("bitmap bit (%u, %u) disagrees with its list", fl, sl);
            ipo_off_t prev = 0;
            for (ipo_off_t n = head; n; n = links_at(h, n)->next) {
                if (++listed > free_count)
                    FAIL("free lists hold more entries than the %llu free blocks",
                         (unsigned long long)free_count);
                if (n < root->heap_start || n >= root->heap_end || (n & (GRANULE - 1)))
                    FAIL("free list (%u, %u) points outside the heap", fl, sl);
                const ipo_block_t *blk = block_at(h, n);
                if (!(blk->size_tag & IPO_BLOCK_FREE))
                    FAIL("free list (%u, %u) holds allocated block %llu", fl, sl, (unsigned long long)n);
                uint64_t size = block_size(blk);
                if (size < MIN_BLOCK || size > root->heap_end - n)
                    FAIL("free list (%u, %u) holds block %llu of size %llu", fl, sl,
                         (unsigned long long)n, (unsigned long long)size);
                /* A real free block's successor carries its boundary tag; a
                 * stale header left in a list would not. */
                const ipo_block_t *succ = block_at(h, n + size);
                if (!(succ->size_tag & IPO_BLOCK_PREV_FREE) || succ->prev_size != size)
                    FAIL("free list (%u, %u) holds %llu, which is not a block boundary",
                         fl, sl, (unsigned long long)n);
                unsigned f2, s2;
                class_of(size, &f2, &s2);
                if (f2 != fl || s2 != sl)
                    FAIL("block %llu is filed in the wrong class", (unsigned long long)n);
                if (links_at(h, n)->prev != prev)
                    FAIL("free list (%u, %u) has a broken back link at %llu", fl, sl, (unsigned long long)n);
                prev = n;
            }
        }
    }
    if (listed != free_count)
        FAIL("free lists hold %llu blocks, the heap %llu", (unsigned long long)listed,
             (unsigned long long)free_count);
    if (root->free_blocks != free_count || root->used_blocks != used_count ||
        root->free_bytes != free_bytes)
        FAIL("statistics disagree with the heap: free %llu/%llu blocks, used %llu/%llu, free bytes %llu/%llu",
             (unsigned long long)root->free_blocks, (unsigned long long)free_count,
             (unsigned long long)root->used_blocks, (unsigned long long)used_count,
             (unsigned long long)root->free_bytes, (unsigned long long)free_bytes);
    return 0;
}

/* ---- rebuilding after a holder died ---------------------------------------------- */

/* A holder killed in the middle of ipo_alloc or ipo_alloc_free leaves the
 * lists, bitmaps and counters half-changed, but never the chain of block
 * sizes: every store that changes a size makes the walk step from a whole
 * header to a whole header (a new header is written inside a block before
 * the store that makes it a block boundary; an absorbed header is cleared
 * only after the merged header covers it). So the walk is the truth, and
 * everything else is derived from it here: adjacent free blocks are merged,
 * each block's PREV_FREE flag and boundary tag set, the lists, bitmaps and
 * counters filled anew. A free flag is kept as the walk finds it, but for
 * a block without its allocation tag, which ipo_alloc had not handed out
 * yet: free. A block handed out in a turn the kill cut short, and not yet
 * linked into anything, stays allocated and leaks (nothing names it). */
int ipo_alloc_rebuild(ipo_heap_t *h, char *why, size_t why_len)
{
    ipo_alloc_root_t *root = h->root;
    if ((root->heap_start & (GRANULE - 1)) || (root->heap_end & (GRANULE - 1)) ||
        root->heap_end <= root->heap_start || root->heap_start == 0 ||
        root->heap_end + HDR > h->span)
        FAIL("heap bounds [%llu, %llu) are invalid: the heap cannot be rebuilt",
             (unsigned long long)root->heap_start, (unsigned long long)root->heap_end);
    /* First a walk that changes nothing, so that a heap that cannot be
     * walked is reported, not half rebuilt. */
    ipo_off_t b = root->heap_start;
    while (b < root->heap_end) {
        uint64_t size = block_size(block_at(h, b));
        if (size < MIN_BLOCK || size > root->heap_end - b)
            FAIL("block at %llu has size %llu: the heap cannot be rebuilt",
                 (unsigned long long)b, (unsigned long long)size);
        b += size;
    }
    if (b != root->heap_end)
        FAIL("block walk ends at %llu, not at the sentinel %llu",
             (unsigned long long)b, (unsigned long long)root->heap_end);

    root->fl_bitmap = 0;
    memset(root->sl_bitmap, 0, sizeof(root->sl_bitmap));
    memset(root->free_heads, 0, sizeof(root->free_heads));
    root->free_blocks = 0;
    root->free_bytes = 0;
    root->used_blocks = 0;
    ipo_off_t free_run = 0; /* the free block being grown, or 0 */
    uint64_t prev_flag = 0;
    for (b = root->heap_start; b < root->heap_end;) {
        ipo_block_t *blk = block_at(h, b);
        uint64_t size = block_size(blk);
        /* ipo_alloc gives a block its tag in its last store: a block split
         * off but without its tag yet was never handed out. It is free. */
        if (!(blk->size_tag & IPO_BLOCK_FREE) && (blk->size_tag >> IPO_BLOCK_TAG_SHIFT) != tag_for(h, b))
            blk->size_tag |= IPO_BLOCK_FREE;
        if (blk->size_tag & IPO_BLOCK_FREE) {
            if (free_run) {
                /* Two free neighbours (a merge the kill cut short): one block. */
                uint64_t grown = block_size(block_at(h, free_run)) + size;
                block_at(h, free_run)->size_tag = grown | IPO_BLOCK_FREE | prev_flag;
                blk->size_tag = 0;
            } else {
                free_run = b;
                blk->size_tag = size | IPO_BLOCK_FREE | prev_flag;
            }
        } else {
            if (free_run) {
                mark_free(h, free_run, block_size(block_at(h, free_run)),
                          block_at(h, free_run)->size_tag & IPO_BLOCK_PREV_FREE);
                list_insert(h, free_run);
                free_run = 0;
                prev_flag = IPO_BLOCK_PREV_FREE;
            } else {
                prev_flag = 0;
            }
            blk->size_tag = (blk->size_tag & ~IPO_BLOCK_PREV_FREE) | prev_flag;
            root->used_blocks++;
            prev_flag = 0;
        }
        b += size;
    }
    ipo_block_t *sentinel = block_at(h, root->heap_end);
    sentinel->size_tag = 0;
    if (free_run) {
        mark_free(h, free_run, block_size(block_at(h, free_run)),
                  block_at(h, free_run)->size_tag & IPO_BLOCK_PREV_FREE);
        list_insert(h, free_run);
    }
    return 0;
}

int ipo_alloc_for_each(const ipo_heap_t *h, int (*fn)(void *ctx, ipo_off_t payload), void *ctx)
{
    if (!heap_ok(h))
        return -IPO_ECORRUPT;
    /* The bounds read once, as heap_ok() checked them: a tool walks without
     * access, and a bound read again could have changed. */
    const ipo_alloc_root_t *root = h->root;
    const ipo_off_t start = root->heap_start, end = root->heap_end;
    if (start >= end || end > h->span - HDR)
        return -IPO_ECORRUPT;
    for (ipo_off_t b = start; b < end;) {
        const ipo_block_t *blk = block_at(h, b);
        uint64_t size = block_size(blk);
        if (size < MIN_BLOCK || size > end - b)
            return -IPO_ECORRUPT;
        if (!(blk->size_tag & IPO_BLOCK_FREE)) {
            int rc = fn(ctx, b + HDR);
            if (rc)
                return rc;
        }
        b += size;
    }
    return 0;
}

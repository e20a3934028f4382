/* tests/c/test_alloc.c — the allocator against a model: random sequences, exhaustion, coalescing. */
#include <stdint.h>
#include <stdlib.h>

#include "ipo/alloc.h"
#include "task.h"

#define ROOT_OFF  64
#define HEAP_OFF  (ROOT_OFF + ((sizeof(ipo_alloc_root_t) + 63) & ~(size_t)63))

typedef struct arena {
    uint8_t   *mem;
    uint64_t   size;
    ipo_heap_t heap;
} arena_t;

/* A heap in plain process memory: the allocator only sees offsets. */
static void arena_init(arena_t *a, uint64_t heap_size)
{
    a->size = HEAP_OFF + heap_size;
    a->mem = aligned_alloc(64, a->size);
    ASSERT(a->mem != NULL);
    memset(a->mem, 0xA5, a->size);
    a->heap.base = a->mem;
    a->heap.root = (ipo_alloc_root_t *)(a->mem + ROOT_OFF);
    a->heap.span = a->size;
    ASSERT_OK(ipo_alloc_init(&a->heap, HEAP_OFF, heap_size, UINT64_C(0x5eed5eed5eed5eed)));
}

static void arena_free(arena_t *a)
{
    free(a->mem);
}

/* The highest non-empty first-level class. */
static unsigned msb_class(const ipo_alloc_root_t *root)
{
    return 63u - (unsigned)__builtin_clzll(root->fl_bitmap);
}

static void test_init_rejects_tiny_heaps(void)
{
    uint8_t mem[HEAP_OFF + 256] __attribute__((aligned(64)));
    ipo_heap_t h = { .base = mem, .root = (ipo_alloc_root_t *)(mem + ROOT_OFF), .span = sizeof(mem) };
    ASSERT_ERR(ipo_alloc_init(&h, HEAP_OFF, 16, 1), IPO_EINVAL);
    ASSERT_ERR(ipo_alloc_init(&h, HEAP_OFF, 512, 1), IPO_EINVAL); /* past the span */
    ASSERT_ERR(ipo_alloc_init(&h, 0, 256, 1), IPO_EINVAL);        /* 0 means "none" */
    ASSERT_OK(ipo_alloc_init(&h, HEAP_OFF, 256, 1));
}

static void test_one_block_round_trip(void)
{
    arena_t a;
    arena_init(&a, 1 << 20);
    ipo_alloc_stats_t before, after;
    ipo_alloc_stats(&a.heap, &before);
    ASSERT_EQ(before.free_blocks, 1);
    ASSERT_EQ(before.used_blocks, 0);

    ipo_off_t off;
    ASSERT_OK(ipo_alloc(&a.heap, 100, 0, &off));
    ASSERT_EQ(off % 16, 0);
    ASSERT_GE(ipo_alloc_usable_size(&a.heap, off), 100);
    ASSERT_OK(ipo_alloc_validate(&a.heap, off));
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));

    ASSERT_OK(ipo_alloc_free(&a.heap, off));
    ipo_alloc_stats(&a.heap, &after);
    ASSERT_UEQ(after.free_bytes, before.free_bytes);
    ASSERT_UEQ(after.largest_free, before.largest_free);
    ASSERT_EQ(after.free_blocks, 1);
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

static void test_bad_frees_are_refused(void)
{
    arena_t a;
    arena_init(&a, 1 << 16);
    ipo_off_t off;
    ASSERT_OK(ipo_alloc(&a.heap, 64, 0, &off));
    /* Inside the payload, outside the heap, misaligned, the header itself. */
    ASSERT_ERR(ipo_alloc_free(&a.heap, off + 16), IPO_EBADOBJ);
    ASSERT_ERR(ipo_alloc_free(&a.heap, off + 3), IPO_EBADOBJ);
    ASSERT_ERR(ipo_alloc_free(&a.heap, 0), IPO_EBADOBJ);
    ASSERT_ERR(ipo_alloc_free(&a.heap, a.size + 4096), IPO_EBADOBJ);
    ASSERT_OK(ipo_alloc_free(&a.heap, off));
    /* A double free leaves the heap as it was. */
    ASSERT_ERR(ipo_alloc_free(&a.heap, off), IPO_EBADOBJ);
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

/* Offsets that once named blocks, and headers copied elsewhere, never free
 * anything again, whichever way their neighbours were merged. */
static void test_stale_and_copied_headers_are_refused(void)
{
    arena_t a;
    arena_init(&a, 1 << 16);
    for (int order = 0; order < 2; order++) {
        ipo_off_t x, y, z, w;
        ASSERT_OK(ipo_alloc(&a.heap, 64, 0, &x));
        ASSERT_OK(ipo_alloc(&a.heap, 64, 0, &y));
        ASSERT_OK(ipo_alloc(&a.heap, 64, 0, &z));
        ASSERT_OK(ipo_alloc_free(&a.heap, order ? y : x));
        ASSERT_OK(ipo_alloc_free(&a.heap, order ? x : y));
        ASSERT_ERR(ipo_alloc_free(&a.heap, x), IPO_EBADOBJ);
        ASSERT_ERR(ipo_alloc_free(&a.heap, y), IPO_EBADOBJ);
        /* A block over both: the upper one's old place is inside its
         * payload (small blocks are carved from the end of a larger free
         * block, so y may lie below x). */
        ASSERT_OK(ipo_alloc(&a.heap, 128, 0, &w));
        ASSERT_UEQ(w, x < y ? x : y);
        ASSERT_ERR(ipo_alloc_free(&a.heap, x < y ? y : x), IPO_EBADOBJ);
        ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
        /* A valid header copied into a payload is no header there. */
        memcpy(a.mem + w + 32, a.mem + z - sizeof(ipo_block_t), sizeof(ipo_block_t));
        ASSERT_ERR(ipo_alloc_free(&a.heap, w + 48), IPO_EBADOBJ);
        ASSERT_OK(ipo_alloc_free(&a.heap, w));
        ASSERT_OK(ipo_alloc_free(&a.heap, z));
        ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    }
    arena_free(&a);
}

/* An aligned request that fits a free block only with a small gap is served,
 * though the O(1) search asks for the worst-case gap. */
static void test_aligned_request_uses_a_tight_fit(void)
{
    arena_t a;
    arena_init(&a, 4096);
    ipo_alloc_stats_t st;
    ipo_alloc_stats(&a.heap, &st);
    ipo_off_t off;
    /* The heap starts 64-aligned, so its payload at +16 needs a 48-byte gap
     * (at least a minimum block) or none at the next boundary. */
    ASSERT_OK(ipo_alloc(&a.heap, st.largest_free - 64, 64, &off));
    ASSERT_EQ(off % 64, 0);
    ASSERT_OK(ipo_alloc_free(&a.heap, off));
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

static void test_alignment(void)
{
    arena_t a;
    arena_init(&a, 1 << 20);
    ipo_off_t offs[64];
    for (int i = 0; i < 64; i++) {
        uint64_t align = UINT64_C(16) << (i % 6); /* 16 .. 512 */
        ASSERT_OK(ipo_alloc(&a.heap, 1 + (uint64_t)i * 37, align, &offs[i]));
        ASSERT_EQ(offs[i] % align, 0);
        ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    }
    ipo_off_t bad;
    ASSERT_ERR(ipo_alloc(&a.heap, 10, 48, &bad), IPO_EINVAL);
    for (int i = 0; i < 64; i += 2)
        ASSERT_OK(ipo_alloc_free(&a.heap, offs[i]));
    for (int i = 1; i < 64; i += 2)
        ASSERT_OK(ipo_alloc_free(&a.heap, offs[i]));
    ipo_alloc_stats_t st;
    ipo_alloc_stats(&a.heap, &st);
    ASSERT_EQ(st.free_blocks, 1);
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

/* Fill the heap with small blocks until it refuses, then check that the
 * failure changed nothing, that freeing every other block does not let a
 * large block in (fragmentation), and that freeing all coalesces to one. */
/* What the root says about free blocks: lists, heads and bitmaps. */
typedef struct lists_image {
    uint64_t  fl_bitmap;
    uint32_t  sl_bitmap[IPO_ALLOC_FL_COUNT];
    ipo_off_t free_heads[IPO_ALLOC_FL_COUNT][IPO_ALLOC_SL_COUNT];
} lists_image_t;

static void lists_image(const ipo_heap_t *h, lists_image_t *img)
{
    memset(img, 0, sizeof(*img));
    img->fl_bitmap = h->root->fl_bitmap;
    memcpy(img->sl_bitmap, h->root->sl_bitmap, sizeof(img->sl_bitmap));
    memcpy(img->free_heads, h->root->free_heads, sizeof(img->free_heads));
}

/* A small block made and freed again and again (a message per turn) comes
 * from the end of the large free block, which keeps its place: neither
 * the allocation nor the free writes a list, head or bitmap, and the same
 * block comes back each time. A block whose carving would move the free
 * block to another class is split as before, and everything merges back. */
static void test_small_blocks_leave_the_lists_alone(void)
{
    arena_t a;
    arena_init(&a, 1 << 20);
    ipo_alloc_stats_t empty, st;
    ipo_alloc_stats(&a.heap, &empty);
    lists_image_t before, now;
    lists_image(&a.heap, &before);
    ipo_off_t first = 0;
    for (int i = 0; i < 3; i++) {
        ipo_off_t off;
        ASSERT_OK(ipo_alloc(&a.heap, 80, 0, &off));
        if (i == 0)
            first = off;
        ASSERT_UEQ(off, first);
        /* At the heap's end: the free block before it kept its header. */
        ASSERT_UEQ(off + ipo_alloc_usable_size(&a.heap, off), a.heap.root->heap_end);
        lists_image(&a.heap, &now);
        ASSERT(memcmp(&before, &now, sizeof(now)) == 0);
        ipo_alloc_stats(&a.heap, &st);
        ASSERT_EQ(st.used_blocks, 1);
        ASSERT_EQ(st.free_blocks, 1);
        ASSERT_UEQ(st.free_bytes, empty.free_bytes - (ipo_alloc_usable_size(&a.heap, off) + 16));
        ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
        ASSERT_OK(ipo_alloc_free(&a.heap, off));
        lists_image(&a.heap, &now);
        ASSERT(memcmp(&before, &now, sizeof(now)) == 0);
        ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    }
    /* Nearly all of it: the rest falls to a lower class, so the block is
     * split at its start, and the free re-files the merged block. */
    ipo_off_t big;
    ASSERT_OK(ipo_alloc(&a.heap, empty.largest_free - 4096, 0, &big));
    ASSERT_UEQ(big, a.heap.root->heap_start + 16);
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    ASSERT_OK(ipo_alloc_free(&a.heap, big));
    ipo_alloc_stats(&a.heap, &st);
    ASSERT_EQ(st.free_blocks, 1);
    ASSERT_EQ(st.used_blocks, 0);
    ASSERT_UEQ(st.free_bytes, empty.free_bytes);
    lists_image(&a.heap, &now);
    ASSERT(memcmp(&before, &now, sizeof(now)) == 0);
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

static int offset_order(const void *x, const void *y)
{
    ipo_off_t a = *(const ipo_off_t *)x, b = *(const ipo_off_t *)y;
    return (a > b) - (a < b);
}

static void test_exhaustion_and_coalescing(void)
{
    arena_t a;
    const uint64_t heap_size = 1 << 18;
    arena_init(&a, heap_size);
    ipo_alloc_stats_t empty;
    ipo_alloc_stats(&a.heap, &empty);

    enum { MAX = 1 << 14 };
    static ipo_off_t offs[MAX];
    int n = 0;
    int rc;
    while ((rc = ipo_alloc(&a.heap, 48, 0, &offs[n])) == 0)
        n++;
    ASSERT_EQ(rc, -IPO_ENOMEM);
    ASSERT_GE(n, (int)(heap_size / 64) - 2);

    ipo_alloc_stats_t full;
    ipo_alloc_stats(&a.heap, &full);
    ipo_off_t no;
    ASSERT_ERR(ipo_alloc(&a.heap, 1 << 20, 0, &no), IPO_ENOMEM);
    ipo_alloc_stats_t after_fail;
    ipo_alloc_stats(&a.heap, &after_fail);
    ASSERT_UEQ(after_fail.free_bytes, full.free_bytes);
    ASSERT_UEQ(after_fail.used_blocks, full.used_blocks);
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));

    /* Every other block in address order (small blocks are carved from
     * either end of a free block, so the order of allocation is not it). */
    qsort(offs, (size_t)n, sizeof(offs[0]), offset_order);
    for (int i = 0; i < n; i += 2)
        ASSERT_OK(ipo_alloc_free(&a.heap, offs[i]));
    ipo_alloc_stats_t holes;
    ipo_alloc_stats(&a.heap, &holes);
    ASSERT_LT(holes.largest_free, 128);
    ASSERT_ERR(ipo_alloc(&a.heap, 4096, 0, &no), IPO_ENOMEM);
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));

    for (int i = 1; i < n; i += 2)
        ASSERT_OK(ipo_alloc_free(&a.heap, offs[i]));
    ipo_alloc_stats_t back;
    ipo_alloc_stats(&a.heap, &back);
    ASSERT_EQ(back.free_blocks, 1);
    ASSERT_EQ(back.used_blocks, 0);
    ASSERT_UEQ(back.free_bytes, empty.free_bytes);
    ASSERT_UEQ(back.largest_free, empty.largest_free);
    /* The whole heap is usable again in one piece. */
    ipo_off_t big;
    ASSERT_OK(ipo_alloc(&a.heap, empty.largest_free, 0, &big));
    ASSERT_OK(ipo_alloc_free(&a.heap, big));
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

/* The model: what is allocated, where, how big, and the byte pattern each
 * allocation was filled with, so overlaps show up as clobbered patterns. */
typedef struct live {
    ipo_off_t off;
    uint64_t  size;
    uint8_t   fill;
} live_t;

static void verify_model(const arena_t *a, const live_t *lv, int n)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *p = a->mem + lv[i].off;
        for (uint64_t k = 0; k < lv[i].size; k++)
            if (p[k] != lv[i].fill)
                FAIL_AT("allocation at %" PRIu64 " byte %" PRIu64 " clobbered", lv[i].off, k);
        if (lv[i].off + lv[i].size > a->size)
            FAIL_AT("allocation at %" PRIu64 " runs past the heap", lv[i].off);
    }
}

/* A refusal's record is exact: what was looked for, and a fit that is the
 * most an allocation at that alignment gets: that much succeeds, 16 more
 * fails; and the plain largest chunk is the stats' figure. */
static void check_refusal(arena_t *a, uint64_t size, uint64_t align)
{
    ipo_heap_t *h = &a->heap;
    uint64_t want = (size + 15) & ~UINT64_C(15), fit = h->refused.fit;
    ASSERT_UEQ(h->refused.size, want);
    ASSERT_UEQ(h->refused.align, align < 16 ? 16 : align);
    ASSERT_LT(fit, want);
    ipo_alloc_stats_t st;
    ipo_alloc_stats(h, &st);
    ASSERT_UEQ(h->refused.largest, st.largest_free);
    ASSERT_UEQ(h->refused.free_bytes, st.free_bytes);
    ASSERT_UEQ(ipo_alloc_largest_fit(h, align), fit);
    ipo_off_t off;
    if (fit) {
        ASSERT_OK(ipo_alloc(h, fit, align, &off));
        ASSERT_OK(ipo_alloc_free(h, off));
    }
    ASSERT_ERR(ipo_alloc(h, fit + 16, align, &off), IPO_ENOMEM);
    ASSERT_UEQ(h->refused.fit, fit);
}

static void test_random_against_model(void)
{
    const uint64_t heap_size = 1 << 20;
    enum { MAX_LIVE = 2048, STEPS = 200000 };
    static live_t lv[MAX_LIVE];
    uint64_t seed = 0x1234567ULL;
    const char *env = getenv("IPO_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    fprintf(stderr, "    seed %" PRIu64 " (IPO_TEST_SEED replays)\n", seed);

    arena_t a;
    arena_init(&a, heap_size);
    ipo_alloc_stats_t empty;
    ipo_alloc_stats(&a.heap, &empty);
    int n = 0, failures = 0;
    uint64_t live_bytes = 0;
    for (int step = 0; step < STEPS; step++) {
        uint64_t r = test_rand(&seed);
        int do_alloc = n == 0 || (n < MAX_LIVE && (r & 3) != 0 && failures < 4);
        if (do_alloc) {
            /* Mostly small, sometimes large, sometimes over-aligned. */
            uint64_t size = (r >> 8) % 4 == 0 ? (r >> 16) % 65536 : (r >> 16) % 512;
            uint64_t align = (r >> 40) % 8 == 0 ? 64 : 0;
            ipo_off_t off;
            int rc = ipo_alloc(&a.heap, size, align, &off);
            if (rc == -IPO_ENOMEM) {
                failures++;
                ipo_alloc_stats_t st;
                ipo_alloc_stats(&a.heap, &st);
                /* Refused only when no free block could have served it. */
                ASSERT_LT(st.largest_free, ((size + 15) & ~UINT64_C(15)) + (align ? 64 + 32 : 0));
                check_refusal(&a, size, align);
                continue;
            }
            ASSERT_OK(rc);
            if (align)
                ASSERT_EQ(off % 64, 0);
            ASSERT_GE(ipo_alloc_usable_size(&a.heap, off), size);
            lv[n].off = off;
            lv[n].size = size;
            lv[n].fill = (uint8_t)(r >> 56);
            memset(a.mem + off, lv[n].fill, size);
            live_bytes += size;
            n++;
        } else {
            failures = 0;
            int i = (int)((r >> 8) % (uint64_t)n);
            ASSERT_OK(ipo_alloc_free(&a.heap, lv[i].off));
            live_bytes -= lv[i].size;
            lv[i] = lv[--n];
        }
        if (step % 5000 == 0) {
            verify_model(&a, lv, n);
            ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
            ipo_alloc_stats_t st;
            ipo_alloc_stats(&a.heap, &st);
            ASSERT_EQ(st.used_blocks, n);
            ASSERT_LE(live_bytes + st.free_bytes, st.heap_size);
        }
    }
    verify_model(&a, lv, n);
    while (n > 0)
        ASSERT_OK(ipo_alloc_free(&a.heap, lv[--n].off));
    ipo_alloc_stats_t back;
    ipo_alloc_stats(&a.heap, &back);
    ASSERT_EQ(back.free_blocks, 1);
    ASSERT_UEQ(back.free_bytes, empty.free_bytes);
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

/* A free chunk larger than a request, but not starting where an aligned
 * payload could: refused, and reported with the most it can hold aligned,
 * beside the larger plain figure. A refusal by size alone is recorded too. */
static void test_refusal_names_the_aligned_room(void)
{
    arena_t a;
    arena_init(&a, 1 << 16);
    ipo_off_t pad, hole, rest;
    /* A hole of 512 payload bytes whose payload starts 16 past a line. */
    ASSERT_OK(ipo_alloc(&a.heap, 0, 0, &pad));
    uint64_t skew = (64 - (pad + 32) % 64 + 16) % 64;
    ASSERT_OK(ipo_alloc(&a.heap, skew ? skew : 64, 0, &pad));
    ASSERT_OK(ipo_alloc(&a.heap, 512, 0, &hole));
    ASSERT_OK(ipo_alloc(&a.heap, 65536 - 4096, 0, &rest));
    ipo_off_t tail;
    while (ipo_alloc(&a.heap, 16, 0, &tail) == 0)
        ;
    ASSERT_OK(ipo_alloc_free(&a.heap, hole));
    ASSERT_UEQ(ipo_alloc_largest_fit(&a.heap, 16), 512);
    ASSERT_LT(ipo_alloc_largest_fit(&a.heap, 64), 512);
    ipo_off_t off;
    ASSERT_ERR(ipo_alloc(&a.heap, 500, 64, &off), IPO_ENOMEM);
    ASSERT_UEQ(a.heap.refused.size, 512);
    ASSERT_UEQ(a.heap.refused.largest, 512);
    ASSERT_LT(a.heap.refused.fit, 500);
    check_refusal(&a, 500, 64);
    ASSERT_OK(ipo_alloc(&a.heap, 500, 0, &off)); /* unaligned, it fits */
    ASSERT_ERR(ipo_alloc_refuse(&a.heap, UINT64_MAX, 16), IPO_ENOMEM);
    ASSERT_UEQ(a.heap.refused.size, UINT64_MAX);
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

static void test_check_detects_damage(void)
{
    arena_t a;
    arena_init(&a, 1 << 16);
    ipo_off_t x, y;
    ASSERT_OK(ipo_alloc(&a.heap, 100, 0, &x));
    ASSERT_OK(ipo_alloc(&a.heap, 100, 0, &y));
    ipo_block_t *blk = (ipo_block_t *)(a.mem + y - sizeof(ipo_block_t));
    uint64_t saved = blk->size_tag;
    blk->size_tag = saved + 16; /* a torn size */
    char reason[256] = "";
    ASSERT_ERR(ipo_alloc_check(&a.heap, reason, sizeof(reason)), IPO_ECORRUPT);
    ASSERT(reason[0] != '\0');
    blk->size_tag = saved;
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

/* A damaged root or free list is -IPO_ECORRUPT when an allocation would
 * follow it, never a write through it nor an endless scan. */
static void test_damaged_lists_are_not_followed(void)
{
    arena_t a;
    arena_init(&a, 1 << 16);
    ipo_off_t x, y;
    ASSERT_OK(ipo_alloc(&a.heap, 100, 0, &x));
    ASSERT_OK(ipo_alloc(&a.heap, 100, 0, &y));
    ASSERT_OK(ipo_alloc_free(&a.heap, x));
    ipo_alloc_root_t *root = a.heap.root;
    unsigned fl = 0, sl = 0;
    for (fl = 0; fl < IPO_ALLOC_FL_COUNT && !root->sl_bitmap[fl]; fl++)
        ;
    ASSERT(fl < IPO_ALLOC_FL_COUNT);
    sl = (unsigned)__builtin_ctz(root->sl_bitmap[fl]);
    ipo_off_t head = root->free_heads[fl][sl];

    /* The head names an allocated block. */
    root->free_heads[fl][sl] = y - 16;
    ipo_off_t z;
    ASSERT_ERR(ipo_alloc(&a.heap, 100, 0, &z), IPO_ECORRUPT);
    /* The head lies past the mapping. */
    root->free_heads[fl][sl] = a.heap.span * 4;
    ASSERT_ERR(ipo_alloc(&a.heap, 100, 0, &z), IPO_ECORRUPT);
    /* A bit set over an empty list. */
    root->free_heads[fl][sl] = 0;
    ASSERT_ERR(ipo_alloc(&a.heap, 100, 0, &z), IPO_ECORRUPT);
    root->free_heads[fl][sl] = head;
    /* A list that is a cycle, with a count that would scan for ever. */
    ipo_free_links_t *links = (ipo_free_links_t *)(a.heap.base + head + 16);
    ipo_off_t next = links->next;
    uint64_t count = root->free_blocks;
    links->next = head;
    root->free_blocks = UINT64_MAX;
    ipo_alloc_stats_t st;
    ipo_alloc_stats(&a.heap, &st);
    char note[256];
    ASSERT_ERR(ipo_alloc_check(&a.heap, note, sizeof(note)), IPO_ECORRUPT);
    links->next = next;
    root->free_blocks = count;
    /* Heap bounds past the mapping. */
    uint64_t end = root->heap_end;
    root->heap_end = UINT64_MAX - 15;
    ASSERT_ERR(ipo_alloc(&a.heap, 100, 0, &z), IPO_ECORRUPT);
    ASSERT_ERR(ipo_alloc_check(&a.heap, note, sizeof(note)), IPO_ECORRUPT);
    root->heap_end = end;
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    ASSERT_OK(ipo_alloc(&a.heap, 100, 0, &z));
    arena_free(&a);
}

/* A block the root files in a larger class than its size (a damaged or
 * hostile root: it is also the head of its own class, so every neighbour
 * check passes) is -IPO_ECORRUPT, never split past its end: bsize - need
 * must not wrap. */
static void test_misfiled_small_block_is_not_split(void)
{
    arena_t a;
    arena_init(&a, 1 << 20);
    ipo_off_t offs[30];
    for (int i = 0; i < 30; i++)
        ASSERT_OK(ipo_alloc(&a.heap, 100, 0, &offs[i]));
    ASSERT_OK(ipo_alloc_free(&a.heap, offs[20]));
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    ipo_alloc_root_t *root = a.heap.root;
    unsigned fl = msb_class(root);
    unsigned sl = 31u - (unsigned)__builtin_clz(root->sl_bitmap[fl]);
    /* The large class's head names the small free block. */
    ipo_off_t head = root->free_heads[fl][sl];
    root->free_heads[fl][sl] = offs[20] - 16;
    uint8_t *copy = malloc(a.size);
    ASSERT(copy != NULL);
    memcpy(copy, a.mem, a.size);
    ipo_off_t z = 0;
    ASSERT_ERR(ipo_alloc(&a.heap, 1000, 0, &z), IPO_ECORRUPT);
    ASSERT_ERR(ipo_alloc(&a.heap, 1000, 256, &z), IPO_ECORRUPT);
    /* Nothing was written. */
    ASSERT(memcmp(copy, a.mem, a.size) == 0);
    free(copy);
    root->free_heads[fl][sl] = head;
    ASSERT_CHECK(ipo_alloc_check(&a.heap, why, sizeof(why)));
    arena_free(&a);
}

int main(void)
{
    RUN(test_init_rejects_tiny_heaps);
    RUN(test_one_block_round_trip);
    RUN(test_bad_frees_are_refused);
    RUN(test_stale_and_copied_headers_are_refused);
    RUN(test_aligned_request_uses_a_tight_fit);
    RUN(test_alignment);
    RUN(test_exhaustion_and_coalescing);
    RUN(test_small_blocks_leave_the_lists_alone);
    RUN(test_random_against_model);
    RUN(test_refusal_names_the_aligned_room);
    RUN(test_check_detects_damage);
    RUN(test_damaged_lists_are_not_followed);
    RUN(test_misfiled_small_block_is_not_split);
    return 0;
}

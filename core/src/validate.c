/* core/src/validate.c — what an attacher checks before it follows anything a region's header points to. */
/* Nothing read from a region is trusted: any process that can write the
 * file can write any value into it, and a process that died mid-turn may
 * have left anything half-written. An attacher (ipo_region_attach, and
 * ipo_region_join for the in-process twin) has checked the identity fields
 * (magic, layout version and hash, size); this file checks every offset and
 * size the header holds against the mapping before the handle follows one,
 * so a damaged header is -IPO_ECORRUPT with a reason, never a fault at
 * attach or later. check() runs the same checks. What changes under access
 * (the queue's counters and ring, the allocator's lists) is checked again,
 * at the cost of a compare, where it is followed (queue.c, alloc.c). */
#include "internal.h"

#include <stdio.h>

#include "ipo/alloc.h"
#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "ipo/hash.h"

#define FAIL(...)                                         \
    do {                                                  \
        if (why)                                          \
            snprintf(why, why_len, __VA_ARGS__);          \
        return -IPO_ECORRUPT;                             \
    } while (0)

/* The bytes hash_key_check digests: any fixed message does, this one names
 * its purpose. */
static const char key_check_message[16] = "ipo hash key chk";

uint64_t ipo__hash_key_digest(const uint64_t key[2])
{
    return ipo_hash_bytes(key, key_check_message, sizeof(key_check_message));
}

/* Whether [off, off + len) lies inside a mapping of size bytes, without
 * overflowing on a hostile off or len. */
static int inside(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

static int check_tables(const ipo_header_t *hdr, uint64_t size, char *why, size_t why_len)
{
    uint32_t n = hdr->slot_count;
    if (n < 2 || n > IPO_MAX_SLOTS)
        FAIL("the header's slot count %u is outside 2..%u", n, IPO_MAX_SLOTS);
    /* The slots follow the header; 64-byte alignment keeps every slot on
     * its own cache line, and every field aligned for its atomic access. */
    if (hdr->slots_off < sizeof(ipo_header_t) || hdr->slots_off % IPO_CACHE_LINE ||
        !inside(hdr->slots_off, (uint64_t)n * sizeof(ipo_slot_t), size))
        FAIL("the slot table's offset %llu does not fit %u slots in the region of %llu bytes",
             (unsigned long long)hdr->slots_off, n, (unsigned long long)size);
    if (hdr->alloc_off < hdr->slots_off + (uint64_t)n * sizeof(ipo_slot_t) ||
        hdr->alloc_off % IPO_CACHE_LINE || !inside(hdr->alloc_off, sizeof(ipo_alloc_root_t), size))
        FAIL("the allocator root's offset %llu overlaps the slots or lies outside the region",
             (unsigned long long)hdr->alloc_off);
    return 0;
}

/* The allocator's root. Its bounds and key are written once, at format;
 * its lists, bitmaps and statistics change under access, which an attacher
 * does not hold: each of those is read once, atomically, and checked only
 * for what no value a live holder stores can break (a head inside the heap,
 * a bit of a class that exists, a count that fits the heap). The lists
 * themselves are checked where the allocator follows them, under access. */
static int check_root(const ipo_header_t *hdr, uint64_t size, char *why, size_t why_len)
{
    const ipo_alloc_root_t *root = (const ipo_alloc_root_t *)((const uint8_t *)hdr + hdr->alloc_off);
    uint64_t start = root->heap_start, end = root->heap_end;
    /* The heap follows the root, and its sentinel's header lies inside the
     * mapping: the allocator writes a successor's header at b + size, for
     * any block b up to the sentinel. */
    if (start < hdr->alloc_off + sizeof(ipo_alloc_root_t) || start % IPO_ALLOC_GRANULE ||
        end % IPO_ALLOC_GRANULE || end <= start || !inside(end, sizeof(ipo_block_t), size) ||
        end - start < 2 * sizeof(ipo_block_t))
        FAIL("the heap's bounds [%llu, %llu) do not fit the region of %llu bytes after its root",
             (unsigned long long)start, (unsigned long long)end, (unsigned long long)size);
    uint64_t span = end - start, most_blocks = span / (2 * sizeof(ipo_block_t));
    /* Relaxed, here and below: see above; nothing is read through them. */
    uint64_t free_bytes = ipo_atomic_load_relaxed(&root->free_bytes);
    uint64_t free_blocks = ipo_atomic_load_relaxed(&root->free_blocks);
    uint64_t used_blocks = ipo_atomic_load_relaxed(&root->used_blocks);
    if (free_bytes > span || free_blocks > most_blocks || used_blocks > most_blocks)
        FAIL("the allocator's statistics (%llu free bytes, %llu free and %llu used blocks) cannot "
             "fit a heap of %llu bytes", (unsigned long long)free_bytes,
             (unsigned long long)free_blocks, (unsigned long long)used_blocks,
             (unsigned long long)span);
    /* The sentinel's size and free bit are 0 for the heap's life (only its
     * previous-is-free bit changes). */
    const ipo_block_t *sentinel = (const ipo_block_t *)((const uint8_t *)hdr + end);
    if (ipo_atomic_load_relaxed(&sentinel->size_tag) & (IPO_BLOCK_SIZE_MASK | IPO_BLOCK_FREE))
        FAIL("the heap's end at %llu holds no sentinel block", (unsigned long long)end);
    uint64_t fl_bitmap = ipo_atomic_load_relaxed(&root->fl_bitmap);
    if (fl_bitmap >> IPO_ALLOC_FL_COUNT)
        FAIL("the allocator's first-level bitmap %#llx names classes that do not exist",
             (unsigned long long)fl_bitmap);
    for (unsigned fl = 0; fl < IPO_ALLOC_FL_COUNT; fl++)
        for (unsigned sl = 0; sl < IPO_ALLOC_SL_COUNT; sl++) {
            ipo_off_t head = ipo_atomic_load_relaxed(&root->free_heads[fl][sl]);
            if (head && (head < start || head >= end || head % IPO_ALLOC_GRANULE))
                FAIL("the allocator's free list (%u, %u) starts at %llu, outside the heap", fl, sl,
                     (unsigned long long)head);
        }
    return 0;
}

/* The queue: its ring changes under access (a grown ring replaces it, and
 * the old one is freed), so only what holds of every ring is checked here:
 * an offset inside the heap. queue.c checks the ring itself, its capacity
 * and the counters, under access, on every operation. */
static int check_queue(const ipo_header_t *hdr, char *why, size_t why_len)
{
    const ipo_alloc_root_t *root = (const ipo_alloc_root_t *)((const uint8_t *)hdr + hdr->alloc_off);
    ipo_off_t ring = ipo_atomic_load_relaxed(&hdr->queue.ring);
    if (ring < root->heap_start + sizeof(ipo_block_t) || ring >= root->heap_end ||
        ring % IPO_ALLOC_GRANULE)
        FAIL("the queue's ring offset %llu lies outside the heap [%llu, %llu)",
             (unsigned long long)ring, (unsigned long long)root->heap_start,
             (unsigned long long)root->heap_end);
    return 0;
}

/* The channel directory: replaced under access as the ring is, so only an
 * offset inside the heap (or 0, none) is checked here; channel.c checks
 * the directory and each channel block when it opens one. */
static int check_channels(const ipo_header_t *hdr, char *why, size_t why_len)
{
    const ipo_alloc_root_t *root = (const ipo_alloc_root_t *)((const uint8_t *)hdr + hdr->alloc_off);
    /* SYNC POINT header channels: an offset check only; the store that
     * published it is ipo_channel_open's (release). */
    ipo_off_t dir = ipo_atomic_load_relaxed(&hdr->channels);
    if (dir && (dir < root->heap_start + sizeof(ipo_block_t) || dir >= root->heap_end ||
                dir % IPO_ALLOC_GRANULE))
        FAIL("the channel directory's offset %llu lies outside the heap [%llu, %llu)",
             (unsigned long long)dir, (unsigned long long)root->heap_start,
             (unsigned long long)root->heap_end);
    return 0;
}

int ipo__region_validate(const ipo_header_t *hdr, uint64_t size, char *why, size_t why_len)
{
    if (size < sizeof(ipo_header_t))
        FAIL("the region of %llu bytes cannot hold its header", (unsigned long long)size);
    int rc = check_tables(hdr, size, why, why_len);
    if (rc)
        return rc;
    rc = check_root(hdr, size, why, why_len);
    if (rc)
        return rc;
    if (ipo__hash_key_digest(hdr->hash_key) != hdr->hash_key_check)
        FAIL("the hash key of dict and set keys does not match its digest: keys stored under "
             "the old key would not be found");
    /* Relaxed: only the owner field is compared; sleepers change the rest
     * of the word at any time. */
    uint64_t owner = ipo_atomic_load_relaxed(&hdr->access) & IPO_ACCESS_SLOT_MASK;
    if (owner > hdr->slot_count)
        FAIL("the access word names slot %llu of %u", (unsigned long long)owner - 1, hdr->slot_count);
    rc = check_channels(hdr, why, why_len);
    if (rc)
        return rc;
    return check_queue(hdr, why, why_len);
}

/* core/src/region.c — a region's handle: laid out, formatted, mapped, bound, its slot filled, joined in memory, checked. */
/* Creating a region under its name is region_create.c, attaching to it
 * region_attach.c, leaving it region_leave.c; liveness locks are
 * region_liveness.c, the name's publishing and removal region_names.c. */
#define _GNU_SOURCE
#include "ipo/region.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "ipo/access.h"
#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "ipo/channel.h"
#include "ipo/format.h"
#include "ipo/queue.h"
#include "region_internal.h"

/* ---- small helpers ------------------------------------------------------ */

static uint32_t fnv1a(uint32_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (uint8_t)(v >> (8 * i));
        h *= 16777619u;
    }
    return h;
}

uint32_t ipo_layout_hash(void)
{
    const uint64_t facts[] = {
        IPO_LAYOUT_VERSION,
        sizeof(ipo_header_t), offsetof(ipo_header_t, access), offsetof(ipo_header_t, queue),
        offsetof(ipo_header_t, attach_count), offsetof(ipo_header_t, next_gen),
        offsetof(ipo_header_t, changes), offsetof(ipo_header_t, takeovers),
        offsetof(ipo_header_t, hash_key_check), offsetof(ipo_header_t, note),
        offsetof(ipo_header_t, line), IPO_ACCESS_HANDED, IPO_LINE_DUE, IPO_LINE_AWAKE,
        sizeof(ipo_slot_t), offsetof(ipo_slot_t, waiting_for), offsetof(ipo_slot_t, sleepers),
        offsetof(ipo_slot_t, pin_log), offsetof(ipo_slot_t, turns), offsetof(ipo_queue_t, taken),
        sizeof(ipo_alloc_root_t), IPO_ALLOC_FL_COUNT, IPO_ALLOC_SL_COUNT, IPO_ALLOC_GRANULE,
        sizeof(ipo_block_t), IPO_BLOCK_TAG_SHIFT,
        sizeof(ipo_queue_t), sizeof(ipo_ring_t),
        sizeof(ipo_obj_t), offsetof(ipo_obj_t, v), IPO_T_LAST_BUILTIN_,
        IPO_LIVENESS_LOCK_BASE,
        offsetof(ipo_header_t, channels), sizeof(ipo_chan_t), offsetof(ipo_chan_t, head),
        sizeof(ipo_channel_entry_t), IPO_CHANNEL_MAX_SLOTS,
    };
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++)
        h = fnv1a(h, facts[i]);
    return h;
}

int ipo_region_name_check(const char *name)
{
    if (!name)
        return -IPO_EINVAL;
    if (name[0] == '/')
        name++;
    size_t len = strlen(name);
    if (len == 0 || len > IPO_NAME_MAX || strchr(name, '/'))
        return -IPO_EINVAL;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -IPO_EINVAL;
    return 0;
}

void ipo__region_set_name(ipo_region_t *r, const char *name)
{
    if (name[0] == '/')
        name++;
    snprintf(r->shm_name, sizeof(r->shm_name), "/%s", name);
}

void ipo__region_reset(ipo_region_t *r)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

/* ---- formatting ---------------------------------------------------------- */

int ipo__region_plan(const ipo_region_options_t *opts, uint64_t size, layout_plan_t *p)
{
    uint32_t slots = opts && opts->slots ? opts->slots : IPO_DEFAULT_SLOTS;
    if (slots < 2 || slots > IPO_MAX_SLOTS)
        return -IPO_EINVAL;
    p->slots = slots;
    p->size = size;
    p->slots_off = round_up(sizeof(ipo_header_t), IPO_CACHE_LINE);
    p->alloc_off = round_up(p->slots_off + (uint64_t)slots * sizeof(ipo_slot_t), IPO_CACHE_LINE);
    p->heap_off = round_up(p->alloc_off + sizeof(ipo_alloc_root_t), IPO_CACHE_LINE);
    /* Leave the heap room for the queue's ring and some objects. */
    if (size < p->heap_off + 4096)
        return -IPO_EINVAL;
    return 0;
}

int ipo__region_map(int fd, uint64_t size, int prefault, void **out)
{
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED)
        return -IPO_ESYS;
    if (prefault) {
        /* Install every page-table entry now, so that no page fault lands on
         * the hot path. Best effort: an old kernel just faults later. */
#ifdef MADV_POPULATE_WRITE
        madvise(mem, size, MADV_POPULATE_WRITE);
#endif
    }
    *out = mem;
    return 0;
}

/* Points the handle at a region whose header offsets were validated (or
 * just written, by format). The slot table's place and length are taken
 * once, here, as the allocator root's is: a later write to those header
 * fields cannot send this handle outside the mapping. */
void ipo__region_bind(ipo_region_t *r, void *mem, uint64_t size)
{
    r->base = mem;
    r->size = size;
    r->hdr = mem;
    r->heap.base = mem;
    r->heap.root = (ipo_alloc_root_t *)((uint8_t *)mem + r->hdr->alloc_off);
    r->heap.span = size;
    r->slots = (ipo_slot_t *)((uint8_t *)mem + r->hdr->slots_off);
    r->slot_count = r->hdr->slot_count;
    r->hash_key[0] = r->hdr->hash_key[0];
    r->hash_key[1] = r->hdr->hash_key[1];
    r->fork_gen = ipo__fork_generation();
}

/* Why the last attach or join of this thread found the region damaged. */
_Thread_local char ipo__corrupt_reason[256];

const char *ipo_region_corrupt_reason(void)
{
    return ipo__corrupt_reason;
}

/* The identity fields (the caller has read the magic, with acquire), then
 * every offset and size the header holds: 0, -IPO_ELAYOUT, -IPO_ECORRUPT. */
int ipo__region_header_usable(const ipo_header_t *hdr, uint64_t size)
{
    if (hdr->layout_version != IPO_LAYOUT_VERSION || hdr->layout_hash != ipo_layout_hash() ||
        hdr->total_size != size)
        return -IPO_ELAYOUT;
    return ipo__region_validate(hdr, size, ipo__corrupt_reason, sizeof(ipo__corrupt_reason));
}

int ipo__region_bind_observed(ipo_region_t *r, void *mem, uint64_t size)
{
    const ipo_header_t *hdr = mem;
    /* Acquire: pairs with the creator's release of the magic and of READY
     * (as an attacher's loads), so what they publish is seen whole. */
    if (ipo_atomic_load_acquire(&((ipo_header_t *)mem)->magic) != IPO_MAGIC)
        return -IPO_ELAYOUT;
    uint32_t state = ipo_atomic_load_acquire(&((ipo_header_t *)mem)->state);
    if (state == IPO_STATE_INIT)
        return -IPO_EAGAIN;
    ipo__corrupt_reason[0] = 0;
    int rc = ipo__region_header_usable(hdr, size);
    if (rc)
        return rc;
    ipo__region_reset(r);
    ipo__region_bind(r, mem, size);
    return 0;
}

/* Writes everything but the final READY state. The magic comes last among
 * the identity fields, so an attacher that sees it sees them all. */
int ipo__region_format_memory(void *mem, const layout_plan_t *p, uint32_t mode)
{
    ipo_header_t *hdr = mem;
    memset(hdr, 0, p->heap_off);
    hdr->layout_version = IPO_LAYOUT_VERSION;
    hdr->layout_hash = ipo_layout_hash();
    hdr->total_size = p->size;
    hdr->state = IPO_STATE_INIT;
    hdr->creator_pid = (uint32_t)getpid();
    hdr->owner_uid = (uint32_t)geteuid();
    hdr->mode = mode;
    hdr->slot_count = p->slots;
    hdr->slots_off = p->slots_off;
    hdr->alloc_off = p->alloc_off;
    if (getrandom(hdr->hash_key, sizeof(hdr->hash_key), 0) != (ssize_t)sizeof(hdr->hash_key)) {
        /* No entropy yet (early boot): a fixed key still hashes stably. */
        hdr->hash_key[0] = UINT64_C(0x736f6d6570736575);
        hdr->hash_key[1] = UINT64_C(0x646f72616e646f6d);
    }
    hdr->hash_key_check = ipo__hash_key_digest(hdr->hash_key);

    ipo_region_t tmp;
    ipo__region_reset(&tmp);
    ipo__region_bind(&tmp, mem, p->size);
    int rc = ipo_alloc_init(&tmp.heap, p->heap_off, p->size - p->heap_off,
                            hdr->hash_key[0] ^ (hdr->hash_key[1] << 1));
    if (rc)
        return rc;
    rc = ipo_queue_init(&tmp);
    if (rc)
        return rc;
    /* SYNC POINT region magic: pairs with the acquire loads of magic in
     * ipo_region_attach() and ipo_region_join(). The identity fields above
     * are written once, before this, and only read after it, so they stay
     * plain; the allocator and the queue are later written only under access. */
    ipo_atomic_store_release(&hdr->magic, IPO_MAGIC);
    return 0;
}

static inline ipo_slot_t *slot_at(const ipo_region_t *r, uint32_t i)
{
    return r->slots + i;
}

/* Takes back the registrations a predecessor that died asleep left in the
 * access word: else every release would look for sleepers for good. Never
 * more than the word holds: register_sleeper() (loop/src/handoff.c) counts
 * a registration in the slot before it adds it to the word, so a
 * predecessor killed between the two left one more in its slot than in the
 * word, and subtracting that one would borrow from the acquisition count. */
void ipo__take_back_sleepers(ipo_region_t *r, ipo_slot_t *s)
{
    /* Relaxed: the predecessor is gone (we won its lock or its
     * compare-and-swap), so nobody else writes this field now. */
    uint64_t left = ipo_atomic_exchange_relaxed(&s->sleepers, 0u);
    uint64_t *word = &r->hdr->access;
    uint64_t cur = ipo_atomic_load_relaxed(word);
    while (left) {
        uint64_t held = (cur & IPO_ACCESS_SLEEPER_MASK) / IPO_ACCESS_SLEEPER_ONE;
        uint64_t take = left < held ? left : held;
        if (!take)
            break;
        /* SYNC POINT access word. Release: pairs with the acquire half of the
         * fetch-and in ipo_access_release(), so a releaser that reads the word
         * after this also reads the waiting_for that ipo__occupy_slot() cleared. */
        if (ipo_atomic_cas_release(word, &cur, cur - take * IPO_ACCESS_SLEEPER_ONE))
            break;
    }
}

void ipo__line_forget(ipo_region_t *r, uint32_t i)
{
    uint32_t *line = &r->hdr->line;
    /* SYNC POINT line: acquire pairs with the release of the compare-and-
     * swap with which a releaser that handed slot i the turn cleared the
     * line (ipo_handoff_release, loop/src/handoff.c): reading its 0 (or
     * later) makes its handoff visible to our look at the access word.
     * Our own swap, if it comes first, makes that releaser's fail, and it
     * takes the turn back. */
    uint32_t cur = ipo_atomic_load_acquire(line);
    while ((cur & IPO_LINE_SLOT_MASK) == i + 1)
        if (ipo_atomic_cas_acq_rel(line, &cur, 0u))
            break;
}

/* Fills a slot this process has just won and makes the handle use it.
 * Releasers read a slot without holding access, at any time: wake() and
 * ring() in loop/src/handoff.c read waiting_for, wake_pending, sleep_ticket
 * and generation. So every field goes through an atomic helper, and the
 * order of the stores is the order in which a releaser may see them. */
void ipo__occupy_slot(ipo_region_t *r, uint32_t i, uint32_t role)
{
    ipo_slot_t *s = slot_at(r, i);
    /* First stop looking like the predecessor's sleepers. A releaser that
     * read the old waiting_for just before rings the old generation's
     * doorbell, finds nobody reading it, and passes over this slot. */
    ipo_atomic_store_relaxed(&s->waiting_for, 0u);
    ipo_atomic_store_relaxed(&s->sleep_ticket, UINT64_C(0));
    ipo__take_back_sleepers(r, s);
    /* The pins a dead predecessor's buffers left: dropped, its log kept
     * as ours (freeing it needs access, which a claimer does not hold). */
    ipo__pins_drop(r, s, 0);
    r->pin_hint_chunk = 0;
    uint32_t pid = (uint32_t)getpid();
    ipo_atomic_store_relaxed(&s->pid, pid);
    ipo_atomic_store_relaxed(&s->role, role);
    ipo_atomic_store_relaxed(&s->start_time, ipo__process_start_time((int)pid));
    ipo_atomic_store_relaxed(&s->turns, UINT64_C(0));
    /* A new generation names a new doorbell. Only claimers write it, and
     * we hold the slot, so our own relaxed read is exact.
     * SYNC POINT slot generation: pairs with the acquire load of generation
     * in ring() (loop/src/handoff.c); a ringer that reads the new generation
     * reads the cleared waiting fields and the new pid with it. */
    uint32_t generation = ipo_atomic_load_relaxed(&s->generation) + 1;
    ipo_atomic_store_release(&s->generation, generation);
    /* A ring that found the predecessor's doorbell gone left the flag set
     * (see ring()); clear it so that this occupant can be rung. It clears it
     * again itself each time it registers, so the order does not matter. */
    ipo_atomic_store_relaxed(&s->wake_pending, 0u);
    /* Relaxed: for processes, state is informative (the slot belongs to
     * whoever holds its lock), and ipo_region_join() claimed the slot with
     * its compare-and-swap already. The generation above publishes the slot. */
    ipo_atomic_store_relaxed(&s->state, (uint32_t)IPO_SLOT_ACTIVE);
    r->me = s;
    r->slot = i;
    r->access_mine = (uint64_t)i + 1;
    r->joined = 1;
}

int ipo_region_format(void *mem, uint64_t size, const ipo_region_options_t *opts)
{
    layout_plan_t plan;
    if (!mem)
        return -IPO_EINVAL;
    int rc = ipo__region_plan(opts, size, &plan);
    if (rc)
        return rc;
    rc = ipo__region_format_memory(mem, &plan, 0600);
    if (rc)
        return rc;
    /* SYNC POINT region ready: pairs with the acquire load of state in
     * ipo_region_join(), so a thread that joins finds the region whole. */
    ipo_atomic_store_release(&((ipo_header_t *)mem)->state, (uint32_t)IPO_STATE_READY);
    return 0;
}

int ipo_region_join(ipo_region_t *r, void *mem, uint64_t size)
{
    ipo__region_reset(r);
    ipo_header_t *hdr = mem;
    /* SYNC POINT region magic: pairs with the store-release of magic in
     * ipo__region_format_memory(); once it is seen, every identity field is. */
    uint64_t magic = ipo_atomic_load_acquire(&hdr->magic);
    if (magic == 0)
        return -IPO_EAGAIN; /* not formatted yet */
    if (magic != IPO_MAGIC || size < sizeof(ipo_header_t))
        return -IPO_ELAYOUT;
    /* SYNC POINT region ready: pairs with the store-release of READY in
     * ipo_region_format(). */
    uint32_t state = ipo_atomic_load_acquire(&hdr->state);
    if (state == IPO_STATE_INIT)
        return -IPO_EAGAIN;
    int rc = ipo__region_header_usable(hdr, size);
    if (rc)
        return rc;
    if (state != IPO_STATE_READY) {
        if (state == IPO_STATE_CLOSING)
            return -IPO_ECLOSING;
        snprintf(ipo__corrupt_reason, sizeof(ipo__corrupt_reason), "the region's state %u is none of its states", state);
        return -IPO_ECORRUPT;
    }
    ipo__region_bind(r, mem, size);
    /* No file, no locks: threads claim slots with a compare-and-swap.
     * SYNC POINT slot claim: its acquire pairs with the store-release of
     * FREE in ipo_region_leave(), so the new occupant sees everything the
     * last one wrote to the slot. */
    for (uint32_t i = 0; i < r->slot_count; i++) {
        uint32_t expected = IPO_SLOT_FREE;
        if (ipo_atomic_cas_acquire(&slot_at(r, i)->state, &expected, (uint32_t)IPO_SLOT_ACTIVE)) {
            ipo__occupy_slot(r, i, i == 0 ? IPO_ROLE_CREATOR : IPO_ROLE_CONSUMER);
            return 0;
        }
    }
    return -IPO_EFULL;
}

void ipo_region_leave(ipo_region_t *r)
{
    /* SYNC POINT slot claim: pairs with the compare-and-swap in
     * ipo_region_join() by the next thread to claim this slot. */
    if (r->joined)
        ipo_atomic_store_release(&r->me->state, (uint32_t)IPO_SLOT_FREE);
    ipo__region_reset(r);
}

/* ---- check ----------------------------------------------------------------- */

int ipo_region_check(const ipo_region_t *r, char *why, size_t why_len)
{
    const ipo_header_t *hdr = r->hdr;
    if (!hdr) {
        if (why)
            snprintf(why, why_len, "the handle is not attached");
        return -IPO_EINVAL;
    }
    if (hdr->magic != IPO_MAGIC || hdr->layout_version != IPO_LAYOUT_VERSION ||
        hdr->layout_hash != ipo_layout_hash() || hdr->total_size != r->size) {
        if (why)
            snprintf(why, why_len, "the header's identity fields are damaged");
        return -IPO_ECORRUPT;
    }
    /* A participant sees the region ready, or closing. Relaxed: the
     * creator's store of CLOSING publishes nothing. */
    uint32_t state = ipo_atomic_load_relaxed(&hdr->state);
    if (state != IPO_STATE_READY && state != IPO_STATE_CLOSING) {
        if (why)
            snprintf(why, why_len, "the region's state %u is neither ready nor closing", state);
        return -IPO_ECORRUPT;
    }
    /* What an attacher checks; then what this handle took from the header
     * when it attached must still be what the header says. */
    int rc = ipo__region_validate(hdr, r->size, why, why_len);
    if (rc)
        return rc;
    struct stat st;
    if (r->fd >= 0 && fstat(r->fd, &st) == 0 && st.st_uid != hdr->owner_uid) {
        if (why)
            snprintf(why, why_len, "the header names uid %u as its owner, the file's is %u",
                     hdr->owner_uid, (unsigned)st.st_uid);
        return -IPO_ECORRUPT;
    }
    if (hdr->slot_count != r->slot_count || r->base + hdr->slots_off != (uint8_t *)r->slots ||
        r->base + hdr->alloc_off != (uint8_t *)r->heap.root ||
        hdr->hash_key[0] != r->hash_key[0] || hdr->hash_key[1] != r->hash_key[1]) {
        if (why)
            snprintf(why, why_len, "the header's slot table, allocator root or hash key changed "
                     "since this participant attached");
        return -IPO_ECORRUPT;
    }
    rc = ipo_alloc_check(&r->heap, why, why_len);
    if (rc)
        return rc;
    rc = ipo_queue_check(r, why, why_len);
    if (rc)
        return rc;
    return ipo_channel_check(r, why, why_len);
}


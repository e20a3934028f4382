/* core/src/queue.c — the message queue: a growable ring of object offsets, taken at either end. */
/* Only holders of access write head, tail, ring and the entries, and only
 * holders read the entries and `ring`; waiters read head and tail without
 * access (ipo_queue_length()). So the holder's own reads stay plain, and
 * its stores of head and tail are atomic (release) for those waiters. */
#include "ipo/queue.h"

#include "ipo/containers.h"

#include <stdio.h>
#include <stdlib.h>

#include "crash_point.h"
#include "internal.h"
#include "ipo/access.h"
#include "ipo/errors.h"

static inline ipo_ring_t *ring_at(const ipo_region_t *r, ipo_off_t off)
{
    return (ipo_ring_t *)(r->base + off);
}

/* Where message i lives: i mod capacity. A capacity is a power of two but
 * in a ring that grew by less than double when the region was short of
 * memory, so the mask is the usual way and the division the rare one. A
 * zero capacity (a damaged ring, which check() reports) divides nothing. */
static inline uint64_t slot_of(uint64_t cap, uint64_t i)
{
    return (cap & (cap - 1)) ? i % cap : i & (cap - 1);
}

static inline uint64_t ring_slot(const ipo_ring_t *ring, uint64_t i)
{
    return slot_of(ring->capacity, i);
}

/* A ring's slot is an object's offset in entries[], and the time it was put
 * in a second array after them: stamps for tools (a message's age), which
 * nothing else reads. */
#define SLOT_BYTES (2 * sizeof(ipo_off_t))

static inline uint64_t *ring_stamps(ipo_ring_t *ring)
{
    return (uint64_t *)(ring->entries + ring->capacity);
}

/* When this turn put, on the coarse monotonic clock: read once a turn (the
 * access word's count says which turn this is), not at every put. */
static uint64_t put_time(ipo_region_t *r)
{
    ipo__this_turn(r);
    if (!r->turn_put_ns)
        r->turn_put_ns = (uint64_t)ipo_coarse_now_ns();
    return r->turn_put_ns;
}

static int ring_new(ipo_region_t *r, uint64_t capacity, uint64_t align, ipo_off_t *out)
{
    ipo_off_t off;
    int rc = ipo_alloc(&r->heap, sizeof(ipo_ring_t) + capacity * SLOT_BYTES, align, &off);
    if (rc)
        return rc;
    ipo_ring_t *ring = ring_at(r, off);
    IPO_CRASH_POINT();
    ring->capacity = capacity;
    ring->reserved = 0;
    *out = off;
    return 0;
}

/* Nothing read from the region is trusted: the ring offset, its capacity
 * and the counters are checked before each operation follows them, at the
 * cost of a few compares (the ring's block is a live allocation, its
 * capacity fits the block, and tail - head is at most the capacity). A damaged queue is -IPO_ECORRUPT, never a read or write
 * outside the ring, nor a copy loop of 2^64 steps. */
int ipo_queue_check_ring(const ipo_heap_t *h, const ipo_queue_t *q, char *why, size_t why_len)
{
    ipo_off_t off = q->ring;
    if (ipo_alloc_validate(h, off)) {
        if (why)
            snprintf(why, why_len, "the queue's ring offset %llu is not a live block",
                     (unsigned long long)off);
        return -IPO_ECORRUPT;
    }
    uint64_t cap = ((const ipo_ring_t *)(h->base + off))->capacity;
    uint64_t room = (ipo_alloc_usable_size(h, off) - sizeof(ipo_ring_t)) / SLOT_BYTES;
    if (!cap || cap > room) {
        if (why)
            snprintf(why, why_len, "the queue's ring at %llu has an impossible capacity %llu",
                     (unsigned long long)off, (unsigned long long)cap);
        return -IPO_ECORRUPT;
    }
    if (q->tail - q->head > cap) {
        if (why)
            snprintf(why, why_len, "the queue's head %llu and tail %llu hold %llu messages in a ring of %llu",
                     (unsigned long long)q->head, (unsigned long long)q->tail,
                     (unsigned long long)(q->tail - q->head), (unsigned long long)cap);
        return -IPO_ECORRUPT;
    }
    return 0;
}

/* The queue as one look sees it: counters, ring and capacity each read
 * once, so that a reader without access (a tool's observer) never follows
 * a value that changed between its check and its use, and never loops on
 * a tail that moves under it. The ring's slots lie inside the heap for the
 * capacity seen, whatever the ring's block has become since. */
typedef struct queue_view {
    const ipo_ring_t *ring;
    const uint64_t   *stamps;
    uint64_t          head, tail, cap;
} queue_view_t;

static int queue_look(const ipo_region_t *r, queue_view_t *v)
{
    const ipo_queue_t *q = &r->hdr->queue;
    const ipo_alloc_root_t *root = r->heap.root;
    /* Relaxed: under access, plain values; without, a snapshot whose
     * parts are checked against each other below. */
    ipo_off_t off = ipo_atomic_load_relaxed(&q->ring);
    v->head = ipo_atomic_load_relaxed(&q->head);
    v->tail = ipo_atomic_load_relaxed(&q->tail);
    uint64_t start = root->heap_start, end = root->heap_end;
    if (off < start || off >= end || (off & 15) || end > r->size - sizeof(ipo_block_t) ||
        end - off < sizeof(ipo_ring_t))
        return -IPO_ECORRUPT;
    v->ring = ring_at(r, off);
    v->cap = ipo_atomic_load_relaxed(&v->ring->capacity);
    if (!v->cap || v->cap > (end - off - sizeof(ipo_ring_t)) / SLOT_BYTES ||
        v->tail - v->head > v->cap)
        return -IPO_ECORRUPT;
    v->stamps = (const uint64_t *)(v->ring->entries + v->cap);
    return 0;
}

/* The ring as every operation checks it: compares only, no call. The ring
 * and every entry it has lie inside the heap (whose end attach found inside
 * the mapping, and the allocator checks again), its capacity is not 0, and
 * the counters hold at most that many messages; whether the ring is the
 * live block it should be is check()'s question (above). NULL when the
 * queue is damaged. */
static inline ipo_ring_t *ring_checked(const ipo_region_t *r)
{
    /* The checks of queue_look(), with plain loads: the holder's own
     * values, which the compiler may keep for the operation that follows
     * (a look's relaxed loads, reloaded there, cost 0.25 ns a put+take). */
    const ipo_queue_t *q = &r->hdr->queue;
    const ipo_alloc_root_t *root = r->heap.root;
    ipo_off_t off = q->ring;
    uint64_t end = root->heap_end;
    if (off < root->heap_start || off >= end || (off & 15) || end > r->size - sizeof(ipo_block_t) ||
        end - off < sizeof(ipo_ring_t))
        return NULL;
    ipo_ring_t *ring = ring_at(r, off);
    uint64_t cap = ring->capacity;
    if (!cap || cap > (end - off - sizeof(ipo_ring_t)) / SLOT_BYTES ||
        q->tail - q->head > cap)
        return NULL;
    return ring;
}

int ipo_queue_init(ipo_region_t *r)
{
    ipo_queue_t *q = &r->hdr->queue;
    ipo_off_t ring;
    int rc = ring_new(r, IPO_QUEUE_INITIAL_CAPACITY, IPO_CACHE_LINE, &ring);
    if (rc)
        return rc;
    /* Plain: the region is not READY yet; the store-release of READY
     * publishes these with the rest of the format. */
    q->head = 0;
    q->tail = 0;
    q->ring = ring;
    return 0;
}

/* Moves the queue from its ring `old` to the new ring at `moved` (which
 * holds every message). Built aside, then published with one store: a
 * crash at any point leaves either the old ring or the new one, both whole
 * (and at worst the new one unreachable, or the old one not freed yet). */
static void ring_move(ipo_region_t *r, const ipo_ring_t *old, ipo_off_t moved)
{
    ipo_queue_t *q = &r->hdr->queue;
    ipo_ring_t *ring = ring_at(r, moved);
    IPO_CRASH_POINT();
    uint64_t *stamps = ring_stamps(ring);
    const uint64_t *old_stamps = ring_stamps((ipo_ring_t *)old);
    for (uint64_t i = q->head; i != q->tail; i++) {
        ring->entries[ring_slot(ring, i)] = old->entries[ring_slot(old, i)];
        stamps[ring_slot(ring, i)] = old_stamps[ring_slot(old, i)];
    }
    ipo_off_t old_off = q->ring;
    /* Release, not for readers (every reader of `ring` holds access, which
     * orders it after this turn) but for a kill: it keeps the copies above
     * ahead of this store (a plain store could be moved before them), so a
     * holder killed here leaves the old ring or the new one, never a
     * half-copied one. No load pairs with it. */
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&q->ring, moved);
    ipo_alloc_free(&r->heap, old_off);
}

int ipo_queue_reserve(ipo_region_t *r)
{
    ipo_queue_t *q = &r->hdr->queue;
    const ipo_ring_t *old = ring_checked(r);
    if (!old)
        return -IPO_ECORRUPT;
    uint64_t capacity = old->capacity;
    if (q->tail - q->head < capacity)
        return 0;

    ipo_off_t grown;
    int rc = ring_new(r, capacity * 2, IPO_CACHE_LINE, &grown);
    /* Doubling, on a cache line, is a policy, not a need: without room for
     * it, a ring of one more entry anywhere may still fit (and is the
     * request a failure then reports). */
    if (rc == -IPO_ENOMEM)
        rc = ring_new(r, capacity + 1, IPO_ALLOC_GRANULE, &grown);
    if (rc)
        return rc;
    ring_move(r, old, grown);
    return 0;
}

/* A ring that grew for a burst shrinks back as the queue drains: to half
 * its capacity once the messages fill less than a quarter of it, never
 * below the first ring's. Between the two thresholds a queue must double
 * its length to grow again, or halve it to shrink, so no ring is made and
 * freed at every other put and take. Shrinking is a courtesy: when no
 * block can be had for the smaller ring, the larger one stays. Called by a
 * take, whose peek checked the ring in this turn (ring_checked), so the
 * ring is followed without checking it again. */
static void maybe_shrink(ipo_region_t *r)
{
    ipo_queue_t *q = &r->hdr->queue;
    const ipo_ring_t *old = ring_at(r, q->ring);
    uint64_t capacity = old->capacity;
    if (capacity <= IPO_QUEUE_INITIAL_CAPACITY || q->tail - q->head >= capacity / 4)
        return;
    /* A ring that grew by one entry when memory was short may be no power
     * of two: halving it never goes below the first ring. */
    uint64_t smaller = capacity / 2 < IPO_QUEUE_INITIAL_CAPACITY ? IPO_QUEUE_INITIAL_CAPACITY
                                                                 : capacity / 2;
    ipo_off_t moved;
    if (ring_new(r, smaller, IPO_CACHE_LINE, &moved) == 0)
        ring_move(r, old, moved);
}

int ipo_queue_put(ipo_region_t *r, ipo_off_t obj)
{
    const ipo_obj_t *o;
    if (ipo_obj_get(r, obj, &o))
        return -IPO_EBADOBJ;
    if (o->flags & IPO_OBJ_QUEUED)
        return -IPO_EBUSY;
    int rc = ipo_queue_reserve(r);
    if (rc)
        return rc;
    ipo_queue_t *q = &r->hdr->queue;
    /* Reserve checked the ring and left room in it. The entry first, then
     * the flag: a put cut short between them leaves its flag only on the
     * object the entry past the tail names, where the repair looks. */
    ipo_ring_t *ring = ring_at(r, q->ring);
    IPO_CRASH_POINT();
    uint64_t at = ring_slot(ring, q->tail);
    ring->entries[at] = obj;
    ring_stamps(ring)[at] = put_time(r);
    /* Plain stores kept in this order for a kill: see WALK_POINT in
     * alloc.c; no other thread reads them without access. */
    ipo_compiler_order();
    IPO_CRASH_POINT();
    ((ipo_obj_t *)o)->flags |= IPO_OBJ_QUEUED;
    /* Publish the entry before the new tail: a holder killed here leaves
     * the message out or in, whole. SYNC POINT queue tail: pairs with the
     * acquire load of tail in ipo_queue_length(), which waiters read
     * without holding access. */
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&q->tail, q->tail + 1);
    ipo_region_mark_changed(r);
    return 0;
}

int ipo_queue_peek(const ipo_region_t *r, ipo_off_t *obj)
{
    /* Plain: we hold access, and only holders write head, tail and ring. */
    const ipo_queue_t *q = &r->hdr->queue;
    const ipo_ring_t *ring = ring_checked(r);
    if (!ring)
        return -IPO_ECORRUPT;
    if (q->head == q->tail)
        return -IPO_EEMPTY;
    *obj = ring->entries[ring_slot(ring, q->head)];
    return 0;
}

/* The object leaves the queue: it may be destroyed (or queued again) now. */
static void unflag(ipo_region_t *r, ipo_off_t obj)
{
    const ipo_obj_t *o;
    if (ipo_obj_get(r, obj, &o) == 0) {
        IPO_CRASH_POINT();
        ((ipo_obj_t *)o)->flags &= (uint8_t)~IPO_OBJ_QUEUED;
    }
}

/* A statistic for tools, which read it without access (relaxed); only
 * holders write it. A kill just before leaves it one short. */
static void count_taken(ipo_queue_t *q)
{
    ipo_atomic_store_relaxed(&q->taken, ipo_atomic_load_relaxed(&q->taken) + 1);
}

int ipo_queue_take(ipo_region_t *r, ipo_off_t *obj)
{
    int rc = ipo_queue_peek(r, obj);
    if (rc)
        return rc;
    ipo_queue_t *q = &r->hdr->queue;
    unflag(r, *obj);
    /* SYNC POINT queue head: pairs with the acquire load of head in
     * ipo_queue_length(): a waiter that reads the new head then reads a tail
     * at least as new, so the length it computes is never negative. */
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&q->head, q->head + 1);
    count_taken(q);
    ipo_region_mark_changed(r);
    maybe_shrink(r);
    return 0;
}

int ipo_queue_peek_newest(const ipo_region_t *r, ipo_off_t *obj)
{
    /* Plain, as ipo_queue_peek(): only holders write the queue. */
    const ipo_queue_t *q = &r->hdr->queue;
    const ipo_ring_t *ring = ring_checked(r);
    if (!ring)
        return -IPO_ECORRUPT;
    if (q->head == q->tail)
        return -IPO_EEMPTY;
    *obj = ring->entries[ring_slot(ring, q->tail - 1)];
    return 0;
}

int ipo_queue_at(const ipo_region_t *r, uint64_t i, ipo_off_t *obj, int64_t *put_ns)
{
    /* One look, as a tool without access reads it (queue_look()). */
    queue_view_t v;
    if (queue_look(r, &v))
        return -IPO_ECORRUPT;
    if (i >= v.tail - v.head)
        return -IPO_EEMPTY;
    uint64_t at = slot_of(v.cap, v.head + i);
    *obj = ipo_atomic_load_relaxed(&v.ring->entries[at]);
    if (put_ns)
        *put_ns = (int64_t)ipo_atomic_load_relaxed(&v.stamps[at]);
    return 0;
}

int ipo_queue_take_newest(ipo_region_t *r, ipo_off_t *obj)
{
    int rc = ipo_queue_peek_newest(r, obj);
    if (rc)
        return rc;
    ipo_queue_t *q = &r->hdr->queue;
    unflag(r, *obj);
    /* The entry stays in the ring until a put overwrites it; below the new
     * tail nobody reads it. Tail stays at or above head (a message was
     * left between them), so a waiter's length is never negative. SYNC
     * POINT queue tail: pairs with the acquire load of tail in
     * ipo_queue_length(), as a put's store does. */
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&q->tail, q->tail - 1);
    count_taken(q);
    maybe_shrink(r);
    return 0;
}

/* check() counts the objects flagged as queued in one walk of the heap. */
typedef struct queued_count {
    const ipo_region_t *r;
    ipo_off_t           ring;
    uint64_t            queued;
} queued_count_t;

/* The object at a block of a heap walk, if it is flagged as queued; else
 * NULL. The ring is the one allocated block that is not an object. */
static ipo_obj_t *flagged_queued(const ipo_region_t *r, ipo_off_t ring, ipo_off_t payload)
{
    const ipo_obj_t *o;
    if (payload == ring || ipo_obj_get(r, payload, &o) || !(o->flags & IPO_OBJ_QUEUED))
        return NULL;
    return (ipo_obj_t *)o;
}

static int count_queued(void *ctx, ipo_off_t payload)
{
    queued_count_t *c = ctx;
    if (flagged_queued(c->r, c->ring, payload))
        c->queued++;
    return 0;
}

static int offset_order(const void *a, const void *b)
{
    ipo_off_t x = *(const ipo_off_t *)a, y = *(const ipo_off_t *)b;
    return x < y ? -1 : x > y;
}

/* The offsets the messages name, head to tail, sorted (malloc'd, for the
 * caller to free); NULL, with why, when there is no memory for them. */
static ipo_off_t *sorted_entries(const queue_view_t *v, char *why, size_t why_len)
{
    uint64_t n = v->tail - v->head;
    ipo_off_t *entries = malloc((size_t)(n ? n : 1) * sizeof(*entries));
    if (!entries) {
        if (why)
            snprintf(why, why_len, "no memory for the %llu messages of the queue", (unsigned long long)n);
        return NULL;
    }
    for (uint64_t i = 0; i < n; i++)
        entries[i] = ipo_atomic_load_relaxed(&v->ring->entries[slot_of(v->cap, v->head + i)]);
    qsort(entries, (size_t)n, sizeof(*entries), offset_order);
    return entries;
}

/* The messages are sequence numbers head to tail - 1; each names an object
 * flagged as queued, and a flag is set exactly while one message names the
 * object. So the entries between head and tail must be distinct queued
 * objects, and no other object may carry the flag: a head or tail moved by
 * a stray write either brings in an entry that is no queued object (or
 * one twice), or leaves a flagged object outside, and the counts differ. */
int ipo_queue_check(const ipo_region_t *r, char *why, size_t why_len)
{
    const ipo_queue_t *q = &r->hdr->queue;
    int rc = ipo_queue_check_ring(&r->heap, q, why, why_len);
    if (rc)
        return rc;
    /* Then everything from one look (queue_look()): check() also serves a
     * tool that reads without access, while a holder changes the queue. */
    queue_view_t v;
    if (queue_look(r, &v)) {
        if (why)
            snprintf(why, why_len, "the queue's ring and counters do not fit together");
        return -IPO_ECORRUPT;
    }
    uint64_t n = v.tail - v.head;
    for (uint64_t i = v.head; i != v.tail; i++) {
        ipo_off_t obj = ipo_atomic_load_relaxed(&v.ring->entries[slot_of(v.cap, i)]);
        const ipo_obj_t *o;
        if (ipo_obj_get(r, obj, &o) || !(o->flags & IPO_OBJ_QUEUED)) {
            if (why)
                snprintf(why, why_len, "message %llu names offset %llu, which is not a queued object",
                         (unsigned long long)i, (unsigned long long)obj);
            return -IPO_ECORRUPT;
        }
        /* And everything the message's object owns, containers included. */
        rc = ipo_obj_check_tree(r, obj, 0, why, why_len);
        if (rc)
            return rc;
    }
    ipo_off_t *seen = sorted_entries(&v, why, why_len);
    if (!seen)
        return -IPO_ECORRUPT;
    for (uint64_t i = 1; i < n; i++)
        if (seen[i] == seen[i - 1]) {
            if (why)
                snprintf(why, why_len, "two messages name the object at offset %llu",
                         (unsigned long long)seen[i]);
            rc = -IPO_ECORRUPT;
            goto out;
        }
    queued_count_t count = { .r = r, .ring = (ipo_off_t)((const uint8_t *)v.ring - r->base), .queued = 0 };
    rc = ipo_alloc_for_each(&r->heap, count_queued, &count);
    if (rc) {
        if (why)
            snprintf(why, why_len, "the heap's blocks cannot be walked");
        goto out;
    }
    if (count.queued != n) {
        if (why)
            snprintf(why, why_len, "%llu objects are flagged as queued, but the queue's head %llu "
                     "and tail %llu hold %llu messages: a moved head or tail?",
                     (unsigned long long)count.queued, (unsigned long long)v.head,
                     (unsigned long long)v.tail, (unsigned long long)n);
        rc = -IPO_ECORRUPT;
    }
out:
    free(seen);
    return rc;
}

static void flag_queued(ipo_region_t *r, ipo_off_t obj)
{
    const ipo_obj_t *o;
    if (ipo_obj_get(r, obj, &o) == 0 && !(o->flags & IPO_OBJ_QUEUED)) {
        IPO_CRASH_POINT();
        ((ipo_obj_t *)o)->flags |= IPO_OBJ_QUEUED;
    }
}

/* What a cut-short put or take can have left is at the queue's ends, so
 * the repair looks there, not at every message (a queue of 20,000 took
 * milliseconds to sort and search). A take unflags its object before it
 * moves the head (or the tail, for the newest): a kill between leaves that
 * end's message unflagged; it is still queued, so it is flagged again and
 * the next take delivers it. A put writes its entry past the tail, flags
 * the object, then moves the tail: a kill between leaves a flag that no
 * message backs, on the object the entry past the tail names, which goes.
 * Entries past the tail can be stale (a message taken from the newest
 * end, whose object was put again elsewhere since), so it goes only when
 * no message names that object. Every step is idempotent: a repair cut
 * short is run again whole. */
int ipo_queue_repair(ipo_region_t *r, char *why, size_t why_len)
{
    const ipo_queue_t *q = &r->hdr->queue;
    int rc = ipo_queue_check_ring(&r->heap, q, why, why_len);
    if (rc)
        return rc;
    const ipo_ring_t *ring = ring_at(r, q->ring);
    uint64_t n = q->tail - q->head;
    if (n) {
        flag_queued(r, ring->entries[ring_slot(ring, q->head)]);
        flag_queued(r, ring->entries[ring_slot(ring, q->tail - 1)]);
    }
    if (n == ring->capacity)
        return 0; /* a full ring: no put was under way (it grows it first) */
    ipo_off_t past = ring->entries[ring_slot(ring, q->tail)];
    const ipo_obj_t *o;
    if (ipo_obj_get(r, past, &o) || !(o->flags & IPO_OBJ_QUEUED))
        return 0;
    for (uint64_t i = q->head; i != q->tail; i++)
        if (ring->entries[ring_slot(ring, i)] == past)
            return 0; /* queued after all, at another place */
    IPO_CRASH_POINT();
    ((ipo_obj_t *)o)->flags &= (uint8_t)~IPO_OBJ_QUEUED;
    return 0;
}

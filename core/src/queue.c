/* core/src/queue.c — the message queue: a growable ring of object offsets, taken at either end. */
/* Only holders of access write head, tail, ring and the entries, and only
 * holders read the entries and `ring`; waiters read head and tail without
 * access (ipo_queue_length()). So the holder's own reads stay plain, and
 * its stores of head and tail are atomic (release) for those waiters. */
#include "ipo/queue.h"

#include "ipo/containers.h"

#include <stdio.h>

#include "ipo/errors.h"

static inline ipo_ring_t *ring_at(const ipo_region_t *r, ipo_off_t off)
{
    return (ipo_ring_t *)(r->base + off);
}

static int ring_new(ipo_region_t *r, uint64_t capacity, ipo_off_t *out)
{
    ipo_off_t off;
    int rc = ipo_alloc(&r->heap, sizeof(ipo_ring_t) + capacity * sizeof(ipo_off_t),
                       IPO_CACHE_LINE, &off);
    if (rc)
        return rc;
    ipo_ring_t *ring = ring_at(r, off);
    ring->capacity = capacity;
    ring->reserved = 0;
    *out = off;
    return 0;
}

int ipo_queue_init(ipo_region_t *r)
{
    ipo_queue_t *q = &r->hdr->queue;
    ipo_off_t ring;
    int rc = ring_new(r, IPO_QUEUE_INITIAL_CAPACITY, &ring);
    if (rc)
        return rc;
    /* Plain: the region is not READY yet; the store-release of READY
     * publishes these with the rest of the format. */
    q->head = 0;
    q->tail = 0;
    q->ring = ring;
    return 0;
}

/* Moves the queue to a new ring of `capacity` (a power of two that holds
 * every message). Built aside, then published with one store: a crash at
 * any point leaves either the old ring or the new one, both whole (and at
 * worst the new one unreachable, or the old one not freed yet). */
static int ring_replace(ipo_region_t *r, uint64_t capacity)
{
    ipo_queue_t *q = &r->hdr->queue;
    const ipo_ring_t *old = ring_at(r, q->ring);
    ipo_off_t moved;
    int rc = ring_new(r, capacity, &moved);
    if (rc)
        return rc;
    ipo_ring_t *ring = ring_at(r, moved);
    uint64_t old_mask = old->capacity - 1, new_mask = capacity - 1;
    for (uint64_t i = q->head; i != q->tail; i++)
        ring->entries[i & new_mask] = old->entries[i & old_mask];
    ipo_off_t old_off = q->ring;
    /* Release, not for readers (every reader of `ring` holds access, which
     * orders it after this turn) but for a kill: it keeps the copies above
     * ahead of this store (a plain store could be moved before them), so a
     * holder killed here leaves the old ring or the new one, never a
     * half-copied one. No load pairs with it. */
    ipo_atomic_store_release(&q->ring, moved);
    ipo_alloc_free(&r->heap, old_off);
    return 0;
}

int ipo_queue_reserve(ipo_region_t *r)
{
    ipo_queue_t *q = &r->hdr->queue;
    uint64_t capacity = ring_at(r, q->ring)->capacity;
    if (q->tail - q->head < capacity)
        return 0;
    return ring_replace(r, capacity * 2);
}

/* A ring that grew for a burst shrinks back as the queue drains: to half
 * its capacity once the messages fill less than a quarter of it, never
 * below the first ring's. Between the two thresholds a queue must double
 * its length to grow again, or halve it to shrink, so no ring is made and
 * freed at every other put and take. Shrinking is a courtesy: when no
 * block can be had for the smaller ring, the larger one stays. */
static void maybe_shrink(ipo_region_t *r)
{
    ipo_queue_t *q = &r->hdr->queue;
    uint64_t capacity = ring_at(r, q->ring)->capacity;
    if (capacity > IPO_QUEUE_INITIAL_CAPACITY && q->tail - q->head < capacity / 4)
        (void)ring_replace(r, capacity / 2);
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
    ((ipo_obj_t *)o)->flags |= IPO_OBJ_QUEUED;
    ipo_queue_t *q = &r->hdr->queue;
    ipo_ring_t *ring = ring_at(r, q->ring);
    ring->entries[q->tail & (ring->capacity - 1)] = obj;
    /* Publish the entry before the new tail: a holder killed here leaves
     * the message out or in, whole. SYNC POINT queue tail: pairs with the
     * acquire load of tail in ipo_queue_length(), which waiters read
     * without holding access. */
    ipo_atomic_store_release(&q->tail, q->tail + 1);
    ipo_region_mark_changed(r);
    return 0;
}

int ipo_queue_peek(const ipo_region_t *r, ipo_off_t *obj)
{
    /* Plain: we hold access, and only holders write head, tail and ring. */
    const ipo_queue_t *q = &r->hdr->queue;
    if (q->head == q->tail)
        return -IPO_EEMPTY;
    const ipo_ring_t *ring = ring_at(r, q->ring);
    *obj = ring->entries[q->head & (ring->capacity - 1)];
    return 0;
}

/* The object leaves the queue: it may be destroyed (or queued again) now. */
static void unflag(ipo_region_t *r, ipo_off_t obj)
{
    const ipo_obj_t *o;
    if (ipo_obj_get(r, obj, &o) == 0)
        ((ipo_obj_t *)o)->flags &= (uint8_t)~IPO_OBJ_QUEUED;
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
    ipo_atomic_store_release(&q->head, q->head + 1);
    ipo_region_mark_changed(r);
    maybe_shrink(r);
    return 0;
}

int ipo_queue_peek_newest(const ipo_region_t *r, ipo_off_t *obj)
{
    /* Plain, as ipo_queue_peek(): only holders write the queue. */
    const ipo_queue_t *q = &r->hdr->queue;
    if (q->head == q->tail)
        return -IPO_EEMPTY;
    const ipo_ring_t *ring = ring_at(r, q->ring);
    *obj = ring->entries[(q->tail - 1) & (ring->capacity - 1)];
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
    ipo_atomic_store_release(&q->tail, q->tail - 1);
    maybe_shrink(r);
    return 0;
}

int ipo_queue_check(const ipo_region_t *r, char *why, size_t why_len)
{
    const ipo_queue_t *q = &r->hdr->queue;
    if (ipo_alloc_validate(&r->heap, q->ring)) {
        if (why)
            snprintf(why, why_len, "the queue's ring offset %llu is not a live block",
                     (unsigned long long)q->ring);
        return -IPO_ECORRUPT;
    }
    const ipo_ring_t *ring = ring_at(r, q->ring);
    uint64_t cap = ring->capacity;
    if (!cap || (cap & (cap - 1)) ||
        sizeof(ipo_ring_t) + cap * sizeof(ipo_off_t) > ipo_alloc_usable_size(&r->heap, q->ring)) {
        if (why)
            snprintf(why, why_len, "the queue's ring has an impossible capacity %llu",
                     (unsigned long long)cap);
        return -IPO_ECORRUPT;
    }
    if (q->tail - q->head > cap) {
        if (why)
            snprintf(why, why_len, "the queue holds %llu messages in a ring of %llu",
                     (unsigned long long)(q->tail - q->head), (unsigned long long)cap);
        return -IPO_ECORRUPT;
    }
    for (uint64_t i = q->head; i != q->tail; i++) {
        ipo_off_t obj = ring->entries[i & (cap - 1)];
        const ipo_obj_t *o;
        if (ipo_obj_get(r, obj, &o) || !(o->flags & IPO_OBJ_QUEUED)) {
            if (why)
                snprintf(why, why_len, "message %llu names offset %llu, which is not a queued object",
                         (unsigned long long)i, (unsigned long long)obj);
            return -IPO_ECORRUPT;
        }
        /* And everything the message's object owns, containers included. */
        int rc = ipo_obj_check_tree(r, obj, 0, why, why_len);
        if (rc)
            return rc;
    }
    return 0;
}

int ipo_queue_repair(ipo_region_t *r, char *why, size_t why_len)
{
    const ipo_queue_t *q = &r->hdr->queue;
    if (ipo_alloc_validate(&r->heap, q->ring)) {
        if (why)
            snprintf(why, why_len, "the queue's ring offset %llu is not a live block",
                     (unsigned long long)q->ring);
        return -IPO_ECORRUPT;
    }
    const ipo_ring_t *ring = ring_at(r, q->ring);
    uint64_t cap = ring->capacity;
    if (!cap || (cap & (cap - 1)) ||
        sizeof(ipo_ring_t) + cap * sizeof(ipo_off_t) > ipo_alloc_usable_size(&r->heap, q->ring) ||
        q->tail - q->head > cap) {
        if (why)
            snprintf(why, why_len, "the queue's ring (capacity %llu, %llu messages) is damaged",
                     (unsigned long long)cap, (unsigned long long)(q->tail - q->head));
        return -IPO_ECORRUPT;
    }
    /* A take unflags its object before it moves the head (or the tail, for
     * the newest): a kill between leaves a queued message unflagged. It is
     * still queued, so it is flagged again and the next take delivers it. */
    for (uint64_t i = q->head; i != q->tail; i++) {
        const ipo_obj_t *o;
        if (ipo_obj_get(r, ring->entries[i & (cap - 1)], &o) == 0)
            ((ipo_obj_t *)o)->flags |= IPO_OBJ_QUEUED;
    }
    return 0;
}

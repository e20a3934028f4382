/* core/include/ipo/queue.h — the queue of messages, each naming one object, taken oldest (FIFO) or newest (LIFO) first. */
#ifndef IPO_QUEUE_H
#define IPO_QUEUE_H

#include <stdint.h>

#include "ipo/atomics.h"
#include "ipo/format.h"
#include "ipo/region.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPO_QUEUE_INITIAL_CAPACITY 64u

/* Creates the queue's first ring; part of formatting a region. */
int ipo_queue_init(ipo_region_t *r);

/* Makes room for one more message now, so that a put after encoding an
 * object cannot fail. 0, -IPO_ENOMEM, or -IPO_ECORRUPT when the queue is
 * damaged (as every function below). Needs access. */
int ipo_queue_reserve(ipo_region_t *r);

/* Appends a message naming obj. 0, -IPO_ENOMEM (when growing the ring
 * fails: nothing changes then), -IPO_EBADOBJ when obj is not a live object,
 * -IPO_EBUSY when a message names it already. Needs access. */
int ipo_queue_put(ipo_region_t *r, ipo_off_t obj);

/* Removes the oldest message and gives its object; -IPO_EEMPTY. Needs access. */
int ipo_queue_take(ipo_region_t *r, ipo_off_t *obj);

/* Gives the oldest message's object without removing it; -IPO_EEMPTY.
 * Needs access. */
int ipo_queue_peek(const ipo_region_t *r, ipo_off_t *obj);

/* The same at the other end, for a LIFO reader: the newest message. A take
 * there frees the newest sequence number, which the next put reuses. */
int ipo_queue_take_newest(ipo_region_t *r, ipo_off_t *obj);
int ipo_queue_peek_newest(const ipo_region_t *r, ipo_off_t *obj);

/* The i-th queued message (0: the oldest), without taking it, and when it
 * was put (put_ns may be NULL: the coarse monotonic clock, read once per
 * turn that puts, ipo_coarse_now_ns()): for tools. 0, -IPO_EEMPTY past the
 * newest, or -IPO_ECORRUPT. */
int ipo_queue_at(const ipo_region_t *r, uint64_t i, ipo_off_t *obj, int64_t *put_ns);

/* Messages queued. Safe without access, as a hint: head is read before tail,
 * head only grows, and tail never falls below the head of its time (a LIFO
 * take lowers it, but only while a message is left between them), so the
 * difference is never negative. Exact for a holder. */
static inline uint64_t ipo_queue_length(const ipo_region_t *r)
{
    /* SYNC POINT queue head: pairs with the store-release of head in
     * ipo_queue_take(); its acquire also keeps the tail load after it. */
    uint64_t head = ipo_atomic_load_acquire(&r->hdr->queue.head);
    /* SYNC POINT queue tail: pairs with the store-release of tail in
     * ipo_queue_put(). */
    uint64_t tail = ipo_atomic_load_acquire(&r->hdr->queue.tail);
    return tail - head;
}

/* The ring's invariants, and the messages against the objects flagged as
 * queued (one walk of the heap); part of ipo_region_check. */
int ipo_queue_check(const ipo_region_t *r, char *why, size_t why_len);

/* After a holder died in its turn: verifies the ring and flags every
 * queued object as queued again (a take cut short unflags first). 0 or
 * -IPO_ECORRUPT with why. Needs access. */
int ipo_queue_repair(ipo_region_t *r, char *why, size_t why_len);

/* What every operation checks before it follows the queue (a few
 * compares): the ring is a live block, its capacity a power of two that
 * fits it, tail - head at most that capacity. 0 or -IPO_ECORRUPT with a
 * reason in why (may be NULL). Needs access. */
int ipo_queue_check_ring(const ipo_heap_t *h, const ipo_queue_t *q, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* IPO_QUEUE_H */

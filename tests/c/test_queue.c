/* tests/c/test_queue.c — FIFO and LIFO order, peeking, ring growth and shrinking, both under exhaustion, and damaged counters and rings. */
#include "ipo/access.h"
#include "ipo/format.h"
#include "ipo/queue.h"
#include "ipo/region.h"
#include "region_twin.h"
#include "task.h"

static void test_fifo_and_peek(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 20, &r);
    ipo_off_t got;
    ASSERT_ERR(ipo_queue_peek(&r, &got), IPO_EEMPTY);
    ASSERT_ERR(ipo_queue_take(&r, &got), IPO_EEMPTY);
    ipo_off_t objs[10];
    for (int i = 0; i < 10; i++) {
        ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, (uint64_t)i, &objs[i]));
        ASSERT_OK(ipo_queue_put(&r, objs[i]));
        ASSERT_UEQ(ipo_queue_length(&r), (uint64_t)i + 1);
    }
    /* Peeking leaves the message where it is. */
    ASSERT_OK(ipo_queue_peek(&r, &got));
    ASSERT_UEQ(got, objs[0]);
    ASSERT_OK(ipo_queue_peek(&r, &got));
    ASSERT_UEQ(got, objs[0]);
    for (int i = 0; i < 10; i++) {
        ASSERT_OK(ipo_queue_take(&r, &got));
        ASSERT_UEQ(got, objs[i]);
        ASSERT_OK(ipo_obj_destroy(&r, got));
    }
    ASSERT_UEQ(ipo_queue_length(&r), 0);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* Interleaved puts and takes wrap the ring many times and grow it; order holds. */
static void test_growth_keeps_order(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 22, &r);
    uint64_t next_put = 0, next_take = 0, seed = 42;
    for (int round = 0; round < 2000; round++) {
        int puts = (int)(test_rand(&seed) % 9), takes = (int)(test_rand(&seed) % 8);
        for (int i = 0; i < puts; i++) {
            ipo_off_t off;
            ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, next_put++, &off));
            ASSERT_OK(ipo_queue_put(&r, off));
        }
        for (int i = 0; i < takes && ipo_queue_length(&r); i++) {
            ipo_off_t off;
            const ipo_obj_t *obj;
            ASSERT_OK(ipo_queue_take(&r, &off));
            ASSERT_OK(ipo_obj_get(&r, off, &obj));
            ASSERT_UEQ(obj->v.u64, next_take++);
            ASSERT_OK(ipo_obj_destroy(&r, off));
        }
    }
    const ipo_ring_t *ring = (const ipo_ring_t *)(r.base + r.hdr->queue.ring);
    ASSERT_GE(ring->capacity, IPO_QUEUE_INITIAL_CAPACITY * 2);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* The newest end: a LIFO reader sees the last put first, and a put after a
 * take from that end reuses the freed place. */
static void test_lifo_and_peek_newest(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 20, &r);
    ipo_off_t got;
    ASSERT_ERR(ipo_queue_peek_newest(&r, &got), IPO_EEMPTY);
    ASSERT_ERR(ipo_queue_take_newest(&r, &got), IPO_EEMPTY);
    ipo_off_t objs[10];
    for (int i = 0; i < 10; i++) {
        ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, (uint64_t)i, &objs[i]));
        ASSERT_OK(ipo_queue_put(&r, objs[i]));
    }
    ASSERT_OK(ipo_queue_peek_newest(&r, &got));
    ASSERT_UEQ(got, objs[9]);
    ASSERT_OK(ipo_queue_peek(&r, &got));
    ASSERT_UEQ(got, objs[0]);
    /* Taken objects are no longer queued: they can be destroyed. */
    for (int i = 9; i >= 5; i--) {
        ASSERT_OK(ipo_queue_take_newest(&r, &got));
        ASSERT_UEQ(got, objs[i]);
        ASSERT_OK(ipo_obj_destroy(&r, got));
    }
    ASSERT_UEQ(ipo_queue_length(&r), 5);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    /* A new message goes where the taken ones were, and is the newest. */
    ipo_off_t late;
    ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, 99, &late));
    ASSERT_OK(ipo_queue_put(&r, late));
    ASSERT_OK(ipo_queue_take_newest(&r, &got));
    ASSERT_UEQ(got, late);
    ASSERT_OK(ipo_obj_destroy(&r, late));
    /* The oldest end is untouched. */
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(ipo_queue_take(&r, &got));
        ASSERT_UEQ(got, objs[i]);
        ASSERT_OK(ipo_obj_destroy(&r, got));
    }
    ASSERT_ERR(ipo_queue_take_newest(&r, &got), IPO_EEMPTY);
    ASSERT_UEQ(ipo_queue_length(&r), 0);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* Puts, takes at both ends and growth, checked against a model deque: the
 * ring wraps and doubles many times, and both ends keep their order. */
static void test_both_ends_against_a_model(void)
{
    enum { MODEL = 1 << 14 };
    static uint64_t model[MODEL];
    size_t first = MODEL / 2, last = MODEL / 2; /* model[first..last) is queued */
    ipo_region_t r;
    void *mem = region_twin_new(1 << 22, &r);
    uint64_t next = 0, seed = 7;
    for (int round = 0; round < 3000; round++) {
        /* One more put than take a round, on average: the queue grows. */
        int puts = (int)(test_rand(&seed) % 10), takes = (int)(test_rand(&seed) % 8);
        for (int i = 0; i < puts && last < MODEL; i++) {
            ipo_off_t off;
            ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, next, &off));
            ASSERT_OK(ipo_queue_put(&r, off));
            model[last++] = next++;
        }
        for (int i = 0; i < takes && first < last; i++) {
            int newest = (int)(test_rand(&seed) & 1);
            ipo_off_t off;
            const ipo_obj_t *obj;
            ASSERT_OK(newest ? ipo_queue_take_newest(&r, &off) : ipo_queue_take(&r, &off));
            ASSERT_OK(ipo_obj_get(&r, off, &obj));
            ASSERT_UEQ(obj->v.u64, newest ? model[--last] : model[first++]);
            ASSERT_OK(ipo_obj_destroy(&r, off));
        }
        ASSERT_UEQ(ipo_queue_length(&r), last - first);
    }
    const ipo_ring_t *ring = (const ipo_ring_t *)(r.base + r.hdr->queue.ring);
    ASSERT_GE(ring->capacity, IPO_QUEUE_INITIAL_CAPACITY * 8);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* When the ring cannot grow, put fails cleanly and the queue is intact. */
static void test_put_when_ring_cannot_grow(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 16, &r);
    enum { N = IPO_QUEUE_INITIAL_CAPACITY + 1 };
    ipo_off_t objs[N];
    for (int i = 0; i < N; i++)
        ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, (uint64_t)i, &objs[i]));
    /* Use up the rest, so that only a ring twice as large would not fit. */
    ipo_off_t filler;
    while (ipo_alloc(&r.heap, 16, 0, &filler) == 0)
        ;
    for (int i = 0; i < N - 1; i++)
        ASSERT_OK(ipo_queue_put(&r, objs[i]));
    ASSERT_ERR(ipo_queue_put(&r, objs[N - 1]), IPO_ENOMEM);
    ASSERT_UEQ(ipo_queue_length(&r), N - 1);
    /* The refused object was not marked queued: it can be destroyed. */
    ASSERT_OK(ipo_obj_destroy(&r, objs[N - 1]));
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    for (int i = 0; i < N - 1; i++) {
        ipo_off_t got;
        ASSERT_OK(ipo_queue_take(&r, &got));
        ASSERT_UEQ(got, objs[i]);
    }
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* A message names a live object, one message per object, and a queued
 * object cannot be destroyed under the message. */
static void test_queued_objects_are_protected(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 20, &r);
    ipo_off_t obj, raw, got;
    ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_BOOL, 1, &obj));
    ASSERT_OK(ipo_alloc(&r.heap, 64, 0, &raw));
    ASSERT_ERR(ipo_queue_put(&r, raw + 16), IPO_EBADOBJ);
    ASSERT_ERR(ipo_queue_put(&r, 12345), IPO_EBADOBJ);
    ASSERT_OK(ipo_queue_put(&r, obj));
    ASSERT_ERR(ipo_queue_put(&r, obj), IPO_EBUSY);
    ASSERT_ERR(ipo_obj_destroy(&r, obj), IPO_EBUSY);
    ASSERT_OK(ipo_queue_peek(&r, &got));
    ASSERT_ERR(ipo_obj_destroy(&r, obj), IPO_EBUSY);
    ASSERT_OK(ipo_queue_take(&r, &got));
    ASSERT_UEQ(got, obj);
    ASSERT_OK(ipo_obj_destroy(&r, obj));
    ASSERT_OK(ipo_alloc_free(&r.heap, raw));
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* Damaged counters or ring: every operation says -IPO_ECORRUPT at once
 * (no copy loop of 2^64 steps), check() tells a moved head or tail, and the
 * queue works again once restored. */
static void test_damaged_queue_is_refused(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 20, &r);
    ASSERT(ipo_access_try_acquire(&r));
    ipo_off_t objs[3], got;
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, (uint64_t)i, &objs[i]));
        ASSERT_OK(ipo_queue_put(&r, objs[i]));
    }
    ipo_queue_t *q = &r.hdr->queue;
    ipo_ring_t *ring = (ipo_ring_t *)(r.base + q->ring);
    char note[256];

    uint64_t head = q->head, tail = q->tail;
    q->head = tail + 5; /* tail below head */
    ASSERT_ERR(ipo_queue_reserve(&r), IPO_ECORRUPT);
    ASSERT_ERR(ipo_queue_peek(&r, &got), IPO_ECORRUPT);
    ASSERT_ERR(ipo_queue_take_newest(&r, &got), IPO_ECORRUPT);
    ASSERT_ERR(ipo_region_check(&r, note, sizeof(note)), IPO_ECORRUPT);
    q->head = head;
    q->tail = head + ring->capacity + 1; /* more than the ring holds */
    ipo_off_t fresh;
    ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, 99, &fresh));
    ASSERT_ERR(ipo_queue_put(&r, fresh), IPO_ECORRUPT);
    q->tail = tail;

    uint64_t cap = ring->capacity;
    ring->capacity = 0; /* no room at all */
    ASSERT_ERR(ipo_queue_take(&r, &got), IPO_ECORRUPT);
    ring->capacity = cap << 20; /* past the heap */
    ASSERT_ERR(ipo_queue_peek_newest(&r, &got), IPO_ECORRUPT);
    /* Past its block but inside the heap: the operations stay inside the
     * heap (compares only); check() finds the ring is not that large. */
    ring->capacity = cap * 64;
    ASSERT_ERR(ipo_region_check(&r, note, sizeof(note)), IPO_ECORRUPT);
    ring->capacity = cap;
    ipo_off_t saved_ring = q->ring;
    q->ring = r.heap.root->heap_end + 64; /* past the heap */
    ASSERT_ERR(ipo_queue_peek(&r, &got), IPO_ECORRUPT);
    q->ring = saved_ring + 16; /* inside the heap, but no block: check() says so */
    ASSERT_ERR(ipo_region_check(&r, note, sizeof(note)), IPO_ECORRUPT);
    q->ring = saved_ring;

    /* A moved head or tail: check() counts the objects flagged as queued. */
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    q->head = head + 1;
    ASSERT_ERR(ipo_region_check(&r, note, sizeof(note)), IPO_ECORRUPT);
    q->head = head;
    q->tail = tail - 1;
    ASSERT_ERR(ipo_region_check(&r, note, sizeof(note)), IPO_ECORRUPT);
    q->tail = tail;
    /* Two messages naming one object. */
    ipo_off_t second = ring->entries[(head + 1) & (cap - 1)];
    ring->entries[(head + 1) & (cap - 1)] = objs[0];
    ASSERT_ERR(ipo_region_check(&r, note, sizeof(note)), IPO_ECORRUPT);
    ring->entries[(head + 1) & (cap - 1)] = second;

    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ASSERT_OK(ipo_queue_take(&r, &got));
    ASSERT_UEQ(got, objs[0]);
    ASSERT_OK(ipo_queue_put(&r, fresh));
    ipo_access_release(&r);
    region_twin_free(mem, &r);
}

static uint64_t ring_capacity(const ipo_region_t *r)
{
    return ((const ipo_ring_t *)(r->base + r->hdr->queue.ring))->capacity;
}

/* After a burst the ring shrinks back, at both ends: to half once the
 * messages fill less than a quarter of it, down to the first ring's size,
 * and the memory of the large ring is free again. */
static void test_ring_shrinks_after_a_burst(void)
{
    enum { BURST = 4096 };
    static ipo_off_t objs[BURST];
    for (int newest = 0; newest < 2; newest++) {
        ipo_region_t r;
        void *mem = region_twin_new(1 << 22, &r);
        ipo_alloc_stats_t before, after;
        ipo_alloc_stats(&r.heap, &before);
        for (int i = 0; i < BURST; i++) {
            ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, (uint64_t)i, &objs[i]));
            ASSERT_OK(ipo_queue_put(&r, objs[i]));
        }
        ASSERT_UEQ(ring_capacity(&r), BURST);
        uint64_t shrinks = 0, cap = BURST;
        for (int i = 0; i < BURST; i++) {
            ipo_off_t got;
            ASSERT_OK(newest ? ipo_queue_take_newest(&r, &got) : ipo_queue_take(&r, &got));
            ASSERT_UEQ(got, objs[newest ? BURST - 1 - i : i]);
            ASSERT_OK(ipo_obj_destroy(&r, got));
            uint64_t len = ipo_queue_length(&r), now = ring_capacity(&r);
            /* Never less than a quarter full, but at the first ring's size. */
            ASSERT(now == IPO_QUEUE_INITIAL_CAPACITY || len >= now / 4);
            ASSERT(now == cap || now == cap / 2);
            shrinks += now != cap;
            cap = now;
        }
        ASSERT_UEQ(cap, IPO_QUEUE_INITIAL_CAPACITY);
        ASSERT_UEQ(shrinks, 6); /* 4096 to 64, halving */
        ipo_alloc_stats(&r.heap, &after);
        ASSERT_UEQ(after.free_bytes, before.free_bytes);
        ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
        region_twin_free(mem, &r);
    }
}

/* At a threshold, alternating puts and takes do not replace the ring each
 * time: growing needs the length doubled, shrinking needs it halved. */
static void test_ring_does_not_thrash(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 22, &r);
    enum { N = 4 * IPO_QUEUE_INITIAL_CAPACITY };
    ipo_off_t objs[N + 1];
    for (int i = 0; i <= N; i++)
        ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, (uint64_t)i, &objs[i]));
    for (int i = 0; i < N; i++)
        ASSERT_OK(ipo_queue_put(&r, objs[i]));
    /* Down to where the ring just shrank (256 to 128 entries, at 63
     * messages), then back and forth across that length: a ring that
     * shrank to exactly full, or grew at the next put, would be replaced
     * at every step. */
    ipo_off_t got;
    while (ipo_queue_length(&r) >= N / 4)
        ASSERT_OK(ipo_queue_take(&r, &got));
    ASSERT_UEQ(ring_capacity(&r), N / 2);
    ipo_off_t ring = r.hdr->queue.ring;
    for (int round = 0; round < 100; round++) {
        ASSERT_OK(ipo_queue_put(&r, got));
        ASSERT_OK(ipo_queue_take_newest(&r, &got));
        ASSERT_UEQ(r.hdr->queue.ring, ring);
    }
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* A shrink that finds no block for the smaller ring keeps the larger one:
 * a take never fails for it, and nothing is lost. */
static void test_shrink_without_memory_keeps_the_ring(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 18, &r);
    enum { N = 4 * IPO_QUEUE_INITIAL_CAPACITY };
    ipo_off_t objs[N];
    for (int i = 0; i < N; i++) {
        ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, (uint64_t)i, &objs[i]));
        ASSERT_OK(ipo_queue_put(&r, objs[i]));
    }
    ASSERT_UEQ(ring_capacity(&r), N);
    ipo_off_t filler;
    while (ipo_alloc(&r.heap, 16, 0, &filler) == 0)
        ;
    for (int i = 0; i < N; i++) {
        ipo_off_t got;
        ASSERT_OK(ipo_queue_take(&r, &got));
        ASSERT_UEQ(got, objs[i]);
    }
    ASSERT_UEQ(ring_capacity(&r), N);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

int main(void)
{
    RUN(test_fifo_and_peek);
    RUN(test_growth_keeps_order);
    RUN(test_lifo_and_peek_newest);
    RUN(test_both_ends_against_a_model);
    RUN(test_put_when_ring_cannot_grow);
    RUN(test_queued_objects_are_protected);
    RUN(test_damaged_queue_is_refused);
    RUN(test_ring_shrinks_after_a_burst);
    RUN(test_ring_does_not_thrash);
    RUN(test_shrink_without_memory_keeps_the_ring);
    return 0;
}

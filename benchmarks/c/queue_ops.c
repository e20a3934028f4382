/* benchmarks/c/queue_ops.c — the message queue's put and take, alone, in one process.
 *
 *   queue_ops [ROUNDS]
 *
 * Three patterns over objects made beforehand (so that only the queue is
 * measured, not the allocator or a codec): "steady", one put and one take
 * at a time (the ring never grows); "burst", 4096 puts then 4096 takes
 * (the ring grows to 4096 and, since the queue shrinks back, shrinks
 * again); "lifo burst", the same taken from the newest end. Prints
 * nanoseconds per put+take pair, the median of ROUNDS rounds (default 15),
 * and the ring's capacity at the end. The region is the in-process twin:
 * the queue's code is the same as in shared memory. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipo/access.h"
#include "ipo/errors.h"
#include "ipo/format.h"
#include "ipo/queue.h"
#include "ipo/region.h"
#include "bench_clock.h"

#define BURST 4096
#define REGION_SIZE (UINT64_C(16) << 20)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "queue_ops: %s: %s\n", what, ipo_strerror(rc));
    exit(1);
}

/* One round of a pattern: ns per put+take pair. */
static double round_of(ipo_region_t *r, const ipo_off_t *objs, int pattern)
{
    ipo_off_t got;
    int rc;
    int64_t start = now_ns();
    if (pattern == 0) {
        for (int i = 0; i < BURST; i++) {
            if ((rc = ipo_queue_put(r, objs[i])) || (rc = ipo_queue_take(r, &got)))
                die("steady", rc);
        }
    } else {
        for (int i = 0; i < BURST; i++)
            if ((rc = ipo_queue_put(r, objs[i])))
                die("burst put", rc);
        for (int i = 0; i < BURST; i++)
            if ((rc = pattern == 1 ? ipo_queue_take(r, &got) : ipo_queue_take_newest(r, &got)))
                die("burst take", rc);
    }
    return (double)(now_ns() - start) / BURST;
}

static uint64_t ring_capacity(const ipo_region_t *r)
{
    const ipo_ring_t *ring = (const ipo_ring_t *)(r->base + r->hdr->queue.ring);
    return ring->capacity;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    if (rounds < 1)
        rounds = 1;
    void *mem = aligned_alloc(4096, REGION_SIZE);
    if (!mem)
        return 1;
    memset(mem, 0, REGION_SIZE);
    ipo_region_options_t opts;
    memset(&opts, 0, sizeof(opts));
    int rc = ipo_region_format(mem, REGION_SIZE, &opts);
    ipo_region_t r;
    if (rc || (rc = ipo_region_join(&r, mem, REGION_SIZE)))
        die("format", rc);
    if (!ipo_access_try_acquire(&r))
        die("acquire", -IPO_ENOTHELD);
    static ipo_off_t objs[BURST];
    for (int i = 0; i < BURST; i++)
        if ((rc = ipo_obj_new_scalar(&r, IPO_T_INT64, (uint64_t)i, &objs[i])))
            die("objects", rc);

    static const char *const names[] = { "steady", "burst", "lifo burst" };
    double *ns = calloc((size_t)rounds, sizeof(double));
    for (int pattern = 0; pattern < 3; pattern++) {
        round_of(&r, objs, pattern); /* warm up */
        for (int i = 0; i < rounds; i++)
            ns[i] = round_of(&r, objs, pattern);
        qsort(ns, (size_t)rounds, sizeof(double), cmp_double);
        printf("%-11s %6.1f ns per put+take   ring capacity after: %llu\n", names[pattern],
               ns[rounds / 2], (unsigned long long)ring_capacity(&r));
    }
    free(ns);
    ipo_region_leave(&r);
    free(mem);
    return 0;
}

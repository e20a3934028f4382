/* benchmarks/c/channel_limits.c — two overlapped copies between two processes: the physical limit of a channel, beside ipo_channel. */
/* Two processes (fork), a sender and a receiver, move COUNT messages
 * through a ring of SLOTS slots, each side spinning on the other's index:
 *
 *   limit    a bare ring over an anonymous shared mapping (populated up
 *            front), two indices on their own cache lines, the sender's
 *            memcpy in, the receiver's memcpy out: the copies overlap, and
 *            nothing else is done. The physical limit the issue names.
 *   channel  the same messages through ipo_channel_try_send and
 *            ipo_channel_try_receive, in a region (created prefaulted;
 *            the receiver attaches to it by name).
 *
 * Shapes: bulk, 1,000 x 400,000 bytes in 8 slots, the receiver copying
 * each into a new malloc'd buffer (as a take that makes a `bytes` does);
 * small, 1,000,000 x 64 bytes one-way in 1024 slots, copied into a buffer
 * on the stack. Each figure is the median of ROUNDS runs, limit and
 * channel alternating, timed from the sender's first copy to the
 * receiver's last. The sender runs on CPU 0, the receiver on CPU 1; a
 * wait spins, then yields past a budget (waiting(), below).
 *
 *   channel_limits [ROUNDS]      (default 7) */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_clock.h"
#include "ipo/access.h"
#include "ipo/atomics.h"
#include "ipo/channel.h"
#include "ipo/errors.h"
#include "ipo/region.h"

typedef struct shape {
    const char *name;
    uint64_t size, count, slots;
    int fresh_buffer;   /* the receiver mallocs a buffer per message (a take making bytes) */
} shape_t;

/* The control page both processes share: the bare ring's indices, a
 * start line, and the receiver's end time. */
typedef struct ctl {
    _Alignas(64) uint64_t tail;
    _Alignas(64) uint64_t head;
    _Alignas(64) uint64_t ready;
    int64_t end_ns;
    uint64_t check;
} ctl_t;

/* Every wait of both shapes, in both programs: spin, and past a budget
 * yield the CPU. On a machine of two cores shared with other work, the
 * sender and the receiver at times land on one core; a pure spinner then
 * burns its whole time slice while the other side cannot move (some 0.5
 * ms a message), which measures the scheduler, not the copies. */
enum { SPIN_BUDGET = 2000 };

static inline void waiting(unsigned *spins)
{
    if (++*spins < SPIN_BUDGET) {
        ipo_cpu_relax();
    } else {
        *spins = 0;
        sched_yield();
    }
}

/* Each side on a core of its own (when the machine has two): the limit is
 * two copies at once, one per core. */
static void pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
    sched_setaffinity(0, sizeof(set), &set);
}

static void spin_until_ready(ctl_t *c)
{
    unsigned spins = 0;
    /* SYNC POINT ready: pairs with the receiver's release once it is set up. */
    while (!ipo_atomic_load_acquire(&c->ready))
        waiting(&spins);
}

static void say_ready(ctl_t *c)
{
    ipo_atomic_store_release(&c->ready, 1);
}

/* ---- the bare ring ----------------------------------------------------- */

static void limit_receiver(ctl_t *c, uint8_t *ring, const shape_t *s)
{
    uint64_t tail_seen = 0, check = 0;
    uint8_t small[64];
    unsigned spins = 0;
    say_ready(c);
    for (uint64_t i = 0; i < s->count; i++) {
        /* SYNC POINT tail: pairs with the sender's release below. */
        while (tail_seen == i && (tail_seen = ipo_atomic_load_acquire(&c->tail)) == i)
            waiting(&spins);
        const uint8_t *slot = ring + (i % s->slots) * s->size;
        if (s->fresh_buffer) {
            uint8_t *dst = malloc(s->size);
            memcpy(dst, slot, s->size);
            check += dst[s->size - 1];
            free(dst);
        } else {
            memcpy(small, slot, s->size);
            check += small[s->size - 1];
        }
        /* SYNC POINT head: pairs with the sender's acquire; the slot is read. */
        ipo_atomic_store_release(&c->head, i + 1);
    }
    c->end_ns = now_ns();
    c->check = check;
}

static void limit_sender(ctl_t *c, uint8_t *ring, const shape_t *s, const uint8_t *src)
{
    uint64_t head_seen = 0;
    unsigned spins = 0;
    for (uint64_t i = 0; i < s->count; i++) {
        /* SYNC POINT head: pairs with the receiver's release above. */
        while (i - head_seen >= s->slots && i - (head_seen = ipo_atomic_load_acquire(&c->head)) >= s->slots)
            waiting(&spins);
        memcpy(ring + (i % s->slots) * s->size, src, s->size);
        /* SYNC POINT tail: pairs with the receiver's acquire; the slot is written. */
        ipo_atomic_store_release(&c->tail, i + 1);
    }
}

static double run_limit(const shape_t *s, ctl_t *c, uint8_t *ring, const uint8_t *src)
{
    memset(c, 0, sizeof(*c));
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        pin_to(1);
        limit_receiver(c, ring, s);
        _exit(0);
    }
    spin_until_ready(c);
    int64_t start = now_ns();
    limit_sender(c, ring, s, src);
    waitpid(pid, NULL, 0);
    return (double)(c->end_ns - start) * 1e-9;
}

/* ---- through ipo_channel ----------------------------------------------- */

static int open_channel(ipo_region_t *r, const shape_t *s, ipo_channel_t *ch)
{
    while (!ipo_access_try_acquire(r))
        ipo_cpu_relax();
    int rc = ipo_channel_open(r, s->name, (uint32_t)s->slots, s->size, ch);
    ipo_access_release(r);
    return rc;
}

static void channel_receiver(ctl_t *c, const char *region, const shape_t *s)
{
    ipo_region_t r;
    ipo_channel_t ch;
    if (ipo_region_attach(&r, region, NULL) || open_channel(&r, s, &ch) ||
        ipo_channel_claim(&ch, IPO_CHANNEL_RECEIVE))
        _exit(2);
    uint64_t check = 0, len;
    uint8_t small[64];
    unsigned spins = 0;
    say_ready(c);
    for (uint64_t i = 0; i < s->count; i++) {
        int rc;
        if (s->fresh_buffer) {
            uint8_t *dst = malloc(s->size);
            while ((rc = ipo_channel_try_receive(&ch, dst, s->size, &len)) == -IPO_EEMPTY)
                waiting(&spins);
            check += dst[len - 1];
            free(dst);
        } else {
            while ((rc = ipo_channel_try_receive(&ch, small, sizeof(small), &len)) == -IPO_EEMPTY)
                waiting(&spins);
            check += small[len - 1];
        }
        if (rc)
            _exit(3);
    }
    c->end_ns = now_ns();
    c->check = check;
    ipo_channel_close(&ch);
    ipo_region_detach(&r);
    ipo_region_unmap(&r);
}

static double run_channel(const shape_t *s, ctl_t *c, ipo_region_t *r, const char *region,
                          const uint8_t *src)
{
    ipo_channel_t ch;
    if (open_channel(r, s, &ch) || ipo_channel_claim(&ch, IPO_CHANNEL_SEND)) {
        fprintf(stderr, "cannot open the channel\n");
        exit(1);
    }
    memset(c, 0, sizeof(*c));
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        pin_to(1);
        channel_receiver(c, region, s);
        _exit(0);
    }
    spin_until_ready(c);
    unsigned spins = 0;
    int64_t start = now_ns();
    for (uint64_t i = 0; i < s->count; i++) {
        int rc;
        while ((rc = ipo_channel_try_send(&ch, src, s->size)) == -IPO_ECHANFULL)
            waiting(&spins);
        if (rc) {
            fprintf(stderr, "send: %s\n", ipo_strerror(rc));
            exit(1);
        }
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "the receiver failed (status 0x%x)\n", status);
        exit(1);
    }
    ipo_channel_close(&ch);
    return (double)(c->end_ns - start) * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: %s [ROUNDS]\n", argv[0]);
        return 2;
    }
    const shape_t shapes[] = {
        { "bulk", 400000, 1000, 8, 1 },
        { "small", 64, 1000000, 1024, 0 },
    };

    ctl_t *c = mmap(NULL, sizeof(ctl_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    size_t ring_bytes = 8 * 400000;
    uint8_t *ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    uint8_t *src = malloc(400000);
    if (c == MAP_FAILED || ring == MAP_FAILED || !src) {
        perror("mmap");
        return 1;
    }
    memset(src, 0x5a, 400000);
    pin_to(0);

    char region[64];
    snprintf(region, sizeof(region), "/ipo-bench-channel-%ld", (long)getpid());
    ipo_region_t r;
    ipo_region_options_t o;
    memset(&o, 0, sizeof(o));
    o.size = UINT64_C(16) << 20;
    o.prefault = 1;
    int rc = ipo_region_create(&r, region, &o);
    if (rc) {
        fprintf(stderr, "region: %s\n", ipo_strerror(rc));
        return 1;
    }

    printf("%d rounds, limit and channel alternating; medians\n", rounds);
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
        const shape_t *s = &shapes[k];
        double lim[100], chan[100];
        for (int i = 0; i < rounds; i++) {
            lim[i] = run_limit(s, c, ring, src);
            chan[i] = run_channel(s, c, &r, region, src);
        }
        qsort(lim, (size_t)rounds, sizeof(double), by_value);
        qsort(chan, (size_t)rounds, sizeof(double), by_value);
        double bytes = (double)s->size * (double)s->count, gib = 1024.0 * 1024.0 * 1024.0;
        double l = lim[rounds / 2], ch = chan[rounds / 2];
        printf("%-5s %llu x %llu B, %llu slots\n", s->name, (unsigned long long)s->count,
               (unsigned long long)s->size, (unsigned long long)s->slots);
        printf("  limit (bare ring)   %7.2f GiB/s  %12.0f msg/s\n", bytes / l / gib, (double)s->count / l);
        printf("  ipo_channel         %7.2f GiB/s  %12.0f msg/s   ratio to limit %.2f\n",
               bytes / ch / gib, (double)s->count / ch, l / ch);
    }
    ipo_region_detach(&r);
    ipo_region_unmap(&r);
    return 0;
}

/* benchmarks/c/roundtrip_core.c — a small message's round trip through the core alone, no Python.
 *
 *   roundtrip_core [COUNT [ROUNDS]]
 *
 * The shape of the suite's `roundtrip` (ours-sync), in C: two regions,
 * requests and replies; the client puts a 64-byte bytes message in
 * requests, the server takes and destroys it and puts one in replies,
 * which the client takes and destroys. Both sides spin on the access word
 * (and on the queue's length, as wait_my_turn_when_has_messages does), so
 * what is measured is the core's put, take and destroy plus the cache
 * lines they pull from the other core. Then the same four turns in one
 * process ("local": every line already in this core's cache), which is
 * what the work costs without the other core.
 *
 * Prints, per round, the median round trip in ns of COUNT round trips
 * (default 20000; ROUNDS default 5), then the median of the rounds for
 * "2 processes" and "local", and their difference: the cost of the cache
 * lines that cross between cores. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipo/access.h"
#include "ipo/errors.h"
#include "ipo/format.h"
#include "ipo/queue.h"
#include "ipo/region.h"
#include "bench_clock.h"
#include "ipo/atomics.h"

#define MSG_LEN 64

static void die(const char *what, int rc)
{
    fprintf(stderr, "roundtrip_core: %s: %s\n", what, ipo_strerror(rc));
    exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t median(int64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    return v[n / 2];
}

/* The release the loop layer does (ipo_handoff_release) when nobody
 * sleeps: count the change, free the word. */
static void release(ipo_region_t *r)
{
    if (r->changed) {
        r->changed = 0;
        ipo_atomic_fetch_add_relaxed(&r->hdr->changes, 1);
    }
    ipo_access_release(r);
}

static void acquire(ipo_region_t *r)
{
    while (!ipo_access_try_acquire(r))
        ipo_cpu_relax();
}

/* wait_my_turn_when_has_messages: a message, then the turn. */
static void acquire_with_message(ipo_region_t *r)
{
    for (;;) {
        while (!ipo_queue_length(r))
            ipo_cpu_relax();
        acquire(r);
        if (ipo_queue_length(r))
            return;
        release(r);
    }
}

static void send(ipo_region_t *r, uint64_t seq)
{
    uint8_t msg[MSG_LEN];
    memset(msg, (int)(seq & 0xff), sizeof(msg));
    acquire(r);
    ipo_off_t off;
    void *data;
    int rc = ipo_obj_new(r, IPO_T_BYTES, MSG_LEN, &off, &data);
    if (rc)
        die("new", rc);
    memcpy(data, msg, MSG_LEN);
    if ((rc = ipo_queue_put(r, off)))
        die("put", rc);
    release(r);
}

static uint8_t receive(ipo_region_t *r)
{
    acquire_with_message(r);
    ipo_off_t off;
    int rc = ipo_queue_take(r, &off);
    if (rc)
        die("take", rc);
    const ipo_obj_t *o;
    if ((rc = ipo_obj_get(r, off, &o)))
        die("get", rc);
    uint8_t first = *(const uint8_t *)ipo_obj_data(o);
    if ((rc = ipo_obj_destroy(r, off)))
        die("destroy", rc);
    release(r);
    return first;
}

static void open_pair(ipo_region_t *in, ipo_region_t *out, const char *base, int create)
{
    char name[64];
    ipo_region_options_t opts = { .size = UINT64_C(4) << 20 };
    int rc;
    snprintf(name, sizeof(name), "%s-in", base);
    if ((rc = create ? ipo_region_create(in, name, &opts) : ipo_region_attach(in, name, &opts)))
        die(name, rc);
    snprintf(name, sizeof(name), "%s-out", base);
    if ((rc = create ? ipo_region_create(out, name, &opts) : ipo_region_attach(out, name, &opts)))
        die(name, rc);
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 20000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (count < 1 || rounds < 1) {
        fprintf(stderr, "usage: %s [COUNT [ROUNDS]]\n", argv[0]);
        return 2;
    }
    char base[48];
    snprintf(base, sizeof(base), "ipo-rtc-%d", (int)getpid());
    ipo_region_t in, out;
    open_pair(&in, &out, base, 1);
    uint64_t total = (uint64_t)count * (uint64_t)rounds + 1000;

    pid_t pid = fork();
    if (pid == 0) {
        ipo_region_t sin, sout;
        open_pair(&sin, &sout, base, 0);
        for (uint64_t i = 0; i < total; i++)
            send(&sout, receive(&sin));
        ipo_region_detach(&sin);
        ipo_region_detach(&sout);
        _exit(0);
    }

    int64_t *rtt = malloc((size_t)count * sizeof(*rtt));
    int64_t *two = malloc((size_t)rounds * sizeof(*two));
    int64_t *one = malloc((size_t)rounds * sizeof(*one));
    if (!rtt || !two || !one)
        return 1;
    for (uint64_t i = 0; i < 1000; i++) { /* warm-up */
        send(&in, i);
        receive(&out);
    }
    uint64_t seq = 1000;
    for (int k = 0; k < rounds; k++) {
        for (long i = 0; i < count; i++, seq++) {
            int64_t start = now_ns();
            send(&in, seq);
            if (receive(&out) != (uint8_t)(seq & 0xff))
                die("reply", -IPO_ECORRUPT);
            rtt[i] = now_ns() - start;
        }
        two[k] = median(rtt, (size_t)count);
        printf("round %d: 2 processes %lld ns\n", k + 1, (long long)two[k]);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        die("server", -IPO_ECORRUPT);

    /* The same four turns in this process alone. */
    for (int k = 0; k < rounds; k++) {
        for (long i = 0; i < count; i++, seq++) {
            int64_t start = now_ns();
            send(&in, seq);
            receive(&in);
            send(&out, seq);
            receive(&out);
            rtt[i] = now_ns() - start;
        }
        one[k] = median(rtt, (size_t)count);
        printf("round %d: local %lld ns\n", k + 1, (long long)one[k]);
    }
    int64_t m2 = median(two, (size_t)rounds), m1 = median(one, (size_t)rounds);
    printf("median: 2 processes %lld ns, local %lld ns, crossing cores %lld ns\n", (long long)m2,
           (long long)m1, (long long)(m2 - m1));
    ipo_region_detach(&in);
    ipo_region_detach(&out);
    return 0;
}

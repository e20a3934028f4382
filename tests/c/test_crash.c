/* tests/c/test_crash.c — a process killed at each crash point in turn, as writer and as reader: every run recovers. */
/* Built against the crash-point variants of the core and the loop
 * (core/src/crash_point.h). For a scripted workload (allocations and frees
 * of various sizes and alignments, queue puts and takes at both ends with
 * ring growth, list inserts and removes at the ends and in the middle with
 * growth and trim, items replaced in place and the list reversed, dict
 * inserts, deletes and value replacements with resize and clear), the
 * harness first runs it once in a child to count the crash points it
 * passes; then, for each N of them, it forks a child that attaches to a
 * fresh region, runs the workload in turns and is killed at the N-th point.
 * The parent waits for access with the waiter meanwhile: it must get the
 * turn by takeover (the death watch wakes it), within a bound, and then
 * finds the region whole (ipo_region_check and each container's check) and
 * every structure in the state before the operation the kill cut short or
 * after it: every message released (and every one put or taken in the cut
 * turn before that operation) is there exactly once.
 *
 * The child reports each operation through a pipe before it starts it, so
 * the parent knows which operation was in flight: all before it completed
 * (a kill happens only at a crash point, inside an operation).
 *
 *   test_crash [--seed S] [--seeds K] [--turns T] [--mode writer|reader|relay|all] [--every M]
 *              [--at N] [--list]
 *
 * --every M kills at every M-th point only; --at N at point N only (to
 * replay a failure); --list prints every site killed at, with its count.
 * make test runs the defaults; make stress runs more seeds, longer.
 *
 * This file is the harness: it walks the points and tallies the sites.
 * One run is crash_run.c, the child's workload crash_workload.c, the
 * parent's checks crash_verify.c, and the model of what the structures
 * must hold crash_model.c (crash_scenario.h for what they share). */
#include <signal.h>
#include <stdlib.h>

#include "crash_point.h"
#include "crash_scenario.h"
#include "ipo/access.h"
#include "task.h"

#ifndef IPO_CRASH_POINTS
#error "test_crash needs the crash-point build of the core (ipo_core_crash)"
#endif

static const char *const mode_names[] = { "writer", "reader", "relay" };

/* ---- the harness ------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct sites killed at, and failures by site. */
typedef struct site {
    char     where[128];
    uint64_t kills, failures;
} site_t;

static site_t sites[512];
static int nsites;

static site_t *site_of(const char *where)
{
    for (int i = 0; i < nsites; i++)
        if (!strcmp(sites[i].where, where))
            return &sites[i];
    if (nsites == (int)(sizeof(sites) / sizeof(sites[0])))
        return &sites[nsites - 1];
    snprintf(sites[nsites].where, sizeof(sites[nsites].where), "%s", where);
    return &sites[nsites++];
}

/* Kills the workload at every `every`-th point; the number of failures. */
static uint64_t run_workload(const workload_t *wl, uint64_t every, uint64_t only, int64_t **times,
                             uint64_t *ntimes)
{
    run_result_t res;
    failure_note_t f;
    memset(&res, 0, sizeof(res));
    if (run_once(wl, 0, &res, &f)) {
        fprintf(stderr, "    %s, seed %llu: the workload fails without a kill: %s\n",
                mode_names[wl->mode], (unsigned long long)wl->seed, f.text);
        return 1;
    }
    uint64_t count = res.count, failures = 0, printed = 0, tried = 0, relay_kills = 0, repair_max = 0;
    *times = realloc(*times, (*ntimes + count) * sizeof(int64_t));
    ASSERT(*times);
    int64_t start = ipo_now_ns();
    for (uint64_t at = only ? only : 1; at <= count; at += only ? count : every) {
        memset(&res, 0, sizeof(res));
        tried++;
        if (run_once(wl, at, &res, &f)) {
            failures++;
            site_t *s = site_of(res.where[0] ? res.where : "?");
            if (s->failures++ < 3 && printed++ < 40)
                fprintf(stderr, "    FAIL %s, seed %llu, point %llu at %s (in %s): %s\n",
                        mode_names[wl->mode], (unsigned long long)wl->seed, (unsigned long long)at,
                        res.where[0] ? res.where : "?", res.cut_op, f.text);
        } else {
            site_of(res.where)->kills++;
            if (res.recovery_ns >= 0)
                (*times)[(*ntimes)++] = res.recovery_ns;
            relay_kills += (uint64_t)res.relay_killed;
            if (!res.relay_killed && res.repair_points > repair_max)
                repair_max = res.repair_points;
        }
    }
    if (wl->mode == RELAY)
        fprintf(stderr, "    relay: the taker was killed in %llu repairs (a surviving repair passed up to %llu points)\n",
                (unsigned long long)relay_kills, (unsigned long long)repair_max);
    fprintf(stderr, "    %s, seed %llu: %llu points, %llu killed at, %llu failed, %.1f s\n",
            mode_names[wl->mode], (unsigned long long)wl->seed, (unsigned long long)count,
            (unsigned long long)tried, (unsigned long long)failures,
            (double)(ipo_now_ns() - start) / 1e9);
    return failures;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1, seeds = 1, every = 1, only = 0;
    int turns = 8, modes = 7, list_sites = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--seed") && v)
            seed = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--seeds") && v)
            seeds = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--turns") && v)
            turns = atoi(v), i++;
        else if (!strcmp(argv[i], "--list"))
            list_sites = 1;
        else if (!strcmp(argv[i], "--at") && v)
            only = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--every") && v)
            every = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--mode") && v)
            modes = !strcmp(v, "writer") ? 1 : !strcmp(v, "reader") ? 2 : !strcmp(v, "relay") ? 4 : 7, i++;
        else {
            fprintf(stderr, "usage: %s [--seed S] [--seeds K] [--turns T] [--every M] [--at N] [--list] "
                            "[--mode writer|reader|relay|all]\n", argv[0]);
            return 2;
        }
    }
    if (!every || turns < 1)
        return 2;
    srand((unsigned)getpid());
    /* A waiter's doorbell write to a dead child's FIFO must not kill us. */
    signal(SIGPIPE, SIG_IGN);

    int64_t *times = NULL;
    uint64_t ntimes = 0, failures = 0;
    for (uint64_t s = seed; s < seed + seeds; s++) {
        for (int mode = WRITER; mode < MODES_; mode++) {
            if (!(modes & (1 << mode)))
                continue;
            workload_t wl = { (enum mode)mode, s, turns, mode == READER ? 140 : 56 };
            failures += run_workload(&wl, every, only, &times, &ntimes);
        }
    }
    uint64_t kills = 0;
    for (int i = 0; i < nsites; i++)
        kills += sites[i].kills + sites[i].failures;
    fprintf(stderr, "    %llu kills at %d sites, %llu failed\n", (unsigned long long)kills, nsites,
            (unsigned long long)failures);
    if (failures || list_sites) {
        for (int i = 0; i < nsites; i++)
            if (sites[i].failures || list_sites)
                fprintf(stderr, "      %s: %llu of %llu kills failed\n", sites[i].where,
                        (unsigned long long)sites[i].failures,
                        (unsigned long long)(sites[i].failures + sites[i].kills));
    }
    if (ntimes) {
        qsort(times, ntimes, sizeof(*times), cmp_i64);
        fprintf(stderr, "    recovery (kill to takeover, %llu runs): p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, "
                        "max %.3f ms\n", (unsigned long long)ntimes,
                (double)times[ntimes / 2] / 1e6, (double)times[ntimes * 9 / 10] / 1e6,
                (double)times[ntimes * 99 / 100] / 1e6, (double)times[ntimes - 1] / 1e6);
    }
    free(times);
    return failures ? 1 : 0;
}

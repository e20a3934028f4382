/* tests/c/test_ring_crash.c — a releaser killed between marking a sleeper's ring pending and ringing: the sleeper gets its turn at once. */
/* A release that finds sleepers rings the oldest waiter for access: it
 * marks the waiter's ring pending (the slot's wake_pending, so that rings
 * coalesce), then writes a byte to its doorbell. A releaser killed between
 * the two has let access go, but the sleeper's doorbell stays silent, and
 * later releasers pass the sleeper over (its ring is "on its way"). Before
 * the death watch, that sleeper slept until its periodic wake, about a
 * second. Now the releaser's death makes the sleeper's death watch
 * readable, and its look finds access free.
 *
 * Built against the crash-point variants of the libraries: the releaser
 * child sets IPO_CRASH_SITE=ring and dies at that site in loop/src/handoff.c
 * (core/src/crash_point.h). The parent is the sleeper, driving its waiter
 * with poll() and no periodic wake at all; a lost turn shows as a failure
 * at WAIT_LIMIT_MS, never as a hang. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "crash_point.h"
#include "ipo/queue.h"
#include "ipo/recover.h"
#include "ipo/waiter.h"
#include "procs.h"
#include "task.h"

#ifndef IPO_CRASH_POINTS
#error "test_ring_crash needs the crash-point build of the libraries (ipo_loop_crash)"
#endif

enum {
    ROUNDS = 10,
    BOUND_MS = 250,       /* far below the periodic wake's 1 s */
    WAIT_LIMIT_MS = 3000  /* a wait that gets here has lost its turn */
};

/* A child that attaches, takes a turn, puts message `seq`, says "held" on
 * held_fd, waits for a byte on go_fd and releases. With die_at_ring set, its
 * release dies at the ring site (IPO_CRASH_SITE=ring); if it gets past it
 * (nobody was asleep to ring), it exits 5. */
static pid_t fork_releaser(const char *name, int64_t seq, int die_at_ring, int held[2], int go[2],
                           int where[2])
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid)
        return pid;
    close(held[0]);
    close(go[1]);
    close(where[0]);
    if (die_at_ring)
        arm_crash_site("ring", where[1]);
    ipo_region_t c;
    ipo_waker_t cw;
    attach_and_put_in_a_turn(name, seq, &c, &cw);
    char b = 'h';
    if (write(held[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
        _exit(6);
    ipo_handoff_release(&cw);
    if (die_at_ring)
        _exit(5);
    ipo_waker_fini(&cw);
    ipo_region_unmap(&c);
    _exit(0);
}

typedef struct woken {
    int64_t at_ns;     /* when the waiter held access */
    int     by_bell;   /* the doorbell was readable when it woke */
    int     by_death;  /* the death watch was */
} woken_t;

/* Sleeps in w until it holds access, at most WAIT_LIMIT_MS; what woke it. */
static woken_t sleep_until_held(ipo_waiter_t *w)
{
    woken_t got = { 0, 0, 0 };
    int64_t limit = ipo_now_ns() + (int64_t)WAIT_LIMIT_MS * 1000000;
    int step = IPO_WAIT_SLEEP;
    while (step == IPO_WAIT_SLEEP) {
        int64_t left_ms = (limit - ipo_now_ns()) / 1000000;
        if (left_ms <= 0)
            FAIL_AT("the sleeper did not get its turn within %d ms", WAIT_LIMIT_MS);
        int fds[IPO_WAITER_FDS];
        ASSERT_OK(ipo_waiter_fds(w, fds));
        ASSERT(fds[2] >= 0); /* the kernel has pidfds: main() skips otherwise */
        struct pollfd p[IPO_WAITER_FDS];
        for (int i = 0; i < IPO_WAITER_FDS; i++)
            p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN, .revents = 0 };
        int n = poll(p, IPO_WAITER_FDS, (int)left_ms);
        if (n < 0 && errno == EINTR)
            continue;
        ASSERT(n >= 0);
        if (n == 0)
            continue;
        got.by_bell |= !!(p[0].revents & POLLIN);
        got.by_death |= !!(p[2].revents & POLLIN);
        step = ipo_waiter_readable(w);
        ASSERT(step >= 0);
    }
    ASSERT_EQ(step, IPO_WAIT_HELD);
    got.at_ns = ipo_now_ns();
    return got;
}

static void read_byte(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    char b;
    ASSERT_EQ(poll(&p, 1, 20000), 1);
    ASSERT_EQ(read(fd, &b, 1), 1);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* One round: a releaser holds access, we go to sleep waiting for it, it
 * releases and rings us (dying between the flag and the doorbell when
 * die_at_ring); we must hold access within BOUND_MS. Returns how long after
 * the kill (or the release) we held it. */
static int64_t one_round(ipo_region_t *r, ipo_waker_t *w, const char *name, int64_t seq, int die_at_ring)
{
    int held[2], go[2], where[2];
    ASSERT_EQ(pipe(held), 0);
    ASSERT_EQ(pipe(go), 0);
    ASSERT_EQ(pipe(where), 0);
    pid_t pid = fork_releaser(name, seq, die_at_ring, held, go, where);
    close(held[1]);
    close(go[0]);
    close(where[1]);
    read_byte(held[0]);

    /* Asleep for access before the release: registered, its ring not
     * pending (registering clears the flag), so the release rings us. The
     * death watch takes in the releaser as we register. */
    ipo_waiter_t waiter;
    ipo_waiter_init(&waiter, w);
    ASSERT_EQ(ipo_waiter_start(&waiter, IPO_WAIT_FOR_ACCESS, 0, 0), IPO_WAIT_SLEEP);
    /* The last round's releaser died after we held access: its death is
     * still to be read from the watch. Read it now (the releaser holds
     * access, so we sleep on), or the look it causes would unregister us
     * for a moment just as the release comes, and the release ring nobody. */
    for (int settled = 0; !settled;) {
        int fds[IPO_WAITER_FDS];
        ASSERT_OK(ipo_waiter_fds(&waiter, fds));
        struct pollfd p[IPO_WAITER_FDS];
        for (int i = 0; i < IPO_WAITER_FDS; i++)
            p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN, .revents = 0 };
        settled = poll(p, IPO_WAITER_FDS, 0) == 0;
        if (!settled)
            ASSERT_EQ(ipo_waiter_readable(&waiter), IPO_WAIT_SLEEP);
    }
    ASSERT_UEQ(ipo_atomic_load_relaxed(&r->me->wake_pending), 0);
    int64_t released = ipo_now_ns();
    ASSERT_EQ(write(go[1], "g", 1), 1);
    woken_t got = sleep_until_held(&waiter);

    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    int64_t from = released;
    if (die_at_ring) {
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            FAIL_AT("round %lld: the releaser was not killed at the ring site (status 0x%x)", (long long)seq, status);
        char line[256];
        ssize_t n = read(where[0], line, sizeof(line) - 1);
        ASSERT(n > 0);
        line[n] = 0;
        unsigned long long points;
        char site[128];
        long long killed_at;
        ASSERT_EQ(sscanf(line, "%llu %127s %lld", &points, site, &killed_at), 3);
        ASSERT(!strncmp(site, "handoff.c:", 10));
        from = killed_at;
        /* It died after marking our ring pending and before writing it:
         * the flag is set, the doorbell silent, and the death watch woke us. */
        ASSERT_UEQ(ipo_atomic_load_relaxed(&r->me->wake_pending), 1);
        ASSERT(!got.by_bell);
        ASSERT(got.by_death);
    } else {
        ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT(got.by_bell);
    }
    /* The releaser released: nothing to take over, nothing cut short, and
     * the message of its turn is there. */
    ASSERT(!ipo_access_cut_short(r));
    ASSERT_UEQ(ipo_region_takeovers(r), 0);
    ASSERT_CHECK(ipo_region_check(r, why, sizeof(why)));
    ipo_off_t off;
    const ipo_obj_t *obj;
    ASSERT_OK(ipo_queue_take(r, &off));
    ASSERT_OK(ipo_obj_get(r, off, &obj));
    ASSERT_EQ(obj->v.i64, seq);
    ASSERT_OK(ipo_obj_destroy(r, off));
    ipo_handoff_release(w);
    ipo_waiter_fini(&waiter);
    close(held[0]);
    close(go[1]);
    close(where[0]);
    return got.at_ns - from;
}

static void test_a_releaser_killed_mid_ring_leaves_nobody_asleep(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "ringcrash");
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    int64_t times[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        times[i] = one_round(&r, &w, name, i + 1, 1);
        if (times[i] > (int64_t)BOUND_MS * 1000000)
            FAIL_AT("round %d: the sleeper held access %.3f ms after the releaser died (bound %d ms)", i,
                    (double)times[i] / 1e6, BOUND_MS);
    }
    /* Our ring flag is still set from the last dead releaser: our next
     * sleep clears it, so a plain release rings us again. */
    int64_t plain = one_round(&r, &w, name, ROUNDS + 1, 0);
    qsort(times, ROUNDS, sizeof(times[0]), cmp_i64);
    fprintf(stderr, "    %d releasers killed mid-ring: the sleeper held access p50 %.3f ms, max %.3f ms "
                    "after the kill (a plain ring: %.3f ms)\n",
            ROUNDS, (double)times[ROUNDS / 2] / 1e6, (double)times[ROUNDS - 1] / 1e6, (double)plain / 1e6);
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

int main(void)
{
    srand((unsigned)getpid());
    /* Our doorbell writes to a dead releaser's FIFO must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (!death_watch_available()) {
        fprintf(stderr, "  no pidfds: skipped\n");
        return TEST_SKIP;
    }
    RUN(test_a_releaser_killed_mid_ring_leaves_nobody_asleep);
    return 0;
}

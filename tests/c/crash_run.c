/* tests/c/crash_run.c — one run of test_crash: a child killed at a crash point (as writer, reader or relay), the takeover, the checks. */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "crash_scenario.h"
#include "ipo/queue.h"
#include "ipo/recover.h"
#include "ipo/waiter.h"
#include "procs.h"
#include "task.h"

#define REGION_SIZE (UINT64_C(1) << 20)

/* Reads one record; 1, 0 at end of file, -1 on error. Waits at most
 * timeout_ms for it (-1: as long as it takes). */
static int read_op(int fd, op_t *op, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    if (timeout_ms >= 0 && poll(&p, 1, timeout_ms) != 1)
        return -1;
    size_t got = 0;
    while (got < sizeof(*op)) {
        ssize_t n = read(fd, (char *)op + got, sizeof(*op) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 && got == 0 ? 0 : -1;
        got += (size_t)n;
    }
    return 1;
}

/* The relay's middle: a taker joins while the writer is in its turn, and
 * is killed at a crash point of its repair (one derived from `at`), or
 * survives it. The
 * parent waits for it to end before it waits for access itself, so that
 * the taker, not the parent, takes the writer's turn over. */
static int relay(const char *name, uint64_t at, ipo_region_t *r, run_result_t *res, failure_note_t *f)
{
    (void)r;
    int ready[2], where[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(where), 0);
    /* Points spread over the repair (some 10 to 60 for these heaps), and
     * some past its end. */
    uint64_t m = 1 + (at * UINT64_C(2654435761)) % 72;
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(where[0]);
        char num[32];
        snprintf(num, sizeof(num), "%llu", (unsigned long long)m);
        setenv("IPO_CRASH_AT", num, 1);
        snprintf(num, sizeof(num), "%d", where[1]);
        setenv("IPO_CRASH_WHERE_FD", num, 1);
        taker_main(name, ready[1], where[1]);
    }
    close(ready[1]);
    close(where[1]);
    int rc = 0, status = 0;
    char line[256];
    struct pollfd p = { .fd = ready[0], .events = POLLIN, .revents = 0 };
    if (poll(&p, 1, 20000) != 1 || read(ready[0], line, 1) != 1) {
        kill(pid, SIGKILL);
        rc = NOTE(f, "the taker did not attach");
    }
    if (waitpid(pid, &status, 0) != pid) {
        rc = rc ? rc : NOTE(f, "waitpid of the taker failed");
    } else if (!rc) {
        ssize_t n = read(where[0], line, sizeof(line) - 1);
        unsigned long long v = 0;
        char site[128];
        line[n > 0 ? n : 0] = 0;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
            sscanf(line, "%llu %127s", &v, site) == 2 && v == m) {
            res->relay_killed = 1;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && sscanf(line, "survived %llu", &v) == 1) {
            res->repair_points = v;
        } else {
            rc = NOTE(f, "the taker (crash point %llu) ended with status 0x%x: %s",
                      (unsigned long long)m, status, line);
        }
    }
    close(ready[0]);
    close(where[0]);
    return rc;
}

/* One run: a fresh region, a child running the workload (killed at its
 * at-th crash point, or never when at is 0), and the checks. 0, or -1 with
 * a note. */
int run_once(const workload_t *wl, uint64_t at, run_result_t *res, failure_note_t *f)
{
    static model_t m0, before, after;
    char name[64];
    ipo_region_t r;
    test_region_name(name, sizeof(name), "crash");
    ipo_region_options_t o;
    memset(&o, 0, sizeof(o));
    o.size = REGION_SIZE;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));

    /* The roots, and the messages put before the child starts. */
    ASSERT(ipo_handoff_try(&w, 0));
    shared_roots_t roots;
    ASSERT_OK(ipo_list_new(&r, 0, &roots.list));
    ASSERT_OK(ipo_map_new(&r, IPO_T_DICT, 0, &roots.map));
    memset(&m0, 0, sizeof(m0));
    for (int i = 1; i <= wl->prefill; i++) {
        ipo_off_t off;
        ASSERT_OK(make_message(&r, i, &off));
        ASSERT_OK(ipo_queue_put(&r, off));
        m0.q[m0.qlen++] = i;
    }
    ipo_handoff_release(&w);

    int ops[2], where[2];
    ASSERT_EQ(pipe(ops), 0);
    ASSERT_EQ(pipe(where), 0);
    /* Room for every record, so that a child holding access never blocks
     * on a full pipe while the parent waits for access. */
    (void)fcntl(ops[1], F_SETPIPE_SZ, 1 << 20);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(ops[0]);
        close(where[0]);
        char num[32];
        snprintf(num, sizeof(num), "%llu", (unsigned long long)at);
        setenv("IPO_CRASH_AT", num, 1);
        snprintf(num, sizeof(num), "%d", where[1]);
        setenv("IPO_CRASH_WHERE_FD", num, 1);
        child_main(name, wl, &m0, roots, ops[1]);
    }
    close(ops[1]);
    close(where[1]);

    int rc = 0, status = 0, reaped = 0;
    op_t op;
    int64_t taken_at = 0;
    before = m0;
    after = m0;
    res->cut_op = "none";
    res->where[0] = 0;
    if (at) {
        /* The child's first turn has begun: wait for access beside it, as
         * any participant would. Turns it releases may come our way; only a
         * turn taken over ends the wait. */
        if (read_op(ops[0], &op, 20000) != 1 || op.kind != OP_BEGIN) {
            rc = NOTE(f, "the child did not begin its first turn");
            goto out;
        }
        if (wl->mode == RELAY && (rc = relay(name, at, &r, res, f)))
            goto out;
        int64_t deadline = ipo_now_ns() + TAKEOVER_BOUND_NS;
        for (;;) {
            if (wl->mode == RELAY && !res->relay_killed)
                break; /* the taker repaired and released: any turn will do */
            int wrc = ipo_handoff_acquire(&w, IPO_WAIT_FOR_ACCESS, deadline, -1, 0);
            if (wrc) {
                char why[256] = "";
                ipo_region_check(&r, why, sizeof(why));
                rc = NOTE(f, "no takeover within %lld ms: %s (check: %s)",
                          (long long)(TAKEOVER_BOUND_NS / 1000000), ipo_strerror(wrc), why);
                goto out;
            }
            if (ipo_access_cut_short(&r))
                break;
            ipo_handoff_release(&w);
        }
        if (wl->mode == RELAY && !res->relay_killed) {
            int wrc = ipo_handoff_acquire(&w, IPO_WAIT_FOR_ACCESS, deadline, -1, 0);
            if (wrc) {
                rc = NOTE(f, "no turn after the taker left: %s", ipo_strerror(wrc));
                goto out;
            }
        }
        taken_at = ipo_now_ns();
        if (waitpid(pid, &status, 0) != pid) {
            rc = NOTE(f, "waitpid failed");
            goto out;
        }
        reaped = 1;
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
            rc = NOTE(f, "the child was not killed at its crash point (status 0x%x)", status);
            goto out;
        }
        char line[256];
        ssize_t n = read(where[0], line, sizeof(line) - 1);
        unsigned long long point = 0;
        long long killed_at = 0;
        if (n <= 0 || (line[n] = 0, sscanf(line, "%llu %127s %lld", &point, res->where, &killed_at) != 3) ||
            point != at) {
            rc = NOTE(f, "the child did not say where it died");
            goto out;
        }
        /* A relay's recovery went through the taker: not timed. */
        res->recovery_ns = wl->mode == RELAY ? -1 : taken_at - killed_at;
        if (!ipo_region_takeovers(&r)) {
            rc = NOTE(f, "the header counts no takeover");
            goto out;
        }
    } else {
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            rc = NOTE(f, "the counting run failed (status 0x%x)", status);
            goto out;
        }
        reaped = 1;
        ASSERT(ipo_handoff_try(&w, 0));
        taken_at = 1;
    }

    /* Replay the child's report: all operations but the last completed. */
    const op_t *last = NULL;
    op_t prev_op;
    int got;
    while ((got = read_op(ops[0], &op, -1)) == 1) {
        if (op.kind == OP_COUNT) {
            res->count = (uint64_t)op.a;
            continue;
        }
        if (op.kind == OP_BEGIN || op.kind == OP_RELEASED)
            continue;
        if (last && model_apply(&before, last)) {
            rc = NOTE(f, "the child's report does not replay");
            goto out;
        }
        prev_op = op;
        last = &prev_op;
        after = before;
        if (model_apply(&after, last)) {
            rc = NOTE(f, "the child's report does not replay");
            goto out;
        }
    }
    if (got < 0) {
        rc = NOTE(f, "reading the child's report failed");
        goto out;
    }
    if (!at) {
        before = after; /* the counting run completed everything */
    } else if (last) {
        res->cut_op = op_names[last->kind < OP_KINDS_ ? last->kind : 0];
    }
    if ((rc = check_all(&r, roots, f)))
        goto out;
    if ((rc = verify_state(&r, roots, &before, &after, f)))
        goto out;
    static int64_t seqs[QMAX];
    uint32_t nseqs;
    if ((rc = read_queue(&r, seqs, &nseqs, f)))
        goto out;
    uint64_t rng = wl->seed ^ at;
    rc = carry_on(&r, roots, seqs, nseqs, &rng, f);

out:
    if (!reaped) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (taken_at && ipo_access_held(&r))
        ipo_handoff_release(&w);
    close(ops[0]);
    close(where[0]);
    ipo_waker_fini(&w);
    ipo_region_detach(&r);
    ipo_region_unmap(&r);
    return rc;
}

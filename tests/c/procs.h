/* tests/c/procs.h — test support for tests across real processes: regions, a start line, children. */
#ifndef IPO_TEST_PROCS_H
#define IPO_TEST_PROCS_H

#include <sys/wait.h>
#include <unistd.h>

#include "ipo/format.h"
#include "ipo/queue.h"
#include "ipo/waiter.h"
#include "task.h"

/* A lost wakeup leaves a sleeper waiting with access free: with this bound
 * on every single wait it shows as a failure, not as a hang. */
#define WAIT_BOUND_NS (INT64_C(20) * 1000000000)

static inline void create_region(ipo_region_t *r, char *name, size_t len, const char *what)
{
    test_region_name(name, len, what);
    ipo_region_options_t o;
    memset(&o, 0, sizeof(o));
    o.size = 1 << 22;
    ASSERT_OK(ipo_region_create(r, name, &o));
}

/* A start line: children block on it until every one is attached, so that
 * they contend from the first round. */
typedef struct start_line {
    int fds[2];
} start_line_t;

static inline void start_line_init(start_line_t *s)
{
    ASSERT_EQ(pipe(s->fds), 0);
}

static inline void start_line_wait(start_line_t *s)
{
    char go;
    close(s->fds[1]);
    if (read(s->fds[0], &go, 1) != 0) /* end-of-file: the parent let go */
        _exit(6);
}

static inline void start_line_go(start_line_t *s)
{
    close(s->fds[0]);
    close(s->fds[1]);
}

/* In a child: attach to the region and open a doorbell, or exit. */
static inline void attach_or_exit(const char *name, ipo_region_t *c, ipo_waker_t *w)
{
    if (ipo_region_attach(c, name, NULL) || ipo_waker_init(w, c))
        _exit(2);
}

static inline void wait_children(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        int status;
        ASSERT_EQ(waitpid(pids[i], &status, 0), pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            FAIL_AT("child %d ended with status 0x%x", i, status);
    }
}

/* Forks a child that attaches, takes one turn with a blocking wait (no
 * wake-up but the doorbell's, no spinning), releases and exits 0; exits
 * non-zero if its wait reaches WAIT_BOUND_NS. */
static inline pid_t fork_one_turn(const char *name)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t c;
        ipo_waker_t ck;
        attach_or_exit(name, &c, &ck);
        if (ipo_handoff_acquire(&ck, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 0))
            _exit(3);
        ipo_handoff_release(&ck);
        ipo_waker_fini(&ck);
        ipo_region_unmap(&c);
        _exit(0);
    }
    return pid;
}

/* In a child of a crash-point build (core/src/crash_point.h): dies at the
 * named site `site` when it first passes it, saying where on where_fd. */
static inline void arm_crash_site(const char *site, int where_fd)
{
    char num[32];
    setenv("IPO_CRASH_SITE", site, 1);
    snprintf(num, sizeof(num), "%d", where_fd);
    setenv("IPO_CRASH_WHERE_FD", num, 1);
}

/* In a child: attaches, takes a turn (asleep while it waits, no spin) and
 * puts message seq, an INT64 object; exits 2, 3 or 4 when it cannot. */
static inline void attach_and_put_in_a_turn(const char *name, int64_t seq, ipo_region_t *c, ipo_waker_t *w)
{
    attach_or_exit(name, c, w);
    if (ipo_handoff_acquire(w, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 0))
        _exit(3);
    ipo_off_t off;
    if (ipo_obj_new_scalar(c, IPO_T_INT64, (uint64_t)seq, &off) || ipo_queue_put(c, off))
        _exit(4);
}

/* Whether this kernel gives a waker its death watch (pidfds): without it,
 * a sleeper learns of a death at its periodic wake only, and the tests of
 * prompt recovery have nothing to prove. */
static inline int death_watch_available(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "watchprobe");
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    int has_watch = ipo_deathwatch_fd(&w.watch) >= 0;
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
    return has_watch;
}

#endif /* IPO_TEST_PROCS_H */

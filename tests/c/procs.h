/* tests/c/procs.h — test support for tests across real processes: regions, a start line, children. */
#ifndef IPO_TEST_PROCS_H
#define IPO_TEST_PROCS_H

#include <sys/wait.h>
#include <unistd.h>

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

#endif /* IPO_TEST_PROCS_H */

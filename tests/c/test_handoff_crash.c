/* tests/c/test_handoff_crash.c — deaths in the middle of a handed turn: the releaser that hands it, the waiter it is handed to. */
/* A release that finds a waiter due (rung, it lost the race) hands it the
 * turn: one compare-and-swap writes HANDED | its slot into the owner field,
 * then the releaser clears the line and rings it; the waiter claims the
 * turn with one compare-and-swap (loop/src/handoff.c, hand_over()). Two
 * deaths cut that short, and here each is a real kill, with a third
 * participant asleep for access behind the waiter:
 *
 * - the releaser, killed at the named site "handoff" (after the turn is
 *   handed, before the line is cleared and the waiter rung): the waiter,
 *   asleep (woken by its death watch) or spinning for the turn, claims it;
 *   the third gets the next turn; nothing is taken over;
 * - the waiter, killed at the named site "claim" (loop/src/waiter.c: woken
 *   with the turn handed to it, before it claims): the third takes the turn
 *   over, as a dead holder's, and the dead waiter's registration leaves the
 *   access word.
 *
 * Every participant that holds a turn puts a numbered message in it, so
 * the queue at the end says whose turns happened, in which order, and that
 * no message a released turn put was lost. Each round checks the region
 * (ipo_region_check) and that access, its sleepers and the line are back to
 * nothing. A lost turn shows as a failure at WAIT_LIMIT_MS, never as a
 * hang; the bound that shows the recovery is prompt (not a periodic wake,
 * not a time limit) is BOUND_MS. Built against the crash-point variants of
 * the libraries (core/src/crash_point.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "crash_point.h"
#include "ipo/notify.h"
#include "ipo/queue.h"
#include "ipo/recover.h"
#include "ipo/waiter.h"
#include "procs.h"
#include "task.h"

#ifndef IPO_CRASH_POINTS
#error "test_handoff_crash needs the crash-point build of the libraries (ipo_loop_crash)"
#endif

enum {
    ASLEEP_ROUNDS = 6,
    AWAKE_ROUNDS = 3,
    DOOMED_ROUNDS = 6,
    BOUND_MS = 500,       /* far below the periodic wake's 1 s */
    WAIT_LIMIT_MS = 5000  /* a wait that gets here has lost its turn */
};

/* A due waiter that spins for its turn spins this long (and as long again
 * before it first sleeps): longer than a release takes to come. */
#define AWAKE_SPIN_NS (INT64_C(500) * 1000000)

/* What a child says once it holds a turn. */
typedef struct report {
    int64_t  seq;        /* the message it put */
    int64_t  at_ns;      /* when it held the turn */
    uint32_t cut_short;  /* the turn was taken over */
    uint32_t pad;
} report_t;

static void send_report(int fd, int64_t seq, int64_t at_ns, int cut_short)
{
    report_t rep = { seq, at_ns, (uint32_t)cut_short, 0 };
    if (write(fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
        _exit(9);
}

static report_t read_report(int fd, const char *who)
{
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    report_t rep;
    if (poll(&p, 1, WAIT_LIMIT_MS) != 1)
        FAIL_AT("%s did not get its turn within %d ms", who, WAIT_LIMIT_MS);
    ASSERT_EQ(read(fd, &rep, sizeof(rep)), (ssize_t)sizeof(rep));
    return rep;
}

/* The write end of the round's stay pipe: the parent's alone, closed in
 * every child, or its end-of-file never comes. */
static int stay_writer = -1;

static void close_parents_ends(void)
{
    if (stay_writer >= 0)
        close(stay_writer);
}

/* Blocks until the parent closes its end of stay (end-of-file): children
 * stay attached until the round is checked, so that no death but the one
 * under test wakes anyone's death watch. */
static void stay_until_told(int stay_fd)
{
    char b;
    if (read(stay_fd, &b, 1) != 0)
        _exit(8);
}

/* The releaser: takes a turn, puts message seq, says so on held_fd, waits
 * for a byte on go_fd and releases (with `site` set, dying at that named
 * site on the way; exits 5 if it gets past it). Then stays. */
static pid_t fork_releaser(const char *name, int64_t seq, const char *site, int held_fd, int go_fd,
                           int where_fd, int stay_fd)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid)
        return pid;
    close_parents_ends();
    if (site)
        arm_crash_site(site, where_fd);
    ipo_region_t c;
    ipo_waker_t cw;
    attach_and_put_in_a_turn(name, seq, &c, &cw);
    char b = 'h';
    if (write(held_fd, &b, 1) != 1 || read(go_fd, &b, 1) != 1)
        _exit(6);
    ipo_handoff_release(&cw);
    if (site)
        _exit(5);
    stay_until_told(stay_fd);
    ipo_waker_fini(&cw);
    ipo_region_unmap(&c);
    _exit(0);
}

/* A participant that waits for access (spinning spin_ns first, and as a
 * due waiter), puts message seq once it holds the turn, reports, releases,
 * and stays. */
static pid_t fork_waiter(const char *name, int64_t seq, int64_t spin_ns, int report_fd, int stay_fd)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid)
        return pid;
    close_parents_ends();
    ipo_region_t c;
    ipo_waker_t cw;
    attach_or_exit(name, &c, &cw);
    if (ipo_handoff_acquire(&cw, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, spin_ns))
        _exit(3);
    int64_t at = ipo_now_ns();
    ipo_off_t off;
    if (ipo_obj_new_scalar(&c, IPO_T_INT64, (uint64_t)seq, &off) || ipo_queue_put(&c, off))
        _exit(4);
    send_report(report_fd, seq, at, ipo_access_cut_short(&c));
    ipo_handoff_release(&cw);
    stay_until_told(stay_fd);
    ipo_waker_fini(&cw);
    ipo_region_unmap(&c);
    _exit(0);
}

/* A waiter that dies once a turn is handed to it and before it claims it:
 * it waits for access as any participant does (asleep, no spin), and the
 * library kills it at the named site "claim" (loop/src/waiter.c), where a
 * waiter woken with the turn handed to it is about to claim it. A turn
 * held all the same (the site not passed) exits 7. */
static pid_t fork_doomed_waiter(const char *name, int where_fd)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid)
        return pid;
    close_parents_ends();
    arm_crash_site("claim", where_fd);
    ipo_region_t c;
    ipo_waker_t cw;
    attach_or_exit(name, &c, &cw);
    ipo_handoff_acquire(&cw, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 0);
    _exit(7);
}

/* Waits, within WAIT_BOUND_NS, until the access word counts `sleepers`
 * sleepers and the line has all of the bits `line_bits`. */
static void wait_for_word(const ipo_region_t *r, uint64_t sleepers, uint32_t line_bits)
{
    int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
    while ((ipo_atomic_load_acquire(&r->hdr->access) & IPO_ACCESS_SLEEPER_MASK) / IPO_ACCESS_SLEEPER_ONE !=
               sleepers ||
           (ipo_atomic_load_acquire(&r->hdr->line) & line_bits) != line_bits) {
        if (ipo_now_ns() >= until)
            FAIL_AT("the access word never showed %llu sleepers and line bits 0x%x (word 0x%llx, line 0x%x)",
                    (unsigned long long)sleepers, line_bits,
                    (unsigned long long)ipo_atomic_load_acquire(&r->hdr->access),
                    ipo_atomic_load_acquire(&r->hdr->line));
        ipo_cpu_relax();
    }
}

/* The slot of the one participant that waits for access. */
static uint32_t waiting_slot(const ipo_region_t *r)
{
    uint32_t found = UINT32_MAX;
    for (uint32_t i = 0; i < r->slot_count; i++) {
        if (ipo_atomic_load_acquire(&r->slots[i].waiting_for) & IPO_WAIT_FOR_ACCESS) {
            ASSERT_UEQ(found, UINT32_MAX);
            found = i;
        }
    }
    ASSERT(found != UINT32_MAX);
    return found;
}

/* What a release that the releaser took back at once leaves, made
 * deterministic (as in test_handoff.c): slot i is put on the line and rung
 * while the turn is held; the waiter there wakes, finds the turn taken, and
 * is due. */
static void make_due(const ipo_region_t *r, uint32_t i)
{
    ipo_atomic_store_release(&r->hdr->line, i + 1);
    int fd = ipo_notify_open_peer(r->inode, i, ipo_atomic_load_acquire(&r->slots[i].generation));
    ASSERT(fd >= 0);
    ASSERT(ipo_notify_ring(fd) >= 0);
    close(fd);
}

/* The queue holds exactly the messages `want`, oldest first: each is taken
 * and destroyed. Needs access. */
static void take_all(ipo_region_t *r, const int64_t *want, int n)
{
    ASSERT_UEQ(ipo_queue_length(r), (uint64_t)n);
    for (int k = 0; k < n; k++) {
        ipo_off_t off;
        const ipo_obj_t *obj;
        ASSERT_OK(ipo_queue_take(r, &off));
        ASSERT_OK(ipo_obj_get(r, off, &obj));
        ASSERT_EQ(obj->v.i64, want[k]);
        ASSERT_OK(ipo_obj_destroy(r, off));
    }
}

/* Nobody holds access, sleeps for it or is on the line; the region checks out. */
static void assert_at_rest(const ipo_region_t *r)
{
    uint64_t word = ipo_atomic_load_acquire(&r->hdr->access);
    ASSERT_UEQ(word & IPO_ACCESS_OWNER_MASK, 0);
    ASSERT_UEQ(word & IPO_ACCESS_SLEEPER_MASK, 0);
    ASSERT_UEQ(ipo_atomic_load_acquire(&r->hdr->line), 0);
    ASSERT_CHECK(ipo_region_check(r, why, sizeof(why)));
}

static void wait_exit(pid_t pid, const char *who)
{
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL_AT("%s ended with status 0x%x", who, status);
}

static void wait_killed(pid_t pid, const char *who)
{
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        FAIL_AT("%s was not killed (status 0x%x)", who, status);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_times(const char *what, int64_t *t, int n)
{
    qsort(t, (size_t)n, sizeof(t[0]), cmp_i64);
    fprintf(stderr, "    %s: p50 %.3f ms, max %.3f ms after the kill\n", what, (double)t[n / 2] / 1e6,
            (double)t[n - 1] / 1e6);
}

static void check_bound(int64_t ns, const char *who, int round)
{
    if (ns > (int64_t)BOUND_MS * 1000000)
        FAIL_AT("round %d: %s held access %.3f ms after the kill (bound %d ms)", round, who, (double)ns / 1e6,
                BOUND_MS);
}

/* A round's region and pipes: held and go (the releaser's turn), where
 * (where it died), reports (the children's turns), stay (see
 * stay_until_told()). */
typedef struct round {
    char         name[64];
    ipo_region_t r;
    int          held[2], go[2], where[2], reports[2], stay[2];
} round_t;

static void round_open(round_t *rd, const char *what)
{
    create_region(&rd->r, rd->name, sizeof(rd->name), what);
    int *pipes[] = { rd->held, rd->go, rd->where, rd->reports, rd->stay };
    for (size_t i = 0; i < sizeof(pipes) / sizeof(pipes[0]); i++)
        ASSERT_EQ(pipe(pipes[i]), 0);
    stay_writer = rd->stay[1];
}

/* What a child killed at a named site wrote on the where pipe: checks that
 * it died in `file` (a "file:" prefix), and gives when. */
static int64_t read_kill_site(round_t *rd, const char *file, const char *site_name)
{
    char line[256];
    ssize_t n = read(rd->where[0], line, sizeof(line) - 1);
    ASSERT(n > 0);
    line[n] = 0;
    unsigned long long points;
    char site[128];
    long long killed_at;
    ASSERT_EQ(sscanf(line, "%llu %127s %lld", &points, site, &killed_at), 3);
    if (strncmp(site, file, strlen(file)))
        FAIL_AT("died at %s, not at %s", site, site_name);
    return (int64_t)killed_at;
}

/* The line-up both kinds of round start from, once the releaser holds the
 * turn and the waiter (pid given) waits for it: a third participant asleep
 * for access behind it, and the waiter made due, the line showing
 * line_bits (DUE, and AWAKE for a waiter that spins for the turn). The
 * third's pid. */
static pid_t line_up(round_t *rd, int64_t third_seq, uint32_t line_bits)
{
    wait_for_word(&rd->r, 1, 0);
    uint32_t slot = waiting_slot(&rd->r);
    pid_t third = fork_waiter(rd->name, third_seq, 0, rd->reports[1], rd->stay[0]);
    wait_for_word(&rd->r, 2, 0);
    make_due(&rd->r, slot);
    /* Due, and back asleep (registered) or spinning for the turn. */
    wait_for_word(&rd->r, 2, line_bits);
    ASSERT_UEQ(ipo_atomic_load_acquire(&rd->r.hdr->line) & IPO_LINE_SLOT_MASK, slot + 1);
    return third;
}

/* Lets the children that stay go (each then ends). */
static void round_let_go(round_t *rd)
{
    close(rd->stay[1]);
    stay_writer = -1;
}

/* Once every child has ended: nothing holds access, sleeps for it or is
 * on the line, the region checks out, and the queue holds exactly the
 * messages want, in that order (taken, and checked again). */
static void round_close(round_t *rd, const int64_t *want, int n)
{
    ipo_region_t *r = &rd->r;
    assert_at_rest(r);
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, r));
    ASSERT(ipo_access_try_acquire(r));
    take_all(r, want, n);
    ipo_handoff_release(&w);
    assert_at_rest(r);
    ipo_waker_fini(&w);
    int fds[] = { rd->held[0], rd->held[1], rd->go[0], rd->go[1], rd->where[0], rd->where[1],
                  rd->reports[0], rd->reports[1], rd->stay[0] };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        close(fds[i]);
    ipo_region_detach(r);
    ipo_region_unmap(r);
}

/* One round of the releaser killed at "handoff": the turn it handed to a
 * due waiter (asleep or spinning, by `awake`) is claimed by that waiter,
 * and the next turn goes to the third participant asleep behind it. The
 * times from the kill to each one's turn go to t_waiter and t_third. */
static void releaser_round(int round, int awake, int64_t *t_waiter, int64_t *t_third)
{
    static round_t rd;
    round_open(&rd, "handcrash");
    enum { SEQ_RELEASER = 1, SEQ_WAITER = 2, SEQ_THIRD = 3 };
    pid_t rel = fork_releaser(rd.name, SEQ_RELEASER, "handoff", rd.held[1], rd.go[0], rd.where[1], rd.stay[0]);
    char b;
    ASSERT_EQ(read(rd.held[0], &b, 1), 1);
    pid_t waiter = fork_waiter(rd.name, SEQ_WAITER, awake ? AWAKE_SPIN_NS : 0, rd.reports[1], rd.stay[0]);
    pid_t third = line_up(&rd, SEQ_THIRD, IPO_LINE_DUE | (awake ? IPO_LINE_AWAKE : 0));

    ASSERT_EQ(write(rd.go[1], "g", 1), 1);
    wait_killed(rel, "the releaser");
    int64_t killed_at = read_kill_site(&rd, "handoff.c:", "the handoff site");

    /* The waiter's turn first (it was handed to it), then the third's. */
    report_t first = read_report(rd.reports[0], "the waiter handed the turn");
    report_t second = read_report(rd.reports[0], "the participant behind it");
    ASSERT_EQ(first.seq, SEQ_WAITER);
    ASSERT_EQ(second.seq, SEQ_THIRD);
    ASSERT(!first.cut_short && !second.cut_short);
    *t_waiter = first.at_ns - killed_at;
    *t_third = second.at_ns - killed_at;
    check_bound(*t_waiter, "the waiter", round);
    check_bound(*t_third, "the participant behind it", round);

    round_let_go(&rd);
    wait_exit(waiter, "the waiter");
    wait_exit(third, "the participant behind it");
    /* The handed turn was claimed by its living recipient: nothing to take
     * over. Every released turn's message is there, in turn order. */
    ASSERT_UEQ(ipo_region_takeovers(&rd.r), 0);
    static const int64_t want[] = { SEQ_RELEASER, SEQ_WAITER, SEQ_THIRD };
    round_close(&rd, want, 3);
}

static void test_a_releaser_killed_handing_over_leaves_the_turn_to_its_waiter(void)
{
    int64_t waiter[ASLEEP_ROUNDS + AWAKE_ROUNDS], third[ASLEEP_ROUNDS + AWAKE_ROUNDS];
    for (int i = 0; i < ASLEEP_ROUNDS + AWAKE_ROUNDS; i++)
        releaser_round(i, i >= ASLEEP_ROUNDS, &waiter[i], &third[i]);
    fprintf(stderr, "    %d releasers killed handing over (%d to a sleeping waiter, %d to a spinning one):\n",
            ASLEEP_ROUNDS + AWAKE_ROUNDS, ASLEEP_ROUNDS, AWAKE_ROUNDS);
    print_times("the waiter claimed the handed turn", waiter, ASLEEP_ROUNDS + AWAKE_ROUNDS);
    print_times("the participant behind it held the next", third, ASLEEP_ROUNDS + AWAKE_ROUNDS);
}

/* One round of the waiter killed with the turn handed to it: the third
 * participant, asleep for access, takes the turn over. The time from the
 * kill to its turn goes to t_third. */
static void doomed_round(int round, int64_t *t_third)
{
    static round_t rd;
    round_open(&rd, "handdoom");
    enum { SEQ_RELEASER = 1, SEQ_THIRD = 3 };
    pid_t rel = fork_releaser(rd.name, SEQ_RELEASER, NULL, rd.held[1], rd.go[0], rd.where[1], rd.stay[0]);
    char b;
    ASSERT_EQ(read(rd.held[0], &b, 1), 1);
    pid_t doomed = fork_doomed_waiter(rd.name, rd.where[1]);
    pid_t third = line_up(&rd, SEQ_THIRD, IPO_LINE_DUE);

    uint64_t turns = ipo_access_count(&rd.r);
    ASSERT_EQ(write(rd.go[1], "g", 1), 1);
    wait_killed(doomed, "the waiter handed the turn");
    int64_t killed_at = read_kill_site(&rd, "waiter.c:", "the claim site");
    report_t next = read_report(rd.reports[0], "the participant behind it");
    ASSERT_EQ(next.seq, SEQ_THIRD);
    /* Taken over: the dead waiter's turn, as a dead holder's. */
    ASSERT(next.cut_short);
    ASSERT(ipo_access_count(&rd.r) != turns);
    *t_third = next.at_ns - killed_at;
    check_bound(*t_third, "the participant behind it", round);

    round_let_go(&rd);
    wait_exit(rel, "the releaser");
    wait_exit(third, "the participant behind it");
    ASSERT_UEQ(ipo_region_takeovers(&rd.r), 1);
    /* The dead waiter died registered: round_close() finds its sleeper out
     * of the word again, and its slot off the line. */
    static const int64_t want[] = { SEQ_RELEASER, SEQ_THIRD };
    round_close(&rd, want, 2);
}

static void test_a_waiter_killed_before_claiming_its_handed_turn_is_taken_over(void)
{
    int64_t third[DOOMED_ROUNDS];
    for (int i = 0; i < DOOMED_ROUNDS; i++)
        doomed_round(i, &third[i]);
    fprintf(stderr, "    %d waiters killed with a handed turn unclaimed:\n", DOOMED_ROUNDS);
    print_times("the participant behind took it over", third, DOOMED_ROUNDS);
}

int main(void)
{
    srand((unsigned)getpid());
    /* Our doorbell writes to a dead participant's FIFO must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (!death_watch_available()) {
        fprintf(stderr, "  no pidfds: skipped\n");
        return TEST_SKIP;
    }
    RUN(test_a_releaser_killed_handing_over_leaves_the_turn_to_its_waiter);
    RUN(test_a_waiter_killed_before_claiming_its_handed_turn_is_taken_over);
    return 0;
}

/* tests/c/test_waiter.c — the waiter's steps as event loops drive them: held, sleep, again, cancel, poke. */
#include <poll.h>

#include "ipo/format.h"
#include "ipo/queue.h"
#include "procs.h"
#include "task.h"

static uint64_t sleepers_in_word(const ipo_region_t *r)
{
    return (ipo_atomic_load_acquire(&r->hdr->access) & IPO_ACCESS_SLEEPER_MASK) / IPO_ACCESS_SLEEPER_ONE;
}

/* Until the word counts `n` sleepers, within the bound. */
static void wait_for_sleepers(const ipo_region_t *r, uint64_t n)
{
    int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
    while (sleepers_in_word(r) != n) {
        ASSERT(ipo_now_ns() < until);
        usleep(100);
    }
}

/* Polls the waiter's descriptors as an event loop would: 1 when one is
 * readable within ms. */
static int readable_within(ipo_waiter_t *w, int ms)
{
    int fds[IPO_WAITER_FDS];
    ASSERT_OK(ipo_waiter_fds(w, fds));
    struct pollfd pfd[IPO_WAITER_FDS];
    for (int i = 0; i < IPO_WAITER_FDS; i++)
        pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN, .revents = 0 };
    return poll(pfd, IPO_WAITER_FDS, ms) > 0;
}

/* Without contention a start takes access at once; a wait for messages
 * with none queued sleeps; a bad set of bits is refused. */
static void test_steps_without_contention(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "steps");
    ipo_waker_t k;
    ASSERT_OK(ipo_waker_init(&k, &r));
    ipo_waiter_t w;
    ipo_waiter_init(&w, &k);
    ASSERT_EQ(ipo_waiter_start(&w, 0, 0, 0), -IPO_EINVAL);
    ASSERT_EQ(ipo_waiter_start(&w, 8, 0, 0), -IPO_EINVAL);

    ASSERT_EQ(ipo_waiter_start(&w, IPO_WAIT_FOR_ACCESS, 0, 0), IPO_WAIT_HELD);
    ASSERT(ipo_access_held(&r));
    ASSERT_UEQ(w.what, 0);
    ASSERT_EQ(w.sleeper.efd, -1); /* a wait that never slept made no eventfd */
    ipo_handoff_release(&k);

    /* Messages: none queued, so it sleeps, registered once. */
    ASSERT_EQ(ipo_waiter_start(&w, IPO_WAIT_FOR_MESSAGES, 0, 1000), IPO_WAIT_SLEEP);
    ASSERT_EQ(sleepers_in_word(&r), 1);
    ASSERT(!readable_within(&w, 0));
    /* A message put by this process: its release rings our own doorbell. */
    ASSERT(ipo_handoff_try(&k, 0));
    ipo_off_t off;
    ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, 7, &off));
    ASSERT_OK(ipo_queue_put(&r, off));
    ipo_handoff_release(&k);
    ASSERT(readable_within(&w, 20000));
    ASSERT_EQ(ipo_waiter_readable(&w), IPO_WAIT_HELD);
    ASSERT(ipo_access_held(&r));
    ASSERT_EQ(sleepers_in_word(&r), 0);
    ASSERT_OK(ipo_queue_take(&r, &off));
    ipo_handoff_release(&k);

    /* A poke makes an idle waiter's descriptors readable; readable() says
     * look again, and reads it away (level-triggered loops stop seeing it). */
    ipo_waiter_poke(&w);
    ASSERT(readable_within(&w, 0));
    ASSERT_EQ(ipo_waiter_readable(&w), IPO_WAIT_AGAIN);
    ASSERT(!readable_within(&w, 0));

    ipo_waiter_fini(&w);
    ipo_waker_fini(&k);
    ipo_region_unmap(&r);
}

/* The event-loop case the design hinges on: a waiter for access is rung
 * (it is the oldest), then, instead of trying, does `then` in its child
 * process, which never waits for access again. A younger sleeper, which has
 * no periodic wake, must still get its turn: the ring was passed on. */
static void rung_then(const char *what, void (*then)(ipo_region_t *, ipo_waiter_t *))
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), what);
    ipo_waker_t k;
    ASSERT_OK(ipo_waker_init(&k, &r));
    ASSERT(ipo_access_try_acquire(&r));
    pid_t pids[2];
    /* The oldest waiter: an event loop, driven by hand. */
    pids[0] = fork();
    ASSERT(pids[0] >= 0);
    if (pids[0] == 0) {
        ipo_region_t c;
        ipo_waker_t ck;
        attach_or_exit(name, &c, &ck);
        ipo_waiter_t w;
        ipo_waiter_init(&w, &ck);
        if (ipo_waiter_start(&w, IPO_WAIT_FOR_ACCESS, 0, 0) != IPO_WAIT_SLEEP)
            _exit(2);
        if (!readable_within(&w, 20000)) /* rung */
            _exit(3);
        then(&c, &w);
        if (ipo_access_held(&c))
            _exit(4);
        ipo_waiter_fini(&w);
        ipo_waker_fini(&ck);
        ipo_region_unmap(&c);
        _exit(0);
    }
    wait_for_sleepers(&r, 1);
    pids[1] = fork_one_turn(name);
    wait_for_sleepers(&r, 2);
    ipo_handoff_release(&k);
    wait_children(pids, 2);
    ASSERT_EQ(sleepers_in_word(&r), 0);
    ASSERT(!ipo_access_held(&r));
    ipo_waker_fini(&k);
    ipo_region_unmap(&r);
}

static void cancel(ipo_region_t *c, ipo_waiter_t *w)
{
    (void)c;
    ipo_waiter_cancel(w); /* a coroutine cancelled, a watcher stopped */
}

/* Now only a change matters (as when the asyncio manager's coroutine that
 * wanted the turn is cancelled while another waits for a change), counted
 * from now: the younger process's leaving, after its turn, ends it. */
static void wait_for_a_change_instead(ipo_region_t *c, ipo_waiter_t *w)
{
    uint64_t since = ipo_change_count(c);
    int step = ipo_waiter_start(w, IPO_WAIT_FOR_CHANGE, since, 0);
    while (step == IPO_WAIT_SLEEP) {
        if (!readable_within(w, 20000))
            _exit(5);
        step = ipo_waiter_readable(w);
    }
    if (step != IPO_WAIT_AGAIN || ipo_change_count(c) == since)
        _exit(6);
}

/* The process closes its doorbell (ipo_waker_fini) with the rung waiter
 * still registered, as closing a region under an event loop does. */
static void close_without_cancelling(ipo_region_t *c, ipo_waiter_t *w)
{
    ipo_waker_fini(w->waker);
    ipo_region_detach(c);
    _exit(0);
}

static void test_rung_then_cancelled_passes_the_turn_on(void)
{
    rung_then("cancel", cancel);
}

static void test_rung_then_closed_passes_the_turn_on(void)
{
    rung_then("close", close_without_cancelling);
}

static void test_changing_what_passes_the_turn_on(void)
{
    rung_then("change", wait_for_a_change_instead);
}

/* The blocking driver: cut short at wake_by (-IPO_EINTR) it keeps its
 * registration, and the same waiter goes on to take access; at the
 * deadline (-IPO_ETIMEDOUT) it leaves the word. */
static void test_blocking_wait_in_slices(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "slices");
    ipo_waker_t k;
    ASSERT_OK(ipo_waker_init(&k, &r));
    ASSERT(ipo_access_try_acquire(&r));
    int go[2];
    ASSERT_EQ(pipe(go), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t c;
        ipo_waker_t ck;
        attach_or_exit(name, &c, &ck);
        ipo_waiter_t w;
        ipo_waiter_init(&w, &ck);
        /* Timed out: nothing of the wait is left in the word. */
        int rc = ipo_waiter_wait(&w, IPO_WAIT_FOR_ACCESS, 0, ipo_now_ns() + 2000000, -1, 0);
        if (rc != -IPO_ETIMEDOUT || w.what != 0 || w.sleeper.what != 0)
            _exit(3);
        /* Slices of 1 ms until the parent releases. */
        int slices = 0;
        char byte = 1;
        for (;;) {
            rc = ipo_waiter_wait(&w, IPO_WAIT_FOR_ACCESS, 0, ipo_now_ns() + WAIT_BOUND_NS,
                                 ipo_now_ns() + 1000000, 0);
            if (rc == 0)
                break;
            if (rc != -IPO_EINTR || w.sleeper.what != IPO_WAIT_FOR_ACCESS)
                _exit(4);
            if (++slices == 3 && write(go[1], &byte, 1) != 1) /* now let go */
                _exit(5);
        }
        if (!ipo_access_held(&c) || slices < 3)
            _exit(6);
        ipo_handoff_release(&ck);
        ipo_waiter_fini(&w);
        ipo_waker_fini(&ck);
        ipo_region_unmap(&c);
        _exit(0);
    }
    char byte;
    ASSERT_EQ(read(go[0], &byte, 1), 1);
    ASSERT_EQ(sleepers_in_word(&r), 1); /* still registered between slices */
    ipo_handoff_release(&k);
    wait_children(&pid, 1);
    ASSERT_EQ(sleepers_in_word(&r), 0);
    close(go[0]);
    close(go[1]);
    ipo_waker_fini(&k);
    ipo_region_unmap(&r);
}

/* Two waiters of one process (a thread and an event loop) share its
 * doorbell: a ring one of them reads reaches the other through its
 * eventfd. Here the loop's waiter waits for messages and the "thread"
 * waits for access; the releaser's one ring for the slot wakes both. */
static void test_two_waiters_share_a_doorbell(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "share");
    ipo_waker_t k;
    ASSERT_OK(ipo_waker_init(&k, &r));
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t c;
        ipo_waker_t ck;
        attach_or_exit(name, &c, &ck);
        ipo_waiter_t loop_w, thread_w;
        ipo_waiter_init(&loop_w, &ck);
        ipo_waiter_init(&thread_w, &ck);
        ASSERT(ipo_access_try_acquire(&c)); /* hold, so that both sleep */
        if (ipo_waiter_start(&loop_w, IPO_WAIT_FOR_MESSAGES, 0, 0) != IPO_WAIT_SLEEP ||
            ipo_waiter_start(&thread_w, IPO_WAIT_FOR_ACCESS, 0, 0) != IPO_WAIT_SLEEP)
            _exit(3);
        /* Put a message and release: the one ring for our slot is read by
         * whichever waiter looks first; both must wake. */
        ipo_off_t off;
        if (ipo_obj_new_scalar(&c, IPO_T_INT64, 1, &off) || ipo_queue_put(&c, off))
            _exit(4);
        ipo_handoff_release(&ck);
        if (!readable_within(&loop_w, 20000))
            _exit(5);
        if (ipo_waiter_readable(&loop_w) != IPO_WAIT_HELD) /* reads the doorbell */
            _exit(6);
        /* The thread's waiter learns through its eventfd. */
        if (!readable_within(&thread_w, 20000))
            _exit(7);
        if (ipo_waiter_readable(&thread_w) != IPO_WAIT_SLEEP) /* access is the loop's */
            _exit(8);
        ipo_handoff_release(&ck);
        /* Our own release rang our own slot: the thread gets its turn. */
        if (!readable_within(&thread_w, 20000) || ipo_waiter_readable(&thread_w) != IPO_WAIT_HELD)
            _exit(9);
        ipo_handoff_release(&ck);
        ipo_waiter_fini(&loop_w);
        ipo_waiter_fini(&thread_w);
        ipo_waker_fini(&ck);
        ipo_region_unmap(&c);
        _exit(0);
    }
    wait_children(&pid, 1);
    ASSERT_EQ(sleepers_in_word(&r), 0);
    ipo_waker_fini(&k);
    ipo_region_unmap(&r);
}

/* The access word counts sleepers in 16 bits: a process may have at most
 * IPO_WAITERS_MAX waiters registered, and one more is refused, cleanly. */
static void test_waiters_of_one_process_are_bounded(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "many");
    ipo_waker_t k;
    ASSERT_OK(ipo_waker_init(&k, &r));
    ASSERT(ipo_access_try_acquire(&r)); /* held: every waiter sleeps */
    static ipo_waiter_t w[IPO_WAITERS_MAX + 1];
    for (uint32_t i = 0; i < IPO_WAITERS_MAX; i++) {
        ipo_waiter_init(&w[i], &k);
        ASSERT_EQ(ipo_waiter_start(&w[i], IPO_WAIT_FOR_ACCESS, 0, 0), IPO_WAIT_SLEEP);
    }
    ASSERT_EQ(sleepers_in_word(&r), IPO_WAITERS_MAX);
    ipo_waiter_t *extra = &w[IPO_WAITERS_MAX];
    ipo_waiter_init(extra, &k);
    ASSERT_EQ(ipo_waiter_start(extra, IPO_WAIT_FOR_ACCESS, 0, 0), -IPO_EFULL);
    ASSERT_UEQ(extra->what, 0); /* cancelled, not half-registered */
    ASSERT_EQ(sleepers_in_word(&r), IPO_WAITERS_MAX);
    for (uint32_t i = 0; i <= IPO_WAITERS_MAX; i++)
        ipo_waiter_fini(&w[i]);
    ASSERT_EQ(sleepers_in_word(&r), 0);
    ipo_handoff_release(&k);
    ipo_waker_fini(&k);
    ipo_region_unmap(&r);
}

int main(void)
{
    srand((unsigned)getpid());
    RUN(test_steps_without_contention);
    RUN(test_rung_then_cancelled_passes_the_turn_on);
    RUN(test_rung_then_closed_passes_the_turn_on);
    RUN(test_changing_what_passes_the_turn_on);
    RUN(test_blocking_wait_in_slices);
    RUN(test_two_waiters_share_a_doorbell);
    RUN(test_waiters_of_one_process_are_bounded);
    return 0;
}

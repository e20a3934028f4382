/* tests/c/test_handoff.c — no lost wakeup: processes that sleep on doorbells for access and messages. */
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "ipo/format.h"
#include "ipo/recover.h"
#include "ipo/waiter.h"
#include "ipo/queue.h"
#include "procs.h"
#include "task.h"

/* Processes take turns a million times in all; half of them never spin, so
 * every contended wait sleeps on the doorbell. The counter is updated with a
 * plain read-modify-write under access: a lost update would show. */
static void test_million_handoffs(void)
{
    enum { PROCS = 4, ROUNDS = 250000 };
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "handoff");
    ipo_off_t counter;
    ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, 0, &counter));

    pid_t pids[PROCS];
    start_line_t line;
    start_line_init(&line);
    int64_t start = ipo_now_ns();
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ASSERT(pids[p] >= 0);
        if (pids[p] == 0) {
            ipo_region_t c;
            ipo_waker_t w;
            attach_or_exit(name, &c, &w);
            start_line_wait(&line);
            ipo_obj_t *obj = (ipo_obj_t *)(c.base + counter);
            int64_t spin = (p & 1) ? 2000 : 0;
            for (int i = 0; i < ROUNDS; i++) {
                int rc = ipo_handoff_acquire(&w, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, spin);
                if (rc) {
                    fprintf(stderr, "process %d round %d: %s\n", p, i, ipo_strerror(rc));
                    _exit(3);
                }
                obj->v.i64 = obj->v.i64 + 1;
                for (int k = 0; k < 300; k++) /* hold a little: others find it taken */
                    ipo_cpu_relax();
                ipo_handoff_release(&w);
                for (int k = 0; k < 50; k++) /* and leave a gap: others get in */
                    ipo_cpu_relax();
            }
            ipo_waker_fini(&w);
            ipo_region_unmap(&c);
            _exit(0);
        }
    }
    start_line_go(&line);
    wait_children(pids, PROCS);
    fprintf(stderr, "    %d handoffs in %.2f s\n", PROCS * ROUNDS, (double)(ipo_now_ns() - start) / 1e9);
    const ipo_obj_t *obj;
    ASSERT_OK(ipo_obj_get(&r, counter, &obj));
    ASSERT_EQ(obj->v.i64, (int64_t)PROCS * ROUNDS);
    uint64_t word = r.hdr->access;
    ASSERT_UEQ(word & IPO_ACCESS_OWNER_MASK, 0);
    ASSERT_UEQ(word & IPO_ACCESS_SLEEPER_MASK, 0); /* every sleeper left */
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ipo_region_unmap(&r);
}

/* A producer puts one message per turn; consumers sleep until a message is
 * there. Every message is taken once; nobody sleeps through one. */
static void test_waiting_for_messages(void)
{
    enum { CONSUMERS = 3, MESSAGES = 60000 };
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "messages");
    ipo_waker_t pw;
    ASSERT_OK(ipo_waker_init(&pw, &r));
    int counts[2];
    ASSERT_EQ(pipe(counts), 0);

    pid_t pids[CONSUMERS];
    start_line_t line;
    start_line_init(&line);
    for (int p = 0; p < CONSUMERS; p++) {
        pids[p] = fork();
        ASSERT(pids[p] >= 0);
        if (pids[p] == 0) {
            ipo_region_t c;
            ipo_waker_t w;
            attach_or_exit(name, &c, &w);
            start_line_wait(&line);
            int64_t taken = 0;
            for (;;) {
                int rc = ipo_handoff_acquire(&w, IPO_WAIT_FOR_MESSAGES, ipo_now_ns() + WAIT_BOUND_NS, -1, 0);
                if (rc) {
                    fprintf(stderr, "consumer %d after %lld: %s\n", p, (long long)taken, ipo_strerror(rc));
                    _exit(3);
                }
                ipo_off_t off;
                const ipo_obj_t *obj;
                if (ipo_queue_take(&c, &off) || ipo_obj_get(&c, off, &obj))
                    _exit(4);
                int64_t value = obj->v.i64;
                ipo_obj_destroy(&c, off);
                ipo_handoff_release(&w);
                if (value < 0)
                    break; /* the end marker */
                taken++;
            }
            if (write(counts[1], &taken, sizeof(taken)) != (ssize_t)sizeof(taken))
                _exit(5);
            ipo_waker_fini(&w);
            ipo_region_unmap(&c);
            _exit(0);
        }
    }
    start_line_go(&line);
    for (int i = 0; i < MESSAGES + CONSUMERS; i++) {
        ASSERT_OK(ipo_handoff_acquire(&pw, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 1000));
        ipo_off_t off;
        ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, i < MESSAGES ? (uint64_t)i : UINT64_MAX, &off));
        ASSERT_OK(ipo_queue_put(&r, off));
        ipo_handoff_release(&pw);
    }
    wait_children(pids, CONSUMERS);
    int64_t total = 0;
    for (int p = 0; p < CONSUMERS; p++) {
        int64_t taken;
        ASSERT_EQ(read(counts[0], &taken, sizeof(taken)), (ssize_t)sizeof(taken));
        total += taken;
    }
    ASSERT_EQ(total, MESSAGES);
    ASSERT_UEQ(ipo_queue_length(&r), 0);
    ASSERT_UEQ(r.hdr->access & IPO_ACCESS_SLEEPER_MASK, 0);
    close(counts[0]);
    close(counts[1]);
    ipo_waker_fini(&pw);
    ipo_region_unmap(&r);
}

/* A waiter for a change sleeps through turns that change nothing, and
 * wakes for one that does (a message put), and for a participant leaving. */
static void test_waiting_for_a_change(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "change");
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    int go[2], done[2];
    ASSERT_EQ(pipe(go), 0);
    ASSERT_EQ(pipe(done), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t c;
        ipo_waker_t cw;
        attach_or_exit(name, &c, &cw);
        char byte = 0;
        /* A turn that changes nothing, then one that puts a message. */
        if (read(go[0], &byte, 1) != 1 ||
            ipo_handoff_acquire(&cw, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 0))
            _exit(2);
        ipo_handoff_release(&cw);
        if (write(done[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 1 ||
            ipo_handoff_acquire(&cw, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 0))
            _exit(3);
        ipo_off_t off;
        if (ipo_obj_new_scalar(&c, IPO_T_INT64, 1, &off) || ipo_queue_put(&c, off))
            _exit(4);
        ipo_handoff_release(&cw);
        /* Then leave, when told. */
        if (read(go[0], &byte, 1) != 1)
            _exit(5);
        ipo_waker_fini(&cw);
        ipo_region_unmap(&c);
        _exit(0);
    }
    uint64_t since = ipo_change_count(&r);
    ipo_waiter_t wt;
    ipo_waiter_init(&wt, &w);
    ASSERT_EQ(ipo_waiter_start(&wt, IPO_WAIT_FOR_CHANGE, since, 0), IPO_WAIT_SLEEP);
    /* Again, with the same wait: still asleep, registered once. */
    ASSERT_EQ(ipo_waiter_start(&wt, IPO_WAIT_FOR_CHANGE, since, 0), IPO_WAIT_SLEEP);
    ASSERT_UEQ((r.hdr->access & IPO_ACCESS_SLEEPER_MASK) / IPO_ACCESS_SLEEPER_ONE, 1);
    struct pollfd pfd = { .fd = ipo_notify_fd(&w.bell), .events = POLLIN, .revents = 0 };
    char byte = 1;
    uint64_t turns = ipo_access_count(&r);
    ASSERT_EQ(write(go[1], &byte, 1), 1);
    ASSERT_EQ(read(done[0], &byte, 1), 1);
    /* The turn was taken, and rang nobody waiting for a change. */
    ASSERT(ipo_access_count(&r) != turns);
    ASSERT_UEQ(ipo_change_count(&r), since);
    ASSERT_EQ(poll(&pfd, 1, 0), 0);
    ASSERT_EQ(write(go[1], &byte, 1), 1);
    ASSERT_EQ(poll(&pfd, 1, 20000), 1);
    ASSERT_EQ(ipo_waiter_readable(&wt), IPO_WAIT_AGAIN);
    ASSERT(ipo_change_count(&r) != since);
    ASSERT(!ipo_access_held(&r));
    /* Nothing to wait for once the count moved. */
    ASSERT_EQ(ipo_waiter_start(&wt, IPO_WAIT_FOR_CHANGE, since, 0), IPO_WAIT_AGAIN);
    /* From the new count: the peer's leaving ends the wait. */
    since = ipo_change_count(&r);
    ASSERT_EQ(ipo_waiter_start(&wt, IPO_WAIT_FOR_CHANGE, since, 0), IPO_WAIT_SLEEP);
    ASSERT_EQ(write(go[1], &byte, 1), 1);
    ASSERT_EQ(poll(&pfd, 1, 20000), 1);
    ASSERT_EQ(ipo_waiter_readable(&wt), IPO_WAIT_AGAIN);
    wait_children(&pid, 1);
    ASSERT(!ipo_region_peers_alive(&r));
    ASSERT_UEQ(r.hdr->access & IPO_ACCESS_SLEEPER_MASK, 0);
    for (int i = 0; i < 2; i++) {
        close(go[i]);
        close(done[i]);
    }
    ipo_waiter_fini(&wt);
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

/* Sleepers for access are let in oldest first: three processes fall asleep
 * one after another while access is held; each records when it got in.
 * They stay alive until all got in: a process that exits wakes the others
 * through their death watch, and a waiter so woken may take a free turn
 * before the older one that was rung (fair order is for rings). */
static void test_oldest_sleeper_goes_first(void)
{
    enum { SLEEPERS = 3 };
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "fair");
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    ipo_off_t order_obj;
    void *data;
    ASSERT_OK(ipo_obj_new(&r, IPO_T_BYTES, 64, &order_obj, &data));
    memset(data, 0, 64);
    ASSERT(ipo_access_try_acquire(&r));
    int stay[2];
    ASSERT_EQ(pipe(stay), 0);

    pid_t pids[SLEEPERS];
    for (int p = 0; p < SLEEPERS; p++) {
        pids[p] = fork();
        ASSERT(pids[p] >= 0);
        if (pids[p] == 0) {
            ipo_region_t c;
            ipo_waker_t cw;
            attach_or_exit(name, &c, &cw);
            if (ipo_handoff_acquire(&cw, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 0))
                _exit(3);
            uint8_t *order = (uint8_t *)c.base + order_obj + sizeof(ipo_obj_t);
            order[order[0] + 1] = (uint8_t)(p + 1); /* order[0] counts arrivals */
            order[0]++;
            ipo_handoff_release(&cw);
            char b;
            close(stay[1]);
            if (read(stay[0], &b, 1) != 0) /* end-of-file: every one got in */
                _exit(4);
            ipo_waker_fini(&cw);
            ipo_region_unmap(&c);
            _exit(0);
        }
        /* Wait until this one sleeps before starting the next. */
        int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
        while (((ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_SLEEPER_MASK) >> 16) != (uint64_t)p + 1) {
            ASSERT(ipo_now_ns() < until);
            ipo_cpu_relax();
        }
    }
    ipo_handoff_release(&w);
    const uint8_t *order = (const uint8_t *)data;
    int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
    while (ipo_atomic_load_acquire(&order[0]) != SLEEPERS) {
        ASSERT(ipo_now_ns() < until);
        ipo_cpu_relax();
    }
    close(stay[0]);
    close(stay[1]);
    wait_children(pids, SLEEPERS);
    ASSERT_EQ(order[0], SLEEPERS);
    for (int p = 0; p < SLEEPERS; p++)
        ASSERT_EQ(order[p + 1], p + 1);
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

/* A child that sleeps for access (no spin), is rung, and finds the turn
 * taken: it is due (the line names it). The parent holds access
 * throughout. */
static pid_t child_due(ipo_region_t *r, ipo_waker_t *w, const char *name, int held_fd, int go_fd)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t c;
        ipo_waker_t ck;
        attach_or_exit(name, &c, &ck);
        if (ipo_handoff_acquire(&ck, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 0))
            _exit(3);
        char b = 'h';
        if (write(held_fd, &b, 1) != 1 || read(go_fd, &b, 1) != 1)
            _exit(4);
        ipo_handoff_release(&ck);
        ipo_waker_fini(&ck);
        ipo_region_unmap(&c);
        _exit(0);
    }
    int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
    while (!(ipo_atomic_load_acquire(&r->hdr->access) & IPO_ACCESS_SLEEPER_MASK)) {
        ASSERT(ipo_now_ns() < until);
        ipo_cpu_relax();
    }
    /* What a release that the releaser took back at once does, made
     * deterministic: put the child on the line and ring it while we hold
     * the turn; it wakes, finds the turn taken, and is due. */
    uint32_t i = 0;
    while (i < r->slot_count && (i == r->slot || !(ipo_atomic_load_acquire(&r->slots[i].waiting_for) &
                                                  IPO_WAIT_FOR_ACCESS)))
        i++;
    ASSERT(i < r->slot_count);
    ipo_atomic_store_release(&r->hdr->line, i + 1);
    int fd = ipo_notify_open_peer(r->inode, i, ipo_atomic_load_acquire(&r->slots[i].generation));
    ASSERT(fd >= 0);
    ASSERT(ipo_notify_ring(fd) >= 0);
    close(fd);
    (void)w;
    /* Due, and asleep again (registered). */
    while (!((ipo_atomic_load_acquire(&r->hdr->line) & IPO_LINE_DUE) &&
             (ipo_atomic_load_acquire(&r->hdr->access) & IPO_ACCESS_SLEEPER_MASK))) {
        ASSERT(ipo_now_ns() < until);
        ipo_cpu_relax();
    }
    return pid;
}

/* The starvation the handoff ends: a waiter rung for a turn that the
 * releaser took back before it arrived is handed the next one; the
 * releaser cannot barge in again. */
static void test_a_waiter_that_lost_the_race_is_handed_the_next_turn(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "handed");
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    ASSERT(ipo_access_try_acquire(&r));
    int held[2], go[2];
    ASSERT_EQ(pipe(held), 0);
    ASSERT_EQ(pipe(go), 0);
    pid_t pid = child_due(&r, &w, name, held[1], go[0]);
    uint64_t due_slot = ipo_atomic_load_acquire(&r.hdr->line) & IPO_LINE_SLOT_MASK;
    ipo_handoff_release(&w);
    /* Handed (or claimed already): not free for us. */
    uint64_t owner = ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_OWNER_MASK;
    ASSERT_UEQ(owner & IPO_ACCESS_SLOT_MASK, due_slot);
    ASSERT(!ipo_access_try_acquire(&r));
    char b;
    ASSERT_EQ(read(held[0], &b, 1), 1); /* the child holds its turn */
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_OWNER_MASK, due_slot);
    ASSERT_EQ(write(go[1], "g", 1), 1);
    wait_children(&pid, 1);
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_OWNER_MASK, 0);
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->line), 0);
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

/* A turn handed to a waiter that dies before it claims it (stopped, then
 * killed) is taken over by the next waiter, as a dead holder's: the death
 * watch wakes it, and the slot is not given to an attacher meanwhile. */
static void test_a_turn_handed_to_a_waiter_that_died_is_taken_over(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "handed-dead");
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    ASSERT(ipo_access_try_acquire(&r));
    int held[2], go[2];
    ASSERT_EQ(pipe(held), 0);
    ASSERT_EQ(pipe(go), 0);
    pid_t pid = child_due(&r, &w, name, held[1], go[0]);
    uint64_t due_slot = ipo_atomic_load_acquire(&r.hdr->line) & IPO_LINE_SLOT_MASK;
    /* Stopped for sure, and while registered (asleep, due): it may have
     * been between reading the ring and registering again. */
    int status;
    int64_t until0 = ipo_now_ns() + WAIT_BOUND_NS;
    for (;;) {
        ASSERT_EQ(kill(pid, SIGSTOP), 0);
        ASSERT_EQ(waitpid(pid, &status, WUNTRACED), pid);
        ASSERT(WIFSTOPPED(status));
        if ((ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_SLEEPER_MASK) &&
            (ipo_atomic_load_acquire(&r.hdr->line) & IPO_LINE_DUE))
            break;
        ASSERT_EQ(kill(pid, SIGCONT), 0);
        ASSERT(ipo_now_ns() < until0);
        sched_yield(); /* let it run on, into its sleep */
    }
    ipo_handoff_release(&w);
    /* Handed to the stopped child, which cannot claim it. */
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_OWNER_MASK,
               IPO_ACCESS_HANDED | due_slot);
    pid_t next = fork_one_turn(name);
    int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
    while (((ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_SLEEPER_MASK) >> 16) < 2) {
        ASSERT(ipo_now_ns() < until);
        ipo_cpu_relax();
    }
    uint64_t takeovers = ipo_region_takeovers(&r);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    wait_children(&next, 1); /* it took the turn over, and released it */
    ASSERT_UEQ(ipo_region_takeovers(&r), takeovers + 1);
    ASSERT(ipo_access_try_acquire(&r));
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ipo_handoff_release(&w);
    close(held[0]);
    close(held[1]);
    close(go[0]);
    close(go[1]);
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

/* The slot of the one participant other than ours that waits for access. */
static uint32_t waiting_slot(const ipo_region_t *r)
{
    uint32_t i = 0;
    while (i < r->slot_count && (i == r->slot || !(ipo_atomic_load_acquire(&r->slots[i].waiting_for) &
                                                  IPO_WAIT_FOR_ACCESS)))
        i++;
    ASSERT(i < r->slot_count);
    return i;
}

/* Forks a one-turn child (fork_one_turn), waits (bounded) until it sleeps
 * registered for access, and stops it, so that, rung, it cannot come back.
 * Its slot in *slot. Called holding access. */
static pid_t fork_stopped_sleeper(ipo_region_t *r, const char *name, uint32_t *slot)
{
    pid_t pid = fork_one_turn(name);
    int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
    while (!(ipo_atomic_load_acquire(&r->hdr->access) & IPO_ACCESS_SLEEPER_MASK)) {
        ASSERT(ipo_now_ns() < until);
        ipo_cpu_relax();
    }
    *slot = waiting_slot(r);
    int status;
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    ASSERT_EQ(waitpid(pid, &status, WUNTRACED), pid);
    ASSERT(WIFSTOPPED(status));
    return pid;
}

/* A rung waiter not back within a millisecond or so (a tick of the coarse
 * clock) no longer holds the line (handoff.c's stale line: the stamp,
 * coarse ms, in bits 18-31): a test whose process is kept off the CPU that
 * long by a loaded machine, or whose loop passes a tick, stamps the line afresh
 * while it still names the waiter, as a releaser ringing it again would,
 * so that what it asserts does not hang on the scheduler. Called holding
 * access. */
static void keep_line_fresh(ipo_region_t *r, uint32_t slot)
{
    uint32_t cur = ipo_atomic_load_acquire(&r->hdr->line);
    if ((cur & IPO_LINE_SLOT_MASK) != slot + 1 || (cur & IPO_LINE_DUE))
        return;
    uint32_t stamp = (uint32_t)(ipo_coarse_now_ns() / 1000000) & 0x3fffu;
    uint32_t next = (cur & ((1u << 18) - 1)) | (stamp << 18);
    ipo_atomic_cas_acq_rel(&r->hdr->line, &cur, next);
}

/* The stale line: a rung waiter not back after a tick of the coarse clock
 * (here: stopped, its stamp set 3 ms back, as a clock that ticked would
 * leave it) no longer keeps the next release from ringing the next
 * sleeper; back, it takes its turn all the same. With the line held until
 * the rung waiter came back (or for 50 ms, as before), the second sleeper
 * would not be rung, and would fail its bounded wait. */
static void test_a_rung_waiter_not_back_after_a_tick_lets_the_next_be_rung(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "stale-line");
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    ASSERT(ipo_access_try_acquire(&r));
    uint32_t stopped;
    pid_t first = fork_stopped_sleeper(&r, name, &stopped);
    int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
    pid_t second = fork_one_turn(name);
    while (((ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_SLEEPER_MASK) >> 16) < 2) {
        ASSERT(ipo_now_ns() < until);
        ipo_cpu_relax();
    }
    /* The oldest is rung and put on the line; it cannot come back. */
    ipo_handoff_release(&w);
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->line) & IPO_LINE_SLOT_MASK, stopped + 1);
    ASSERT(ipo_handoff_try(&w, 0));
    uint32_t cur = ipo_atomic_load_acquire(&r.hdr->line);
    ASSERT_UEQ(cur & (IPO_LINE_SLOT_MASK | IPO_LINE_DUE), stopped + 1);
    uint32_t back = (((cur >> 18) - 3u) & 0x3fffu) << 18;
    ASSERT(ipo_atomic_cas_acq_rel(&r.hdr->line, &cur, (cur & ((1u << 18) - 1)) | back));
    /* This release rings the second sleeper, which takes its turn and
     * exits; then the first, let go on, takes its own. */
    ipo_handoff_release(&w);
    wait_children(&second, 1);
    ASSERT_EQ(kill(first, SIGCONT), 0);
    wait_children(&first, 1);
    ASSERT(ipo_access_try_acquire(&r));
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_SLEEPER_MASK, 0);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ipo_handoff_release(&w);
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

/* Rotation: a process taking turns back to back while another sleeps cannot
 * keep the turn past its slice, even while the waiter it rang has not come
 * back (it is stopped here, so that it cannot become due): the turn is
 * handed to that waiter, whom the holder's tries cannot rob, and the
 * holder's next wait sleeps behind it. The run is bounded by a count of
 * turns only through its slice, so the test bounds it by WAIT_BOUND_NS (a
 * failure, not a measurement) and asserts where the turn went. */
static void test_a_run_of_turns_ends_by_handing_the_turn_to_the_waiter_rung(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "rotation");
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    ASSERT(ipo_access_try_acquire(&r));
    uint32_t child;
    pid_t pid = fork_stopped_sleeper(&r, name, &child);
    int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
    /* The release rings it (the line names it); the turn is free, and taken
     * back at once, again and again. */
    ipo_handoff_release(&w);
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->line) & IPO_LINE_SLOT_MASK, child + 1);
    uint64_t turns = 0;
    while (ipo_handoff_try(&w, 0)) {
        turns++;
        if (!(turns & 1023)) {
            ASSERT(ipo_now_ns() < until);
            keep_line_fresh(&r, child);
        }
        ipo_handoff_release(&w);
    }
    fprintf(stderr, "    the run ended after %llu turns\n", (unsigned long long)turns);
    ASSERT(turns >= 16); /* the clock is read once per 16 releases: a slice is not shorter */
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_OWNER_MASK,
               IPO_ACCESS_HANDED | (child + 1));
    ASSERT(!ipo_access_try_acquire(&r));
    ASSERT(!ipo_access_held(&r));
    /* Our next wait sleeps (behind the waiter); the waiter, let go on,
     * claims its turn and releases it, which rings us. */
    ipo_waiter_t wt;
    ipo_waiter_init(&wt, &w);
    ASSERT_EQ(ipo_waiter_start(&wt, IPO_WAIT_FOR_ACCESS, 0, 0), IPO_WAIT_SLEEP);
    ASSERT_EQ(kill(pid, SIGCONT), 0);
    wait_children(&pid, 1);
    int rc = IPO_WAIT_SLEEP;
    while (rc == IPO_WAIT_SLEEP) {
        struct pollfd pfd = { .fd = ipo_notify_fd(&w.bell), .events = POLLIN, .revents = 0 };
        ASSERT_EQ(poll(&pfd, 1, 20000), 1);
        rc = ipo_waiter_readable(&wt);
    }
    ASSERT_EQ(rc, IPO_WAIT_HELD);
    ASSERT(ipo_access_held(&r));
    ipo_handoff_release(&w);
    ipo_waiter_fini(&wt);
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->access) & (IPO_ACCESS_OWNER_MASK | IPO_ACCESS_SLEEPER_MASK), 0);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

/* Rotation and deaths: the waiter rung dies before it comes back (stopped,
 * then killed, its ring pending): the holder's run ends all the same and
 * hands it the turn, which the holder's own next wait then takes over from
 * the dead, as a dead holder's. */
static void test_a_turn_handed_by_rotation_to_a_waiter_that_died_is_taken_over(void)
{
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "rotation-dead");
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    ASSERT(ipo_access_try_acquire(&r));
    uint32_t child;
    pid_t pid = fork_stopped_sleeper(&r, name, &child);
    int64_t until = ipo_now_ns() + WAIT_BOUND_NS;
    ipo_handoff_release(&w); /* rings it: on the line, its ring pending */
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->line) & IPO_LINE_SLOT_MASK, child + 1);
    ASSERT(ipo_handoff_try(&w, 0));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status));
    uint64_t takeovers = ipo_region_takeovers(&r);
    ipo_handoff_release(&w);
    uint64_t turns = 0;
    while (ipo_handoff_try(&w, 0)) {
        turns++;
        if (!(turns & 1023)) {
            ASSERT(ipo_now_ns() < until);
            keep_line_fresh(&r, child);
        }
        ipo_handoff_release(&w);
    }
    /* Handed to the dead (its ring was pending: the handoff's ring found
     * nothing to write), or taken back if the ring found it gone. */
    uint64_t owner = ipo_atomic_load_acquire(&r.hdr->access) & IPO_ACCESS_OWNER_MASK;
    ASSERT_UEQ(owner, IPO_ACCESS_HANDED | (child + 1));
    ASSERT_OK(ipo_handoff_acquire(&w, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 0));
    ASSERT(ipo_access_held(&r));
    ASSERT_UEQ(ipo_region_takeovers(&r), takeovers + 1);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ipo_handoff_release(&w);
    ASSERT_UEQ(ipo_atomic_load_acquire(&r.hdr->access) & (IPO_ACCESS_OWNER_MASK | IPO_ACCESS_SLEEPER_MASK), 0);
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

/* Waiters that come and go (they register, then cancel at once, again and
 * again) are chosen by releases and gone when the releaser looks: wake()
 * chooses again, and stops only when the word is held or nobody sleeps
 * (choose_again() in handoff.c). Meanwhile processes that never spin take
 * their turns asleep: every one of their turns must come, within the
 * bound (a wakeup lost would leave one asleep until the bound). */
static void test_waiters_that_come_and_go_leave_no_sleeper_behind(void)
{
    enum { TAKERS = 2, CHURNERS = 3, TURNS = 20000 };
    char name[64];
    ipo_region_t r;
    create_region(&r, name, sizeof(name), "churn");
    ipo_off_t counter, done;
    ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, 0, &counter));
    ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, 0, &done));
    pid_t pids[TAKERS + CHURNERS];
    start_line_t line;
    start_line_init(&line);
    for (int p = 0; p < TAKERS + CHURNERS; p++) {
        pids[p] = fork();
        ASSERT(pids[p] >= 0);
        if (pids[p] != 0)
            continue;
        ipo_region_t c;
        ipo_waker_t w;
        attach_or_exit(name, &c, &w);
        start_line_wait(&line);
        ipo_obj_t *count = (ipo_obj_t *)(c.base + counter);
        int64_t *finished = &((ipo_obj_t *)(c.base + done))->v.i64;
        if (p < TAKERS) {
            for (int i = 0; i < TURNS; i++) {
                if (ipo_handoff_acquire(&w, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1, 0))
                    _exit(3);
                count->v.i64 = count->v.i64 + 1;
                ipo_handoff_release(&w);
            }
            ipo_atomic_fetch_add_relaxed(finished, 1);
        } else {
            /* Until the takers are done: register (no spin), then leave. */
            while (ipo_atomic_load_relaxed(finished) < TAKERS) {
                ipo_waiter_t q;
                ipo_waiter_init(&q, &w);
                int rc = ipo_waiter_start(&q, IPO_WAIT_FOR_ACCESS, 0, 0);
                if (rc == IPO_WAIT_HELD) {
                    ipo_handoff_release(&w);
                } else if (rc < 0) {
                    _exit(4);
                }
                ipo_waiter_fini(&q); /* cancels a wait still going */
            }
        }
        ipo_waker_fini(&w);
        ipo_region_unmap(&c);
        _exit(0);
    }
    start_line_go(&line);
    wait_children(pids, TAKERS + CHURNERS);
    const ipo_obj_t *obj;
    ASSERT_OK(ipo_obj_get(&r, counter, &obj));
    ASSERT_EQ(obj->v.i64, (int64_t)TAKERS * TURNS);
    uint64_t word = ipo_atomic_load_acquire(&r.hdr->access);
    ASSERT_UEQ(word & IPO_ACCESS_OWNER_MASK, 0);
    ASSERT_UEQ(word & IPO_ACCESS_SLEEPER_MASK, 0);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ipo_region_unmap(&r);
}

int main(void)
{
    srand((unsigned)getpid());
    RUN(test_waiting_for_a_change);
    RUN(test_oldest_sleeper_goes_first);
    RUN(test_a_waiter_that_lost_the_race_is_handed_the_next_turn);
    RUN(test_a_turn_handed_to_a_waiter_that_died_is_taken_over);
    RUN(test_a_rung_waiter_not_back_after_a_tick_lets_the_next_be_rung);
    RUN(test_a_run_of_turns_ends_by_handing_the_turn_to_the_waiter_rung);
    RUN(test_a_turn_handed_by_rotation_to_a_waiter_that_died_is_taken_over);
    RUN(test_waiters_that_come_and_go_leave_no_sleeper_behind);
    RUN(test_waiting_for_messages);
    RUN(test_million_handoffs);
    return 0;
}

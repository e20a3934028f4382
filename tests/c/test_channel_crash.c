/* tests/c/test_channel_crash.c — senders and receivers of a channel killed for real: no published message is lost, torn, repeated or reordered, and the channel goes on. */
/* A sender killed before it publishes loses the slot it was writing and
 * nothing else; a receiver killed before it releases a message has it
 * delivered again to the next receiver, and loses none after it. A killed
 * side is taken over by the next claimer (its liveness lock is free).
 *
 * Each message carries its number, which is its place in the channel (the
 * sender writes ch.tail: a new sender continues where the channel is, not
 * where it counted), at both ends and in every byte between (msg_fill), so
 * a tear, a loss, a repeat or a reordering each fails a check.
 *
 * Built against the crash-point libraries: IPO_CRASH_SITE=channel_send
 * kills a sender between writing its slot (bytes and length) and
 * publishing the tail, the worst place; other kills are SIGKILL at random
 * moments of a stream. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel_msgs.h"
#include "crash_point.h"
#include "ipo/channel.h"
#include "procs.h"
#include "task.h"

#ifndef IPO_CRASH_POINTS
#error "test_channel_crash needs the crash-point build of the libraries (ipo_core_crash)"
#endif

enum {
    SLOTS = 8,
    SLOT = 64 * 1024,
    ROUNDS = 8
};

static uint8_t buf[SLOT];

static void expect_killed(pid_t pid)
{
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        FAIL_AT("the child was to be killed; it ended with status 0x%x", status);
}

/* Receives every published message, from `next` on, until the channel is
 * empty; each must be the next number, whole. Returns the next number. */
static uint64_t drain(ipo_channel_t *rx, uint64_t next)
{
    for (;;) {
        uint64_t len;
        int rc = ipo_channel_try_receive(rx, buf, sizeof(buf), &len);
        if (rc == -IPO_EEMPTY)
            return next;
        ASSERT_OK(rc);
        if (!msg_ok(buf, len, next))
            FAIL_AT("message %llu arrived torn, or another in its place", (unsigned long long)next);
        next++;
    }
}

/* Sends one message numbered by the channel's tail, spinning while full
 * (bounded); by copy or, with loan, written in place. */
static int send_next(ipo_channel_t *tx, int loan)
{
    int64_t end = ipo_now_ns() + WAIT_BOUND_NS;
    for (;;) {
        uint64_t seq = tx->sides & IPO_CHANNEL_SEND ? tx->tail : 0;
        int rc;
        if (loan) {
            void *w;
            uint64_t cap;
            rc = ipo_channel_send_loan(tx, &w, &cap);
            if (!rc) {
                seq = tx->tail;
                uint64_t n = msg_len(seq, SLOT);
                msg_fill(w, n, seq);
                rc = ipo_channel_send_commit(tx, n);
            }
        } else {
            if (!(tx->sides & IPO_CHANNEL_SEND) && (rc = ipo_channel_claim(tx, IPO_CHANNEL_SEND)))
                return rc;
            seq = tx->tail;
            uint64_t n = msg_len(seq, SLOT);
            msg_fill(buf, n, seq);
            rc = ipo_channel_try_send(tx, buf, n);
        }
        if (rc != -IPO_ECHANFULL)
            return rc;
        if (ipo_now_ns() > end)
            return -IPO_ETIMEDOUT;
        ipo_cpu_relax();
    }
}

static void setup(ipo_region_t *r, char *name, size_t len, ipo_channel_t *ch)
{
    create_region(r, name, len, "chancrash");
    ASSERT_OK(open_in_turn(r, "crash", SLOTS, SLOT, ch));
}

static void teardown(ipo_region_t *r)
{
    ASSERT_CHECK(spin_acquire(r, WAIT_BOUND_NS) ? -1 : ipo_region_check(r, why, sizeof(why)));
    ipo_access_release(r);
    ipo_region_detach(r);
    ipo_region_unmap(r);
}

/* A sender killed at the worst place, its slot written and not published,
 * three messages ahead of it in the ring: the receiver gets the three and
 * no fourth; the next sender takes the side over and its messages follow. */
static void killed_before_publishing(int loan)
{
    ipo_region_t r;
    char name[64];
    ipo_channel_t tx, rx;
    setup(&r, name, sizeof(name), &tx);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(send_next(&tx, loan));
    ipo_channel_close(&tx);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        setenv("IPO_CRASH_SITE", "channel_send", 1);
        ipo_region_t c;
        ipo_channel_t ch;
        if (ipo_region_attach(&c, name, NULL) || open_in_turn(&c, "crash", SLOTS, SLOT, &ch))
            _exit(2);
        send_next(&ch, loan);
        _exit(3); /* the site was not reached */
    }
    expect_killed(pid);
    ASSERT_OK(open_in_turn(&r, "crash", SLOTS, SLOT, &rx));
    ASSERT_UEQ(drain(&rx, 0), 3);
    /* The dead sender's side is taken over; the ring wraps several times. */
    ASSERT_OK(open_in_turn(&r, "crash", SLOTS, SLOT, &tx));
    uint64_t next = 3;
    for (int i = 0; i < 5 * SLOTS; i++) {
        ASSERT_OK(send_next(&tx, loan));
        next = drain(&rx, next);
    }
    ASSERT_UEQ(next, 3 + 5 * SLOTS);
    ipo_channel_close(&tx);
    ipo_channel_close(&rx);
    teardown(&r);
}

static void test_sender_killed_before_publishing(void)
{
    killed_before_publishing(0);
}

static void test_sender_killed_before_committing_a_loan(void)
{
    killed_before_publishing(1);
}

/* Senders killed at random moments of a stream of 64 kB messages, most
 * likely in the middle of a copy: after each kill the receiver drains what
 * was published, all whole and in order, and the next sender goes on. */
static void test_senders_killed_mid_stream(void)
{
    ipo_region_t r;
    char name[64];
    ipo_channel_t rx;
    setup(&r, name, sizeof(name), &rx);
    uint64_t next = 0, seed = (uint64_t)getpid() * 2654435761u + 1;
    for (int round = 0; round < ROUNDS; round++) {
        int loan = round & 1;
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            ipo_region_t c;
            ipo_channel_t ch;
            if (ipo_region_attach(&c, name, NULL) || open_in_turn(&c, "crash", SLOTS, SLOT, &ch))
                _exit(2);
            for (;;)
                if (send_next(&ch, loan))
                    _exit(4);
        }
        /* Take a random number of messages, then kill the sender while it
         * is busy (the ring has room, so it is writing). */
        uint64_t want = next + 1 + test_rand(&seed) % 40;
        int64_t end = ipo_now_ns() + WAIT_BOUND_NS;
        while (next < want) {
            uint64_t len;
            int rc = ipo_channel_try_receive(&rx, buf, sizeof(buf), &len);
            if (rc == -IPO_EEMPTY) {
                if (ipo_now_ns() > end) {
                    kill(pid, SIGKILL);
                    FAIL_AT("round %d: the sender stopped at message %llu", round,
                            (unsigned long long)next);
                }
                ipo_cpu_relax();
                continue;
            }
            ASSERT_OK(rc);
            if (!msg_ok(buf, len, next))
                FAIL_AT("round %d: message %llu torn or out of order", round, (unsigned long long)next);
            next++;
        }
        kill(pid, SIGKILL);
        expect_killed(pid);
        next = drain(&rx, next);
    }
    ipo_channel_close(&rx);
    teardown(&r);
}

/* A receiver killed holding a receive loan: the message it held is
 * delivered again to the next receiver, and those after it follow. */
static void test_receiver_killed_holding_a_loan(void)
{
    ipo_region_t r;
    char name[64];
    ipo_channel_t tx, rx;
    setup(&r, name, sizeof(name), &tx);
    for (int i = 0; i < 5; i++)
        ASSERT_OK(send_next(&tx, 0));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        ipo_region_t c;
        ipo_channel_t ch;
        if (ipo_region_attach(&c, name, NULL) || open_in_turn(&c, "crash", SLOTS, SLOT, &ch))
            _exit(2);
        uint64_t len;
        const void *p;
        for (uint64_t i = 0; i < 2; i++)
            if (ipo_channel_try_receive(&ch, buf, sizeof(buf), &len) || !msg_ok(buf, len, i))
                _exit(3);
        if (ipo_channel_receive_peek(&ch, &p, &len) || !msg_ok(p, len, 2))
            _exit(4);
        if (write(fds[1], "h", 1) != 1)
            _exit(5);
        for (;;)
            pause();
    }
    close(fds[1]);
    char held;
    ASSERT_EQ(read(fds[0], &held, 1), 1);
    close(fds[0]);
    kill(pid, SIGKILL);
    expect_killed(pid);
    ASSERT_OK(open_in_turn(&r, "crash", SLOTS, SLOT, &rx));
    ASSERT_UEQ(drain(&rx, 2), 5);
    ipo_channel_close(&tx);
    ipo_channel_close(&rx);
    teardown(&r);
}

/* Receivers killed at random moments of a stream, most likely in the
 * middle of a copy out: each reports every message it released; the next
 * receiver starts at the first message not released (the one after the
 * last reported, or the one after that if the kill fell between a release
 * and its report), and none is missing after it. */
static void test_receivers_killed_mid_stream(void)
{
    ipo_region_t r;
    char name[64];
    ipo_channel_t tx;
    setup(&r, name, sizeof(name), &tx);
    uint64_t seed = (uint64_t)getpid() * 40503u + 3, first = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            ipo_region_t c;
            ipo_channel_t ch;
            if (ipo_region_attach(&c, name, NULL) || open_in_turn(&c, "crash", SLOTS, SLOT, &ch))
                _exit(2);
            int loan = round & 1;
            for (uint64_t i = first;; i++) {
                uint64_t len;
                const void *p;
                int rc;
                while ((rc = loan ? ipo_channel_receive_peek(&ch, &p, &len)
                                  : ipo_channel_try_receive(&ch, buf, sizeof(buf), &len)) == -IPO_EEMPTY)
                    ipo_cpu_relax();
                if (rc || !msg_ok(loan ? p : buf, len, i))
                    _exit(3); /* a bad message: the parent sees an exit, not a kill */
                if (loan && ipo_channel_receive_release(&ch))
                    _exit(4);
                if (write(fds[1], &i, sizeof(i)) != sizeof(i))
                    _exit(5);
            }
        }
        close(fds[1]);
        uint64_t sends = 1 + test_rand(&seed) % 40;
        for (uint64_t i = 0; i < sends; i++) {
            int rc = send_next(&tx, 0);
            if (rc) {
                kill(pid, SIGKILL);
                FAIL_AT("round %d: send: %s", round, ipo_strerror(rc));
            }
        }
        kill(pid, SIGKILL);
        expect_killed(pid);
        /* What it reported, in order, from `first` on. */
        uint64_t seq, reported = first;
        ssize_t got;
        while ((got = read(fds[0], &seq, sizeof(seq))) == (ssize_t)sizeof(seq)) {
            ASSERT_UEQ(seq, reported);
            reported++;
        }
        ASSERT_EQ(got, 0);
        close(fds[0]);
        /* The next receiver: this process, taking the dead one's side over. */
        ipo_channel_t rx;
        ASSERT_OK(open_in_turn(&r, "crash", SLOTS, SLOT, &rx));
        ASSERT_OK(ipo_channel_claim(&rx, IPO_CHANNEL_RECEIVE));
        uint64_t start = rx.head;
        if (start != reported && start != reported + 1)
            FAIL_AT("round %d: the next receiver starts at %llu, the dead one released %llu",
                    round, (unsigned long long)start, (unsigned long long)reported);
        /* Every message from there on is there, whole, in order. */
        uint64_t next = drain(&rx, start);
        ASSERT_UEQ(next, tx.tail);
        ipo_channel_close(&rx);
        first = next;
    }
    ipo_channel_close(&tx);
    teardown(&r);
}

int main(void)
{
    RUN(test_sender_killed_before_publishing);
    RUN(test_sender_killed_before_committing_a_loan);
    RUN(test_senders_killed_mid_stream);
    RUN(test_receiver_killed_holding_a_loan);
    RUN(test_receivers_killed_mid_stream);
    return 0;
}

/* loop/include/ipo/waiter.h — the one way to wait for access, for messages or for a change. */
#ifndef IPO_WAITER_H
#define IPO_WAITER_H

#include <stdint.h>

#include "ipo/handoff.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A waiter holds the whole protocol of one participant's wait: try, spin,
 * register in the access word, sleep on the doorbell, try again when rung,
 * pass on a ring it will not use, unregister. It knows no event loop: its
 * driver polls the descriptors ipo_waiter_fds() gives (with poll(), an
 * asyncio reader, a uv_poll_t), says "readable" when one is, and does what
 * the answer says:
 *
 *   IPO_WAIT_HELD   this participant holds access now (the wait is over);
 *   IPO_WAIT_SLEEP  keep polling the descriptors;
 *   IPO_WAIT_AGAIN  the wait is over without a turn (a change came, for
 *                   IPO_WAIT_FOR_CHANGE; or the waiter was not waiting):
 *                   look again at what you want.
 *
 * What it waits for is a set of IPO_WAIT_FOR_* bits: ACCESS, take access;
 * MESSAGES, take access while a message is queued; CHANGE, answer AGAIN
 * once the change count (ipo_change_count) differs from `since`: a turn
 * changed shared state, or a participant left. With several bits the first
 * that holds ends the wait.
 *
 * One waiter per thread or event loop that waits; several may wait at once
 * on one waker (the process's doorbell), each with its own eventfd. A
 * waiter is used by one thread at a time. tests/model/waiter.pml proves
 * this protocol (no two holders, no lost wakeup, a cancelled waiter's ring
 * passed on). */
typedef struct ipo_waiter {
    ipo_waker_t  *waker;
    ipo_sleeper_t sleeper;   /* its registration, and the eventfd other waiters ring */
    uint64_t      since;     /* IPO_WAIT_FOR_CHANGE: the change count to move away from */
    uint32_t      what;      /* IPO_WAIT_FOR_* of the wait under way; 0 when idle */
    int           in_line;   /* holds a place in the line for access (a ticket) */
    uint32_t      poked;     /* ipo_waiter_poke() wrote to the eventfd: the next look reads it */
    int           due;       /* rung, found the turn taken: the next release hands it over */
    int64_t       spin_ns;   /* the wait's spin budget, also for a due waiter's spin */
} ipo_waiter_t;

enum ipo_wait_step {
    IPO_WAIT_HELD  = 0,
    IPO_WAIT_SLEEP = 1,
    IPO_WAIT_AGAIN = 2
};

/* How many descriptors a waiter's driver polls (ipo_waiter_fds): the
 * doorbell, the waiter's eventfd, and the death watch (deathwatch.h; -1
 * when the kernel has no pidfds: a driver skips negative descriptors). */
#define IPO_WAITER_FDS 3

/* The spin budget of a sync waiter before it sleeps, when its caller has
 * no better idea: a holder on another core usually releases within it. */
#define IPO_SPIN_NS_DEFAULT 50000

/* An idle waiter on the waker; no system call (its eventfd is made, or
 * taken from the one a finished waiter of the waker left, when first
 * needed). */
void ipo_waiter_init(ipo_waiter_t *w, ipo_waker_t *waker);

/* Cancels a wait under way; leaves the eventfd, emptied, to the waker's
 * next waiter (or closes it if the waker keeps one already). */
void ipo_waiter_fini(ipo_waiter_t *w);

/* The descriptors to poll for readability: the doorbell, the eventfd
 * through which this process's other waiters pass rings on (made here if
 * not yet), and the death watch, readable when another participant dies
 * (-1 if unavailable; poll() ignores it then, other drivers skip it). 0, or
 * -IPO_ESYS when no eventfd can be made. */
int ipo_waiter_fds(ipo_waiter_t *w, int fds[IPO_WAITER_FDS]);

/* Starts waiting for `what` (or changes what an ongoing wait is for):
 * tries at once, spins up to spin_ns trying, then registers to sleep.
 * Calling it again with the same what and since, while asleep, only tries
 * again. An IPO_WAIT_* step, -IPO_EINVAL for a `what` that is no set of
 * IPO_WAIT_FOR_* bits, -IPO_ESYS when it cannot make its eventfd, or
 * -IPO_EFULL when IPO_WAITERS_MAX waiters of this process sleep already
 * (the wait is cancelled then). A participant that died holding access has
 * its turn taken over (recover.h) by a waiter for access or messages: that
 * is HELD, with ipo_access_cut_short() true; -IPO_ECORRUPT when what it
 * left cannot be repaired (the wait is cancelled, the turn given back). */
int ipo_waiter_start(ipo_waiter_t *w, uint32_t what, uint64_t since, int64_t spin_ns);

/* A descriptor of the waiter was readable (or the driver simply wants to
 * look): reads what woke it, then tries. An IPO_WAIT_* step (or an error,
 * as ipo_waiter_start). */
int ipo_waiter_readable(ipo_waiter_t *w);

/* Stops waiting without a turn. A ring this waiter read, or one on its way
 * to it, may have been somebody's turn: it is passed on. Idempotent. */
void ipo_waiter_cancel(ipo_waiter_t *w);

/* Makes the waiter's descriptors readable, so that its driver calls
 * ipo_waiter_readable() from its loop (which answers AGAIN if the waiter
 * was idle): how a loop schedules "look again" for itself. */
void ipo_waiter_poke(ipo_waiter_t *w);

/* The blocking driver: waits for `what` (and `since`, as for
 * ipo_waiter_start) with poll() until deadline_ns (ipo_now_ns() time;
 * negative: none), spinning spin_ns first. Each sleep
 * ends no later than wake_by_ns (negative: deadline only), so that a caller
 * can run signal handlers. 0 when access is held (or, for CHANGE alone,
 * when a change came); -IPO_ETIMEDOUT at the deadline (the waiter
 * is cancelled); -IPO_EINTR at wake_by_ns, on a signal, or (when a
 * wake_by_ns is given) when another participant died and the wait goes on
 * (the waiter still waits: call again with the same `what`, or cancel);
 * -IPO_EINVAL; -IPO_ESYS
 * when poll() fails (errno tells why; the waiter is cancelled). */
int ipo_waiter_wait(ipo_waiter_t *w, uint32_t what, uint64_t since, int64_t deadline_ns,
                    int64_t wake_by_ns, int64_t spin_ns);

/* One whole wait for IPO_WAIT_FOR_ACCESS or _MESSAGES with a waiter of its
 * own (init, wait, fini), for callers that wait once: as ipo_waiter_wait,
 * but a wait cut short (-IPO_EINTR) is cancelled too. */
int ipo_handoff_acquire(ipo_waker_t *waker, uint32_t what, int64_t deadline_ns,
                        int64_t wake_by_ns, int64_t spin_ns);

#ifdef __cplusplus
}
#endif

#endif /* IPO_WAITER_H */

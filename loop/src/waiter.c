/* loop/src/waiter.c — one participant's wait, as a state machine any event loop can drive. */
#define _GNU_SOURCE
#include "ipo/waiter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "crash_point.h"
#include "ipo/errors.h"
#include "ipo/recover.h"
#include "sleepers.h"

/* A wait goes: try; spin, trying; register and sleep; on a ring,
 * unregister and try; and so on until it takes access (HELD), the change
 * it waits for comes (AGAIN), or its caller cancels. The rules that keep
 * wakeups from being lost (tests/model/waiter.pml checks them):
 *
 * - Register, then look at the word the registration returned: if the wait
 *   is over already, unregister and look again instead of sleeping.
 * - Leaving a sleep without the turn (to sleep for something else, to
 *   answer AGAIN, to stop) passes the ring on (ipo__handoff_pass_on): a
 *   releaser rings one waiter for access, and it may have chosen this one.
 * - A waiter rung for a turn it then lost keeps its place in line: a new
 *   ticket is taken only when a wait starts; and it is due (handoff.c):
 *   the next release hands it the turn, which it claims, spinning for it a
 *   while before it sleeps again.
 * - Waiters that could not run anyway (more runnable threads than CPUs)
 *   do not spin: they would take the CPU from the holder. */

#define KNOWN_BITS (IPO_WAIT_FOR_ACCESS | IPO_WAIT_FOR_MESSAGES | IPO_WAIT_FOR_CHANGE)

/* ---- is there a CPU to spin on? ------------------------------------------------ */

/* The spin of a waiter when more threads are runnable than CPUs: long
 * enough for a holder running on another CPU to end a short turn, short
 * enough not to keep one that waits for a CPU from it for long. */
#define OVERLOADED_SPIN_NS 5000

/* How often a process looks again how many threads are runnable. */
#define LOAD_LOOK_NS 10000000

static int64_t load_looked_at;   /* when (ipo_now_ns), 0: never */
static int load_overloaded;      /* what it found */

/* 1 when more threads are runnable than there are CPUs: a spinning waiter
 * then keeps the holder (or the process it waits for) off a CPU. The
 * kernel's count of runnable threads (the fourth field of /proc/loadavg,
 * "running/total") at that moment, read at most every LOAD_LOOK_NS by a
 * process (a few microseconds), and only by waiters about to spin. Racy
 * between threads on purpose: a hint, and every value is one of them. */
static int overloaded(void)
{
    int64_t now = ipo_now_ns();
    int64_t then = __atomic_load_n(&load_looked_at, __ATOMIC_RELAXED);
    if (then && now - then < LOAD_LOOK_NS)
        return __atomic_load_n(&load_overloaded, __ATOMIC_RELAXED);
    __atomic_store_n(&load_looked_at, now, __ATOMIC_RELAXED);
    static long cpus;
    if (!cpus)
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int over = 0;
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[128];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            /* "0.52 0.58 0.59 3/467 12345": the number before the slash. */
            const char *slash = strchr(buf, '/');
            const char *p = slash;
            while (p && p > buf && p[-1] >= '0' && p[-1] <= '9')
                p--;
            long running = p && p < slash ? strtol(p, NULL, 10) : 0;
            over = cpus > 0 && running > cpus;
        }
    }
    __atomic_store_n(&load_overloaded, over, __ATOMIC_RELAXED);
    return over;
}

void ipo_waiter_init(ipo_waiter_t *w, ipo_waker_t *waker)
{
    w->waker = waker;
    w->sleeper.next = NULL;
    w->sleeper.what = 0;
    w->sleeper.efd = -1;
    w->since = 0;
    w->sleeper.passed = 0;
    w->what = 0;
    w->in_line = 0;
    w->poked = 0;
    w->due = 0;
    w->spin_ns = 0;
}

/* The eventfd is needed only to sleep (or for a driver to watch): a wait
 * that ends while spinning makes no system call. The sync API makes a
 * waiter per wait, and making and closing an eventfd costs 1.7 us here, a
 * sleeping round trip's worth of system calls: so a finished waiter leaves
 * its eventfd, empty, in its waker for the next one. The waker is this
 * process's own (a child of fork() abandons it, spare included), so the
 * eventfd is never shared with another process. */
static int spare_usable(const ipo_waker_t *k)
{
    /* Not released yet (its lock lives as long), and not a copy inherited
     * across fork(), whose lock another thread of the parent may have held. */
    return k->peers && !ipo_region_inherited(k->r);
}

static int need_efd(ipo_waiter_t *w)
{
    if (w->sleeper.efd >= 0)
        return 0;
    ipo_waker_t *k = w->waker;
    if (spare_usable(k)) {
        pthread_mutex_lock(&k->lock);
        w->sleeper.efd = k->spare_efd;
        k->spare_efd = -1;
        pthread_mutex_unlock(&k->lock);
        if (w->sleeper.efd >= 0)
            return 0;
    }
    w->sleeper.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return w->sleeper.efd < 0 ? -IPO_ESYS : 0;
}

/* Reads a poke, if one was made, so that the eventfd is not left readable
 * (a level-triggered driver would call again and again). The flag is set
 * after the write: a look between the two leaves the eventfd readable,
 * and the next look reads it. */
static void read_poke(ipo_waiter_t *w)
{
    uint64_t count;
    if (ipo_atomic_exchange_relaxed(&w->poked, 0u) && read(w->sleeper.efd, &count, sizeof(count)) < 0) {
        /* EAGAIN: read already by an unregistration (another waiter passed a ring too). */
    }
}

int ipo_waiter_fds(ipo_waiter_t *w, int fds[IPO_WAITER_FDS])
{
    int rc = need_efd(w);
    fds[0] = ipo_notify_fd(&w->waker->bell);
    fds[1] = w->sleeper.efd;
    fds[2] = ipo_deathwatch_fd(&w->waker->watch);
    return rc;
}

void ipo_waiter_fini(ipo_waiter_t *w)
{
    if (w->what || w->sleeper.what)
        ipo_waiter_cancel(w);
    int efd = w->sleeper.efd;
    w->sleeper.efd = -1;
    if (efd < 0)
        return;
    /* Unregistered, it has read every ring passed to it (handoff.c), and
     * here any poke: the eventfd is empty, fit for the next waiter. */
    w->sleeper.efd = efd;
    read_poke(w);
    w->sleeper.efd = -1;
    ipo_waker_t *k = w->waker;
    if (spare_usable(k)) {
        pthread_mutex_lock(&k->lock);
        if (k->spare_efd < 0) {
            k->spare_efd = efd;
            efd = -1;
        }
        pthread_mutex_unlock(&k->lock);
    }
    if (efd >= 0)
        close(efd);
}

static int registered(const ipo_waiter_t *w)
{
    return w->sleeper.what != 0;
}

/* Ends the registration, if any, and reads what woke it. */
static void stop_sleeping(ipo_waiter_t *w)
{
    ipo__sleeper_unregister(w->waker, &w->sleeper);
}

/* One attempt at a turn the wait wants; 1 when access is held. */
static int try_take(ipo_waiter_t *w)
{
    if (w->what & IPO_WAIT_FOR_ACCESS)
        /* A turn handed to this participant first: it is nobody else's. */
        return ipo_access_claim(w->waker->r) || ipo_handoff_try(w->waker, 0);
    if (w->what & IPO_WAIT_FOR_MESSAGES)
        return ipo_handoff_try(w->waker, 1);
    return 0;
}

/* Whether a change came since the count the wait started from. */
static int change_seen(const ipo_waiter_t *w)
{
    return (w->what & IPO_WAIT_FOR_CHANGE) && ipo_change_count(w->waker->r) != w->since;
}

/* A participant died: if it held access, take the turn over (and repair
 * what it left). 1 when this waiter holds access now, 0 when not, or
 * -IPO_ECORRUPT when the region could not be repaired (the turn is given
 * back then). A waiter for messages gives back a turn taken over from an
 * empty queue, as ipo_handoff_try() does. */
static int recover(ipo_waiter_t *w)
{
    if (!(w->what & (IPO_WAIT_FOR_ACCESS | IPO_WAIT_FOR_MESSAGES)))
        return 0; /* a waiter for a change only never takes a turn */
    ipo_region_t *r = w->waker->r;
    int rc = ipo_access_take_over(r, NULL, 0);
    if (rc == 1 && !(w->what & IPO_WAIT_FOR_ACCESS) && !ipo_queue_length(r)) {
        ipo_handoff_release(w->waker);
        return 0;
    }
    if (rc < 0)
        ipo_handoff_release(w->waker);
    return rc;
}

/* The wait is over: with the turn, or without it (AGAIN), in which case a
 * ring it had goes on. */
static int finish(ipo_waiter_t *w, int step)
{
    /* A turn after a registration (a sleep, or nearly) starts a new run of
     * turns, and a new slice (handoff.c's rotation). This thread holds
     * access now: the run's fields are its to write. */
    if (step == IPO_WAIT_HELD && w->in_line)
        ipo__run_end(w->waker);
    if (registered(w))
        stop_sleeping(w);
    w->what = 0;
    w->in_line = 0;
    /* Off the line, rung or due: the next release may ring another. */
    if (w->due || step != IPO_WAIT_HELD || ipo_atomic_load_relaxed(&w->waker->r->hdr->line))
        ipo__line_leave(w->waker);
    w->due = 0;
    if (step != IPO_WAIT_HELD)
        ipo__handoff_pass_on(w->waker);
    return step;
}

/* Looks at the death watch (with collect, also reads what it reported) and,
 * if a participant died, takes its turn over when it held one: HELD (the
 * wait is over), a negative code (cancelled), or SLEEP: go on waiting. */
static int after_deaths(ipo_waiter_t *w, int collect)
{
    if (!ipo__handoff_deaths(w->waker, collect))
        return IPO_WAIT_SLEEP;
    int rec = recover(w);
    if (rec == 1)
        return finish(w, IPO_WAIT_HELD);
    if (rec < 0) {
        ipo_waiter_cancel(w);
        return rec;
    }
    return IPO_WAIT_SLEEP;
}

/* Looks, spins for spin_ns, then sleeps: the body of start and readable. */
static int step(ipo_waiter_t *w, int64_t spin_ns)
{
    if (try_take(w))
        return finish(w, IPO_WAIT_HELD);
    if (change_seen(w))
        return finish(w, IPO_WAIT_AGAIN);
    /* Spin: lowest latency while the holder runs on another core. Reading
     * the clock costs more than a pause, so look at it every 64 rounds. */
    if (spin_ns > OVERLOADED_SPIN_NS && overloaded())
        spin_ns = OVERLOADED_SPIN_NS;
    /* This process ended its run of turns by handing the turn on (handoff.c's
     * rotation): it sleeps at once, at the back of the line, rather than
     * spin its way back in ahead of those who waited. */
    if (__atomic_exchange_n(&w->waker->yielded, 0u, __ATOMIC_RELAXED))
        spin_ns = 0;
    if (spin_ns > 0) {
        int64_t spin_until = ipo_now_ns() + spin_ns;
        for (uint32_t round = 1;; round++) {
            ipo_cpu_relax();
            if (try_take(w))
                return finish(w, IPO_WAIT_HELD);
            if (!(round & 63)) {
                if (change_seen(w))
                    return finish(w, IPO_WAIT_AGAIN);
                if (ipo_now_ns() >= spin_until)
                    break;
            }
        }
    }
    for (;;) {
        if (registered(w)) {
            if (w->sleeper.what == w->what)
                return IPO_WAIT_SLEEP; /* lined up for this already */
            /* Now for something else: the ring we may have had goes on,
             * and so does our place on the line if we no longer want a
             * turn. */
            stop_sleeping(w);
            if (!(w->what & IPO_WAIT_FOR_ACCESS)) {
                ipo__line_leave(w->waker);
                w->due = 0;
            }
            ipo__handoff_pass_on(w->waker);
        }
        /* Other waiters of the process pass rings on through it. */
        if (need_efd(w) < 0) {
            int err = errno;
            ipo_waiter_cancel(w);
            errno = err;
            return -IPO_ESYS;
        }
        /* A participant found dead as the watch takes in newcomers may be
         * the holder: no ring will come from it. Cheap unless participants
         * came; deaths later make the watch's descriptor readable. */
        int dead = after_deaths(w, 0);
        if (dead != IPO_WAIT_SLEEP)
            return dead;
        /* A place in line (a ticket) is taken once per wait, by its first
         * registration that wants a turn (not one for a change alone). */
        int new_ticket = !w->in_line && (w->what & (IPO_WAIT_FOR_ACCESS | IPO_WAIT_FOR_MESSAGES));
        int rc = ipo__sleeper_register(w->waker, &w->sleeper, w->what, w->since, new_ticket);
        if (rc < 0) {
            ipo_waiter_cancel(w);
            return rc; /* -IPO_EFULL: too many waiters in this process */
        }
        if (new_ticket)
            w->in_line = 1;
        /* On the line already: a releaser chose us and its ring was
         * coalesced with one we read before registering (our pending flag
         * was still set), so no ring may come: we are due, as if rung. */
        if (rc && (w->what & IPO_WAIT_FOR_ACCESS) && !w->due)
            w->due = ipo__line_due(w->waker);
        if (rc && w->due && (w->what & IPO_WAIT_FOR_ACCESS) && w->spin_ns > 0) {
            /* Due: the next release hands us the turn. Registered already
             * (so a release that frees the word instead rings us), wait for
             * it awake a while: a turn handed to a sleeper waits for the
             * scheduler. Claimed with one compare-and-swap. */
            int64_t until = ipo_now_ns() + w->spin_ns;
            ipo__line_awake(w->waker, 1);
            for (uint32_t round = 1;; round++) {
                ipo_cpu_relax();
                if (try_take(w))
                    return finish(w, IPO_WAIT_HELD);
                if (!(round & 63) && ipo_now_ns() >= until)
                    break;
            }
            /* Asleep from now on: a handoff must ring. Then one more look:
             * off the line already, the turn may have been handed without a
             * ring; or a release freed the word while we spun, and saw us
             * awake (handoff.c's wake()). */
            ipo__line_awake(w->waker, 0);
            if (try_take(w))
                return finish(w, IPO_WAIT_HELD);
        }
        if (rc)
            return IPO_WAIT_SLEEP;
        /* Over as we registered: look again, awake. */
        if (try_take(w))
            return finish(w, IPO_WAIT_HELD);
        if (change_seen(w))
            return finish(w, IPO_WAIT_AGAIN);
        /* The word said "free" or "a message" when we registered, and the
         * try found otherwise: someone took the turn (a try retries while
         * access stays free), and their release will ring us, registered.
         * Sleep, unless the registration must change (the loop's top). */
    }
}

int ipo_waiter_start(ipo_waiter_t *w, uint32_t what, uint64_t since, int64_t spin_ns)
{
    if (!what || (what & ~(uint32_t)KNOWN_BITS))
        return -IPO_EINVAL;
    if (!w->what)
        w->in_line = 0; /* a new wait: a new place in line */
    if (w->since != since && registered(w) && (w->sleeper.what & IPO_WAIT_FOR_CHANGE)) {
        /* The count we sleep against changed: register against the new one. */
        stop_sleeping(w);
        ipo__handoff_pass_on(w->waker);
    }
    w->what = what;
    w->since = since;
    w->spin_ns = spin_ns;
    return step(w, spin_ns);
}

int ipo_waiter_readable(ipo_waiter_t *w)
{
    read_poke(w);
    if (!w->what) {
        /* Idle: a poke, or a ring for nobody here. Read it so that a
         * level-triggered loop stops reporting it. */
        stop_sleeping(w);
        return IPO_WAIT_AGAIN;
    }
    stop_sleeping(w);
    /* Killed awake with a turn handed, unclaimed: test_handoff_crash.c (unevaluated when not built to). */
    IPO_CRASH_SITE(ipo_access_handed(w->waker->r) ? "claim" : "claim, none handed");
    if (try_take(w))
        return finish(w, IPO_WAIT_HELD);
    if (change_seen(w))
        return finish(w, IPO_WAIT_AGAIN);
    /* Not let in: perhaps the death watch woke us (read only now, so that a
     * plain ring costs no extra system call). A dead holder's turn is taken
     * over; a releaser that died before ringing us is covered by the look
     * above and by registering again, which clears our pending ring. */
    int dead = after_deaths(w, 1);
    if (dead != IPO_WAIT_SLEEP)
        return dead;
    /* Rung (or looked) and not let in: someone else took the turn (a try
     * retries while access stays free). If we were the waiter rung for
     * access, we are due: that holder's release hands us the turn. */
    if (w->what & IPO_WAIT_FOR_ACCESS)
        w->due = ipo__line_due(w->waker);
    /* Otherwise the holder will ring when it releases;
     * registering again for the same wait clears our pending ring, so the
     * releaser can choose us again. Nothing to pass on. */
    return step(w, 0);
}

void ipo_waiter_cancel(ipo_waiter_t *w)
{
    int was_waiting = w->what || registered(w);
    if (registered(w))
        stop_sleeping(w);
    w->what = 0;
    w->in_line = 0;
    if (was_waiting) {
        /* Off the line first: a releaser handing us the turn after this
         * fails to clear the line and takes the turn back; one that handed
         * it before, we claim and pass on. */
        ipo__line_leave(w->waker);
        w->due = 0;
        ipo__handoff_pass_on(w->waker);
    }
}

void ipo_waiter_poke(ipo_waiter_t *w)
{
    const uint64_t one = 1;
    if (need_efd(w) < 0)
        return; /* no eventfd, no driver watching it either */
    if (write(w->sleeper.efd, &one, sizeof(one)) < 0) {
        /* Only an overflowing count fails: readable then anyway. */
    }
    ipo_atomic_store_relaxed(&w->poked, 1u); /* after the write: read_poke() says why */
}

/* ---- the blocking driver ------------------------------------------------------ */

static int poll_timeout_ms(int64_t until_ns)
{
    if (until_ns < 0)
        return -1;
    int64_t left = until_ns - ipo_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int ipo_waiter_wait(ipo_waiter_t *w, uint32_t what, uint64_t since, int64_t deadline_ns,
                    int64_t wake_by_ns, int64_t spin_ns)
{
    int rc = ipo_waiter_start(w, what, since, spin_ns);
    if (rc < 0)
        return rc;
    int64_t until = deadline_ns;
    if (wake_by_ns >= 0 && (until < 0 || wake_by_ns < until))
        until = wake_by_ns;
    while (rc == IPO_WAIT_SLEEP) {
        int timeout = poll_timeout_ms(until);
        if (timeout == 0)
            break;
        struct pollfd pfd[IPO_WAITER_FDS];
        int fds[IPO_WAITER_FDS];
        ipo_waiter_fds(w, fds); /* the eventfd exists: step() registered */
        for (int i = 0; i < IPO_WAITER_FDS; i++)
            pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN, .revents = 0 };
        int n = poll(pfd, IPO_WAITER_FDS, timeout);
        if (n < 0 && errno == EINTR)
            return -IPO_EINTR; /* let the caller run signal handlers */
        if (n < 0) {
            int err = errno;
            ipo_waiter_cancel(w);
            errno = err;
            return -IPO_ESYS;
        }
        if (n > 0)
            rc = ipo_waiter_readable(w);
        /* A participant died and the wait goes on: a caller that asked to
         * be woken (wake_by_ns) hears of it at once, to look at what the
         * waiter does not (whether that was the region's creator). */
        if (rc == IPO_WAIT_SLEEP && wake_by_ns >= 0 && (pfd[2].revents & POLLIN))
            return -IPO_EINTR;
    }
    if (rc == IPO_WAIT_HELD || rc == IPO_WAIT_AGAIN)
        return 0;
    if (rc < 0)
        return rc; /* cancelled already */
    if (deadline_ns >= 0 && ipo_now_ns() >= deadline_ns) {
        ipo_waiter_cancel(w);
        return -IPO_ETIMEDOUT;
    }
    return -IPO_EINTR;
}

int ipo_handoff_acquire(ipo_waker_t *waker, uint32_t what, int64_t deadline_ns,
                        int64_t wake_by_ns, int64_t spin_ns)
{
    ipo_waiter_t w;
    ipo_waiter_init(&w, waker);
    int rc = ipo_waiter_wait(&w, what, 0, deadline_ns, wake_by_ns, spin_ns);
    ipo_waiter_fini(&w); /* cancels a wait cut short */
    return rc;
}

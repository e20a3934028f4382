/* loop/src/handoff.c — sleepers register in the access word; releasers ring their doorbells. */
#include "ipo/handoff.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipo/errors.h"
#include "ipo/queue.h"

/* The protocol, and why no wakeup is lost:
 *
 *   sleeper                               releaser
 *   publish waiting_for, clear pending    (writes under access)
 *   access += SLEEPER_ONE  (acq_rel)      old = access &= ~OWNER  (acq_rel)
 *   look: is the wait over?               if old has sleepers: ring them
 *   poll(doorbell)
 *
 * Both steps in the middle are read-modify-writes of the one access word,
 * so one of them comes first. If the sleeper's does, the releaser sees its
 * registration (and, by acquire, its waiting_for) and rings. If the
 * releaser's does, the sleeper's read-modify-write reads the released word,
 * and acquires everything written before it: its look finds the wait over.
 * A ring is a byte in a FIFO, so it is kept until the sleeper polls. */

static inline ipo_slot_t *slot_at(const ipo_region_t *r, uint32_t i)
{
    return (ipo_slot_t *)(r->base + r->hdr->slots_off) + i;
}

static unsigned bit_index(uint32_t bit)
{
    return bit == IPO_WAIT_FOR_ACCESS ? 0 : bit == IPO_WAIT_FOR_MESSAGES ? 1 : 2;
}

int ipo_waker_init(ipo_waker_t *w, ipo_region_t *r)
{
    memset(w, 0, sizeof(*w));
    w->r = r;
    w->bell.fd = -1;
    w->npeers = r->hdr->slot_count;
    w->peers = calloc(w->npeers, sizeof(*w->peers));
    if (!w->peers) {
        errno = ENOMEM;
        return -IPO_ESYS;
    }
    for (uint32_t i = 0; i < w->npeers; i++)
        w->peers[i].fd = -1;
    pthread_mutex_init(&w->lock, NULL);
    int rc = ipo_notify_open(&w->bell, r->inode, r->slot, r->me->generation);
    if (rc) {
        free(w->peers);
        w->peers = NULL;
        pthread_mutex_destroy(&w->lock);
    }
    return rc;
}

static void waker_release(ipo_waker_t *w, int remove_bell)
{
    if (!w->peers)
        return;
    if (remove_bell)
        ipo_notify_close(&w->bell);
    else if (w->bell.fd >= 0)
        close(w->bell.fd);
    w->bell.fd = -1;
    for (uint32_t i = 0; i < w->npeers; i++)
        if (w->peers[i].fd >= 0)
            close(w->peers[i].fd);
    free(w->peers);
    w->peers = NULL;
    pthread_mutex_destroy(&w->lock);
}

void ipo_waker_fini(ipo_waker_t *w)
{
    waker_release(w, 1);
}

void ipo_waker_abandon(ipo_waker_t *w)
{
    waker_release(w, 0);
}

/* ---- ringing ------------------------------------------------------------------ */

static void ring(ipo_waker_t *w, uint32_t i)
{
    ipo_slot_t *s = slot_at(w->r, i);
    /* Coalesce: one ring per sleep. The sleeper clears the flag before it
     * registers, so a ring seen as pending is one it has yet to read. */
    uint32_t idle = 0;
    if (ipo__load_relaxed(&s->wake_pending) || !ipo__cas_acq_rel(&s->wake_pending, &idle, 1u))
        return;
    uint32_t generation = ipo__load_acquire(&s->generation);
    pthread_mutex_lock(&w->lock);
    ipo_peer_bell_t *peer = &w->peers[i];
    if (peer->fd < 0 || peer->generation != generation) {
        if (peer->fd >= 0)
            close(peer->fd);
        peer->fd = ipo_notify_open_peer(w->r->inode, i, generation);
        peer->generation = generation;
    }
    /* A peer that is gone keeps its pending flag set: later releases do not
     * try again, and the slot's next occupant clears it when it sleeps. */
    if (peer->fd >= 0 && ipo_notify_ring(peer->fd) < 0) {
        close(peer->fd);
        peer->fd = -1;
    }
    pthread_mutex_unlock(&w->lock);
}

/* Rings the sleepers a free access word lets go on: every waiter for a
 * release, every waiter for messages if there are messages, and the one
 * that has waited longest for access. */
static void wake(ipo_waker_t *w)
{
    const ipo_region_t *r = w->r;
    int messages = ipo_queue_length(r) != 0;
    uint32_t oldest = UINT32_MAX;
    uint64_t oldest_ticket = UINT64_MAX;
    for (uint32_t i = 0; i < r->hdr->slot_count; i++) {
        const ipo_slot_t *s = slot_at(r, i);
        /* Pairs with the release in register_sleeper(), through the acq_rel
         * read-modify-writes of the access word. */
        uint32_t what = ipo__load_acquire(&s->waiting_for);
        if (!what)
            continue;
        if ((what & IPO_WAIT_FOR_RELEASE) || ((what & IPO_WAIT_FOR_MESSAGES) && messages)) {
            ring(w, i);
        } else if (what & IPO_WAIT_FOR_ACCESS) {
            uint64_t ticket = ipo__load_relaxed(&s->sleep_ticket);
            if (ticket < oldest_ticket) {
                oldest_ticket = ticket;
                oldest = i;
            }
        }
    }
    if (oldest != UINT32_MAX)
        ring(w, oldest);
}

void ipo_handoff_release(ipo_waker_t *w)
{
    uint64_t old = ipo_access_release(w->r);
    if (old & IPO_ACCESS_SLEEPER_MASK)
        wake(w);
}

/* ---- sleeping ------------------------------------------------------------------ */

static int wait_over(const ipo_region_t *r, uint32_t what, uint64_t word, uint64_t since_count)
{
    if (what & IPO_WAIT_FOR_RELEASE)
        return (word >> IPO_ACCESS_COUNT_SHIFT) != since_count;
    if (word & IPO_ACCESS_OWNER_MASK)
        return 0;
    return !(what & IPO_WAIT_FOR_MESSAGES) || ipo_queue_length(r) != 0;
}

static int register_sleeper(ipo_waker_t *w, uint32_t what, uint64_t since_count, int new_ticket)
{
    ipo_region_t *r = w->r;
    ipo_slot_t *me = r->me;
    pthread_mutex_lock(&w->lock);
    for (uint32_t bit = 1; bit <= IPO_WAIT_FOR_RELEASE; bit <<= 1)
        if ((what & bit) && w->waiting[bit_index(bit)]++ == 0)
            __atomic_fetch_or(&me->waiting_for, bit, __ATOMIC_RELEASE);
    /* A waiter that was rung but lost the race keeps its place in line. */
    if (new_ticket && (what & (IPO_WAIT_FOR_ACCESS | IPO_WAIT_FOR_MESSAGES)))
        ipo__store_relaxed(&me->sleep_ticket, ipo__fetch_add(&r->hdr->sleep_tickets, 1));
    pthread_mutex_unlock(&w->lock);
    ipo__store_relaxed(&me->wake_pending, 0u);
    /* The registration: releases our fields above to whoever reads the
     * word after it, and acquires whatever the last releaser wrote. */
    uint64_t word = __atomic_add_fetch(&r->hdr->access, IPO_ACCESS_SLEEPER_ONE, __ATOMIC_ACQ_REL);
    if (wait_over(r, what, word, since_count)) {
        ipo_handoff_unregister(w, what);
        return 0;
    }
    return 1;
}

int ipo_handoff_register(ipo_waker_t *w, uint32_t what, uint64_t since_count)
{
    return register_sleeper(w, what, since_count, 1);
}

void ipo_handoff_unregister(ipo_waker_t *w, uint32_t what)
{
    __atomic_fetch_sub(&w->r->hdr->access, IPO_ACCESS_SLEEPER_ONE, __ATOMIC_RELEASE);
    pthread_mutex_lock(&w->lock);
    for (uint32_t bit = 1; bit <= IPO_WAIT_FOR_RELEASE; bit <<= 1)
        if ((what & bit) && --w->waiting[bit_index(bit)] == 0)
            __atomic_fetch_and(&w->r->me->waiting_for, ~bit, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w->lock);
    ipo_notify_drain(&w->bell);
}

/* One attempt at what the waiter wants; 1 when access is held. */
static int try_take(ipo_waker_t *w, uint32_t what)
{
    ipo_region_t *r = w->r;
    if ((what & IPO_WAIT_FOR_MESSAGES) && !ipo_queue_length(r))
        return 0;
    if (!ipo_access_try_acquire(r))
        return 0;
    /* Another consumer may have taken the last message meanwhile. */
    if ((what & IPO_WAIT_FOR_MESSAGES) && !ipo_queue_length(r)) {
        ipo_handoff_release(w);
        return 0;
    }
    return 1;
}

/* A waiter leaving without access may have taken a ring meant to let the
 * next one in: pass it on while access is free and others sleep. */
static void pass_on(ipo_waker_t *w)
{
    uint64_t word = ipo__load_acquire(&w->r->hdr->access);
    if (!(word & IPO_ACCESS_OWNER_MASK) && (word & IPO_ACCESS_SLEEPER_MASK))
        wake(w);
}

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

int ipo_handoff_acquire(ipo_waker_t *w, uint32_t what, int64_t deadline_ns,
                        int64_t wake_by_ns, int64_t spin_ns)
{
    if (try_take(w, what))
        return 0;
    /* Spin: lowest latency while the holder is on another core. */
    if (spin_ns > 0) {
        int64_t spin_until = ipo_now_ns() + spin_ns;
        for (uint32_t round = 1;; round++) {
            ipo__cpu_relax();
            if (try_take(w, what))
                return 0;
            if (!(round & 63) && ipo_now_ns() >= spin_until)
                break;
        }
    }
    /* Sleep on the doorbell until a releaser rings. */
    int64_t until = deadline_ns;
    if (wake_by_ns >= 0 && (until < 0 || wake_by_ns < until))
        until = wake_by_ns;
    for (int first = 1;; first = 0) {
        if (until >= 0 && ipo_now_ns() >= until)
            break;
        if (register_sleeper(w, what, 0, first)) {
            struct pollfd pfd = { .fd = ipo_notify_fd(&w->bell), .events = POLLIN, .revents = 0 };
            int n = poll(&pfd, 1, poll_timeout_ms(until));
            int interrupted = n < 0 && errno == EINTR;
            ipo_handoff_unregister(w, what);
            if (try_take(w, what))
                return 0;
            if (interrupted) {
                pass_on(w);
                return -IPO_EAGAIN; /* let the caller run signal handlers */
            }
        } else if (try_take(w, what)) {
            return 0;
        }
    }
    pass_on(w);
    return deadline_ns >= 0 && ipo_now_ns() >= deadline_ns ? -IPO_ETIMEDOUT : -IPO_EAGAIN;
}

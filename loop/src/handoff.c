/* loop/src/handoff.c — sleepers register in the access word; releasers ring their doorbells. */
#define _GNU_SOURCE
#include "ipo/handoff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "crash_point.h"
#include "ipo/errors.h"
#include "ipo/queue.h"
#include "sleepers.h"

/* The protocol, and why no wakeup is lost (tests/model/waiter.pml checks it):
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
 * A ring is a byte in a FIFO, so it is kept until the sleeper polls.
 *
 * The oldest waiter for access that has not been rung yet is rung, so a
 * waiter that died asleep (its ring set pending, nobody reads it) is passed
 * over by the next release instead of swallowing every ring. Only that one
 * waiter is rung for access, so a waiter that leaves without the turn (its
 * wait cancelled, or for something else now) passes the ring on: it may
 * have read it, or the ring may be on its way to it (the releaser chose it
 * before it unregistered). Waiters for messages and for a release are all
 * rung, so nothing needs passing on for them. This file is the ringing and
 * registering half; waiter.c drives a wait through it. */

static inline ipo_slot_t *slot_at(const ipo_region_t *r, uint32_t i)
{
    return r->slots + i;
}

static void announce_leaving(ipo_waker_t *w);

static unsigned bit_index(uint32_t bit)
{
    return bit == IPO_WAIT_FOR_ACCESS ? 0 : bit == IPO_WAIT_FOR_MESSAGES ? 1 : 2;
}

int ipo_waker_init(ipo_waker_t *w, ipo_region_t *r)
{
    memset(w, 0, sizeof(*w));
    w->r = r;
    w->bell.fd = -1;
    w->spare_efd = -1;
    w->npeers = r->slot_count; /* validated at attach, unlike the header's field now */
    w->peers = calloc(w->npeers, sizeof(*w->peers));
    if (!w->peers) {
        errno = ENOMEM;
        return -IPO_ESYS;
    }
    for (uint32_t i = 0; i < w->npeers; i++)
        w->peers[i].fd = -1;
    pthread_mutex_init(&w->lock, NULL);
    int rc = ipo_deathwatch_init(&w->watch, r);
    if (rc == 0) {
        rc = ipo_notify_open(&w->bell, r->inode, r->slot, r->me->generation);
        if (rc)
            ipo_deathwatch_fini(&w->watch);
    }
    if (rc) {
        free(w->peers);
        w->peers = NULL;
        pthread_mutex_destroy(&w->lock);
    }
    return rc;
}

static void waker_release(ipo_waker_t *w, int ours)
{
    if (!w->peers)
        return;
    /* Waiters still registered (an event loop that never cancelled) would
     * leave their count in the access word for good; and one of them may
     * have been rung for a turn it will never take: pass it on. */
    int had_sleepers = ours && w->sleepers;
    while (ours && w->sleepers)
        ipo__sleeper_unregister(w, w->sleepers);
    if (had_sleepers)
        ipo__handoff_pass_on(w);
    if (ours)
        announce_leaving(w);
    if (ours)
        ipo_notify_close(&w->bell);
    else if (w->bell.fd >= 0)
        close(w->bell.fd);
    w->bell.fd = -1;
    for (uint32_t i = 0; i < w->npeers; i++)
        if (w->peers[i].fd >= 0)
            close(w->peers[i].fd);
    if (w->spare_efd >= 0)
        close(w->spare_efd);
    w->spare_efd = -1;
    free(w->peers);
    w->peers = NULL;
    w->sleepers = NULL;
    ipo_deathwatch_fini(&w->watch);
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

enum { RUNG = 0, GONE = -1 };

static int ring(ipo_waker_t *w, uint32_t i)
{
    ipo_slot_t *s = slot_at(w->r, i);
    /* Coalesce: one ring per sleep. The sleeper clears the flag before it
     * registers, so a ring seen as pending is one it has yet to read. */
    uint32_t idle = 0;
    if (ipo_atomic_load_relaxed(&s->wake_pending) || !ipo_atomic_cas_acq_rel(&s->wake_pending, &idle, 1u))
        return RUNG;
    /* A releaser killed here has marked the ring pending and will never
     * write it: later releases pass this sleeper over, and its own death
     * watch must wake it (tests/c/test_ring_crash.c kills here). */
    IPO_CRASH_SITE("ring");
    /* SYNC POINT slot generation: pairs with the store-release of
     * generation in occupy_slot() (core/src/region.c): the doorbell we open
     * is the occupant's that published it. */
    uint32_t generation = ipo_atomic_load_acquire(&s->generation);
    int rc = RUNG;
    pthread_mutex_lock(&w->lock);
    ipo_peer_bell_t *peer = &w->peers[i];
    if (peer->fd < 0 || peer->generation != generation) {
        if (peer->fd >= 0)
            close(peer->fd);
        peer->fd = ipo_notify_open_peer(w->r->inode, i, generation);
        peer->generation = generation;
        if (peer->fd < 0) {
            /* Not rung: the next oldest is, instead. Nobody reads that
             * doorbell (ENXIO, ENOENT): the peer is gone, and its flag stays
             * set (the slot's next occupant clears it). Any other failure
             * (out of descriptors) must not silence the slot for good:
             * clear the flag (it publishes nothing: it is the only word). */
            if (errno != ENXIO && errno != ENOENT)
                ipo_atomic_store_relaxed(&s->wake_pending, 0u);
            rc = GONE;
        }
    }
    if (peer->fd >= 0 && ipo_notify_ring(peer->fd) < 0) {
        close(peer->fd);
        peer->fd = -1;
        rc = GONE;
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* Why wake() rings. */
enum wake_why {
    WAKE_PASS_ON,    /* a ring passed on: the oldest waiter for access only */
    WAKE_RELEASED,   /* a release: also every waiter for messages, if there are some */
    WAKE_CHANGED,    /* a release after a change: also every waiter for a change */
    WAKE_LEFT        /* a participant left: every waiter for a change, only */
};

/* Rings the sleepers an event lets go on: every waiter for a change after
 * a change (or a leaving), every waiter for messages after a release that
 * leaves messages queued, and the oldest waiter for access that is not rung
 * yet (the next oldest if it is gone) whenever access is free. A ring
 * passed on rings only that last one: the others were all rung already. */
static void wake(ipo_waker_t *w, enum wake_why why)
{
    const ipo_region_t *r = w->r;
    /* The slot count as it was at attach, where it was checked against
     * IPO_MAX_SLOTS: not the header's, which another process could change. */
    uint32_t n = w->npeers;
    uint8_t skip[IPO_MAX_SLOTS];
    memset(skip, 0, n);
    if (why != WAKE_PASS_ON) {
        int messages = why != WAKE_LEFT && ipo_queue_length(r) != 0;
        int changed = why == WAKE_CHANGED || why == WAKE_LEFT;
        for (uint32_t i = 0; i < n; i++) {
            const ipo_slot_t *s = slot_at(r, i);
            /* SYNC POINT waiting_for: pairs with the fetch-or in
             * ipo__sleeper_register() (and the fetch-and in
             * ipo__sleeper_unregister()), carried by the acq_rel
             * read-modify-writes of the access word. */
            uint32_t what = ipo_atomic_load_acquire(&s->waiting_for);
            if (((what & IPO_WAIT_FOR_CHANGE) && changed) || ((what & IPO_WAIT_FOR_MESSAGES) && messages)) {
                ring(w, i);
                skip[i] = 1;
            }
        }
        if (why == WAKE_LEFT)
            return; /* access was not released: nobody waits for it because of this */
    }
    for (;;) {
        uint32_t oldest = UINT32_MAX;
        uint64_t oldest_ticket = UINT64_MAX;
        for (uint32_t i = 0; i < n; i++) {
            const ipo_slot_t *s = slot_at(r, i);
            /* waiting_for: as above. wake_pending and sleep_ticket are
             * hints: a stale one costs a ring too many or one passed over,
             * which the waiter's own look at the access word makes good. */
            if (skip[i] || !(ipo_atomic_load_acquire(&s->waiting_for) & IPO_WAIT_FOR_ACCESS) ||
                ipo_atomic_load_relaxed(&s->wake_pending))
                continue;
            uint64_t ticket = ipo_atomic_load_relaxed(&s->sleep_ticket);
            if (ticket < oldest_ticket) {
                oldest_ticket = ticket;
                oldest = i;
            }
        }
        if (oldest == UINT32_MAX || ring(w, oldest) == RUNG)
            return;
        skip[oldest] = 1;
    }
}

uint64_t ipo_handoff_release(ipo_waker_t *w)
{
    ipo_region_t *r = w->r;
    int changed = r->changed;
    uint64_t changes;
    if (changed) {
        r->changed = 0;
        /* SYNC POINT changes: published by the release of the access word
         * below, to the acquire loads of ipo_change_count(). An atomic add,
         * not a store: a participant leaving adds without holding access. */
        changes = ipo_atomic_fetch_add_relaxed(&r->hdr->changes, 1) + 1;
    } else {
        changes = ipo_atomic_load_relaxed(&r->hdr->changes);
    }
    uint64_t old = ipo_access_release(r);
    if (old & IPO_ACCESS_SLEEPER_MASK)
        wake(w, changed ? WAKE_CHANGED : WAKE_RELEASED);
    return changes;
}

void ipo__handoff_pass_on(ipo_waker_t *w)
{
    /* Pairs with the acq_rel read-modify-writes of the access word: a free
     * word read here was released, and its sleepers' fields are visible. */
    uint64_t word = ipo_atomic_load_acquire(&w->r->hdr->access);
    if (!(word & IPO_ACCESS_OWNER_MASK) && (word & IPO_ACCESS_SLEEPER_MASK))
        wake(w, WAKE_PASS_ON);
}

/* This participant leaves: whoever waits for a change may be waiting for
 * it, and must look again (a gate that waits for another process's change
 * opens when no other process is left). */
static void announce_leaving(ipo_waker_t *w)
{
    /* SYNC POINT changes: an atomic add without access; the acq_rel
     * fetch-add on the access word below orders it before the rings. */
    ipo_atomic_fetch_add_relaxed(&w->r->hdr->changes, 1);
    uint64_t word = ipo_atomic_fetch_add_acq_rel(&w->r->hdr->access, 0);
    if (word & IPO_ACCESS_SLEEPER_MASK)
        wake(w, WAKE_LEFT);
}

/* ---- deaths ------------------------------------------------------------------------ */

int ipo__handoff_deaths(ipo_waker_t *w, int collect)
{
    pthread_mutex_lock(&w->lock);
    int died = ipo_deathwatch_sync(&w->watch, w->r);
    if (collect)
        died |= ipo_deathwatch_collect(&w->watch);
    pthread_mutex_unlock(&w->lock);
    return died;
}

/* ---- registering ---------------------------------------------------------------- */

static int wait_over(const ipo_region_t *r, uint32_t what, uint64_t word, uint64_t since)
{
    /* The change count is read after the registration, which acquired what
     * the last releaser published (the count included). */
    if ((what & IPO_WAIT_FOR_CHANGE) && ipo_change_count(r) != since)
        return 1;
    if (word & IPO_ACCESS_OWNER_MASK)
        return 0;
    return (what & IPO_WAIT_FOR_ACCESS) || ((what & IPO_WAIT_FOR_MESSAGES) && ipo_queue_length(r) != 0);
}

int ipo__sleeper_register(ipo_waker_t *w, ipo_sleeper_t *s, uint32_t what,
                          uint64_t since, int new_ticket)
{
    ipo_region_t *r = w->r;
    ipo_slot_t *me = r->me;
    pthread_mutex_lock(&w->lock);
    if (w->nsleepers >= IPO_WAITERS_MAX) {
        pthread_mutex_unlock(&w->lock);
        return -IPO_EFULL;
    }
    w->nsleepers++;
    s->what = what;
    s->next = w->sleepers;
    w->sleepers = s;
    for (uint32_t bit = 1; bit <= IPO_WAIT_FOR_CHANGE; bit <<= 1)
        if ((what & bit) && w->waiting[bit_index(bit)]++ == 0)
            /* SYNC POINT waiting_for: pairs with the acquire loads in
             * wake(); the registration below carries it to the releaser. */
            ipo_atomic_fetch_or_release(&me->waiting_for, bit);
    /* A waiter that was rung but lost the race keeps its place in line. */
    if (new_ticket && (what & (IPO_WAIT_FOR_ACCESS | IPO_WAIT_FOR_MESSAGES)))
        /* A hint read relaxed by wake(); the ticket counter only has to
         * hand out distinct, growing numbers. */
        ipo_atomic_store_relaxed(&me->sleep_ticket,
                                 ipo_atomic_fetch_add_relaxed(&r->hdr->sleep_tickets, 1));
    pthread_mutex_unlock(&w->lock);
    /* Rings from now on are for this sleep. Published by the registration
     * below, like waiting_for; ring() reads it with its compare-and-swap. */
    ipo_atomic_store_relaxed(&me->wake_pending, 0u);
    /* The registration: releases our fields above to whoever reads the
     * word after it, and acquires whatever the last releaser wrote.
     * SYNC POINT access word: pairs with the fetch-and of
     * ipo_access_release(). */
    uint64_t word = ipo_atomic_fetch_add_acq_rel(&r->hdr->access, IPO_ACCESS_SLEEPER_ONE) +
                    IPO_ACCESS_SLEEPER_ONE;
    /* Counted in the slot after the word, so that whoever takes the slot
     * after we die asleep takes back at most what we added there
     * (take_back_sleepers() in core/src/region.c): a kill in between leaks
     * one registration in the word, which costs releasers a scan, instead
     * of taking back somebody else's. */
    ipo_atomic_fetch_add_relaxed(&me->sleepers, 1u);
    return wait_over(r, what, word, since) ? 0 : 1;
}

/* Reads what the doorbell holds; how many bytes. Rings coalesce (one per
 * sleep), so one read nearly always empties it: a read that returns less
 * than it asked for found the pipe empty, and a second one would only say
 * EAGAIN. */
static int drain_bell(ipo_waker_t *w)
{
    char buf[64];
    int total = 0;
    ssize_t n;
    while ((n = read(w->bell.fd, buf, sizeof(buf))) > 0) {
        total += (int)n;
        if ((size_t)n < sizeof(buf))
            break;
    }
    return total;
}

void ipo__sleeper_unregister(ipo_waker_t *w, ipo_sleeper_t *s)
{
    ipo_region_t *r = w->r;
    pthread_mutex_lock(&w->lock);
    uint32_t what = s->what;
    if (what) {
        for (ipo_sleeper_t **p = &w->sleepers; *p; p = &(*p)->next) {
            if (*p == s) {
                *p = s->next;
                break;
            }
        }
        w->nsleepers--;
        for (uint32_t bit = 1; bit <= IPO_WAIT_FOR_CHANGE; bit <<= 1)
            if ((what & bit) && --w->waiting[bit_index(bit)] == 0)
                /* SYNC POINT waiting_for: pairs with the acquire loads in
                 * wake(). */
                ipo_atomic_fetch_and_release(&r->me->waiting_for, ~bit);
        s->what = 0;
        s->next = NULL;
        /* The slot's count first, then the word: the reverse of
         * registering, for the same reason. */
        ipo_atomic_fetch_sub_relaxed(&r->me->sleepers, 1u);
        /* SYNC POINT access word: pairs with the fetch-and of
         * ipo_access_release(): a releaser that reads the word after this
         * does not count us. */
        ipo_atomic_fetch_sub_release(&r->hdr->access, IPO_ACCESS_SLEEPER_ONE);
    }
    /* Whatever we read from the doorbell, the others still asleep get too:
     * it may have been a ring for one of them. */
    if (drain_bell(w) > 0) {
        const uint64_t one = 1;
        for (ipo_sleeper_t *o = w->sleepers; o; o = o->next) {
            o->passed = 1;
            if (write(o->efd, &one, sizeof(one)) < 0) {
                /* An eventfd only fails when its count would overflow: it is
                 * readable then anyway. */
            }
        }
    }
    /* Rings are passed to a sleeper only while it is registered, under the
     * lock: once out of the list, what it was passed is all there is, and
     * an eventfd nobody wrote to needs no read (the common case: a single
     * waiter in the process). */
    uint32_t passed = s->passed;
    s->passed = 0;
    pthread_mutex_unlock(&w->lock);
    uint64_t count;
    if (passed && s->efd >= 0 && read(s->efd, &count, sizeof(count)) < 0) {
        /* EAGAIN: read by an earlier look already. */
    }
}

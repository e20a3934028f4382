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
 * registering half; waiter.c drives a wait through it.
 *
 * Fair turns (header.line; tests/model/handoff.pml checks it). A releaser
 * rings a waiter for access only while no other is on its way (the line is
 * 0): one wakeup in flight, not one per release, so sleepers are not woken
 * in a herd only to lose the race to whoever runs. The rung waiter, back
 * awake, tries; if the turn was taken meanwhile it marks the line DUE and
 * waits (spinning a while, then asleep again). The next release hands it
 * the turn instead of freeing it: one compare-and-swap writes HANDED | its
 * slot into the owner field (a handed turn is held: nobody barges in),
 * then the line goes back to 0 and the waiter is rung; it claims the turn
 * with one compare-and-swap (ipo_access_claim). So a waiter that has slept
 * waits at most one more turn of others, whoever spins, while a release
 * with nobody due frees the word as before: the uncontended acquire stays
 * one compare-and-swap, and running waiters take turns at the speed of a
 * cache line. A due waiter that leaves clears the line first; a releaser
 * whose clearing of the line then fails takes the turn back (HANDED to
 * free) unless it was claimed, and a waiter that leaves claims and passes
 * on a turn handed to it. A handed turn whose recipient dies is taken over
 * like any dead holder's (recover.c reads the slot under the flag). */

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
    /* Off the line after unregistering (see line_still_waiting()). */
    if (ours)
        ipo__line_leave(w);
    if (ours && (had_sleepers || ipo_access_handed(w->r)))
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
     * generation in ipo__occupy_slot() (core/src/region.c): the doorbell we open
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

/* ---- the line: the one waiter for access on its way --------------------------- */

/* A rung waiter not back within this long no longer keeps releasers from
 * ringing another: it is waiting for a CPU (more runnable processes than
 * CPUs), stopped, or its ring was lost with a releaser killed before
 * writing it. Short, because on an overloaded machine a wakeup takes
 * milliseconds, and with one wakeup in flight the sleepers then came back
 * one after another, each a scheduler's delay after the last, while the
 * turn sat free with nobody running to take it (issue 12: 15 producers to
 * one consumer spent most of their time so). Long against a wakeup on a
 * machine with CPUs to spare (tens of microseconds), so there the line
 * holds as before; and at most one more waiter is rung per stamp, so a
 * herd cannot form. In coarse milliseconds, as the line's stamp: the
 * coarse clock moves by its tick (1-10 ms), so "older than 1 ms" is "rung
 * before the last tick" (or the last two, where a tick is 1 ms): stale at
 * most a tick or 2 ms after the ring, and at once if a tick falls just
 * after it, which costs one ring too many, rarely (a wakeup on a machine
 * with CPUs to spare is a small part of a tick). */
#define LINE_STALE_MS 1u
#define LINE_STAMP_SHIFT 18
#define LINE_STAMP_MASK 0x3fffu

static uint32_t line_stamp(void)
{
    return (uint32_t)(ipo_coarse_now_ns() / 1000000) & LINE_STAMP_MASK;
}

static int line_stale(uint32_t line)
{
    uint32_t age = (line_stamp() - (line >> LINE_STAMP_SHIFT)) & LINE_STAMP_MASK;
    return !(line & IPO_LINE_DUE) && age > LINE_STALE_MS;
}

/* Puts slot i on the line if nobody is on it (or a stale rung waiter is):
 * the line's new value when it is ours to ring, 0 when not. SYNC POINT
 * line: the release pairs with the acquire loads of the line in
 * ipo__line_due() and line_drop(). */
static uint32_t line_take(ipo_region_t *r, uint32_t i)
{
    uint32_t *line = &r->hdr->line;
    uint32_t cur = ipo_atomic_load_relaxed(line);
    uint32_t next = (i + 1) | (line_stamp() << LINE_STAMP_SHIFT);
    while (!cur || line_stale(cur))
        if (ipo_atomic_cas_acq_rel(line, &cur, next))
            return next;
    return 0;
}

/* After putting slot i on the line: is it still waiting for access? A
 * waiter may have unregistered, taken the turn and left the line (in
 * finish()) between our choice and our taking the line; it would never
 * come back to clear it, and no release would ring anyone again. Each side
 * stores, then loads what the other stores, with a full fence between
 * (here: the line, then waiting_for; the waiter: waiting_for in
 * ipo__sleeper_unregister(), then the line in ipo__line_leave()): one of
 * the two sees the other's store. If it is gone, the line is given back
 * (unless it changed: then it is the waiter's, due). tests/model/
 * handoff.pml found this race. */
static int line_still_waiting(ipo_region_t *r, uint32_t i, uint32_t taken)
{
    ipo_atomic_fence_seq_cst();
    /* SYNC POINT waiting_for: the fences pair (see above). */
    if (ipo_atomic_load_relaxed(&r->slots[i].waiting_for) & IPO_WAIT_FOR_ACCESS)
        return 1;
    uint32_t cur = taken;
    /* SYNC POINT line: as in line_take(). */
    return !ipo_atomic_cas_acq_rel(&r->hdr->line, &cur, 0u);
}

/* Takes slot i off the line, if it is on it (rung or due). */
static void line_drop(ipo_region_t *r, uint32_t i)
{
    uint32_t *line = &r->hdr->line;
    /* SYNC POINT line: as in ipo__line_forget() (core/src/region.c): a
     * releaser that handed us the turn and then cleared the line is seen,
     * and one that has not cleared it yet fails to, and takes it back. */
    uint32_t cur = ipo_atomic_load_acquire(line);
    while ((cur & IPO_LINE_SLOT_MASK) == i + 1)
        if (ipo_atomic_cas_acq_rel(line, &cur, 0u))
            break;
}

int ipo__line_due(ipo_waker_t *w)
{
    ipo_region_t *r = w->r;
    uint32_t *line = &r->hdr->line;
    /* After our registration cleared wake_pending: a releaser whose ring
     * found it still set took the line before (fence in wake()), and we
     * see the line naming us. */
    ipo_atomic_fence_seq_cst();
    uint32_t cur = ipo_atomic_load_acquire(line);
    while ((cur & IPO_LINE_SLOT_MASK) == r->slot + 1) {
        if (cur & IPO_LINE_DUE)
            return 1;
        /* SYNC POINT line: the release pairs with the acquire load in
         * ipo_handoff_release(): a releaser that reads DUE hands us the
         * turn. */
        if (ipo_atomic_cas_acq_rel(line, &cur, cur | IPO_LINE_DUE))
            return 1;
    }
    return 0;
}

int ipo__line_awake(ipo_waker_t *w, int awake)
{
    ipo_region_t *r = w->r;
    uint32_t *line = &r->hdr->line;
    uint32_t cur = ipo_atomic_load_acquire(line);
    for (;;) {
        if ((cur & (IPO_LINE_SLOT_MASK | IPO_LINE_DUE)) != ((r->slot + 1) | IPO_LINE_DUE))
            return 0; /* off the line: handed (and not rung), taken back, or a death cleared it */
        uint32_t next = awake ? cur | IPO_LINE_AWAKE : cur & ~IPO_LINE_AWAKE;
        /* SYNC POINT line: pairs with the compare-and-swap that clears the
         * line in hand_over(): one of the two comes first, so either the
         * releaser reads AWAKE clear and rings, or we read its 0 (and, by
         * acquire, its handoff, which we then claim). And with the fence
         * and load in wake(): a release that freed the word without
         * handing it over either sees AWAKE clear and rings, or the fence
         * below orders our look at the word after its release. */
        if (cur == next || ipo_atomic_cas_acq_rel(line, &cur, next)) {
            ipo_atomic_fence_seq_cst();
            return 1;
        }
    }
}

void ipo__line_leave(ipo_waker_t *w)
{
    /* The waiter's half of the handshake in line_still_waiting(): our
     * waiting_for is cleared (if it is: another waiter of this process may
     * still wait for access, and then the line stays right) before we look
     * at the line. */
    ipo_atomic_fence_seq_cst();
    line_drop(w->r, w->r->slot);
}

/* wake() gave the line back: the waiter it chose and rang left before it
 * looked (line_still_waiting()). Must it choose another? Any release or
 * pass-on that came meanwhile found the line taken and rang nobody, so
 * stopping here could leave sleepers with a free word and nobody on the
 * way: the loop once stopped after 4 x slots choices, and the model finds
 * that loss (tests/model/waiter.pml, -DBROKEN_CAP). It stops only when
 * nobody needs it: the word held (or handed), because its holder's release
 * looks at the line after releasing and finds it 0 (this load and that
 * release each follow the other side's store with a full fence, so one of
 * them sees the other's), or no sleeper left. Each choice again needs a
 * waiter that registered after its last ring and unregistered while the
 * word stayed free: the loop goes on only while others come and go
 * without taking the free turn. */
static int choose_again(const ipo_region_t *r)
{
    ipo_atomic_fence_seq_cst();
    /* SYNC POINT access word: the fences pair (see above); acquire, as
     * the sleepers' fields read next pair with their registrations. */
    uint64_t word = ipo_atomic_load_acquire(&r->hdr->access);
    return !(word & IPO_ACCESS_OWNER_MASK) && (word & IPO_ACCESS_SLEEPER_MASK);
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
        /* Nobody to ring for messages or a change: no scan. A turn that
         * queued nothing and changed nothing (most, among processes that
         * take turns back to back) would otherwise read every slot's line
         * at each release with sleepers: two thirds of wake()'s time among
         * 16 processes taking turns (perf, issue 12). */
        for (uint32_t i = 0; (messages || changed) && i < n; i++) {
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
    /* One waiter for access on its way at a time (see the top). A due one
     * that a release did not hand the turn to (it registered after that
     * release looked at the word) is rung now, as the word is free, unless
     * it spins: then its own look after it stops spinning finds the word
     * free (ipo__line_awake() and this load: a full fence each, after the
     * store of each side). */
    ipo_atomic_fence_seq_cst();
    /* SYNC POINT line: the fences pair, as above. */
    uint32_t on_line = ipo_atomic_load_relaxed(&r->hdr->line);
    if (on_line & IPO_LINE_DUE) {
        uint32_t i = (on_line & IPO_LINE_SLOT_MASK) - 1;
        if (!(on_line & IPO_LINE_AWAKE) && i < n)
            ring(w, i);
        return;
    }
    if (on_line && !line_stale(on_line))
        return;
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
        if (oldest == UINT32_MAX)
            return;
        uint32_t taken = line_take(w->r, oldest);
        if (!taken)
            return;
        /* The line before the ring's look at wake_pending: a ring
         * coalesced with one the waiter already read is made good by the
         * waiter, which finds the line naming it once registered
         * (ipo__line_due). */
        ipo_atomic_fence_seq_cst();
        if (ring(w, oldest) == GONE) {
            line_drop(w->r, oldest);
            skip[oldest] = 1;
            continue;
        }
        if (line_still_waiting(w->r, oldest, taken) || !choose_again(w->r))
            return;
        /* Not waiting any more: choose again. Not skipped: its ring is
         * pending, which passes it over until it registers again, and then
         * it must be found. */
    }
}

/* Frees a turn handed to slot `to` and not claimed, unless it was claimed
 * (or taken over) meanwhile; rings as a release does. cur: the word as
 * last read. */
static void take_back(ipo_waker_t *w, uint64_t cur, uint64_t to, int changed)
{
    for (;;) {
        if ((cur & IPO_ACCESS_OWNER_MASK) != to)
            return; /* claimed, or taken over: the recipient's now */
        /* SYNC POINT access word: as ipo_access_release(). */
        if (ipo_atomic_cas_acq_rel(&w->r->hdr->access, &cur, cur & ~IPO_ACCESS_OWNER_MASK))
            break;
    }
    if (cur & IPO_ACCESS_SLEEPER_MASK)
        wake(w, changed ? WAKE_CHANGED : WAKE_RELEASED);
}

/* The turn goes to the waiter the line names DUE: 1 when the release is
 * done (handed, or handed and taken back and released), 0 when the caller
 * releases as usual (still holding). cur: the word as last read. */
static int hand_over(ipo_waker_t *w, uint64_t cur, uint32_t line, int changed)
{
    ipo_region_t *r = w->r;
    uint32_t i = (line & IPO_LINE_SLOT_MASK) - 1;
    uint64_t *word = &r->hdr->access;
    if (i >= w->npeers || i == r->slot) {
        line_drop(r, i); /* ours (we hold it), or nonsense: nobody to hand to */
        return 0;
    }
    uint64_t to = IPO_ACCESS_HANDED | ((uint64_t)i + 1);
    /* We hold the turn: only sleepers coming and going change the word.
     * SYNC POINT access word: the release pairs with the recipient's
     * compare-and-swap in ipo_access_claim() (or a takeover's), as a
     * release's pairs with the next acquire; the acquire sees sleepers'
     * registrations, as in ipo_access_release(). */
    uint64_t next;
    do
        next = ((cur & ~IPO_ACCESS_OWNER_MASK) | to) + IPO_ACCESS_COUNT_ONE;
    while (!ipo_atomic_cas_acq_rel(word, &cur, next));
    /* A releaser killed here leaves the turn handed and the line naming its
     * recipient, who claims it as it would have anyway (or, dead too, is
     * taken over). */
    IPO_CRASH_SITE("handoff");
    /* The line back to 0, so that the next release may ring the next
     * waiter. If the recipient left meanwhile (or a death cleared the
     * line), it may never claim: take the turn back. */
    uint32_t expect = line;
    while (!ipo_atomic_cas_acq_rel(&r->hdr->line, &expect, 0u)) {
        /* Only its AWAKE changed (it went to sleep, or woke to spin): the
         * same waiter, still due; the value we clear says whether to ring. */
        if ((expect & IPO_LINE_SLOT_MASK) != (line & IPO_LINE_SLOT_MASK) ||
            ((line & IPO_LINE_DUE) && !(expect & IPO_LINE_DUE))) {
            take_back(w, next, to, changed);
            return 1;
        }
    }
    line = expect;
    /* A waiter only rung (the rotation's handoff, not due): the line that
     * named it may have been put back by another releaser's wake() after
     * it left (cancelled: its pass_on ran before our handoff, saw the turn
     * held, and it will never look again), so the slot on the line proves
     * nothing. Look whether the slot still waits for access: each side
     * stores, then loads what the other stores, with a full fence between
     * (here: the handed word, then waiting_for; the waiter: waiting_for in
     * ipo__sleeper_unregister(), then the word in ipo__handoff_pass_on()),
     * so either we see it gone and take the turn back, or it sees the turn
     * handed and claims it; the claim's and take_back()'s compare-and-swaps
     * settle who. */
    if (!(line & IPO_LINE_DUE)) {
        ipo_atomic_fence_seq_cst();
        /* SYNC POINT waiting_for: the fences pair (see above). */
        if (!(ipo_atomic_load_relaxed(&r->slots[i].waiting_for) & IPO_WAIT_FOR_ACCESS)) {
            take_back(w, next, to, changed);
            return 1;
        }
    }
    /* Wake it (asleep, or about to be), unless it said it spins for the
     * turn (ipo__line_awake): it claims without a ring then. If nobody
     * reads its doorbell it is gone: take the turn back. Then whoever waits
     * for messages or a change; the line is free, so the next waiter for
     * access is rung too: it will be due after this turn. */
    if (!(line & IPO_LINE_AWAKE) && ring(w, i) == GONE) {
        take_back(w, next, to, changed);
        return 1;
    }
    wake(w, changed ? WAKE_CHANGED : WAKE_RELEASED);
    return 1;
}

/* ---- rotation: a run of turns lasts a slice while others wait -------------------- */

/* A participant that takes turns back to back (a loop around a short turn)
 * wins the word against waiters that slept: it runs, they must be scheduled
 * first. Each of its releases with sleepers hands a turn to a waiter only
 * when one came back due. So a run of turns while others sleep ends after
 * a slice: the releaser hands the turn to the waiter on the line (the
 * oldest sleeper, rung) even if it has not come back yet, and its own next
 * wait sleeps at once, at the back of the line (waiter.c). Every waiter so
 * gets its slice in the order of its ticket: over a second, the same share
 * of turns, whatever the scheduler did. The slice is long against a wakeup
 * (tens of microseconds), so rotation costs a few per cent of the turns,
 * and short against a second, so shares even out within one. */
#define RUN_SLICE_NS 1000000
/* The clock is read once per this many releases with sleepers (a read costs
 * about a short turn). */
#define RUN_LOOK_EVERY 16u

/* Whether this participant's run of turns while others sleep has lasted a
 * slice. Only the holder calls it: the fields are its process's own. */
static int run_lasted(ipo_waker_t *w)
{
    if (w->run_over)
        return 1;
    if (++w->run_turns % RUN_LOOK_EVERY)
        return 0;
    int64_t now = ipo_now_ns();
    if (!w->run_since)
        w->run_since = now;
    else if (now - w->run_since >= RUN_SLICE_NS)
        w->run_over = 1;
    return (int)w->run_over;
}

static void run_end(ipo_waker_t *w)
{
    w->run_since = 0;
    w->run_turns = 0;
    w->run_over = 0;
}

void ipo__run_end(ipo_waker_t *w)
{
    run_end(w);
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
    uint64_t cur = ipo_atomic_load_relaxed(&r->hdr->access);
    if (cur & IPO_ACCESS_SLEEPER_MASK) {
        /* SYNC POINT line: pairs with the release of the compare-and-swap
         * in ipo__line_due(). */
        uint32_t line = ipo_atomic_load_acquire(&r->hdr->line);
        if ((line & IPO_LINE_DUE) && hand_over(w, cur, line, changed))
            return changes;
        /* The run's end: the turn goes to the waiter rung, not back to us. */
        if (line && !(line & IPO_LINE_DUE) && run_lasted(w) && !line_stale(line) &&
            hand_over(w, cur, line, changed)) {
            run_end(w);
            __atomic_store_n(&w->yielded, 1u, __ATOMIC_RELAXED); /* read by waiter.c, this process */
            return changes;
        }
    }
    uint64_t old = ipo_access_release(r);
    if (old & IPO_ACCESS_SLEEPER_MASK)
        wake(w, changed ? WAKE_CHANGED : WAKE_RELEASED);
    return changes;
}

void ipo__handoff_pass_on(ipo_waker_t *w)
{
    /* A turn handed to this participant that no waiter of it will use now:
     * claim it and release it, which hands it on or frees it. */
    if (ipo_access_handed(w->r) && ipo_access_claim(w->r)) {
        ipo_handoff_release(w);
        return;
    }
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
    if (died) {
        /* The waiter on the line may be the dead one (never back, or due and
         * never claiming), or the releaser that was to ring it: free the
         * line, so that the next release rings somebody. A live waiter so
         * dropped only loses its due turn; a releaser handing it the turn
         * right now takes it back (hand_over). SYNC POINT line: pairs with
         * the acquire loads of the line. */
        ipo_atomic_exchange_acq_rel(&w->r->hdr->line, 0u);
    }
    return died;
}

/* ---- registering ---------------------------------------------------------------- */

static int wait_over(const ipo_region_t *r, uint32_t what, uint64_t word, uint64_t since)
{
    /* The change count is read after the registration, which acquired what
     * the last releaser published (the count included). */
    if ((what & IPO_WAIT_FOR_CHANGE) && ipo_change_count(r) != since)
        return 1;
    /* A turn handed to us (by a release that read us due before we
     * registered again, and whose ring coalesced with one we had read):
     * over, the claim is ours to make. */
    if ((what & IPO_WAIT_FOR_ACCESS) &&
        (word & IPO_ACCESS_OWNER_MASK) == (IPO_ACCESS_HANDED | r->access_mine))
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

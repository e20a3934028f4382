/* core/include/ipo/access.h — the access handoff: one participant at a time holds the region. */
#ifndef IPO_ACCESS_H
#define IPO_ACCESS_H

#include <stdint.h>

#include "ipo/atomics.h"
#include "ipo/region.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether this participant holds access. One relaxed load: a participant's
 * own stores to the word are always visible to itself, and no other
 * participant can write our slot number into it. */
static inline int ipo_access_held(const ipo_region_t *r)
{
    return (ipo_atomic_load_relaxed(&r->hdr->access) & IPO_ACCESS_OWNER_MASK) == r->access_mine;
}

/* One compare-and-swap (more only while sleepers come and go); 1 when
 * access was taken, 0 when someone holds it (or a releaser handed it to a
 * waiter: a handed turn is not free, so nobody barges in). No system call. SYNC POINT
 * access word: the acquire of this compare-and-swap pairs with the
 * fetch-and in ipo_access_release(), so the previous holder's writes are
 * visible once this returns 1. */
static inline int ipo_access_try_acquire(ipo_region_t *r)
{
    uint64_t *word = &r->hdr->access;
    uint64_t cur = ipo_atomic_load_relaxed(word);
    /* The sleeper count rides along in the word: a sleeper registering or
     * leaving meanwhile makes the compare fail with access still free, and
     * that must not read as "held", or a waiter would go to sleep on a free
     * word that nobody will release (a failed swap reloads cur). */
    while (!(cur & IPO_ACCESS_OWNER_MASK)) {
        uint64_t next = (cur + IPO_ACCESS_COUNT_ONE) | r->access_mine;
        if (ipo_atomic_cas_acquire(word, &cur, next)) {
            /* SYNC POINT slot turns: a statistic for tools, which read it
             * without access (relaxed); only the occupant writes it. */
            ipo_atomic_store_relaxed(&r->me->turns, ipo_atomic_load_relaxed(&r->me->turns) + 1);
            return 1;
        }
    }
    return 0;
}

/* Claims a turn a releaser handed to this participant (the owner field is
 * IPO_ACCESS_HANDED with our slot): one compare-and-swap that drops the
 * flag, after which ipo_access_held() is true. 1 when claimed, 0 when no
 * turn is handed to us (or the releaser took it back first, see
 * ipo_handoff_release()). The acquisition count moved with the handoff.
 * SYNC POINT access word: the acquire pairs with the releaser's
 * compare-and-swap that handed the turn (loop/src/handoff.c), so the
 * previous holder's writes are visible, as after ipo_access_try_acquire(). */
static inline int ipo_access_claim(ipo_region_t *r)
{
    uint64_t *word = &r->hdr->access;
    uint64_t cur = ipo_atomic_load_relaxed(word);
    while ((cur & IPO_ACCESS_OWNER_MASK) == (IPO_ACCESS_HANDED | r->access_mine)) {
        if (ipo_atomic_cas_acquire(word, &cur, cur & ~IPO_ACCESS_HANDED)) {
            /* SYNC POINT slot turns: as in ipo_access_try_acquire(). */
            ipo_atomic_store_relaxed(&r->me->turns, ipo_atomic_load_relaxed(&r->me->turns) + 1);
            return 1;
        }
    }
    return 0;
}

/* Whether a releaser has handed this participant a turn it has not claimed
 * yet. One relaxed load, as ipo_access_held(). */
static inline int ipo_access_handed(const ipo_region_t *r)
{
    return (ipo_atomic_load_relaxed(&r->hdr->access) & IPO_ACCESS_OWNER_MASK) ==
           (IPO_ACCESS_HANDED | r->access_mine);
}

/* One atomic read-modify-write: clears the owner, publishing every write
 * made while holding access (release), and gives the word as it was, whose
 * sleeper count says whether anyone must be woken (acquire: their published
 * waiting_for fields are visible). The caller must hold access. The wakeup
 * layer's ipo_handoff_release() rings the sleepers; this does not.
 * SYNC POINT access word: the release pairs with the next holder's
 * compare-and-swap in ipo_access_try_acquire(); the acquire pairs with the
 * registrations in ipo__sleeper_register() (loop/src/handoff.c) and the
 * take-back in take_back_sleepers() (core/src/region.c), so wake() reads
 * the waiting_for they published or cleared. */
static inline uint64_t ipo_access_release(ipo_region_t *r)
{
    return ipo_atomic_fetch_and_acq_rel(&r->hdr->access, ~IPO_ACCESS_OWNER_MASK);
}

/* Monotonic clock in nanoseconds: the time base of deadlines of waits for
 * access. The core itself never waits: it offers the one compare-and-swap
 * and the release above, and waiting (spin, then sleep on the doorbell) is
 * the job of the waiter in loop/. */
int64_t ipo_now_ns(void);

/* The monotonic clock at its coarse resolution (a tick, some ms): cheaper
 * than ipo_now_ns(), the same time base (CLOCK_MONOTONIC's) as every
 * process's. For the queue's stamps of when messages were put. */
int64_t ipo_coarse_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* IPO_ACCESS_H */

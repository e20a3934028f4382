/* loop/include/ipo/handoff.h — a participant's doorbell and the ringing side of the handoff. */
#ifndef IPO_HANDOFF_H
#define IPO_HANDOFF_H

#include <pthread.h>
#include <stdint.h>

#include "ipo/access.h"
#include "ipo/deathwatch.h"
#include "ipo/notify.h"
#include "ipo/queue.h"
#include "ipo/region.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A peer's doorbell, opened once and kept while the peer's slot keeps its
 * generation. */
typedef struct ipo_peer_bell {
    int      fd;
    uint32_t generation;
} ipo_peer_bell_t;

/* The registration of one waiter (ipo_waiter_t, waiter.h) of this process.
 * The process has one doorbell, and a pipe is no broadcast: whichever
 * waiter reads a ring from it passes it on to the others through their
 * eventfds, so that no waiter of the process misses a ring another read.
 * Managed by the waiter; a caller never touches it. */
typedef struct ipo_sleeper {
    struct ipo_sleeper *next;
    int      efd;       /* readable when another waiter of this process read a ring */
    uint32_t what;      /* IPO_WAIT_FOR_* it is registered for; 0 when not registered */
    uint32_t passed;    /* a ring was written to efd while registered (under the waker's
                         * lock): only then does its unregistration read efd */
} ipo_sleeper_t;

/* A participant's side of the wakeup protocol: its own doorbell, the
 * registrations of its waiters, and the doorbells of peers it has rung.
 * One per attached region handle; waiters (waiter.h) wait through it. */
typedef struct ipo_waker {
    ipo_region_t    *r;
    ipo_doorbell_t   bell;
    ipo_peer_bell_t *peers;        /* by slot */
    uint32_t         npeers;
    pthread_mutex_t  lock;         /* guards the sleepers, the counts and the peer table */
    ipo_sleeper_t   *sleepers;     /* registered waiters of this process */
    uint32_t         nsleepers;    /* how many */
    uint32_t         waiting[3];   /* of them, by IPO_WAIT_FOR_* bit */
    ipo_deathwatch_t watch;        /* the other participants' pidfds, under `lock` */
    int              spare_efd;    /* an eventfd a finished waiter left for the next
                                    * (read empty), or -1; under `lock` (waiter.c) */
    /* This participant's run of turns while others sleep (handoff.c's
     * rotation); touched only by the thread that holds access. A run ends
     * when it hands the turn on, or when a wait of this process that
     * registered (slept, or nearly) takes the turn. */
    int64_t          run_since;    /* ipo_now_ns() at its first look at the clock, 0: none yet */
    uint32_t         run_turns;    /* releases with sleepers in it, for reading the clock rarely */
    uint32_t         run_over;     /* it lasted a slice: the next release with a waiter rung hands on */
    uint32_t         yielded;      /* handed its turn on at the run's end: the next wait sleeps
                                    * at once (waiter.c), at the back of the line */
} ipo_waker_t;

/* Waiters of one process registered at once, at most: the access word
 * counts sleepers in 16 bits, which IPO_MAX_SLOTS processes times this
 * cannot overflow (1024 x 63 < 65536). */
#define IPO_WAITERS_MAX 63u

/* Opens this participant's doorbell. 0 or a negative IPO_E* code. */
int ipo_waker_init(ipo_waker_t *w, ipo_region_t *r);

/* Unregisters whatever waiters are left (passing on a ring they had),
 * counts this participant's leaving as a change and rings the waiters for
 * one (they may wait for somebody who is no longer there), closes and
 * removes the doorbell. */
void ipo_waker_fini(ipo_waker_t *w);

/* For a copy inherited across fork(): closes descriptors, removes nothing
 * and touches no shared word (the doorbell belongs to the parent). */
void ipo_waker_abandon(ipo_waker_t *w);

/* Releases access and rings whoever it lets go on: the longest waiter for
 * access not rung yet, every waiter for messages when the queue holds some,
 * and, if this turn changed shared state (ipo_region_mark_changed), every
 * waiter for a change, after counting the change in the header. The
 * caller must hold access. Gives the change count as of this release. */
uint64_t ipo_handoff_release(ipo_waker_t *w);

/* One attempt to take access, with no system call: for any turn
 * (messages == 0), or only while a message is queued (messages != 0).
 * 1 when this participant holds access now. This is the one "try" of the
 * project: the waiter (waiter.h) uses it, and so may a caller's fast path
 * before it makes a waiter. */
static inline int ipo_handoff_try(ipo_waker_t *w, int messages)
{
    ipo_region_t *r = w->r;
    if (messages && !ipo_queue_length(r))
        return 0;
    if (!ipo_access_try_acquire(r))
        return 0;
    /* Another consumer may have taken the last message between our look
     * and our acquire: look again under access, and give the turn back
     * (ringing whoever registered meanwhile) if it was for nothing. */
    if (messages && !ipo_queue_length(r)) {
        ipo_handoff_release(w);
        return 0;
    }
    return 1;
}

/* The access word's acquisition count: it moves with every turn. */
static inline uint64_t ipo_access_count(const ipo_region_t *r)
{
    /* SYNC POINT access word: pairs with the fetch-and in
     * ipo_access_release(): a count read here is one a holder published. */
    return ipo_atomic_load_acquire(&r->hdr->access) >> IPO_ACCESS_COUNT_SHIFT;
}

/* The count of changes (turns that changed shared state, participants
 * that left), for IPO_WAIT_FOR_CHANGE. */
static inline uint64_t ipo_change_count(const ipo_region_t *r)
{
    /* SYNC POINT changes: pairs with the fetch-adds in
     * ipo_handoff_release() and waker_release(), published by the release
     * of the access word (or made atomically by a leaver). */
    return ipo_atomic_load_acquire(&r->hdr->changes);
}

#ifdef __cplusplus
}
#endif

#endif /* IPO_HANDOFF_H */

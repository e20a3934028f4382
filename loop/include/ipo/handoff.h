/* loop/include/ipo/handoff.h — waiting without burning a core: sleep on the doorbell, wake on release. */
#ifndef IPO_HANDOFF_H
#define IPO_HANDOFF_H

#include <pthread.h>
#include <stdint.h>

#include "ipo/access.h"
#include "ipo/notify.h"
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

/* One waiting thread or event loop of this process. The process has one
 * doorbell, and a pipe is no broadcast: whichever sleeper reads a ring from
 * it passes it on to the others through their eventfds, so that no sleeper
 * of the process misses a ring another one read. */
typedef struct ipo_sleeper {
    struct ipo_sleeper *next;
    int      efd;       /* readable when another sleeper of this process read a ring */
    uint32_t what;      /* IPO_WAIT_FOR_* it is registered for; 0 when not registered */
} ipo_sleeper_t;

/* A participant's side of the wakeup protocol: its own doorbell, its
 * sleepers, and the doorbells of peers it has rung. */
typedef struct ipo_waker {
    ipo_region_t    *r;
    ipo_doorbell_t   bell;
    ipo_peer_bell_t *peers;        /* by slot */
    uint32_t         npeers;
    pthread_mutex_t  lock;         /* guards the sleepers, the counts and the peer table */
    ipo_sleeper_t   *sleepers;     /* registered sleepers of this process */
    uint32_t         waiting[3];   /* of them, by IPO_WAIT_FOR_* bit */
} ipo_waker_t;

/* The spin budget before a waiter sleeps (ipo_handoff_acquire). */
#define IPO_SPIN_NS_DEFAULT 50000

/* Opens this participant's doorbell. 0 or a negative IPO_E* code. */
int ipo_waker_init(ipo_waker_t *w, ipo_region_t *r);

/* Unregisters whatever sleepers are left, closes and removes the doorbell. */
void ipo_waker_fini(ipo_waker_t *w);

/* For a copy inherited across fork(): closes descriptors, removes nothing
 * and touches no shared word (the doorbell belongs to the parent). */
void ipo_waker_abandon(ipo_waker_t *w);

int ipo_sleeper_init(ipo_sleeper_t *s);
void ipo_sleeper_fini(ipo_sleeper_t *s);

/* Waits for `what` (IPO_WAIT_FOR_ACCESS, or IPO_WAIT_FOR_MESSAGES: a message
 * and access) until deadline_ns (negative: none): spins for spin_ns, then
 * sleeps on the doorbell. A sleep ends no later than wake_by_ns (negative:
 * deadline only), so a caller can run signal handlers. 0 when access is
 * held, -IPO_ETIMEDOUT at the deadline, -IPO_EAGAIN at wake_by_ns or on a
 * signal. */
int ipo_handoff_acquire(ipo_waker_t *w, uint32_t what, int64_t deadline_ns,
                        int64_t wake_by_ns, int64_t spin_ns);

/* Releases access and rings whoever it lets go on: the longest waiter for
 * access not rung yet, every waiter for messages when the queue holds some,
 * every waiter for a release. */
void ipo_handoff_release(ipo_waker_t *w);

/* For event loops, which poll the doorbell (ipo_notify_fd) and the
 * sleeper's eventfd themselves. Register as a sleeper for `what` (and,
 * for IPO_WAIT_FOR_RELEASE, since_count: the acquisition count seen at the
 * last release): 1 when registered (sleep until either descriptor is
 * readable, then unregister), 0 when there is nothing to wait for,
 * -IPO_EINVAL when the sleeper is registered already. */
int ipo_handoff_register(ipo_waker_t *w, ipo_sleeper_t *s, uint32_t what, uint64_t since_count);

/* Ends a registration (or, for a sleeper not registered, just reads what
 * woke it): empties the doorbell, passing a ring read there on to the
 * process's other sleepers, and the sleeper's eventfd. 1 when a ring was
 * read from the doorbell: a caller that will not take access then owes
 * ipo_handoff_pass_on(), since the ring may have been someone's turn. */
int ipo_handoff_unregister(ipo_waker_t *w, ipo_sleeper_t *s);

/* Hands a ring this process read but will not use to the next waiter. */
void ipo_handoff_pass_on(ipo_waker_t *w);

/* The access word's acquisition count, for IPO_WAIT_FOR_RELEASE. */
static inline uint64_t ipo_access_count(const ipo_region_t *r)
{
    return ipo_atomic_load_acquire(&r->hdr->access) >> IPO_ACCESS_COUNT_SHIFT;
}

#ifdef __cplusplus
}
#endif

#endif /* IPO_HANDOFF_H */

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

/* A participant's side of the wakeup protocol: its own doorbell, what its
 * sleepers wait for, and the doorbells of peers it has rung. */
typedef struct ipo_waker {
    ipo_region_t    *r;
    ipo_doorbell_t   bell;
    ipo_peer_bell_t *peers;        /* by slot */
    uint32_t         npeers;
    pthread_mutex_t  lock;         /* guards the counts and the peer table */
    uint32_t         waiting[3];   /* sleepers of this process by IPO_WAIT_FOR_* bit */
} ipo_waker_t;

/* The spin budget before a waiter sleeps (ipo_handoff_acquire). */
#define IPO_SPIN_NS_DEFAULT 50000

/* Opens this participant's doorbell. 0 or a negative IPO_E* code. */
int ipo_waker_init(ipo_waker_t *w, ipo_region_t *r);
void ipo_waker_fini(ipo_waker_t *w);

/* For a copy inherited across fork(): closes descriptors, removes nothing
 * (the doorbell belongs to the parent). */
void ipo_waker_abandon(ipo_waker_t *w);

/* Waits for `what` (IPO_WAIT_FOR_ACCESS, or IPO_WAIT_FOR_MESSAGES: a message
 * and access) until deadline_ns (negative: none): spins for spin_ns, then
 * sleeps on the doorbell. A sleep ends no later than wake_by_ns (negative:
 * deadline only), so a caller can run signal handlers. 0 when access is
 * held, -IPO_ETIMEDOUT at the deadline, -IPO_EAGAIN at wake_by_ns. */
int ipo_handoff_acquire(ipo_waker_t *w, uint32_t what, int64_t deadline_ns,
                        int64_t wake_by_ns, int64_t spin_ns);

/* Releases access and rings whoever it lets go on: the longest waiter for
 * access, every waiter for messages when the queue holds some, every
 * waiter for a release. */
void ipo_handoff_release(ipo_waker_t *w);

/* For event loops, which poll the doorbell themselves: register as a
 * sleeper for `what` (and since_count, for IPO_WAIT_FOR_RELEASE: the
 * acquisition count seen at the last release), or find the wait over
 * already. 1 when registered (sleep until the doorbell is readable, then
 * call ipo_handoff_unregister), 0 when there is nothing to wait for. */
int ipo_handoff_register(ipo_waker_t *w, uint32_t what, uint64_t since_count);
void ipo_handoff_unregister(ipo_waker_t *w, uint32_t what);

/* The access word's acquisition count, for IPO_WAIT_FOR_RELEASE. */
static inline uint64_t ipo_access_count(const ipo_region_t *r)
{
    return ipo__load_acquire(&r->hdr->access) >> IPO_ACCESS_COUNT_SHIFT;
}

#ifdef __cplusplus
}
#endif

#endif /* IPO_HANDOFF_H */

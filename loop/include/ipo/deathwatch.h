/* loop/include/ipo/deathwatch.h — learning from the kernel that another participant died. */
#ifndef IPO_DEATHWATCH_H
#define IPO_DEATHWATCH_H

#include <stdint.h>

#include "ipo/region.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One pidfd per other live participant, gathered in one epoll descriptor
 * that turns readable when any of them exits. A sleeping waiter polls it
 * beside its doorbell, so a holder that dies in its turn (or a releaser
 * that dies between marking a ring pending and ringing) wakes the waiters
 * at once, from the kernel, instead of at a time-out. A stopped process
 * (SIGSTOP) has not exited: its pidfd stays quiet. Each pidfd is opened
 * for the pid a slot names and checked against the slot's start time, so a
 * reused pid is not mistaken for the participant. One per waker (process
 * and region); its owner serialises calls. */
typedef struct ipo_deathwatch {
    int       epfd;        /* -1 when pidfds are unavailable (pre-5.3 kernel, seccomp) */
    uint32_t  n;           /* slots */
    uint64_t  attaches;    /* the header's attach_count when last synced */
    uint32_t  tools;       /* the header's tool_attaches when last synced */
    int       synced;
    uint64_t  inode;       /* the region file's: names the dead ones' doorbells */
    struct ipo_watched {
        int      pidfd;    /* -1 when not watched */
        uint32_t generation;
        uint32_t dead_generation; /* the occupant known dead, not watched again */
        uint32_t dead_known;
    } *slots;
} ipo_deathwatch_t;

/* Makes the epoll descriptor (no pidfd yet). 0, or -IPO_ESYS (out of
 * memory); a kernel without pidfds or epoll leaves epfd at -1 and answers
 * 0: waits then fall back on their periodic wake. */
int ipo_deathwatch_init(ipo_deathwatch_t *dw, const ipo_region_t *r);
void ipo_deathwatch_fini(ipo_deathwatch_t *dw);

/* The descriptor to poll, or -1. */
static inline int ipo_deathwatch_fd(const ipo_deathwatch_t *dw)
{
    return dw->epfd;
}

/* Whether slot i's occupant is watched: its death will make the
 * descriptor readable. Its owner's lock held, as for the calls below. */
static inline int ipo_deathwatch_watching(const ipo_deathwatch_t *dw, uint32_t i)
{
    return dw->epfd >= 0 && dw->slots && i < dw->n && dw->slots[i].pidfd >= 0;
}

/* Watches every other participant the slot table shows, when participants
 * came since the last call (the header's attach count moved) or on the
 * first call; cheap otherwise (one load). 1 when one was found dead
 * already (its pid gone, or now another process's), else 0. */
int ipo_deathwatch_sync(ipo_deathwatch_t *dw, const ipo_region_t *r);

/* Reads what the epoll descriptor reported, without waiting, and stops
 * watching those that died. 1 when one died, else 0. */
int ipo_deathwatch_collect(ipo_deathwatch_t *dw);

#ifdef __cplusplus
}
#endif

#endif /* IPO_DEATHWATCH_H */

/* loop/src/deathwatch.c — pidfds of the other participants, in one pollable epoll descriptor. */
#define _GNU_SOURCE
#include "ipo/deathwatch.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipo/errors.h"
#include "ipo/notify.h"
#include "ipo/recover.h"

static int pidfd_open_(int pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int ipo_deathwatch_init(ipo_deathwatch_t *dw, const ipo_region_t *r)
{
    dw->n = r->slot_count;
    dw->attaches = 0;
    dw->synced = 0;
    dw->inode = r->inode;
    dw->slots = calloc(dw->n, sizeof(*dw->slots));
    if (!dw->slots) {
        dw->epfd = -1;
        errno = ENOMEM;
        return -IPO_ESYS;
    }
    for (uint32_t i = 0; i < dw->n; i++)
        dw->slots[i].pidfd = -1;
    dw->epfd = epoll_create1(EPOLL_CLOEXEC);
    return 0;
}

static void unwatch(ipo_deathwatch_t *dw, uint32_t i)
{
    if (dw->slots[i].pidfd < 0)
        return;
    /* Out of the set before closing: epoll watches the open file, not the
     * descriptor, and a child of fork() may hold a copy of the pidfd, so a
     * close alone would leave the dead process reported for ever (and
     * ipo_deathwatch_collect() looping on it: test_ring_crash's releasers,
     * forked after the watch took in their predecessors, found that). */
    if (dw->epfd >= 0)
        epoll_ctl(dw->epfd, EPOLL_CTL_DEL, dw->slots[i].pidfd, NULL);
    close(dw->slots[i].pidfd);
    dw->slots[i].pidfd = -1;
}

void ipo_deathwatch_fini(ipo_deathwatch_t *dw)
{
    if (dw->slots) {
        for (uint32_t i = 0; i < dw->n; i++)
            unwatch(dw, i);
        free(dw->slots);
        dw->slots = NULL;
    }
    if (dw->epfd >= 0)
        close(dw->epfd);
    dw->epfd = -1;
}

static void mark_dead(ipo_deathwatch_t *dw, uint32_t i, uint32_t generation)
{
    unwatch(dw, i);
    /* Its doorbell goes now, not at the next sweep: nobody reads it any
     * more (the check is the sweep's: a doorbell with a reader stays). */
    if (!dw->slots[i].dead_known || dw->slots[i].dead_generation != generation)
        ipo_notify_remove_dead(dw->inode, i, generation);
    dw->slots[i].dead_generation = generation;
    dw->slots[i].dead_known = 1;
}

/* Starts watching slot i's occupant; 1 when it is dead already. */
static int watch(ipo_deathwatch_t *dw, const ipo_region_t *r, uint32_t i, uint32_t generation)
{
    const ipo_slot_t *s = r->slots + i;
    /* Relaxed: read after the acquire load of generation in the caller,
     * which pairs with ipo__occupy_slot()'s store-release of it, so they are the
     * occupant's of that generation (or a later one's, which the generation
     * read again below tells). */
    int pid = (int)ipo_atomic_load_relaxed(&s->pid);
    uint64_t start = ipo_atomic_load_relaxed(&s->start_time);
    if (pid <= 0)
        return 0;
    int fd = pidfd_open_(pid);
    if (fd < 0) {
        if (errno == ESRCH) {
            mark_dead(dw, i, generation);
            return 1;
        }
        return 0; /* EPERM, EMFILE...: not watched; the periodic wake covers it */
    }
    /* The pid may be another process's by now: its start time tells. */
    if (start && ipo_process_start_time(pid) != start) {
        close(fd);
        mark_dead(dw, i, generation);
        return 1;
    }
    /* SYNC POINT slot generation: pairs with the store-release in
     * ipo__occupy_slot(); a new occupant meanwhile means this pid may be its
     * predecessor's: leave it to the next sync. */
    if (ipo_atomic_load_acquire(&s->generation) != generation) {
        close(fd);
        return 0;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
    if (epoll_ctl(dw->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        return 0;
    }
    dw->slots[i].pidfd = fd;
    dw->slots[i].generation = generation;
    return 0;
}

int ipo_deathwatch_sync(ipo_deathwatch_t *dw, const ipo_region_t *r)
{
    if (dw->epfd < 0)
        return 0;
    /* SYNC POINT attach count: pairs with the fetch-add-release in
     * ipo_region_attach(), made after the newcomer filled its slot. */
    uint64_t attaches = ipo_atomic_load_acquire(&r->hdr->attach_count);
    /* SYNC POINT attach count: a tool's (ipo_region_attach()), likewise. */
    uint32_t tools = ipo_atomic_load_acquire(&r->hdr->tool_attaches);
    if (dw->synced && attaches == dw->attaches && tools == dw->tools)
        return 0;
    dw->synced = 1;
    dw->attaches = attaches;
    dw->tools = tools;
    int dead = 0;
    for (uint32_t i = 0; i < dw->n; i++) {
        if (i == r->slot)
            continue;
        const ipo_slot_t *s = r->slots + i;
        /* SYNC POINT slot generation: as in watch(). */
        uint32_t generation = ipo_atomic_load_acquire(&s->generation);
        if (ipo_atomic_load_relaxed(&s->state) != IPO_SLOT_ACTIVE) {
            unwatch(dw, i);
            continue;
        }
        struct ipo_watched *wd = &dw->slots[i];
        if (wd->pidfd >= 0 && wd->generation == generation)
            continue;
        if (wd->dead_known && wd->dead_generation == generation)
            continue;
        unwatch(dw, i);
        dead |= watch(dw, r, i, generation);
    }
    return dead;
}

int ipo_deathwatch_collect(ipo_deathwatch_t *dw)
{
    if (dw->epfd < 0)
        return 0;
    struct epoll_event evs[16];
    int died = 0, n;
    while ((n = epoll_wait(dw->epfd, evs, 16, 0)) > 0) {
        for (int k = 0; k < n; k++) {
            uint32_t i = evs[k].data.u32;
            if (i < dw->n)
                mark_dead(dw, i, dw->slots[i].generation);
        }
        died = 1;
    }
    return died;
}

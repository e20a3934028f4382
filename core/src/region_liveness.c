/* core/src/region_liveness.c — liveness: one OFD lock byte per slot, the kernel's word on who is alive. */
#define _GNU_SOURCE
#include "ipo/region.h"

#include <fcntl.h>
#include <string.h>

#include "internal.h"
#include "ipo/atomics.h"
#include "ipo/layout.h"

static struct flock liveness_range(short type, uint32_t first_slot, uint32_t n)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)(IPO_LIVENESS_LOCK_BASE + first_slot);
    fl.l_len = (off_t)n;
    return fl;
}

/* Takes slot's liveness lock without waiting: 0, or -1 when a live process holds it. */
static int slot_lock(int fd, uint32_t slot)
{
    struct flock fl = liveness_range(F_WRLCK, slot, 1);
    return fcntl(fd, F_OFD_SETLK, &fl);
}

static void slot_unlock(int fd, uint32_t slot)
{
    struct flock fl = liveness_range(F_UNLCK, slot, 1);
    fcntl(fd, F_OFD_SETLK, &fl);
}

/* Whether another open file description holds a lock on slots [first, first + n). */
int ipo__slot_trylock(int fd, uint32_t slot)
{
    return slot_lock(fd, slot);
}

void ipo__slot_unlock(int fd, uint32_t slot)
{
    slot_unlock(fd, slot);
}

static int locks_held(int fd, uint32_t first, uint32_t n)
{
    struct flock fl = liveness_range(F_WRLCK, first, n);
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return 1; /* cannot tell: assume alive, never remove a live region */
    return fl.l_type != F_UNLCK;
}

int ipo__liveness_held(int fd, uint32_t first, uint32_t n)
{
    return locks_held(fd, first, n);
}

int ipo__slot_lock_held(int fd, uint32_t slot)
{
    return locks_held(fd, slot, 1);
}

int ipo_region_peers_alive(const ipo_region_t *r)
{
    if (r->fd < 0 || !r->hdr)
        return 1;
    /* Our own open file description's lock does not conflict with itself,
     * so one test over every slot's byte finds any other holder. */
    return locks_held(r->fd, 0, r->slot_count);
}

unsigned ipo_region_consumers_alive(const ipo_region_t *r)
{
    unsigned alive = 0;
    if (r->fd < 0 || !r->hdr)
        return 0;
    for (uint32_t i = 1; i < r->slot_count; i++)
        alive += locks_held(r->fd, i, 1) ? 1u : 0u;
    return alive;
}

int ipo_region_creator_alive(ipo_region_t *r)
{
    if (r->is_creator || r->fd < 0 || !r->hdr)
        return 1;
    /* Relaxed, process-local: threads sharing the handle may both look; a
     * dead creator stays dead, so any of them may set it. */
    if (ipo_atomic_load_relaxed(&r->creator_gone))
        return 0;
    /* Slot 0 is the creator's, and only its creator ever holds its lock:
     * attachers take slots from 1, and a new creator makes a new file. */
    if (locks_held(r->fd, 0, 1))
        return 1;
    ipo_atomic_store_relaxed(&r->creator_gone, 1);
    return 0;
}

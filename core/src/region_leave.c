/* core/src/region_leave.c — leaving a region: closing it, detaching (the name removed by the last one out), unmapping. */
#define _GNU_SOURCE
#include "ipo/region.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "ipo/access.h"
#include "ipo/atomics.h"
#include "region_internal.h"

void ipo_region_begin_close(ipo_region_t *r)
{
    /* Relaxed: an attacher that reads CLOSING (the acquire load of state in
     * ipo_region_attach()) gives up without reading anything else, so this
     * store publishes nothing. */
    if (r->is_creator && r->hdr)
        ipo_atomic_store_relaxed(&r->hdr->state, (uint32_t)IPO_STATE_CLOSING);
}

void ipo_region_detach(ipo_region_t *r)
{
    if (!r->joined)
        return;
    r->joined = 0;
    /* A child of fork() holds a copy of the parent's handle: the slot, the
     * access and the name are the parent's, and the child touches none. */
    if (!ipo__handle_is_ours(r)) {
        r->me = NULL;
        return;
    }
    /* Leaving while holding access would hang every other participant. This
     * release rings no sleeper (the core has no doorbells): a caller with a
     * waker releases through ipo_handoff_release() before detaching. */
    if (ipo_access_held(r))
        ipo_access_release(r);
    ipo__pins_abandon(r);
    /* For a process the slot is handed on by its lock (ipo__slot_unlock below,
     * which the kernel orders before the next claimer's ipo__slot_trylock); the
     * release serves a handle joined in process memory, whose next claimer
     * is the compare-and-swap in ipo_region_join() (SYNC POINT slot claim). */
    ipo_atomic_store_release(&r->me->state, (uint32_t)IPO_SLOT_FREE);
    if (r->fd >= 0 && r->is_creator) {
        if (flock(r->fd, LOCK_EX) == 0) {
            ipo__region_unlink_if_same(r->shm_name, r->fd);
            flock(r->fd, LOCK_UN);
        }
        ipo__slot_unlock(r->fd, r->slot);
    } else if (r->fd >= 0) {
        /* A consumer leaving a region whose creator is gone (dead: it
         * removed nothing) removes it if it was the last one in it. Its own
         * lock goes first, under flock: of two consumers leaving at once,
         * the second to take flock sees the first's lock gone, so one of
         * them removes the region; a consumer attaching meanwhile holds a
         * lock, which keeps it. While the creator lives, this finds its
         * lock and removes nothing. */
        int locked = flock(r->fd, LOCK_EX) == 0;
        ipo__slot_unlock(r->fd, r->slot);
        if (locked) {
            if (!ipo__liveness_held(r->fd, 0, IPO_MAX_SLOTS))
                ipo__region_unlink_if_same(r->shm_name, r->fd);
            flock(r->fd, LOCK_UN);
        }
    }
    r->me = NULL;
}

void ipo_region_unmap(ipo_region_t *r)
{
    if (r->joined)
        ipo_region_detach(r);
    if (r->fd >= 0) {
        if (r->base)
            munmap(r->base, r->size);
        /* In a child of fork() the descriptor was closed already, and its
         * number may have been reused since. */
        if (ipo__handle_is_ours(r)) {
            ipo__registry_remove(r);
            close(r->fd);
        }
    }
    ipo__region_reset(r);
}

/* core/src/recover.c — taking access over from a holder that died in its turn, and repairing. */
#include "ipo/recover.h"

#include <stdio.h>

#include "internal.h"
#include "ipo/access.h"
#include "ipo/containers.h"
#include "ipo/errors.h"
#include "ipo/queue.h"

/* Why a takeover is safe: the access word names its holder's slot, and a
 * slot belongs to whoever holds its liveness lock (an OFD lock the kernel
 * drops when the process dies, whatever its pid becomes). Attachers never
 * claim a slot the word names (ipo_region_attach looks before it locks), so
 * while the word names a dead slot nobody can come back to life in it. The
 * takeover is one compare-and-swap from the very word that named the dead
 * holder, acquisition count included: if another waiter took over first
 * (and perhaps released, and a newcomer reused the slot), the count moved
 * and the swap fails. Stopping a process (SIGSTOP) keeps its lock, so a
 * stopped holder is alive to this test and keeps its turn. */

uint64_t ipo_process_start_time(int pid)
{
    return ipo__process_start_time(pid);
}

int ipo_region_slot_alive(const ipo_region_t *r, uint32_t slot)
{
    if (r->fd < 0)
        return 1;
    return ipo__slot_lock_held(r->fd, slot);
}

/* The dead participant's slot: forget its waits and its registrations in
 * the access word, drop its pins, and let the next attacher have it. Once
 * the takeover's swap names us, attachers may claim the slot: so this runs
 * under the slot's lock, taken for the moment; when an attacher has won it
 * first, that attacher did all of this on its way in (ipo__occupy_slot()), and
 * the slot is not ours to touch. The creator's slot is never claimed by
 * an attacher (a new creator makes a new file), and its lock is never
 * taken, not even for a moment: that would tell attachers that a dead
 * creator lives. After the repair: freeing the log's chunks needs an
 * allocator whole again. */
static void free_dead_slot(ipo_region_t *r, uint32_t i)
{
    ipo_slot_t *s = r->slots + i;
    int locked = 0;
    if (r->fd >= 0 && i != 0) {
        if (ipo__slot_trylock(r->fd, i))
            return;
        locked = 1;
    }
    /* Relaxed: the occupant is dead, and a releaser that still reads the old
     * waiting_for rings a doorbell nobody reads and passes it over. */
    ipo_atomic_store_relaxed(&s->waiting_for, 0u);
    ipo__take_back_sleepers(r, s);
    /* Rung for access and never back: releasers must ring another. */
    ipo__line_forget(r, i);
    /* Not the creator's pins (without its lock, its log is not ours to
     * walk; its region is gone with it anyway). */
    if (locked && ipo_atomic_load_relaxed(&s->pin_log))
        ipo__pins_drop(r, s, 1);
    /* SYNC POINT slot state: informative for processes (a slot is its lock's);
     * pairs with nothing. */
    ipo_atomic_store_relaxed(&s->state, (uint32_t)IPO_SLOT_FREE);
    if (locked)
        ipo__slot_unlock(r->fd, i);
}

int ipo_access_take_over(ipo_region_t *r, char *why, size_t why_len)
{
    if (!r->hdr || r->fd < 0)
        return 0;
    uint64_t *word = &r->hdr->access;
    /* SYNC POINT access word: acquire pairs with the fetch-and of
     * ipo_access_release(): an owner read here is current as of a release. */
    uint64_t cur = ipo_atomic_load_acquire(word);
    /* A turn handed to a waiter that died before claiming it is the dead
     * waiter's as much as a turn it took: the same test, the same swap. */
    uint64_t field = cur & IPO_ACCESS_OWNER_MASK;
    uint64_t owner = field & IPO_ACCESS_SLOT_MASK;
    if (!owner || owner == r->access_mine || owner > r->slot_count)
        return 0;
    if (ipo_region_slot_alive(r, (uint32_t)(owner - 1)))
        return 0;
    uint64_t count = cur >> IPO_ACCESS_COUNT_SHIFT;
    for (;;) {
        uint64_t next = ((cur & ~IPO_ACCESS_OWNER_MASK) | r->access_mine) + IPO_ACCESS_COUNT_ONE;
        /* SYNC POINT access word: acquire, as ipo_access_try_acquire(): the
         * dead holder's last writes (those that reached memory) are seen. */
        if (ipo_atomic_cas_acquire(word, &cur, next))
            break;
        /* Only sleepers coming and going change the word and keep the turn
         * the dead one's; anything else means another waiter took over. */
        if ((cur & IPO_ACCESS_OWNER_MASK) != field || (cur >> IPO_ACCESS_COUNT_SHIFT) != count)
            return 0;
    }
    /* SYNC POINT slot turns: as in ipo_access_try_acquire(). */
    ipo_atomic_store_relaxed(&r->me->turns, ipo_atomic_load_relaxed(&r->me->turns) + 1);
    r->taken_over_at = (count + 1) & (UINT64_MAX >> IPO_ACCESS_COUNT_SHIFT);
    if (!r->taken_over_at)
        r->taken_over_at = UINT64_MAX >> IPO_ACCESS_COUNT_SHIFT; /* never 0: 0 means "none" */
    /* SYNC POINT takeovers: a count for tools and tests, published by the
     * release of this turn; nothing is read through it. */
    ipo_atomic_fetch_add_relaxed(&r->hdr->takeovers, UINT64_C(1));
    /* The dead turn may have changed anything: waiters for a change look. */
    ipo_region_mark_changed(r);
    int rc = ipo_region_repair(r, why, why_len);
    free_dead_slot(r, (uint32_t)(owner - 1));
    return rc ? rc : 1;
}

int ipo_region_repair(ipo_region_t *r, char *why, size_t why_len)
{
    int rc = ipo_alloc_rebuild(&r->heap, why, why_len);
    if (rc)
        return rc;
    rc = ipo_queue_repair(r, why, why_len);
    if (rc)
        return rc;
    /* After the allocator: the container repair may free a block. */
    if (ipo_containers_repair(r)) {
        if (why)
            snprintf(why, why_len, "the turn note names no container it could repair");
        return -IPO_ECORRUPT;
    }
    return 0;
}

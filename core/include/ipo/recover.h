/* core/include/ipo/recover.h — taking access over from a holder that died in its turn. */
#ifndef IPO_RECOVER_H
#define IPO_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "ipo/atomics.h"
#include "ipo/region.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the participant in `slot` is alive: its liveness lock is held (one
 * fcntl). A region in process memory (no file) answers 1: threads do not
 * die alone. When the kernel cannot say, 1 as well: a live holder must
 * never be robbed. */
int ipo_region_slot_alive(const ipo_region_t *r, uint32_t slot);

/* Takes access over from a holder that died holding it: when the access
 * word names a participant whose liveness lock is free, one
 * compare-and-swap from exactly that word (owner and acquisition count) to
 * this participant, with the next count, as an acquire would. Then the
 * dead slot is freed (its sleepers taken back from the word, its waits
 * forgotten), the takeover counted in the header, and what the dead holder
 * may have left half-done repaired (ipo_region_repair).
 *
 * 1 when this participant holds access now, by takeover; 0 when there was
 * nothing to take (access free, its holder alive, or another waiter took
 * it over first); -IPO_ECORRUPT (with why) when the region cannot be
 * repaired: access is held then, and the caller releases it. A stopped
 * (SIGSTOP) or slow holder is alive, and is never robbed. */
int ipo_access_take_over(ipo_region_t *r, char *why, size_t why_len);

/* Repairs what a turn cut short may have left: rebuilds the allocator's
 * lists from a walk of its blocks, verifies the queue and flags its
 * messages again. Needs access. 0 or -IPO_ECORRUPT with why. */
int ipo_region_repair(ipo_region_t *r, char *why, size_t why_len);

/* 1 while this participant holds a turn it took over from a dead holder:
 * that holder's turn was cut short, so changes it made in it may be
 * partial (a turn that made several changes may have made only some). */
static inline int ipo_access_cut_short(const ipo_region_t *r)
{
    uint64_t word = ipo_atomic_load_relaxed(&r->hdr->access);
    return r->taken_over_at && (word & IPO_ACCESS_OWNER_MASK) == r->access_mine &&
           (word >> IPO_ACCESS_COUNT_SHIFT) == r->taken_over_at;
}

/* A process's start time in clock ticks since boot (from /proc), 0 when
 * unknown: with the pid, it names one process, whatever pids are reused. */
uint64_t ipo_process_start_time(int pid);

/* Drops the pins that dead participants left (buffers they had of objects,
 * which keep those objects from being destroyed): each dead slot that
 * names a pin log is held by its liveness lock for the moment, its pins
 * are counted down and its log freed. ipo_obj_destroy() does this itself
 * before it refuses a pinned object; a takeover does it for the dead
 * holder. Needs access. The number of pins dropped. */
uint64_t ipo_region_drop_dead_pins(ipo_region_t *r);

/* Turns taken over in this region, ever. */
static inline uint64_t ipo_region_takeovers(const ipo_region_t *r)
{
    /* SYNC POINT takeovers: pairs with the fetch-add in
     * ipo_access_take_over(); a count, nothing is read through it. */
    return ipo_atomic_load_relaxed(&r->hdr->takeovers);
}

#ifdef __cplusplus
}
#endif

#endif /* IPO_RECOVER_H */

/* core/src/internal.h — functions the core's files share that are not its public API. */
#ifndef IPO_INTERNAL_H
#define IPO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ipo/atomics.h"
#include "ipo/layout.h"
#include "ipo/region.h"

struct ipo_region;

/* format.c: frees a child a container let go of (replaced, removed). It
 * cannot fail: blocks of the tree that a live buffer shows are left in
 * place. */
void ipo__obj_release(struct ipo_region *r, ipo_off_t off);

/* format.c: frees one block without its children (they have moved
 * elsewhere): for containers that replace an internal array. */
void ipo__obj_free_block(struct ipo_region *r, ipo_off_t off);

/* process.c: the process's start time in clock ticks since boot, 0 if unknown. */
uint64_t ipo__process_start_time(int pid);

/* process.c: incremented in every child after fork(): handles from before
 * the fork belong to the parent, and the child must attach anew. */
unsigned ipo__fork_generation(void);

/* process.c: the handles with an open region file, which a child of fork()
 * closes. A handle is added from the moment its file is open, and removed
 * when it closes the file. */
void ipo__registry_add(struct ipo_region *r, int fd);
void ipo__registry_remove(struct ipo_region *r);

/* process.c: whether this handle was made in this process, not inherited
 * across fork(). */
int ipo__handle_is_ours(const struct ipo_region *r);

/* Where glibc keeps POSIX shared memory objects; region names are files
 * there. */
#define IPO__SHM_DIR "/dev/shm"
/* Creations in progress live under a hidden name of their own,
 * "<prefix><pid>-<n>-<salt>"; a creator killed midway leaves one behind,
 * with its memory reserved. */
#define IPO__CREATING_PREFIX ".ipo-creating-"

/* region_liveness.c: whether another open file description holds a liveness lock
 * on slots [first, first + n) of the region file at fd (1 when it cannot
 * tell: nothing is removed on a doubt). */
int ipo__liveness_held(int fd, uint32_t first, uint32_t n);

/* region_names.c: unlinks the name when nobody holds a liveness lock on the
 * region at fd any more and the name still names it (and it is this
 * user's). flock(fd) is held for the test and the unlink, waiting for it
 * when `wait`, else giving up if another holds it. 1 when the region is
 * (with dry_run: would be) removed. */
int ipo__remove_if_nobody(const char *shm_name, int fd, int wait, int dry_run);

/* cleanup.c: removes (with dry_run: reports) the hidden files of
 * creations whose creator died: its pid is gone and its liveness lock on
 * slot 0 free. The count of them. */
int ipo__sweep_creations(int dry_run, void (*report)(void *ctx, int kind, const char *path),
                         void *ctx);

/* region_liveness.c: whether another open file description holds slot's liveness
 * lock (1 also when the kernel cannot tell). */
int ipo__slot_lock_held(int fd, uint32_t slot);

/* region_liveness.c: takes a dead slot's liveness lock for a moment, without
 * waiting (0, or -1 when a live process holds it), and gives it back. */
int ipo__slot_trylock(int fd, uint32_t slot);
void ipo__slot_unlock(int fd, uint32_t slot);

/* pins.c: drops the pins that the log of slot s names (its occupant is
 * dead, and the caller holds the slot: its lock, or it is a twin region's)
 * and clears the entries; with free_chunks (the caller holds access too)
 * also frees the log. The count of pins dropped. */
uint64_t ipo__pins_drop(struct ipo_region *r, ipo_slot_t *s, int free_chunks);

/* pins.c: a participant leaving with buffers alive gives its log up: the
 * entries cleared (the pins kept), later unpins count down only. Before
 * the slot's lock goes. */
void ipo__pins_abandon(struct ipo_region *r);

/* pins.c: frees this participant's pin log when no entry of it is in use.
 * Needs access. */
void ipo__pins_trim(struct ipo_region *r);

/* region.c: binds an observer's handle to a read-only mapping of size
 * bytes after checking the header as an attacher does (identity, state
 * not INIT, every offset): 0, -IPO_ELAYOUT, -IPO_EAGAIN or -IPO_ECORRUPT
 * (with ipo_region_corrupt_reason()). */
int ipo__region_bind_observed(struct ipo_region *r, void *mem, uint64_t size);

/* Clears header.line if it names slot i (a waiter rung for access whose
 * slot is now dead or taken by someone new), so that releasers ring
 * another waiter and never hand that slot a turn. */
void ipo__line_forget(struct ipo_region *r, uint32_t i);

/* region.c: takes back the registrations a dead occupant of s left in the
 * access word. */
void ipo__take_back_sleepers(struct ipo_region *r, ipo_slot_t *s);

struct ipo_table;
struct ipo_obj;

/* containers_map.c: a TABLE block's table when its sizes fit its block (the
 * index a power of two, the entries within the payload), else NULL. */
struct ipo_table *ipo__table_of(const struct ipo_obj *obj);

/* validate.c: checks every offset and size the header holds against a
 * mapping of size bytes (the identity fields are the caller's to check
 * first), without holding access: 0, or -IPO_ECORRUPT with a reason in why
 * (may be NULL). Fields that change under access are checked only for what
 * no value a live holder stores can break; the queue and the allocator
 * check the rest where they follow it. */
int ipo__region_validate(const ipo_header_t *hdr, uint64_t size, char *why, size_t why_len);

/* validate.c: the header's hash_key_check for a hash_key: SipHash-1-3 of
 * the 16 ASCII bytes "ipo hash key chk" under that key (docs/format.md). */
uint64_t ipo__hash_key_digest(const uint64_t key[2]);

/* What a handle notes about the turn it is in (ipo_region_t's turn_*
 * fields: the payload bytes copied, when it first put): forgotten when a
 * new turn begins, which the access word's count tells. Relaxed: the
 * holder reads its own turn's count. One look per copy or put, in place of
 * a reset at every acquire (which is inline in callers of every kind). */
static inline void ipo__this_turn(struct ipo_region *r)
{
    uint64_t turn = ipo_atomic_load_relaxed(&r->hdr->access) >> IPO_ACCESS_COUNT_SHIFT;
    if (turn != r->turn_seen) {
        r->turn_seen = turn;
        r->turn_copied = 0;
        r->turn_put_ns = 0;
    }
}

#endif /* IPO_INTERNAL_H */

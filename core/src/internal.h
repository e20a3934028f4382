/* core/src/internal.h — functions the core's files share that are not its public API. */
#ifndef IPO_INTERNAL_H
#define IPO_INTERNAL_H

#include <stdint.h>

#include "ipo/layout.h"

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

/* region.c: whether another open file description holds slot's liveness
 * lock (1 also when the kernel cannot tell). */
int ipo__slot_lock_held(int fd, uint32_t slot);

/* region.c: takes back the registrations a dead occupant of s left in the
 * access word. */
void ipo__take_back_sleepers(struct ipo_region *r, ipo_slot_t *s);

#endif /* IPO_INTERNAL_H */

/* core/include/ipo/observe.h — looking at a region from outside: mapped read-only, never joined. */
#ifndef IPO_OBSERVE_H
#define IPO_OBSERVE_H

#include <stdint.h>

#include "ipo/region.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Maps the region `name` read-only into r without joining it, for a tool
 * that looks (the command line): no slot is taken, no turn, nothing is
 * written, and a region whose creator died can be looked at too. The
 * identity fields and every offset the header holds are checked as an
 * attach checks them, so what r names lies inside the mapping.
 *
 * What an observer reads changes under it (the holder works meanwhile):
 * figures are a snapshot, and a walk may meet a half-made change and
 * answer -IPO_ECORRUPT; look again. Slot liveness (ipo_region_slot_alive)
 * works on an observed handle.
 *
 * 0, -IPO_EINVAL (bad name), -IPO_ENOENT, -IPO_EPERM (not readable),
 * -IPO_ELAYOUT (not a region of this layout), -IPO_EAGAIN (still being
 * made), -IPO_ECORRUPT (ipo_region_corrupt_reason() says why) or
 * -IPO_ESYS (errno). */
int ipo_region_observe(ipo_region_t *r, const char *name);

/* Unmaps and closes what ipo_region_observe() opened. */
void ipo_region_unobserve(ipo_region_t *r);

/* Counts an observed or joined region's allocated blocks by the object
 * type in their first byte (index 0: blocks that are no object: the
 * queue's ring), with their bytes. Without access the walk may meet a
 * change in the middle: -IPO_ECORRUPT then. */
int ipo_region_block_census(const ipo_region_t *r, uint64_t counts[256], uint64_t bytes[256]);

/* The bytes (usable sizes of its blocks) and blocks of the object at off
 * and everything it owns. 0, or -IPO_ECORRUPT when the tree is none (a
 * block that is no object, a cycle: or, without access, a change met
 * halfway); the figures then count what was walked. */
int ipo_region_tree_size(const ipo_region_t *r, ipo_off_t off, uint64_t *bytes, uint64_t *blocks);

#ifdef __cplusplus
}
#endif

#endif /* IPO_OBSERVE_H */

/* core/src/region_internal.h — what the region's files share: the layout plan, the handle's binding, a slot filled. */
#ifndef IPO_REGION_INTERNAL_H
#define IPO_REGION_INTERNAL_H

#include <limits.h>
#include <stdint.h>

#include "internal.h"
#include "ipo/region.h"

/* Where glibc keeps POSIX shared memory objects: used to compare the inode a
 * name points at with the one we hold, before unlinking. */
#define SHM_DIR IPO__SHM_DIR
/* A path under SHM_DIR: room for any file name the directory can hold. */
#define SHM_PATH_MAX (sizeof(SHM_DIR) + NAME_MAX + 2)

static inline uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* ---- region.c -------------------------------------------------------------------- */

typedef struct layout_plan {
    uint64_t size, slots_off, alloc_off, heap_off;
    uint32_t slots;
} layout_plan_t;

/* Why the last attach or join of this thread found the region damaged
 * (ipo_region_corrupt_reason()). */
extern _Thread_local char ipo__corrupt_reason[256];

/* A handle that names nothing. */
void ipo__region_reset(ipo_region_t *r);
/* The handle's shm name, "/name", from a checked name with or without its slash. */
void ipo__region_set_name(ipo_region_t *r, const char *name);
/* Where the header, slots, allocator root and heap go in size bytes:
 * 0 or -IPO_EINVAL. */
int ipo__region_plan(const ipo_region_options_t *opts, uint64_t size, layout_plan_t *p);
/* Writes everything but the final READY state, the magic last. */
int ipo__region_format_memory(void *mem, const layout_plan_t *p, uint32_t mode);
/* Maps the region file at fd (prefaulting its pages if asked). */
int ipo__region_map(int fd, uint64_t size, int prefault, void **out);
/* Points the handle at a mapping whose header was validated or just written. */
void ipo__region_bind(ipo_region_t *r, void *mem, uint64_t size);
/* The identity fields, then every offset and size of the header: 0,
 * -IPO_ELAYOUT or -IPO_ECORRUPT (with ipo__corrupt_reason). */
int ipo__region_header_usable(const ipo_header_t *hdr, uint64_t size);
/* Fills slot i, just won by this process, and makes the handle use it. */
void ipo__occupy_slot(ipo_region_t *r, uint32_t i, uint32_t role);

/* ---- region_names.c ---------------------------------------------------------------- */

/* Gives the formatted region under tmp_name the name shm_name, removing a
 * stale region there unless keep_stale: 0, -IPO_EEXIST or -IPO_ESYS. */
int ipo__region_publish_name(const char *tmp_name, const char *shm_name, int keep_stale);
/* Unlinks the name if it still names the object open at fd (the caller
 * holds flock(fd)). */
void ipo__region_unlink_if_same(const char *shm_name, int fd);

#endif /* IPO_REGION_INTERNAL_H */

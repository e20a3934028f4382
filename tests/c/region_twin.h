/* tests/c/region_twin.h — the C tests' in-process region: heap memory formatted as a region and joined. */
#ifndef IPO_TEST_REGION_TWIN_H
#define IPO_TEST_REGION_TWIN_H

#include <stdint.h>
#include <stdlib.h>

#include "ipo/region.h"
#include "task.h"

/* Formats size bytes of page-aligned heap memory as a region with the
 * default options and, when r is not NULL, joins it as r. Tests of the
 * structures inside a region need no shared memory object, and threads may
 * join the same memory to stand in for processes. Free it with
 * region_twin_free(). */
static inline void *region_twin_new(uint64_t size, ipo_region_t *r)
{
    void *mem = aligned_alloc(4096, size);
    ASSERT(mem != NULL);
    ipo_region_options_t o;
    memset(&o, 0, sizeof(o));
    ASSERT_OK(ipo_region_format(mem, size, &o));
    if (r)
        ASSERT_OK(ipo_region_join(r, mem, size));
    return mem;
}

/* Leaves r (when not NULL; other handles joined to mem must have left
 * already) and frees the memory. */
static inline void region_twin_free(void *mem, ipo_region_t *r)
{
    if (r)
        ipo_region_leave(r);
    free(mem);
}

#endif /* IPO_TEST_REGION_TWIN_H */

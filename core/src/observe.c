/* core/src/observe.c — looking at a region from outside: mapped read-only, never joined. */
#include "ipo/observe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "ipo/alloc.h"
#include "ipo/containers.h"
#include "ipo/errors.h"
#include "ipo/format.h"

/* Why read-only: a tool that looks must never be the cause of what it
 * reports. A read-only mapping makes any write a fault instead of a
 * change, and not joining leaves the slots, the attach count and every
 * participant's death watch as they were. */
int ipo_region_observe(ipo_region_t *r, const char *name)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    if (ipo_region_name_check(name))
        return -IPO_EINVAL;
    if (name[0] == '/')
        name++;
    char path[sizeof(IPO__SHM_DIR) + IPO_NAME_MAX + 2];
    snprintf(path, sizeof(path), IPO__SHM_DIR "/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? -IPO_ENOENT : errno == EACCES ? -IPO_EPERM : -IPO_ESYS;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -IPO_ELAYOUT;
    }
    if ((uint64_t)st.st_size < sizeof(ipo_header_t)) {
        close(fd);
        return -IPO_ELAYOUT;
    }
    void *mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
        int err = errno;
        close(fd);
        errno = err;
        return -IPO_ESYS;
    }
    int rc = ipo__region_bind_observed(r, mem, (uint64_t)st.st_size);
    if (rc) {
        munmap(mem, (size_t)st.st_size);
        close(fd);
        memset(r, 0, sizeof(*r));
        r->fd = -1;
        return rc;
    }
    r->fd = fd;
    r->inode = (uint64_t)st.st_ino;
    snprintf(r->shm_name, sizeof(r->shm_name), "/%s", name);
    return 0;
}

void ipo_region_unobserve(ipo_region_t *r)
{
    if (r->base)
        munmap(r->base, (size_t)r->size);
    if (r->fd >= 0)
        close(r->fd);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

typedef struct census {
    const ipo_region_t *r;
    uint64_t *counts, *bytes;
} census_t;

static int count_block(void *ctx, ipo_off_t payload)
{
    census_t *c = ctx;
    const ipo_obj_t *o;
    unsigned type = 0;
    if (ipo_obj_get(c->r, payload, &o) == 0)
        type = o->type;
    c->counts[type]++;
    c->bytes[type] += ipo_alloc_usable_size(&c->r->heap, payload);
    return 0;
}

int ipo_region_block_census(const ipo_region_t *r, uint64_t counts[256], uint64_t bytes[256])
{
    memset(counts, 0, 256 * sizeof(*counts));
    memset(bytes, 0, 256 * sizeof(*bytes));
    census_t c = { r, counts, bytes };
    return ipo_alloc_for_each(&r->heap, count_block, &c);
}

typedef struct tree_walk {
    const ipo_region_t *r;
    uint64_t bytes, blocks, budget;
} tree_walk_t;

/* The values a block holds, as a reader without access may follow them:
 * the header read once (a copy), the count clamped to the block's own
 * size, so that a block freed or remade while it is read can give wrong
 * figures but never send the walk past the block. */
static size_t observed_values(const ipo_region_t *r, ipo_off_t off, const ipo_obj_t *obj,
                              ipo_value_t **values, ipo_entry_t **entries)
{
    ipo_obj_t head;
    memcpy(&head, obj, sizeof(head));
    uint64_t usable = ipo_alloc_usable_size(&r->heap, off);
    ipo_value_t *v;
    size_t n = ipo_obj_values(&head, &v); /* offsets relative to the copy */
    uint64_t at = v ? (uint64_t)((uint8_t *)v - (uint8_t *)&head) : 0;
    *entries = NULL;
    if (head.type == IPO_T_TABLE) {
        uint64_t rel = (uint64_t)((uint8_t *)ipo_obj_data(&head) - (uint8_t *)&head);
        if (usable < rel + sizeof(ipo_table_t))
            return 0;
        ipo_table_t t;
        memcpy(&t, (const uint8_t *)obj + rel, sizeof(t));
        uint64_t index_bytes = (t.index_size * sizeof(uint32_t) + 15) & ~(uint64_t)15;
        if (t.index_size > usable || index_bytes > usable - rel - sizeof(ipo_table_t))
            return 0;
        uint64_t first = rel + sizeof(ipo_table_t) + index_bytes;
        uint64_t most = (usable - first) / sizeof(ipo_entry_t);
        *entries = (ipo_entry_t *)((uint8_t *)obj + first);
        return (size_t)(t.nentries < most ? t.nentries : most) * 2;
    }
    if (!v || at > usable)
        return 0;
    uint64_t most = (usable - at) / sizeof(ipo_value_t);
    *values = (ipo_value_t *)((uint8_t *)obj + at);
    return n < most ? n : (size_t)most;
}

/* Bounded as every walk of shared blocks is: by depth and by a budget of
 * blocks, so a damaged or changing tree (a cycle) ends. */
static int walk_tree(tree_walk_t *w, ipo_off_t off, unsigned depth)
{
    const ipo_obj_t *obj;
    if (depth > IPO_MAX_NESTING || w->budget == 0 || ipo_obj_get(w->r, off, &obj))
        return -1;
    w->budget--;
    w->blocks++;
    w->bytes += ipo_alloc_usable_size(&w->r->heap, off);
    ipo_value_t *values = NULL;
    ipo_entry_t *entries;
    size_t n = observed_values(w->r, off, obj, &values, &entries);
    for (size_t i = 0; i < n; i++) {
        ipo_value_t v;
        memcpy(&v, entries ? (i % 2 ? &entries[i / 2].value : &entries[i / 2].key) : &values[i],
               sizeof(v));
        if (!ipo_value_is_inline(v.type) && walk_tree(w, v.v.off, depth + 1))
            return -1;
    }
    return 0;
}

int ipo_region_tree_size(const ipo_region_t *r, ipo_off_t off, uint64_t *bytes, uint64_t *blocks)
{
    uint64_t used = r->heap.root->used_blocks, most = r->size / (2 * sizeof(ipo_block_t));
    tree_walk_t w = { r, 0, 0, used < most ? used : most };
    int rc = walk_tree(&w, off, 0);
    *bytes = w.bytes;
    *blocks = w.blocks;
    return rc ? -IPO_ECORRUPT : 0;
}

/* core/src/containers_internal.h — what the container files share: the turn note, slots set to NONE, arrays checked, probing. */
/* Every reader and writer of a container holds access, which orders them:
 * no load here needs to be atomic. The few release stores are the final
 * store that publishes a change built aside; they are release for a kill,
 * not for readers: a plain store could be moved before the writes it
 * publishes, and a holder killed between them would leave a torn container
 * where the design promises the old state or the new. No load pairs with them. */
#ifndef IPO_CONTAINERS_INTERNAL_H
#define IPO_CONTAINERS_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "crash_point.h"
#include "internal.h"
#include "ipo/atomics.h"
#include "ipo/containers.h"
#include "ipo/errors.h"
#include "ipo/region.h"

/* Inline, as they were static in one file: the item access and the
 * changes call them on every operation. */

static inline ipo_obj_t *obj_at(const ipo_region_t *r, ipo_off_t off)
{
    return (ipo_obj_t *)(r->base + off);
}

static inline ipo_off_t off_of(const ipo_region_t *r, const ipo_obj_t *obj)
{
    return (ipo_off_t)((const uint8_t *)obj - r->base);
}

static inline void fill_none(ipo_value_t *v, uint64_t n)
{
    IPO_CRASH_POINT();
    memset(v, 0, (size_t)n * sizeof(*v));
    IPO_CRASH_POINT();
    for (uint64_t i = 0; i < n; i++)
        v[i].type = IPO_T_NONE;
}

/* The turn note (layout.h): set before a change no one store publishes,
 * cleared after it, so that a takeover's repair knows what to finish. The
 * fence keeps the note ahead of the change's stores; clearing is a release
 * store, after them. */
static inline void note_set(ipo_region_t *r, uint64_t kind, ipo_off_t target, uint64_t a, uint64_t b)
{
    ipo_turn_note_t *n = &r->hdr->note;
    IPO_CRASH_POINT();
    n->target = target;
    n->a = a;
    n->b = b;
    /* Release for a kill, as the stores below: no load pairs with these. */
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&n->kind, kind);
    ipo_atomic_fence_release();
}

static inline void note_clear(ipo_region_t *r)
{
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&r->hdr->note.kind, (uint64_t)IPO_NOTE_NONE);
}

/* A container's internal array (a list's VALUES, a map's TABLE): a live
 * block of that type whose payload fits it (ipo_alloc_live, inline: the
 * allocator's bounds, alignment, allocated flag and tag; compares and a
 * multiply, no call), so that a damaged region can send a read or write neither
 * outside the mapping nor into another block. NULL when it does not check
 * out. It runs on every item access; check() walks the rest. */
static inline ipo_obj_t *child_block(const ipo_region_t *r, const ipo_value_t *slot, uint8_t type)
{
    ipo_off_t off = slot->v.off;
    uint64_t usable;
    if (slot->type != type || !ipo_alloc_live(&r->heap, off, &usable))
        return NULL;
    ipo_obj_t *obj = (ipo_obj_t *)(r->base + off);
    uint64_t rel = ipo_obj_data_rel(obj);
    if (obj->type != type || rel > usable || obj->v.len > usable - rel)
        return NULL;
    return obj;
}

/* ---- lists (containers_list.c) ------------------------------------------------- */

static inline ipo_list_t *list_of(ipo_obj_t *list)
{
    return (ipo_list_t *)ipo_obj_data(list);
}

/* The list's array and its capacity; NULL (capacity 0) when it has none. */
static inline ipo_value_t *list_array(const ipo_region_t *r, ipo_obj_t *list, uint64_t *cap)
{
    ipo_list_t *l = list_of(list);
    *cap = 0;
    if (l->items.type == IPO_T_NONE)
        return NULL;
    ipo_obj_t *arr = child_block(r, &l->items, IPO_T_VALUES);
    if (!arr)
        return NULL;
    *cap = arr->v.len / sizeof(ipo_value_t);
    return ipo_obj_data(arr);
}

/* ---- hash tables (containers_map.c) --------------------------------------------- */

static inline uint64_t table_bytes(uint64_t index_size, uint64_t entry_cap)
{
    uint64_t index_bytes = (index_size * sizeof(uint32_t) + 15) & ~(uint64_t)15;
    return sizeof(ipo_table_t) + index_bytes + entry_cap * sizeof(ipo_entry_t);
}

/* The probe sequence: CPython's, which mixes in the high bits of the hash
 * a few at a time, then walks every slot (5i + 1 mod 2^k has full period). */
#define PROBE_NEXT(i, perturb, mask) \
    ((perturb) >>= 5, (i) = ((i) * 5 + (perturb) + 1) & (mask))

/* The probes that reach every slot of an index: the perturbed steps (at
 * most 13 before perturb is 0), then the full period of 5i + 1. A loop over
 * a damaged index stops there rather than spin for ever holding access. */
#define PROBES_MAX(index_size) ((index_size) + 64)

/* An index slot for a hash whose key is absent: the first empty or dummy
 * one; index_size when there is none (a damaged index: a sound one is at
 * most two thirds full). */
static inline uint64_t free_slot(ipo_table_t *t, uint64_t hash)
{
    uint32_t *index = ipo_table_index(t);
    uint64_t mask = t->index_size - 1, perturb = hash, i = hash & mask;
    for (uint64_t probes = 0; index[i] != 0 && index[i] != IPO_TABLE_DUMMY; PROBE_NEXT(i, perturb, mask))
        if (++probes > PROBES_MAX(t->index_size))
            return t->index_size;
    return i;
}

/* ---- replacing a value in place (containers_value.c) ---------------------------- */

/* After a takeover, finishes or undoes the replace the turn note names
 * (IPO_NOTE_VALUE: a = rel << 16 | new type << 8 | old type, b = the old
 * payload); -1 when the note names no value slot of holder. */
int ipo__value_repair(ipo_region_t *r, ipo_obj_t *holder, uint64_t a, uint64_t old_payload);

#endif /* IPO_CONTAINERS_INTERNAL_H */

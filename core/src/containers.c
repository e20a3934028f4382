/* core/src/containers.c — live lists and insertion-ordered hash tables over value slots. */
/* Every reader and writer of a container holds access, which orders them:
 * no load here needs to be atomic. The few release stores are the final
 * store that publishes a change built aside; they are release for a kill,
 * not for readers: a plain store could be moved before the writes it
 * publishes, and a holder killed between them would leave a torn container
 * where the design promises the old state or the new. No load pairs with them. */
#include "ipo/containers.h"

#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "ipo/region.h"
#include "crash_point.h"
#include "internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static inline ipo_obj_t *obj_at(const ipo_region_t *r, ipo_off_t off)
{
    return (ipo_obj_t *)(r->base + off);
}

static ipo_off_t off_of(const ipo_region_t *r, const ipo_obj_t *obj)
{
    return (ipo_off_t)((const uint8_t *)obj - r->base);
}

void ipo_value_release(ipo_region_t *r, ipo_value_t *v)
{
    ipo_region_mark_changed(r);
    if (!ipo_value_is_inline(v->type))
        ipo__obj_release(r, v->v.off);
    IPO_CRASH_POINT();
    v->type = IPO_T_NONE;
    IPO_CRASH_POINT();
    v->v.u64 = 0;
}

static void fill_none(ipo_value_t *v, uint64_t n)
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
static void note_set(ipo_region_t *r, uint64_t kind, ipo_off_t target, uint64_t a, uint64_t b)
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

static void note_clear(ipo_region_t *r)
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
static ipo_obj_t *child_block(const ipo_region_t *r, const ipo_value_t *slot, uint8_t type)
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

/* ---- lists ----------------------------------------------------------------------- */

static ipo_list_t *list_of(ipo_obj_t *list)
{
    return (ipo_list_t *)ipo_obj_data(list);
}

/* The list's array and its capacity; NULL (capacity 0) when it has none. */
static ipo_value_t *list_array(const ipo_region_t *r, ipo_obj_t *list, uint64_t *cap)
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

ipo_value_t *ipo_list_items(const ipo_region_t *r, const ipo_obj_t *list, uint64_t *len)
{
    uint64_t cap;
    ipo_value_t *items = list_array(r, (ipo_obj_t *)list, &cap);
    uint64_t n = list_of((ipo_obj_t *)list)->len;
    /* A length beyond the array would be a damaged list: show what exists. */
    *len = n <= cap ? n : cap;
    return items;
}

int ipo_list_get(const ipo_region_t *r, const ipo_obj_t *list, ipo_value_t **items, uint64_t *len)
{
    const ipo_list_t *l = list_of((ipo_obj_t *)list);
    uint64_t cap;
    *items = list_array(r, (ipo_obj_t *)list, &cap);
    *len = l->len;
    /* One compare on every item access: a length past the array, or an
     * array that does not check out, is a damaged list. */
    if (*len > cap || (!*items && l->items.type != IPO_T_NONE))
        return -IPO_ECORRUPT;
    return 0;
}

int ipo_list_new(ipo_region_t *r, uint64_t capacity, ipo_off_t *out)
{
    void *data;
    int rc = ipo_obj_new(r, IPO_T_LIST, sizeof(ipo_list_t), out, &data);
    if (rc)
        return rc;
    memset(data, 0, sizeof(ipo_list_t));
    list_of(obj_at(r, *out))->items.type = IPO_T_NONE;
    if (capacity && (rc = ipo_list_reserve(r, obj_at(r, *out), capacity))) {
        ipo_obj_destroy(r, *out);
        return rc;
    }
    return 0;
}

/* Moves the list onto a new array of `cap` slots: build, copy, publish with
 * one store, then free the old array (its children moved, so not them). */
static int list_move(ipo_region_t *r, ipo_obj_t *list, uint64_t cap)
{
    ipo_list_t *l = list_of(list);
    uint64_t old_cap;
    ipo_value_t *old = list_array(r, list, &old_cap);
    /* The copy below reads len slots of the old array. */
    if (l->len > old_cap || (!old && l->items.type != IPO_T_NONE))
        return -IPO_ECORRUPT;
    if (cap > (UINT64_MAX - 64) / sizeof(ipo_value_t)) {
        (void)ipo_alloc_refuse(&r->heap, UINT64_MAX, IPO_OBJ_BIG_ALIGN); /* for the report */
        return -IPO_ENOMEM;
    }
    /* Taken before allocating: in a damaged heap the new block may overlap
     * the list, and the copy must stay inside the old array. */
    uint64_t keep = l->len < cap ? l->len : cap;
    ipo_off_t off;
    void *data;
    int rc = ipo_obj_new(r, IPO_T_VALUES, cap * sizeof(ipo_value_t), &off, &data);
    if (rc)
        return rc;
    ipo_value_t *fresh = data;
    IPO_CRASH_POINT();
    if (keep)
        memcpy(fresh, old, (size_t)keep * sizeof(ipo_value_t));
    fill_none(fresh + keep, cap - keep);
    ipo_off_t old_off = l->items.type == IPO_T_VALUES ? l->items.v.off : 0;
    /* The offset is the store that publishes a grown array (the type is
     * VALUES already), so it is the one that must come after the copies.
     * A first array also needs its type, stored after the offset: a kill
     * between them leaves an empty list and an unreachable array. */
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&l->items.v.off, off);
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&l->items.type, (uint8_t)IPO_T_VALUES);
    if (old_off && old)
        ipo__obj_free_block(r, old_off);
    return 0;
}

int ipo_list_reserve(ipo_region_t *r, ipo_obj_t *list, uint64_t capacity)
{
    uint64_t cap;
    list_array(r, list, &cap);
    if (capacity <= cap)
        return 0;
    /* Grow by half again, as growing by one each time would copy O(n^2). */
    uint64_t grown = cap + cap / 2 + 4;
    if (capacity >= grown)
        return list_move(r, list, capacity);
    /* Half again is a policy, not a need: when there is no room for it,
     * exactly what is asked may still fit, and the report of a failure is
     * then that smallest size (the last one refused). */
    int rc = list_move(r, list, grown);
    return rc == -IPO_ENOMEM ? list_move(r, list, capacity) : rc;
}

/* A change in the middle of a list moves items, and a holder killed in
 * the middle of a memmove would leave some of them twice and others lost
 * (a block named twice is later freed twice). So such a change is built on
 * a new array, copy on write: the list moves to it with the two stores of
 * its array and its length, which the turn note covers (the repair sets
 * the new length if the new array was published). At the end of a list
 * nothing moves, and the length is the one store that publishes. */
static int list_rebuild(ipo_region_t *r, ipo_obj_t *list, uint64_t index, uint64_t removed,
                        const ipo_value_t *values, uint64_t added)
{
    ipo_list_t *l = list_of(list);
    uint64_t old_cap;
    ipo_value_t *old = list_array(r, list, &old_cap);
    uint64_t len = l->len, new_len = len - removed + added;
    uint64_t cap = old_cap >= new_len ? old_cap : new_len + new_len / 2 + 4;
    if (cap > (UINT64_MAX - 64) / sizeof(ipo_value_t))
        return -IPO_ENOMEM;
    ipo_off_t off;
    void *data;
    int rc = ipo_obj_new(r, IPO_T_VALUES, cap * sizeof(ipo_value_t), &off, &data);
    if (rc && cap > new_len) /* the smallest array that works, before failing */
        rc = ipo_obj_new(r, IPO_T_VALUES, (cap = new_len) * sizeof(ipo_value_t), &off, &data);
    if (rc)
        return rc;
    ipo_value_t *fresh = data;
    IPO_CRASH_POINT();
    memcpy(fresh, old, (size_t)index * sizeof(ipo_value_t));
    if (added)
        memcpy(fresh + index, values, (size_t)added * sizeof(ipo_value_t));
    memcpy(fresh + index + added, old + index + removed,
           (size_t)(len - index - removed) * sizeof(ipo_value_t));
    fill_none(fresh + new_len, cap - new_len);
    ipo_off_t old_off = l->items.v.off;
    note_set(r, IPO_NOTE_LIST, (ipo_off_t)((uint8_t *)list - r->base), old_off, new_len);
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&l->items.v.off, off);
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&l->len, new_len);
    note_clear(r);
    /* The old array is unreachable now; the children removed from it are
     * the caller's to release (they are named by the old array only). */
    return 0;
}

int ipo_list_insert(ipo_region_t *r, ipo_obj_t *list, uint64_t index,
                    const ipo_value_t *values, uint64_t n)
{
    ipo_region_mark_changed(r);
    ipo_list_t *l = list_of(list);
    uint64_t cap;
    ipo_value_t *items;
    if (ipo_list_get(r, list, &items, &cap))
        return -IPO_ECORRUPT;
    if (index > l->len || n > UINT64_MAX / 2 - l->len)
        return -IPO_EINVAL;
    if (index < l->len && n) {
        if (!items)
            return -IPO_EBADOBJ;
        ipo_off_t old_off = l->items.v.off;
        int rc = list_rebuild(r, list, index, 0, values, n);
        if (rc)
            return rc;
        ipo__obj_free_block(r, old_off);
        return 0;
    }
    int rc = ipo_list_reserve(r, list, l->len + n);
    if (rc)
        return rc;
    /* Read again: in a damaged heap, growing may have written over the list. */
    items = list_array(r, list, &cap);
    if (!items || l->len > cap || n > cap - l->len || index > l->len)
        return n ? -IPO_ECORRUPT : 0;
    /* The items go past the end first, where the list does not count
     * them, but where they must not stay: the slots past the end hold NONE
     * (a destroyed list releases every slot of its array). The note lets a
     * repair clear them if a kill stops us before the length counts them. */
    note_set(r, IPO_NOTE_LIST, (ipo_off_t)((uint8_t *)list - r->base), l->items.v.off, l->len + n);
    IPO_CRASH_POINT();
    memcpy(items + index, values, (size_t)n * sizeof(ipo_value_t));
    /* Release for a kill: the items are in place before len counts them. */
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&l->len, l->len + n);
    note_clear(r);
    return 0;
}

void ipo_list_remove(ipo_region_t *r, ipo_obj_t *list, uint64_t index, uint64_t n,
                     ipo_value_t *out)
{
    ipo_region_mark_changed(r);
    ipo_list_t *l = list_of(list);
    uint64_t cap;
    ipo_value_t *items = list_array(r, list, &cap);
    if (!items || l->len > cap || index > l->len || n > l->len - index || !n)
        return;
    if (out)
        memcpy(out, items + index, (size_t)n * sizeof(ipo_value_t));
    if (index + n < l->len) {
        ipo_off_t old_off = l->items.v.off;
        if (list_rebuild(r, list, index, n, NULL, 0) == 0) {
            /* Published: the removed children are named by the old array
             * only, and go with it (a kill before this leaks them, never
             * leaves them named by the list and freed). */
            if (!out)
                for (uint64_t i = 0; i < n; i++)
                    ipo_value_release(r, &items[index + i]);
            ipo__obj_free_block(r, old_off);
            return;
        }
        /* No room for a new array (the region is full): move in place, as
         * a plain list would. A holder killed in this memmove leaves the
         * list damaged, the one case where a kill can (documented). */
        if (!out)
            for (uint64_t i = 0; i < n; i++)
                ipo_value_release(r, &items[index + i]);
        IPO_CRASH_POINT();
        memmove(items + index, items + index + n, (size_t)(l->len - index - n) * sizeof(ipo_value_t));
        fill_none(items + l->len - n, n);
        IPO_CRASH_POINT();
        ipo_atomic_store_release(&l->len, l->len - n);
        return;
    }
    /* At the end: the length stops counting them first, then they go,
     * under the note: a kill before they are all NONE leaves slots past the
     * end naming children (some perhaps freed already), which the repair
     * clears (leaking what was not released yet). */
    uint64_t len = l->len;
    note_set(r, IPO_NOTE_LIST, (ipo_off_t)((uint8_t *)list - r->base), l->items.v.off, len - n);
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&l->len, len - n);
    if (!out)
        for (uint64_t i = 0; i < n; i++)
            ipo_value_release(r, &items[index + i]);
    fill_none(items + index, n);
    note_clear(r);
}

void ipo_list_trim(ipo_region_t *r, ipo_obj_t *list)
{
    uint64_t cap;
    list_array(r, list, &cap);
    uint64_t len = list_of(list)->len;
    if (cap > 16 && len < cap / 4)
        (void)list_move(r, list, len * 2 > 8 ? len * 2 : 8);
}

int ipo_list_permute(ipo_region_t *r, ipo_obj_t *list, const uint64_t *order, uint64_t n)
{
    ipo_region_mark_changed(r);
    ipo_list_t *l = list_of(list);
    ipo_value_t *items;
    uint64_t len, cap;
    int rc = ipo_list_get(r, list, &items, &len);
    if (rc)
        return rc;
    if (n != len)
        return -IPO_EINVAL;
    if (n < 2)
        return 0;
    /* Each item once: an item named twice would be a child named twice,
     * freed twice later. */
    uint8_t *seen = calloc((size_t)n, 1);
    if (!seen)
        return -IPO_ENOMEM;
    for (uint64_t k = 0; k < n && !rc; k++) {
        if (order[k] >= n || seen[order[k]])
            rc = -IPO_EINVAL;
        else
            seen[order[k]] = 1;
    }
    free(seen);
    if (rc)
        return rc;
    list_array(r, list, &cap);
    ipo_off_t off, old_off = l->items.v.off;
    void *data;
    if (ipo_obj_new(r, IPO_T_VALUES, cap * sizeof(ipo_value_t), &off, &data) == 0) {
        /* Copy on write: the new order is built aside, and the list moves
         * to it with one store (under the note, whose repair frees the old
         * array if a kill comes before this does). */
        ipo_value_t *fresh = data;
        IPO_CRASH_POINT();
        for (uint64_t k = 0; k < n; k++)
            fresh[k] = items[order[k]];
        fill_none(fresh + n, cap - n);
        note_set(r, IPO_NOTE_LIST, off_of(r, list), old_off, n);
        IPO_CRASH_POINT();
        ipo_atomic_store_release(&l->items.v.off, off);
        note_clear(r);
        ipo__obj_free_block(r, old_off);
        return 0;
    }
    /* No room for a new array (the region is full): in place, through a
     * private copy, as a plain list would; a kill in this copy can leave
     * an item twice and another lost (documented). */
    ipo_value_t *copy = malloc((size_t)n * sizeof(ipo_value_t));
    if (!copy)
        return -IPO_ENOMEM;
    for (uint64_t k = 0; k < n; k++)
        copy[k] = items[order[k]];
    IPO_CRASH_POINT();
    memcpy(items, copy, (size_t)n * sizeof(ipo_value_t));
    free(copy);
    return 0;
}

/* ---- hash tables ----------------------------------------------------------------- */

static uint64_t table_bytes(uint64_t index_size, uint64_t entry_cap)
{
    uint64_t index_bytes = (index_size * sizeof(uint32_t) + 15) & ~(uint64_t)15;
    return sizeof(ipo_table_t) + index_bytes + entry_cap * sizeof(ipo_entry_t);
}

/* A table for at least n entries: the index stays at most two thirds full,
 * so probes end soon and always find an empty slot. */
static int table_new(ipo_region_t *r, uint64_t n, ipo_off_t *out, ipo_table_t **table)
{
    if (n > (uint64_t)UINT32_MAX / 2) {
        (void)ipo_alloc_refuse(&r->heap, UINT64_MAX, IPO_OBJ_BIG_ALIGN); /* for the report */
        return -IPO_ENOMEM;
    }
    uint64_t size = 8;
    while (size * 2 / 3 < n)
        size *= 2;
    uint64_t cap = size * 2 / 3;
    void *data;
    int rc = ipo_obj_new(r, IPO_T_TABLE, table_bytes(size, cap), out, &data);
    if (rc)
        return rc;
    ipo_table_t *t = data;
    t->index_size = size;
    t->entry_cap = cap;
    t->nentries = 0;
    t->used = 0;
    memset(ipo_table_index(t), 0, (size_t)size * sizeof(uint32_t));
    *table = t;
    return 0;
}

ipo_table_t *ipo__table_of(const ipo_obj_t *obj)
{
    ipo_table_t *t = ipo_obj_data(obj);
    /* index_size is bounded first, so that table_bytes cannot overflow. */
    if (obj->v.len < sizeof(ipo_table_t) || t->index_size < 8 ||
        (t->index_size & (t->index_size - 1)) || t->index_size > ((uint64_t)1 << 33) ||
        t->entry_cap >= t->index_size || table_bytes(t->index_size, t->entry_cap) > obj->v.len ||
        t->nentries > t->entry_cap || t->used > t->nentries)
        return NULL;
    return t;
}

ipo_table_t *ipo_map_table(const ipo_region_t *r, const ipo_obj_t *map)
{
    const ipo_map_t *m = ipo_obj_data(map);
    ipo_obj_t *obj = child_block(r, &m->table, IPO_T_TABLE);
    return obj ? ipo__table_of(obj) : NULL;
}

int ipo_map_new(ipo_region_t *r, uint8_t type, uint64_t n, ipo_off_t *out)
{
    if (type != IPO_T_DICT && type != IPO_T_SET && type != IPO_T_FROZENSET)
        return -IPO_EINVAL;
    ipo_off_t table_off;
    ipo_table_t *t;
    int rc = table_new(r, n, &table_off, &t);
    if (rc)
        return rc;
    void *data;
    if ((rc = ipo_obj_new(r, type, sizeof(ipo_map_t), out, &data))) {
        ipo__obj_free_block(r, table_off);
        return rc;
    }
    ipo_map_t *m = data;
    memset(m, 0, sizeof(*m));
    m->table.type = IPO_T_TABLE;
    m->table.v.off = table_off;
    return 0;
}

/* The probe sequence: CPython's, which mixes in the high bits of the hash
 * a few at a time, then walks every slot (5i + 1 mod 2^k has full period). */
#define PROBE_NEXT(i, perturb, mask) \
    ((perturb) >>= 5, (i) = ((i) * 5 + (perturb) + 1) & (mask))

int64_t ipo_map_find(const ipo_region_t *r, const ipo_obj_t *map, uint64_t hash,
                     ipo_key_eq_fn eq, void *ctx)
{
    ipo_table_t *t = ipo_map_table(r, map);
    if (!t)
        return IPO_MAP_DAMAGED;
    uint32_t *index = ipo_table_index(t);
    ipo_entry_t *entries = ipo_table_entries(t);
    uint64_t mask = t->index_size - 1, perturb = hash, i = hash & mask;
    for (uint64_t probes = 0; probes <= t->index_size + 64; probes++, PROBE_NEXT(i, perturb, mask)) {
        uint32_t ix = index[i];
        if (ix == 0)
            return IPO_MAP_ABSENT;
        if (ix == IPO_TABLE_DUMMY || ix > t->nentries)
            continue;
        ipo_entry_t *e = &entries[ix - 1];
        if (e->hash != hash || !e->live)
            continue;
        int same = eq(ctx, &e->key);
        if (same < 0)
            return IPO_MAP_ERROR;
        if (same)
            return (int64_t)(ix - 1);
    }
    return IPO_MAP_ABSENT;
}

/* The probes that reach every slot of an index: the perturbed steps (at
 * most 13 before perturb is 0), then the full period of 5i + 1. A loop over
 * a damaged index stops there rather than spin for ever holding access. */
#define PROBES_MAX(index_size) ((index_size) + 64)

/* An index slot for a hash whose key is absent: the first empty or dummy
 * one; index_size when there is none (a damaged index: a sound one is at
 * most two thirds full). */
static uint64_t free_slot(ipo_table_t *t, uint64_t hash)
{
    uint32_t *index = ipo_table_index(t);
    uint64_t mask = t->index_size - 1, perturb = hash, i = hash & mask;
    for (uint64_t probes = 0; index[i] != 0 && index[i] != IPO_TABLE_DUMMY; PROBE_NEXT(i, perturb, mask))
        if (++probes > PROBES_MAX(t->index_size))
            return t->index_size;
    return i;
}

/* Rebuilds the table with room for n live entries, dropping deleted ones,
 * and publishes it with one store. */
static int map_resize(ipo_region_t *r, ipo_obj_t *map, uint64_t n)
{
    ipo_map_t *m = ipo_obj_data(map);
    ipo_table_t *old = ipo_map_table(r, map);
    if (!old)
        return -IPO_EBADOBJ;
    /* Taken before allocating: in a damaged heap the new block may overlap
     * the old table, and the copy must stay inside the old block. */
    uint64_t old_entries = old->nentries;
    ipo_entry_t *from = ipo_table_entries(old);
    ipo_off_t off;
    ipo_table_t *t;
    int rc = table_new(r, n, &off, &t);
    if (rc)
        return rc;
    ipo_entry_t *to = ipo_table_entries(t);
    uint32_t *index = ipo_table_index(t);
    uint64_t k = 0;
    IPO_CRASH_POINT();
    for (uint64_t j = 0; j < old_entries && k < t->entry_cap; j++) {
        if (!from[j].live)
            continue;
        to[k] = from[j];
        index[free_slot(t, to[k].hash)] = (uint32_t)(k + 1);
        k++;
    }
    t->nentries = t->used = k;
    ipo_off_t old_off = m->table.v.off;
    /* Release for a kill: the new table is whole before the map names it. */
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&m->table.v.off, off);
    ipo__obj_free_block(r, old_off);
    return 0;
}

int ipo_map_insert(ipo_region_t *r, ipo_obj_t *map, uint64_t hash,
                   const ipo_value_t *key, const ipo_value_t *value)
{
    ipo_region_mark_changed(r);
    ipo_table_t *t = ipo_map_table(r, map);
    if (!t)
        return -IPO_EBADOBJ;
    if (t->nentries == t->entry_cap) {
        /* Full of entries: double when most are live, else compact in place. */
        uint64_t want = t->used + 1 > t->entry_cap / 2 ? t->used * 2 + 1 : t->used + 1;
        int rc = map_resize(r, map, want);
        /* Doubling is a policy: without room for it, the smallest table
         * that holds one more entry may still fit (and is what a failure
         * then reports). */
        if (rc == -IPO_ENOMEM && want > t->used + 1)
            rc = map_resize(r, map, t->used + 1);
        if (rc)
            return rc;
        t = ipo_map_table(r, map);
    }
    uint64_t slot = free_slot(t, hash);
    if (slot == t->index_size)
        return -IPO_ECORRUPT;
    /* An entry, an index slot and two counts: the note lets a repair
     * rebuild the index and counts from the entries if a kill stops us
     * between them (the entry past nentries is then not there: the old
     * state). */
    note_set(r, IPO_NOTE_MAP, off_of(r, map), 0, 0);
    ipo_entry_t *e = &ipo_table_entries(t)[t->nentries];
    IPO_CRASH_POINT();
    e->hash = hash;
    e->live = 1;
    e->key = *key;
    e->value = value ? *value : (ipo_value_t){ .type = IPO_T_NONE };
    /* Release for a kill: the entry is whole before an index slot names it. */
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&ipo_table_index(t)[slot], (uint32_t)(t->nentries + 1));
    IPO_CRASH_POINT();
    t->nentries++;
    IPO_CRASH_POINT();
    t->used++;
    note_clear(r);
    return 0;
}

void ipo_map_delete(ipo_region_t *r, ipo_obj_t *map, uint64_t entry,
                    ipo_value_t *key, ipo_value_t *value)
{
    ipo_region_mark_changed(r);
    ipo_table_t *t = ipo_map_table(r, map);
    if (!t || entry >= t->nentries)
        return;
    ipo_entry_t *e = &ipo_table_entries(t)[entry];
    if (!e->live)
        return;
    /* The entry stops being live before its children are released, so a
     * kill in between leaks them rather than leaving them named; the note
     * lets a repair make the index and count agree with the live flags. */
    note_set(r, IPO_NOTE_MAP, off_of(r, map), 0, 0);
    uint32_t *index = ipo_table_index(t);
    uint64_t mask = t->index_size - 1, perturb = e->hash, i = e->hash & mask;
    for (uint64_t probes = 0; probes <= t->index_size + 64; probes++, PROBE_NEXT(i, perturb, mask)) {
        if (index[i] == entry + 1) {
            IPO_CRASH_POINT();
            index[i] = IPO_TABLE_DUMMY;
            break;
        }
        if (index[i] == 0)
            break;
    }
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&e->live, UINT64_C(0));
    if (key)
        *key = e->key;
    else
        ipo_value_release(r, &e->key);
    if (value)
        *value = e->value;
    else
        ipo_value_release(r, &e->value);
    fill_none(&e->key, 1);
    fill_none(&e->value, 1);
    IPO_CRASH_POINT();
    t->used--;
    note_clear(r);
}

void ipo_map_clear(ipo_region_t *r, ipo_obj_t *map)
{
    ipo_region_mark_changed(r);
    ipo_table_t *t = ipo_map_table(r, map);
    if (!t)
        return;
    ipo_map_t *m = ipo_obj_data(map);
    ipo_entry_t *entries = ipo_table_entries(t);
    ipo_off_t new_off, old_off = m->table.v.off;
    ipo_table_t *fresh;
    if (table_new(r, 0, &new_off, &fresh) == 0) {
        /* An empty table, published with one store; then the old entries'
         * children go with the old table (a kill meanwhile leaks them). */
        IPO_CRASH_POINT();
        ipo_atomic_store_release(&m->table.v.off, new_off);
        for (uint64_t j = 0; j < t->nentries; j++) {
            if (!entries[j].live)
                continue; /* released when deleted */
            ipo_value_release(r, &entries[j].key);
            ipo_value_release(r, &entries[j].value);
        }
        ipo__obj_free_block(r, old_off);
        return;
    }
    /* The region is full: empty this table in place, each entry dead
     * before its children go, under the note (a repair rebuilds the index
     * from whatever entries are still live). */
    note_set(r, IPO_NOTE_MAP, off_of(r, map), 0, 0);
    for (uint64_t j = 0; j < t->nentries; j++) {
        if (!entries[j].live)
            continue;
        IPO_CRASH_POINT();
        ipo_atomic_store_release(&entries[j].live, UINT64_C(0));
        ipo_value_release(r, &entries[j].key);
        ipo_value_release(r, &entries[j].value);
    }
    IPO_CRASH_POINT();
    t->used = 0;
    IPO_CRASH_POINT();
    memset(ipo_table_index(t), 0, (size_t)t->index_size * sizeof(uint32_t));
    IPO_CRASH_POINT();
    t->nentries = 0;
    note_clear(r);
}

/* ---- replacing a value in place ---------------------------------------------------- */

/* A value is two words (its type, its payload), and a slot that names a
 * child must never name a freed one nor a child of another type. So a
 * value replaced in a live container changes as follows, and a kill at any
 * instruction leaves the old value or the new one:
 *
 * - the same inline type (a float over a float: the commonest store) is
 *   one aligned 8-byte store of the payload, whole whatever kills us;
 * - anything else notes the slot, its old value and its new type in the
 *   turn note (IPO_NOTE_VALUE), stores the payload, then the type (the
 *   store that publishes when the type changes; when it does not, the
 *   payload's store is it), releases the old child, and clears the note.
 *   The repair (value_repair) finishes or undoes it by the slot's type or
 *   payload, and releases whichever child nothing names any more.
 *
 * The old child goes after nothing names it and before the note is
 * cleared, so a kill in its release leaves the repair to finish it: a
 * release restarted on a half-released tree frees only what is left (a
 * value is cleared before its child is followed, and a freed block no
 * longer checks out). A new child that a kill stopped before its payload
 * was stored is unreachable, as any block a cut turn had not linked yet. */

/* The byte offset of a value slot in its holder's payload, or UINT64_MAX
 * when the slot is not a value slot of that holder: one of a VALUES
 * array's (a list's items, an object's fields) or the value of a used
 * entry of a TABLE (a dict's). */
static uint64_t value_slot_rel(const ipo_obj_t *holder, const ipo_value_t *slot)
{
    uintptr_t data = (uintptr_t)ipo_obj_data(holder), at = (uintptr_t)slot;
    uint64_t rel = (uint64_t)(at - data);
    if (at < data || rel % sizeof(ipo_value_t) || rel > holder->v.len ||
        holder->v.len - rel < sizeof(ipo_value_t))
        return UINT64_MAX;
    if (holder->type == IPO_T_VALUES)
        return rel;
    if (holder->type != IPO_T_TABLE)
        return UINT64_MAX;
    ipo_table_t *t = ipo__table_of(holder);
    if (!t)
        return UINT64_MAX;
    uint64_t first = (uint64_t)((uintptr_t)ipo_table_entries(t) - data);
    if (rel < first || (rel - first) % sizeof(ipo_entry_t) != offsetof(ipo_entry_t, value) ||
        (rel - first) / sizeof(ipo_entry_t) >= t->nentries)
        return UINT64_MAX;
    return rel;
}

/* Releases the child a value of `type` with `payload` names, if it is
 * still a live object of that type (a release cut short may have freed it
 * already, or only part of its tree). */
static void release_child(ipo_region_t *r, uint8_t type, uint64_t payload)
{
    const ipo_obj_t *child;
    if (!ipo_value_is_inline(type) && ipo_obj_get(r, payload, &child) == 0 && child->type == type)
        ipo__obj_release(r, payload);
}

int ipo_value_replace(ipo_region_t *r, ipo_obj_t *holder, ipo_value_t *slot, const ipo_value_t *value)
{
    ipo_value_t old = *slot;
    if (old.type == value->type && ipo_value_is_inline(old.type)) {
        /* The hot path (a float over a float), first and without the
         * slot's check, which only the note needs: one aligned 8-byte
         * store, old or new whatever kills us. */
        ipo_region_mark_changed(r);
        IPO_CRASH_POINT();
        ipo_atomic_store_relaxed(&slot->v.u64, value->v.u64);
        return 0;
    }
    uint64_t rel = value_slot_rel(holder, slot);
    if (rel == UINT64_MAX || value->type == 0)
        return -IPO_EINVAL;
    if (old.type == value->type && old.v.off == value->v.off)
        return 0; /* the child it holds already: nothing to release */
    ipo_region_mark_changed(r);
    note_set(r, IPO_NOTE_VALUE, off_of(r, holder),
             rel << 16 | (uint64_t)value->type << 8 | old.type, old.v.u64);
    /* After the note's fence: the note, and the new child built before it,
     * are in place before the slot changes. */
    IPO_CRASH_POINT();
    ipo_atomic_store_relaxed(&slot->v.u64, value->v.u64);
    if (old.type != value->type) {
        /* Release for a kill: the payload is in place before the type that
         * says how to read it. */
        IPO_CRASH_POINT();
        ipo_atomic_store_release(&slot->type, value->type);
    }
    release_child(r, old.type, old.v.u64);
    note_clear(r);
    return 0;
}

/* After a takeover, the replace the note names: published (the slot has
 * the new type or, the type unchanged, a new payload), the old child is
 * released; else a new payload already stored (with the old type) is the
 * new child's, released, and the old value comes back. -1 when the note
 * names no value slot of that block. Stores in the order that lets a
 * repair killed midway run again: the children first, then the slot. */
static int value_repair(ipo_region_t *r, ipo_obj_t *holder, uint64_t a, uint64_t old_payload)
{
    uint64_t rel = a >> 16;
    uint8_t new_type = (uint8_t)(a >> 8), old_type = (uint8_t)a;
    if (rel > holder->v.len)
        return -1;
    ipo_value_t *slot = (ipo_value_t *)((uint8_t *)ipo_obj_data(holder) + rel);
    if (value_slot_rel(holder, slot) != rel)
        return -1;
    int published = old_type != new_type ? slot->type == new_type : slot->v.u64 != old_payload;
    if (published) {
        release_child(r, old_type, old_payload);
        return 0;
    }
    if (slot->v.u64 != old_payload)
        release_child(r, new_type, slot->v.u64);
    IPO_CRASH_POINT();
    ipo_atomic_store_relaxed(&slot->v.u64, old_payload);
    IPO_CRASH_POINT();
    ipo_atomic_store_release(&slot->type, old_type);
    return 0;
}

int ipo_list_set(ipo_region_t *r, ipo_obj_t *list, uint64_t index, const ipo_value_t *value)
{
    ipo_value_t *items;
    uint64_t len;
    int rc = ipo_list_get(r, list, &items, &len);
    if (rc)
        return rc;
    if (index >= len)
        return -IPO_EINVAL;
    return ipo_value_replace(r, ipo_list_array(r, list), &items[index], value);
}

int ipo_map_set_value(ipo_region_t *r, ipo_obj_t *map, uint64_t entry, const ipo_value_t *value)
{
    if (map->type != IPO_T_DICT)
        return -IPO_EINVAL;
    ipo_table_t *t = ipo_map_table(r, map);
    if (!t)
        return -IPO_EBADOBJ;
    ipo_entry_t *e = &ipo_table_entries(t)[entry];
    if (entry >= t->nentries || !e->live)
        return -IPO_EINVAL;
    ipo_obj_t *table = obj_at(r, ((ipo_map_t *)ipo_obj_data(map))->table.v.off);
    return ipo_value_replace(r, table, &e->value, value);
}

/* ---- repair after a takeover ---------------------------------------------------- */

int ipo_containers_repair(ipo_region_t *r)
{
    ipo_turn_note_t *n = &r->hdr->note;
    uint64_t kind = n->kind;
    const ipo_obj_t *obj;
    if (kind == IPO_NOTE_NONE)
        return 0;
    int bad = ipo_obj_get(r, n->target, &obj) != 0;
    if (!bad && kind == IPO_NOTE_LIST && obj->type == IPO_T_LIST) {
        /* Published the new array but not its length: finish the move. The
         * old array is unreachable either way; free it if it still is one
         * (it is freed after the note is cleared, never before). */
        ipo_list_t *l = list_of((ipo_obj_t *)obj);
        uint64_t cap;
        ipo_value_t *items = list_array(r, (ipo_obj_t *)obj, &cap);
        if (l->items.v.off != n->a && items && n->b <= cap) {
            ipo_atomic_store_release(&l->len, n->b);
            const ipo_obj_t *old;
            if (ipo_obj_get(r, n->a, &old) == 0 && old->type == IPO_T_VALUES)
                ipo__obj_free_block(r, n->a);
        } else if (items && l->len <= cap) {
            /* The same array: a change at the end (or a move that did not
             * publish). Slots past the end hold NONE, as destroying the
             * list releases every slot: values an append had put there
             * before its length counted them, or that a remove at the end
             * had not cleared yet (perhaps freed already), are forgotten.
             * Their children leak; none is freed twice. */
            for (uint64_t i = l->len; i < cap; i++)
                if (items[i].type != IPO_T_NONE)
                    fill_none(&items[i], 1);
        }
    } else if (!bad && kind == IPO_NOTE_MAP &&
               (obj->type == IPO_T_DICT || obj->type == IPO_T_SET || obj->type == IPO_T_FROZENSET)) {
        /* The entries' live flags are the truth: index and count follow. */
        ipo_table_t *t = ipo_map_table(r, obj);
        if (t) {
            ipo_entry_t *entries = ipo_table_entries(t);
            uint32_t *index = ipo_table_index(t);
            memset(index, 0, (size_t)t->index_size * sizeof(uint32_t));
            uint64_t used = 0;
            for (uint64_t j = 0; j < t->nentries; j++) {
                if (!entries[j].live) {
                    /* A delete or clear cut short between the live flag
                     * and its values' release: a deleted entry holds NONE.
                     * What was not released yet leaks (it may be half
                     * released: it is never released twice). */
                    if (entries[j].key.type != IPO_T_NONE)
                        fill_none(&entries[j].key, 1);
                    if (entries[j].value.type != IPO_T_NONE)
                        fill_none(&entries[j].value, 1);
                    continue;
                }
                index[free_slot(t, entries[j].hash)] = (uint32_t)(j + 1);
                used++;
            }
            t->used = used;
        } else {
            bad = 1;
        }
    } else if (!bad && kind == IPO_NOTE_VALUE) {
        bad = value_repair(r, (ipo_obj_t *)obj, n->a, n->b) != 0;
    } else {
        bad = 1;
    }
    note_clear(r);
    return bad ? -IPO_ECORRUPT : 0;
}

/* ---- checking ------------------------------------------------------------------ */

#include <stdio.h>

#define CHECK_FAIL(...)                                   \
    do {                                                  \
        if (why)                                          \
            snprintf(why, why_len, __VA_ARGS__);          \
        return -IPO_ECORRUPT;                             \
    } while (0)

static int check_tree(const ipo_region_t *r, ipo_off_t off, unsigned depth, uint64_t *budget,
                      char *why, size_t why_len);

static int check_values(const ipo_region_t *r, const ipo_value_t *v, uint64_t n, unsigned depth,
                        uint64_t *budget, char *why, size_t why_len)
{
    for (uint64_t i = 0; i < n; i++) {
        if (ipo_value_is_inline(v[i].type))
            continue;
        const ipo_obj_t *child;
        if (ipo_obj_get(r, v[i].v.off, &child) || child->type != v[i].type)
            CHECK_FAIL("a value names offset %llu as a type %u object, which it is not",
                       (unsigned long long)v[i].v.off, (unsigned)v[i].type);
        int rc = check_tree(r, v[i].v.off, depth + 1, budget, why, why_len);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_table(const ipo_region_t *r, const ipo_obj_t *map, unsigned depth,
                       uint64_t *budget, char *why, size_t why_len)
{
    ipo_table_t *t = ipo_map_table(r, map);
    if (!t)
        CHECK_FAIL("a dict or set has a damaged table");
    uint32_t *index = ipo_table_index(t);
    ipo_entry_t *e = ipo_table_entries(t);
    uint64_t live = 0, named = 0;
    for (uint64_t i = 0; i < t->index_size; i++) {
        uint32_t ix = index[i];
        if (ix == 0 || ix == IPO_TABLE_DUMMY)
            continue;
        if (ix > t->nentries || !e[ix - 1].live)
            CHECK_FAIL("a table's index slot %llu names entry %u, which is not live",
                       (unsigned long long)i, ix);
        named++;
    }
    for (uint64_t j = 0; j < t->nentries; j++) {
        if (!e[j].live) {
            if (e[j].key.type != IPO_T_NONE || e[j].value.type != IPO_T_NONE)
                CHECK_FAIL("a deleted table entry still holds values");
            continue;
        }
        live++;
        /* Every live entry is where a lookup of its hash goes. */
        uint64_t mask = t->index_size - 1, perturb = e[j].hash, i = e[j].hash & mask, probes = 0;
        while (index[i] != j + 1) {
            if (index[i] == 0 || ++probes > PROBES_MAX(t->index_size))
                CHECK_FAIL("a table's entry %llu cannot be found from its hash", (unsigned long long)j);
            PROBE_NEXT(i, perturb, mask);
        }
        int rc = check_values(r, &e[j].key, 1, depth, budget, why, why_len);
        if (!rc)
            rc = check_values(r, &e[j].value, 1, depth, budget, why, why_len);
        if (rc)
            return rc;
    }
    if (live != t->used || named != live)
        CHECK_FAIL("a table counts %llu live entries; %llu are live, %llu indexed",
                   (unsigned long long)t->used, (unsigned long long)live, (unsigned long long)named);
    return 0;
}

/* Each object has one parent, so a walk of a tree reaches each of its
 * blocks once: more visits than the heap has blocks (*budget) mean blocks
 * that share a child or a cycle, which the walk reports rather than
 * follow for 2^depth steps; and no tree is deeper than IPO_MAX_NESTING. */
static int check_tree(const ipo_region_t *r, ipo_off_t off, unsigned depth, uint64_t *budget,
                      char *why, size_t why_len)
{
    const ipo_obj_t *obj;
    if (depth > IPO_MAX_NESTING)
        CHECK_FAIL("objects nest deeper than %u levels: a cycle?", IPO_MAX_NESTING);
    if (*budget == 0)
        CHECK_FAIL("a tree reaches more blocks than the heap holds: blocks share a child, or a cycle");
    --*budget;
    if (ipo_obj_get(r, off, &obj))
        CHECK_FAIL("offset %llu is not a live object", (unsigned long long)off);
    switch (obj->type) {
    case IPO_T_LIST: {
        const ipo_list_t *l = ipo_obj_data(obj);
        uint64_t cap = 0;
        const ipo_value_t *items = list_array(r, (ipo_obj_t *)obj, &cap);
        if (l->items.type != IPO_T_NONE && !items)
            CHECK_FAIL("a list at %llu has a damaged array", (unsigned long long)off);
        if (l->len > cap)
            CHECK_FAIL("a list at %llu holds %llu items in room for %llu", (unsigned long long)off,
                       (unsigned long long)l->len, (unsigned long long)cap);
        for (uint64_t i = l->len; i < cap; i++)
            if (items[i].type != IPO_T_NONE)
                CHECK_FAIL("a list at %llu has a value past its end", (unsigned long long)off);
        return items ? check_values(r, items, l->len, depth, budget, why, why_len) : 0;
    }
    case IPO_T_DICT:
    case IPO_T_SET:
    case IPO_T_FROZENSET:
        return check_table(r, obj, depth, budget, why, why_len);
    default: {
        ipo_value_t *values;
        size_t n = ipo_obj_values(obj, &values);
        return check_values(r, values, n, depth, budget, why, why_len);
    }
    }
}

int ipo_obj_check_tree(const ipo_region_t *r, ipo_off_t off, unsigned depth, char *why, size_t why_len)
{
    uint64_t used = r->heap.root->used_blocks, most = r->size / (2 * sizeof(ipo_block_t));
    uint64_t budget = used < most ? used : most;
    return check_tree(r, off, depth, &budget, why, why_len);
}

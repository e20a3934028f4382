/* core/src/containers_map.c — insertion-ordered hash tables (dict, set, frozenset): an index over entries in insertion order. */
/* Holding access, and stores released for a kill: containers_internal.h. */
#include <string.h>

#include "containers_internal.h"

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

int64_t ipo_map_find(const ipo_region_t *r, const ipo_obj_t *map, uint64_t hash,
                     ipo_key_eq_fn eq, void *ctx)
{
    ipo_table_t *t = ipo_map_table(r, map);
    if (!t)
        return IPO_MAP_DAMAGED;
    return ipo_map_find_in(t, hash, eq, ctx);
}

int64_t ipo_map_find_in(ipo_table_t *t, uint64_t hash, ipo_key_eq_fn eq, void *ctx)
{
    /* The table's bounds as ipo_map_table() checked them, read once: a
     * compare may run code (a Python key's __eq__, a finalizer) that frees
     * the table and reuses its block, and the probe must then stay inside
     * it (the caller looks again: keys.c). */
    uint32_t *index = ipo_table_index(t);
    ipo_entry_t *entries = ipo_table_entries(t);
    const uint64_t index_size = t->index_size, nentries = t->nentries;
    uint64_t mask = index_size - 1, perturb = hash, i = hash & mask;
    for (uint64_t probes = 0; probes <= index_size + 64; probes++, PROBE_NEXT(i, perturb, mask)) {
        uint32_t ix = index[i];
        if (ix == 0)
            return IPO_MAP_ABSENT;
        if (ix == IPO_TABLE_DUMMY || ix > nentries)
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

int ipo_map_set_value(ipo_region_t *r, ipo_obj_t *map, uint64_t entry, const ipo_value_t *value)
{
    if (map->type != IPO_T_DICT)
        return -IPO_EINVAL;
    ipo_table_t *t = ipo_map_table(r, map);
    if (!t)
        return -IPO_EBADOBJ;
    return ipo_map_set_value_in(r, map, t, entry, value);
}

int ipo_map_set_value_in(ipo_region_t *r, ipo_obj_t *map, ipo_table_t *t, uint64_t entry,
                         const ipo_value_t *value)
{
    if (map->type != IPO_T_DICT)
        return -IPO_EINVAL;
    ipo_entry_t *e = &ipo_table_entries(t)[entry];
    if (entry >= t->nentries || !e->live)
        return -IPO_EINVAL;
    ipo_obj_t *table = obj_at(r, ((ipo_map_t *)ipo_obj_data(map))->table.v.off);
    return ipo_value_replace(r, table, &e->value, value);
}

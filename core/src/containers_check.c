/* core/src/containers_check.c — checking a tree of objects: every value names a live child of its type, every table agrees with its entries. */
#include <stdio.h>

#include "containers_internal.h"

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


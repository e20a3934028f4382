/* core/src/containers_list.c — live lists: an array of value slots, grown and shrunk, changed in the middle by copy on write. */
/* Holding access, and stores released for a kill: containers_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "containers_internal.h"

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

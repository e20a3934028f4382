/* core/src/containers_repair.c — after a takeover, the container change the turn note names, finished or undone. */
#include <string.h>

#include "containers_internal.h"

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
        bad = ipo__value_repair(r, (ipo_obj_t *)obj, n->a, n->b) != 0;
    } else {
        bad = 1;
    }
    note_clear(r);
    return bad ? -IPO_ECORRUPT : 0;
}

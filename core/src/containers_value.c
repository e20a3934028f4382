/* core/src/containers_value.c — a value slot of a live container released, or replaced in place: old or new whatever kills us. */
/* Holding access, and stores released for a kill: containers_internal.h. */
#include <stddef.h>

#include "containers_internal.h"

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
int ipo__value_repair(ipo_region_t *r, ipo_obj_t *holder, uint64_t a, uint64_t old_payload)
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

/* core/include/ipo/containers.h — live lists and hash tables in the object format. */
#ifndef IPO_CONTAINERS_H
#define IPO_CONTAINERS_H

#include <stddef.h>
#include <stdint.h>

#include "ipo/atomics.h"
#include "ipo/format.h"
#include "ipo/region.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every function here needs access and changes shared state in place, so
 * every process sees the change once it holds access. Values handed in are
 * owned by the container on success (their child objects become its
 * children); values handed out (removed, replaced) are the caller's, to
 * destroy with ipo_value_release() or to read first. */

/* ---- lists ----------------------------------------------------------------------- */

/* IPO_T_LIST payload. Growing builds a larger VALUES array, copies the
 * slots, and publishes it with one store to `items`: a reader never sees a
 * torn array. Slots at and past `len` hold NONE. */
typedef struct ipo_list {
    uint64_t    len;
    uint64_t    reserved;
    ipo_value_t items;       /* IPO_T_VALUES, or NONE while the capacity is 0 */
} ipo_list_t;

_Static_assert(sizeof(ipo_list_t) == 32, "list layout");

/* A new empty list with room for `capacity` items. 0, -IPO_ENOMEM. */
int ipo_list_new(struct ipo_region *r, uint64_t capacity, ipo_off_t *out);

/* The list's items (len of them); valid until the list next changes. A
 * damaged list shows the items its array holds. */
ipo_value_t *ipo_list_items(const struct ipo_region *r, const ipo_obj_t *list, uint64_t *len);

/* The same, checked: 0, or -IPO_ECORRUPT when the list's length exceeds its
 * array's capacity or its array does not check out (one compare more than
 * ipo_list_items, for readers that must tell a damaged list). *items is
 * NULL for a list without an array. */
int ipo_list_get(const struct ipo_region *r, const ipo_obj_t *list, ipo_value_t **items, uint64_t *len);

/* Room for at least `capacity` items, growing geometrically. 0, -IPO_ENOMEM. */
int ipo_list_reserve(struct ipo_region *r, ipo_obj_t *list, uint64_t capacity);

/* Inserts `n` values at `index` (<= len), shifting the rest up. 0,
 * -IPO_ENOMEM or -IPO_ECORRUPT (a damaged list) with the list unchanged,
 * the values still the caller's. */
int ipo_list_insert(struct ipo_region *r, ipo_obj_t *list, uint64_t index,
                    const ipo_value_t *values, uint64_t n);

/* Moves `n` items from `index` out into `out` (may be NULL: they are
 * released), closing the gap. index + n <= len. */
void ipo_list_remove(struct ipo_region *r, ipo_obj_t *list, uint64_t index, uint64_t n,
                     ipo_value_t *out);

/* Shrinks the array when it is mostly empty; never fails (keeps the old
 * array when no smaller one can be had). */
void ipo_list_trim(struct ipo_region *r, ipo_obj_t *list);

/* The list's VALUES block, the holder of its items for ipo_value_replace():
 * only for a list that ipo_list_get() found sound with an array. */
static inline ipo_obj_t *ipo_list_array(const struct ipo_region *r, const ipo_obj_t *list)
{
    const ipo_list_t *l = (const ipo_list_t *)ipo_obj_data(list);
    return (ipo_obj_t *)(r->base + l->items.v.off);
}

/* Replaces item `index` (< len) with `value` (ipo_value_replace: old or
 * new at every instruction; the old item released). 0, -IPO_EINVAL (index
 * past the end: nothing changed, the value still the caller's),
 * -IPO_ECORRUPT. */
int ipo_list_set(struct ipo_region *r, ipo_obj_t *list, uint64_t index, const ipo_value_t *value);

/* Reorders the items: item k becomes the item that was at order[k]; n is
 * the length and order names each index once. Built on a new array and
 * published with one store, so a kill leaves the old order or the new;
 * when the region has no room for the array, in place (a kill then can
 * leave an item twice and another lost). 0, -IPO_EINVAL (not a
 * permutation: nothing changed), -IPO_ECORRUPT, -IPO_ENOMEM (no memory
 * for the check's own bitmap). */
int ipo_list_permute(struct ipo_region *r, ipo_obj_t *list, const uint64_t *order, uint64_t n);

/* ---- hash tables (dict, set, frozenset) ------------------------------------------- */

/* IPO_T_DICT, IPO_T_SET and IPO_T_FROZENSET payload. */
typedef struct ipo_map {
    ipo_value_t table;       /* IPO_T_TABLE, always present */
} ipo_map_t;

/* IPO_T_TABLE payload: a compact, insertion-ordered hash table. The index
 * is `index_size` (a power of two) uint32 slots, each 0 (empty),
 * IPO_TABLE_DUMMY (its entry was deleted) or an entry number plus one;
 * probing is CPython's perturbed sequence. Entries follow the index at
 * ipo_table_entries() in insertion order; a deleted entry is kept, with
 * `live` 0 and NONE in both values, until the next resize compacts them.
 * A resize builds a new table and publishes it with one store to the map's
 * `table`. Hashes are the format's stable hash (ipo/hash.h), so every
 * process and language finds the same slot. */
typedef struct ipo_table {
    uint64_t index_size;
    uint64_t entry_cap;
    uint64_t nentries;       /* entries used, deleted ones included */
    uint64_t used;           /* live entries */
} ipo_table_t;

typedef struct ipo_entry {
    uint64_t    hash;
    uint64_t    live;        /* 1, or 0 for a deleted entry */
    ipo_value_t key;
    ipo_value_t value;       /* NONE in sets */
} ipo_entry_t;

_Static_assert(sizeof(ipo_table_t) == 32, "table layout");
_Static_assert(sizeof(ipo_entry_t) == 48, "entry layout");

#define IPO_TABLE_DUMMY UINT32_MAX

static inline uint32_t *ipo_table_index(ipo_table_t *t)
{
    return (uint32_t *)(t + 1);
}

static inline ipo_entry_t *ipo_table_entries(ipo_table_t *t)
{
    uint64_t index_bytes = (t->index_size * sizeof(uint32_t) + 15) & ~(uint64_t)15;
    return (ipo_entry_t *)((uint8_t *)(t + 1) + index_bytes);
}

/* A new empty map of `type` (DICT, SET or FROZENSET) with room for `n`
 * entries before its first resize. 0, -IPO_ENOMEM, -IPO_EINVAL. */
int ipo_map_new(struct ipo_region *r, uint8_t type, uint64_t n, ipo_off_t *out);

/* The map's table, or NULL when it does not check out. */
ipo_table_t *ipo_map_table(const struct ipo_region *r, const ipo_obj_t *map);

/* Decides whether a stored key equals the key looked for: 1, 0, or -1 to
 * stop the lookup (an error the callback reports its own way). */
typedef int (*ipo_key_eq_fn)(void *ctx, const ipo_value_t *stored);

/* Looks `hash` up: the entry number of the equal key, IPO_MAP_ABSENT,
 * IPO_MAP_ERROR when eq returned -1, or IPO_MAP_DAMAGED when the map's
 * table does not check out. */
#define IPO_MAP_ABSENT  ((int64_t)-1)
#define IPO_MAP_ERROR   ((int64_t)-2)
#define IPO_MAP_DAMAGED ((int64_t)-3)
int64_t ipo_map_find(const struct ipo_region *r, const ipo_obj_t *map, uint64_t hash,
                     ipo_key_eq_fn eq, void *ctx);

/* ipo_map_find() in t, the table ipo_map_table() gave for the map in this
 * operation, nothing having changed the map since (no code that could
 * have run between): an operation that looks a key up, then reads or
 * sets its value, checks the table once rather than at each step. */
int64_t ipo_map_find_in(ipo_table_t *t, uint64_t hash, ipo_key_eq_fn eq, void *ctx);

/* Appends an entry for a key known to be absent (ipo_map_find said so),
 * resizing first when the entries are full. 0, -IPO_ENOMEM, or
 * -IPO_EBADOBJ / -IPO_ECORRUPT for a damaged table (the map unchanged, key
 * and value still the caller's). */
int ipo_map_insert(struct ipo_region *r, ipo_obj_t *map, uint64_t hash,
                   const ipo_value_t *key, const ipo_value_t *value);

/* Deletes entry number `entry`, moving its key and value into the outputs
 * (either may be NULL: released then). */
void ipo_map_delete(struct ipo_region *r, ipo_obj_t *map, uint64_t entry,
                    ipo_value_t *key, ipo_value_t *value);

/* Removes every entry (their values released) and shrinks the table. */
void ipo_map_clear(struct ipo_region *r, ipo_obj_t *map);

/* Replaces the value of live entry `entry` of a dict with `value`
 * (ipo_value_replace; the old value released). 0, -IPO_EINVAL (not a
 * dict, or no such live entry: the value still the caller's),
 * -IPO_EBADOBJ (a damaged table). */
int ipo_map_set_value(struct ipo_region *r, ipo_obj_t *map, uint64_t entry, const ipo_value_t *value);

/* ipo_map_set_value() with t, the map's table as ipo_map_table() gave it
 * in this operation (as for ipo_map_find_in()). */
int ipo_map_set_value_in(struct ipo_region *r, ipo_obj_t *map, ipo_table_t *t, uint64_t entry,
                         const ipo_value_t *value);

/* Checks an object and everything it owns: children of the types their
 * values say, lists within their arrays, tables' index and entries in
 * agreement. 0 or -IPO_ECORRUPT with a description. */
int ipo_obj_check_tree(const struct ipo_region *r, ipo_off_t off, unsigned depth,
                       char *why, size_t why_len);

/* ---- values ---------------------------------------------------------------------- */

/* Destroys the value's child object, if it has one, and leaves NONE. */
void ipo_value_release(struct ipo_region *r, ipo_value_t *v);

/* Replaces the value in `slot`, a value slot of the live block `holder` (a
 * VALUES array: a list's items, an object's fields; or a TABLE: a used
 * entry's value), with *value, whose child (if any) the holder then owns;
 * the old value's child is released. A kill at any instruction leaves the
 * old value or the new one: a new payload of the same inline type is one
 * store, anything else goes under the turn note (IPO_NOTE_VALUE), whose
 * repair finishes or undoes it and releases the child left unnamed. 0, or
 * -IPO_EINVAL when slot is not such a slot of holder (nothing changed, the
 * value still the caller's; checked whenever the note is needed, which
 * must name the slot: the one store of the hot path writes where it is
 * told, as a store through ipo_list_items() would). */
int ipo_value_replace(struct ipo_region *r, ipo_obj_t *holder, ipo_value_t *slot, const ipo_value_t *value);

/* ipo_value_replace()'s hot path, inline for the callers that do nothing
 * else per store (a field set): a number, None or a bool over one of its
 * own type is one aligned 8-byte store, old or new whatever kills us; 1
 * when done so, else 0 (nothing changed: call ipo_value_replace()). The
 * slot is read and written under access, which orders it for the next
 * holder (ipo_access_release's fetch-and is the partner), as every store
 * of the slow path. */
static inline int ipo_value_replace_same_inline(struct ipo_region *r, ipo_value_t *slot, const ipo_value_t *value)
{
    if (slot->type != value->type || !ipo_value_is_inline(value->type))
        return 0;
    ipo_region_mark_changed(r);
    ipo_atomic_store_relaxed(&slot->v.u64, value->v.u64);
    return 1;
}

/* After a takeover: finishes or undoes the container change the header's
 * turn note names (layout.h), and clears the note. 0, or -IPO_ECORRUPT when
 * the note names no such container. Needs access. */
int ipo_containers_repair(struct ipo_region *r);

#ifdef __cplusplus
}
#endif

#endif /* IPO_CONTAINERS_H */

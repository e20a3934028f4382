/* python/src/keys.h — dict and set keys: the format's stable hash, and equality with stored keys. */
#ifndef IPO_PY_KEYS_H
#define IPO_PY_KEYS_H

#include "memo.h"

/* Imports the datetime C API for keys.c. */
int ipo_py_keys_init(void);

/* The stable hash of a key (the same in every process, whatever
 * PYTHONHASHSEED); 0, or -1 with TypeError for a key the format cannot hash. */
int ipo_py_key_hash(RegionObject *self, PyObject *key, uint64_t *out);

/* Drops the keys whose hashes the region keeps (its dealloc). */
void ipo_py_key_memos_clear(RegionObject *self);

/* The entry of the map block whose key equals key (of that hash): its
 * number, IPO_MAP_ABSENT, or IPO_MAP_ERROR with an exception set. With
 * table, *table is the map's table as the lookup checked it, when no
 * Python code ran during the lookup (str, bytes, int keys and tuples of
 * them compare without any), so that the caller may read or set the entry
 * without checking the table again; else NULL. A lookup whose compares
 * ran code is repeated until two agree (the code may have changed the
 * map under it, as CPython's dict restarts then): RuntimeError after a
 * few that do not. */
int64_t ipo_py_map_find(RegionObject *self, const ipo_obj_t *map, PyObject *key, uint64_t hash,
                        ipo_table_t **table);

#endif /* IPO_PY_KEYS_H */

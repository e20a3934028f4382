/* python/src/decode.h — the decoder: format blocks back to Python objects. */
#ifndef IPO_PY_DECODE_H
#define IPO_PY_DECODE_H

#include "class_cache.h"

/* Imports the datetime C API for decode.c. */
int ipo_py_decode_init(void);

/* Each needs access. The Python object for a block: a copy of an immutable
 * one, a view of a live container or object. With `copy`, live containers
 * and objects come back as plain list, dict, set and objects instead, all
 * the way down. NULL with an exception set (InvalidOffsetError for a block
 * that does not check out). */
PyObject *ipo_py_decode(RegionObject *self, ipo_off_t off);
PyObject *ipo_py_decode_obj(RegionObject *self, ipo_off_t off, int copy);
PyObject *ipo_py_decode_value(RegionObject *self, const ipo_value_t *slot, int copy);

/* Drops the str values kept by block (the region's deallocation). */
void ipo_py_str_memos_clear(RegionObject *self);

/* Whether blocks of this type come back as views (so put returns a view). */
int ipo_py_type_is_live(uint8_t type);

/* A plain deep copy of what a view shows: the _copy_out method of the list,
 * dict and set views. */
PyObject *ipo_py_view_copy_out(ViewObject *v, PyObject *unused);

/* The types the codec meets by name (Decimal, ZoneInfo), imported on first
 * sight into *slot, a field of the module state. 0 or -1. */
int ipo_py_lazy_type(PyObject **slot, const char *module, const char *name);

#endif /* IPO_PY_DECODE_H */

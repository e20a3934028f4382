/* python/src/class_cache.h — static objects' generated classes, remembered by block and by class and names. */
#ifndef IPO_PY_CLASS_CACHE_H
#define IPO_PY_CLASS_CACHE_H

#include "view_base.h"

/* Static objects are read as instances of a class generated for their user
 * class and field names (ipc_py_objects/objects.py), whose instances keep an
 * ObjectRef to the VALUES block of their fields. The Python hook makes that
 * class the first time; these caches let the decoder make instances itself
 * after that. Keys: block_key is the OBJECT block's offset as an int, checked
 * against the block's generation; class_key is (class key, field names).
 * Missing a cache only costs time: none of these fails for want of memory
 * except by failing to make the instance. */

/* An instance of the class remembered for this block (of generation gen),
 * linked to values_off: 1 and a new reference in *inst; 0 when no class is
 * remembered for it; -1 with an exception set. */
int ipo_py_class_cache_by_block(RegionObject *self, PyObject *block_key, uint32_t gen,
                                ipo_off_t values_off, PyObject **inst);

/* As ipo_py_class_cache_by_block, by class key and field names; a hit is
 * remembered for the block as well. */
int ipo_py_class_cache_by_class(RegionObject *self, PyObject *class_key, PyObject *block_key,
                                uint32_t gen, ipo_off_t values_off, PyObject **inst);

/* Remembers cls, the class the Python hook gave for a block, by block and
 * (when class_key is not NULL) by class key and field names. A class that
 * does not say where its instances keep the link is not remembered. */
void ipo_py_class_cache_remember(RegionObject *self, PyObject *block_key, PyObject *class_key,
                                 uint32_t gen, PyTypeObject *cls);

#endif /* IPO_PY_CLASS_CACHE_H */

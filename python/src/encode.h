/* python/src/encode.h — the encoder: Python objects into format blocks. */
#ifndef IPO_PY_ENCODE_H
#define IPO_PY_ENCODE_H

#include "keys.h"

/* Imports the datetime C API for encode.c. */
int ipo_py_encode_init(void);

/* Each needs access. A new object's offset (encode) or a value slot
 * (encode_value); on failure nothing is left behind. */
int ipo_py_encode(RegionObject *self, PyObject *obj, ipo_off_t *out);
int ipo_py_encode_value(RegionObject *self, PyObject *obj, ipo_value_t *slot);
/* Inserts or replaces key (and value: NULL for sets) in a map block. */
int ipo_py_map_put(RegionObject *self, ipo_off_t map_off, PyObject *key, PyObject *value);
/* Runs the adoptions a successful put collected; drops them after a failure. */
int ipo_py_finish_put(RegionObject *self, int ok);

#endif /* IPO_PY_ENCODE_H */

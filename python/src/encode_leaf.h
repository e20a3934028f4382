/* python/src/encode_leaf.h — the encoder's leaves: blocks of values that hold no other value. */
#ifndef IPO_PY_ENCODE_LEAF_H
#define IPO_PY_ENCODE_LEAF_H

#include "keys.h"

/* These run no Python code of the user's and recurse into nothing, so they
 * need no encoder state (encode.h): each makes one block from one value.
 * Each needs access; 0 and the block's offset in *out, or -1 with an
 * exception set and nothing left behind. */

/* Raises for a failed allocation (rc from the core): for -IPO_ENOMEM,
 * FreeMemoryChunkNotFoundError with the allocator's record of what it
 * refused. -1. */
int ipo_py_fail_alloc(RegionObject *self, int rc);

/* A block without payload: None, bool, int64, float64, date (bits in v). */
int ipo_py_encode_scalar(RegionObject *self, uint8_t type, uint64_t bits, ipo_off_t *out);

/* A block of `len` payload bytes copied from src, with flags (IPO_OBJ_*). */
int ipo_py_encode_bytes(RegionObject *self, uint8_t type, const void *src, Py_ssize_t len,
                        uint8_t flags, ipo_off_t *out);

/* Exact str, int (INT64, or BIGINT beyond), complex, Decimal, ZoneInfo. */
int ipo_py_encode_str(RegionObject *self, PyObject *obj, ipo_off_t *out);
int ipo_py_encode_int(RegionObject *self, PyObject *obj, ipo_off_t *out);
int ipo_py_encode_complex(RegionObject *self, PyObject *obj, ipo_off_t *out);
int ipo_py_encode_decimal(RegionObject *self, PyObject *obj, ipo_off_t *out);
int ipo_py_encode_zoneinfo(RegionObject *self, PyObject *obj, ipo_off_t *out);

#endif /* IPO_PY_ENCODE_LEAF_H */

/* python/src/buffer.h — zero-copy buffers of shared payloads: the layer above the handle's checks. */
#ifndef IPO_PY_BUFFER_H
#define IPO_PY_BUFFER_H

#include "handle.h"

extern PyType_Spec ipo_buffer_spec;

/* A memoryview of the payload of the object at off (get_obj_buffer, and
 * the data of a numpy array read back). The object stays pinned, and the
 * region's mapping stays, while the memoryview lives. Needs access. */
PyObject *ipo_py_obj_buffer(RegionObject *self, ipo_off_t off, int readonly);

/* The parts of an NDARRAY block, or of the NDARRAY a TENSOR lies over
 * (ipo_ndarray_part), checked down to their data block: the one place that
 * follows a tensor to its array. NULL with InvalidOffsetError. */
const ipo_value_t *ipo_py_array_parts(RegionObject *self, const ipo_obj_t *obj);

#endif /* IPO_PY_BUFFER_H */

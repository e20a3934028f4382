/* python/src/handle.h — the checks every layer makes on a Region handle before it touches the mapping. */
#ifndef IPO_PY_HANDLE_H
#define IPO_PY_HANDLE_H

#include "errors.h"

/* The handle is attached, not closing, and not inherited across fork().
 * 0, or -1 with RegionClosedError (or RuntimeError before __init__). */
int ipo_py_require_attached(RegionObject *self);

/* As ipo_py_require_attached, and a thread of this process holds a turn:
 * what reading or changing anything in the region needs. 0, or -1 with
 * AccessNotHeldError. */
int ipo_py_require_access(RegionObject *self);

/* Unmaps a closed region once nothing uses its mapping any more: no buffer
 * exported from it and no thread waiting with the GIL released. */
void ipo_py_maybe_unmap(RegionObject *self);

#endif /* IPO_PY_HANDLE_H */

/* python/src/guard_type.h — AccessGuard, the context manager over ipo_py_acquire and ipo_py_release. */
#ifndef IPO_PY_GUARD_TYPE_H
#define IPO_PY_GUARD_TYPE_H

#include "region_type.h"

extern PyType_Spec ipo_guard_spec;

/* A guard that takes access on entry (as mode says) and gives it back on
 * exit if this thread still holds the turn it took. */
PyObject *ipo_py_new_guard(RegionObject *region, int mode, double time_limit);

#endif /* IPO_PY_GUARD_TYPE_H */

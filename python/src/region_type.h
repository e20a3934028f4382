/* python/src/region_type.h — the Region type: a region handle, its life, access and methods. */
#ifndef IPO_PY_REGION_TYPE_H
#define IPO_PY_REGION_TYPE_H

#include "messages.h"

extern PyType_Spec ipo_region_spec;

/* Wait modes of ipo_py_acquire and of AccessGuard. */
enum ipo_wait_mode {
    IPO_WAIT_ACCESS   = 0,
    IPO_TRY_ACCESS    = 1,
    IPO_WAIT_MESSAGES = 2,
    IPO_TRY_MESSAGES  = 3   /* one attempt, only when a message is queued */
};

/* 1 acquired, 0 not (IPO_TRY_ACCESS only), -1 with an exception set. */
int ipo_py_acquire(RegionObject *self, int mode, double time_limit);
int ipo_py_release(RegionObject *self);

#endif /* IPO_PY_REGION_TYPE_H */

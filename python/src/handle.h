/* python/src/handle.h — the checks every layer makes on a Region handle before it touches the mapping. */
#ifndef IPO_PY_HANDLE_H
#define IPO_PY_HANDLE_H

#include "errors.h"

#include <time.h>

/* The handle is attached, not closing, and not inherited across fork().
 * 0, or -1 with RegionClosedError (or RuntimeError before __init__). */
int ipo_py_require_attached(RegionObject *self);

/* As ipo_py_require_attached, and a thread of this process holds a turn:
 * what reading or changing anything in the region needs. 0, or -1 with
 * AccessNotHeldError. */
int ipo_py_require_access(RegionObject *self);

/* Asks the kernel whether the region's creator is alive (one fcntl; free
 * once it is known gone). 0 while it lives, and always on the creator's
 * own handle; -1 with CreatorGoneError once it died or closed the region.
 * Waits call it when they begin to sleep, and when they wake with nothing
 * to do or time out: there it costs nothing against the sleep. */
int ipo_py_require_creator(RegionObject *self);

/* How often a turn taken at once asks the kernel: often enough that a
 * consumer taking free turns in a loop learns of its creator's death
 * within this, rarely enough that the question costs nothing (300 ns a
 * tenth of a second). */
#define IPO_PY_CREATOR_CHECK_NS (INT64_C(100) * 1000 * 1000)

/* ipo_py_require_creator() for a turn that may be taken at once, without a
 * system call on that path: one read of the coarse clock (a few ns, no
 * system call), and the question itself once per IPO_PY_CREATOR_CHECK_NS. */
static inline int ipo_py_creator_check(RegionObject *self)
{
    if (self->create)
        return 0;
    /* Known gone: say so at once (no system call either). */
    if (self->r.creator_gone)
        return ipo_py_require_creator(self);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (now < self->creator_check_ns)
        return 0;
    self->creator_check_ns = now + IPO_PY_CREATOR_CHECK_NS;
    return ipo_py_require_creator(self);
}

/* ipo_py_require_creator() for a wait that goes to sleep: without a system
 * call while the death watch watches the creator (its death wakes the
 * sleeper, which asks then) and the header does not say CLOSING (a
 * creator that closes says so first); the question itself then only as
 * often as ipo_py_creator_check() asks it. A creator whose close came
 * after that look is found by the sleeper's periodic look. */
int ipo_py_creator_check_sleeping(RegionObject *self);

/* Unmaps a closed region once nothing uses its mapping any more: no buffer
 * exported from it and no thread waiting with the GIL released. */
void ipo_py_maybe_unmap(RegionObject *self);

#endif /* IPO_PY_HANDLE_H */

/* python/src/turn.h — the turn engine's parts that the Region type's methods use besides the access API. */
#ifndef IPO_PY_TURN_H
#define IPO_PY_TURN_H

#include "handle.h"

/* ipo_py_acquire() and ipo_py_release(), the access API, are declared in
 * ipo_python.h, under every layer (with ipo_py_held_here(), inline);
 * turn.c holds them. */

/* Why release() or close() cannot happen now: an operation on one of the
 * region's live objects or messages is running. -1 with the error set. */
int ipo_py_refuse_while_running(RegionObject *self, const char *what);

/* Ends this thread's turn once every check passed (access held, by this
 * thread, nothing running); *changes is the change count as of the
 * release. 0, or -1 with the error set. */
int ipo_py_release_checked(RegionObject *self, uint64_t *changes);

/* A deadline `seconds` from now on CLOCK_MONOTONIC (ns), or -1 for a
 * negative time limit: none. */
static inline int64_t ipo_py_deadline_after(double seconds)
{
    if (seconds < 0)
        return -1;
    if (seconds > 1e9)
        seconds = 1e9;
    return ipo_now_ns() + (int64_t)(seconds * 1e9);
}

static inline int ipo_py_deadline_passed(int64_t deadline)
{
    return deadline >= 0 && ipo_now_ns() >= deadline;
}

#endif /* IPO_PY_TURN_H */

/* python/src/handle.c — whether a Region handle may be used, and when its mapping may go. */
#include "handle.h"

int ipo_py_require_attached(RegionObject *self)
{
    /* closed is set when close() begins: nothing new starts on a closing region. */
    if (!self->attached || self->closed) {
        if (!self->name)
            PyErr_SetString(PyExc_RuntimeError, "SharedMemory.__init__ was not called");
        else if (self->closed)
            PyErr_Format(self->st->RegionClosedError, "region '%U' is closed", self->name);
        else
            PyErr_Format(self->st->RegionClosedError,
                         "region '%U' is not attached yet: call init_consumer() first, "
                         "or use the SharedMemory as a context manager", self->name);
        return -1;
    }
    if (ipo_region_inherited(&self->r)) {
        PyErr_Format(self->st->RegionClosedError,
                     "this handle on region '%U' was inherited across fork(): it belongs to "
                     "the parent process. Create a new SharedMemory in the child", self->name);
        return -1;
    }
    return 0;
}

int ipo_py_require_access(RegionObject *self)
{
    if (ipo_py_require_attached(self) < 0)
        return -1;
    /* holder_thread is set, under the GIL, only once a turn is granted: a
     * thread of this process that holds access for an instant while it looks
     * for messages (GIL released) gives nobody a turn. */
    if (!ipo_access_held(&self->r) || !self->holder_thread) {
        PyErr_Format(self->st->AccessNotHeldError,
                     "this process does not hold access to region '%U': call this inside "
                     "`with wait_my_turn(sm):`, or between sm.wait_my_turn() and sm.release()",
                     self->name);
        return -1;
    }
    return 0;
}

int ipo_py_require_creator(RegionObject *self)
{
    if (ipo_region_creator_alive(&self->r))
        return 0;
    /* A creator that closed marked the region CLOSING first; one killed
     * while closing did too, which this cannot tell from a close. Relaxed:
     * only which message to give depends on it. */
    int closed = ipo_atomic_load_relaxed(&self->r.hdr->state) == IPO_STATE_CLOSING;
    PyErr_Format(self->st->CreatorGoneError,
                 closed ? "the creator of region '%U' (pid %u) has closed it: the region is gone"
                        : "the creator of region '%U' (pid %u) has died: the region is gone. "
                          "Close this handle, and attach again to the region a new creator makes",
                 self->name, (unsigned)self->r.hdr->creator_pid);
    return -1;
}

int ipo_py_creator_check_sleeping(RegionObject *self)
{
    if (self->create)
        return 0;
    /* Relaxed, as in ipo_py_require_creator(): a hint that sends us to the
     * kernel; the store it pairs with is ipo_region_begin_close()'s. */
    if (ipo_atomic_load_relaxed(&self->r.hdr->state) == IPO_STATE_CLOSING)
        return ipo_py_require_creator(self);
    pthread_mutex_lock(&self->waker.lock);
    int watched = ipo_deathwatch_watching(&self->waker.watch, 0); /* slot 0: the creator's */
    pthread_mutex_unlock(&self->waker.lock);
    return watched ? ipo_py_creator_check(self) : ipo_py_require_creator(self);
}

void ipo_py_maybe_unmap(RegionObject *self)
{
    if (self->closed && self->exports == 0 && self->waiters == 0)
        ipo_region_unmap(&self->r);
}

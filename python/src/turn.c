/* python/src/turn.c — the turn engine of the sync API: taking access (spin, then sleep on the doorbell) and giving it back. */
#include "turn.h"
#include "ipo/recover.h"

/* Sleeps end this often to run signal handlers, in case the signal went to
 * another thread (the main thread's sleep is cut short by EINTR at once).
 * Rare enough to cost nothing while idle. */
#define SIGNAL_CHECK_NS (INT64_C(1000) * 1000 * 1000)

int ipo_py_acquire(RegionObject *self, int mode, double time_limit)
{
    if (ipo_py_require_attached(self) < 0)
        return -1;
    unsigned long me = ipo_py_thread_ident();
    if (ipo_access_held(&self->r) && self->holder_thread == me) {
        if (mode == IPO_TRY_ACCESS || mode == IPO_TRY_MESSAGES)
            return 0;
        PyErr_Format(self->st->SharedMemoryError,
                     "this thread already holds access to region '%U': waiting for it again "
                     "would never end. Call release() first", self->name);
        return -1;
    }
    /* A consumer of a creator that is gone takes no turn: the region is
     * gone. Asked of the kernel now and then on this path, which takes a
     * free turn without a system call. */
    if (ipo_py_creator_check(self) < 0)
        return -1;
    /* The uncontended case costs one compare-and-swap, with the GIL kept. */
    int messages = mode == IPO_WAIT_MESSAGES || mode == IPO_TRY_MESSAGES;
    if (ipo_handoff_try(&self->waker, messages)) {
        self->holder_thread = me;
        return 1;
    }
    if (mode == IPO_TRY_ACCESS || mode == IPO_TRY_MESSAGES)
        return 0;

    /* The waiter spins for the budget, then sleeps on the doorbell until a
     * releaser rings, with the GIL released. Each sleep ends by the next
     * signal check, so that signal handlers run (a signal also cuts it
     * short, through EINTR); the waiter keeps its place meanwhile. */
    ipo_waiter_t waiter;
    ipo_waiter_init(&waiter, &self->waker); /* no system call until it sleeps */
    uint32_t what = messages ? IPO_WAIT_FOR_MESSAGES : IPO_WAIT_FOR_ACCESS;
    int64_t deadline = ipo_py_deadline_after(time_limit);
    int rc;
    int asleep = 0;
    self->waiters++;
    for (;;) {
        int64_t wake_by = ipo_now_ns() + SIGNAL_CHECK_NS;
        Py_BEGIN_ALLOW_THREADS
        if (!asleep) /* spin, then register: a turn that comes by then costs no system call */
            rc = ipo_waiter_start(&waiter, what, 0, self->spin_ns);
        else
            rc = ipo_waiter_wait(&waiter, what, 0, deadline, wake_by, 0);
        Py_END_ALLOW_THREADS
        if (rc == 0) /* IPO_WAIT_HELD from a start, 0 from a wait */
            break;
        if (!asleep && rc > 0) {
            /* The wait goes to sleep: a creator that closed the region,
             * alive, never rings (its header says CLOSING); one that
             * dies, the death watch reports. */
            asleep = 1;
            if (ipo_py_creator_check_sleeping(self) < 0) {
                rc = -1;
                break;
            }
            continue;
        }
        asleep = 1;
        if (PyErr_CheckSignals() < 0)
            break;
        /* Woken without a turn (the periodic wake, a signal, a wake of the
         * waiter's own), or at the time limit: a creator that died never
         * releases nor rings, so this is where its consumers learn of it
         * rather than wait out their limit. */
        if (ipo_py_require_creator(self) < 0)
            break;
        if (rc == -IPO_ETIMEDOUT || ipo_py_deadline_passed(deadline)) {
            PyErr_Format(self->st->OperationTimedOutError,
                         messages ? "no message arrived in region '%U' within %s"
                                  : "access to region '%U' was not granted within %s",
                         self->name, ipo_py_seconds_text(time_limit).text);
            break;
        }
        if (rc == -IPO_EFULL) {
            ipo_py_raise(self->st, rc, "%u threads of this process wait on region '%U' already: "
                         "no more can wait at once", IPO_WAITERS_MAX, self->name);
            break;
        }
        if (rc == -IPO_ECORRUPT) {
            ipo_py_raise(self->st, rc, "a participant died holding access to region '%U', and "
                         "what it left cannot be repaired", self->name);
            break;
        }
        if (rc != -IPO_EINTR) { /* poll() itself failed: no point in trying again */
            ipo_py_raise(self->st, rc, "waiting for access to region '%U' failed", self->name);
            break;
        }
    }
    ipo_waiter_fini(&waiter); /* a wait given up passes its ring on */
    self->waiters--;
    /* A turn taken over from a holder that died in it: if that holder was
     * the creator, the region went with it, and the turn goes back. */
    if (rc == 0 && ipo_access_cut_short(&self->r) && ipo_py_require_creator(self) < 0) {
        ipo_handoff_release(&self->waker);
        rc = -1;
    }
    if (rc == 0) {
        self->holder_thread = me;
        ipo_py_maybe_unmap(self);
        return 1;
    }
    ipo_py_maybe_unmap(self);
    return -1;
}

/* Ends this process's turn. Writes through views and puts are counted by
 * the encoder and the core; writes through buffers this process exports
 * (memoryviews, numpy arrays and torch tensors over shared data) cannot be
 * seen, so a turn while any is alive counts as a change too. Gives the
 * change count as of the release. */
static uint64_t release_turn(RegionObject *self)
{
    self->holder_thread = 0;
    if (self->exports > 0)
        ipo_region_mark_changed(&self->r);
    return ipo_handoff_release(&self->waker);
}

/* Why release(), close() or destroy_obj() cannot happen now: an operation
 * on one of the region's live objects or messages is running (this is
 * Python code it called: an __eq__, a __hash__, a class's hook, or a
 * finalizer that a collection started by its allocations ran), and it
 * would go on without access, over an unmapped region, or through a freed
 * block. Refused rather than deferred to the operation's end, so that the
 * caller knows it did not happen. -1 with the error set. */
int ipo_py_refuse_while_running(RegionObject *self, const char *what)
{
    PyErr_Format(PyExc_RuntimeError,
                 "cannot %s region '%U' while an operation on one of its shared objects or "
                 "messages is running (from code that operation called: an __eq__, a __hash__, "
                 "a key function, a class's hook, or a finalizer run by a garbage collection "
                 "during it)", what, self->name);
    return -1;
}

/* release_turn() once every check passed; *changes is the change count as
 * of the release. */
int ipo_py_release_checked(RegionObject *self, uint64_t *changes)
{
    if (ipo_py_require_access(self) < 0)
        return -1;
    /* A turn is a thread's: another thread's release would pull it from
     * under the block or operation that holds it. */
    if (self->holder_thread != ipo_py_thread_ident()) {
        PyErr_Format(self->st->AccessNotHeldError,
                     "this thread does not hold access to region '%U': another thread of this "
                     "process does, and only it can release it", self->name);
        return -1;
    }
    if (self->running)
        return ipo_py_refuse_while_running(self, "release");
    *changes = release_turn(self);
    return 0;
}

int ipo_py_release(RegionObject *self)
{
    uint64_t changes;
    return ipo_py_release_checked(self, &changes);
}

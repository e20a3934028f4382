/* python/src/waiter_type.c — Waiter: loop/'s waiter for an event loop that Python drives (aio.py). */
#include "waiter_type.h"

#include "ipo/recover.h"

/* The asyncio manager (aio.py) watches fds with loop.add_reader and calls
 * readable() when one is; the whole protocol (try, spin, register, pass a
 * ring on, unregister) is the C waiter's, as for the sync API and the libuv
 * adapter. Steps answer WAIT_HELD (this thread holds access now),
 * WAIT_SLEEP or WAIT_AGAIN. Nothing here blocks: the GIL stays held, and a
 * spin is bounded by the caller's budget. */
/* The region is attached here and its waker alive: the waiter may touch it. */
static int usable(WaiterObject *self)
{
    RegionObject *r = self->region;
    return self->ready && r->attached && !r->closed && !ipo_region_inherited(&r->r);
}

static int require_usable(WaiterObject *self)
{
    if (usable(self))
        return 0;
    RegionObject *r = self->region;
    PyErr_Format(r->st->RegionClosedError, "region '%U' is closed or not attached",
                 r->name ? r->name : Py_None);
    return -1;
}

/* A turn the waiter took is this thread's, as for wait_my_turn(). A wait
 * that goes to sleep, or wakes without its turn, first asks whether the
 * creator is alive, as the sync API's waits do: a dead creator never
 * rings, so this is where a consumer learns of it. The wait is cancelled
 * then (a ring it had goes on) and CreatorGoneError raised. Going to
 * sleep (`sleeping`), the question needs no system call while the death
 * watch would wake us (ipo_py_creator_check_sleeping). */
static PyObject *step_result(WaiterObject *self, int step, int sleeping)
{
    if (step < 0)
        return ipo_py_raise(self->region->st, step, "bad wait for region '%U'", self->region->name);
    if (step == IPO_WAIT_HELD) {
        /* Taken over from a holder that died in its turn: if that was the
         * creator, the region went with it, and the turn goes back. */
        if (ipo_access_cut_short(&self->region->r) && ipo_py_require_creator(self->region) < 0) {
            ipo_handoff_release(&self->region->waker);
            return NULL;
        }
        self->region->holder_thread = ipo_py_thread_ident();
    } else if ((sleeping ? ipo_py_creator_check_sleeping(self->region)
                         : ipo_py_require_creator(self->region)) < 0) {
        ipo_waiter_cancel(&self->w);
        return NULL;
    }
    return PyLong_FromLong(step);
}

static PyObject *Waiter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "region", NULL };
    PyObject *region;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Waiter", kwlist, &region))
        return NULL;
    ipo_state *st = PyType_GetModuleState(type);
    if (!st)
        return NULL;
    if (!PyObject_TypeCheck(region, st->region_type)) {
        PyErr_Format(PyExc_TypeError, "expected a SharedMemory, got '%.200s'", Py_TYPE(region)->tp_name);
        return NULL;
    }
    RegionObject *r = (RegionObject *)region;
    if (!r->attached || r->closed || ipo_region_inherited(&r->r)) {
        PyErr_Format(st->RegionClosedError, "region '%U' is not attached",
                     r->name ? r->name : Py_None);
        return NULL;
    }
    WaiterObject *self = (WaiterObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->region = (RegionObject *)Py_NewRef(region);
    ipo_waiter_init(&self->w, &r->waker);
    self->ready = 1;
    /* The event loop watches both descriptors from the start. */
    int fds[IPO_WAITER_FDS];
    if (ipo_waiter_fds(&self->w, fds)) {
        ipo_py_raise(st, -IPO_ESYS, "cannot make an eventfd for region '%U'", r->name);
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyObject *Waiter_get_fds(WaiterObject *self, void *closure)
{
    (void)closure;
    if (require_usable(self) < 0)
        return NULL;
    int fds[IPO_WAITER_FDS];
    if (ipo_waiter_fds(&self->w, fds))
        return ipo_py_raise(self->region->st, -IPO_ESYS, "cannot make an eventfd for region '%U'",
                            self->region->name);
    /* Only the descriptors there are: the death watch is -1 on a kernel
     * without pidfds, and a loop cannot watch -1. */
    int n = 0;
    for (int i = 0; i < IPO_WAITER_FDS; i++)
        if (fds[i] >= 0)
            fds[n++] = fds[i];
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++) {
        PyObject *fd = PyLong_FromLong(fds[i]);
        if (!fd) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, fd);
    }
    return t;
}

static PyObject *Waiter_start(WaiterObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "start(what, since, spin_seconds)");
        return NULL;
    }
    unsigned long what = PyLong_AsUnsignedLong(args[0]);
    if (what == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    unsigned long long since = PyLong_AsUnsignedLongLong(args[1]);
    if (since == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    double spin = PyFloat_AsDouble(args[2]);
    if (spin == -1.0 && PyErr_Occurred())
        return NULL;
    if (!(spin >= 0.0) || spin > 1.0) {
        PyErr_SetString(PyExc_ValueError, "spin_seconds must be between 0 and 1");
        return NULL;
    }
    if (what > UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "not a set of WAIT_FOR_* bits: %lu", what);
        return NULL;
    }
    int step = ipo_py_waiter_start(self, (uint32_t)what, since, (int64_t)(spin * 1e9));
    return step < 0 ? NULL : PyLong_FromLong(step);
}

int ipo_py_waiter_start(WaiterObject *self, uint32_t what, uint64_t since, int64_t spin_ns)
{
    if (require_usable(self) < 0)
        return -1;
    /* A turn it may take at once asks the kernel now and then only, as
     * the sync API's (handle.h). */
    if (ipo_py_creator_check(self->region) < 0) {
        ipo_waiter_cancel(&self->w);
        return -1;
    }
    int step = ipo_waiter_start(&self->w, what, since, spin_ns);
    if (step == -IPO_EINVAL) {
        PyErr_Format(PyExc_ValueError, "not a set of WAIT_FOR_* bits: %lu", (unsigned long)what);
        return -1;
    }
    PyObject *result = step_result(self, step, 1);
    if (!result)
        return -1;
    Py_DECREF(result); /* a small int: step itself */
    return step;
}

int ipo_py_waiter_readable(WaiterObject *self)
{
    if (require_usable(self) < 0)
        return -1;
    PyObject *result = step_result(self, ipo_waiter_readable(&self->w), 0);
    if (!result)
        return -1;
    int step = (int)PyLong_AsLong(result);
    Py_DECREF(result);
    return step;
}

void ipo_py_waiter_cancel(WaiterObject *self)
{
    if (usable(self))
        ipo_waiter_cancel(&self->w);
}

static PyObject *Waiter_readable(WaiterObject *self, PyObject *unused)
{
    (void)unused;
    int step = ipo_py_waiter_readable(self);
    return step < 0 ? NULL : PyLong_FromLong(step);
}

static PyObject *Waiter_cancel(WaiterObject *self, PyObject *unused)
{
    (void)unused;
    /* After the region closed there is nothing left to cancel: its waker
     * unregistered every waiter. */
    ipo_py_waiter_cancel(self);
    Py_RETURN_NONE;
}

static PyObject *Waiter_get_waiting(WaiterObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(usable(self) && self->w.what != 0);
}

static PyObject *Waiter_get_registered(WaiterObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(usable(self) ? self->w.sleeper.what : 0);
}

static int Waiter_traverse(WaiterObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->region);
    return 0;
}

static void Waiter_dealloc(WaiterObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->ready) {
        if (!usable(self)) {
            /* The waker is gone (or the parent's): only our eventfd is left. */
            self->w.what = 0;
            self->w.sleeper.what = 0;
        }
        ipo_waiter_fini(&self->w);
        self->ready = 0;
    }
    Py_CLEAR(self->region);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef Waiter_methods[] = {
    { "start", (PyCFunction)(void (*)(void))Waiter_start, METH_FASTCALL,
      "start(what, since, spin_seconds)\n--\n\n"
      "Starts waiting for the WAIT_FOR_* bits `what` (or changes what the wait is for):\n"
      "tries, spins up to spin_seconds, then registers to sleep. WAIT_HELD, WAIT_SLEEP\n"
      "or WAIT_AGAIN." },
    { "readable", (PyCFunction)Waiter_readable, METH_NOARGS,
      "readable()\n--\n\nOne of fds was readable: reads it, then tries. WAIT_HELD, WAIT_SLEEP or WAIT_AGAIN." },
    { "cancel", (PyCFunction)Waiter_cancel, METH_NOARGS,
      "cancel()\n--\n\nStops waiting without a turn; a ring it may have had goes on. Idempotent." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Waiter_getset[] = {
    { "fds", (getter)Waiter_get_fds, NULL, "The descriptors to watch for readability.", NULL },
    { "waiting", (getter)Waiter_get_waiting, NULL, "Whether a wait is under way.", NULL },
    { "registered", (getter)Waiter_get_registered, NULL,
      "The WAIT_FOR_* bits it sleeps on in the access word now (0: not registered).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyType_Slot waiter_slots[] = {
    { Py_tp_doc, "Waiter(region)\n--\n\nOne wait for access, messages or a release, driven by an event loop." },
    { Py_tp_new, Waiter_new },
    { Py_tp_dealloc, Waiter_dealloc },
    { Py_tp_traverse, Waiter_traverse },
    { Py_tp_methods, Waiter_methods },
    { Py_tp_getset, Waiter_getset },
    { 0, NULL }
};

PyType_Spec ipo_waiter_spec = {
    .name = "ipc_py_objects._ipo.Waiter",
    .basicsize = sizeof(WaiterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = waiter_slots,
};

/* python/src/guard_type.c — AccessGuard: the context manager behind wait_my_turn(sm) and friends. */
#include "ipo_python.h"

/* A C type rather than a generator-based context manager: entering and
 * leaving cost two C calls, which matters when a loop takes turns at
 * memory speed. */
typedef struct GuardObject {
    PyObject_HEAD
    RegionObject *region;
    double        time_limit;
    int           mode;       /* ipo_wait_mode */
    int           acquired;   /* this guard's entry took access */
} GuardObject;

PyObject *ipo_py_new_guard(RegionObject *region, int mode, double time_limit)
{
    GuardObject *g = PyObject_GC_New(GuardObject, region->st->guard_type);
    if (!g)
        return NULL;
    g->region = (RegionObject *)Py_NewRef(region);
    g->time_limit = time_limit;
    g->mode = mode;
    g->acquired = 0;
    PyObject_GC_Track(g);
    return (PyObject *)g;
}

static PyObject *Guard_enter(GuardObject *self, PyObject *unused)
{
    (void)unused;
    if (self->acquired) {
        PyErr_SetString(PyExc_RuntimeError, "this access guard is already entered");
        return NULL;
    }
    int got = ipo_py_acquire(self->region, self->mode, self->time_limit);
    if (got < 0)
        return NULL;
    self->acquired = got;
    /* get_in_line(sm) tells whether the one attempt succeeded; the waiting
     * forms always hold access inside the block and give the region. */
    if (self->mode == IPO_TRY_ACCESS)
        return PyBool_FromLong(got);
    return Py_NewRef((PyObject *)self->region);
}

static PyObject *Guard_exit(GuardObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    if (self->acquired) {
        self->acquired = 0;
        /* The block may have released access itself, and another thread may
         * hold it by now: release only a turn that is still this thread's.
         * Raising instead would hide the block's own exception. */
        RegionObject *r = self->region;
        if (r->attached && r->holder_thread == PyThread_get_thread_ident() &&
            ipo_access_held(&r->r) && ipo_py_release(r) < 0)
            return NULL;
    }
    Py_RETURN_FALSE;
}

static int Guard_traverse(GuardObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->region);
    return 0;
}

static int Guard_clear(GuardObject *self)
{
    Py_CLEAR(self->region);
    return 0;
}

static void Guard_dealloc(GuardObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Guard_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef Guard_methods[] = {
    { "__enter__", (PyCFunction)Guard_enter, METH_NOARGS, NULL },
    { "__exit__", (PyCFunction)(void (*)(void))Guard_exit, METH_FASTCALL, NULL },
    { NULL, NULL, 0, NULL }
};

static PyType_Slot guard_slots[] = {
    { Py_tp_dealloc, (void *)Guard_dealloc },
    { Py_tp_traverse, (void *)Guard_traverse },
    { Py_tp_clear, (void *)Guard_clear },
    { Py_tp_methods, Guard_methods },
    { Py_tp_doc, (void *)"Holds access to a region for the length of a with-block." },
    { 0, NULL }
};

PyType_Spec ipo_guard_spec = {
    .name = "ipc_py_objects._ipo.AccessGuard",
    .basicsize = sizeof(GuardObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = guard_slots,
};

/* python/src/guard_type.c — the access guards: WaitMyTurn, WaitMyTurnWhenHasMessages and GetInLine, the context managers over a turn. */
#include "errors.h"

#include <string.h>
#include <structmember.h>

/* C types rather than generator-based context managers: entering and
 * leaving cost two C calls, which matters when a loop takes turns at
 * memory speed. They are the original package's classes, by name and
 * signature (wait_my_turn and friends are these classes), and share one
 * base, AccessGuard, which holds the whole behaviour; each subclass only
 * fixes the wait mode. */
typedef struct GuardObject {
    PyObject_HEAD
    RegionObject *region;
    PyObject     *periodic;   /* periodic_sleep_time, kept for the original's attribute */
    double        time_limit; /* seconds, or negative: none */
    int           mode;       /* ipo_wait_mode */
    int           acquired;   /* this guard's entry took access: its exit releases */
    int           in_line;    /* this thread held access when the block was entered */
    int           entered;
} GuardObject;

/* The wait mode a guard class stands for; a subclass written in Python has
 * its base's. */
static int mode_of(ipo_state *st, PyTypeObject *type)
{
    if (PyType_IsSubtype(type, st->get_in_line_type))
        return IPO_TRY_ACCESS;
    if (PyType_IsSubtype(type, st->wait_messages_type))
        return IPO_WAIT_MESSAGES;
    return IPO_WAIT_ACCESS;
}

/* Sets what a guard waits on; its arguments checked. */
static int guard_setup(GuardObject *g, ipo_state *st, PyObject *sm, PyObject *time_limit, PyObject *periodic)
{
    if (!PyObject_TypeCheck(sm, st->region_type)) {
        PyErr_Format(PyExc_TypeError, "expected a SharedMemory, got '%.200s'", Py_TYPE(sm)->tp_name);
        return -1;
    }
    double limit = -1.0;
    if (g->mode != IPO_TRY_ACCESS && ipo_py_time_limit(time_limit, &limit) < 0)
        return -1;
    if (g->entered) {
        PyErr_SetString(PyExc_RuntimeError, "an entered access guard cannot be set up again");
        return -1;
    }
    Py_XSETREF(g->region, (RegionObject *)Py_NewRef(sm));
    Py_XSETREF(g->periodic, Py_NewRef(periodic));
    g->time_limit = limit;
    return 0;
}

static ipo_state *guard_state(PyTypeObject *type)
{
    PyObject *module = PyType_GetModuleByDef(type, &ipo_module_def);
    return module ? PyModule_GetState(module) : NULL;
}

static GuardObject *guard_alloc(PyTypeObject *type, int mode)
{
    GuardObject *g = (GuardObject *)type->tp_alloc(type, 0);
    if (!g)
        return NULL;
    g->mode = mode;
    g->time_limit = -1.0;
    g->periodic = Py_NewRef(Py_None);
    return g;
}

/* A guard not set up yet: __init__ (or the fast call) gives it its region,
 * so that a subclass may have an __init__ of its own, as the original's
 * Python classes allow. */
static PyObject *Guard_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    (void)args;
    (void)kwargs;
    ipo_state *st = guard_state(type);
    if (!st)
        return NULL;
    if (type == st->guard_type) {
        PyErr_SetString(PyExc_TypeError, "AccessGuard is a base: use WaitMyTurn, "
                        "WaitMyTurnWhenHasMessages or GetInLine");
        return NULL;
    }
    return (PyObject *)guard_alloc(type, mode_of(st, type));
}

static int Guard_init(GuardObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "shared_memory", "time_limit", "periodic_sleep_time", NULL };
    static char *kwlist_try[] = { "shared_memory", NULL };
    ipo_state *st = guard_state(Py_TYPE(self));
    if (!st)
        return -1;
    PyObject *sm, *time_limit = Py_None, *periodic = Py_None;
    /* GetInLine makes one attempt: it takes no time limit, as in the original. */
    if (self->mode == IPO_TRY_ACCESS
            ? !PyArg_ParseTupleAndKeywords(args, kwargs, "O:GetInLine", kwlist_try, &sm)
            : !PyArg_ParseTupleAndKeywords(args, kwargs, "O|OO", kwlist, &sm, &time_limit, &periodic))
        return -1;
    return guard_setup(self, st, sm, time_limit, periodic);
}

/* The keyword arguments of the fast call, by name; -1 for a name the
 * general way must judge (unknown, or GetInLine's time limit). */
static Py_ssize_t guard_keyword(PyObject *name, Py_ssize_t max)
{
    static const char *const names[] = { "shared_memory", "time_limit", "periodic_sleep_time" };
    /* Keyword names are ASCII str: their length, then their bytes. */
    if (!PyUnicode_CheckExact(name) || !PyUnicode_IS_ASCII(name))
        return -1;
    size_t len = (size_t)PyUnicode_GET_LENGTH(name);
    for (Py_ssize_t i = 0; i < max; i++)
        if (strlen(names[i]) == len && memcmp(PyUnicode_DATA(name), names[i], len) == 0)
            return i;
    return -1;
}

/* The three classes are called in loops that take turns at memory speed:
 * calls skip the argument tuple, the keyword dict and the separate
 * __init__ call (tp_vectorcall, which subclasses never inherit: theirs take
 * the general way, their own __init__ included). The type is one of the
 * three, made with the module: its state and its mode are one load and a
 * compare each. Keywords the fast call does not know, or given twice, take
 * the general way, whose errors name them. */
static PyObject *Guard_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                  PyObject *kwnames)
{
    PyTypeObject *type = (PyTypeObject *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    ipo_state *st = PyType_GetModuleState(type);
    if (!st)
        return NULL;
    int mode = type == st->get_in_line_type ? IPO_TRY_ACCESS
             : type == st->wait_messages_type ? IPO_WAIT_MESSAGES : IPO_WAIT_ACCESS;
    Py_ssize_t max = mode == IPO_TRY_ACCESS ? 1 : 3;
    PyObject *given[3] = { NULL, NULL, NULL };
    int general = nargs > max;
    for (Py_ssize_t i = 0; i < nargs && !general; i++)
        given[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw && !general; k++) {
        Py_ssize_t i = guard_keyword(PyTuple_GET_ITEM(kwnames, k), max);
        if (i < 0 || given[i])
            general = 1;
        else
            given[i] = args[nargs + k];
    }
    if (general || !given[0]) {
        /* The general way: type.__call__ with a tuple and a dict. */
        PyObject *tuple = PyTuple_New(nargs), *kwargs = NULL, *guard = NULL;
        if (!tuple)
            return NULL;
        for (Py_ssize_t i = 0; i < nargs; i++)
            PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
        if (nkw && !(kwargs = PyDict_New()))
            goto done;
        for (Py_ssize_t k = 0; k < nkw; k++)
            if (PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, k), args[nargs + k]) < 0)
                goto done;
        guard = PyType_Type.tp_call(callable, tuple, kwargs);
    done:
        Py_DECREF(tuple);
        Py_XDECREF(kwargs);
        return guard;
    }
    GuardObject *g = guard_alloc(type, mode);
    if (!g)
        return NULL;
    if (guard_setup(g, st, given[0], given[1] ? given[1] : Py_None, given[2] ? given[2] : Py_None) < 0) {
        Py_DECREF(g);
        return NULL;
    }
    return (PyObject *)g;
}

int ipo_py_guard_types_ready(ipo_state *st)
{
    st->wait_turn_type->tp_vectorcall = Guard_vectorcall;
    st->wait_messages_type->tp_vectorcall = Guard_vectorcall;
    st->get_in_line_type->tp_vectorcall = Guard_vectorcall;
    return 0;
}

static PyObject *Guard_enter(GuardObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->region) {
        PyErr_Format(PyExc_TypeError, "%s.__init__ was not called: a subclass's __init__ "
                     "must call super().__init__(shared_memory, ...)", Py_TYPE(self)->tp_name);
        return NULL;
    }
    if (self->entered) {
        PyErr_SetString(PyExc_RuntimeError, "this access guard is already entered");
        return NULL;
    }
    /* A block inside a turn this thread holds already (a nested guard, or
     * a turn taken with wait_my_turn()) runs in that turn and leaves it to
     * its owner, as the original's guards do. */
    self->in_line = ipo_py_held_here(self->region);
    if (self->in_line) {
        self->acquired = 0;
        /* Nobody can queue a message while this thread holds the turn: a
         * wait for one here would never end. */
        if (self->mode == IPO_WAIT_MESSAGES && !ipo_queue_length(&self->region->r)) {
            PyErr_Format(self->region->st->SharedMemoryError,
                         "this thread holds access to region '%U' and its queue is empty: "
                         "waiting for a message here would never end. Release first",
                         self->region->name);
            return NULL;
        }
    } else {
        int got = ipo_py_acquire(self->region, self->mode, self->time_limit);
        if (got < 0)
            return NULL;
        self->acquired = got;
    }
    self->entered = 1;
    /* GetInLine tells whether the block holds access; the waiting forms
     * always hold it inside the block and give the region. */
    if (self->mode == IPO_TRY_ACCESS)
        return PyBool_FromLong(self->in_line || self->acquired);
    return Py_NewRef((PyObject *)self->region);
}

static PyObject *Guard_exit(GuardObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    self->entered = 0;
    if (self->acquired) {
        self->acquired = 0;
        /* The block may have released access itself, and another thread may
         * hold it by now: release only a turn that is still this thread's.
         * Raising instead would hide the block's own exception. */
        RegionObject *r = self->region;
        if (ipo_py_held_here(r) && ipo_py_release(r) < 0)
            return NULL;
    }
    Py_RETURN_FALSE;
}

static PyObject *Guard_get_time_limit(GuardObject *self, void *closure)
{
    (void)closure;
    if (self->time_limit < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->time_limit);
}

static PyObject *Guard_get_is_in_line(GuardObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->in_line);
}

static int Guard_traverse(GuardObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->region);
    Py_VISIT(self->periodic);
    return 0;
}

static int Guard_clear(GuardObject *self)
{
    Py_CLEAR(self->region);
    Py_CLEAR(self->periodic);
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

static PyMemberDef Guard_members[] = {
    { "shared_memory", T_OBJECT, offsetof(GuardObject, region), READONLY,
      "The SharedMemory this guard takes turns on." },
    { "periodic_sleep_time", T_OBJECT, offsetof(GuardObject, periodic), READONLY,
      "Accepted for the original package's programs; waits sleep on the doorbell instead." },
    { NULL, 0, 0, 0, NULL }
};

static PyGetSetDef Guard_getset[] = {
    { "time_limit", (getter)Guard_get_time_limit, NULL,
      "Seconds the entry waits at most (None: no limit).", NULL },
    { "is_in_line", (getter)Guard_get_is_in_line, NULL,
      "True when the block was entered inside a turn this thread held already; "
      "the guard then leaves that turn to its owner.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyType_Slot guard_slots[] = {
    { Py_tp_new, (void *)Guard_new },
    { Py_tp_init, (void *)Guard_init },
    { Py_tp_dealloc, (void *)Guard_dealloc },
    { Py_tp_traverse, (void *)Guard_traverse },
    { Py_tp_clear, (void *)Guard_clear },
    { Py_tp_methods, Guard_methods },
    { Py_tp_members, Guard_members },
    { Py_tp_getset, Guard_getset },
    { Py_tp_doc, (void *)"The base of the access guards: holds a turn for the length of a with-block." },
    { 0, NULL }
};

PyType_Spec ipo_guard_spec = {
    .name = "ipc_py_objects._ipo.AccessGuard",
    .basicsize = sizeof(GuardObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = guard_slots,
};

/* The three guards add nothing but their names and documents; the base's
 * GC support is inherited with its traverse and clear. The base's dealloc
 * is named again: a type made from a spec without one gets the general
 * subtype_dealloc, which a guard made and dropped at every turn pays for. */
#define GUARD_SPEC(var, cname, doc)                                        \
    static PyType_Slot var##_slots[] = {                                   \
        { Py_tp_doc, (void *)(doc) },                                      \
        { Py_tp_dealloc, (void *)Guard_dealloc },                          \
        { 0, NULL }                                                        \
    };                                                                     \
    PyType_Spec var = {                                                    \
        .name = "ipc_py_objects._ipo." cname,                              \
        .basicsize = sizeof(GuardObject),                                  \
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,               \
        .slots = var##_slots,                                              \
    };

GUARD_SPEC(ipo_wait_my_turn_spec, "WaitMyTurn",
           "WaitMyTurn(shared_memory, time_limit=None, periodic_sleep_time=None)\n--\n\n"
           "Holds access for the with-block: waits for it on entry (spin, then sleep on the "
           "doorbell; OperationTimedOutError once time_limit passes), releases it on exit. "
           "Inside a turn this thread holds already, the block runs in that turn.")
GUARD_SPEC(ipo_wait_messages_spec, "WaitMyTurnWhenHasMessages",
           "WaitMyTurnWhenHasMessages(shared_memory, time_limit=None, periodic_sleep_time=None)\n--\n\n"
           "As WaitMyTurn, once a message is queued: the wait watches the queue without "
           "taking turns from the producer.")
GUARD_SPEC(ipo_get_in_line_spec, "GetInLine",
           "GetInLine(shared_memory)\n--\n\n"
           "One attempt to take access for the with-block; `as` gives whether the block holds "
           "access, and the exit releases only what the attempt took.")

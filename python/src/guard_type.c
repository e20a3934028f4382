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
/* A guard's __enter__ or __exit__, bound to it. `with` looks both up on
 * every block, and CPython binds a method found in the type on each look:
 * a new bound method, allocated from the heap, GC-tracked and freed. Ours
 * come from a free list of the module's (GuardMethodObject below, two per
 * block in flight), so a look is a pop and a push. They are ordinary GC
 * objects holding their guard, so a cycle through one is collected like
 * any other (a bound __exit__ kept in its own region's __dict__). A guard
 * of a Python subclass gets CPython's own bound methods (GuardSlot_get). */
struct GuardObject;
typedef struct GuardMethodObject {
    PyObject_HEAD
    vectorcallfunc      vectorcall;
    struct GuardObject *guard;   /* its guard, held; NULL once the GC cleared it */
    ipo_state          *st;      /* the module's, whose free list it returns to */
    int                 is_exit; /* 0: __enter__, 1: __exit__ */
} GuardMethodObject;

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

/* ipo_py_time_limit(), with the common numbers read in place: an int
 * through nb_float would make a float at every turn. */
static inline int guard_time_limit(PyObject *arg, double *out)
{
    double v;
    if (PyFloat_CheckExact(arg))
        v = PyFloat_AS_DOUBLE(arg);
    else if (PyLong_CheckExact(arg))
        v = PyLong_AsDouble(arg); /* an int too large for a double: the general way says so */
    else
        return ipo_py_time_limit(arg, out);
    if (!(v >= 0.0)) /* negative, NaN, or the -1.0 of an error */
        return ipo_py_time_limit(arg, out);
    *out = v;
    return 0;
}

/* Sets what a guard waits on; its arguments checked. */
static int guard_setup(GuardObject *g, ipo_state *st, PyObject *sm, PyObject *time_limit, PyObject *periodic)
{
    /* SharedMemory is the region type's direct subclass: two loads. */
    PyTypeObject *smt = Py_TYPE(sm);
    if (smt != st->region_type && smt->tp_base != st->region_type && !PyType_IsSubtype(smt, st->region_type)) {
        PyErr_Format(PyExc_TypeError, "expected a SharedMemory, got '%.200s'", Py_TYPE(sm)->tp_name);
        return -1;
    }
    double limit = -1.0;
    if (g->mode != IPO_TRY_ACCESS && guard_time_limit(time_limit, &limit) < 0)
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

/* Whether a guard of this type may be kept for the next when dropped:
 * one of the three classes themselves (they name Guard_dealloc; a Python
 * subclass has subtype_dealloc, and maybe a larger size). */
static void Guard_dealloc(GuardObject *self);
static int guard_type_keepable(PyTypeObject *type)
{
    return type->tp_dealloc == (destructor)Guard_dealloc;
}

/* A turn in a loop makes a guard and drops it: the guards dropped are
 * kept (up to IPO_PY_GUARD_FREE, per module) and made again from there,
 * as CPython keeps its floats and tuples, so that a `with` allocates
 * nothing. A kept guard holds no reference: its region and
 * periodic_sleep_time were cleared, and its type's reference dropped. */
static GuardObject *guard_alloc(ipo_state *st, PyTypeObject *type, int mode)
{
    GuardObject *g;
#ifndef Py_GIL_DISABLED
    if (st->guard_free_count && guard_type_keepable(type)) {
        g = (GuardObject *)st->guard_free[--st->guard_free_count];
        PyObject_Init((PyObject *)g, type);
        g->in_line = g->acquired = g->entered = 0;
        PyObject_GC_Track(g);
    } else
#endif
    {
        g = (GuardObject *)type->tp_alloc(type, 0);
        if (!g)
            return NULL;
    }
    g->mode = mode;
    g->time_limit = -1.0;
    g->periodic = Py_NewRef(Py_None);
    return g;
}

void ipo_py_guard_free_list_clear(ipo_state *st)
{
    while (st->guard_free_count > 0)
        PyObject_GC_Del(st->guard_free[--st->guard_free_count]);
    while (st->guard_method_free_count > 0)
        PyObject_GC_Del(st->guard_method_free[--st->guard_method_free_count]);
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
    return (PyObject *)guard_alloc(st, type, mode_of(st, type));
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
 * general way must judge (unknown, or GetInLine's time limit). A keyword
 * written in the caller's code is the interned str, which the state holds
 * too: one compare each; any other str, its length, then its bytes. */
static Py_ssize_t guard_keyword(ipo_state *st, PyObject *name, Py_ssize_t max)
{
    static const char *const names[] = { "shared_memory", "time_limit", "periodic_sleep_time" };
    for (Py_ssize_t i = 0; i < max; i++)
        if (name == st->guard_keywords[i])
            return i;
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
        Py_ssize_t i = guard_keyword(st, PyTuple_GET_ITEM(kwnames, k), max);
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
    GuardObject *g = guard_alloc(st, type, mode);
    if (!g)
        return NULL;
    if (guard_setup(g, st, given[0], given[1] ? given[1] : Py_None, given[2] ? given[2] : Py_None) < 0) {
        Py_DECREF(g);
        return NULL;
    }
    return (PyObject *)g;
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
#ifndef Py_GIL_DISABLED
    if (guard_type_keepable(tp)) {
        ipo_state *st = PyType_GetModuleState(tp);
        /* Not once the module is being torn down (its types cleared). */
        if (st && st->guard_method_type && st->guard_free_count < IPO_PY_GUARD_FREE) {
            st->guard_free[st->guard_free_count++] = (PyObject *)self;
            Py_DECREF(tp);
            return;
        }
    }
#endif
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---- the bound __enter__ and __exit__ ----------------------------------------- */

static PyObject *GuardMethod_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                        PyObject *kwnames);

/* g's __enter__ or __exit__, bound: from the free list when one is kept,
 * as CPython keeps its floats (see GuardMethodObject). */
static PyObject *guard_method(ipo_state *st, GuardObject *g, int is_exit)
{
    GuardMethodObject *m;
#ifndef Py_GIL_DISABLED
    if (st->guard_method_free_count) {
        m = (GuardMethodObject *)st->guard_method_free[--st->guard_method_free_count];
        PyObject_Init((PyObject *)m, st->guard_method_type);
    } else
#endif
    {
        m = PyObject_GC_New(GuardMethodObject, st->guard_method_type);
        if (!m)
            return NULL;
        m->vectorcall = GuardMethod_vectorcall;
        m->st = st;
    }
    m->guard = (GuardObject *)Py_NewRef((PyObject *)g);
    m->is_exit = is_exit;
    PyObject_GC_Track(m);
    return (PyObject *)m;
}

static int GuardMethod_traverse(GuardMethodObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->guard);
    return 0;
}

static int GuardMethod_clear(GuardMethodObject *self)
{
    Py_CLEAR(self->guard);
    return 0;
}

/* Kept for the next look (memory only: no guard, no type reference) while
 * the module lives, else freed. Its guard is let go of last: that may
 * drop the guard, whose dealloc keeps it in turn. */
static void GuardMethod_dealloc(GuardMethodObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    GuardObject *g = self->guard;
    self->guard = NULL;
    ipo_state *st = self->st;
#ifndef Py_GIL_DISABLED
    if (st->guard_method_type && st->guard_method_free_count < IPO_PY_GUARD_METHOD_FREE)
        st->guard_method_free[st->guard_method_free_count++] = (PyObject *)self;
    else
#endif
        PyObject_GC_Del(self);
    Py_DECREF(tp);
    Py_XDECREF((PyObject *)g);
}

/* A bound method whose guard the GC cleared (part of garbage that a
 * finalizer still reached). */
static GuardObject *method_guard(GuardMethodObject *m)
{
    if (!m->guard)
        PyErr_SetString(PyExc_ReferenceError, "this bound method's access guard is gone");
    return m->guard;
}

static PyObject *guard_call(GuardObject *g, int is_exit, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    if (kwnames && PyTuple_GET_SIZE(kwnames)) {
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", is_exit ? "__exit__" : "__enter__");
        return NULL;
    }
    if (is_exit)
        return Guard_exit(g, args, nargs);
    if (nargs) {
        PyErr_Format(PyExc_TypeError, "__enter__() takes no arguments (%zd given)", nargs);
        return NULL;
    }
    return Guard_enter(g, NULL);
}

static PyObject *GuardMethod_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                        PyObject *kwnames)
{
    GuardMethodObject *m = (GuardMethodObject *)callable;
    GuardObject *g = method_guard(m);
    return g ? guard_call(g, m->is_exit, args, PyVectorcall_NARGS(nargsf), kwnames) : NULL;
}

static PyObject *GuardMethod_repr(GuardMethodObject *self)
{
    const char *name = self->is_exit ? "__exit__" : "__enter__";
    if (!self->guard)
        return PyUnicode_FromFormat("<bound method AccessGuard.%s of a guard that is gone>", name);
    return PyUnicode_FromFormat("<bound method %s.%s of %R>", Py_TYPE(self->guard)->tp_name, name,
                                (PyObject *)self->guard);
}

static PyObject *GuardMethod_get_self(GuardMethodObject *self, void *closure)
{
    (void)closure;
    GuardObject *g = method_guard(self);
    return g ? Py_NewRef((PyObject *)g) : NULL;
}

/* As bound methods compare: equal when bound to the same guard, for the
 * same method. */
static PyObject *GuardMethod_richcompare(GuardMethodObject *self, PyObject *other, int op)
{
    if ((op != Py_EQ && op != Py_NE) || Py_TYPE(other) != Py_TYPE(self))
        Py_RETURN_NOTIMPLEMENTED;
    GuardMethodObject *o = (GuardMethodObject *)other;
    int eq = self->guard == o->guard && self->is_exit == o->is_exit;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t GuardMethod_hash(GuardMethodObject *self)
{
    /* The pointer turned as CPython turns one, so its alignment's zero
     * bits do not all hash alike. */
    uintptr_t p = (uintptr_t)self->guard;
    Py_hash_t h = (Py_hash_t)((p >> 4) | (p << (8 * sizeof(p) - 4))) ^ self->is_exit;
    return h == -1 ? -2 : h;
}

static PyGetSetDef GuardMethod_getset[] = {
    { "__self__", (getter)GuardMethod_get_self, NULL, "The guard this method is bound to.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyMemberDef GuardMethod_members[] = {
    { "__vectorcalloffset__", T_PYSSIZET, offsetof(GuardMethodObject, vectorcall), READONLY, NULL },
    { NULL, 0, 0, 0, NULL }
};

static PyType_Slot guard_method_slots[] = {
    { Py_tp_dealloc, (void *)GuardMethod_dealloc },
    { Py_tp_traverse, (void *)GuardMethod_traverse },
    { Py_tp_clear, (void *)GuardMethod_clear },
    { Py_tp_call, (void *)PyVectorcall_Call },
    { Py_tp_repr, (void *)GuardMethod_repr },
    { Py_tp_richcompare, (void *)GuardMethod_richcompare },
    { Py_tp_hash, (void *)GuardMethod_hash },
    { Py_tp_getset, GuardMethod_getset },
    { Py_tp_members, GuardMethod_members },
    { Py_tp_doc, (void *)"An access guard's __enter__ or __exit__, bound to it." },
    { 0, NULL }
};

static PyType_Spec guard_method_spec = {
    .name = "ipc_py_objects._ipo.GuardMethod",
    .basicsize = sizeof(GuardMethodObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_HAVE_GC,
    .slots = guard_method_slots,
};

/* AccessGuard.__enter__ and __exit__ themselves: descriptors that hand out
 * a guard's own bound method, instead of binding a new one. Called through
 * the class (`type(cm).__enter__(cm)`, as contextlib.ExitStack does), they
 * take the guard first. */
typedef struct GuardSlotObject {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyTypeObject  *guard_type; /* AccessGuard (borrowed: the module holds it) */
    ipo_state     *st;         /* the module's, which outlives it (AccessGuard's dict holds it) */
    int            is_exit;
} GuardSlotObject;

static int guard_slot_check(GuardSlotObject *self, PyObject *obj)
{
    /* The three classes are AccessGuard's direct subclasses. */
    if (Py_TYPE(obj)->tp_base == self->guard_type || PyObject_TypeCheck(obj, self->guard_type))
        return 0;
    PyErr_Format(PyExc_TypeError, "descriptor '%s' for 'AccessGuard' objects doesn't apply to a "
                 "'%.200s' object", self->is_exit ? "__exit__" : "__enter__", Py_TYPE(obj)->tp_name);
    return -1;
}

static PyObject *GuardSlot_get(GuardSlotObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    if (!obj || obj == Py_None)
        return Py_NewRef((PyObject *)self);
    if (guard_slot_check(self, obj) < 0)
        return NULL;
    /* A guard of a Python subclass gets CPython's bound method over this
     * descriptor: its type may not know our module, and such guards are
     * never kept for reuse. The three classes' guards get ours. */
    if (!guard_type_keepable(Py_TYPE(obj)))
        return PyMethod_New((PyObject *)self, obj);
    return guard_method(self->st, (GuardObject *)obj, self->is_exit);
}

static PyObject *GuardSlot_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                      PyObject *kwnames)
{
    GuardSlotObject *self = (GuardSlotObject *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1) {
        PyErr_Format(PyExc_TypeError, "descriptor '%s' of 'AccessGuard' object needs an argument",
                     self->is_exit ? "__exit__" : "__enter__");
        return NULL;
    }
    if (guard_slot_check(self, args[0]) < 0)
        return NULL;
    return guard_call((GuardObject *)args[0], self->is_exit, args + 1, nargs - 1, kwnames);
}

static PyObject *GuardSlot_repr(GuardSlotObject *self)
{
    return PyUnicode_FromFormat("<method '%s' of 'AccessGuard' objects>", self->is_exit ? "__exit__" : "__enter__");
}

static PyMemberDef GuardSlot_members[] = {
    { "__vectorcalloffset__", T_PYSSIZET, offsetof(GuardSlotObject, vectorcall), READONLY, NULL },
    { NULL, 0, 0, 0, NULL }
};

static void GuardSlot_dealloc(GuardSlotObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot guard_slot_slots[] = {
    { Py_tp_dealloc, (void *)GuardSlot_dealloc },
    { Py_tp_descr_get, (void *)GuardSlot_get },
    { Py_tp_call, (void *)PyVectorcall_Call },
    { Py_tp_repr, (void *)GuardSlot_repr },
    { Py_tp_members, GuardSlot_members },
    { Py_tp_doc, (void *)"AccessGuard.__enter__ or __exit__: gives each guard's own bound method." },
    { 0, NULL }
};

static PyType_Spec guard_slot_spec = {
    .name = "ipc_py_objects._ipo.GuardSlot",
    .basicsize = sizeof(GuardSlotObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = guard_slot_slots,
};

int ipo_py_guard_types_ready(PyObject *module, ipo_state *st)
{
    static const char *const keywords[] = { "shared_memory", "time_limit", "periodic_sleep_time" };
    for (int i = 0; i < 3; i++)
        if (!(st->guard_keywords[i] = PyUnicode_InternFromString(keywords[i])))
            return -1;
    st->guard_method_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &guard_method_spec, NULL);
    st->guard_slot_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &guard_slot_spec, NULL);
    if (!st->guard_method_type || !st->guard_slot_type)
        return -1;
    /* The descriptors go into AccessGuard's dict, where the three classes
     * find them; PyType_Modified() drops what the type caches remembered. */
    for (int i = 0; i < 2; i++) {
        GuardSlotObject *slot = PyObject_New(GuardSlotObject, st->guard_slot_type);
        if (!slot)
            return -1;
        slot->vectorcall = GuardSlot_vectorcall;
        slot->guard_type = st->guard_type;
        slot->st = st;
        slot->is_exit = i;
        int rc = PyDict_SetItemString(st->guard_type->tp_dict, i ? "__exit__" : "__enter__", (PyObject *)slot);
        Py_DECREF(slot);
        if (rc < 0)
            return -1;
    }
    PyType_Modified(st->guard_type);
    st->wait_turn_type->tp_vectorcall = Guard_vectorcall;
    st->wait_messages_type->tp_vectorcall = Guard_vectorcall;
    st->get_in_line_type->tp_vectorcall = Guard_vectorcall;
    return 0;
}

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
 * subtype_dealloc, which a guard made and dropped at every turn pays for.
 * They are immutable types, which lets CPython 3.11 call them straight
 * through their tp_vectorcall (PRECALL_BUILTIN_CLASS) rather than through
 * its general call; their Python subclasses stay mutable. */
#define GUARD_SPEC(var, cname, doc)                                        \
    static PyType_Slot var##_slots[] = {                                   \
        { Py_tp_doc, (void *)(doc) },                                      \
        { Py_tp_dealloc, (void *)Guard_dealloc },                          \
        { 0, NULL }                                                        \
    };                                                                     \
    PyType_Spec var = {                                                    \
        .name = "ipc_py_objects._ipo." cname,                              \
        .basicsize = sizeof(GuardObject),                                  \
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE, \
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

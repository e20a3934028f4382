/* python/src/region_type.c — the Region heap type: a region handle with the sync API. */
#include "messages.h"
#include "turn.h"
#include "ipo/recover.h"

#include <string.h>
#include <time.h>

#include "structmember.h"

/* ---- small helpers ------------------------------------------------------------ */

/* Sleeps about ns with the GIL released; -1 if a signal handler raised. */
static int nap(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    Py_BEGIN_ALLOW_THREADS
    nanosleep(&ts, NULL);
    Py_END_ALLOW_THREADS
    return PyErr_CheckSignals();
}

/* The sections below call these by their short names. */
static inline int require_attached(RegionObject *self)
{
    return ipo_py_require_attached(self);
}

static inline void maybe_unmap(RegionObject *self)
{
    ipo_py_maybe_unmap(self);
}

/* ---- access for the sync API: the methods over the turn engine (turn.c) ---------- */

static PyObject *Region_get_in_line(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (ipo_py_held_here(self))
        Py_RETURN_TRUE;
    int got = ipo_py_acquire(self, IPO_TRY_ACCESS, -1.0);
    if (got < 0)
        return NULL;
    return PyBool_FromLong(got);
}

static PyObject *Region_wait_my_turn(RegionObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "time_limit", "periodic_sleep_time", NULL };
    PyObject *time_limit = Py_None, *periodic = Py_None;
    double limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO", kwlist, &time_limit, &periodic) ||
        ipo_py_time_limit(time_limit, &limit) < 0)
        return NULL;
    if (ipo_py_held_here(self))
        Py_RETURN_TRUE;
    if (ipo_py_acquire(self, IPO_WAIT_ACCESS, limit) < 0) {
        /* The original package answers False when the time limit passes;
         * the guards (wait_my_turn(sm, time_limit)) raise instead. */
        if (PyErr_ExceptionMatches(self->st->OperationTimedOutError)) {
            PyErr_Clear();
            Py_RETURN_FALSE;
        }
        return NULL;
    }
    Py_RETURN_TRUE;
}

static PyObject *Region_is_in_line(RegionObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(ipo_py_held_here(self));
}

static PyObject *Region_release(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (ipo_py_release(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- for event loops (aio.py): their waiter is waiter_type.c's ----------------- */

static PyObject *Region_access_count(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (require_attached(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(ipo_access_count(&self->r));
}

static PyObject *Region_queue_length(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (require_attached(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(ipo_queue_length(&self->r));
}

/* The change count as of the release, or None when this thread held no
 * turn: what the asyncio manager's existence gate waits to move. */
static PyObject *Region_release_if_held(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (!ipo_py_held_here(self))
        Py_RETURN_NONE;
    uint64_t changes;
    if (ipo_py_release_checked(self, &changes) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(changes);
}

static PyObject *Region_change_count(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (require_attached(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(ipo_change_count(&self->r));
}

/* Raises CreatorGoneError when the creator is gone (asking the kernel):
 * for the asyncio manager's and await_my_turn's periodic looks while they
 * sleep. */
static PyObject *Region_check_creator(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (require_attached(self) < 0 || ipo_py_require_creator(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Region_peers_alive(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (require_attached(self) < 0)
        return NULL;
    return PyBool_FromLong(ipo_region_peers_alive(&self->r));
}

/* ---- life: init, consumer attach, consumer wait, close ---------------------------- */

static int parse_name(RegionObject *self, PyObject *name, const char **out)
{
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "name must be a str, not '%.200s'", Py_TYPE(name)->tp_name);
        return -1;
    }
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(name, &len);
    if (!utf8)
        return -1;
    if ((size_t)len != strlen(utf8) || ipo_region_name_check(utf8)) {
        PyErr_Format(PyExc_ValueError,
                     "invalid region name %R: use 1 to %d bytes with no '/' (but an optional "
                     "leading one), no NUL, and not '.' or '..'", name, IPO_NAME_MAX);
        return -1;
    }
    Py_XSETREF(self->name, Py_NewRef(name));
    *out = utf8;
    return 0;
}

/* Opens this participant's doorbell; on failure, leaves the region again. */
static int start_waker(RegionObject *self)
{
    int rc = ipo_waker_init(&self->waker, &self->r);
    if (rc == 0)
        return 0;
    ipo_py_raise(self->st, rc, "cannot open a doorbell for region '%U' in " IPO_DOORBELL_DIR_FMT,
                 self->name, (unsigned)geteuid());
    ipo_region_unmap(&self->r);
    return -1;
}

static int Region_init(RegionObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "name", "create", "size", "slots", "mode", "prefault",
                              "close_timeout", "spin_budget", "trust", "replace_stale", "consumer_id",
                              "strict", "turn_time_limit", "tool", NULL };
    PyObject *name, *size = Py_None, *close_timeout = Py_None, *spin_budget = Py_None;
    PyObject *consumer_id = Py_None, *turn_time_limit = Py_None;
    int create = 0, prefault = 1, trust = 0, replace_stale = 1, strict = 0, tool = 0;
    unsigned int slots = IPO_DEFAULT_SLOTS, mode = 0600;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|pO$IIpOOppOpOp", kwlist, &name, &create, &size,
                                     &slots, &mode, &prefault, &close_timeout, &spin_budget, &trust,
                                     &replace_stale, &consumer_id, &strict, &turn_time_limit, &tool))
        return -1;
    if (self->name) {
        PyErr_SetString(PyExc_RuntimeError, "SharedMemory.__init__ may be called only once");
        return -1;
    }
    const char *utf8;
    if (parse_name(self, name, &utf8) < 0)
        return -1;
    if (slots < 2 || slots > IPO_MAX_SLOTS) {
        PyErr_Format(PyExc_ValueError, "slots must be between 2 and %u, not %u", IPO_MAX_SLOTS, slots);
        return -1;
    }
    if ((mode & ~0777u) || (mode & 0600) != 0600) {
        PyErr_Format(PyExc_ValueError,
                     "mode must be permission bits that include 0o600 (the creator reads and "
                     "writes), not %s", ipo_py_octal_text(mode).text);
        return -1;
    }
    if (close_timeout == Py_None) {
        self->close_timeout = 5.0;
    } else if (ipo_py_time_limit(close_timeout, &self->close_timeout) < 0) {
        return -1;
    }
    double spin = IPO_SPIN_NS_DEFAULT / 1e9;
    if (spin_budget != Py_None && ipo_py_time_limit(spin_budget, &spin) < 0)
        return -1;
    self->spin_ns = (int64_t)(spin * 1e9);
    /* A live object used outside a turn takes one (view_base.h), waiting
     * at most turn_time_limit (None: as long as it takes); strict raises
     * AccessNotHeldError instead. */
    self->turn_time_limit = -1.0;
    if (turn_time_limit != Py_None && ipo_py_time_limit(turn_time_limit, &self->turn_time_limit) < 0) {
        PyObject *kind = PyErr_ExceptionMatches(PyExc_TypeError) ? PyExc_TypeError : PyExc_ValueError;
        PyErr_Clear();
        PyErr_Format(kind, "turn_time_limit must be None or a number of seconds >= 0, not %R",
                     turn_time_limit);
        return -1;
    }
    self->strict = strict;
    /* trust=False leaves it to the region's file (decode.c). */
    self->trust = trust ? IPO_TRUST_GIVEN : IPO_TRUST_UNKNOWN;
    memset(&self->opts, 0, sizeof(self->opts));
    /* The same trust lets a consumer attach to a region that another user
     * owns or may write, in whatever mode its creator chose. */
    self->opts.trust_others = trust;
    /* A tool (the command line's check) joins for a turn without being
     * anyone's consumer: not counted for wait_consumer_ready(). */
    self->opts.tool = tool;
    self->opts.slots = slots;
    self->opts.mode = mode;
    self->opts.prefault = prefault;
    self->opts.keep_stale = !replace_stale;
    /* The original package's consumer_id: the n-th consumer slot (0 is the
     * first after the creator's), taken at attach or refused. */
    if (consumer_id != Py_None) {
        long id = PyLong_Check(consumer_id) ? PyLong_AsLong(consumer_id) : -2;
        if (id == -1 && PyErr_Occurred())
            PyErr_Clear();
        if (id < 0 || id >= IPO_MAX_SLOTS - 1) {
            PyErr_Format(PyExc_ValueError, "consumer_id must be None or an int from 0 to %d, not %R",
                         IPO_MAX_SLOTS - 2, consumer_id);
            return -1;
        }
        self->opts.consumer_slot = (uint32_t)id + 1;
    }
    self->create = create;
    if (!create)
        return 0; /* a consumer attaches in init_consumer() */

    if (size == Py_None) {
        PyErr_SetString(PyExc_ValueError, "size is required when create=True");
        return -1;
    }
    if (!PyLong_Check(size)) {
        PyErr_Format(PyExc_TypeError, "size must be an int, not '%.200s'", Py_TYPE(size)->tp_name);
        return -1;
    }
    long long sz = PyLong_AsLongLong(size);
    if (sz == -1 && PyErr_Occurred())
        return -1;
    if (sz <= 0 || (unsigned long long)sz > IPO_REGION_MAX_SIZE) {
        PyErr_Format(PyExc_ValueError, "size must be between 1 and %llu bytes, not %lld",
                     (unsigned long long)IPO_REGION_MAX_SIZE, sz);
        return -1;
    }
    self->opts.size = (uint64_t)sz;
    int rc;
    /* Reserving and prefaulting a large region takes a while: let others
     * run, but not on this handle (see init_consumer and close). */
    self->attaching = 1;
    self->waiters++;
    Py_BEGIN_ALLOW_THREADS
    rc = ipo_region_create(&self->r, utf8, &self->opts);
    Py_END_ALLOW_THREADS
    self->waiters--;
    self->attaching = 0;
    if (rc) {
        ipo_py_raise_create_error(self, rc);
        return -1;
    }
    if (start_waker(self) < 0)
        return -1;
    self->attached = 1;
    return 0;
}

static PyObject *Region_init_consumer(RegionObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "time_limit", "periodic_sleep_time", NULL };
    PyObject *time_limit = Py_None, *periodic = Py_None;
    double limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO", kwlist, &time_limit, &periodic) ||
        ipo_py_time_limit(time_limit, &limit) < 0)
        return NULL;
    if (!self->name) {
        PyErr_SetString(PyExc_RuntimeError, "SharedMemory.__init__ was not called");
        return NULL;
    }
    if (self->closed) {
        PyErr_Format(self->st->RegionClosedError, "region '%U' is closed", self->name);
        return NULL;
    }
    if (self->attached)
        Py_RETURN_TRUE; /* the creator, or a consumer already attached */

    if (self->attaching) {
        PyErr_Format(self->st->SharedMemoryError,
                     "another thread is attaching this handle to region '%U' already", self->name);
        return NULL;
    }
    const char *utf8 = PyUnicode_AsUTF8(self->name);
    if (!utf8)
        return NULL;
    int64_t deadline = ipo_py_deadline_after(limit);
    int64_t pause_ns = 1000000;
    int rc;
    self->attaching = 1;
    self->waiters++;
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        rc = ipo_region_attach(&self->r, utf8, &self->opts);
        Py_END_ALLOW_THREADS
        /* Missing, still being formatted, or closing (a new creator may come):
         * keep looking until the deadline. Anything else is final. */
        if (rc != -IPO_ENOENT && rc != -IPO_EAGAIN && rc != -IPO_ECLOSING)
            break;
        if (ipo_py_deadline_passed(deadline))
            break;
        if (nap(pause_ns) < 0) {
            rc = 1;
            break;
        }
        if (pause_ns < 16000000)
            pause_ns *= 2;
    }
    self->waiters--;
    self->attaching = 0;
    if (rc == 0) {
        if (start_waker(self) < 0)
            return NULL;
        self->attached = 1;
        Py_RETURN_TRUE;
    }
    if (rc == 1)
        return NULL;
    /* Still missing, unformatted or closing when the time limit passed: the
     * original package answers False. Anything else is an error. */
    if (rc == -IPO_ENOENT || rc == -IPO_EAGAIN || rc == -IPO_ECLOSING)
        Py_RETURN_FALSE;
    return ipo_py_raise_attach_error(self, rc, limit);
}

static PyObject *Region_wait_consumer_ready(RegionObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "time_limit", "periodic_sleep_time", NULL };
    PyObject *time_limit = Py_None, *periodic = Py_None;
    double limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO", kwlist, &time_limit, &periodic) ||
        ipo_py_time_limit(time_limit, &limit) < 0)
        return NULL;
    if (require_attached(self) < 0)
        return NULL;
    if (!self->create) {
        /* A consumer is itself ready, while its region lives. */
        if (ipo_py_require_creator(self) < 0)
            return NULL;
        Py_RETURN_TRUE;
    }
    int64_t deadline = ipo_py_deadline_after(limit);
    int64_t pause_ns = 200000;
    int failed = 0;
    self->waiters++;
    /* Pairs with the fetch-add in ipo_region_attach(). */
    while (!ipo_atomic_load_acquire(&self->r.hdr->attach_count)) {
        if (ipo_py_deadline_passed(deadline)) {
            failed = 2; /* the original package answers False */
            break;
        }
        if (nap(pause_ns) < 0) {
            failed = 1;
            break;
        }
        if (pause_ns < 8000000)
            pause_ns *= 2;
    }
    self->waiters--;
    if (failed == 2)
        Py_RETURN_FALSE;
    if (failed)
        return NULL;
    Py_RETURN_TRUE;
}

/* Detaches; a creator first waits (up to close_timeout, or `wait` false: not
 * at all) for its consumers to leave, then removes the name. */
static int close_region(RegionObject *self, int wait)
{
    if (self->closed)
        return 0;
    if (self->waiters) {
        PyErr_Format(self->st->SharedMemoryError,
                     "region '%U' cannot be closed while another thread waits on it", self->name);
        return -1;
    }
    if (self->running)
        return ipo_py_refuse_while_running(self, "close");
    self->closed = 1;
    if (self->attached && ipo_region_inherited(&self->r)) {
        ipo_waker_abandon(&self->waker); /* the parent's doorbell stays */
    } else if (self->attached) {
        /* Releasing through the handoff wakes whoever waits for it. */
        if (ipo_access_held(&self->r))
            ipo_handoff_release(&self->waker);
        self->holder_thread = 0;
        if (self->create) {
            ipo_region_begin_close(&self->r);
            int64_t deadline = wait ? ipo_py_deadline_after(self->close_timeout) : 0;
            int64_t pause_ns = 200000;
            self->waiters++;
            while (ipo_region_consumers_alive(&self->r) && !ipo_py_deadline_passed(deadline)) {
                if (nap(pause_ns) < 0)
                    PyErr_Clear(); /* a Ctrl-C during close still closes */
                if (pause_ns < 8000000)
                    pause_ns *= 2;
            }
            self->waiters--;
        }
        ipo_waker_fini(&self->waker); /* unregisters event loops' waiters too */
        ipo_region_detach(&self->r);
    }
    self->attached = 0;
    maybe_unmap(self);
    return 0;
}

static PyObject *Region_close(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (close_region(self, 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- properties ---------------------------------------------------------------------- */

static PyObject *Region_get_name(RegionObject *self, void *closure)
{
    (void)closure;
    return self->name ? Py_NewRef(self->name) : Py_NewRef(Py_None);
}

static PyObject *Region_get_size(RegionObject *self, void *closure)
{
    (void)closure;
    if (!self->r.base)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(self->r.size);
}

static PyObject *Region_get_create(RegionObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->create);
}

static PyObject *Region_get_closed(RegionObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->closed);
}

static PyObject *Region_get_attached(RegionObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->attached);
}

static PyObject *Region_get_consumer_id(RegionObject *self, void *closure)
{
    (void)closure;
    if (self->create)
        Py_RETURN_NONE;
    if (self->attached)
        return PyLong_FromUnsignedLong((unsigned long)self->r.slot - 1);
    if (self->opts.consumer_slot)
        return PyLong_FromUnsignedLong((unsigned long)self->opts.consumer_slot - 1);
    Py_RETURN_NONE;
}

static PyObject *Region_get_turn_cut_short(RegionObject *self, void *closure)
{
    (void)closure;
    if (!self->attached || self->closed || ipo_region_inherited(&self->r))
        Py_RETURN_FALSE;
    return PyBool_FromLong(ipo_access_cut_short(&self->r));
}

static PyObject *Region_get_takeovers(RegionObject *self, void *closure)
{
    (void)closure;
    if (!self->attached || self->closed || ipo_region_inherited(&self->r))
        return PyLong_FromLong(0);
    return PyLong_FromUnsignedLongLong(ipo_region_takeovers(&self->r));
}

static PyObject *Region_get_queue_lifo(RegionObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->queue_lifo);
}

static int Region_set_queue_lifo(RegionObject *self, PyObject *value, void *closure)
{
    (void)closure;
    int lifo = value ? PyObject_IsTrue(value) : -1;
    if (lifo < 0) {
        if (!value)
            PyErr_SetString(PyExc_AttributeError, "_queue_lifo cannot be deleted");
        return -1;
    }
    self->queue_lifo = lifo;
    return 0;
}

/* ---- type plumbing -------------------------------------------------------------------- */

static PyMethodDef Region_methods[];

/* The C method a class finds under this name, or NULL (another attribute,
 * or none): the first class of its MRO whose dict has the name decides,
 * as attribute lookup does. */
static const PyMethodDef *inherited_method(PyTypeObject *cls, PyObject *name)
{
    PyObject *mro = cls->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *dict = ((PyTypeObject *)PyTuple_GET_ITEM(mro, i))->tp_dict;
        PyObject *found = dict ? PyDict_GetItemWithError(dict, name) : NULL;
        if (found) {
            if (!Py_IS_TYPE(found, &PyMethodDescr_Type))
                return NULL;
            return ((PyMethodDescrObject *)found)->d_method;
        }
        if (PyErr_Occurred())
            return NULL;
    }
    return NULL;
}

/* SharedMemory, the Region's subclass in the package, gets the Region's
 * methods again as descriptors of its own. CPython 3.11 calls a C method
 * straight (PRECALL_NO_KW_METHOD_DESCRIPTOR_O and the like) only when the
 * object is exactly of the descriptor's class; a descriptor of Region
 * called on a SharedMemory takes the general call, with a subtype check,
 * at every put and take. A method it defines itself is left as it is.
 * A user's subclass of SharedMemory gets no copies: it looks the methods
 * up in SharedMemory, as any Python class does, so that a method replaced
 * on SharedMemory (a spy, a mock) is the one its instances call. Then the
 * next __init_subclass__ in the class's MRO runs, with the class keywords,
 * as after object's: a mixin after SharedMemory in the bases sees the
 * class (and object's refuses keywords nobody took). */
static PyObject *Region_init_subclass(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    PyObject *module = PyType_GetModuleByDef(cls, &ipo_module_def);
    if (!module)
        return NULL;
    PyTypeObject *region_type = ((ipo_state *)PyModule_GetState(module))->region_type;
    for (PyMethodDef *def = Region_methods; cls->tp_base == region_type && def->ml_name; def++) {
        if (def->ml_flags & (METH_CLASS | METH_STATIC))
            continue;
        PyObject *name = PyUnicode_InternFromString(def->ml_name);
        if (!name)
            return NULL;
        const PyMethodDef *found = inherited_method(cls, name);
        PyObject *descr = found == def && !PyErr_Occurred() ? PyDescr_NewMethod(cls, def) : NULL;
        int rc = descr ? PyObject_SetAttr((PyObject *)cls, name, descr) : (PyErr_Occurred() ? -1 : 0);
        Py_XDECREF(descr);
        Py_DECREF(name);
        if (rc < 0)
            return NULL;
    }
    /* super(Region, cls).__init_subclass__(*args, **kwargs) */
    PyObject *after = PyObject_CallFunctionObjArgs((PyObject *)&PySuper_Type, (PyObject *)region_type,
                                                   (PyObject *)cls, NULL);
    PyObject *next = after ? PyObject_GetAttrString(after, "__init_subclass__") : NULL;
    Py_XDECREF(after);
    PyObject *result = next ? PyObject_Call(next, args, kwargs) : NULL;
    Py_XDECREF(next);
    return result;
}

static PyObject *Region_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    (void)args;
    (void)kwargs;
    RegionObject *self = (RegionObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->r.fd = -1;
    /* Subclasses (SharedMemory) find the module through the type's MRO. */
    PyObject *module = PyType_GetModuleByDef(type, &ipo_module_def);
    if (!module) {
        Py_DECREF(self);
        return NULL;
    }
    self->module = Py_NewRef(module);
    self->st = PyModule_GetState(module);
    return (PyObject *)self;
}

static int Region_traverse(RegionObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    Py_VISIT(self->name);
    Py_VISIT(self->object_classes);
    /* Kept keys are str and tuples of keys, which an aware datetime's
     * tzinfo (a Python object) can be part of. */
    for (size_t i = 0; i < IPO_PY_KEY_MEMOS; i++)
        Py_VISIT(self->key_memos[i].key);
    return 0;
}

static void Region_dealloc(RegionObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    /* Never block in a finalizer: a creator that was not closed leaves at
     * once; its consumers keep their mappings. */
    if (!self->closed && self->st && close_region(self, 0) < 0)
        PyErr_WriteUnraisable((PyObject *)self);
    ipo_region_unmap(&self->r);
    ipo_py_key_memos_clear(self);
    ipo_py_str_memos_clear(self);
    Py_CLEAR(self->object_classes);
    Py_CLEAR(self->name);
    Py_CLEAR(self->module);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef Region_methods[] = {
    { "__init_subclass__", (PyCFunction)(void (*)(void))Region_init_subclass,
      METH_VARARGS | METH_KEYWORDS | METH_CLASS,
      "__init_subclass__(**kwargs)\n--\n\nGives SharedMemory the region's methods as its own "
      "descriptors, which CPython calls without a subtype check; then the next __init_subclass__ "
      "in the class's MRO runs." },
    { "init_consumer", (PyCFunction)(void (*)(void))Region_init_consumer, METH_VARARGS | METH_KEYWORDS,
      "init_consumer(time_limit=None)\n--\n\n"
      "Consumer: waits for the region to exist and be ready, then attaches; True, or False "
      "when time_limit passed first. Idempotent." },
    { "wait_consumer_ready", (PyCFunction)(void (*)(void))Region_wait_consumer_ready,
      METH_VARARGS | METH_KEYWORDS,
      "wait_consumer_ready(time_limit=None)\n--\n\n"
      "Creator: waits until a consumer has attached; True, or False when time_limit passed first." },
    { "close", (PyCFunction)Region_close, METH_NOARGS,
      "close()\n--\n\nDetaches. The creator waits up to close_timeout for consumers to "
      "detach, then removes the region. Idempotent." },
    { "get_in_line", (PyCFunction)Region_get_in_line, METH_NOARGS,
      "get_in_line()\n--\n\nOne attempt to take access: True when taken (or held by this "
      "thread already)." },
    { "wait_my_turn", (PyCFunction)(void (*)(void))Region_wait_my_turn, METH_VARARGS | METH_KEYWORDS,
      "wait_my_turn(time_limit=None, periodic_sleep_time=None)\n--\n\n"
      "Waits for access: True once held (at once if this thread holds it already), "
      "False when time_limit passed first." },
    { "is_in_line", (PyCFunction)Region_is_in_line, METH_NOARGS,
      "is_in_line()\n--\n\nWhether this thread holds access now." },
    { "release", (PyCFunction)Region_release, METH_NOARGS, "release()\n--\n\nReleases access." },
    { "put_message", (PyCFunction)ipo_py_region_put_message, METH_O,
      "put_message(obj)\n--\n\nStores obj and queues a message naming it; returns the mapped object." },
    { "put_message_2", (PyCFunction)ipo_py_region_put_message_2, METH_O,
      "put_message_2(obj)\n--\n\nAs put_message; returns (mapped object, offset)." },
    { "take_message", (PyCFunction)(void (*)(void))ipo_py_region_take_message, METH_FASTCALL | METH_KEYWORDS,
      "take_message(queue_type=None)\n--\n\nRemoves the oldest message (the newest with "
      "QueueType.lifo; None: the region's queue_type) and returns its object. The object's "
      "block stays until destroy_obj()." },
    { "take_message_2", (PyCFunction)(void (*)(void))ipo_py_region_take_message_2, METH_FASTCALL | METH_KEYWORDS,
      "take_message_2(queue_type=None)\n--\n\nAs take_message; returns (object, offset)." },
    { "read_message", (PyCFunction)(void (*)(void))ipo_py_region_read_message, METH_FASTCALL | METH_KEYWORDS,
      "read_message(queue_type=None)\n--\n\nReturns the object of the message take_message "
      "would take, without removing the message." },
    { "read_message_2", (PyCFunction)(void (*)(void))ipo_py_region_read_message_2, METH_FASTCALL | METH_KEYWORDS,
      "read_message_2(queue_type=None)\n--\n\nAs read_message; returns (object, offset)." },
    { "pop_message", (PyCFunction)(void (*)(void))ipo_py_region_pop_message, METH_FASTCALL | METH_KEYWORDS,
      "pop_message(default=None, queue_type=None)\n--\n\n"
      "As take_message, but gives default when the queue is empty." },
    { "pop_message_2", (PyCFunction)(void (*)(void))ipo_py_region_pop_message_2, METH_FASTCALL | METH_KEYWORDS,
      "pop_message_2(default=None, queue_type=None)\n--\n\nAs take_message_2; (default, None) when empty." },
    { "get_message", (PyCFunction)(void (*)(void))ipo_py_region_get_message, METH_FASTCALL | METH_KEYWORDS,
      "get_message(default=None, queue_type=None)\n--\n\n"
      "As read_message, but gives default when the queue is empty." },
    { "get_message_2", (PyCFunction)(void (*)(void))ipo_py_region_get_message_2, METH_FASTCALL | METH_KEYWORDS,
      "get_message_2(default=None, queue_type=None)\n--\n\nAs read_message_2; (default, None) when empty." },
    { "has_messages", (PyCFunction)ipo_py_region_has_messages, METH_NOARGS,
      "has_messages()\n--\n\nWhether a message is queued." },
    { "destroy_obj", (PyCFunction)ipo_py_region_destroy_obj, METH_O,
      "destroy_obj(offset)\n--\n\nFrees the object at offset and everything it owns." },
    { "destroy_object", (PyCFunction)ipo_py_region_destroy_obj, METH_O,
      "destroy_object(offset)\n--\n\nAn alias of destroy_obj." },
    { "discard_message", (PyCFunction)(void (*)(void))ipo_py_region_discard_message,
      METH_FASTCALL | METH_KEYWORDS,
      "discard_message(queue_type=None)\n--\n\nRemoves the message take_message() would take "
      "(the oldest, or the newest with QueueType.lifo) without reading it, and frees its "
      "object; NoMessagesInQueueError when the queue is empty." },
    { "get_obj_buffer", (PyCFunction)ipo_py_region_get_obj_buffer, METH_O,
      "get_obj_buffer(offset)\n--\n\nA zero-copy memoryview of the object's data." },
    { "_access_count", (PyCFunction)Region_access_count, METH_NOARGS,
      "_access_count()\n--\n\nHow many times access was acquired (changes with every turn)." },
    { "_queue_length", (PyCFunction)Region_queue_length, METH_NOARGS,
      "_queue_length()\n--\n\nMessages queued; a hint without access, exact with it." },
    { "_release_if_held", (PyCFunction)Region_release_if_held, METH_NOARGS,
      "_release_if_held()\n--\n\nReleases access if this thread holds a turn: the change count "
      "as of the release, or None." },
    { "_change_count", (PyCFunction)Region_change_count, METH_NOARGS,
      "_change_count()\n--\n\nTurns that changed shared state, and participants that left." },
    { "_check_creator", (PyCFunction)Region_check_creator, METH_NOARGS,
      "_check_creator()\n--\n\nRaises CreatorGoneError when the region's creator died or closed it." },
    { "_peers_alive", (PyCFunction)Region_peers_alive, METH_NOARGS,
      "_peers_alive()\n--\n\nWhether another participant is alive in the region." },
    { "stats", (PyCFunction)ipo_py_region_stats, METH_NOARGS,
      "stats()\n--\n\nAllocator and queue figures: free bytes, largest free chunk, blocks, messages." },
    { "check", (PyCFunction)(void (*)(void))ipo_py_region_check, METH_FASTCALL,
      "check(offset=None)\n--\n\nVerifies every invariant of the region (and of the tree of the "
      "object at offset, queued or not); RegionCorruptedError if one is broken." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Region_getset[] = {
    { "name", (getter)Region_get_name, NULL, "The region's name, as given.", NULL },
    { "size", (getter)Region_get_size, NULL, "The region's actual size in bytes (None until attached).", NULL },
    { "create", (getter)Region_get_create, NULL, "True on the creator's side.", NULL },
    { "closed", (getter)Region_get_closed, NULL, "True once close() was called.", NULL },
    { "attached", (getter)Region_get_attached, NULL, "True while this handle holds a slot.", NULL },
    { "consumer_id", (getter)Region_get_consumer_id, NULL,
      "A consumer's number among the consumers (0 for the first slot after the creator's; "
      "the one asked for until it attaches); None on the creator's side.", NULL },
    { "turn_cut_short", (getter)Region_get_turn_cut_short, NULL,
      "True while this process holds a turn it took over from a participant that died "
      "holding access: that participant's turn was cut short, so a change it made of "
      "several (a message and the object it names, two fields) may be there in part.", NULL },
    { "takeovers", (getter)Region_get_takeovers, NULL,
      "How many turns were taken over in this region from participants that died in them.", NULL },
    { "_queue_lifo", (getter)Region_get_queue_lifo, (setter)Region_set_queue_lifo,
      "Whether reads given no queue_type take the newest message (SharedMemory.queue_type).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyMemberDef Region_members[] = {
    { "__weaklistoffset__", T_PYSSIZET, offsetof(RegionObject, weakreflist), READONLY, NULL },
    { NULL, 0, 0, 0, NULL }
};

static PyType_Slot region_slots[] = {
    { Py_tp_new, (void *)Region_new },
    { Py_tp_init, (void *)Region_init },
    { Py_tp_dealloc, (void *)Region_dealloc },
    { Py_tp_traverse, (void *)Region_traverse },
    { Py_tp_methods, Region_methods },
    { Py_tp_getset, Region_getset },
    { Py_tp_members, Region_members },
    { Py_tp_doc, (void *)"Region(name, create=False, size=None, *, slots=16, mode=0o600, "
                         "prefault=True, close_timeout=5.0, spin_budget=None, trust=False, "
                         "replace_stale=True, consumer_id=None, strict=False, turn_time_limit=None, tool=False)\n--\n\n"
                         "A handle on a shared-memory region; SharedMemory builds on it." },
    { 0, NULL }
};

PyType_Spec ipo_region_spec = {
    .name = "ipc_py_objects._ipo.Region",
    .basicsize = sizeof(RegionObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = region_slots,
};

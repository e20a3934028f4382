/* python/src/aio_turn.c — the asyncio manager's turn in C: the state its turns read, and a coroutine's `async with`. */
#include "waiter_type.h"

#include <structmember.h>

/* An `async with cm:` of the asyncio manager (aio.py) costs what its
 * Python costs, and a sleeping round trip takes four of them: so the
 * common case runs here. A coroutine alone in its manager's queue, not
 * held back by `existence`, starts the manager's waiter; when that takes
 * the turn at once, __aenter__ answers an awaitable that is done already
 * (no future, no queue, no trip through the loop), and __aexit__ releases
 * and, with nobody queued, stops the waiter; when it goes to sleep,
 * __aenter__ queues the coroutine's entry there and then, and answers the
 * await of its future. Everything else (others queued, a gate, a block's
 * `existence` that changed) goes to the manager's Python, which reads and
 * writes the same state through the members below: one state, two
 * readers, no copy to keep in step.
 *
 *   AsyncManagerCore  the base of ASharedMemoryManager: the waiter, the
 *                     queue, whether a coroutine holds the turn, the change
 *                     count of the last release, the spin, the last
 *                     block's `existence`.
 *   AsyncTurn         the base of ASharedMemoryContextManager: its manager,
 *                     what `async with` gives, whether its block runs, what
 *                     its last block said, whether the next waits for a
 *                     message.
 *   Done              what __aenter__ and __aexit__ answer when they are
 *                     done already: awaiting it gives the value.
 *   _Asleep, _Entry   what __aenter__ answers when the waiter went to sleep
 *                     for its coroutine: the await of the entry's future,
 *                     and the entry, queued at once (the manager reads it
 *                     as an aio._Waiter). */

typedef struct ManagerCoreObject {
    PyObject_HEAD
    ipo_state *st;
    PyObject *waiter;        /* _waiter: the manager's Waiter (None until ready) */
    PyObject *waiters;       /* _waiters: the queue of coroutines waiting (a deque) */
    PyObject *since;         /* _since: the change count at our last release (None) */
    PyObject *loop;          /* _loop: the event loop (None until ready) */
    PyObject *peer_check;    /* _peer_check: the timer of the next look at the peers (None) */
    double    spin_seconds;  /* _spin_seconds: the spin before a new wait sleeps */
    char      holding;       /* _holding: a coroutine of ours holds the turn */
    char      last_existence; /* _last_existence: what the last block to end said */
} ManagerCoreObject;

typedef struct TurnObject {
    PyObject_HEAD
    ipo_state *st;
    PyObject  *manager;      /* _manager */
    PyObject  *holder;       /* _holder: the ValueHolder `async with` gives */
    PyObject  *said;         /* _said: the existence its last block left (None: none yet) */
    char       entered;      /* _entered: its block runs */
    char       if_has_messages;         /* _if_has_messages: the next block waits for one */
    char       if_has_messages_default; /* _if_has_messages_default: what a block ends back at */
} TurnObject;

typedef struct DoneObject {
    PyObject_HEAD
    PyObject *value;         /* given once, by the first step of the await */
    PyObject *turn;          /* the AsyncTurn whose turn __aenter__ took for this await, until
                              * the value is given: an await that never takes it (thrown
                              * into, closed, dropped) gives the turn back. NULL: none */
} DoneObject;

static int turn_give_back(PyObject *turn);

/* ---- Done ------------------------------------------------------------------------ */

static PyObject *done_new(ipo_state *st, PyObject *value, PyObject *turn)
{
    DoneObject *d = PyObject_New(DoneObject, st->aio_done_type);
    if (!d)
        return NULL;
    d->value = Py_NewRef(value);
    d->turn = Py_XNewRef(turn);
    return (PyObject *)d;
}

/* The await will never take the turn taken for it: it goes back, as when
 * __aenter__ was a coroutine function that never ran. 0, or -1 with an
 * exception set. */
static int done_give_back(DoneObject *self)
{
    PyObject *turn = self->turn;
    if (!turn)
        return 0;
    self->turn = NULL;
    int rc = turn_give_back(turn);
    Py_DECREF(turn);
    return rc;
}

static PyObject *Done_await(PyObject *self)
{
    return Py_NewRef(self);
}

/* Ends an await with value: StopIteration carries it (an instance made
 * here, so that a tuple would not be taken for arguments). */
static void stop_with(PyObject *value)
{
    PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, value);
    if (stop) {
        PyErr_SetObject(PyExc_StopIteration, stop);
        Py_DECREF(stop);
    }
}

/* The await's first step ends it with the value. */
static PyObject *Done_next(DoneObject *self)
{
    PyObject *value = self->value;
    self->value = NULL;
    Py_CLEAR(self->turn); /* the value goes to the await: the turn is its block's */
    if (!value || value == Py_None) {
        Py_XDECREF(value);
        return NULL; /* exhausted, no error: the await gives None */
    }
    stop_with(value);
    Py_DECREF(value);
    return NULL;
}

/* The rest of a coroutine's protocol, so that what __aenter__ answers
 * goes wherever a coroutine goes (asyncio.create_task() wants one, as
 * __aenter__ was a coroutine function before): send() steps it, throw()
 * raises what it is given (nothing to clean up: it holds no frame), close()
 * drops the value. */
static PyObject *Done_send(DoneObject *self, PyObject *value)
{
    (void)value; /* the first send is None; a done awaitable ignores any */
    return Done_next(self);
}

static int check_throw_args(Py_ssize_t nargs)
{
    if (nargs >= 1 && nargs <= 3)
        return 0;
    PyErr_SetString(PyExc_TypeError, "throw(exception) or throw(type, value, traceback)");
    return -1;
}

/* Raises what throw() was given, as a coroutine that has not started would. */
static PyObject *raise_thrown(PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *typ = args[0];
    if (PyExceptionInstance_Check(typ)) {
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
        return NULL;
    }
    if (PyExceptionClass_Check(typ)) {
        PyErr_SetObject(typ, nargs > 1 && args[1] != Py_None ? args[1] : NULL);
        return NULL;
    }
    PyErr_SetString(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException");
    return NULL;
}

/* A throw() that ends the await: the exception set goes on, but a
 * StopIteration becomes RuntimeError, as a coroutine's does (PEP 479).
 * Raised as it is, it would read as the await's end to whoever awaits us:
 * an `async with` would run its block, with the value it carries or None,
 * holding no turn. NULL. */
static PyObject *thrown_out(void)
{
    if (!PyErr_ExceptionMatches(PyExc_StopIteration))
        return NULL;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    PyErr_SetString(PyExc_RuntimeError, "coroutine raised StopIteration");
    if (value) {
        PyObject *t2, *v2, *tb2;
        PyErr_Fetch(&t2, &v2, &tb2);
        PyErr_NormalizeException(&t2, &v2, &tb2);
        if (v2) {
            PyException_SetCause(v2, Py_NewRef(value));
            PyException_SetContext(v2, value); /* steals value */
        } else {
            Py_DECREF(value);
        }
        PyErr_Restore(t2, v2, tb2);
    }
    return NULL;
}

static PyObject *Done_throw(DoneObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_throw_args(nargs) < 0)
        return NULL;
    Py_CLEAR(self->value);
    if (done_give_back(self) < 0)
        return NULL;
    raise_thrown(args, nargs);
    return thrown_out();
}

static PyObject *Done_close(DoneObject *self, PyObject *unused)
{
    (void)unused;
    Py_CLEAR(self->value);
    if (done_give_back(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef done_methods[] = {
    { "send", (PyCFunction)Done_send, METH_O, "send(value)\n--\n\nEnds the await with the value." },
    { "throw", (PyCFunction)(void (*)(void))Done_throw, METH_FASTCALL,
      "throw(exception)\n--\n\nRaises the exception." },
    { "close", (PyCFunction)Done_close, METH_NOARGS, "close()\n--\n\nDrops the value." },
    { NULL, NULL, 0, NULL }
};

/* Dropped before its await took the value: the turn goes back. */
static void Done_finalize(DoneObject *self)
{
    if (!self->turn)
        return;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (done_give_back(self) < 0)
        PyErr_WriteUnraisable((PyObject *)self);
    PyErr_Restore(type, value, tb);
}

static void Done_dealloc(DoneObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
        return; /* resurrected */
    Py_CLEAR(self->turn);
    Py_CLEAR(self->value);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyType_Slot done_slots[] = {
    { Py_tp_doc, "A turn's awaitable that is done already." },
    { Py_am_await, Done_await },
    { Py_tp_iter, PyObject_SelfIter },
    { Py_tp_iternext, Done_next },
    { Py_tp_dealloc, Done_dealloc },
    { Py_tp_finalize, Done_finalize },
    { Py_tp_methods, done_methods },
    { 0, NULL }
};

static PyType_Spec done_spec = {
    .name = "ipc_py_objects._ipo._Done",
    .basicsize = sizeof(DoneObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = done_slots,
};

/* ---- AsyncManagerCore --------------------------------------------------------------- */

static int ManagerCore_traverse(ManagerCoreObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->waiter);
    Py_VISIT(self->waiters);
    Py_VISIT(self->since);
    Py_VISIT(self->loop);
    Py_VISIT(self->peer_check);
    return 0;
}

static int ManagerCore_clear(ManagerCoreObject *self)
{
    Py_CLEAR(self->waiter);
    Py_CLEAR(self->waiters);
    Py_CLEAR(self->since);
    Py_CLEAR(self->loop);
    Py_CLEAR(self->peer_check);
    return 0;
}

static void ManagerCore_dealloc(ManagerCoreObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    ManagerCore_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *ManagerCore_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    (void)args;
    (void)kwargs; /* the Python subclass's __init__ takes them */
    PyObject *module = PyType_GetModuleByDef(type, &ipo_module_def);
    if (!module)
        return NULL;
    ManagerCoreObject *self = (ManagerCoreObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->st = PyModule_GetState(module);
    return (PyObject *)self;
}

/* A ring for the coroutine waiting alone: the turn is its own (what the
 * waiter waited for was that coroutine's need alone, and only a release
 * of ours changes the gates). 1 when given, 0 when the Python path must
 * decide (another coroutine queued, or this one done), -1 on an error. */
static int give_alone(ManagerCoreObject *self)
{
    ipo_state *st = self->st;
    if (!self->waiters || PyObject_Size(self->waiters) != 1) {
        PyErr_Clear();
        return 0;
    }
    PyObject *queued = PySequence_GetItem(self->waiters, 0);
    if (!queued)
        return -1;
    PyObject *future = PyObject_GetAttr(queued, st->str_future);
    Py_DECREF(queued);
    if (!future)
        return -1;
    int rc = -1;
    PyObject *done = PyObject_CallMethodNoArgs(future, st->str_done);
    if (!done)
        goto out;
    int is_done = PyObject_IsTrue(done);
    Py_DECREF(done);
    if (is_done) {
        rc = is_done < 0 ? -1 : 0;
        goto out;
    }
    PyObject *popped = PyObject_CallMethodNoArgs(self->waiters, st->str_pop);
    if (!popped)
        goto out;
    Py_DECREF(popped);
    self->holding = 1;
    PyObject *r = PyObject_CallMethodOneArg(future, st->str_set_result, Py_None);
    if (r) {
        Py_DECREF(r);
        rc = 1;
    }
out:
    Py_DECREF(future);
    return rc;
}

/* The loop's reader on the waiter's descriptors: a ring from a releaser,
 * or another waiter of this process passing one on. The waiter reads it
 * all (the descriptors are level-triggered) and says what it means; a turn
 * for the one coroutine queued is given here, the rest is the Python
 * manager's (_after_readable). */
static PyObject *ManagerCore_on_readable(ManagerCoreObject *self, PyObject *unused)
{
    (void)unused;
    ipo_state *st = self->st;
    PyObject *w = self->waiter;
    if (!w || !Py_IS_TYPE(w, st->waiter_type) || !((WaiterObject *)w)->region->attached ||
        ((WaiterObject *)w)->region->closed)
        return PyObject_CallMethodOneArg((PyObject *)self, st->str_after_readable, Py_None);
    Py_INCREF(w);
    int step = ipo_py_waiter_readable((WaiterObject *)w);
    Py_DECREF(w);
    if (step < 0) {
        /* CreatorGoneError: every coroutine waiting gets it. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        PyObject *r = PyObject_CallMethodOneArg((PyObject *)self, st->str_fail, value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return r;
    }
    if (step == IPO_WAIT_HELD) {
        int given = give_alone(self);
        if (given < 0)
            return NULL;
        if (given)
            Py_RETURN_NONE;
    } else if (step == IPO_WAIT_SLEEP) {
        Py_RETURN_NONE;
    }
    PyObject *s = PyLong_FromLong(step);
    if (!s)
        return NULL;
    PyObject *r = PyObject_CallMethodOneArg((PyObject *)self, st->str_after_readable, s);
    Py_DECREF(s);
    return r;
}

static PyMethodDef ManagerCore_methods[] = {
    { "_on_readable", (PyCFunction)ManagerCore_on_readable, METH_NOARGS,
      "_on_readable()\n--\n\nThe loop's reader on the waiter's descriptors." },
    { NULL, NULL, 0, NULL }
};

static PyMemberDef ManagerCore_members[] = {
    { "_waiter", T_OBJECT, offsetof(ManagerCoreObject, waiter), 0, "The manager's Waiter (None until ready)." },
    { "_waiters", T_OBJECT, offsetof(ManagerCoreObject, waiters), 0, "The coroutines waiting for a turn." },
    { "_since", T_OBJECT, offsetof(ManagerCoreObject, since), 0,
      "The change count as of our last release (None before one)." },
    { "_loop", T_OBJECT, offsetof(ManagerCoreObject, loop), 0, "The event loop (None until ready)." },
    { "_peer_check", T_OBJECT, offsetof(ManagerCoreObject, peer_check), 0,
      "The timer of the next look at the peers (None: none scheduled)." },
    { "_spin_seconds", T_DOUBLE, offsetof(ManagerCoreObject, spin_seconds), 0,
      "How long a new wait spins before it sleeps." },
    { "_holding", T_BOOL, offsetof(ManagerCoreObject, holding), 0, "A coroutine of ours holds the turn." },
    { "_last_existence", T_BOOL, offsetof(ManagerCoreObject, last_existence), 0,
      "The existence the last block to end left." },
    { NULL, 0, 0, 0, NULL }
};

static PyType_Slot manager_core_slots[] = {
    { Py_tp_doc, "AsyncManagerCore()\n--\n\nThe state of ASharedMemoryManager that its turns read in C." },
    { Py_tp_new, ManagerCore_new },
    { Py_tp_dealloc, ManagerCore_dealloc },
    { Py_tp_methods, ManagerCore_methods },
    { Py_tp_traverse, ManagerCore_traverse },
    { Py_tp_clear, ManagerCore_clear },
    { Py_tp_members, ManagerCore_members },
    { 0, NULL }
};

static PyType_Spec manager_core_spec = {
    .name = "ipc_py_objects._ipo.AsyncManagerCore",
    .basicsize = sizeof(ManagerCoreObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = manager_core_slots,
};

/* ---- _Asleep ------------------------------------------------------------------------ */

/* What __aenter__ answers when it put the manager's waiter to sleep for
 * its coroutine: the coroutine's entry in the manager's queue, made and
 * queued at once (so the need the waiter sleeps for is the queue's from
 * the start, whenever the await begins), and the await of its future. The
 * manager reads .future, .cm and .messages as it reads a _Waiter's. The
 * await ends with the ValueHolder once the future is granted; one that
 * ends otherwise (thrown into, cancelled, closed, dropped before or during
 * its await) gives the entry up through the manager's _abandon(), which
 * takes it off the queue, or releases a turn granted meanwhile. */
typedef struct EntryObject {
    PyObject_HEAD
    PyObject *future;    /* future: granted when the turn is the coroutine's */
    PyObject *turn;      /* cm: the AsyncTurn */
    char      messages;  /* messages: it waits for a message too */
} EntryObject;

/* The await holds the entry, and the queue only the entry: an await that
 * nobody holds any more (dropped before it began; a task awaiting it is
 * held by the future's callback) is finalized, and gives the entry up. */
typedef struct AsleepObject {
    PyObject_HEAD
    EntryObject *entry;
    char      over;      /* the await ended, or the entry was given up */
    PyObject *awaiting;  /* the future's own await, once stepped (NULL before) */
} AsleepObject;

static int Entry_traverse(EntryObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->future);
    Py_VISIT(self->turn);
    return 0;
}

static int Entry_clear(EntryObject *self)
{
    Py_CLEAR(self->future);
    Py_CLEAR(self->turn);
    return 0;
}

static void Entry_dealloc(EntryObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Entry_clear(self);
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

static PyMemberDef entry_members[] = {
    { "future", T_OBJECT, offsetof(EntryObject, future), READONLY, "Granted when the turn is the coroutine's." },
    { "cm", T_OBJECT, offsetof(EntryObject, turn), READONLY, "The context manager." },
    { "messages", T_BOOL, offsetof(EntryObject, messages), READONLY, "It waits for a message too." },
    { NULL, 0, 0, 0, NULL }
};

static PyType_Slot entry_slots[] = {
    { Py_tp_doc, "A coroutine's entry in the manager's queue, made in C (as aio._Waiter)." },
    { Py_tp_dealloc, Entry_dealloc },
    { Py_tp_traverse, Entry_traverse },
    { Py_tp_clear, Entry_clear },
    { Py_tp_members, entry_members },
    { 0, NULL }
};

static PyType_Spec entry_spec = {
    .name = "ipc_py_objects._ipo._Entry",
    .basicsize = sizeof(EntryObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = entry_slots,
};

static PyObject *queue_asleep(TurnObject *turn, ManagerCoreObject *m)
{
    ipo_state *st = turn->st;
    PyObject *future = PyObject_CallMethodNoArgs(m->loop, st->str_create_future);
    if (!future)
        return NULL;
    EntryObject *e = PyObject_GC_New(EntryObject, st->aio_entry_type);
    if (!e) {
        Py_DECREF(future);
        return NULL;
    }
    e->future = future;
    e->turn = Py_NewRef((PyObject *)turn);
    e->messages = turn->if_has_messages;
    PyObject_GC_Track(e);
    AsleepObject *a = PyObject_GC_New(AsleepObject, st->aio_asleep_type);
    if (!a) {
        Py_DECREF(e);
        return NULL;
    }
    a->entry = e;
    a->over = 1; /* nothing to give up until queued */
    a->awaiting = NULL;
    PyObject_GC_Track(a);
    PyObject *r = PyObject_CallMethodOneArg(m->waiters, st->str_append, (PyObject *)e);
    if (!r) {
        Py_DECREF(a);
        return NULL;
    }
    Py_DECREF(r);
    a->over = 0;
    if (!m->peer_check || m->peer_check == Py_None) {
        r = PyObject_CallMethodNoArgs((PyObject *)m, st->str_schedule_peer_check);
        if (!r) {
            Py_DECREF(a); /* its finalizer gives the entry up */
            return NULL;
        }
        Py_DECREF(r);
    }
    return (PyObject *)a;
}

/* The await will not take the turn: the entry goes, through the manager's
 * _abandon(), and the next block of the context manager waits for what its
 * constructor said. 0, or -1 with an exception set. */
static int asleep_give_up(AsleepObject *self)
{
    if (self->over)
        return 0;
    self->over = 1;
    Py_CLEAR(self->awaiting);
    TurnObject *t = (TurnObject *)self->entry->turn;
    t->if_has_messages = t->if_has_messages_default;
    PyObject *r = PyObject_CallMethodOneArg(t->manager, t->st->str_abandon, (PyObject *)self->entry);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* The await failed with the exception set: give the entry up, and the
 * exception goes on (one in giving up is written as unraisable). */
static PyObject *asleep_failed(AsleepObject *self)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (asleep_give_up(self) < 0)
        PyErr_WriteUnraisable((PyObject *)self);
    PyErr_Restore(type, value, tb);
    return NULL;
}

/* The future's await returned NULL: done (its result is the grant), or
 * failed. */
static PyObject *asleep_after(AsleepObject *self)
{
    if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_StopIteration))
        return asleep_failed(self);
    PyErr_Clear();
    self->over = 1;
    Py_CLEAR(self->awaiting);
    TurnObject *t = (TurnObject *)self->entry->turn;
    /* Granted: the turn is this block's, as after _aenter_queued()'s await. */
    if (PyObject_SetAttr(t->holder, t->st->str_existence, Py_True) < 0)
        return NULL;
    t->entered = 1;
    stop_with(t->holder);
    return NULL;
}

static PyObject *asleep_send(AsleepObject *self, PyObject *value)
{
    if (self->over) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse an awaited __aenter__()");
        return NULL;
    }
    if (!self->awaiting) {
        PyObject *future = self->entry->future;
        PyTypeObject *ft = Py_TYPE(future);
        self->awaiting = ft->tp_as_async && ft->tp_as_async->am_await
                             ? ft->tp_as_async->am_await(future)
                             : PyObject_CallMethod(future, "__await__", NULL);
        if (!self->awaiting)
            return asleep_failed(self);
    }
    PyObject *r;
    if ((!value || value == Py_None) && Py_TYPE(self->awaiting)->tp_iternext)
        r = Py_TYPE(self->awaiting)->tp_iternext(self->awaiting);
    else
        r = PyObject_CallMethod(self->awaiting, "send", "O", value ? value : Py_None);
    return r ? r : asleep_after(self);
}

static PyObject *Asleep_next(AsleepObject *self)
{
    return asleep_send(self, NULL);
}

static PyObject *Asleep_throw(AsleepObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_throw_args(nargs) < 0)
        return NULL;
    if (!self->awaiting) {
        /* Not stepped yet (a task cancelled before it ran), or over. */
        if (asleep_give_up(self) < 0)
            return NULL;
        raise_thrown(args, nargs);
        return thrown_out();
    }
    PyObject *throw = PyObject_GetAttrString(self->awaiting, "throw");
    if (!throw)
        return asleep_failed(self);
    PyObject *r = PyObject_Vectorcall(throw, args, (size_t)nargs, NULL);
    Py_DECREF(throw);
    if (r)
        return r;
    /* The future's await raises what it was thrown, even a StopIteration:
     * that is no grant (the entry would stay queued, and the turn granted
     * to it later held for good), so whatever ended the await here, the
     * entry is given up, as a coroutine's `except BaseException` does. */
    asleep_failed(self);
    return thrown_out();
}

static PyObject *Asleep_close(AsleepObject *self, PyObject *unused)
{
    (void)unused;
    if (asleep_give_up(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static void Asleep_finalize(AsleepObject *self)
{
    if (self->over)
        return;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (asleep_give_up(self) < 0)
        PyErr_WriteUnraisable((PyObject *)self);
    PyErr_Restore(type, value, tb);
}

static int Asleep_traverse(AsleepObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->entry);
    Py_VISIT(self->awaiting);
    return 0;
}

static int Asleep_clear(AsleepObject *self)
{
    Py_CLEAR(self->entry);
    Py_CLEAR(self->awaiting);
    return 0;
}

static void Asleep_dealloc(AsleepObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
        return; /* resurrected */
    PyObject_GC_UnTrack(self);
    Asleep_clear(self);
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

static PyMethodDef asleep_methods[] = {
    { "send", (PyCFunction)asleep_send, METH_O, "send(value)\n--\n\nSteps the await." },
    { "throw", (PyCFunction)(void (*)(void))Asleep_throw, METH_FASTCALL,
      "throw(exception)\n--\n\nRaises the exception in the await; the queue entry is given up." },
    { "close", (PyCFunction)Asleep_close, METH_NOARGS, "close()\n--\n\nGives the queue entry up." },
    { NULL, NULL, 0, NULL }
};

static PyMemberDef asleep_members[] = {
    { "entry", T_OBJECT, offsetof(AsleepObject, entry), READONLY, "Its entry in the manager's queue." },
    { NULL, 0, 0, 0, NULL }
};

static PyType_Slot asleep_slots[] = {
    { Py_tp_doc, "A coroutine's queue entry, and the await of its turn." },
    { Py_am_await, Done_await },
    { Py_tp_iter, PyObject_SelfIter },
    { Py_tp_iternext, Asleep_next },
    { Py_tp_dealloc, Asleep_dealloc },
    { Py_tp_finalize, Asleep_finalize },
    { Py_tp_traverse, Asleep_traverse },
    { Py_tp_clear, Asleep_clear },
    { Py_tp_methods, asleep_methods },
    { Py_tp_members, asleep_members },
    { 0, NULL }
};

static PyType_Spec asleep_spec = {
    .name = "ipc_py_objects._ipo._Asleep",
    .basicsize = sizeof(AsleepObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = asleep_slots,
};

/* ---- AsyncTurn ---------------------------------------------------------------------- */

/* The manager, when it is one (a subclass of AsyncManagerCore) whose
 * waiter is ready: else NULL, and the Python path decides. */
static ManagerCoreObject *ready_manager(TurnObject *self, WaiterObject **waiter)
{
    ipo_state *st = self->st;
    PyObject *m = self->manager;
    if (!m || !PyObject_TypeCheck(m, st->aio_manager_type))
        return NULL;
    ManagerCoreObject *core = (ManagerCoreObject *)m;
    if (!core->waiter || !Py_IS_TYPE(core->waiter, st->waiter_type))
        return NULL;
    /* A region closed under the manager is unmapped: nothing of it may be
     * read here (the Python path says what is wrong). */
    WaiterObject *w = (WaiterObject *)core->waiter;
    if (!w->ready || !w->region->attached || w->region->closed)
        return NULL;
    *waiter = w;
    return core;
}

/* Whether coroutines are queued: an error (no queue) says yes, so that
 * the Python path, which knows, decides. */
static int queued(ManagerCoreObject *m)
{
    if (!m->waiters)
        return 1;
    Py_ssize_t n = PyObject_Size(m->waiters);
    if (n < 0) {
        PyErr_Clear();
        return 1;
    }
    return n != 0;
}

/* The manager's _fail(exc) for the exception set (its waiter failed: the
 * creator is gone), which stays set. */
static void fail_manager(TurnObject *self, PyObject *m)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *r = PyObject_CallMethodOneArg(m, self->st->str_fail, value ? value : Py_None);
    if (r) {
        Py_DECREF(r);
        PyErr_Restore(type, value, tb);
    } else {
        /* Failing the others failed: that error, chained to the first. */
        Py_XDECREF(type);
        Py_XDECREF(tb);
        if (value) {
            PyObject *t2, *v2, *tb2;
            PyErr_Fetch(&t2, &v2, &tb2);
            PyErr_NormalizeException(&t2, &v2, &tb2);
            if (v2)
                PyException_SetContext(v2, value);
            else
                Py_DECREF(value);
            PyErr_Restore(t2, v2, tb2);
        }
    }
}

/* An AsyncTurn made without ASharedMemoryContextManager's __init__ has no
 * manager nor holder to work with. */
static int require_made(TurnObject *self)
{
    if (self->manager && self->holder)
        return 0;
    PyErr_SetString(PyExc_TypeError,
                    "an AsyncTurn needs its manager and holder: make one with ASharedMemoryManager()()");
    return -1;
}

static PyObject *Turn_aenter(TurnObject *self, PyObject *unused)
{
    (void)unused;
    ipo_state *st = self->st;
    if (require_made(self) < 0)
        return NULL;
    WaiterObject *w = NULL;
    ManagerCoreObject *m = ready_manager(self, &w);
    /* Alone, and not held back by existence (a gate needs the manager's
     * look at every coroutine's word: the Python path). A waiter asleep
     * with nobody queued is not this coroutine's to take over: every sleep
     * started for a coroutine queues its entry at once (an __aenter__()
     * whose await has not begun included), so such a waiter sleeps for a
     * need left by a path that failed; the Python path (the pump) settles
     * it and queues this one. */
    if (!m || m->holding || queued(m) || w->w.sleeper.what ||
        !(self->if_has_messages || m->last_existence || self->said != Py_False))
        return PyObject_CallMethodNoArgs((PyObject *)self, st->str_aenter_queued);
    uint64_t since = 0;
    if (m->since && m->since != Py_None) {
        since = PyLong_AsUnsignedLongLong(m->since);
        if (since == (uint64_t)-1 && PyErr_Occurred())
            goto fail;
    }
    uint32_t what = self->if_has_messages ? IPO_WAIT_FOR_MESSAGES : IPO_WAIT_FOR_ACCESS;
    /* A new wait (none asleep, above): it spins, unless, as in the
     * manager's pump, it waits for a message while none is queued. */
    int64_t spin_ns = 0;
    if (!self->if_has_messages || ipo_queue_length(&w->region->r))
        spin_ns = (int64_t)(m->spin_seconds * 1e9);
    Py_INCREF(m);
    Py_INCREF(w);
    int step = ipo_py_waiter_start(w, what, since, spin_ns);
    Py_DECREF(w);
    if (step < 0) {
        fail_manager(self, (PyObject *)m);
        Py_DECREF(m);
        goto fail;
    }
    if (step == IPO_WAIT_SLEEP && m->loop && m->loop != Py_None) {
        /* Asleep for this coroutine: queued now, awaited as its future. */
        PyObject *r = queue_asleep(self, m);
        if (!r) {
            /* Not queued: the waiter would sleep for nobody, rung by every
             * release for a turn nobody here wants. A ring it had goes on.
             * The error stays the one to tell. */
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            if (!queued(m) && m->waiter && Py_IS_TYPE(m->waiter, st->waiter_type))
                ipo_py_waiter_cancel((WaiterObject *)m->waiter);
            PyErr_Restore(type, value, tb);
        }
        Py_DECREF(m);
        if (!r)
            goto fail;
        return r;
    }
    if (step != IPO_WAIT_HELD) {
        Py_DECREF(m);
        /* A change came (or no loop): the queue takes it from here,
         * knowing the waiter started for this coroutine. */
        PyObject *s = PyLong_FromLong(step);
        if (!s)
            goto fail;
        PyObject *r = PyObject_CallMethodOneArg((PyObject *)self, st->str_aenter_queued, s);
        Py_DECREF(s);
        return r;
    }
    m->holding = 1;
    Py_DECREF(m);
    self->entered = 1;
    PyObject *done = NULL;
    if (PyObject_SetAttr(self->holder, st->str_existence, Py_True) == 0)
        done = done_new(st, self->holder, (PyObject *)self);
    if (!done) {
        /* The block will not run, nor __aexit__: the turn goes back. */
        self->entered = 0;
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *r = PyObject_CallMethodObjArgs(self->manager, st->str_release, (PyObject *)self,
                                                 Py_None, NULL);
        Py_XDECREF(r);
        if (!r)
            PyErr_Clear(); /* the first error is the one to tell */
        PyErr_Restore(type, value, tb);
    }
    return done;
fail:
    self->if_has_messages = self->if_has_messages_default;
    return NULL;
}

/* What __aenter__ took for an await that will never take it goes back,
 * without counting as a block: the manager's _release(turn, None). */
static int turn_give_back(PyObject *turn)
{
    TurnObject *t = (TurnObject *)turn;
    if (!t->entered)
        return 0;
    t->entered = 0;
    t->if_has_messages = t->if_has_messages_default;
    PyObject *r = PyObject_CallMethodObjArgs(t->manager, t->st->str_release, turn, Py_None, NULL);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *Turn_aexit(TurnObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs; /* the exception is the block's: it goes on */
    ipo_state *st = self->st;
    if (require_made(self) < 0)
        return NULL;
    self->if_has_messages = self->if_has_messages_default;
    self->entered = 0;
    PyObject *e = PyObject_GetAttr(self->holder, st->str_existence);
    if (!e)
        return NULL;
    int truth = PyObject_IsTrue(e);
    Py_DECREF(e);
    if (truth < 0)
        return NULL;
    PyObject *existence = truth ? Py_True : Py_False;
    WaiterObject *w = NULL;
    ManagerCoreObject *m = ready_manager(self, &w);
    RegionObject *region = m ? w->region : NULL;
    if (!m || self->said != existence || !region->attached) {
        /* Its word changed (the manager's weak dictionary learns it), or
         * no waiter: the manager's Python releases. */
        PyObject *r = PyObject_CallMethodObjArgs(self->manager, st->str_release, (PyObject *)self,
                                                 existence, NULL);
        if (!r)
            return NULL;
        Py_DECREF(r);
        return done_new(st, Py_None, NULL);
    }
    m->last_existence = (char)truth;
    m->holding = 0;
    Py_INCREF(m);
    /* The change count as of our release: our own change is counted in
     * it, so it does not wake us. */
    PyObject *since = PyObject_CallMethodNoArgs((PyObject *)region, st->str_release_if_held);
    if (!since)
        goto fail;
    if (since != Py_None)
        Py_XSETREF(m->since, since);
    else
        Py_DECREF(since);
    if (queued(m)) {
        PyObject *r = PyObject_CallMethodNoArgs((PyObject *)m, st->str_pump);
        if (!r)
            goto fail;
        Py_DECREF(r);
    } else if (m->waiter && Py_IS_TYPE(m->waiter, st->waiter_type)) {
        ipo_py_waiter_cancel((WaiterObject *)m->waiter); /* nobody waits: nor does the waiter */
    }
    Py_DECREF(m);
    return done_new(st, Py_None, NULL);
fail:
    Py_DECREF(m);
    return NULL;
}

static PyObject *Turn_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    (void)args;
    (void)kwargs; /* the Python subclass's __init__ takes them */
    PyObject *module = PyType_GetModuleByDef(type, &ipo_module_def);
    if (!module)
        return NULL;
    TurnObject *self = (TurnObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->st = PyModule_GetState(module);
    return (PyObject *)self;
}

static int Turn_traverse(TurnObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->manager);
    Py_VISIT(self->holder);
    Py_VISIT(self->said);
    return 0;
}

static int Turn_clear(TurnObject *self)
{
    Py_CLEAR(self->manager);
    Py_CLEAR(self->holder);
    Py_CLEAR(self->said);
    return 0;
}

static void Turn_dealloc(TurnObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Turn_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMemberDef Turn_members[] = {
    { "_manager", T_OBJECT, offsetof(TurnObject, manager), 0, "Its ASharedMemoryManager." },
    { "_holder", T_OBJECT, offsetof(TurnObject, holder), 0, "The ValueHolder `async with` gives." },
    { "_said", T_OBJECT, offsetof(TurnObject, said), 0,
      "The existence its last block left (None: no block ended yet)." },
    { "_entered", T_BOOL, offsetof(TurnObject, entered), 0, "Its block runs." },
    { "_if_has_messages", T_BOOL, offsetof(TurnObject, if_has_messages), 0,
      "The next block waits for a message first." },
    { "_if_has_messages_default", T_BOOL, offsetof(TurnObject, if_has_messages_default), 0,
      "What _if_has_messages is back at after each block." },
    { NULL, 0, 0, 0, NULL }
};

static PyMethodDef Turn_methods[] = {
    { "__aenter__", (PyCFunction)Turn_aenter, METH_NOARGS,
      "__aenter__()\n--\n\nWaits for the turn (and a message, if asked); gives the ValueHolder." },
    { "__aexit__", (PyCFunction)(void (*)(void))Turn_aexit, METH_FASTCALL,
      "__aexit__(exc_type, exc, tb)\n--\n\nEnds the block: releases the turn." },
    { NULL, NULL, 0, NULL }
};

static PyType_Slot turn_slots[] = {
    { Py_tp_doc, "AsyncTurn()\n--\n\nThe turn of ASharedMemoryContextManager, in C for the common case." },
    { Py_tp_new, Turn_new },
    { Py_tp_dealloc, Turn_dealloc },
    { Py_tp_traverse, Turn_traverse },
    { Py_tp_clear, Turn_clear },
    { Py_tp_members, Turn_members },
    { Py_tp_methods, Turn_methods },
    { 0, NULL }
};

static PyType_Spec turn_spec = {
    .name = "ipc_py_objects._ipo.AsyncTurn",
    .basicsize = sizeof(TurnObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = turn_slots,
};

int ipo_py_aio_types_ready(PyObject *module, ipo_state *st)
{
    st->aio_manager_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &manager_core_spec, NULL);
    st->aio_turn_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &turn_spec, NULL);
    st->aio_done_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &done_spec, NULL);
    st->aio_asleep_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &asleep_spec, NULL);
    st->aio_entry_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &entry_spec, NULL);
    if (!st->aio_manager_type || !st->aio_turn_type || !st->aio_done_type || !st->aio_asleep_type ||
        !st->aio_entry_type)
        return -1;
    if (!(st->str_existence = PyUnicode_InternFromString("existence")) ||
        !(st->str_aenter_queued = PyUnicode_InternFromString("_aenter_queued")) ||
        !(st->str_release = PyUnicode_InternFromString("_release")) ||
        !(st->str_release_if_held = PyUnicode_InternFromString("_release_if_held")) ||
        !(st->str_pump = PyUnicode_InternFromString("_pump")) ||
        !(st->str_fail = PyUnicode_InternFromString("_fail")) ||
        !(st->str_after_readable = PyUnicode_InternFromString("_after_readable")) ||
        !(st->str_future = PyUnicode_InternFromString("future")) ||
        !(st->str_done = PyUnicode_InternFromString("done")) ||
        !(st->str_pop = PyUnicode_InternFromString("pop")) ||
        !(st->str_set_result = PyUnicode_InternFromString("set_result")) ||
        !(st->str_create_future = PyUnicode_InternFromString("create_future")) ||
        !(st->str_append = PyUnicode_InternFromString("append")) ||
        !(st->str_abandon = PyUnicode_InternFromString("_abandon")) ||
        !(st->str_schedule_peer_check = PyUnicode_InternFromString("_schedule_peer_check")))
        return -1;
    if (PyModule_AddType(module, st->aio_manager_type) < 0 || PyModule_AddType(module, st->aio_turn_type) < 0)
        return -1;
    return 0;
}

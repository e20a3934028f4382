/* python/src/aio_await.c — what the asyncio manager's __aenter__ and __aexit__ answer: awaitables that give a turn once, or give it back. */
#include "aio_turn.h"

#include <structmember.h>

/* An await that is done already (Done), or the await of a sleeping
 * coroutine's entry (_Asleep, _Entry, queued at once): each gives what its
 * await is owed exactly once, and an await thrown into, closed or dropped
 * before that gives back the turn it was owed, or takes its entry off the
 * queue (aio_turn.c says when __aenter__ answers which). */

typedef struct DoneObject {
    PyObject_HEAD
    PyObject *value;         /* given once, by the first step of the await */
    PyObject *turn;          /* the AsyncTurn whose turn __aenter__ took for this await, until
                              * the value is given: an await that never takes it (thrown
                              * into, closed, dropped) gives the turn back. NULL: none */
} DoneObject;

/* ---- Done ------------------------------------------------------------------------ */

PyObject *ipo_py_aio_done_new(ipo_state *st, PyObject *value, PyObject *turn)
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
    int rc = ipo_py_aio_turn_give_back(turn);
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

PyObject *ipo_py_aio_queue_asleep(TurnObject *turn, ManagerCoreObject *m)
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


int ipo_py_aio_await_types_ready(PyObject *module, ipo_state *st)
{
    st->aio_done_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &done_spec, NULL);
    st->aio_asleep_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &asleep_spec, NULL);
    st->aio_entry_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &entry_spec, NULL);
    return st->aio_done_type && st->aio_asleep_type && st->aio_entry_type ? 0 : -1;
}

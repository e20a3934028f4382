/* python/src/aio_turn.c — the asyncio manager's turn in C: the state its turns read, and a coroutine's `async with`. */
#include "aio_turn.h"

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
 *                     as an aio._Waiter).
 * The last three live in aio_await.c; the objects both files read, in
 * aio_turn.h. */

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
        PyObject *r = ipo_py_aio_queue_asleep(self, m);
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
        done = ipo_py_aio_done_new(st, self->holder, (PyObject *)self);
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
int ipo_py_aio_turn_give_back(PyObject *turn)
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
        return ipo_py_aio_done_new(st, Py_None, NULL);
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
    return ipo_py_aio_done_new(st, Py_None, NULL);
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
    if (!st->aio_manager_type || !st->aio_turn_type || ipo_py_aio_await_types_ready(module, st) < 0)
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

/* python/src/view_base.c — what every live view shares: its checked way to its block, its making, its slots. */
#include "view_base.h"

static const char *type_noun(uint8_t type)
{
    switch (type) {
    case IPO_T_LIST:   return "list";
    case IPO_T_DICT:   return "dict";
    case IPO_T_SET:    return "set";
    case IPO_T_VALUES: return "object";
    default:           return "object";
    }
}

ipo_obj_t *ipo_py_view_obj_slow(ViewObject *v)
{
    RegionObject *self = v->region;
    if (ipo_py_require_access(self) < 0)
        return NULL;
    ipo_obj_t *obj = (ipo_obj_t *)(self->r.base + v->off);
    /* Generation and type, on one cache line: a destroyed block reads
     * generation 0, a reused one a newer generation. */
    if (obj->gen != v->gen || obj->type != v->type) {
        ipo_py_raise(self->st, -IPO_EBADOBJ,
                     "this shared %s (offset %llu) no longer exists: it was destroyed, or "
                     "removed or replaced in its container", type_noun(v->type),
                     (unsigned long long)v->off);
        return NULL;
    }
    return obj;
}

int ipo_py_turn_take(RegionObject *self, ipo_own_turn_t *turn)
{
    /* A closed, detached or inherited handle says so rather than wait. */
    if (ipo_py_require_attached(self) < 0)
        return -1;
    /* This thread holds no turn: strict, that is the error. */
    if (self->strict) {
        PyErr_Format(self->st->AccessNotHeldError,
                     "this thread does not hold access to region '%U', which is strict "
                     "(strict=True): use its live objects inside `with wait_my_turn(sm):`, or "
                     "between sm.wait_my_turn() and sm.release()", self->name);
        return -1;
    }
    if (ipo_py_acquire(self, IPO_WAIT_ACCESS, self->turn_time_limit) < 0) {
        if (PyErr_ExceptionMatches(self->st->OperationTimedOutError)) {
            PyErr_Clear();
            PyErr_Format(self->st->OperationTimedOutError,
                         "a live object of region '%U' was used outside a turn, and the turn it "
                         "waited for was not granted within %s (the region's turn_time_limit)",
                         self->name, ipo_py_seconds_text(self->turn_time_limit).text);
        }
        return -1;
    }
    /* The region stays alive until the turn is given back, whatever the
     * operation drops meanwhile (an iterator its view, say). */
    turn->region = (RegionObject *)Py_NewRef((PyObject *)self);
    turn->taken = 1;
    self->running++;
    return 0;
}

void ipo_py_turn_give_back(ipo_own_turn_t *turn)
{
    RegionObject *self = turn->region;
    turn->region = NULL;
    self->running--;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    /* Nothing releases or closes the region while an operation runs
     * (release() and close() refuse then), so the turn is still the one
     * taken here; a child forked meanwhile holds none. */
    if (ipo_py_held_here(self) && !ipo_region_inherited(&self->r) && ipo_py_release(self) < 0)
        PyErr_WriteUnraisable((PyObject *)self); /* not reached: every check passed */
    Py_DECREF(self);
    PyErr_Restore(type, value, tb);
}

PyObject *ipo_py_view_in_turn(ViewObject *v, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "_in_turn expected a function to call");
        return NULL;
    }
    ipo_own_turn_t turn;
    if (ipo_py_turn_begin(v->region, &turn) < 0)
        return NULL;
    PyObject *result = PyObject_Vectorcall(args[0], args + 1, (size_t)(nargs - 1), kwnames);
    ipo_py_turn_end(&turn);
    return result;
}

PyObject *ipo_py_new_view(RegionObject *self, PyObject *cls, ipo_off_t off)
{
    PyTypeObject *tp = (PyTypeObject *)cls;
    /* The block's generation as the caller found it, before the allocation:
     * a collection that the allocation starts may run a finalizer that
     * frees the block and reuses its room, and the view must then name the
     * block destroyed (and raise when used), not the object made in its
     * place. */
    const ipo_obj_t *obj = (const ipo_obj_t *)(self->r.base + off);
    uint32_t gen = obj->gen;
    uint8_t type = obj->type;
    ViewObject *v = (ViewObject *)tp->tp_alloc(tp, 0);
    if (!v)
        return NULL;
    v->region = (RegionObject *)Py_NewRef(self);
    v->off = off;
    v->gen = gen;
    v->type = type;
    return (PyObject *)v;
}

int ipo_py_view_traverse(ViewObject *v, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(v));
    Py_VISIT(v->region);
    return 0;
}

int ipo_py_view_clear(ViewObject *v)
{
    Py_CLEAR(v->region);
    return 0;
}

void ipo_py_view_dealloc(ViewObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    PyObject_GC_UnTrack(v);
    ipo_py_view_clear(v);
    tp->tp_free(v);
    Py_DECREF(tp);
}

static PyObject *View_get_offset(ViewObject *v, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(v->off);
}

static PyObject *View_get_region(ViewObject *v, void *closure)
{
    (void)closure;
    return Py_NewRef((PyObject *)v->region);
}

PyGetSetDef ipo_py_view_getset[] = {
    { "_offset", (getter)View_get_offset, NULL, "offset of the shared block", NULL },
    { "_region", (getter)View_get_region, NULL, "the region the block lives in", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

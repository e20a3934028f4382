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

PyObject *ipo_py_new_view(RegionObject *self, PyObject *cls, ipo_off_t off)
{
    PyTypeObject *tp = (PyTypeObject *)cls;
    ViewObject *v = (ViewObject *)tp->tp_alloc(tp, 0);
    if (!v)
        return NULL;
    const ipo_obj_t *obj = (const ipo_obj_t *)(self->r.base + off);
    v->region = (RegionObject *)Py_NewRef(self);
    v->off = off;
    v->gen = obj->gen;
    v->type = obj->type;
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

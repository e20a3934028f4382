/* python/src/view_base.h — ViewObject, the base of every live view, and its checked hot path. */
#ifndef IPO_PY_VIEW_BASE_H
#define IPO_PY_VIEW_BASE_H

#include "buffer.h"

/* A view of a live shared block: lists, dicts, sets, objects' fields. It
 * names the block by offset and generation, and checks both (and access)
 * on every use, so a view of a destroyed block raises instead of reading
 * reused memory. */
typedef struct ViewObject {
    PyObject_HEAD
    RegionObject *region;
    ipo_off_t     off;
    uint32_t      gen;
    uint8_t       type;
} ViewObject;

/* The out-of-line half of ipo_py_view_obj(): every check again, raising the
 * error that says which one failed. */
ipo_obj_t *ipo_py_view_obj_slow(ViewObject *v);

/* The view's block after checking access, generation and type; NULL with
 * an exception set. The hot path of every view operation, so inline: access
 * held by this process, the block still the one the view was made for.
 * Anything else goes the slow way. A block's generation and type are
 * written only by a holder of access (stamped at allocation, zeroed by
 * ipo__obj_free_block), and read here with access held: the handoff orders
 * them, so plain loads do. */
static inline ipo_obj_t *ipo_py_view_obj(ViewObject *v)
{
    RegionObject *self = v->region;
    if (self->holder_thread && self->attached && !self->closed && ipo_access_held(&self->r) &&
        !ipo_region_inherited(&self->r)) {
        ipo_obj_t *obj = (ipo_obj_t *)(self->r.base + v->off);
        if (obj->gen == v->gen && obj->type == v->type)
            return obj;
    }
    return ipo_py_view_obj_slow(v);
}

/* A new view of type cls (a view type or a Python class over one) of the
 * block at off, which must be live. Needs access. */
PyObject *ipo_py_new_view(RegionObject *self, PyObject *cls, ipo_off_t off);

/* The slots every view type shares. */
int ipo_py_view_traverse(ViewObject *v, visitproc visit, void *arg);
int ipo_py_view_clear(ViewObject *v);
void ipo_py_view_dealloc(ViewObject *v);
extern PyGetSetDef ipo_py_view_getset[];

/* Views are unhashable (they change), and made only by the codec. */
#define IPO_VIEW_SLOTS                                          \
    { Py_tp_traverse, (void *)ipo_py_view_traverse },           \
    { Py_tp_clear, (void *)ipo_py_view_clear },                 \
    { Py_tp_dealloc, (void *)ipo_py_view_dealloc },             \
    { Py_tp_getset, ipo_py_view_getset },                       \
    { Py_tp_hash, (void *)PyObject_HashNotImplemented }

#define IPO_VIEW_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE | \
                        Py_TPFLAGS_DISALLOW_INSTANTIATION)

#endif /* IPO_PY_VIEW_BASE_H */

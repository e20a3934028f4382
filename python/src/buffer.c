/* python/src/buffer.c — the memoryview exporter of a shared object's payload, which pins the object. */
#include "buffer.h"

/* The exporter behind get_obj_buffer's memoryviews. It pins the object,
 * so that no process destroys it while the view is alive, and it keeps the
 * region object (hence the mapping) alive, so that closing the region cannot
 * leave the view dangling. */
typedef struct ObjectBufferObject {
    PyObject_HEAD
    RegionObject *region;
    ipo_off_t     offset;
    ipo_off_t     pin;    /* what ipo_obj_unpin() needs back */
    void         *data;
    Py_ssize_t    len;
    int           readonly;
} ObjectBufferObject;

static int ObjectBuffer_getbuffer(ObjectBufferObject *self, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->len, self->readonly, flags);
}

static int ObjectBuffer_traverse(ObjectBufferObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->region);
    return 0;
}

static void ObjectBuffer_dealloc(ObjectBufferObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    RegionObject *region = self->region;
    /* A child of fork() must not drop the parent's pins. */
    if (region->r.base && !ipo_region_inherited(&region->r))
        ipo_obj_unpin(&region->r, self->offset, self->pin);
    region->exports--;
    ipo_py_maybe_unmap(region);
    Py_DECREF(region);
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

static PyType_Slot buffer_slots[] = {
    { Py_bf_getbuffer, (void *)ObjectBuffer_getbuffer },
    { Py_tp_traverse, (void *)ObjectBuffer_traverse },
    { Py_tp_dealloc, (void *)ObjectBuffer_dealloc },
    { Py_tp_doc, (void *)"The exporter of a shared object's data for memoryview." },
    { 0, NULL }
};

PyType_Spec ipo_buffer_spec = {
    .name = "ipc_py_objects._ipo._ObjectBuffer",
    .basicsize = sizeof(ObjectBufferObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = buffer_slots,
};

PyObject *ipo_py_obj_buffer(RegionObject *self, ipo_off_t off, int readonly)
{
    const ipo_obj_t *obj;
    if (ipo_obj_get(&self->r, off, &obj))
        return ipo_py_raise(self->st, -IPO_EBADOBJ, "offset %llu does not name a live object",
                            (unsigned long long)off);
    ipo_off_t pin;
    int rc = ipo_obj_pin(&self->r, off, &pin);
    if (rc == -IPO_ENOMEM)
        return ipo_py_raise_no_memory(self);
    if (rc == -IPO_ECORRUPT)
        return ipo_py_raise_damaged(self, "this participant's pin log is damaged");
    if (rc)
        return ipo_py_raise(self->st, rc,
                            "the object at offset %llu has 65535 buffers in use already",
                            (unsigned long long)off);
    ObjectBufferObject *exp = PyObject_GC_New(ObjectBufferObject, self->st->buffer_type);
    if (!exp) {
        ipo_obj_unpin(&self->r, off, pin);
        return NULL;
    }
    exp->region = (RegionObject *)Py_NewRef(self);
    exp->offset = off;
    exp->pin = pin;
    exp->data = ipo_obj_data(obj);
    exp->len = (Py_ssize_t)obj->v.len;
    exp->readonly = readonly;
    self->exports++;
    PyObject_GC_Track(exp);
    PyObject *view = PyMemoryView_FromObject((PyObject *)exp);
    Py_DECREF(exp);
    return view;
}

const ipo_value_t *ipo_py_array_parts(RegionObject *self, const ipo_obj_t *obj)
{
    const ipo_value_t *v = ipo_obj_data(obj);
    if (obj->type == IPO_T_TENSOR) {
        const ipo_value_t *array = &v[IPO_TENSOR_ARRAY];
        const ipo_obj_t *arr;
        if (array->type != IPO_T_NDARRAY || ipo_obj_get(&self->r, array->v.off, &arr) ||
            arr->type != IPO_T_NDARRAY) {
            ipo_py_raise(self->st, -IPO_EBADOBJ, "a shared torch tensor names no array");
            return NULL;
        }
        v = ipo_obj_data(arr);
    }
    if (v[IPO_NDARRAY_DATA].type != IPO_T_BYTES) {
        ipo_py_raise(self->st, -IPO_EBADOBJ, "a shared numpy array has no data block");
        return NULL;
    }
    return v;
}

/* python/src/views.c — live views of shared lists, dicts, sets and objects' fields.
 *
 * The C types here carry the operations that must run at memory speed
 * (item and attribute reads and writes, len, in, append, pop); the Python
 * classes over them (ipc_py_objects/containers.py, objects.py) add the rest
 * of list's, dict's and set's behaviour out of these. */
#include "ipo_python.h"
#include "handle.h"

#include <string.h>

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

ipo_obj_t *ipo_py_view_obj(ViewObject *v)
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

/* The hot path of every view operation: access held by this process, the
 * block still the one the view was made for. Anything else goes the slow
 * way, which raises the right error. */
static inline ipo_obj_t *view_obj(ViewObject *v)
{
    RegionObject *self = v->region;
    if (self->holder_thread && self->attached && !self->closed && ipo_access_held(&self->r) &&
        !ipo_region_inherited(&self->r)) {
        ipo_obj_t *obj = (ipo_obj_t *)(self->r.base + v->off);
        if (obj->gen == v->gen && obj->type == v->type)
            return obj;
    }
    return ipo_py_view_obj(v);
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

static int View_traverse(ViewObject *v, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(v));
    Py_VISIT(v->region);
    return 0;
}

static int View_clear(ViewObject *v)
{
    Py_CLEAR(v->region);
    return 0;
}

static void View_dealloc(ViewObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    PyObject_GC_UnTrack(v);
    View_clear(v);
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

static PyGetSetDef View_getset[] = {
    { "_offset", (getter)View_get_offset, NULL, "offset of the shared block", NULL },
    { "_region", (getter)View_get_region, NULL, "the region the block lives in", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

#define VIEW_SLOTS                                        \
    { Py_tp_traverse, (void *)View_traverse },            \
    { Py_tp_clear, (void *)View_clear },                  \
    { Py_tp_dealloc, (void *)View_dealloc },              \
    { Py_tp_getset, View_getset },                        \
    { Py_tp_hash, (void *)PyObject_HashNotImplemented }

#define VIEW_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE | \
                    Py_TPFLAGS_DISALLOW_INSTANTIATION)

/* Values decoded from slots and released from slots: the shared part of
 * every mutator. */
static void release_values(RegionObject *self, ipo_value_t *values, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        ipo_value_release(&self->r, &values[i]);
}

/* Encodes every item of a sequence into a new array of slots; on failure
 * releases those made. The caller frees the array. */
static ipo_value_t *encode_all(RegionObject *self, PyObject *fast, Py_ssize_t *n)
{
    *n = PySequence_Fast_GET_SIZE(fast);
    ipo_value_t *slots = PyMem_Malloc((size_t)(*n ? *n : 1) * sizeof(ipo_value_t));
    if (!slots) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *n; i++)
        if (ipo_py_encode_value(self, PySequence_Fast_GET_ITEM(fast, i), &slots[i]) < 0) {
            release_values(self, slots, i);
            PyMem_Free(slots);
            return NULL;
        }
    return slots;
}

static int no_room(RegionObject *self, int rc, uint64_t bytes)
{
    if (rc == -IPO_ENOMEM)
        ipo_py_raise_no_memory(self, bytes);
    else
        ipo_py_raise(self->st, rc, "the shared container is damaged");
    return -1;
}

/* ==== lists ========================================================================= */

static inline ipo_value_t *list_items(ViewObject *v, ipo_obj_t **list, Py_ssize_t *len)
{
    *list = view_obj(v);
    if (!*list)
        return NULL;
    uint64_t n;
    ipo_value_t *items = ipo_list_items(&v->region->r, *list, &n);
    *len = (Py_ssize_t)n;
    return items ? items : (ipo_value_t *)ipo_obj_data(*list); /* never read when empty */
}

static Py_ssize_t List_len(ViewObject *v)
{
    ipo_obj_t *list;
    Py_ssize_t len;
    return list_items(v, &list, &len) ? len : -1;
}

static PyObject *index_error(const char *what)
{
    PyErr_Format(PyExc_IndexError, "%s index out of range", what);
    return NULL;
}

static PyObject *List_item(ViewObject *v, Py_ssize_t i)
{
    ipo_obj_t *list;
    Py_ssize_t len;
    ipo_value_t *items = list_items(v, &list, &len);
    if (!items)
        return NULL;
    if (i < 0 || i >= len)
        return index_error("list");
    return ipo_py_decode_value(v->region, &items[i], 0);
}

static PyObject *List_slice(ViewObject *v, PyObject *slice)
{
    ipo_obj_t *list;
    Py_ssize_t len, start, stop, step;
    if (PySlice_Unpack(slice, &start, &stop, &step) < 0)
        return NULL;
    ipo_value_t *items = list_items(v, &list, &len);
    if (!items)
        return NULL;
    Py_ssize_t n = PySlice_AdjustIndices(len, &start, &stop, step);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t k = 0, i = start; out && k < n; k++, i += step) {
        PyObject *item = ipo_py_decode_value(v->region, &items[i], 0);
        if (!item)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, k, item);
    }
    return out;
}

/* An index: ints (IntEnum members too) read directly, others by __index__. */
static inline int index_of(PyObject *key, Py_ssize_t *i)
{
    *i = PyLong_Check(key) ? PyLong_AsSsize_t(key) : PyNumber_AsSsize_t(key, PyExc_IndexError);
    if (*i == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_IndexError, "cannot fit '%.200s' into an index-sized integer",
                         Py_TYPE(key)->tp_name);
        }
        return -1;
    }
    return 0;
}

static PyObject *List_subscript(ViewObject *v, PyObject *key)
{
    if (PyLong_Check(key) || PyIndex_Check(key)) {
        Py_ssize_t i;
        if (index_of(key, &i) < 0)
            return NULL;
        ipo_obj_t *list;
        Py_ssize_t len;
        ipo_value_t *items = list_items(v, &list, &len);
        if (!items)
            return NULL;
        if (i < 0)
            i += len;
        if (i < 0 || i >= len)
            return index_error("list");
        return ipo_py_decode_value(v->region, &items[i], 0);
    }
    if (PySlice_Check(key))
        return List_slice(v, key);
    PyErr_Format(PyExc_TypeError, "list indices must be integers or slices, not %.200s",
                 Py_TYPE(key)->tp_name);
    return NULL;
}

/* list[a:b] = seq for step 1: room first, so that nothing fails halfway. */
static int list_replace_range(ViewObject *v, Py_ssize_t start, Py_ssize_t stop, PyObject *seq)
{
    RegionObject *self = v->region;
    PyObject *fast = PySequence_Fast(seq, "can only assign an iterable");
    if (!fast)
        return -1;
    Py_ssize_t n;
    ipo_value_t *slots = encode_all(self, fast, &n);
    Py_DECREF(fast);
    if (!slots)
        return -1;
    ipo_obj_t *list;
    Py_ssize_t len;
    int rc = -1;
    if (list_items(v, &list, &len)) {
        /* As list: an empty or reversed range inserts at start. */
        if (start > len)
            start = len;
        if (stop < start)
            stop = start;
        if (stop > len)
            stop = len;
        int arc = ipo_list_reserve(&self->r, list, (uint64_t)(len - (stop - start) + n));
        if (arc) {
            no_room(self, arc, (uint64_t)(len + n) * sizeof(ipo_value_t));
        } else {
            ipo_list_remove(&self->r, list, (uint64_t)start, (uint64_t)(stop - start), NULL);
            ipo_list_insert(&self->r, list, (uint64_t)start, slots, (uint64_t)n);
            ipo_list_trim(&self->r, list);
            rc = 0;
        }
    }
    if (rc < 0)
        release_values(self, slots, n);
    PyMem_Free(slots);
    return rc;
}

static int list_delete_indices(ViewObject *v, Py_ssize_t start, Py_ssize_t step, Py_ssize_t n)
{
    ipo_obj_t *list;
    Py_ssize_t len;
    if (!list_items(v, &list, &len))
        return -1;
    if (step == 1) {
        ipo_list_remove(&v->region->r, list, (uint64_t)start, (uint64_t)n, NULL);
    } else {
        /* Highest first, so that the indices still to go do not move. */
        Py_ssize_t first = step > 0 ? start + (n - 1) * step : start;
        Py_ssize_t by = step > 0 ? -step : step;
        for (Py_ssize_t k = 0, i = first; k < n; k++, i += by)
            ipo_list_remove(&v->region->r, list, (uint64_t)i, 1, NULL);
    }
    ipo_list_trim(&v->region->r, list);
    return 0;
}

static int List_ass_slice(ViewObject *v, PyObject *slice, PyObject *value)
{
    ipo_obj_t *list;
    Py_ssize_t len, start, stop, step;
    if (PySlice_Unpack(slice, &start, &stop, &step) < 0 || !list_items(v, &list, &len))
        return -1;
    Py_ssize_t n = PySlice_AdjustIndices(len, &start, &stop, step);
    if (!value)
        return list_delete_indices(v, start, step, n);
    if (step == 1)
        return list_replace_range(v, start, stop, value);
    PyObject *fast = PySequence_Fast(value, "must assign iterable to extended slice");
    if (!fast)
        return -1;
    if (PySequence_Fast_GET_SIZE(fast) != n) {
        PyErr_Format(PyExc_ValueError,
                     "attempt to assign sequence of size %zd to extended slice of size %zd",
                     PySequence_Fast_GET_SIZE(fast), n);
        Py_DECREF(fast);
        return -1;
    }
    Py_ssize_t m;
    ipo_value_t *slots = encode_all(v->region, fast, &m);
    Py_DECREF(fast);
    if (!slots)
        return -1;
    ipo_value_t *items = list_items(v, &list, &len);
    int rc = -1;
    /* The list may have changed while the values were encoded: place the
     * slice again on what it is now. */
    if (items && PySlice_Unpack(slice, &start, &stop, &step) == 0 &&
        PySlice_AdjustIndices(len, &start, &stop, step) == n) {
        for (Py_ssize_t k = 0, i = start; k < n; k++, i += step) {
            ipo_value_t old = items[i];
            items[i] = slots[k];
            ipo_value_release(&v->region->r, &old);
        }
        rc = 0;
    } else {
        if (items)
            PyErr_SetString(PyExc_RuntimeError, "the shared list changed during the assignment");
        release_values(v->region, slots, m);
    }
    PyMem_Free(slots);
    return rc;
}

static int List_ass_subscript(ViewObject *v, PyObject *key, PyObject *value)
{
    if (PyLong_Check(key) || PyIndex_Check(key)) {
        Py_ssize_t i;
        if (index_of(key, &i) < 0)
            return -1;
        ipo_obj_t *list;
        Py_ssize_t len;
        ipo_value_t *items = list_items(v, &list, &len);
        if (!items)
            return -1;
        if (i < 0)
            i += len;
        if (i < 0 || i >= len) {
            index_error(value ? "list assignment" : "list deletion");
            return -1;
        }
        if (!value)
            return list_delete_indices(v, i, 1, 1);
        ipo_value_t slot;
        if (ipo_py_encode_value(v->region, value, &slot) < 0)
            return -1;
        /* A value stored inline ran no code and moved nothing: store it.
         * Else encoding may have run user code: look again. */
        if (!ipo_value_is_inline(slot.type)) {
            items = list_items(v, &list, &len);
            if (!items || i >= len) {
                if (items)
                    index_error("list assignment");
                ipo_value_release(&v->region->r, &slot);
                return -1;
            }
        }
        ipo_value_t old = items[i];
        items[i] = slot;
        if (!ipo_value_is_inline(old.type))
            ipo_value_release(&v->region->r, &old);
        return 0;
    }
    if (PySlice_Check(key))
        return List_ass_slice(v, key, value);
    PyErr_Format(PyExc_TypeError, "list indices must be integers or slices, not %.200s",
                 Py_TYPE(key)->tp_name);
    return -1;
}

static int List_ass_item(ViewObject *v, Py_ssize_t i, PyObject *value)
{
    PyObject *key = PyLong_FromSsize_t(i);
    if (!key)
        return -1;
    int rc = List_ass_subscript(v, key, value);
    Py_DECREF(key);
    return rc;
}

/* Whether the item in a slot equals x. Inline numbers compare without
 * building an object when x is an exact int or float. */
static int slot_equals(RegionObject *self, const ipo_value_t *slot, PyObject *x)
{
    if (slot->type == IPO_T_INT64 && PyLong_CheckExact(x)) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(x, &overflow);
        return !overflow && n == slot->v.i64;
    }
    if (slot->type == IPO_T_FLOAT64 && PyFloat_CheckExact(x))
        return slot->v.f64 == PyFloat_AS_DOUBLE(x);
    if (x == Py_None)
        return slot->type == IPO_T_NONE;
    PyObject *item = ipo_py_decode_value(self, slot, 0);
    if (!item)
        return -1;
    int eq = PyObject_RichCompareBool(item, x, Py_EQ);
    Py_DECREF(item);
    return eq;
}

/* The first index in [start, stop) whose item equals x; -1 none; -2 error. */
static Py_ssize_t list_find(ViewObject *v, PyObject *x, Py_ssize_t start, Py_ssize_t stop)
{
    for (Py_ssize_t i = start;; i++) {
        ipo_obj_t *list;
        Py_ssize_t len;
        /* Read again each step: comparing may run code that changes the list. */
        ipo_value_t *items = list_items(v, &list, &len);
        if (!items)
            return -2;
        if (i >= len || i >= stop)
            return -1;
        int eq = slot_equals(v->region, &items[i], x);
        if (eq < 0)
            return -2;
        if (eq)
            return i;
    }
}

static int List_contains(ViewObject *v, PyObject *x)
{
    Py_ssize_t i = list_find(v, x, 0, PY_SSIZE_T_MAX);
    return i == -2 ? -1 : i >= 0;
}

static PyObject *List_iter(PyObject *v)
{
    return PySeqIter_New(v);
}

static int list_insert_values(ViewObject *v, Py_ssize_t where, PyObject *fast)
{
    RegionObject *self = v->region;
    Py_ssize_t n;
    ipo_value_t *slots = encode_all(self, fast, &n);
    if (!slots)
        return -1;
    ipo_obj_t *list;
    Py_ssize_t len;
    int rc = -1;
    if (list_items(v, &list, &len)) {
        if (where < 0 || where > len)
            where = len;
        int irc = ipo_list_insert(&self->r, list, (uint64_t)where, slots, (uint64_t)n);
        rc = irc ? no_room(self, irc, (uint64_t)(len + n) * sizeof(ipo_value_t)) : 0;
    }
    if (rc < 0)
        release_values(self, slots, n);
    PyMem_Free(slots);
    return rc;
}

static PyObject *List_append(ViewObject *v, PyObject *x)
{
    RegionObject *self = v->region;
    ipo_value_t slot;
    if (!view_obj(v) || ipo_py_encode_value(self, x, &slot) < 0)
        return NULL;
    ipo_obj_t *list;
    Py_ssize_t len;
    if (!list_items(v, &list, &len)) {
        ipo_value_release(&self->r, &slot);
        return NULL;
    }
    int rc = ipo_list_insert(&self->r, list, (uint64_t)len, &slot, 1);
    if (rc) {
        ipo_value_release(&self->r, &slot);
        no_room(self, rc, (uint64_t)(len + 1) * sizeof(ipo_value_t));
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *List_insert(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "insert expected 2 arguments");
        return NULL;
    }
    Py_ssize_t i = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t len = List_len(v);
    if (len < 0)
        return NULL;
    /* As list.insert: clamped, never an IndexError. */
    if (i < 0)
        i = i + len < 0 ? 0 : i + len;
    if (i > len)
        i = len;
    PyObject *one = PyTuple_Pack(1, args[1]);
    if (!one)
        return NULL;
    int rc = list_insert_values(v, i, one);
    Py_DECREF(one);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *List_extend(ViewObject *v, PyObject *iterable)
{
    /* A view of this very list is read whole first, as list.extend(self) does. */
    PyObject *fast = PySequence_Fast(iterable, "extend() argument must be iterable");
    if (!fast)
        return NULL;
    int rc = list_insert_values(v, -1, fast);
    Py_DECREF(fast);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *List_pop(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "pop expected at most 1 argument");
        return NULL;
    }
    Py_ssize_t i = -1;
    if (nargs && (i = PyNumber_AsSsize_t(args[0], PyExc_IndexError)) == -1 && PyErr_Occurred())
        return NULL;
    ipo_obj_t *list;
    Py_ssize_t len;
    ipo_value_t *items = list_items(v, &list, &len);
    if (!items)
        return NULL;
    if (len == 0) {
        PyErr_SetString(PyExc_IndexError, "pop from empty list");
        return NULL;
    }
    if (i < 0)
        i += len;
    if (i < 0 || i >= len)
        return index_error("pop");
    /* The item leaves shared memory: a plain copy of it, then its block goes. */
    PyObject *item = ipo_py_decode_value(v->region, &items[i], 1);
    if (!item)
        return NULL;
    ipo_list_remove(&v->region->r, list, (uint64_t)i, 1, NULL);
    ipo_list_trim(&v->region->r, list);
    return item;
}

static PyObject *List_clear(ViewObject *v, PyObject *unused)
{
    (void)unused;
    ipo_obj_t *list;
    Py_ssize_t len;
    if (!list_items(v, &list, &len))
        return NULL;
    ipo_list_remove(&v->region->r, list, 0, (uint64_t)len, NULL);
    ipo_list_trim(&v->region->r, list);
    Py_RETURN_NONE;
}

static int bound_arg(PyObject *arg, Py_ssize_t len, Py_ssize_t *out)
{
    if (!PyIndex_Check(arg)) {
        PyErr_SetString(PyExc_TypeError,
                        "slice indices must be integers or have an __index__ method");
        return -1;
    }
    *out = PyNumber_AsSsize_t(arg, NULL); /* clamps huge values, as list.index does */
    if (*out == -1 && PyErr_Occurred())
        return -1;
    if (*out < 0) {
        *out += len;
        if (*out < 0)
            *out = 0;
    }
    return 0;
}

static PyObject *List_index(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "index expected 1 to 3 arguments");
        return NULL;
    }
    Py_ssize_t len = List_len(v), start = 0, stop = PY_SSIZE_T_MAX;
    if (len < 0 || (nargs > 1 && bound_arg(args[1], len, &start) < 0) ||
        (nargs > 2 && bound_arg(args[2], len, &stop) < 0))
        return NULL;
    Py_ssize_t i = list_find(v, args[0], start, stop);
    if (i == -2)
        return NULL;
    if (i == -1) {
        PyErr_Format(PyExc_ValueError, "%R is not in list", args[0]);
        return NULL;
    }
    return PyLong_FromSsize_t(i);
}

static PyObject *List_count(ViewObject *v, PyObject *x)
{
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0;; i = i + 1) {
        i = list_find(v, x, i, PY_SSIZE_T_MAX);
        if (i == -2)
            return NULL;
        if (i == -1)
            return PyLong_FromSsize_t(count);
        count++;
    }
}

static PyObject *List_remove(ViewObject *v, PyObject *x)
{
    Py_ssize_t i = list_find(v, x, 0, PY_SSIZE_T_MAX);
    if (i == -2)
        return NULL;
    if (i == -1) {
        PyErr_SetString(PyExc_ValueError, "list.remove(x): x not in list");
        return NULL;
    }
    if (list_delete_indices(v, i, 1, 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *List_reverse(ViewObject *v, PyObject *unused)
{
    (void)unused;
    ipo_obj_t *list;
    Py_ssize_t len;
    ipo_value_t *items = list_items(v, &list, &len);
    if (!items)
        return NULL;
    for (Py_ssize_t i = 0, j = len - 1; i < j; i++, j--) {
        ipo_value_t t = items[i];
        items[i] = items[j];
        items[j] = t;
    }
    Py_RETURN_NONE;
}

/* Reorders the items: new item k is old item order[k]. sort() computes the
 * order in Python (key and reverse as list.sort) and applies it here. */
static PyObject *List_permute(ViewObject *v, PyObject *order)
{
    PyObject *fast = PySequence_Fast(order, "an order is a sequence of indices");
    if (!fast)
        return NULL;
    ipo_obj_t *list;
    Py_ssize_t len, n = PySequence_Fast_GET_SIZE(fast);
    ipo_value_t *items = list_items(v, &list, &len), *copy = NULL;
    char *seen = NULL;
    if (!items)
        goto fail;
    if (n != len) {
        PyErr_SetString(PyExc_ValueError, "the order must name every item once");
        goto fail;
    }
    copy = PyMem_Malloc((size_t)(len ? len : 1) * sizeof(ipo_value_t));
    seen = PyMem_Calloc((size_t)(len ? len : 1), 1);
    if (!copy || !seen) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i = PyNumber_AsSsize_t(PySequence_Fast_GET_ITEM(fast, k), PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            goto fail;
        if (i < 0 || i >= len || seen[i]) {
            PyErr_SetString(PyExc_ValueError, "the order must name every item once");
            goto fail;
        }
        seen[i] = 1;
        copy[k] = items[i];
    }
    memcpy(items, copy, (size_t)len * sizeof(ipo_value_t));
    PyMem_Free(copy);
    PyMem_Free(seen);
    Py_DECREF(fast);
    Py_RETURN_NONE;
fail:
    PyMem_Free(copy);
    PyMem_Free(seen);
    Py_DECREF(fast);
    return NULL;
}

/* A plain list of plain values: what leaves shared memory whole. */
static PyObject *View_copy_out(ViewObject *v, PyObject *unused)
{
    (void)unused;
    if (!view_obj(v))
        return NULL;
    return ipo_py_decode_obj(v->region, v->off, 1);
}

static PyMethodDef List_methods[] = {
    { "append", (PyCFunction)List_append, METH_O, "Append object to the end of the list." },
    { "insert", (PyCFunction)(void (*)(void))List_insert, METH_FASTCALL, "Insert object before index." },
    { "extend", (PyCFunction)List_extend, METH_O, "Extend list by appending elements from the iterable." },
    { "pop", (PyCFunction)(void (*)(void))List_pop, METH_FASTCALL,
      "Remove and return item at index (default last); the item comes back as a plain copy." },
    { "clear", (PyCFunction)List_clear, METH_NOARGS, "Remove all items from list." },
    { "index", (PyCFunction)(void (*)(void))List_index, METH_FASTCALL, "Return first index of value." },
    { "count", (PyCFunction)List_count, METH_O, "Return number of occurrences of value." },
    { "remove", (PyCFunction)List_remove, METH_O, "Remove first occurrence of value." },
    { "reverse", (PyCFunction)List_reverse, METH_NOARGS, "Reverse *IN PLACE*." },
    { "_permute", (PyCFunction)List_permute, METH_O, "Reorder: new item k is old item order[k]." },
    { "_copy_out", (PyCFunction)View_copy_out, METH_NOARGS, "A plain deep copy." },
    { NULL, NULL, 0, NULL }
};

static PyType_Slot list_view_slots[] = {
    VIEW_SLOTS,
    { Py_sq_length, (void *)List_len },
    { Py_sq_item, (void *)List_item },
    { Py_sq_ass_item, (void *)List_ass_item },
    { Py_sq_contains, (void *)List_contains },
    { Py_mp_length, (void *)List_len },
    { Py_mp_subscript, (void *)List_subscript },
    { Py_mp_ass_subscript, (void *)List_ass_subscript },
    { Py_tp_iter, (void *)List_iter },
    { Py_tp_methods, List_methods },
    { Py_tp_doc, (void *)"The C core of a live view of a shared list." },
    { 0, NULL }
};

PyType_Spec ipo_list_view_spec = {
    .name = "ipc_py_objects._ipo.ListView",
    .basicsize = sizeof(ViewObject),
    .flags = VIEW_FLAGS | Py_TPFLAGS_SEQUENCE,
    .slots = list_view_slots,
};

/* ==== dicts and sets ================================================================= */

static int readonly_error(ViewObject *v)
{
    (void)v;
    PyErr_SetString(PyExc_TypeError, "this shared Mapping is read-only");
    return -1;
}

static ipo_obj_t *map_obj(ViewObject *v, int for_writing)
{
    ipo_obj_t *map = view_obj(v);
    if (map && for_writing && (map->flags & IPO_OBJ_READONLY)) {
        readonly_error(v);
        return NULL;
    }
    return map;
}

static Py_ssize_t Map_len(ViewObject *v)
{
    ipo_obj_t *map = map_obj(v, 0);
    if (!map)
        return -1;
    ipo_table_t *t = ipo_map_table(&v->region->r, map);
    return t ? (Py_ssize_t)t->used : 0;
}

/* The entry of key: its number, IPO_MAP_ABSENT, or IPO_MAP_ERROR. */
static int64_t map_lookup(ViewObject *v, ipo_obj_t *map, PyObject *key)
{
    uint64_t hash;
    if (ipo_py_key_hash(v->region, key, &hash) < 0) {
        /* An unhashable key is in no dict: `in` says False, [] KeyError. */
        return IPO_MAP_ERROR;
    }
    return ipo_py_map_find(v->region, map, key, hash);
}

static ipo_entry_t *entry_at(ViewObject *v, ipo_obj_t *map, int64_t e)
{
    return &ipo_table_entries(ipo_map_table(&v->region->r, map))[e];
}

static PyObject *Dict_subscript(ViewObject *v, PyObject *key)
{
    ipo_obj_t *map = map_obj(v, 0);
    if (!map)
        return NULL;
    int64_t e = map_lookup(v, map, key);
    if (e == IPO_MAP_ERROR)
        return NULL;
    if (e == IPO_MAP_ABSENT) {
        PyObject *missing = PyObject_GetAttrString((PyObject *)Py_TYPE(v), "__missing__");
        if (missing) {
            PyObject *r = PyObject_CallFunctionObjArgs(missing, (PyObject *)v, key, NULL);
            Py_DECREF(missing);
            return r;
        }
        PyErr_Clear();
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    return ipo_py_decode_value(v->region, &entry_at(v, map, e)->value, 0);
}

static int map_delete_key(ViewObject *v, ipo_obj_t *map, PyObject *key, int missing_ok)
{
    int64_t e = map_lookup(v, map, key);
    if (e == IPO_MAP_ERROR)
        return -1;
    if (e == IPO_MAP_ABSENT) {
        if (missing_ok)
            return 0;
        PyErr_SetObject(PyExc_KeyError, key);
        return -1;
    }
    ipo_map_delete(&v->region->r, map, (uint64_t)e, NULL, NULL);
    return 0;
}

static int Dict_ass_subscript(ViewObject *v, PyObject *key, PyObject *value)
{
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return -1;
    if (!value)
        return map_delete_key(v, map, key, 0);
    return ipo_py_map_put(v->region, v->off, key, value);
}

static int Map_contains(ViewObject *v, PyObject *key)
{
    ipo_obj_t *map = map_obj(v, 0);
    if (!map)
        return -1;
    int64_t e = map_lookup(v, map, key);
    if (e == IPO_MAP_ERROR) {
        /* Unhashable keys are in no set or dict: as dict raises, we raise. */
        return -1;
    }
    return e >= 0;
}

static PyObject *Dict_get(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get expected 1 or 2 arguments");
        return NULL;
    }
    ipo_obj_t *map = map_obj(v, 0);
    if (!map)
        return NULL;
    int64_t e = map_lookup(v, map, args[0]);
    if (e == IPO_MAP_ERROR)
        return NULL;
    if (e == IPO_MAP_ABSENT)
        return Py_NewRef(nargs > 1 ? args[1] : Py_None);
    return ipo_py_decode_value(v->region, &entry_at(v, map, e)->value, 0);
}

static PyObject *Dict_setdefault(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "setdefault expected 1 or 2 arguments");
        return NULL;
    }
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return NULL;
    int64_t e = map_lookup(v, map, args[0]);
    if (e == IPO_MAP_ERROR)
        return NULL;
    if (e == IPO_MAP_ABSENT) {
        if (ipo_py_map_put(v->region, v->off, args[0], nargs > 1 ? args[1] : Py_None) < 0)
            return NULL;
        e = map_lookup(v, map, args[0]);
        if (e < 0)
            return NULL;
    }
    return ipo_py_decode_value(v->region, &entry_at(v, map, e)->value, 0);
}

/* dict.pop and set.remove/discard: the value leaves shared memory as a copy. */
static PyObject *Dict_pop(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "pop expected 1 or 2 arguments");
        return NULL;
    }
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return NULL;
    int64_t e = map_lookup(v, map, args[0]);
    if (e == IPO_MAP_ERROR)
        return NULL;
    if (e == IPO_MAP_ABSENT) {
        if (nargs > 1)
            return Py_NewRef(args[1]);
        PyErr_SetObject(PyExc_KeyError, args[0]);
        return NULL;
    }
    PyObject *value = ipo_py_decode_value(v->region, &entry_at(v, map, e)->value, 1);
    if (value)
        ipo_map_delete(&v->region->r, map, (uint64_t)e, NULL, NULL);
    return value;
}

/* dict.popitem (last in, first out) and set.pop (any: the last). */
static PyObject *Map_popitem(ViewObject *v, PyObject *unused)
{
    (void)unused;
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return NULL;
    ipo_table_t *t = ipo_map_table(&v->region->r, map);
    int64_t e = -1;
    for (uint64_t j = t ? t->nentries : 0; j > 0 && e < 0; j--)
        if (ipo_table_entries(t)[j - 1].live)
            e = (int64_t)j - 1;
    if (e < 0) {
        PyErr_SetString(PyExc_KeyError, map->type == IPO_T_DICT ? "popitem(): dictionary is empty"
                                                                 : "pop from an empty set");
        return NULL;
    }
    ipo_entry_t *entry = &ipo_table_entries(t)[e];
    PyObject *key = ipo_py_decode_value(v->region, &entry->key, 1);
    if (!key)
        return NULL;
    PyObject *result = key;
    if (map->type == IPO_T_DICT) {
        PyObject *value = ipo_py_decode_value(v->region, &entry->value, 1);
        result = value ? PyTuple_Pack(2, key, value) : NULL;
        Py_DECREF(key);
        Py_XDECREF(value);
    }
    if (result)
        ipo_map_delete(&v->region->r, map, (uint64_t)e, NULL, NULL);
    return result;
}

static PyObject *Map_clear(ViewObject *v, PyObject *unused)
{
    (void)unused;
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return NULL;
    ipo_map_clear(&v->region->r, map);
    Py_RETURN_NONE;
}

static PyObject *Set_add(ViewObject *v, PyObject *key)
{
    if (!map_obj(v, 1) || ipo_py_map_put(v->region, v->off, key, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Set_discard(ViewObject *v, PyObject *key)
{
    ipo_obj_t *map = map_obj(v, 1);
    if (!map || map_delete_key(v, map, key, 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Set_remove(ViewObject *v, PyObject *key)
{
    ipo_obj_t *map = map_obj(v, 1);
    if (!map || map_delete_key(v, map, key, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- iterators over entries ---- */

enum { ITER_KEYS = 0, ITER_VALUES = 1, ITER_ITEMS = 2 };

typedef struct MapIterObject {
    PyObject_HEAD
    ViewObject *view;
    ipo_off_t   table;     /* the table iterated: a resize makes a new one */
    uint64_t    used;      /* entries when iteration began */
    uint64_t    next;
    int         kind;
    int         reversed;
} MapIterObject;

static PyObject *map_iter_new(ViewObject *v, int kind, int reversed)
{
    ipo_obj_t *map = map_obj(v, 0);
    if (!map)
        return NULL;
    ipo_table_t *t = ipo_map_table(&v->region->r, map);
    if (!t)
        return ipo_py_raise(v->region->st, -IPO_EBADOBJ, "a shared dict or set has a damaged table");
    MapIterObject *it = PyObject_GC_New(MapIterObject, v->region->st->map_iter_type);
    if (!it)
        return NULL;
    it->view = (ViewObject *)Py_NewRef(v);
    it->table = ((ipo_map_t *)ipo_obj_data(map))->table.v.off;
    it->used = t->used;
    it->next = reversed ? t->nentries : 0;
    it->kind = kind;
    it->reversed = reversed;
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

static PyObject *MapIter_next(MapIterObject *it)
{
    if (!it->view)
        return NULL;
    ipo_obj_t *map = map_obj(it->view, 0);
    if (!map)
        return NULL;
    ipo_table_t *t = ipo_map_table(&it->view->region->r, map);
    if (!t || ((ipo_map_t *)ipo_obj_data(map))->table.v.off != it->table || t->used != it->used) {
        Py_CLEAR(it->view);
        PyErr_SetString(PyExc_RuntimeError, map->type == IPO_T_DICT
                                                ? "shared dictionary changed size during iteration"
                                                : "shared set changed size during iteration");
        return NULL;
    }
    ipo_entry_t *entries = ipo_table_entries(t);
    for (;;) {
        uint64_t j;
        if (it->reversed) {
            if (it->next == 0)
                break;
            j = --it->next;
        } else {
            if (it->next >= t->nentries)
                break;
            j = it->next++;
        }
        ipo_entry_t *e = &entries[j];
        if (!e->live)
            continue;
        RegionObject *self = it->view->region;
        if (it->kind == ITER_VALUES)
            return ipo_py_decode_value(self, &e->value, 0);
        PyObject *key = ipo_py_decode_value(self, &e->key, 0);
        if (!key || it->kind == ITER_KEYS)
            return key;
        PyObject *value = ipo_py_decode_value(self, &e->value, 0);
        if (!value) {
            Py_DECREF(key);
            return NULL;
        }
        PyObject *pair = PyTuple_Pack(2, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        return pair;
    }
    Py_CLEAR(it->view);
    return NULL;
}

static int MapIter_traverse(MapIterObject *it, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->view);
    return 0;
}

static void MapIter_dealloc(MapIterObject *it)
{
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    Py_CLEAR(it->view);
    PyObject_GC_Del(it);
    Py_DECREF(tp);
}

static PyType_Slot map_iter_slots[] = {
    { Py_tp_iter, (void *)PyObject_SelfIter },
    { Py_tp_iternext, (void *)MapIter_next },
    { Py_tp_traverse, (void *)MapIter_traverse },
    { Py_tp_dealloc, (void *)MapIter_dealloc },
    { 0, NULL }
};

PyType_Spec ipo_map_iter_spec = {
    .name = "ipc_py_objects._ipo.MapIterator",
    .basicsize = sizeof(MapIterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = map_iter_slots,
};

static PyObject *Map_iter(ViewObject *v)
{
    return map_iter_new(v, ITER_KEYS, 0);
}

static PyObject *Map_iter_kind(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    int kind = ITER_KEYS, reversed = 0;
    if (nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "_iter expected at most 2 arguments");
        return NULL;
    }
    if (nargs > 0 && (kind = PyLong_AsLong(args[0])) == -1 && PyErr_Occurred())
        return NULL;
    if (nargs > 1 && (reversed = PyObject_IsTrue(args[1])) < 0)
        return NULL;
    if (kind < ITER_KEYS || kind > ITER_ITEMS) {
        PyErr_SetString(PyExc_ValueError, "iteration kind is 0 (keys), 1 (values) or 2 (items)");
        return NULL;
    }
    return map_iter_new(v, kind, reversed);
}

static PyMethodDef Dict_methods[] = {
    { "get", (PyCFunction)(void (*)(void))Dict_get, METH_FASTCALL,
      "Return the value for key if key is in the dictionary, else default." },
    { "setdefault", (PyCFunction)(void (*)(void))Dict_setdefault, METH_FASTCALL,
      "Insert key with a value of default if key is not in the dictionary; return its value." },
    { "pop", (PyCFunction)(void (*)(void))Dict_pop, METH_FASTCALL,
      "Remove key and return its value (a plain copy), or default." },
    { "popitem", (PyCFunction)Map_popitem, METH_NOARGS,
      "Remove and return the last inserted (key, value) pair." },
    { "clear", (PyCFunction)Map_clear, METH_NOARGS, "Remove all items." },
    { "_iter", (PyCFunction)(void (*)(void))Map_iter_kind, METH_FASTCALL,
      "_iter(kind, reversed): an iterator over keys (0), values (1) or items (2)." },
    { "_copy_out", (PyCFunction)View_copy_out, METH_NOARGS, "A plain deep copy." },
    { NULL, NULL, 0, NULL }
};

static PyType_Slot dict_view_slots[] = {
    VIEW_SLOTS,
    { Py_mp_length, (void *)Map_len },
    { Py_mp_subscript, (void *)Dict_subscript },
    { Py_mp_ass_subscript, (void *)Dict_ass_subscript },
    { Py_sq_contains, (void *)Map_contains },
    { Py_tp_iter, (void *)Map_iter },
    { Py_tp_methods, Dict_methods },
    { Py_tp_doc, (void *)"The C core of a live view of a shared dict." },
    { 0, NULL }
};

PyType_Spec ipo_dict_view_spec = {
    .name = "ipc_py_objects._ipo.DictView",
    .basicsize = sizeof(ViewObject),
    .flags = VIEW_FLAGS | Py_TPFLAGS_MAPPING,
    .slots = dict_view_slots,
};

static PyMethodDef Set_methods[] = {
    { "add", (PyCFunction)Set_add, METH_O, "Add an element to the set." },
    { "discard", (PyCFunction)Set_discard, METH_O, "Remove an element if it is a member." },
    { "remove", (PyCFunction)Set_remove, METH_O, "Remove an element; KeyError if absent." },
    { "pop", (PyCFunction)Map_popitem, METH_NOARGS, "Remove and return an element (a plain copy)." },
    { "clear", (PyCFunction)Map_clear, METH_NOARGS, "Remove all elements." },
    { "_copy_out", (PyCFunction)View_copy_out, METH_NOARGS, "A plain copy." },
    { NULL, NULL, 0, NULL }
};

static PyType_Slot set_view_slots[] = {
    VIEW_SLOTS,
    { Py_sq_length, (void *)Map_len },
    { Py_sq_contains, (void *)Map_contains },
    { Py_tp_iter, (void *)Map_iter },
    { Py_tp_methods, Set_methods },
    { Py_tp_doc, (void *)"The C core of a live view of a shared set." },
    { 0, NULL }
};

PyType_Spec ipo_set_view_spec = {
    .name = "ipc_py_objects._ipo.SetView",
    .basicsize = sizeof(ViewObject),
    .flags = VIEW_FLAGS,
    .slots = set_view_slots,
};

/* ==== objects' fields ================================================================= */

/* A static object's fields are a VALUES block of fixed length; instances of
 * its generated class hold an ObjectRef (a view of that block), and each
 * field is a data descriptor that reads and writes one slot. */
static PyType_Slot object_ref_slots[] = {
    VIEW_SLOTS,
    { Py_tp_doc, (void *)"A reference from an instance to its shared fields." },
    { 0, NULL }
};

PyType_Spec ipo_object_ref_spec = {
    .name = "ipc_py_objects._ipo.ObjectRef",
    .basicsize = sizeof(ViewObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = object_ref_slots,
};

typedef struct FieldObject {
    PyObject_HEAD
    Py_ssize_t    index;
    Py_ssize_t    ref_offset;  /* where instances keep their ObjectRef; 0: in __dict__ */
    PyObject     *name;
    PyObject     *ref_key;     /* the __dict__ key when ref_offset is 0 */
    PyTypeObject *ref_type;
} FieldObject;

static ViewObject *instance_ref(FieldObject *f, PyObject *inst)
{
    PyObject *ref = NULL;
    if (f->ref_offset > 0) {
        ref = *(PyObject **)((char *)inst + f->ref_offset);
    } else {
        PyObject *dict = PyObject_GenericGetDict(inst, NULL);
        if (!dict)
            return NULL;
        ref = PyDict_GetItemWithError(dict, f->ref_key);
        Py_DECREF(dict); /* the instance keeps it, and ref, alive */
        if (!ref && PyErr_Occurred())
            return NULL;
    }
    if (!ref || Py_TYPE(ref) != f->ref_type) {
        PyErr_Format(PyExc_AttributeError,
                     "'%.200s' object has no shared fields (it was not made by ipc_py_objects)",
                     Py_TYPE(inst)->tp_name);
        return NULL;
    }
    return (ViewObject *)ref;
}

static ipo_value_t *field_slot(FieldObject *f, PyObject *inst, RegionObject **region)
{
    ViewObject *ref = instance_ref(f, inst);
    if (!ref)
        return NULL;
    ipo_obj_t *values = view_obj(ref);
    if (!values)
        return NULL;
    if ((uint64_t)f->index >= values->v.len / sizeof(ipo_value_t)) {
        ipo_py_raise(ref->region->st, -IPO_EBADOBJ, "a shared object has fewer fields than its class");
        return NULL;
    }
    *region = ref->region;
    return (ipo_value_t *)ipo_obj_data(values) + f->index;
}

static PyObject *Field_get(FieldObject *f, PyObject *inst, PyObject *owner)
{
    (void)owner;
    if (!inst)
        return Py_NewRef((PyObject *)f);
    RegionObject *region;
    ipo_value_t *slot = field_slot(f, inst, &region);
    return slot ? ipo_py_decode_value(region, slot, 0) : NULL;
}

static int Field_set(FieldObject *f, PyObject *inst, PyObject *value)
{
    if (!value) {
        PyErr_Format(PyExc_AttributeError,
                     "cannot delete the shared field '%U': a static shared object has a fixed set "
                     "of fields (put it with ForceGeneralObjectCopy/Inplace to allow that)", f->name);
        return -1;
    }
    RegionObject *region;
    ipo_value_t slot;
    if (!field_slot(f, inst, &region) || ipo_py_encode_value(region, value, &slot) < 0)
        return -1;
    /* Encoding may run user code: find the slot again. */
    ipo_value_t *target = field_slot(f, inst, &region);
    if (!target) {
        ipo_value_release(&region->r, &slot);
        return -1;
    }
    ipo_value_t old = *target;
    *target = slot;
    ipo_value_release(&region->r, &old);
    return 0;
}

static PyObject *Field_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "index", "name", "ref_offset", "ref_key", NULL };
    Py_ssize_t index, ref_offset;
    PyObject *name, *ref_key;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nUnU", kwlist, &index, &name, &ref_offset, &ref_key))
        return NULL;
    if (index < 0 || ref_offset < 0) {
        PyErr_SetString(PyExc_ValueError, "index and ref_offset are non-negative");
        return NULL;
    }
    ipo_state *st = PyType_GetModuleState(type);
    if (!st)
        return NULL;
    FieldObject *f = (FieldObject *)type->tp_alloc(type, 0);
    if (!f)
        return NULL;
    f->index = index;
    f->ref_offset = ref_offset;
    f->name = Py_NewRef(name);
    f->ref_key = Py_NewRef(ref_key);
    f->ref_type = (PyTypeObject *)Py_NewRef((PyObject *)st->object_ref_type);
    return (PyObject *)f;
}

static int Field_traverse(FieldObject *f, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(f));
    Py_VISIT(f->name);
    Py_VISIT(f->ref_key);
    Py_VISIT(f->ref_type);
    return 0;
}

static int Field_clear(FieldObject *f)
{
    Py_CLEAR(f->name);
    Py_CLEAR(f->ref_key);
    Py_CLEAR(f->ref_type);
    return 0;
}

static void Field_dealloc(FieldObject *f)
{
    PyTypeObject *tp = Py_TYPE(f);
    PyObject_GC_UnTrack(f);
    Field_clear(f);
    tp->tp_free(f);
    Py_DECREF(tp);
}

static PyObject *Field_repr(FieldObject *f)
{
    return PyUnicode_FromFormat("<shared field %R #%zd>", f->name, f->index);
}

static PyType_Slot field_slots[] = {
    { Py_tp_new, (void *)Field_new },
    { Py_tp_descr_get, (void *)Field_get },
    { Py_tp_descr_set, (void *)Field_set },
    { Py_tp_traverse, (void *)Field_traverse },
    { Py_tp_clear, (void *)Field_clear },
    { Py_tp_dealloc, (void *)Field_dealloc },
    { Py_tp_repr, (void *)Field_repr },
    { Py_tp_doc, (void *)"Field(index, name, ref_offset, ref_key)\n--\n\n"
                         "A data descriptor for one field of a static shared object." },
    { 0, NULL }
};

PyType_Spec ipo_field_spec = {
    .name = "ipc_py_objects._ipo.Field",
    .basicsize = sizeof(FieldObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = field_slots,
};

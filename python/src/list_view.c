/* python/src/list_view.c — ListView: the C core of a live shared list (SharedList in containers.py). */
#include "views.h"

#include <string.h>

/* Values decoded from slots and released from slots: the shared part of
 * every mutator. */
static void release_values(RegionObject *self, ipo_value_t *values, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        ipo_value_release(&self->r, &values[i]);
}

/* Encodes every item of a sequence into a new array of slots, for the
 * store st; on failure releases those made and ends the store. The caller
 * frees the array. */
static ipo_value_t *encode_all(RegionObject *self, ipo_store_t *st, PyObject *fast, Py_ssize_t *n)
{
    *n = PySequence_Fast_GET_SIZE(fast);
    ipo_value_t *slots = PyMem_Malloc((size_t)(*n ? *n : 1) * sizeof(ipo_value_t));
    if (!slots) {
        PyErr_NoMemory();
        ipo_py_store_finish(st, 0);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *n; i++)
        if (ipo_py_store_value(st, self, PySequence_Fast_GET_ITEM(fast, i), &slots[i]) < 0) {
            release_values(self, slots, i);
            PyMem_Free(slots);
            ipo_py_store_finish(st, 0);
            return NULL;
        }
    return slots;
}

static int no_room(RegionObject *self, int rc)
{
    ipo_py_raise_alloc_failure(self, rc, self->r.heap.refused.size);
    return -1;
}

static __attribute__((noinline, cold)) ipo_value_t *damaged_list(ViewObject *v)
{
    ipo_py_raise_damaged(v->region, "a shared list's length exceeds its array, or its array "
                                    "does not check out");
    return NULL;
}

static inline ipo_value_t *list_items(ViewObject *v, ipo_obj_t **list, Py_ssize_t *len)
{
    *list = ipo_py_view_obj(v);
    if (!*list)
        return NULL;
    uint64_t n;
    ipo_value_t *items;
    if (ipo_list_get(&v->region->r, *list, &items, &n)) {
        *len = 0;
        return damaged_list(v);
    }
    *len = (Py_ssize_t)n;
    return items ? items : (ipo_value_t *)ipo_obj_data(*list); /* never read when empty */
}

static Py_ssize_t list_len(ViewObject *v)
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

static PyObject *list_item(ViewObject *v, Py_ssize_t i)
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

static PyObject *list_subscript(ViewObject *v, PyObject *key)
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
    ipo_store_t st;
    ipo_py_store_init(&st);
    ipo_value_t *slots = encode_all(self, &st, fast, &n);
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
            no_room(self, arc);
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
    if (ipo_py_store_finish(&st, rc == 0) < 0)
        rc = -1;
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
    ipo_store_t st;
    ipo_py_store_init(&st);
    ipo_value_t *slots = encode_all(v->region, &st, fast, &m);
    Py_DECREF(fast);
    if (!slots)
        return -1;
    ipo_value_t *items = list_items(v, &list, &len);
    int rc = -1;
    /* The list may have changed while the values were encoded: place the
     * slice again on what it is now. */
    if (items && PySlice_Unpack(slice, &start, &stop, &step) == 0 &&
        PySlice_AdjustIndices(len, &start, &stop, step) == n) {
        /* Each slot whole, old or new; a kill midway leaves the first
         * ones replaced (a turn is not a transaction). */
        ipo_obj_t *array = ipo_list_array(&v->region->r, list);
        Py_ssize_t k = 0;
        for (Py_ssize_t i = start; k < n; k++, i += step)
            if (ipo_value_replace(&v->region->r, array, &items[i], &slots[k]))
                break;
        if (k < n) {
            release_values(v->region, slots + k, n - k);
            damaged_list(v);
        } else {
            rc = 0;
        }
    } else {
        if (items)
            PyErr_SetString(PyExc_RuntimeError, "the shared list changed during the assignment");
        release_values(v->region, slots, m);
    }
    PyMem_Free(slots);
    if (ipo_py_store_finish(&st, rc == 0) < 0)
        rc = -1;
    return rc;
}

static int list_ass_subscript(ViewObject *v, PyObject *key, PyObject *value)
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
        if (ipo_py_store_is_unchanged(v->region, &items[i], value) ||
            (items[i].type == IPO_T_NDARRAY && ipo_py_store_is_unchanged_array(v->region, &items[i], value))) {
            ipo_region_mark_changed(&v->region->r);
            return 0;
        }
        ipo_value_t slot;
        ipo_store_t st;
        ipo_py_store_init(&st);
        if (ipo_py_store_value(&st, v->region, value, &slot) < 0) {
            ipo_py_store_finish(&st, 0);
            return -1;
        }
        /* A value stored inline ran no code and moved nothing: store it.
         * Else encoding may have run user code: look again. */
        if (!ipo_value_is_inline(slot.type)) {
            items = list_items(v, &list, &len);
            if (!items || i >= len) {
                if (items)
                    index_error("list assignment");
                ipo_value_release(&v->region->r, &slot);
                ipo_py_store_finish(&st, 0);
                return -1;
            }
        }
        /* Old or new at every instruction, the old item released once
         * nothing names it (core/src/containers_value.c). */
        if (ipo_value_replace(&v->region->r, ipo_list_array(&v->region->r, list), &items[i], &slot)) {
            ipo_value_release(&v->region->r, &slot);
            ipo_py_store_finish(&st, 0);
            damaged_list(v);
            return -1;
        }
        return ipo_py_store_finish(&st, 1);
    }
    if (PySlice_Check(key))
        return List_ass_slice(v, key, value);
    PyErr_Format(PyExc_TypeError, "list indices must be integers or slices, not %.200s",
                 Py_TYPE(key)->tp_name);
    return -1;
}

static int list_ass_item(ViewObject *v, Py_ssize_t i, PyObject *value)
{
    PyObject *key = PyLong_FromSsize_t(i);
    if (!key)
        return -1;
    int rc = list_ass_subscript(v, key, value);
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

static int list_contains(ViewObject *v, PyObject *x)
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
    ipo_store_t st;
    ipo_py_store_init(&st);
    ipo_value_t *slots = encode_all(self, &st, fast, &n);
    if (!slots)
        return -1;
    ipo_obj_t *list;
    Py_ssize_t len;
    int rc = -1;
    if (list_items(v, &list, &len)) {
        if (where < 0 || where > len)
            where = len;
        int irc = ipo_list_insert(&self->r, list, (uint64_t)where, slots, (uint64_t)n);
        rc = irc ? no_room(self, irc) : 0;
    }
    if (rc < 0)
        release_values(self, slots, n);
    PyMem_Free(slots);
    if (ipo_py_store_finish(&st, rc == 0) < 0)
        rc = -1;
    return rc;
}

static PyObject *list_append(ViewObject *v, PyObject *x)
{
    RegionObject *self = v->region;
    ipo_value_t slot;
    if (!ipo_py_view_obj(v))
        return NULL;
    ipo_store_t st;
    ipo_py_store_init(&st);
    if (ipo_py_store_value(&st, self, x, &slot) < 0) {
        ipo_py_store_finish(&st, 0);
        return NULL;
    }
    ipo_obj_t *list;
    Py_ssize_t len;
    int rc = -1;
    if (list_items(v, &list, &len)) {
        rc = ipo_list_insert(&self->r, list, (uint64_t)len, &slot, 1);
        if (rc)
            no_room(self, rc);
    }
    if (rc)
        ipo_value_release(&self->r, &slot);
    if (ipo_py_store_finish(&st, rc == 0) < 0 || rc)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *list_insert(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "insert expected 2 arguments");
        return NULL;
    }
    Py_ssize_t i = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t len = list_len(v);
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

static PyObject *list_extend(ViewObject *v, PyObject *iterable)
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

static PyObject *list_pop(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
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

static PyObject *list_clear(ViewObject *v, PyObject *unused)
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

static PyObject *list_index(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "index expected 1 to 3 arguments");
        return NULL;
    }
    Py_ssize_t len = list_len(v), start = 0, stop = PY_SSIZE_T_MAX;
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

static PyObject *list_count(ViewObject *v, PyObject *x)
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

static PyObject *list_remove(ViewObject *v, PyObject *x)
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

/* Reorders the list as `order` says (core: built aside, published with
 * one store). */
static PyObject *permute(ViewObject *v, ipo_obj_t *list, const uint64_t *order, Py_ssize_t n)
{
    int rc = ipo_list_permute(&v->region->r, list, order, (uint64_t)n);
    if (rc == -IPO_EINVAL) {
        PyErr_SetString(PyExc_ValueError, "the order must name every item once");
        return NULL;
    }
    if (rc)
        return ipo_py_raise(v->region->st, rc, "reordering a shared list");
    Py_RETURN_NONE;
}

static PyObject *list_reverse(ViewObject *v, PyObject *unused)
{
    (void)unused;
    ipo_obj_t *list;
    Py_ssize_t len;
    if (!list_items(v, &list, &len))
        return NULL;
    if (len < 2)
        Py_RETURN_NONE;
    uint64_t *order = PyMem_Malloc((size_t)len * sizeof(uint64_t));
    if (!order)
        return PyErr_NoMemory();
    for (Py_ssize_t k = 0; k < len; k++)
        order[k] = (uint64_t)(len - 1 - k);
    PyObject *r = permute(v, list, order, len);
    PyMem_Free(order);
    return r;
}

/* Reorders the items: new item k is old item order[k]. sort() computes the
 * order in Python (key and reverse as list.sort) and applies it here. */
static PyObject *list_permute(ViewObject *v, PyObject *order)
{
    PyObject *fast = PySequence_Fast(order, "an order is a sequence of indices");
    if (!fast)
        return NULL;
    ipo_obj_t *list;
    Py_ssize_t len, n = PySequence_Fast_GET_SIZE(fast);
    uint64_t *idx = NULL;
    PyObject *r = NULL;
    if (!list_items(v, &list, &len))
        goto out;
    if (n != len) {
        PyErr_SetString(PyExc_ValueError, "the order must name every item once");
        goto out;
    }
    idx = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(uint64_t));
    if (!idx) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i = PyNumber_AsSsize_t(PySequence_Fast_GET_ITEM(fast, k), PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            goto out;
        if (i < 0 || i >= len) {
            PyErr_SetString(PyExc_ValueError, "the order must name every item once");
            goto out;
        }
        idx[k] = (uint64_t)i;
    }
    /* Converting the indices ran no code of the list's, but may have run
     * the user's __index__: the list is found again. */
    if (!list_items(v, &list, &len))
        goto out;
    if (n != len) {
        PyErr_SetString(PyExc_RuntimeError, "the shared list changed during the reordering");
        goto out;
    }
    r = permute(v, list, idx, n);
out:
    PyMem_Free(idx);
    Py_DECREF(fast);
    return r;
}

/* ---- the operations, each in a turn (view_base.h) ---------------------------------- */

IPO_IN_TURN(Py_ssize_t, -1, List_len, list_len, v, (ViewObject *v), (v))
IPO_IN_TURN(PyObject *, NULL, List_item, list_item, v, (ViewObject *v, Py_ssize_t i), (v, i))
IPO_IN_TURN(PyObject *, NULL, List_subscript, list_subscript, v, (ViewObject *v, PyObject *key), (v, key))
IPO_IN_TURN(int, -1, List_ass_subscript, list_ass_subscript, v,
            (ViewObject *v, PyObject *key, PyObject *value), (v, key, value))
IPO_IN_TURN(int, -1, List_ass_item, list_ass_item, v, (ViewObject *v, Py_ssize_t i, PyObject *value),
            (v, i, value))
IPO_IN_TURN(int, -1, List_contains, list_contains, v, (ViewObject *v, PyObject *x), (v, x))
IPO_IN_TURN(PyObject *, NULL, List_append, list_append, v, (ViewObject *v, PyObject *x), (v, x))
IPO_IN_TURN(PyObject *, NULL, List_insert, list_insert, v,
            (ViewObject *v, PyObject *const *args, Py_ssize_t n), (v, args, n))
IPO_IN_TURN(PyObject *, NULL, List_extend, list_extend, v, (ViewObject *v, PyObject *it), (v, it))
IPO_IN_TURN(PyObject *, NULL, List_pop, list_pop, v,
            (ViewObject *v, PyObject *const *args, Py_ssize_t n), (v, args, n))
IPO_IN_TURN(PyObject *, NULL, List_clear, list_clear, v, (ViewObject *v, PyObject *u), (v, u))
IPO_IN_TURN(PyObject *, NULL, List_index, list_index, v,
            (ViewObject *v, PyObject *const *args, Py_ssize_t n), (v, args, n))
IPO_IN_TURN(PyObject *, NULL, List_count, list_count, v, (ViewObject *v, PyObject *x), (v, x))
IPO_IN_TURN(PyObject *, NULL, List_remove, list_remove, v, (ViewObject *v, PyObject *x), (v, x))
IPO_IN_TURN(PyObject *, NULL, List_reverse, list_reverse, v, (ViewObject *v, PyObject *u), (v, u))
IPO_IN_TURN(PyObject *, NULL, List_permute, list_permute, v, (ViewObject *v, PyObject *order), (v, order))
IPO_IN_TURN(PyObject *, NULL, List_copy_out, ipo_py_view_copy_out, v, (ViewObject *v, PyObject *u),
            (v, u))

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
    { "_copy_out", (PyCFunction)List_copy_out, METH_NOARGS, "A plain deep copy." },
    IPO_VIEW_METHODS,
    { NULL, NULL, 0, NULL }
};

static PyType_Slot list_view_slots[] = {
    IPO_VIEW_SLOTS,
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
    .flags = IPO_VIEW_FLAGS | Py_TPFLAGS_SEQUENCE,
    .slots = list_view_slots,
};


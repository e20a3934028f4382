/* python/src/map_view.c — DictView and SetView, the C cores of live dicts and sets, and their iterator. */
#include "views.h"

static int readonly_error(ViewObject *v)
{
    (void)v;
    PyErr_SetString(PyExc_TypeError, "this shared Mapping is read-only");
    return -1;
}

static ipo_obj_t *map_obj(ViewObject *v, int for_writing)
{
    ipo_obj_t *map = ipo_py_view_obj(v);
    if (map && for_writing && (map->flags & IPO_OBJ_READONLY)) {
        readonly_error(v);
        return NULL;
    }
    return map;
}

/* The map's table, or NULL with RegionCorruptedError when it does not
 * check out. */
static ipo_table_t *map_table(ViewObject *v, ipo_obj_t *map)
{
    ipo_table_t *t = ipo_map_table(&v->region->r, map);
    if (!t)
        ipo_py_raise_damaged(v->region, "a shared dict's or set's table does not check out");
    return t;
}

static Py_ssize_t map_len(ViewObject *v)
{
    ipo_obj_t *map = map_obj(v, 0);
    if (!map)
        return -1;
    ipo_table_t *t = map_table(v, map);
    return t ? (Py_ssize_t)t->used : -1;
}

/* The entry of key: its number, IPO_MAP_ABSENT, or IPO_MAP_ERROR; with
 * table, the table the lookup checked, or NULL (ipo_py_map_find). */
static int64_t map_lookup(ViewObject *v, ipo_obj_t *map, PyObject *key, ipo_table_t **table)
{
    uint64_t hash;
    if (table)
        *table = NULL;
    if (ipo_py_key_hash(v->region, key, &hash) < 0) {
        /* An unhashable key is in no dict: `in` says False, [] KeyError. */
        return IPO_MAP_ERROR;
    }
    return ipo_py_map_find(v->region, map, key, hash, table);
}

/* Entry e, which a lookup just found; NULL with an exception set if the
 * table changed meanwhile (a key's __eq__ ran Python code) and no longer
 * has it. */
static ipo_entry_t *entry_at(ViewObject *v, ipo_obj_t *map, int64_t e)
{
    ipo_table_t *t = map_table(v, map);
    if (t && (uint64_t)e >= t->nentries) {
        PyErr_SetString(PyExc_RuntimeError, "shared dictionary changed during a lookup");
        return NULL;
    }
    return t ? &ipo_table_entries(t)[e] : NULL;
}

static PyObject *dict_subscript(ViewObject *v, PyObject *key)
{
    ipo_obj_t *map = map_obj(v, 0);
    if (!map)
        return NULL;
    ipo_table_t *t;
    int64_t e = map_lookup(v, map, key, &t);
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
    /* The table the lookup checked, when no code ran since (the entry
     * found lies below its nentries), else checked again. */
    ipo_entry_t *entry = t ? &ipo_table_entries(t)[e] : entry_at(v, map, e);
    return entry ? ipo_py_decode_value(v->region, &entry->value, 0) : NULL;
}

static int map_delete_key(ViewObject *v, ipo_obj_t *map, PyObject *key, int missing_ok)
{
    int64_t e = map_lookup(v, map, key, NULL);
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

static int dict_ass_subscript(ViewObject *v, PyObject *key, PyObject *value)
{
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return -1;
    if (!value)
        return map_delete_key(v, map, key, 0);
    return ipo_py_map_put(v->region, v->off, key, value);
}

static int map_contains(ViewObject *v, PyObject *key)
{
    ipo_obj_t *map = map_obj(v, 0);
    if (!map)
        return -1;
    int64_t e = map_lookup(v, map, key, NULL);
    if (e == IPO_MAP_ERROR) {
        /* Unhashable keys are in no set or dict: as dict raises, we raise. */
        return -1;
    }
    return e >= 0;
}

static PyObject *dict_get(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get expected 1 or 2 arguments");
        return NULL;
    }
    ipo_obj_t *map = map_obj(v, 0);
    if (!map)
        return NULL;
    int64_t e = map_lookup(v, map, args[0], NULL);
    if (e == IPO_MAP_ERROR)
        return NULL;
    if (e == IPO_MAP_ABSENT)
        return Py_NewRef(nargs > 1 ? args[1] : Py_None);
    ipo_entry_t *entry = entry_at(v, map, e);
    return entry ? ipo_py_decode_value(v->region, &entry->value, 0) : NULL;
}

static PyObject *dict_setdefault(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "setdefault expected 1 or 2 arguments");
        return NULL;
    }
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return NULL;
    int64_t e = map_lookup(v, map, args[0], NULL);
    if (e == IPO_MAP_ERROR)
        return NULL;
    if (e == IPO_MAP_ABSENT) {
        if (ipo_py_map_put(v->region, v->off, args[0], nargs > 1 ? args[1] : Py_None) < 0)
            return NULL;
        e = map_lookup(v, map, args[0], NULL);
        if (e < 0)
            return NULL;
    }
    ipo_entry_t *entry = entry_at(v, map, e);
    return entry ? ipo_py_decode_value(v->region, &entry->value, 0) : NULL;
}

/* dict.pop and set.remove/discard: the value leaves shared memory as a copy. */
static PyObject *dict_pop(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "pop expected 1 or 2 arguments");
        return NULL;
    }
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return NULL;
    int64_t e = map_lookup(v, map, args[0], NULL);
    if (e == IPO_MAP_ERROR)
        return NULL;
    if (e == IPO_MAP_ABSENT) {
        if (nargs > 1)
            return Py_NewRef(args[1]);
        PyErr_SetObject(PyExc_KeyError, args[0]);
        return NULL;
    }
    ipo_entry_t *entry = entry_at(v, map, e);
    PyObject *value = entry ? ipo_py_decode_value(v->region, &entry->value, 1) : NULL;
    if (value)
        ipo_map_delete(&v->region->r, map, (uint64_t)e, NULL, NULL);
    return value;
}

/* dict.popitem (last in, first out) and set.pop (any: the last). */
static PyObject *map_popitem(ViewObject *v, PyObject *unused)
{
    (void)unused;
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return NULL;
    ipo_table_t *t = map_table(v, map);
    if (!t)
        return NULL;
    int64_t e = -1;
    for (uint64_t j = t->nentries; j > 0 && e < 0; j--)
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

static PyObject *map_clear(ViewObject *v, PyObject *unused)
{
    (void)unused;
    ipo_obj_t *map = map_obj(v, 1);
    if (!map)
        return NULL;
    ipo_map_clear(&v->region->r, map);
    Py_RETURN_NONE;
}

static PyObject *set_add(ViewObject *v, PyObject *key)
{
    if (!map_obj(v, 1) || ipo_py_map_put(v->region, v->off, key, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *set_discard(ViewObject *v, PyObject *key)
{
    ipo_obj_t *map = map_obj(v, 1);
    if (!map || map_delete_key(v, map, key, 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *set_remove(ViewObject *v, PyObject *key)
{
    ipo_obj_t *map = map_obj(v, 1);
    if (!map || map_delete_key(v, map, key, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- iterators over entries ------------------------------------------------------ */

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
    ipo_table_t *t = map_table(v, map);
    if (!t)
        return NULL;
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

static PyObject *map_iter_next(MapIterObject *it)
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

/* Each step is an operation of its own, in a turn: outside a block, a dict
 * changed by another process between two steps is reported as any change
 * during iteration is. */
static PyObject *MapIter_next(MapIterObject *it)
{
    if (!it->view)
        return NULL;
    /* The step may drop it->view (at the end): held until the turn ends. */
    ViewObject *view = (ViewObject *)Py_NewRef((PyObject *)it->view);
    ipo_own_turn_t turn;
    PyObject *item = NULL;
    if (ipo_py_turn_begin(view->region, &turn) == 0) {
        item = map_iter_next(it);
        ipo_py_turn_end(&turn);
    }
    Py_DECREF(view);
    return item;
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

static PyObject *map_iter(ViewObject *v)
{
    return map_iter_new(v, ITER_KEYS, 0);
}

static PyObject *map_iter_kind(ViewObject *v, PyObject *const *args, Py_ssize_t nargs)
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

/* ---- the operations, each in a turn (view_base.h) ---------------------------------- */

IPO_IN_TURN(Py_ssize_t, -1, Map_len, map_len, v, (ViewObject *v), (v))
IPO_IN_TURN(PyObject *, NULL, Dict_subscript, dict_subscript, v, (ViewObject *v, PyObject *key), (v, key))
IPO_IN_TURN(int, -1, Dict_ass_subscript, dict_ass_subscript, v,
            (ViewObject *v, PyObject *key, PyObject *value), (v, key, value))
IPO_IN_TURN(int, -1, Map_contains, map_contains, v, (ViewObject *v, PyObject *key), (v, key))
IPO_IN_TURN(PyObject *, NULL, Dict_get, dict_get, v,
            (ViewObject *v, PyObject *const *args, Py_ssize_t n), (v, args, n))
IPO_IN_TURN(PyObject *, NULL, Dict_setdefault, dict_setdefault, v,
            (ViewObject *v, PyObject *const *args, Py_ssize_t n), (v, args, n))
IPO_IN_TURN(PyObject *, NULL, Dict_pop, dict_pop, v,
            (ViewObject *v, PyObject *const *args, Py_ssize_t n), (v, args, n))
IPO_IN_TURN(PyObject *, NULL, Map_popitem, map_popitem, v, (ViewObject *v, PyObject *u), (v, u))
IPO_IN_TURN(PyObject *, NULL, Map_clear, map_clear, v, (ViewObject *v, PyObject *u), (v, u))
IPO_IN_TURN(PyObject *, NULL, Set_add, set_add, v, (ViewObject *v, PyObject *key), (v, key))
IPO_IN_TURN(PyObject *, NULL, Set_discard, set_discard, v, (ViewObject *v, PyObject *key), (v, key))
IPO_IN_TURN(PyObject *, NULL, Set_remove, set_remove, v, (ViewObject *v, PyObject *key), (v, key))
IPO_IN_TURN(PyObject *, NULL, Map_iter, map_iter, v, (ViewObject *v), (v))
IPO_IN_TURN(PyObject *, NULL, Map_iter_kind, map_iter_kind, v,
            (ViewObject *v, PyObject *const *args, Py_ssize_t n), (v, args, n))
IPO_IN_TURN(PyObject *, NULL, Map_copy_out, ipo_py_view_copy_out, v, (ViewObject *v, PyObject *u),
            (v, u))

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
    { "_copy_out", (PyCFunction)Map_copy_out, METH_NOARGS, "A plain deep copy." },
    IPO_VIEW_METHODS,
    { NULL, NULL, 0, NULL }
};

static PyType_Slot dict_view_slots[] = {
    IPO_VIEW_SLOTS,
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
    .flags = IPO_VIEW_FLAGS | Py_TPFLAGS_MAPPING,
    .slots = dict_view_slots,
};

static PyMethodDef Set_methods[] = {
    { "add", (PyCFunction)Set_add, METH_O, "Add an element to the set." },
    { "discard", (PyCFunction)Set_discard, METH_O, "Remove an element if it is a member." },
    { "remove", (PyCFunction)Set_remove, METH_O, "Remove an element; KeyError if absent." },
    { "pop", (PyCFunction)Map_popitem, METH_NOARGS, "Remove and return an element (a plain copy)." },
    { "clear", (PyCFunction)Map_clear, METH_NOARGS, "Remove all elements." },
    { "_copy_out", (PyCFunction)Map_copy_out, METH_NOARGS, "A plain copy." },
    IPO_VIEW_METHODS,
    { NULL, NULL, 0, NULL }
};

static PyType_Slot set_view_slots[] = {
    IPO_VIEW_SLOTS,
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
    .flags = IPO_VIEW_FLAGS,
    .slots = set_view_slots,
};


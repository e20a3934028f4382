/* python/src/encode.c — the encoder: Python objects into format blocks, exact types first. */
#include "encode.h"

#include <datetime.h>

#include "ipo/copy.h"

#include <string.h>

/* Every class made by a class statement frees its instances with CPython's
 * one deallocator for such classes; a type written in C has its own, even a
 * heap type that allows subclasses. Read from a class made at import. */
static destructor python_class_dealloc;

/* datetime.h's API pointer is per file: each file that uses it imports it. */
int ipo_py_encode_init(void)
{
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI)
        return -1;
    PyObject *probe = PyObject_CallFunction((PyObject *)&PyType_Type, "s(O){}", "_ipo_probe",
                                            (PyObject *)&PyBaseObject_Type);
    if (!probe)
        return -1;
    python_class_dealloc = ((PyTypeObject *)probe)->tp_dealloc;
    Py_DECREF(probe);
    return 0;
}

PyObject *ipo_py_python_class(PyObject *module, PyObject *cls)
{
    (void)module;
    if (!PyType_Check(cls)) {
        PyErr_Format(PyExc_TypeError, "expected a class, not '%.200s'", Py_TYPE(cls)->tp_name);
        return NULL;
    }
    return PyBool_FromLong(((PyTypeObject *)cls)->tp_dealloc == python_class_dealloc);
}

/* ---- values inside containers --------------------------------------------------- */

static int encode_value(ipo_encoder_t *enc, PyObject *obj, ipo_value_t *slot);

/* A container with n value slots, all None to begin with, so that a failure
 * halfway can destroy it and with it every child made so far. */
static int new_container(RegionObject *self, uint8_t type, uint64_t len, ipo_off_t *out, void **data)
{
    int rc = ipo_obj_new(&self->r, type, len, out, data);
    if (rc)
        return ipo_py_fail_alloc(self, rc);
    memset(*data, 0, (size_t)len);
    ipo_value_t *values;
    size_t n = ipo_obj_values((const ipo_obj_t *)(self->r.base + *out), &values);
    for (size_t i = 0; i < n; i++)
        values[i].type = IPO_T_NONE;
    return 0;
}

/* Makes a container of n values and fills it; on failure destroys it with
 * the children made so far. Recursion is bounded as Python bounds it. */
static int encode_container(ipo_encoder_t *enc, uint8_t type, PyObject *const *items, size_t n,
                            ipo_off_t *out)
{
    RegionObject *self = enc->region;
    void *data;
    /* Types of a fixed number of values may be given fewer: the rest stay None. */
    uint64_t len = (type == IPO_T_NDARRAY ? IPO_NDARRAY_PARTS : (uint64_t)n) * sizeof(ipo_value_t);
    if (new_container(self, type, len, out, &data) < 0)
        return -1;
    ipo_value_t *values = data; /* offsets never move: the pointer stays good */
    if (Py_EnterRecursiveCall(" while putting a container into shared memory")) {
        ipo_obj_destroy(&self->r, *out);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = encode_value(enc, items[i], &values[i]);
    Py_LeaveRecursiveCall();
    if (rc < 0) {
        /* A failed encode_value leaves its slot zeroed, naming no child. */
        ipo_obj_destroy(&self->r, *out);
        return -1;
    }
    return 0;
}

static int encode_tuple(ipo_encoder_t *enc, PyObject *obj, ipo_off_t *out)
{
    return encode_container(enc, IPO_T_TUPLE, &PyTuple_GET_ITEM(obj, 0),
                            (size_t)PyTuple_GET_SIZE(obj), out);
}

static int encode_slice(ipo_encoder_t *enc, PyObject *obj, ipo_off_t *out)
{
    PySliceObject *sl = (PySliceObject *)obj;
    PyObject *items[IPO_SLICE_PARTS];
    items[IPO_SLICE_START] = sl->start;
    items[IPO_SLICE_STOP] = sl->stop;
    items[IPO_SLICE_STEP] = sl->step;
    return encode_container(enc, IPO_T_SLICE, items, IPO_SLICE_PARTS, out);
}

/* A datetime's or time's tzinfo: None, a fixed offset, a zoneinfo key, or
 * any other tzinfo pickled. */
static int encode_tzinfo(ipo_encoder_t *enc, PyObject *tz, ipo_value_t *slot)
{
    RegionObject *self = enc->region;
    PyTypeObject *type = Py_TYPE(tz);
    if (strcmp(type->tp_name, "zoneinfo.ZoneInfo") == 0 &&
        ipo_py_lazy_type(&self->st->ZoneInfoType, "zoneinfo", "ZoneInfo") < 0)
        return -1;
    if (tz == Py_None || type == Py_TYPE(PyDateTime_TimeZone_UTC) ||
        type == (PyTypeObject *)self->st->ZoneInfoType)
        return encode_value(enc, tz, slot);
    /* A tzinfo written in Python is never projected (its base is C's
     * tzinfo), so describe() pickles it; a reader takes nothing else there. */
    if (encode_value(enc, tz, slot) < 0)
        return -1;
    if (slot->type == IPO_T_PICKLE)
        return 0;
    ipo_value_release(&self->r, slot);
    PyErr_Format(PyExc_TypeError,
                 "cannot put a time zone of type '%.200s' into shared memory: it is neither a "
                 "datetime.timezone, a zoneinfo.ZoneInfo nor a tzinfo that pickles", type->tp_name);
    return -1;
}

static int encode_clocked(ipo_encoder_t *enc, PyObject *obj, uint8_t type, ipo_off_t *out)
{
    RegionObject *self = enc->region;
    void *data;
    uint64_t len = type == IPO_T_DATETIME ? sizeof(ipo_datetime_t) : sizeof(ipo_time_t);
    PyObject *tz;
    ipo_clock_t clock;
    if (type == IPO_T_DATETIME) {
        clock.hour = (uint8_t)PyDateTime_DATE_GET_HOUR(obj);
        clock.minute = (uint8_t)PyDateTime_DATE_GET_MINUTE(obj);
        clock.second = (uint8_t)PyDateTime_DATE_GET_SECOND(obj);
        clock.fold = (uint8_t)PyDateTime_DATE_GET_FOLD(obj);
        clock.microsecond = (uint32_t)PyDateTime_DATE_GET_MICROSECOND(obj);
        tz = PyDateTime_DATE_GET_TZINFO(obj);
    } else {
        clock.hour = (uint8_t)PyDateTime_TIME_GET_HOUR(obj);
        clock.minute = (uint8_t)PyDateTime_TIME_GET_MINUTE(obj);
        clock.second = (uint8_t)PyDateTime_TIME_GET_SECOND(obj);
        clock.fold = (uint8_t)PyDateTime_TIME_GET_FOLD(obj);
        clock.microsecond = (uint32_t)PyDateTime_TIME_GET_MICROSECOND(obj);
        tz = PyDateTime_TIME_GET_TZINFO(obj);
    }
    ipo_value_t tzslot;
    if (encode_tzinfo(enc, tz, &tzslot) < 0)
        return -1;
    if (new_container(self, type, len, out, &data) < 0) {
        if (!ipo_value_is_inline(tzslot.type))
            ipo_obj_destroy(&self->r, tzslot.v.off);
        return -1;
    }
    if (type == IPO_T_DATETIME) {
        ipo_datetime_t *dt = data;
        dt->year = (uint16_t)PyDateTime_GET_YEAR(obj);
        dt->month = (uint8_t)PyDateTime_GET_MONTH(obj);
        dt->day = (uint8_t)PyDateTime_GET_DAY(obj);
        dt->clock = clock;
        dt->tzinfo = tzslot;
    } else {
        ipo_time_t *t = data;
        t->clock = clock;
        t->tzinfo = tzslot;
    }
    return 0;
}

static int encode_timedelta(ipo_encoder_t *enc, PyObject *obj, ipo_off_t *out)
{
    ipo_timedelta_t td = { PyDateTime_DELTA_GET_DAYS(obj), PyDateTime_DELTA_GET_SECONDS(obj),
                           PyDateTime_DELTA_GET_MICROSECONDS(obj), 0 };
    return ipo_py_encode_bytes(enc->region, IPO_T_TIMEDELTA, &td, sizeof(td), 0, out);
}

static int encode_timezone(ipo_encoder_t *enc, PyObject *obj, ipo_off_t *out)
{
    RegionObject *self = enc->region;
    /* (offset,) or (offset, name): the name only when one was given. */
    PyObject *args = PyObject_CallMethod(obj, "__getinitargs__", NULL);
    if (!args)
        return -1;
    int rc = -1;
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) < 1 || !PyDelta_Check(PyTuple_GET_ITEM(args, 0))) {
        PyErr_SetString(PyExc_TypeError, "a datetime.timezone that does not describe itself");
        goto done;
    }
    PyObject *delta = PyTuple_GET_ITEM(args, 0);
    PyObject *name = PyTuple_GET_SIZE(args) > 1 ? PyTuple_GET_ITEM(args, 1) : Py_None;
    ipo_value_t name_slot;
    if (encode_value(enc, name, &name_slot) < 0)
        goto done;
    void *data;
    if (new_container(self, IPO_T_TIMEZONE, sizeof(ipo_timezone_t), out, &data) < 0) {
        if (!ipo_value_is_inline(name_slot.type))
            ipo_obj_destroy(&self->r, name_slot.v.off);
        goto done;
    }
    ipo_timezone_t *tz = data;
    tz->offset_us = ((int64_t)PyDateTime_DELTA_GET_DAYS(delta) * 86400 +
                     PyDateTime_DELTA_GET_SECONDS(delta)) * 1000000 +
                    PyDateTime_DELTA_GET_MICROSECONDS(delta);
    tz->name = name_slot;
    rc = 0;
done:
    Py_DECREF(args);
    return rc;
}

/* ---- live containers ------------------------------------------------------------- */

/* Enters a container or object on the path from the root (encode.h). */
static int encoding_enter(ipo_encoder_t *enc, PyObject *obj)
{
    for (Py_ssize_t i = 0; i < enc->depth; i++)
        if (enc->path[i] == obj) {
            PyErr_Format(PyExc_ValueError,
                         "cannot put this '%.200s' into shared memory: it contains itself "
                         "(a reference cycle), and shared containers hold their items by value",
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
    if (Py_EnterRecursiveCall(" while putting a container into shared memory"))
        return -1;
    if (enc->depth == enc->cap) {
        /* Deeper than the path kept inline: on the heap from now on. */
        Py_ssize_t cap = enc->cap * 2;
        int inline_path = enc->path == enc->path_inline;
        PyObject **grown = inline_path ? PyMem_Malloc((size_t)cap * sizeof(PyObject *))
                                       : PyMem_Realloc(enc->path, (size_t)cap * sizeof(PyObject *));
        if (!grown) {
            Py_LeaveRecursiveCall();
            PyErr_NoMemory();
            return -1;
        }
        if (inline_path)
            memcpy(grown, enc->path_inline, (size_t)enc->depth * sizeof(PyObject *));
        enc->path = grown;
        enc->cap = cap;
    }
    enc->path[enc->depth++] = obj;
    return 0;
}

static void encoding_leave(ipo_encoder_t *enc)
{
    enc->depth--;
    Py_LeaveRecursiveCall();
}

static int fail_container(RegionObject *self, ipo_off_t off)
{
    ipo_obj_destroy(&self->r, off);
    return -1;
}

/* A LIST of the items of a sequence (a list, or a tuple the hook made). */
static int encode_list(ipo_encoder_t *enc, PyObject *seq, ipo_off_t *out)
{
    RegionObject *self = enc->region;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int rc = ipo_list_new(&self->r, (uint64_t)n, out);
    if (rc)
        return ipo_py_fail_alloc(self, rc);
    ipo_obj_t *list = (ipo_obj_t *)(self->r.base + *out);
    ipo_list_t *l = ipo_obj_data(list);
    uint64_t len;
    ipo_value_t *items = ipo_list_items(&self->r, list, &len);
    /* A list can change while its items are encoded (an object's hook may
     * run user code): the size is read again at each step. */
    for (Py_ssize_t i = 0; i < n && i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        rc = encode_value(enc, item, &items[i]);
        Py_DECREF(item);
        if (rc < 0) {
            items[i].type = IPO_T_NONE;
            return fail_container(self, *out);
        }
        l->len = (uint64_t)i + 1;
    }
    return 0;
}

int ipo_py_store_is_unchanged_array(RegionObject *self, const ipo_value_t *now, PyObject *value)
{
    const ipo_array_seen_t *seen = &self->array_seen;
    if (now->type != IPO_T_NDARRAY || !seen->off || now->v.off != seen->off || !ipo_py_maybe_array(value))
        return 0;
    const ipo_obj_t *obj, *data;
    if (ipo_obj_get(&self->r, now->v.off, &obj) || obj->type != IPO_T_NDARRAY || obj->gen != seen->gen)
        return 0;
    const ipo_value_t *parts = ipo_py_array_parts(self, obj);
    if (!parts || ipo_obj_get(&self->r, parts[IPO_NDARRAY_DATA].v.off, &data)) {
        PyErr_Clear();
        return 0;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(value, &view, PyBUF_RECORDS_RO) < 0) {
        PyErr_Clear();
        return 0;
    }
    /* The very bytes of the block (not a copy, not a part), seen as the
     * read showed them: a reshaped or retyped view of the same bytes is a
     * store like any other. */
    int same = view.len > 0 && view.buf == ipo_obj_data(data) && (uint64_t)view.len == data->v.len &&
               PyBuffer_IsContiguous(&view, 'C') && view.ndim == seen->ndim &&
               view.itemsize == seen->itemsize &&
               strcmp(view.format ? view.format : "B", seen->format) == 0;
    for (int i = 0; same && i < view.ndim; i++)
        same = view.shape[i] == seen->shape[i];
    PyBuffer_Release(&view);
    return same;
}

/* Tuples nest; a store compares this deep before it writes anyway. */
#define UNCHANGED_DEPTH 4

/* The header of the block at off when it lies inside the mapping, else
 * NULL: what a compare reads first, to tell most unequal values apart (by
 * their length) before it checks the block in full (ipo_obj_get). A
 * header read here decides nothing but "not the same": a store then
 * writes, as it would have anyway. */
static inline const ipo_obj_t *peek_block(const RegionObject *self, ipo_off_t off)
{
    return off <= self->r.size - sizeof(ipo_obj_t) && off % _Alignof(ipo_obj_t) == 0
               ? (const ipo_obj_t *)(self->r.base + off) : NULL;
}

/* Whether value encodes to exactly the stored value (see
 * ipo_py_store_is_unchanged): the types as the encoder picks them, so
 * that 1, True and 1.0, or 0.0 and -0.0, are never taken for each other. */
static int same_as_stored(RegionObject *self, PyObject *value, const ipo_value_t *now, int depth)
{
    PyTypeObject *type = Py_TYPE(value);
    switch (now->type) {
    case IPO_T_NONE:
        return value == Py_None;
    case IPO_T_BOOL:
        return type == &PyBool_Type && now->v.u64 == (uint64_t)(value == Py_True);
    case IPO_T_FLOAT64: {
        if (type != &PyFloat_Type)
            return 0;
        double d = PyFloat_AS_DOUBLE(value);
        return memcmp(&d, &now->v.f64, sizeof(d)) == 0;
    }
    case IPO_T_INT64: {
        if (type != &PyLong_Type)
            return 0;
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        return !overflow && v == now->v.i64; /* an exact int raises nothing */
    }
    case IPO_T_STR: {
        /* ASCII only: its bytes are its UTF-8, at hand without a copy. */
        const ipo_obj_t *obj = peek_block(self, now->v.off);
        if (type != &PyUnicode_Type || !PyUnicode_IS_ASCII(value) || !obj ||
            obj->v.len != (uint64_t)PyUnicode_GET_LENGTH(value) ||
            ipo_obj_get(&self->r, now->v.off, &obj) || obj->type != IPO_T_STR)
            return 0;
        return memcmp(ipo_obj_data(obj), PyUnicode_DATA(value), (size_t)obj->v.len) == 0;
    }
    case IPO_T_TUPLE: {
        const ipo_obj_t *obj = peek_block(self, now->v.off);
        ipo_value_t *values;
        if (type != &PyTuple_Type || depth >= UNCHANGED_DEPTH || !obj ||
            obj->v.len != (uint64_t)PyTuple_GET_SIZE(value) * sizeof(ipo_value_t) ||
            ipo_obj_get(&self->r, now->v.off, &obj) || obj->type != IPO_T_TUPLE)
            return 0;
        size_t n = ipo_obj_values(obj, &values);
        if (n != (size_t)PyTuple_GET_SIZE(value))
            return 0;
        /* Plain loads of a block read with access held; each element's
         * own checks bound what it follows. */
        for (size_t i = 0; i < n; i++)
            if (!same_as_stored(self, PyTuple_GET_ITEM(value, (Py_ssize_t)i), &values[i], depth + 1))
                return 0;
        return 1;
    }
    default:
        return 0;
    }
}

int ipo_py_store_is_unchanged_block(RegionObject *self, const ipo_value_t *now, PyObject *value)
{
    return same_as_stored(self, value, now, 0);
}

/* A value into a slot, with the put's encoder, or for a store into a view
 * (enc NULL) with the store's. */
static int encode_slot(RegionObject *self, ipo_encoder_t *enc, ipo_store_t *st, PyObject *obj,
                       ipo_value_t *slot)
{
    return enc ? encode_value(enc, obj, slot) : ipo_py_store_value(st, self, obj, slot);
}

/* Puts key (and value, for dicts) into a map: a key equal to a stored one
 * replaces its value, as dict does. enc is the put's, or NULL for a store
 * into a view, which encodes with st. */
static int map_put(RegionObject *self, ipo_encoder_t *enc, ipo_store_t *st, ipo_off_t map_off,
                   PyObject *key, PyObject *value)
{
    uint64_t hash;
    if (ipo_py_key_hash(self, key, &hash) < 0)
        return -1;
    ipo_obj_t *map = (ipo_obj_t *)(self->r.base + map_off);
    ipo_table_t *found_in;
    int64_t e = ipo_py_map_find(self, map, key, hash, &found_in);
    if (e == IPO_MAP_ERROR)
        return -1;
    if (e >= 0 && value && !enc &&
        (PyUnicode_CheckExact(value) || PyTuple_CheckExact(value) || ipo_py_maybe_array(value))) {
        /* A shared array stored back where it was read from (`d[k] += 1`),
         * or a str or tuple equal to the one stored: nothing to write. */
        ipo_table_t *t = found_in ? found_in : ipo_map_table(&self->r, map);
        const ipo_value_t *now = t && (uint64_t)e < t->nentries ? &ipo_table_entries(t)[e].value : NULL;
        if (now && (ipo_py_store_is_unchanged(self, now, value) ||
                    ipo_py_store_is_unchanged_array(self, now, value))) {
            ipo_region_mark_changed(&self->r);
            return 0;
        }
    }
    ipo_value_t vslot = { .type = IPO_T_NONE };
    if (value && encode_slot(self, enc, st, value, &vslot) < 0)
        return -1;
    if (e >= 0 && !value)
        return 0; /* a set's key already there */
    if (value && !enc && st->used) {
        /* Encoding went through the encoder, whose hooks (an object's,
         * pickling's __reduce__) may have changed the map: the entry the
         * lookup found may now hold another key, or none. Look again. */
        e = ipo_py_map_find(self, map, key, hash, &found_in);
        if (e == IPO_MAP_ERROR) {
            ipo_value_release(&self->r, &vslot);
            return -1;
        }
    }
    if (e >= 0) {
        /* Old or new at every instruction, the old value released once
         * nothing names it (core/src/containers_value.c). Encoding the value
         * may have run Python code (hooks), which may have changed the
         * table the lookup found: the entry must still be there and live.
         * A number, None or a bool, which encode_inline() stores, ran none:
         * the table the lookup checked is the map's still. */
        PyTypeObject *vt = Py_TYPE(value);
        int ran_none = value == Py_None || vt == &PyFloat_Type || vt == &PyBool_Type || vt == &PyLong_Type;
        int rc = found_in && ran_none && ipo_value_is_inline(vslot.type)
                     ? ipo_map_set_value_in(&self->r, map, found_in, (uint64_t)e, &vslot)
                     : ipo_map_set_value(&self->r, map, (uint64_t)e, &vslot);
        if (rc) {
            ipo_value_release(&self->r, &vslot);
            PyErr_SetString(PyExc_RuntimeError, "shared dictionary changed during a store");
            return -1;
        }
        return 0;
    }
    ipo_value_t kslot;
    if (encode_slot(self, enc, st, key, &kslot) < 0) {
        ipo_value_release(&self->r, &vslot);
        return -1;
    }
    if (!enc && st->used) {
        /* The key's encoding went through the encoder too (an IntEnum, a
         * tuple, a frozenset): its hooks, or a finalizer that one of its
         * allocations ran, may have put this very key into the map. Look
         * again, or the map would hold it twice. */
        e = ipo_py_map_find(self, map, key, hash, NULL);
        if (e != IPO_MAP_ABSENT) {
            ipo_value_release(&self->r, &kslot);
            if (e == IPO_MAP_ERROR) {
                ipo_value_release(&self->r, &vslot);
                return -1;
            }
            if (value && ipo_map_set_value(&self->r, map, (uint64_t)e, &vslot)) {
                ipo_value_release(&self->r, &vslot);
                PyErr_SetString(PyExc_RuntimeError, "shared dictionary changed during a store");
                return -1;
            }
            return 0;
        }
    }
    int rc = ipo_map_insert(&self->r, map, hash, &kslot, value ? &vslot : NULL);
    if (rc) {
        ipo_value_release(&self->r, &kslot);
        ipo_value_release(&self->r, &vslot);
        return ipo_py_fail_alloc(self, rc);
    }
    return 0;
}

int ipo_py_map_put(RegionObject *self, ipo_off_t map_off, PyObject *key, PyObject *value)
{
    ipo_store_t st;
    ipo_py_store_init(&st);
    int rc = map_put(self, NULL, &st, map_off, key, value);
    if (ipo_py_store_finish(&st, rc == 0) < 0)
        rc = -1;
    return rc;
}

/* A DICT from a sequence of (key, value) pairs, or a SET or FROZENSET from
 * an iterable of keys. */
static int encode_map(ipo_encoder_t *enc, uint8_t type, PyObject *source, int pairs, int readonly,
                      ipo_off_t *out)
{
    RegionObject *self = enc->region;
    Py_ssize_t hint = PyObject_LengthHint(source, 8);
    if (hint < 0)
        return -1;
    int rc = ipo_map_new(&self->r, type, (uint64_t)hint, out);
    if (rc)
        return ipo_py_fail_alloc(self, rc);
    if (readonly)
        ((ipo_obj_t *)(self->r.base + *out))->flags |= IPO_OBJ_READONLY;
    PyObject *it = PyObject_GetIter(source), *item;
    if (!it)
        return fail_container(self, *out);
    while ((item = PyIter_Next(it))) {
        if (pairs && (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2)) {
            PyErr_SetString(PyExc_TypeError, "a mapping's items must be (key, value) pairs");
            rc = -1;
        } else {
            rc = pairs ? map_put(self, enc, NULL, *out, PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1))
                       : map_put(self, enc, NULL, *out, item, NULL);
        }
        Py_DECREF(item);
        if (rc < 0)
            break;
    }
    Py_DECREF(it);
    if (rc < 0 || PyErr_Occurred())
        return fail_container(self, *out);
    return 0;
}

/* A run of values (FLDICT, FLSET, an object's VALUES) from a sequence. */
static int encode_run(ipo_encoder_t *enc, uint8_t type, PyObject *seq, ipo_off_t *out)
{
    PyObject *fast = PySequence_Fast(seq, "a run of values must be a sequence");
    if (!fast)
        return -1;
    int rc = encode_container(enc, type, PySequence_Fast_ITEMS(fast),
                              (size_t)PySequence_Fast_GET_SIZE(fast), out);
    Py_DECREF(fast);
    return rc;
}

/* An ndarray: its dtype and shape as values, its data as one BYTES block
 * on a 64-byte boundary, copied once from the array's buffer. describe()
 * gives the parts in the format's order. */
static int encode_ndarray(ipo_encoder_t *enc, PyObject *const *parts, ipo_off_t *out)
{
    RegionObject *self = enc->region;
    Py_buffer view;
    if (PyObject_GetBuffer(parts[IPO_NDARRAY_DATA], &view, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    /* The parts before the data; its slot stays None until its block is made. */
    int rc = encode_container(enc, IPO_T_NDARRAY, parts, IPO_NDARRAY_DATA, out);
    if (rc == 0) {
        ipo_value_t *v = ipo_obj_data((ipo_obj_t *)(self->r.base + *out));
        ipo_off_t data_off;
        void *data;
        int arc = ipo_obj_new_aligned(&self->r, IPO_T_BYTES, (uint64_t)view.len, 1, &data_off, &data);
        if (arc) {
            ipo_py_fail_alloc(self, arc);
            rc = fail_container(self, *out);
        } else {
            if (view.len)
                ipo_copy_in(&self->r, data, view.buf, (size_t)view.len);
            v[IPO_NDARRAY_DATA].type = IPO_T_BYTES;
            v[IPO_NDARRAY_DATA].v.off = data_off;
        }
    }
    PyBuffer_Release(&view);
    return rc;
}

/* The fields of an entry of the adopt hook's list (objects.py), in order,
 * for an object to map in place onto its block once the put has succeeded.
 * Private to this file: ipo_py_encoder_adopted() is how others find one. */
enum { ADOPT_OBJECT, ADOPT_REF, ADOPT_NAMES, ADOPT_ROOT };

static int remember_adoption(ipo_encoder_t *enc, PyObject *obj, PyObject *names, ipo_off_t state_off,
                             ipo_off_t root_off)
{
    RegionObject *self = enc->region;
    /* The view the object's class will read its fields through. */
    PyObject *cls = names == Py_None ? self->st->SharedDict : (PyObject *)self->st->object_ref_type;
    PyObject *ref = ipo_py_new_view(self, cls, state_off);
    PyObject *root = PyLong_FromUnsignedLongLong(root_off);
    PyObject *args = ref && root ? PyTuple_Pack(4, obj, ref, names, root) : NULL;
    Py_XDECREF(ref);
    Py_XDECREF(root);
    int rc = -1;
    if (args && (enc->adoptions || (enc->adoptions = PyList_New(0))))
        rc = PyList_Append(enc->adoptions, args);
    Py_XDECREF(args);
    return rc;
}

/* An object as the describe hook says to store it:
 *   ('list', seq) ('dict', pairs, readonly) ('set', keys, frozen)
 *   ('fldict', flat key-value seq) ('flset', keys)
 *   ('ndarray', descr, shape, data) ('tensor', ndarray) ('enum', class, value)
 *   ('object', class, names or None, values seq or attribute pairs, adopt or None)
 *   ('pickle', bytes) */
static int encode_described(ipo_encoder_t *enc, PyObject *desc, ipo_off_t *out)
{
    RegionObject *self = enc->region;
    if (!PyTuple_Check(desc) || PyTuple_GET_SIZE(desc) < 2 || !PyUnicode_Check(PyTuple_GET_ITEM(desc, 0))) {
        PyErr_SetString(PyExc_SystemError, "ipc_py_objects: bad description from describe()");
        return -1;
    }
    const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(desc, 0));
    PyObject *const *a = &PyTuple_GET_ITEM(desc, 1);
    Py_ssize_t na = PyTuple_GET_SIZE(desc) - 1;
    if (!kind)
        return -1;
    if (strcmp(kind, "list") == 0) {
        PyObject *fast = PySequence_Fast(a[0], "a list's items");
        if (!fast)
            return -1;
        int rc = encode_list(enc, fast, out);
        Py_DECREF(fast);
        return rc;
    }
    if (strcmp(kind, "dict") == 0 && na == 2)
        return encode_map(enc, IPO_T_DICT, a[0], 1, PyObject_IsTrue(a[1]), out);
    if (strcmp(kind, "set") == 0 && na == 2)
        return encode_map(enc, PyObject_IsTrue(a[1]) ? IPO_T_FROZENSET : IPO_T_SET, a[0], 0, 0, out);
    if (strcmp(kind, "fldict") == 0)
        return encode_run(enc, IPO_T_FLDICT, a[0], out);
    if (strcmp(kind, "flset") == 0)
        return encode_run(enc, IPO_T_FLSET, a[0], out);
    if (strcmp(kind, "ndarray") == 0 && na == 3)
        return encode_ndarray(enc, a, out);
    if (strcmp(kind, "tensor") == 0)
        return encode_container(enc, IPO_T_TENSOR, a, IPO_TENSOR_PARTS, out);
    if (strcmp(kind, "enum") == 0 && na == IPO_ENUM_PARTS)
        return encode_container(enc, IPO_T_ENUM, a, IPO_ENUM_PARTS, out);
    if (strcmp(kind, "pickle") == 0 && na == 1 && PyBytes_Check(a[0]))
        return ipo_py_encode_bytes(self, IPO_T_PICKLE, PyBytes_AS_STRING(a[0]), PyBytes_GET_SIZE(a[0]),
                                   0, out);
    if (strcmp(kind, "object") == 0 && na == 4) {
        /* class, names, state: VALUES for a static object, DICT for a general one. */
        PyObject *names = a[1], *state = a[2], *adopt = a[3];
        void *data;
        if (new_container(self, IPO_T_OBJECT, IPO_OBJECT_PARTS * sizeof(ipo_value_t), out, &data) < 0)
            return -1;
        ipo_value_t *v = data;
        ipo_off_t state_off;
        if (encode_value(enc, a[0], &v[IPO_OBJECT_CLASS]) < 0 ||
            encode_value(enc, names, &v[IPO_OBJECT_NAMES]) < 0)
            return fail_container(self, *out);
        int rc = names == Py_None ? encode_map(enc, IPO_T_DICT, state, 1, 0, &state_off)
                                  : encode_run(enc, IPO_T_VALUES, state, &state_off);
        if (rc < 0)
            return fail_container(self, *out);
        v[IPO_OBJECT_STATE].type = ((ipo_obj_t *)(self->r.base + state_off))->type;
        v[IPO_OBJECT_STATE].v.off = state_off;
        if (adopt != Py_None && enc->adopt && remember_adoption(enc, adopt, names, state_off, *out) < 0)
            return fail_container(self, *out);
        return 0;
    }
    PyErr_Format(PyExc_SystemError, "ipc_py_objects: describe() gave an unknown kind '%s'", kind);
    return -1;
}

/* Everything that is not one of the exact built-in types: views, ABCs,
 * wrappers, enums, numpy arrays, torch tensors, user objects. The Python
 * side (objects.py) decides; it raises TypeError for what cannot be stored. */
static int encode_other(ipo_encoder_t *enc, PyObject *obj, ipo_off_t *out)
{
    RegionObject *self = enc->region;
    if (!self->st->describe) {
        PyErr_Format(PyExc_TypeError, "cannot put an object of type '%.200s' into shared memory",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (encoding_enter(enc, obj) < 0)
        return -1;
    PyObject *desc = PyObject_CallOneArg(self->st->describe, obj);
    int rc = desc ? encode_described(enc, desc, out) : -1;
    Py_XDECREF(desc);
    encoding_leave(enc);
    return rc;
}

static int encode_builtin_container(ipo_encoder_t *enc, PyObject *obj, ipo_off_t *out)
{
    if (encoding_enter(enc, obj) < 0)
        return -1;
    int rc;
    PyTypeObject *type = Py_TYPE(obj);
    if (type == &PyList_Type) {
        rc = encode_list(enc, obj, out);
    } else if (type == &PyDict_Type) {
        /* A snapshot of the items: encoding values may run user code. */
        PyObject *items = PyDict_Items(obj);
        rc = items ? encode_map(enc, IPO_T_DICT, items, 1, 0, out) : -1;
        Py_XDECREF(items);
    } else {
        rc = encode_map(enc, type == &PySet_Type ? IPO_T_SET : IPO_T_FROZENSET, obj, 0, 0, out);
    }
    encoding_leave(enc);
    return rc;
}

static int encode_object(ipo_encoder_t *enc, PyObject *obj, ipo_off_t *out)
{
    RegionObject *self = enc->region;
    PyTypeObject *type = Py_TYPE(obj);
    /* Exact types first, most common first: one pointer compare each. */
    if (type == &PyBytes_Type)
        return ipo_py_encode_bytes(self, IPO_T_BYTES, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj), 0,
                                   out);
    if (type == &PyUnicode_Type)
        return ipo_py_encode_str(self, obj, out);
    if (type == &PyLong_Type)
        return ipo_py_encode_int(self, obj, out);
    if (type == &PyFloat_Type) {
        double d = PyFloat_AS_DOUBLE(obj);
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        return ipo_py_encode_scalar(self, IPO_T_FLOAT64, bits, out);
    }
    if (obj == Py_None)
        return ipo_py_encode_scalar(self, IPO_T_NONE, 0, out);
    if (type == &PyBool_Type)
        return ipo_py_encode_scalar(self, IPO_T_BOOL, obj == Py_True, out);
    if (type == &PyTuple_Type)
        return encode_tuple(enc, obj, out);
    if (type == &PyList_Type || type == &PyDict_Type || type == &PySet_Type ||
        type == &PyFrozenSet_Type)
        return encode_builtin_container(enc, obj, out);
    if (type == &PyByteArray_Type)
        return ipo_py_encode_bytes(self, IPO_T_BYTEARRAY, PyByteArray_AS_STRING(obj),
                                   PyByteArray_GET_SIZE(obj), 0, out);
    /* The uncommon types, out of line. */
    if (type == &PyComplex_Type)
        return ipo_py_encode_complex(self, obj, out);
    if (type == &PySlice_Type)
        return encode_slice(enc, obj, out);
    if (PyDateTime_CheckExact(obj))
        return encode_clocked(enc, obj, IPO_T_DATETIME, out);
    if (PyDate_CheckExact(obj))
        return ipo_py_encode_scalar(self, IPO_T_DATE,
                                    (uint64_t)PyDateTime_GET_YEAR(obj) << 16 |
                                        (uint64_t)PyDateTime_GET_MONTH(obj) << 8 |
                                        PyDateTime_GET_DAY(obj),
                                    out);
    if (PyTime_CheckExact(obj))
        return encode_clocked(enc, obj, IPO_T_TIME, out);
    if (PyDelta_CheckExact(obj))
        return encode_timedelta(enc, obj, out);
    if (type == Py_TYPE(PyDateTime_TimeZone_UTC))
        return encode_timezone(enc, obj, out);
    if (strcmp(type->tp_name, "decimal.Decimal") == 0) {
        if (ipo_py_lazy_type(&self->st->DecimalType, "decimal", "Decimal") < 0)
            return -1;
        if (type == (PyTypeObject *)self->st->DecimalType)
            return ipo_py_encode_decimal(self, obj, out);
    }
    if (strcmp(type->tp_name, "zoneinfo.ZoneInfo") == 0) {
        if (ipo_py_lazy_type(&self->st->ZoneInfoType, "zoneinfo", "ZoneInfo") < 0)
            return -1;
        if (type == (PyTypeObject *)self->st->ZoneInfoType)
            return ipo_py_encode_zoneinfo(self, obj, out);
    }
    return encode_other(enc, obj, out);
}

/* None, bool, int64 and float live in the slot itself: 1 when obj was one
 * of them and is stored, 0 when it needs a block, -1 on error. The slot is
 * zeroed first, so that a failed encode names no child. */
static inline int encode_inline(PyObject *obj, ipo_value_t *slot)
{
    PyTypeObject *type = Py_TYPE(obj);
    memset(slot, 0, sizeof(*slot));
    if (obj == Py_None) {
        slot->type = IPO_T_NONE;
        return 1;
    }
    if (type == &PyBool_Type) {
        slot->type = IPO_T_BOOL;
        slot->v.u64 = obj == Py_True;
        return 1;
    }
    if (type == &PyFloat_Type) {
        slot->type = IPO_T_FLOAT64;
        slot->v.f64 = PyFloat_AS_DOUBLE(obj);
        return 1;
    }
    if (type == &PyLong_Type) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (!overflow) {
            slot->type = IPO_T_INT64;
            slot->v.i64 = v;
            return 1;
        }
    }
    return 0;
}

static int encode_value(ipo_encoder_t *enc, PyObject *obj, ipo_value_t *slot)
{
    int stored = encode_inline(obj, slot);
    if (stored)
        return stored < 0 ? -1 : 0;
    ipo_off_t child;
    if (encode_object(enc, obj, &child) < 0)
        return -1;
    slot->type = ((const ipo_obj_t *)(enc->region->r.base + child))->type;
    slot->v.off = child;
    return 0;
}

/* ---- entry points ------------------------------------------------------------------ */

void ipo_py_encoder_init(ipo_encoder_t *enc, RegionObject *region, int adopt)
{
    enc->region = region;
    enc->path = enc->path_inline;
    enc->depth = 0;
    enc->cap = IPO_ENCODER_PATH_INLINE;
    enc->adopt = adopt;
    enc->adoptions = NULL;
}

int ipo_py_encode(ipo_encoder_t *enc, PyObject *obj, ipo_off_t *out)
{
    return encode_object(enc, obj, out);
}

PyObject *ipo_py_encoder_adopted(const ipo_encoder_t *enc, ipo_off_t root)
{
    /* An object's own entry comes after those of the objects inside it. */
    for (Py_ssize_t i = enc->adoptions ? PyList_GET_SIZE(enc->adoptions) : 0; i > 0; i--) {
        PyObject *args = PyList_GET_ITEM(enc->adoptions, i - 1);
        if (PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(args, ADOPT_ROOT)) == root)
            return PyTuple_GET_ITEM(args, ADOPT_OBJECT);
    }
    return NULL;
}

int ipo_py_encoder_finish(ipo_encoder_t *enc, int ok)
{
    if (enc->path != enc->path_inline)
        PyMem_Free(enc->path);
    enc->path = enc->path_inline;
    enc->depth = 0;
    PyObject *adoptions = enc->adoptions;
    enc->adoptions = NULL;
    if (!adoptions)
        return 0;
    /* One call for them all: the hook maps every object or, when one
     * fails, none (a put that fails then leaves each as it was). */
    int rc = 0;
    if (ok) {
        PyObject *r = PyObject_CallOneArg(enc->region->st->adopt, adoptions);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    Py_DECREF(adoptions);
    return rc;
}

int ipo_py_store_value(ipo_store_t *st, RegionObject *self, PyObject *obj, ipo_value_t *slot)
{
    /* Whatever the caller stores the slot into is a write to a live object:
     * this turn changed shared state (ipo_handoff_release counts it). */
    ipo_region_mark_changed(&self->r);
    /* Numbers, None and bools need no encoder: the hot path of item and
     * attribute stores; nor does a str, the commonest of the others. */
    int stored = encode_inline(obj, slot);
    if (stored)
        return stored < 0 ? -1 : 0;
    ipo_off_t child;
    int rc;
    if (Py_TYPE(obj) == &PyUnicode_Type) {
        rc = ipo_py_encode_str(self, obj, &child);
    } else {
        if (!st->used) {
            ipo_py_encoder_init(&st->enc, self, 1);
            st->used = 1;
        }
        rc = encode_object(&st->enc, obj, &child);
    }
    if (rc < 0)
        return -1;
    slot->type = ((const ipo_obj_t *)(self->r.base + child))->type;
    slot->v.off = child;
    return 0;
}

int ipo_py_store_end(ipo_store_t *st, int ok)
{
    st->used = 0;
    return ipo_py_encoder_finish(&st->enc, ok);
}

/* python/src/decode.c — format blocks back to Python objects: plain copies, or views of live containers. */
#include "decode.h"

#include <datetime.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* datetime.h's API pointer is per file: each file that uses it imports it. */
int ipo_py_decode_init(void)
{
    PyDateTime_IMPORT;
    return PyDateTimeAPI ? 0 : -1;
}

int ipo_py_lazy_type(PyObject **slot, const char *module, const char *name)
{
    if (*slot)
        return 0;
    PyObject *mod = PyImport_ImportModule(module);
    if (!mod)
        return -1;
    *slot = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    return *slot ? 0 : -1;
}

int ipo_py_type_is_live(uint8_t type)
{
    switch (type) {
    case IPO_T_LIST: case IPO_T_DICT: case IPO_T_SET: case IPO_T_OBJECT:
    case IPO_T_NDARRAY: case IPO_T_TENSOR: case IPO_T_FLDICT: case IPO_T_FLSET:
        return 1;
    default:
        return 0;
    }
}

static PyObject *decode_value(RegionObject *self, const ipo_value_t *slot, int copy);
static PyObject *decode_live(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy);

/* ---- calling out ------------------------------------------------------------------- */

/* Around code of the user's that a read calls (a class's hook, Decimal,
 * ZoneInfo, unpickling): it counts as running, so it cannot release or
 * close the region under the read (view_base.h), and a read it makes
 * itself is a read of its own, with its own budget of blocks. */
typedef struct { uint64_t left; unsigned depth; } decode_saved_t;

static inline decode_saved_t call_out_begin(RegionObject *self)
{
    decode_saved_t saved = { self->decode_left, self->decode_depth };
    self->running++;
    self->decode_depth = 0;
    return saved;
}

static inline void call_out_end(RegionObject *self, decode_saved_t saved)
{
    self->running--;
    self->decode_left = saved.left;
    self->decode_depth = saved.depth;
}

/* ---- trust ------------------------------------------------------------------------ */

/* Whether this process may unpickle what the region holds and import the
 * classes it names: both run code that whoever wrote the region chose. Yes
 * when trust=True was given, or when the region's file belongs to this user
 * and its mode lets no other user write it; the file is asked once, on
 * first need (the header's own owner and mode fields are not asked: anyone
 * who can write the region can write those). */
static int region_trusted(RegionObject *self)
{
    if (self->trust == IPO_TRUST_UNKNOWN) {
        struct stat st;
        int mine = self->r.fd >= 0 && fstat(self->r.fd, &st) == 0 && st.st_uid == geteuid() &&
                   !(st.st_mode & (S_IWGRP | S_IWOTH));
        self->trust = mine ? IPO_TRUST_FILE : IPO_TRUST_NONE;
    }
    return self->trust != IPO_TRUST_NONE;
}

/* ---- values and immutable objects ------------------------------------------------- */

/* CPython's byte-array conversion of ints changed signature in 3.13. */
static PyObject *bigint_from_bytes(const unsigned char *buf, size_t n)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromNativeBytes(buf, n, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
#else
    return _PyLong_FromByteArray(buf, n, 1, 1);
#endif
}

static PyObject *decode_values_tuple(RegionObject *self, const ipo_obj_t *obj, int copy)
{
    ipo_value_t *values;
    size_t n = ipo_obj_values(obj, &values);
    PyObject *tuple = PyTuple_New((Py_ssize_t)n);
    if (!tuple)
        return NULL;
    if (Py_EnterRecursiveCall(" while reading a tuple from shared memory")) {
        Py_DECREF(tuple);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        PyObject *item = decode_value(self, &values[i], copy);
        if (!item) {
            Py_DECREF(tuple);
            tuple = NULL;
            break;
        }
        PyTuple_SET_ITEM(tuple, (Py_ssize_t)i, item);
    }
    Py_LeaveRecursiveCall();
    return tuple;
}

static PyObject *decode_tzinfo(RegionObject *self, const ipo_value_t *slot)
{
    if (slot->type != IPO_T_NONE && slot->type != IPO_T_TIMEZONE && slot->type != IPO_T_ZONEINFO &&
        slot->type != IPO_T_PICKLE)
        return ipo_py_raise(self->st, -IPO_EBADOBJ, "a time's zone has type code %u", (unsigned)slot->type);
    return decode_value(self, slot, 1);
}

static PyObject *decode_special(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy)
{
    const uint8_t *data = ipo_obj_data(obj);
    switch (obj->type) {
    case IPO_T_COMPLEX: {
        double parts[2];
        memcpy(parts, data, sizeof(parts));
        return PyComplex_FromDoubles(parts[0], parts[1]);
    }
    case IPO_T_DECIMAL: {
        if (ipo_py_lazy_type(&self->st->DecimalType, "decimal", "Decimal") < 0)
            return NULL;
        PyObject *text = PyUnicode_DecodeASCII((const char *)data, (Py_ssize_t)obj->v.len, "strict");
        if (!text)
            return NULL;
        decode_saved_t saved = call_out_begin(self);
        PyObject *value = PyObject_CallOneArg(self->st->DecimalType, text);
        call_out_end(self, saved);
        Py_DECREF(text);
        return value;
    }
    case IPO_T_SLICE: {
        PyObject *bounds = decode_values_tuple(self, obj, 1);
        if (!bounds)
            return NULL;
        PyObject *value = PySlice_New(PyTuple_GET_ITEM(bounds, IPO_SLICE_START),
                                      PyTuple_GET_ITEM(bounds, IPO_SLICE_STOP),
                                      PyTuple_GET_ITEM(bounds, IPO_SLICE_STEP));
        Py_DECREF(bounds);
        return value;
    }
    case IPO_T_DATETIME: {
        const ipo_datetime_t *dt = (const ipo_datetime_t *)data;
        PyObject *tz = decode_tzinfo(self, &dt->tzinfo);
        if (!tz)
            return NULL;
        PyObject *value = PyDateTimeAPI->DateTime_FromDateAndTimeAndFold(
            dt->year, dt->month, dt->day, dt->clock.hour, dt->clock.minute, dt->clock.second,
            (int)dt->clock.microsecond, tz, dt->clock.fold, PyDateTimeAPI->DateTimeType);
        Py_DECREF(tz);
        return value;
    }
    case IPO_T_TIME: {
        const ipo_time_t *t = (const ipo_time_t *)data;
        PyObject *tz = decode_tzinfo(self, &t->tzinfo);
        if (!tz)
            return NULL;
        PyObject *value = PyDateTimeAPI->Time_FromTimeAndFold(
            t->clock.hour, t->clock.minute, t->clock.second, (int)t->clock.microsecond, tz,
            t->clock.fold, PyDateTimeAPI->TimeType);
        Py_DECREF(tz);
        return value;
    }
    case IPO_T_DATE:
        return PyDate_FromDate((int)(obj->v.u64 >> 16), (int)(obj->v.u64 >> 8 & 0xff),
                               (int)(obj->v.u64 & 0xff));
    case IPO_T_TIMEDELTA: {
        const ipo_timedelta_t *td = (const ipo_timedelta_t *)data;
        return PyDelta_FromDSU(td->days, td->seconds, td->microseconds);
    }
    case IPO_T_TIMEZONE: {
        const ipo_timezone_t *tz = (const ipo_timezone_t *)data;
        int64_t us = tz->offset_us;
        int64_t seconds = us / 1000000, micro = us % 1000000;
        PyObject *delta = PyDelta_FromDSU(0, (int)seconds, (int)micro);
        if (!delta)
            return NULL;
        PyObject *name = decode_value(self, &tz->name, 1);
        if (!name) {
            Py_DECREF(delta);
            return NULL;
        }
        PyObject *value = name == Py_None ? PyTimeZone_FromOffset(delta)
                                          : PyTimeZone_FromOffsetAndName(delta, name);
        Py_DECREF(delta);
        Py_DECREF(name);
        return value;
    }
    case IPO_T_TUPLE:
        return decode_values_tuple(self, obj, copy);
    case IPO_T_ZONEINFO: {
        if (ipo_py_lazy_type(&self->st->ZoneInfoType, "zoneinfo", "ZoneInfo") < 0)
            return NULL;
        PyObject *key = PyUnicode_DecodeUTF8((const char *)data, (Py_ssize_t)obj->v.len, "strict");
        if (!key)
            return NULL;
        decode_saved_t saved = call_out_begin(self);
        PyObject *value = PyObject_CallOneArg(self->st->ZoneInfoType, key);
        call_out_end(self, saved);
        Py_DECREF(key);
        return value;
    }
    default:
        return decode_live(self, obj, off, copy);
    }
}

/* ---- live containers and objects ------------------------------------------------- */

/* A plain dict, set or frozenset of a map's entries (live views inside
 * become copies too when `copy`). */
static PyObject *map_copy(RegionObject *self, const ipo_obj_t *obj, int copy)
{
    ipo_table_t *t = ipo_map_table(&self->r, obj);
    if (!t)
        return ipo_py_raise(self->st, -IPO_EBADOBJ, "a shared dict or set has a damaged table");
    PyObject *out = obj->type == IPO_T_DICT ? PyDict_New()
                  : obj->type == IPO_T_SET  ? PySet_New(NULL) : PySet_New(NULL);
    if (!out)
        return NULL;
    ipo_entry_t *e = ipo_table_entries(t);
    for (uint64_t i = 0; i < t->nentries; i++) {
        if (!e[i].live)
            continue;
        PyObject *key = decode_value(self, &e[i].key, 1);
        int rc = -1;
        if (key) {
            if (obj->type == IPO_T_DICT) {
                PyObject *value = decode_value(self, &e[i].value, copy);
                rc = value ? PyDict_SetItem(out, key, value) : -1;
                Py_XDECREF(value);
            } else {
                rc = PySet_Add(out, key);
            }
            Py_DECREF(key);
        }
        if (rc < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    if (obj->type == IPO_T_FROZENSET) {
        PyObject *frozen = PyFrozenSet_New(out);
        Py_DECREF(out);
        return frozen;
    }
    return out;
}

static PyObject *list_copy(RegionObject *self, const ipo_obj_t *obj, int copy)
{
    uint64_t len;
    ipo_value_t *items;
    if (ipo_list_get(&self->r, obj, &items, &len))
        return ipo_py_raise_damaged(self, "a shared list's length exceeds its array, or its array "
                                          "does not check out");
    PyObject *out = PyList_New((Py_ssize_t)len);
    if (!out)
        return NULL;
    for (uint64_t i = 0; i < len; i++) {
        PyObject *item = decode_value(self, &items[i], copy);
        if (!item) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, item);
    }
    return out;
}


/* Notes what an array read as a view of block off shows (ipo_array_seen_t):
 * (of generation gen, as it was before the hook ran) its buffer's format,
 * itemsize and shape, as numpy gives them. Another
 * read replaces the note. Never fails: an array it cannot describe is not
 * noted. */
static void array_seen(RegionObject *self, ipo_off_t off, uint32_t gen, PyObject *array)
{
    ipo_array_seen_t *seen = &self->array_seen;
    seen->off = 0;
    Py_buffer view;
    if (PyObject_GetBuffer(array, &view, PyBUF_RECORDS_RO) < 0) {
        PyErr_Clear();
        return;
    }
    const char *format = view.format ? view.format : "B";
    if (view.ndim >= 0 && view.ndim <= IPO_PY_ARRAY_DIMS && strlen(format) < sizeof(seen->format)) {
        seen->ndim = view.ndim;
        seen->itemsize = view.itemsize;
        for (int i = 0; i < view.ndim; i++)
            seen->shape[i] = view.shape[i];
        strcpy(seen->format, format);
        seen->gen = gen;
        seen->off = off;
    }
    PyBuffer_Release(&view);
}

/* FastLimitedDict and FastLimitedSet: plain copies, rebuilt with this
 * process's own hash (they are never looked up in shared memory). */
static PyObject *run_copy(RegionObject *self, const ipo_obj_t *obj)
{
    PyObject *values = decode_values_tuple(self, obj, 1);
    if (!values)
        return NULL;
    PyObject *out;
    if (obj->type == IPO_T_FLSET) {
        out = PySet_New(values);
    } else {
        out = PyDict_New();
        for (Py_ssize_t i = 0; out && i + 1 < PyTuple_GET_SIZE(values); i += 2)
            if (PyDict_SetItem(out, PyTuple_GET_ITEM(values, i), PyTuple_GET_ITEM(values, i + 1)) < 0)
                Py_CLEAR(out);
    }
    Py_DECREF(values);
    return out;
}

static PyObject *call_hook(PyObject *hook, const char *what)
{
    if (!hook)
        PyErr_Format(PyExc_RuntimeError, "ipc_py_objects: cannot read %s before the package is imported", what);
    return hook;
}


static PyObject *decode_object(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy)
{
    ipo_state *st = self->st;
    if (!call_hook(st->rebuild_object, "an object"))
        return NULL;
    const ipo_value_t *v = ipo_obj_data(obj);
    const ipo_value_t *fields = &v[IPO_OBJECT_STATE];
    const ipo_obj_t *values;
    int is_static = fields->type == IPO_T_VALUES && !ipo_obj_get(&self->r, fields->v.off, &values) &&
                    values->type == IPO_T_VALUES;
    int viewed = !copy && is_static;
    PyObject *block_key = NULL, *class_key = NULL, *result = NULL, *state = NULL;
    /* A view of a static object whose class is known skips the hook
     * (class_cache.c): by its block, or by its class and field names. */
    if (viewed) {
        if (!(block_key = PyLong_FromUnsignedLongLong(off)))
            return NULL;
        if (ipo_py_class_cache_by_block(self, block_key, obj->gen, fields->v.off, &result))
            goto done;
    }
    PyObject *cls = decode_value(self, &v[IPO_OBJECT_CLASS], 1);
    PyObject *names = cls ? decode_value(self, &v[IPO_OBJECT_NAMES], 1) : NULL;
    if (!names)
        goto done_parts;
    if (viewed) {
        if (!(class_key = PyTuple_Pack(2, cls, names)))
            goto done_parts;
        if (ipo_py_class_cache_by_class(self, class_key, block_key, obj->gen, fields->v.off, &result))
            goto done_parts;
    }
    /* A copy gets the state as plain values; a view reads it live. */
    if (copy)
        state = decode_value(self, fields, 1);
    else if (is_static)
        state = ipo_py_new_view(self, (PyObject *)st->object_ref_type, fields->v.off);
    else if (fields->type == IPO_T_DICT)
        state = decode_value(self, fields, 0);
    else
        ipo_py_raise(st, -IPO_EBADOBJ, "a shared object at offset %llu has no fields",
                     (unsigned long long)off);
    if (state) {
        decode_saved_t saved = call_out_begin(self);
        result = PyObject_CallFunction(st->rebuild_object, "OOOii", cls, names, state, copy,
                                       region_trusted(self));
        call_out_end(self, saved);
    }
    if (result && viewed)
        ipo_py_class_cache_remember(self, block_key, class_key, obj->gen, Py_TYPE(result));
done_parts:
    Py_XDECREF(cls);
    Py_XDECREF(names);
    Py_XDECREF(state);
done:
    Py_XDECREF(block_key);
    Py_XDECREF(class_key);
    return result;
}

static PyObject *decode_live(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy)
{
    ipo_state *st = self->st;
    switch (obj->type) {
    case IPO_T_LIST:
        if (copy || !st->SharedList)
            return list_copy(self, obj, copy);
        return ipo_py_new_view(self, st->SharedList, off);
    case IPO_T_DICT:
        if (copy || !st->SharedDict)
            return map_copy(self, obj, copy);
        return ipo_py_new_view(self, (obj->flags & IPO_OBJ_READONLY) ? st->SharedMapping : st->SharedDict, off);
    case IPO_T_SET:
        if (copy || !st->SharedSet)
            return map_copy(self, obj, copy);
        return ipo_py_new_view(self, st->SharedSet, off);
    case IPO_T_FROZENSET:
        return map_copy(self, obj, 1);
    case IPO_T_FLDICT:
    case IPO_T_FLSET:
        return run_copy(self, obj);
    case IPO_T_VALUES: /* an object's fields, read whole for a copy */
        return decode_values_tuple(self, obj, copy);
    case IPO_T_ENUM: {
        PyObject *parts = decode_values_tuple(self, obj, 1);
        if (!parts || !call_hook(st->rebuild_enum, "an enum member")) {
            Py_XDECREF(parts);
            return NULL;
        }
        decode_saved_t saved = call_out_begin(self);
        PyObject *member = PyObject_CallFunction(st->rebuild_enum, "OOi",
                                                 PyTuple_GET_ITEM(parts, IPO_ENUM_CLASS),
                                                 PyTuple_GET_ITEM(parts, IPO_ENUM_VALUE),
                                                 region_trusted(self));
        call_out_end(self, saved);
        Py_DECREF(parts);
        return member;
    }
    case IPO_T_PICKLE: {
        if (!call_hook(st->rebuild_pickled, "a pickled object"))
            return NULL;
        /* A copy of the bytes: unpickling runs code, which could change or
         * free this very block. */
        PyObject *data = PyBytes_FromStringAndSize(ipo_obj_data(obj), (Py_ssize_t)obj->v.len);
        if (!data)
            return NULL;
        decode_saved_t saved = call_out_begin(self);
        PyObject *value = PyObject_CallFunction(st->rebuild_pickled, "Oi", data, region_trusted(self));
        call_out_end(self, saved);
        Py_DECREF(data);
        return value;
    }
    case IPO_T_NDARRAY:
    case IPO_T_TENSOR: {
        if (!call_hook(st->rebuild_ndarray, "a numpy array"))
            return NULL;
        const ipo_value_t *v = ipo_py_array_parts(self, obj);
        if (!v)
            return NULL;
        PyObject *descr = decode_value(self, &v[IPO_NDARRAY_DTYPE], 1);
        PyObject *shape = descr ? decode_value(self, &v[IPO_NDARRAY_SHAPE], 1) : NULL;
        PyObject *buffer = shape ? ipo_py_obj_buffer(self, v[IPO_NDARRAY_DATA].v.off, 0) : NULL;
        PyObject *result = NULL;
        uint32_t gen = obj->gen;
        if (buffer) {
            decode_saved_t saved = call_out_begin(self);
            result = PyObject_CallFunction(st->rebuild_ndarray, "OOOii", descr, shape, buffer,
                                           obj->type == IPO_T_TENSOR, copy);
            call_out_end(self, saved);
            if (result && !copy && obj->type == IPO_T_NDARRAY)
                array_seen(self, off, gen, result);
        }
        Py_XDECREF(descr);
        Py_XDECREF(shape);
        Py_XDECREF(buffer);
        return result;
    }
    case IPO_T_OBJECT:
        return decode_object(self, obj, off, copy);
    default:
        return NULL;
    }
}

/* ---- small str values kept by block ------------------------------------------------ */

/* A str value read again (`k = d[key]` in a loop, a list's item) is the
 * object its last read made while its block holds: same offset, same
 * generation (a STR block is never written in place; freed and made again
 * it has a newer generation), same region (its hash key). Only small ones,
 * so that what is kept stays small: 32 of at most 1 KiB. Kept by block,
 * not by slot, so another process's store (a new block) always misses. */
#define STR_MEMO_MAX_BYTES 1024

static PyObject *decode_counted(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy);

void ipo_py_str_memos_clear(RegionObject *self)
{
    for (size_t i = 0; i < IPO_PY_STR_MEMOS; i++)
        Py_CLEAR(self->str_memos[i].value);
}

/* The STR block obj at off, checked in this read. */
static PyObject *decode_str_kept(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off)
{
    ipo_str_memo_t *m = &self->str_memos[((off >> 4) ^ (off >> 10)) % IPO_PY_STR_MEMOS];
    uint64_t seed = self->r.hash_key[0];
    if (m->value && m->off == off && m->gen == obj->gen && m->seed == seed)
        return Py_NewRef(m->value);
    PyObject *value = decode_counted(self, obj, off, 0);
    if (value && PyUnicode_CheckExact(value)) {
        PyObject *old = m->value;
        m->value = Py_NewRef(value);
        m->off = off;
        m->gen = obj->gen;
        m->seed = seed;
        Py_XDECREF(old); /* a str: its deallocation runs no code */
    }
    return value;
}

/* ---- entry points ------------------------------------------------------------------ */
static PyObject *decode_obj(RegionObject *self, ipo_off_t off, int copy);
static PyObject *decode_block(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy);
static PyObject *decode_unchanged(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy);

static PyObject *decode_value(RegionObject *self, const ipo_value_t *slot, int copy)
{
    switch (slot->type) {
    case IPO_T_NONE:
        Py_RETURN_NONE;
    case IPO_T_BOOL:
        return PyBool_FromLong(slot->v.u64 != 0);
    case IPO_T_INT64:
        return PyLong_FromLongLong(slot->v.i64);
    case IPO_T_FLOAT64:
        return PyFloat_FromDouble(slot->v.f64);
    default: {
        const ipo_obj_t *child;
        if (ipo_obj_get(&self->r, slot->v.off, &child) || child->type != slot->type)
            return ipo_py_raise(self->st, -IPO_EBADOBJ,
                                "a container names offset %llu as a type %u object, which it is not",
                                (unsigned long long)slot->v.off, (unsigned)slot->type);
        /* The block checked out just now: decoded without checking it again. */
        if (child->type == IPO_T_STR && child->v.len <= STR_MEMO_MAX_BYTES)
            return decode_str_kept(self, child, slot->v.off);
        return decode_counted(self, child, slot->v.off, copy);
    }
    }
}

PyObject *ipo_py_decode_value(RegionObject *self, const ipo_value_t *slot, int copy)
{
    return decode_value(self, slot, copy);
}

PyObject *ipo_py_decode(RegionObject *self, ipo_off_t off)
{
    return ipo_py_decode_obj(self, off, 0);
}

/* Every block a read decodes comes through here: a budget of blocks (see
 * decode_left in ipo_python.h) and Python's recursion limit bound the read
 * of any region, damaged or not, however its blocks name each other. */
PyObject *ipo_py_decode_obj(RegionObject *self, ipo_off_t off, int copy)
{
    return decode_counted(self, NULL, off, copy);
}

/* obj: the block at off, checked by the caller (ipo_obj_get), or NULL to
 * check it here. */
static PyObject *decode_counted(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy)
{
    if (self->decode_depth == 0) {
        /* Plain: the root is written only under access, which this read holds. */
        const ipo_alloc_root_t *root = self->r.heap.root;
        uint64_t most = self->r.size / (2 * sizeof(ipo_block_t));
        self->decode_left = root->used_blocks < most ? root->used_blocks : most;
    }
    if (self->decode_left == 0)
        return ipo_py_raise_damaged(self, "a read reached more blocks than the region holds: "
                                          "blocks share a child, or name each other in a cycle");
    if (Py_EnterRecursiveCall(" while reading from shared memory"))
        return NULL;
    self->decode_left--;
    self->decode_depth++;
    PyObject *value = obj ? decode_unchanged(self, obj, off, copy) : decode_obj(self, off, copy);
    self->decode_depth--;
    Py_LeaveRecursiveCall();
    return value;
}

static PyObject *decode_obj(RegionObject *self, ipo_off_t off, int copy)
{
    const ipo_obj_t *obj;
    if (ipo_obj_get(&self->r, off, &obj))
        return ipo_py_raise(self->st, -IPO_EBADOBJ,
                            "offset %llu does not name a live object (was it destroyed?)",
                            (unsigned long long)off);
    return decode_unchanged(self, obj, off, copy);
}

/* decode_block(), and nothing of what it made if the block changed
 * meanwhile. Code of the user's that the decode runs (a hook, a finalizer
 * that a collection started by an allocation here runs) may free the block
 * through a view and reuse its room: what was made of it is then of no
 * object that exists, and is not handed out. The block stays mapped
 * (close() refuses meanwhile), so its generation can be read again. */
static PyObject *decode_unchanged(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy)
{
    uint32_t gen = obj->gen;
    PyObject *value = decode_block(self, obj, off, copy);
    if (value && obj->gen != gen) {
        Py_DECREF(value);
        PyErr_Format(PyExc_RuntimeError,
                     "the shared object at offset %llu of region '%U' was destroyed or replaced "
                     "while it was read, by code the read ran (a class's hook, or a finalizer "
                     "run by a garbage collection)", (unsigned long long)off, self->name);
        return NULL;
    }
    return value;
}

/* The block obj at off, checked (ipo_obj_get) in this read. */
static PyObject *decode_block(RegionObject *self, const ipo_obj_t *obj, ipo_off_t off, int copy)
{
    const char *data = ipo_obj_data(obj);
    switch (obj->type) {
    case IPO_T_BYTES:
        return PyBytes_FromStringAndSize(data, (Py_ssize_t)obj->v.len);
    case IPO_T_STR:
        /* The decoder's ASCII fast path runs at memcpy speed, and decoding
         * (rather than trusting the ASCII flag) keeps a malformed block
         * written by another process from becoming an invalid str. */
        return PyUnicode_DecodeUTF8(data, (Py_ssize_t)obj->v.len, "surrogatepass");
    case IPO_T_INT64:
        return PyLong_FromLongLong(obj->v.i64);
    case IPO_T_FLOAT64:
        return PyFloat_FromDouble(obj->v.f64);
    case IPO_T_NONE:
        Py_RETURN_NONE;
    case IPO_T_BOOL:
        return PyBool_FromLong(obj->v.u64 != 0);
    case IPO_T_BYTEARRAY:
        return PyByteArray_FromStringAndSize(data, (Py_ssize_t)obj->v.len);
    case IPO_T_BIGINT:
        return bigint_from_bytes((const unsigned char *)data, (size_t)obj->v.len);
    default: {
        PyObject *value = decode_special(self, obj, off, copy);
        if (!value && !PyErr_Occurred())
            ipo_py_raise(self->st, -IPO_EBADOBJ,
                         "the object at offset %llu has type code %u, which this version cannot read",
                         (unsigned long long)off, (unsigned)obj->type);
        return value;
    }
    }
}


/* A plain list of plain values: what leaves shared memory whole. */
PyObject *ipo_py_view_copy_out(ViewObject *v, PyObject *unused)
{
    (void)unused;
    if (!ipo_py_view_obj(v))
        return NULL;
    return ipo_py_decode_obj(v->region, v->off, 1);
}


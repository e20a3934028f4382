/* python/src/keys.c — dict and set keys: the format's stable hash, and equality with stored keys. */
#include "keys.h"

#include <datetime.h>

#include "ipo/hash.h"

#include <string.h>

/* datetime.h's API pointer is per file: this file imports it too. */
int ipo_py_keys_init(void)
{
    PyDateTime_IMPORT;
    return PyDateTimeAPI ? 0 : -1;
}

static uint64_t hash_utf8(RegionObject *self, const char *data, Py_ssize_t len)
{
    /* The key as validated at attach: a stray write to the header's copy
     * cannot lose this process's keys (check() reports it). */
    return ipo_hash_bytes(self->r.hash_key, data, (size_t)len);
}

/* A str's bytes as the format stores them: UTF-8, lone surrogates as in
 * 'surrogatepass'. *owner holds them when they are not the str's own. */
static const char *str_bytes(PyObject *s, Py_ssize_t *len, PyObject **owner)
{
    *owner = NULL;
    if (PyUnicode_IS_ASCII(s)) {
        *len = PyUnicode_GET_LENGTH(s);
        return PyUnicode_DATA(s);
    }
    const char *utf8 = PyUnicode_AsUTF8AndSize(s, len);
    if (utf8 || !PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        return utf8;
    PyErr_Clear();
    *owner = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (!*owner)
        return NULL;
    *len = PyBytes_GET_SIZE(*owner);
    return PyBytes_AS_STRING(*owner);
}

/* A key's hash computed, its parts' too (parts are not kept: the keys
 * looked up are). */
static int key_hash_computed(RegionObject *self, PyObject *key, uint64_t *out);

static int hash_parts(RegionObject *self, PyObject *const *parts, Py_ssize_t n, uint64_t tag,
                      uint64_t *out)
{
    uint64_t acc = ipo_hash_combine(IPO_HASH_SEQ_START, tag);
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t h;
        if (key_hash_computed(self, parts[i], &h) < 0)
            return -1;
        acc = ipo_hash_combine(acc, h);
    }
    *out = ipo_hash_finish(acc, (uint64_t)n);
    return 0;
}

static int hash_ints(const long *v, int n, uint64_t tag, uint64_t *out)
{
    uint64_t acc = ipo_hash_combine(IPO_HASH_SEQ_START, tag);
    for (int i = 0; i < n; i++)
        acc = ipo_hash_combine(acc, ipo_hash_int64(v[i]));
    *out = ipo_hash_finish(acc, (uint64_t)n);
    return 0;
}

/* Tags keep a date from hashing as the tuple of its fields (they differ):
 * hash.h lists them with each type's fields, the contract with C. */
enum {
    TAG_TUPLE = IPO_HASH_TAG_TUPLE,
    TAG_DATE = IPO_HASH_TAG_DATE,
    TAG_TIME = IPO_HASH_TAG_TIME,
    TAG_DATETIME = IPO_HASH_TAG_DATETIME,
    TAG_TIMEDELTA = IPO_HASH_TAG_TIMEDELTA
};

/* An aware datetime or time equals any other of the same UTC instant:
 * hash the naive UTC fields. */
static int hash_clocked(RegionObject *self, PyObject *key, int is_datetime, uint64_t *out)
{
    (void)self;
    PyObject *offset = PyObject_CallMethod(key, "utcoffset", NULL);
    if (!offset)
        return -1;
    PyObject *utc = NULL;
    if (offset == Py_None) {
        utc = Py_NewRef(key);
    } else if (is_datetime) {
        PyObject *shifted = PyNumber_Subtract(key, offset);
        if (shifted) {
            PyObject *kw = Py_BuildValue("{s:O}", "tzinfo", Py_None);
            PyObject *args = PyTuple_New(0);
            PyObject *replace = PyObject_GetAttrString(shifted, "replace");
            if (kw && args && replace)
                utc = PyObject_Call(replace, args, kw);
            Py_XDECREF(kw);
            Py_XDECREF(args);
            Py_XDECREF(replace);
            Py_DECREF(shifted);
        }
    } else {
        /* A time's UTC form: its microseconds of the day minus the offset. */
        long us = ((PyDateTime_TIME_GET_HOUR(key) * 60L + PyDateTime_TIME_GET_MINUTE(key)) * 60L +
                   PyDateTime_TIME_GET_SECOND(key)) * 1000000L + PyDateTime_TIME_GET_MICROSECOND(key);
        long off_us = (PyDateTime_DELTA_GET_DAYS(offset) * 86400L +
                       PyDateTime_DELTA_GET_SECONDS(offset)) * 1000000L +
                      PyDateTime_DELTA_GET_MICROSECONDS(offset);
        long parts[1] = { us - off_us };
        Py_DECREF(offset);
        return hash_ints(parts, 1, TAG_TIME, out);
    }
    Py_DECREF(offset);
    if (!utc)
        return -1;
    int rc;
    if (is_datetime) {
        long parts[7] = { PyDateTime_GET_YEAR(utc), PyDateTime_GET_MONTH(utc), PyDateTime_GET_DAY(utc),
                          PyDateTime_DATE_GET_HOUR(utc), PyDateTime_DATE_GET_MINUTE(utc),
                          PyDateTime_DATE_GET_SECOND(utc), PyDateTime_DATE_GET_MICROSECOND(utc) };
        rc = hash_ints(parts, 7, TAG_DATETIME, out);
    } else {
        long parts[1] = { ((PyDateTime_TIME_GET_HOUR(utc) * 60L + PyDateTime_TIME_GET_MINUTE(utc)) * 60L +
                           PyDateTime_TIME_GET_SECOND(utc)) * 1000000L +
                          PyDateTime_TIME_GET_MICROSECOND(utc) };
        rc = hash_ints(parts, 1, TAG_TIME, out);
    }
    Py_DECREF(utc);
    return rc;
}

static int unhashable(PyObject *key)
{
    PyErr_Format(PyExc_TypeError,
                 "a key of type '%.200s' cannot be used in a shared dict or set: keys are None, "
                 "bool, int, float, complex, Decimal, str, bytes, date, time, datetime, "
                 "timedelta, and tuples and frozensets of them", Py_TYPE(key)->tp_name);
    return -1;
}

static int key_hash_computed(RegionObject *self, PyObject *key, uint64_t *out)
{
    PyTypeObject *type = Py_TYPE(key);
    if (type == &PyUnicode_Type) {
        PyObject *owner;
        Py_ssize_t len;
        const char *data = str_bytes(key, &len, &owner);
        if (!data)
            return -1;
        *out = hash_utf8(self, data, len);
        Py_XDECREF(owner);
        return 0;
    }
    if (PyLong_Check(key)) { /* bool and IntEnum members too: they hash as their int */
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(key, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (!overflow) {
            *out = ipo_hash_int64(v);
            return 0;
        }
        Py_hash_t h = PyObject_Hash(key); /* Python's numeric hash has no seed */
        if (h == -1)
            return -1;
        *out = (uint64_t)h;
        return 0;
    }
    if (type == &PyFloat_Type) {
        *out = ipo_hash_double(PyFloat_AS_DOUBLE(key));
        return 0;
    }
    if (key == Py_None) {
        *out = IPO_HASH_NONE;
        return 0;
    }
    if (type == &PyBytes_Type) {
        *out = hash_utf8(self, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key));
        return 0;
    }
    if (type == &PyTuple_Type)
        return hash_parts(self, &PyTuple_GET_ITEM(key, 0), PyTuple_GET_SIZE(key), TAG_TUPLE, out);
    if (type == &PyFrozenSet_Type) {
        /* Order-free: a sum of spread element hashes. */
        uint64_t sum = 0;
        PyObject *it = PyObject_GetIter(key), *item;
        if (!it)
            return -1;
        while ((item = PyIter_Next(it))) {
            uint64_t h;
            int rc = key_hash_computed(self, item, &h);
            Py_DECREF(item);
            if (rc < 0) {
                Py_DECREF(it);
                return -1;
            }
            sum += ipo_hash_spread(h);
        }
        Py_DECREF(it);
        if (PyErr_Occurred())
            return -1;
        *out = ipo_hash_finish(sum, (uint64_t)PySet_GET_SIZE(key));
        return 0;
    }
    if (type == &PyComplex_Type) {
        /* Python's documented complex hash, over our NaN-safe float hash. */
        uint64_t h = ipo_hash_double(PyComplex_RealAsDouble(key)) +
                     1000003u * ipo_hash_double(PyComplex_ImagAsDouble(key));
        *out = h == (uint64_t)-1 ? (uint64_t)-2 : h;
        return 0;
    }
    if (PyDateTime_CheckExact(key))
        return hash_clocked(self, key, 1, out);
    if (PyDate_CheckExact(key)) {
        long parts[3] = { PyDateTime_GET_YEAR(key), PyDateTime_GET_MONTH(key), PyDateTime_GET_DAY(key) };
        return hash_ints(parts, 3, TAG_DATE, out);
    }
    if (PyTime_CheckExact(key))
        return hash_clocked(self, key, 0, out);
    if (PyDelta_CheckExact(key)) {
        long parts[3] = { PyDateTime_DELTA_GET_DAYS(key), PyDateTime_DELTA_GET_SECONDS(key),
                          PyDateTime_DELTA_GET_MICROSECONDS(key) };
        return hash_ints(parts, 3, TAG_TIMEDELTA, out);
    }
    if (strcmp(type->tp_name, "decimal.Decimal") == 0) {
        /* Numeric and seedless, except NaNs (whose hash is their id). */
        PyObject *nan = PyObject_CallMethod(key, "is_nan", NULL);
        if (!nan)
            return -1;
        int is_nan = PyObject_IsTrue(nan);
        Py_DECREF(nan);
        if (is_nan) {
            *out = 0;
            return 0;
        }
        Py_hash_t h = PyObject_Hash(key);
        if (h == -1)
            return -1;
        *out = (uint64_t)h;
        return 0;
    }
    return unhashable(key);
}

/* ---- hashes kept by key object ------------------------------------------------------ */

/* A str or a tuple of keys is hashed (its UTF-8, SipHash; a tuple's
 * elements each) once while it stays one of the region's last few keys:
 * the same object looked up again in a loop (d['k'], a key in a local, a
 * constant) is a load and two compares. Kept by the object, not by its
 * value: nothing is hashed to find the entry. Only exact str and tuple: a
 * subclass may be mutable. */
static inline ipo_key_memo_t *key_memo_of(RegionObject *self, PyObject *key)
{
    uintptr_t p = (uintptr_t)key;
    return &self->key_memos[((p >> 4) ^ (p >> 10)) % IPO_PY_KEY_MEMOS];
}

void ipo_py_key_memos_clear(RegionObject *self)
{
    for (size_t i = 0; i < IPO_PY_KEY_MEMOS; i++)
        Py_CLEAR(self->key_memos[i].key);
}

int ipo_py_key_hash(RegionObject *self, PyObject *key, uint64_t *out)
{
    PyTypeObject *type = Py_TYPE(key);
    if (type != &PyUnicode_Type && type != &PyTuple_Type)
        return key_hash_computed(self, key, out);
    ipo_key_memo_t *m = key_memo_of(self, key);
    if (m->key == key && m->seed == self->r.hash_key[0]) {
        *out = m->hash;
        return 0;
    }
    if (key_hash_computed(self, key, out) < 0)
        return -1;
    /* The old key goes last: its deallocation (a tuple's elements: an
     * aware datetime's tzinfo may be a Python class) may run code that
     * looks keys up again. */
    PyObject *old = m->key;
    m->key = Py_NewRef(key);
    m->hash = *out;
    m->seed = self->r.hash_key[0];
    Py_XDECREF(old);
    return 0;
}

/* ---- equality with a stored key ---------------------------------------------------- */

typedef struct key_probe {
    RegionObject *self;
    PyObject     *key;
    const char   *bytes;    /* str: its UTF-8; bytes: its data; else NULL */
    Py_ssize_t    len;
    uint8_t       want;     /* IPO_T_STR or IPO_T_BYTES when bytes is set */
    int           ran_code; /* a compare decoded a stored key, or ran an __eq__ */
} key_probe_t;

/* Whether the stored str or bytes block holds exactly these bytes. */
static int stored_bytes_eq(RegionObject *self, const ipo_value_t *stored, uint8_t want,
                           const char *bytes, Py_ssize_t len)
{
    /* A str equals only a str, bytes only bytes (a bytearray, which also
     * equals bytes, is never a key). */
    if (stored->type != want)
        return 0;
    const ipo_obj_t *obj;
    if (ipo_obj_get(&self->r, stored->v.off, &obj) || obj->type != want)
        return 0;
    return obj->v.len == (uint64_t)len && memcmp(ipo_obj_data(obj), bytes, (size_t)len) == 0;
}

/* Tuples nest; a comparison looks this deep before it decodes the rest. */
#define KEY_EQ_DEPTH 4

/* Whether key equals the stored value: 1, 0, or -1 with an exception set.
 * The common parts of keys (str, bytes, ints, tuples of them) compare with
 * the block as it lies, without making its Python object; the rest is
 * decoded and compared as Python compares it. */
static int key_eq(RegionObject *self, PyObject *key, const ipo_value_t *stored, int depth, int *ran_code)
{
    PyTypeObject *type = Py_TYPE(key);
    if (type == &PyUnicode_Type || type == &PyBytes_Type) {
        PyObject *owner = NULL;
        Py_ssize_t len;
        const char *bytes;
        if (type == &PyBytes_Type) {
            bytes = PyBytes_AS_STRING(key);
            len = PyBytes_GET_SIZE(key);
        } else if (!(bytes = str_bytes(key, &len, &owner))) {
            return -1;
        }
        int same = stored_bytes_eq(self, stored, type == &PyBytes_Type ? IPO_T_BYTES : IPO_T_STR, bytes, len);
        Py_XDECREF(owner);
        return same;
    }
    if (stored->type == IPO_T_STR || stored->type == IPO_T_BYTES)
        return 0;
    if (stored->type == IPO_T_INT64 && type == &PyLong_Type) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(key, &overflow);
        return !overflow && v == stored->v.i64;
    }
    if (type == &PyTuple_Type && stored->type == IPO_T_TUPLE && depth < KEY_EQ_DEPTH) {
        const ipo_obj_t *obj;
        ipo_value_t *values;
        if (ipo_obj_get(&self->r, stored->v.off, &obj) || obj->type != IPO_T_TUPLE)
            return 0;
        size_t n = ipo_obj_values(obj, &values);
        if (n != (size_t)PyTuple_GET_SIZE(key))
            return 0;
        for (size_t i = 0; i < n; i++) {
            /* Plain loads of a block this process reads with access held;
             * an element's own checks bound what it follows. */
            int same = key_eq(self, PyTuple_GET_ITEM(key, (Py_ssize_t)i), &values[i], depth + 1, ran_code);
            if (same <= 0)
                return same;
        }
        return 1;
    }
    /* Decoding may run a class's hook, and == an __eq__: either may
     * change the map being searched. */
    *ran_code = 1;
    PyObject *value = ipo_py_decode_value(self, stored, 1);
    if (!value)
        return -1;
    int same = PyObject_RichCompareBool(key, value, Py_EQ);
    Py_DECREF(value);
    return same;
}

static int probe_eq(void *ctx, const ipo_value_t *stored)
{
    key_probe_t *p = ctx;
    if (p->bytes)
        return stored_bytes_eq(p->self, stored, p->want, p->bytes, p->len);
    return key_eq(p->self, p->key, stored, 0, &p->ran_code);
}

/* One lookup: the entry, IPO_MAP_ABSENT, or IPO_MAP_ERROR; *ran_code
 * whether a compare ran code, *table the table it searched. */
static int64_t map_find_once(RegionObject *self, const ipo_obj_t *map, PyObject *key, uint64_t hash,
                             int *ran_code, ipo_table_t **table)
{
    key_probe_t p = { self, key, NULL, 0, 0, 0 };
    PyObject *owner = NULL;
    if (PyUnicode_CheckExact(key)) {
        p.bytes = str_bytes(key, &p.len, &owner);
        if (!p.bytes)
            return IPO_MAP_ERROR;
        p.want = IPO_T_STR;
    } else if (PyBytes_CheckExact(key)) {
        p.bytes = PyBytes_AS_STRING(key);
        p.len = PyBytes_GET_SIZE(key);
        p.want = IPO_T_BYTES;
    }
    ipo_table_t *t = ipo_map_table(&self->r, map);
    int64_t e = t ? ipo_map_find_in(t, hash, probe_eq, &p) : IPO_MAP_DAMAGED;
    Py_XDECREF(owner);
    if (e == IPO_MAP_DAMAGED) {
        ipo_py_raise_damaged(self, "a shared dict's or set's table does not check out");
        return IPO_MAP_ERROR;
    }
    *ran_code = p.ran_code;
    *table = t;
    return e;
}

/* How often a lookup whose compares ran code is repeated before a store or
 * read gives up: a key whose __eq__ changes the dict at every call. */
#define MAP_FIND_TRIES 8

int64_t ipo_py_map_find(RegionObject *self, const ipo_obj_t *map, PyObject *key, uint64_t hash,
                        ipo_table_t **table)
{
    if (table)
        *table = NULL;
    int ran_code = 0;
    ipo_table_t *t = NULL;
    int64_t e = map_find_once(self, map, key, hash, &ran_code, &t);
    /* A compare that ran code (an __eq__, a hook, a finalizer) may have
     * changed the map under the lookup: the entry it found may now hold
     * another key, and a key it missed may have been put. As CPython's
     * dict restarts such a lookup, look again until two lookups agree. */
    for (int tries = 1; ran_code && e != IPO_MAP_ERROR; tries++) {
        if (tries == MAP_FIND_TRIES) {
            PyErr_SetString(PyExc_RuntimeError, "shared dictionary changed during a lookup");
            return IPO_MAP_ERROR;
        }
        int64_t again = map_find_once(self, map, key, hash, &ran_code, &t);
        if (again == e)
            break;
        e = again;
    }
    if (table && !ran_code && e != IPO_MAP_ERROR)
        *table = t;
    return e;
}

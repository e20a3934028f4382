/* python/src/codec.c — Python objects to format blocks and back: exact-type dispatch. */
#include "ipo_python.h"

#include <datetime.h>

#include "ipo/copy.h"

#include <string.h>

/* CPython's byte-array conversions of ints changed signature in 3.13. */
static int bigint_to_bytes(PyObject *v, unsigned char *buf, size_t n)
{
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t got = PyLong_AsNativeBytes(v, buf, (Py_ssize_t)n,
                                          Py_ASNATIVEBYTES_LITTLE_ENDIAN);
    return got < 0 ? -1 : 0;
#else
    return _PyLong_AsByteArray((PyLongObject *)v, buf, n, 1, 1);
#endif
}

static PyObject *bigint_from_bytes(const unsigned char *buf, size_t n)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromNativeBytes(buf, n, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
#else
    return _PyLong_FromByteArray(buf, n, 1, 1);
#endif
}

/* The bytes an object of `len` payload bytes needs: header, padding, payload. */
static uint64_t object_bytes(uint64_t len)
{
    return len + (len >= IPO_OBJ_ALIGN_THRESHOLD ? IPO_OBJ_BIG_ALIGN : sizeof(ipo_obj_t));
}

static int fail_alloc(RegionObject *self, int rc, uint64_t requested)
{
    if (rc == -IPO_ENOMEM)
        ipo_py_raise_no_memory(self, requested);
    else
        ipo_py_raise(self->st, rc, "cannot allocate an object of %llu bytes",
                     (unsigned long long)requested);
    return -1;
}

static int encode_scalar(RegionObject *self, uint8_t type, uint64_t bits, ipo_off_t *out)
{
    int rc = ipo_obj_new_scalar(&self->r, type, bits, out);
    return rc ? fail_alloc(self, rc, sizeof(ipo_obj_t)) : 0;
}

static int encode_bytes(RegionObject *self, uint8_t type, const void *src, Py_ssize_t len,
                        uint8_t flags, ipo_off_t *out)
{
    void *data;
    int rc = ipo_obj_new(&self->r, type, (uint64_t)len, out, &data);
    if (rc)
        return fail_alloc(self, rc, object_bytes((uint64_t)len));
    if (len)
        ipo_copy_in(data, src, (size_t)len);
    ((ipo_obj_t *)(self->r.base + *out))->flags |= flags;
    return 0;
}

static int encode_str(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    if (PyUnicode_IS_ASCII(obj))
        return encode_bytes(self, IPO_T_STR, PyUnicode_DATA(obj), PyUnicode_GET_LENGTH(obj),
                            IPO_OBJ_ASCII, out);
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(obj, &len);
    if (utf8)
        return encode_bytes(self, IPO_T_STR, utf8, len, 0, out);
    /* Lone surrogates have no UTF-8 form; keep them as 'surrogatepass' does,
     * so that the string round-trips exactly. */
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        return -1;
    PyErr_Clear();
    PyObject *enc = PyUnicode_AsEncodedString(obj, "utf-8", "surrogatepass");
    if (!enc)
        return -1;
    int rc = encode_bytes(self, IPO_T_STR, PyBytes_AS_STRING(enc), PyBytes_GET_SIZE(enc), 0, out);
    Py_DECREF(enc);
    return rc;
}

static int encode_int(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!overflow)
        return encode_scalar(self, IPO_T_INT64, (uint64_t)v, out);

#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t needed = PyLong_AsNativeBytes(obj, NULL, 0, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
    if (needed < 0)
        return -1;
    size_t n = (size_t)needed;
#else
    /* Two's complement needs one bit more than the magnitude. */
    size_t bits = _PyLong_NumBits(obj);
    if (bits == (size_t)-1 && PyErr_Occurred())
        return -1;
    size_t n = bits / 8 + 1;
#endif
    void *data;
    int rc = ipo_obj_new(&self->r, IPO_T_BIGINT, n, out, &data);
    if (rc)
        return fail_alloc(self, rc, object_bytes(n));
    if (bigint_to_bytes(obj, data, n) < 0) {
        ipo_obj_destroy(&self->r, *out);
        return -1;
    }
    return 0;
}

/* ---- values inside containers --------------------------------------------------- */

static int encode_value(RegionObject *self, PyObject *obj, ipo_value_t *slot);
static PyObject *decode_value(RegionObject *self, const ipo_value_t *slot);

/* A container with n value slots, all None to begin with, so that a failure
 * halfway can destroy it and with it every child made so far. */
static int new_container(RegionObject *self, uint8_t type, uint64_t len, ipo_off_t *out, void **data)
{
    int rc = ipo_obj_new(&self->r, type, len, out, data);
    if (rc)
        return fail_alloc(self, rc, object_bytes(len));
    memset(*data, 0, (size_t)len);
    ipo_value_t *values;
    size_t n = ipo_obj_values((const ipo_obj_t *)(self->r.base + *out), &values);
    for (size_t i = 0; i < n; i++)
        values[i].type = IPO_T_NONE;
    return 0;
}

/* Makes a container of n values and fills it; on failure destroys it with
 * the children made so far. Recursion is bounded as Python bounds it. */
static int encode_container(RegionObject *self, uint8_t type, PyObject *const *items, size_t n,
                            ipo_off_t *out)
{
    void *data;
    if (new_container(self, type, (uint64_t)n * sizeof(ipo_value_t), out, &data) < 0)
        return -1;
    ipo_value_t *values = data; /* offsets never move: the pointer stays good */
    if (Py_EnterRecursiveCall(" while putting a container into shared memory")) {
        ipo_obj_destroy(&self->r, *out);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = encode_value(self, items[i], &values[i]);
    Py_LeaveRecursiveCall();
    if (rc < 0) {
        /* A failed encode_value leaves its slot zeroed, naming no child. */
        ipo_obj_destroy(&self->r, *out);
        return -1;
    }
    return 0;
}

static int encode_tuple(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    return encode_container(self, IPO_T_TUPLE, &PyTuple_GET_ITEM(obj, 0),
                            (size_t)PyTuple_GET_SIZE(obj), out);
}

static int encode_slice(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    PySliceObject *sl = (PySliceObject *)obj;
    PyObject *items[3] = { sl->start, sl->stop, sl->step };
    return encode_container(self, IPO_T_SLICE, items, 3, out);
}

static int encode_complex(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    double parts[2] = { PyComplex_RealAsDouble(obj), PyComplex_ImagAsDouble(obj) };
    return encode_bytes(self, IPO_T_COMPLEX, parts, sizeof(parts), 0, out);
}

static int encode_decimal(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    /* str(Decimal) is exact and context-free: sign, digits, exponent, and
     * the special values with their payloads ('-0', 'sNaN12', '-Infinity'). */
    PyObject *text = PyObject_Str(obj);
    if (!text)
        return -1;
    Py_ssize_t len;
    const char *ascii = PyUnicode_AsUTF8AndSize(text, &len);
    int rc = ascii ? encode_bytes(self, IPO_T_DECIMAL, ascii, len, 0, out) : -1;
    Py_DECREF(text);
    return rc;
}

/* A datetime's or time's tzinfo: None, a fixed offset, or a zoneinfo key. */
static int lazy_type(PyObject **slot, const char *module, const char *name);

static int encode_tzinfo(RegionObject *self, PyObject *tz, ipo_value_t *slot)
{
    PyTypeObject *type = Py_TYPE(tz);
    if (strcmp(type->tp_name, "zoneinfo.ZoneInfo") == 0 &&
        lazy_type(&self->st->ZoneInfoType, "zoneinfo", "ZoneInfo") < 0)
        return -1;
    if (tz == Py_None || type == Py_TYPE(PyDateTime_TimeZone_UTC) ||
        type == (PyTypeObject *)self->st->ZoneInfoType)
        return encode_value(self, tz, slot);
    PyErr_Format(PyExc_TypeError,
                 "cannot put a time zone of type '%.200s' into shared memory: datetime.timezone "
                 "and zoneinfo.ZoneInfo are stored", Py_TYPE(tz)->tp_name);
    return -1;
}

static int encode_clocked(RegionObject *self, PyObject *obj, uint8_t type, ipo_off_t *out)
{
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
    if (encode_tzinfo(self, tz, &tzslot) < 0)
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

static int encode_timedelta(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    ipo_timedelta_t td = { PyDateTime_DELTA_GET_DAYS(obj), PyDateTime_DELTA_GET_SECONDS(obj),
                           PyDateTime_DELTA_GET_MICROSECONDS(obj), 0 };
    return encode_bytes(self, IPO_T_TIMEDELTA, &td, sizeof(td), 0, out);
}

static int encode_timezone(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
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
    if (encode_value(self, name, &name_slot) < 0)
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

static int encode_zoneinfo(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    PyObject *key = PyObject_GetAttrString(obj, "key");
    if (!key)
        return -1;
    int rc = -1;
    if (!PyUnicode_Check(key)) {
        PyErr_SetString(PyExc_TypeError,
                        "cannot put a zoneinfo.ZoneInfo without a key (made from a file) into "
                        "shared memory: other processes could not rebuild it");
    } else {
        Py_ssize_t len;
        const char *utf8 = PyUnicode_AsUTF8AndSize(key, &len);
        if (utf8)
            rc = encode_bytes(self, IPO_T_ZONEINFO, utf8, len, 0, out);
    }
    Py_DECREF(key);
    return rc;
}

/* The types that are looked up by name, imported on first sight. */
static int lazy_type(PyObject **slot, const char *module, const char *name)
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

static int encode_object(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    PyTypeObject *type = Py_TYPE(obj);
    /* Exact types first, most common first: one pointer compare each. */
    if (type == &PyBytes_Type)
        return encode_bytes(self, IPO_T_BYTES, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj), 0, out);
    if (type == &PyUnicode_Type)
        return encode_str(self, obj, out);
    if (type == &PyLong_Type)
        return encode_int(self, obj, out);
    if (type == &PyFloat_Type) {
        double d = PyFloat_AS_DOUBLE(obj);
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        return encode_scalar(self, IPO_T_FLOAT64, bits, out);
    }
    if (obj == Py_None)
        return encode_scalar(self, IPO_T_NONE, 0, out);
    if (type == &PyBool_Type)
        return encode_scalar(self, IPO_T_BOOL, obj == Py_True, out);
    if (type == &PyTuple_Type)
        return encode_tuple(self, obj, out);
    if (type == &PyByteArray_Type)
        return encode_bytes(self, IPO_T_BYTEARRAY, PyByteArray_AS_STRING(obj),
                            PyByteArray_GET_SIZE(obj), 0, out);
    /* The uncommon types, out of line. */
    if (type == &PyComplex_Type)
        return encode_complex(self, obj, out);
    if (type == &PySlice_Type)
        return encode_slice(self, obj, out);
    if (PyDateTime_CheckExact(obj))
        return encode_clocked(self, obj, IPO_T_DATETIME, out);
    if (PyDate_CheckExact(obj))
        return encode_scalar(self, IPO_T_DATE,
                             (uint64_t)PyDateTime_GET_YEAR(obj) << 16 |
                                 (uint64_t)PyDateTime_GET_MONTH(obj) << 8 | PyDateTime_GET_DAY(obj),
                             out);
    if (PyTime_CheckExact(obj))
        return encode_clocked(self, obj, IPO_T_TIME, out);
    if (PyDelta_CheckExact(obj))
        return encode_timedelta(self, obj, out);
    if (type == Py_TYPE(PyDateTime_TimeZone_UTC))
        return encode_timezone(self, obj, out);
    if (strcmp(type->tp_name, "decimal.Decimal") == 0) {
        if (lazy_type(&self->st->DecimalType, "decimal", "Decimal") < 0)
            return -1;
        if (type == (PyTypeObject *)self->st->DecimalType)
            return encode_decimal(self, obj, out);
    }
    if (strcmp(type->tp_name, "zoneinfo.ZoneInfo") == 0) {
        if (lazy_type(&self->st->ZoneInfoType, "zoneinfo", "ZoneInfo") < 0)
            return -1;
        if (type == (PyTypeObject *)self->st->ZoneInfoType)
            return encode_zoneinfo(self, obj, out);
    }
    PyErr_Format(PyExc_TypeError,
                 "cannot put an object of type '%.200s' into shared memory: this version stores "
                 "None, bool, int, float, complex, str, bytes, bytearray, Decimal, slice, tuple, "
                 "and datetime's date, time, datetime, timedelta and timezone",
                 type->tp_name);
    return -1;
}

static int encode_value(RegionObject *self, PyObject *obj, ipo_value_t *slot)
{
    PyTypeObject *type = Py_TYPE(obj);
    memset(slot, 0, sizeof(*slot));
    /* None, bool, int64 and float live in the slot itself. */
    if (obj == Py_None) {
        slot->type = IPO_T_NONE;
        return 0;
    }
    if (type == &PyBool_Type) {
        slot->type = IPO_T_BOOL;
        slot->v.u64 = obj == Py_True;
        return 0;
    }
    if (type == &PyFloat_Type) {
        slot->type = IPO_T_FLOAT64;
        slot->v.f64 = PyFloat_AS_DOUBLE(obj);
        return 0;
    }
    if (type == &PyLong_Type) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (!overflow) {
            slot->type = IPO_T_INT64;
            slot->v.i64 = v;
            return 0;
        }
    }
    ipo_off_t child;
    if (encode_object(self, obj, &child) < 0)
        return -1;
    slot->type = ((const ipo_obj_t *)(self->r.base + child))->type;
    slot->v.off = child;
    return 0;
}

int ipo_py_encode(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    return encode_object(self, obj, out);
}

/* ---- decoding -------------------------------------------------------------------- */

static PyObject *decode_values_tuple(RegionObject *self, const ipo_obj_t *obj)
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
        PyObject *item = decode_value(self, &values[i]);
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
    if (slot->type != IPO_T_NONE && slot->type != IPO_T_TIMEZONE && slot->type != IPO_T_ZONEINFO)
        return ipo_py_raise(self->st, -IPO_EBADOBJ, "a time's zone has type code %u", (unsigned)slot->type);
    return decode_value(self, slot);
}

static PyObject *decode_special(RegionObject *self, const ipo_obj_t *obj)
{
    const uint8_t *data = ipo_obj_data(obj);
    switch (obj->type) {
    case IPO_T_COMPLEX: {
        double parts[2];
        memcpy(parts, data, sizeof(parts));
        return PyComplex_FromDoubles(parts[0], parts[1]);
    }
    case IPO_T_DECIMAL: {
        if (lazy_type(&self->st->DecimalType, "decimal", "Decimal") < 0)
            return NULL;
        PyObject *text = PyUnicode_DecodeASCII((const char *)data, (Py_ssize_t)obj->v.len, "strict");
        if (!text)
            return NULL;
        PyObject *value = PyObject_CallOneArg(self->st->DecimalType, text);
        Py_DECREF(text);
        return value;
    }
    case IPO_T_SLICE: {
        PyObject *bounds = decode_values_tuple(self, obj);
        if (!bounds)
            return NULL;
        PyObject *value = PySlice_New(PyTuple_GET_ITEM(bounds, 0), PyTuple_GET_ITEM(bounds, 1),
                                      PyTuple_GET_ITEM(bounds, 2));
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
        PyObject *name = decode_value(self, &tz->name);
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
        return decode_values_tuple(self, obj);
    case IPO_T_ZONEINFO: {
        if (lazy_type(&self->st->ZoneInfoType, "zoneinfo", "ZoneInfo") < 0)
            return NULL;
        PyObject *key = PyUnicode_DecodeUTF8((const char *)data, (Py_ssize_t)obj->v.len, "strict");
        if (!key)
            return NULL;
        PyObject *value = PyObject_CallOneArg(self->st->ZoneInfoType, key);
        Py_DECREF(key);
        return value;
    }
    default:
        return NULL;
    }
}

static PyObject *decode_value(RegionObject *self, const ipo_value_t *slot)
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
        return ipo_py_decode(self, slot->v.off);
    }
    }
}

PyObject *ipo_py_decode(RegionObject *self, ipo_off_t off)
{
    const ipo_obj_t *obj;
    if (ipo_obj_get(&self->r, off, &obj))
        return ipo_py_raise(self->st, -IPO_EBADOBJ,
                            "offset %llu does not name a live object (was it destroyed?)",
                            (unsigned long long)off);
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
        PyObject *value = decode_special(self, obj);
        if (!value && !PyErr_Occurred())
            ipo_py_raise(self->st, -IPO_EBADOBJ,
                         "the object at offset %llu has type code %u, which this version cannot read",
                         (unsigned long long)off, (unsigned)obj->type);
        return value;
    }
    }
}

int ipo_py_codec_init(void)
{
    PyDateTime_IMPORT;
    return PyDateTimeAPI ? 0 : -1;
}

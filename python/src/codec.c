/* python/src/codec.c — Python objects to format blocks and back: exact-type dispatch. */
#include "ipo_python.h"

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

int ipo_py_encode(RegionObject *self, PyObject *obj, ipo_off_t *out)
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
    if (type == &PyByteArray_Type)
        return encode_bytes(self, IPO_T_BYTEARRAY, PyByteArray_AS_STRING(obj),
                            PyByteArray_GET_SIZE(obj), 0, out);
    PyErr_Format(PyExc_TypeError,
                 "cannot put an object of type '%.200s' into shared memory: this version "
                 "stores None, bool, int, float, str, bytes and bytearray",
                 type->tp_name);
    return -1;
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
    default:
        return ipo_py_raise(self->st, -IPO_EBADOBJ,
                            "the object at offset %llu has type code %u, which this version cannot read",
                            (unsigned long long)off, (unsigned)obj->type);
    }
}

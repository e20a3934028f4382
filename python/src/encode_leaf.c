/* python/src/encode_leaf.c — blocks of values that hold no other: bytes, str, int, complex, Decimal, ZoneInfo. */
#include "encode_leaf.h"

#include "ipo/copy.h"

#include <string.h>

/* CPython's byte-array conversion of ints changed signature in 3.13. */
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

int ipo_py_fail_alloc(RegionObject *self, int rc)
{
    /* The allocator keeps the size it refused, for the report. */
    ipo_py_raise_alloc_failure(self, rc, self->r.heap.refused.size);
    return -1;
}

int ipo_py_encode_scalar(RegionObject *self, uint8_t type, uint64_t bits, ipo_off_t *out)
{
    int rc = ipo_obj_new_scalar(&self->r, type, bits, out);
    return rc ? ipo_py_fail_alloc(self, rc) : 0;
}

int ipo_py_encode_bytes(RegionObject *self, uint8_t type, const void *src, Py_ssize_t len,
                        uint8_t flags, ipo_off_t *out)
{
    void *data;
    int rc = ipo_obj_new(&self->r, type, (uint64_t)len, out, &data);
    if (rc)
        return ipo_py_fail_alloc(self, rc);
    if (len)
        ipo_copy_in(&self->r, data, src, (size_t)len);
    ((ipo_obj_t *)(self->r.base + *out))->flags |= flags;
    return 0;
}

int ipo_py_encode_str(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    if (PyUnicode_IS_ASCII(obj))
        return ipo_py_encode_bytes(self, IPO_T_STR, PyUnicode_DATA(obj), PyUnicode_GET_LENGTH(obj),
                                   IPO_OBJ_ASCII, out);
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(obj, &len);
    if (utf8)
        return ipo_py_encode_bytes(self, IPO_T_STR, utf8, len, 0, out);
    /* Lone surrogates have no UTF-8 form; keep them as 'surrogatepass' does,
     * so that the string round-trips exactly. */
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        return -1;
    PyErr_Clear();
    PyObject *enc = PyUnicode_AsEncodedString(obj, "utf-8", "surrogatepass");
    if (!enc)
        return -1;
    int rc = ipo_py_encode_bytes(self, IPO_T_STR, PyBytes_AS_STRING(enc), PyBytes_GET_SIZE(enc), 0, out);
    Py_DECREF(enc);
    return rc;
}

int ipo_py_encode_int(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!overflow)
        return ipo_py_encode_scalar(self, IPO_T_INT64, (uint64_t)v, out);

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
        return ipo_py_fail_alloc(self, rc);
    if (bigint_to_bytes(obj, data, n) < 0) {
        ipo_obj_destroy(&self->r, *out);
        return -1;
    }
    return 0;
}

int ipo_py_encode_complex(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    double parts[2] = { PyComplex_RealAsDouble(obj), PyComplex_ImagAsDouble(obj) };
    return ipo_py_encode_bytes(self, IPO_T_COMPLEX, parts, sizeof(parts), 0, out);
}

int ipo_py_encode_decimal(RegionObject *self, PyObject *obj, ipo_off_t *out)
{
    /* str(Decimal) is exact and context-free: sign, digits, exponent, and
     * the special values with their payloads ('-0', 'sNaN12', '-Infinity'). */
    PyObject *text = PyObject_Str(obj);
    if (!text)
        return -1;
    Py_ssize_t len;
    const char *ascii = PyUnicode_AsUTF8AndSize(text, &len);
    int rc = ascii ? ipo_py_encode_bytes(self, IPO_T_DECIMAL, ascii, len, 0, out) : -1;
    Py_DECREF(text);
    return rc;
}

int ipo_py_encode_zoneinfo(RegionObject *self, PyObject *obj, ipo_off_t *out)
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
            rc = ipo_py_encode_bytes(self, IPO_T_ZONEINFO, utf8, len, 0, out);
    }
    Py_DECREF(key);
    return rc;
}

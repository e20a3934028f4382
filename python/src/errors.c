/* python/src/errors.c — the one map from IPO_E* codes to exceptions, and the time-limit parser. */
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

static PyObject *class_for(ipo_state *st, int rc)
{
    switch (rc < 0 ? -rc : rc) {
    case IPO_EINVAL:    return PyExc_ValueError;
    case IPO_ENOMEM:    return st->FreeMemoryChunkNotFoundError;
    case IPO_ENOENT:    return st->RegionNotFoundError;
    case IPO_EEXIST:    return st->RegionExistsError;
    case IPO_EAGAIN:    return st->OperationTimedOutError;
    case IPO_ETIMEDOUT: return st->OperationTimedOutError;
    case IPO_ELAYOUT:   return st->IncompatibleRegionError;
    case IPO_EPERM:     return st->RegionPermissionError;
    case IPO_ENOSPC:    return st->NotEnoughSharedMemoryError;
    case IPO_EFULL:     return st->RegionFullError;
    case IPO_ENOTHELD:  return st->AccessNotHeldError;
    case IPO_EEMPTY:    return st->NoMessagesInQueueError;
    case IPO_EBADOBJ:   return st->InvalidOffsetError;
    case IPO_ECORRUPT:  return st->RegionCorruptedError;
    case IPO_ECLOSING:  return st->RegionClosingError;
    case IPO_EBUSY:     return st->ObjectInUseError;
    default:            return st->SharedMemoryError;
    }
}

PyObject *ipo_py_raise(ipo_state *st, int rc, const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;
    va_start(ap, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    if (!msg)
        return NULL;
    if (rc == -IPO_ESYS || rc == IPO_ESYS) {
        /* An OSError that keeps errno, with our context in front. */
        PyObject *full = PyUnicode_FromFormat("%U: %s", msg, strerror(saved_errno));
        Py_DECREF(msg);
        if (!full)
            return NULL;
        PyObject *exc = PyObject_CallFunction(PyExc_OSError, "iO", saved_errno, full);
        Py_DECREF(full);
        if (exc) {
            PyErr_SetObject(PyExc_OSError, exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    PyErr_SetObject(class_for(st, rc), msg);
    Py_DECREF(msg);
    return NULL;
}

PyObject *ipo_py_raise_no_memory(RegionObject *self, uint64_t requested)
{
    ipo_alloc_stats_t s;
    ipo_alloc_stats(&self->r.heap, &s);
    PyObject *msg = PyUnicode_FromFormat(
        "no free chunk of %llu bytes in region '%U' (largest free chunk: %llu bytes; "
        "free in all: %llu of %llu bytes). Destroy objects that are no longer needed, "
        "or create the region with a larger size",
        (unsigned long long)requested, self->name, (unsigned long long)s.largest_free,
        (unsigned long long)s.free_bytes, (unsigned long long)s.heap_size);
    if (!msg)
        return NULL;
    PyObject *exc = PyObject_CallOneArg(self->st->FreeMemoryChunkNotFoundError, msg);
    Py_DECREF(msg);
    if (!exc)
        return NULL;
    /* The figures as attributes too, for programs that adapt to them. */
    PyObject *req = PyLong_FromUnsignedLongLong(requested);
    PyObject *largest = PyLong_FromUnsignedLongLong(s.largest_free);
    if (req && largest && PyObject_SetAttrString(exc, "requested", req) == 0 &&
        PyObject_SetAttrString(exc, "largest_free", largest) == 0)
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_XDECREF(req);
    Py_XDECREF(largest);
    Py_DECREF(exc);
    return NULL;
}

int ipo_py_time_limit(PyObject *arg, double *out)
{
    if (arg == NULL || arg == Py_None) {
        *out = -1.0;
        return 0;
    }
    double v = PyFloat_AsDouble(arg);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "time_limit must be None or a number of seconds, not '%.200s'",
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    if (!(v >= 0.0)) {
        PyErr_SetString(PyExc_ValueError, "time_limit must be None or a number of seconds >= 0");
        return -1;
    }
    *out = v;
    return 0;
}

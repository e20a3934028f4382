/* python/src/errors.c — the one map from IPO_E* codes to exceptions, the messages that explain them. */
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static PyObject *class_for(ipo_state *st, int rc)
{
    switch (rc < 0 ? -rc : rc) {
    case IPO_EINVAL:    return PyExc_ValueError;
    case IPO_ENOMEM:    return st->FreeMemoryChunkNotFoundError;
    case IPO_ENOENT:    return st->RegionNotFoundError;
    case IPO_EEXIST:    return st->RegionExistsError;
    /* "Not ready yet" reaches Python only once a wait for readiness has
     * used up its time limit (init_consumer). */
    case IPO_EAGAIN:    return st->OperationTimedOutError;
    case IPO_ETIMEDOUT: return st->OperationTimedOutError;
    case IPO_ELAYOUT:   return st->IncompatibleRegionError;
    case IPO_EPERM:     return st->RegionPermissionError;
    case IPO_ENOSPC:    return st->NotEnoughSharedMemoryError;
    case IPO_EFULL:     return st->RegionFullError;
    case IPO_ETAKEN:    return st->RegionFullError;   /* the one slot asked for */
    case IPO_ENOTHELD:  return st->AccessNotHeldError;
    case IPO_EEMPTY:    return st->NoMessagesInQueueError;
    case IPO_EBADOBJ:   return st->InvalidOffsetError;
    case IPO_ECORRUPT:  return st->RegionCorruptedError;
    case IPO_ECLOSING:  return st->RegionClosingError;
    case IPO_EBUSY:     return st->ObjectInUseError;
    case IPO_EOVERFLOW: return st->ObjectInUseError;  /* its 65535 buffers in use */
    case IPO_ECREATORGONE: return st->CreatorGoneError;
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

static int set_figure(PyObject *exc, const char *name, uint64_t value)
{
    PyObject *v = PyLong_FromUnsignedLongLong(value);
    int rc = v ? PyObject_SetAttrString(exc, name, v) : -1;
    Py_XDECREF(v);
    return rc;
}

PyObject *ipo_py_raise_no_memory(RegionObject *self)
{
    /* The allocator's own record of the request it refused, with the
     * figures of that moment: what a caller could say instead (the size it
     * meant to store, the room after it cleaned up) would not be what was
     * looked for, nor the room there was when it was looked for. */
    ipo_heap_t *h = &self->r.heap;
    uint64_t requested = h->refused.size, align = h->refused.align, fit = h->refused.fit;
    ipo_alloc_stats_t s;
    ipo_alloc_stats(h, &s);
    PyObject *msg;
    if (align > IPO_ALLOC_GRANULE)
        msg = PyUnicode_FromFormat(
            "no free chunk of region '%U' can hold %llu bytes starting on a %llu-byte boundary "
            "(the object with its header, as asked of the allocator): the most one can is %llu "
            "bytes (largest free chunk: %llu bytes; free in all: %llu of %llu bytes). Destroy "
            "objects that are no longer needed, or create the region with a larger size",
            self->name, (unsigned long long)requested, (unsigned long long)align,
            (unsigned long long)fit, (unsigned long long)h->refused.largest,
            (unsigned long long)h->refused.free_bytes, (unsigned long long)s.heap_size);
    else
        msg = PyUnicode_FromFormat(
            "no free chunk of region '%U' can hold %llu bytes (the object with its header, as "
            "asked of the allocator): the largest free chunk holds %llu bytes (free in all: "
            "%llu of %llu bytes). Destroy objects that are no longer needed, or create the "
            "region with a larger size",
            self->name, (unsigned long long)requested, (unsigned long long)fit,
            (unsigned long long)h->refused.free_bytes, (unsigned long long)s.heap_size);
    if (!msg)
        return NULL;
    PyObject *exc = PyObject_CallOneArg(self->st->FreeMemoryChunkNotFoundError, msg);
    Py_DECREF(msg);
    if (!exc)
        return NULL;
    /* The figures as attributes too, for programs that adapt to them. */
    if (set_figure(exc, "requested", requested) == 0 && set_figure(exc, "alignment", align) == 0 &&
        set_figure(exc, "largest_free", fit) == 0 &&
        set_figure(exc, "largest_free_chunk", h->refused.largest) == 0 &&
        set_figure(exc, "free_bytes", h->refused.free_bytes) == 0)
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

PyObject *ipo_py_raise_damaged(RegionObject *self, const char *what)
{
    char why[256] = "";
    if (ipo_region_check(&self->r, why, sizeof(why)) == 0)
        snprintf(why, sizeof(why), "check() finds nothing else");
    return ipo_py_raise(self->st, -IPO_ECORRUPT, "region '%U' is damaged: %s (%s)", self->name, what, why);
}

PyObject *ipo_py_raise_alloc_failure(RegionObject *self, int rc, uint64_t requested)
{
    if (rc == -IPO_ENOMEM)
        return ipo_py_raise_no_memory(self);
    if (rc == -IPO_ECORRUPT)
        return ipo_py_raise_damaged(self, "its heap's free lists");
    return ipo_py_raise(self->st, rc, "cannot allocate %llu bytes in region '%U'",
                        (unsigned long long)requested, self->name);
}

PyObject *ipo_py_raise_create_error(RegionObject *self, int rc)
{
    if (rc == -IPO_EEXIST && self->opts.keep_stale)
        return ipo_py_raise(self->st, rc,
                            "/dev/shm holds an object named '%U' already, and unlink_old=False "
                            "keeps it: pick another name, or let a region whose participants "
                            "all died be replaced (unlink_old=True)", self->name);
    if (rc == -IPO_EEXIST)
        return ipo_py_raise(self->st, rc,
                            "a live region named '%U' exists, or /dev/shm holds an object of that "
                            "name that is not a region: pick another name, or close the other "
                            "creator first", self->name);
    if (rc == -IPO_ENOSPC) {
        struct statvfs vfs;
        unsigned long long avail = 0;
        if (statvfs("/dev/shm", &vfs) == 0)
            avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
        return ipo_py_raise(self->st, rc,
                            "/dev/shm cannot hold region '%U' of %llu bytes (%llu bytes available): "
                            "ask for less, or free or enlarge /dev/shm",
                            self->name, (unsigned long long)self->opts.size, avail);
    }
    return ipo_py_raise(self->st, rc, "cannot create region '%U'", self->name);
}

/* Why attach refused the region's file, in the caller's terms: the core
 * says only -IPO_EPERM, so look at the file again. */
static PyObject *raise_attach_refused(RegionObject *self, int rc)
{
    const char *name = PyUnicode_AsUTF8(self->name);
    if (!name)
        return NULL;
    char path[300];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
    if (stat(path, &st) == 0) {
        unsigned mode = (unsigned)(st.st_mode & 07777);
        if (st.st_uid != geteuid())
            return ipo_py_raise(self->st, rc,
                                "region '%U' belongs to another user (uid %u), who could change "
                                "it under this process at any time: pass trust=True to attach "
                                "all the same", self->name, (unsigned)st.st_uid);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
            return ipo_py_raise(self->st, rc,
                                "other users may write region '%U' (mode %s), and could change "
                                "it under this process at any time: pass trust=True to attach "
                                "all the same", self->name, ipo_py_octal_text(mode).text);
        if (mode != self->opts.mode)
            return ipo_py_raise(self->st, rc,
                                "region '%U' has mode %s, not the expected %s: pass the "
                                "creator's mode=... if it differs on purpose",
                                self->name, ipo_py_octal_text(mode).text,
                                ipo_py_octal_text(self->opts.mode).text);
    }
    return ipo_py_raise(self->st, rc,
                        "this process may not open region '%U' (its owner or mode forbid it)",
                        self->name);
}

PyObject *ipo_py_raise_attach_error(RegionObject *self, int rc, double time_limit)
{
    switch (-rc) {
    case IPO_ENOENT:
        return ipo_py_raise(self->st, rc,
                            "no region named '%U' appeared within %s: is its creator running, "
                            "and under this name?",
                            self->name, ipo_py_seconds_text(time_limit).text);
    case IPO_EAGAIN:
        return ipo_py_raise(self->st, rc,
                            "region '%U' exists but did not become ready within %s",
                            self->name, ipo_py_seconds_text(time_limit).text);
    case IPO_ECLOSING:
        return ipo_py_raise(self->st, rc,
                            "region '%U' is closing: its creator is leaving", self->name);
    case IPO_EPERM:
        return raise_attach_refused(self, rc);
    case IPO_ECREATORGONE:
        return ipo_py_raise(self->st, rc,
                            "the creator of region '%U' has died: the region is gone (and was "
                            "removed if nobody else was left in it). Attach again once a new "
                            "creator has made it", self->name);
    case IPO_ELAYOUT:
        return ipo_py_raise(self->st, rc,
                            "the shared memory object '%U' is not a region of this version of "
                            "ipc_py_objects (foreign object, other layout version, or damaged "
                            "header)", self->name);
    case IPO_ECORRUPT:
        return ipo_py_raise(self->st, rc,
                            "region '%U' is damaged and was not attached: %s", self->name,
                            ipo_region_corrupt_reason());
    case IPO_EFULL:
        return ipo_py_raise(self->st, rc,
                            "every participant slot of region '%U' is taken: create it with more "
                            "slots=...", self->name);
    case IPO_ETAKEN:
        return ipo_py_raise(self->st, rc,
                            "consumer_id %u of region '%U' is taken by another consumer: pick "
                            "another, or None for any free one",
                            (unsigned)self->opts.consumer_slot - 1, self->name);
    case IPO_EINVAL:
        if (self->opts.consumer_slot)
            return ipo_py_raise(self->st, rc,
                                "consumer_id %u is past the consumer slots of region '%U': its "
                                "creator made fewer slots=...",
                                (unsigned)self->opts.consumer_slot - 1, self->name);
        return ipo_py_raise(self->st, rc, "cannot attach to region '%U'", self->name);
    default:
        return ipo_py_raise(self->st, rc, "cannot attach to region '%U'", self->name);
    }
}

ipo_text_t ipo_py_seconds_text(double seconds)
{
    ipo_text_t t;
    snprintf(t.text, sizeof(t.text), "%g s", seconds);
    return t;
}

ipo_text_t ipo_py_octal_text(unsigned mode)
{
    ipo_text_t t;
    snprintf(t.text, sizeof(t.text), "0o%o", mode);
    return t;
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

/* python/src/errors.h — the bottom layer: return codes to exceptions, and the parsers that raise. */
#ifndef IPO_PY_ERRORS_H
#define IPO_PY_ERRORS_H

#include "ipo_python.h"

/* Sets the exception that stands for an IPO_E* code (its sign does not
 * matter), with a message formatted as PyUnicode_FromFormat does. -IPO_ESYS
 * becomes an OSError that keeps errno. Always returns NULL. */
PyObject *ipo_py_raise(ipo_state *st, int rc, const char *fmt, ...);

/* FreeMemoryChunkNotFoundError for the core's last -IPO_ENOMEM: the
 * request the allocator refused and the room there was then (its record,
 * ipo_heap_t.refused), in the message and as attributes. NULL. */
PyObject *ipo_py_raise_no_memory(RegionObject *self);

/* RegionCorruptedError: `what` the operation found damaged in the region,
 * and what check() finds (the caller holds access), so the message says
 * which invariant broke. NULL. */
PyObject *ipo_py_raise_damaged(RegionObject *self, const char *what);

/* The exception an allocation's failure stands for: out of memory (with
 * the figures), or a damaged heap. NULL. */
PyObject *ipo_py_raise_alloc_failure(RegionObject *self, int rc, uint64_t requested);

/* The message of a failed ipo_region_create() or ipo_region_attach(): what
 * went wrong, in the terms of the arguments the caller gave (name, size,
 * mode, slots, time limit). NULL. */
PyObject *ipo_py_raise_create_error(RegionObject *self, int rc);
PyObject *ipo_py_raise_attach_error(RegionObject *self, int rc, double time_limit);

/* PyUnicode_FromFormat knows neither %f nor %o: these render them first,
 * as "2.5 s" and "0o600". */
typedef struct { char text[32]; } ipo_text_t;
ipo_text_t ipo_py_seconds_text(double seconds);
ipo_text_t ipo_py_octal_text(unsigned mode);

/* Converts a time limit argument (None or a non-negative number) to
 * seconds, -1 for none. 0, or -1 with an exception set. */
int ipo_py_time_limit(PyObject *arg, double *out);

#endif /* IPO_PY_ERRORS_H */

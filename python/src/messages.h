/* python/src/messages.h — the Region's methods on what it holds, for region_type.c's method table. */
#ifndef IPO_PY_MESSAGES_H
#define IPO_PY_MESSAGES_H

#include "views.h"

/* Each needs access, and raises AccessNotHeldError without it. */
PyObject *ipo_py_region_put_message(RegionObject *self, PyObject *obj);
PyObject *ipo_py_region_put_message_2(RegionObject *self, PyObject *obj);
/* The reads take (queue_type) or (default, queue_type), by position or
 * keyword (METH_FASTCALL | METH_KEYWORDS). */
#define IPO_PY_READ(fn) \
    PyObject *fn(RegionObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
IPO_PY_READ(ipo_py_region_take_message);
IPO_PY_READ(ipo_py_region_take_message_2);
IPO_PY_READ(ipo_py_region_read_message);
IPO_PY_READ(ipo_py_region_read_message_2);
IPO_PY_READ(ipo_py_region_pop_message);
IPO_PY_READ(ipo_py_region_pop_message_2);
IPO_PY_READ(ipo_py_region_get_message);
IPO_PY_READ(ipo_py_region_get_message_2);
#undef IPO_PY_READ
PyObject *ipo_py_region_has_messages(RegionObject *self, PyObject *unused);
/* Removes the oldest message without decoding it, and frees its object. */
/* discard_message(queue_type=None): takes queue_type as the reads do. */
PyObject *ipo_py_region_discard_message(RegionObject *self, PyObject *const *args, Py_ssize_t nargs,
                                        PyObject *kwnames);
PyObject *ipo_py_region_destroy_obj(RegionObject *self, PyObject *arg);
PyObject *ipo_py_region_get_obj_buffer(RegionObject *self, PyObject *arg);
PyObject *ipo_py_region_stats(RegionObject *self, PyObject *unused);
PyObject *ipo_py_region_check(RegionObject *self, PyObject *const *args, Py_ssize_t nargs);

#endif /* IPO_PY_MESSAGES_H */

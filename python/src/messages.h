/* python/src/messages.h — the Region's methods on what it holds, for region_type.c's method table. */
#ifndef IPO_PY_MESSAGES_H
#define IPO_PY_MESSAGES_H

#include "views.h"

/* Each needs access, and raises AccessNotHeldError without it. */
PyObject *ipo_py_region_put_message(RegionObject *self, PyObject *obj);
PyObject *ipo_py_region_put_message_2(RegionObject *self, PyObject *obj);
PyObject *ipo_py_region_take_message(RegionObject *self, PyObject *unused);
PyObject *ipo_py_region_take_message_2(RegionObject *self, PyObject *unused);
PyObject *ipo_py_region_read_message(RegionObject *self, PyObject *unused);
PyObject *ipo_py_region_read_message_2(RegionObject *self, PyObject *unused);
PyObject *ipo_py_region_pop_message(RegionObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *ipo_py_region_pop_message_2(RegionObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *ipo_py_region_has_messages(RegionObject *self, PyObject *unused);
/* Removes the oldest message without decoding it, and frees its object. */
PyObject *ipo_py_region_discard_message(RegionObject *self, PyObject *unused);
PyObject *ipo_py_region_destroy_obj(RegionObject *self, PyObject *arg);
PyObject *ipo_py_region_get_obj_buffer(RegionObject *self, PyObject *arg);
PyObject *ipo_py_region_stats(RegionObject *self, PyObject *unused);
PyObject *ipo_py_region_check(RegionObject *self, PyObject *const *args, Py_ssize_t nargs);

#endif /* IPO_PY_MESSAGES_H */

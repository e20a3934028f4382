/* python/src/observe.h — _observe(): a region's figures read from outside, for the command line. */
#ifndef IPO_PY_OBSERVE_H
#define IPO_PY_OBSERVE_H

#include "errors.h"

/* _observe(name, census=False, messages=0, check=False): the region's
 * figures as a dict, read through a read-only mapping without joining
 * (ipo/observe.h): header, access, heap, queue, participants; with census
 * the blocks by type; the first `messages` queued messages (type, class,
 * bytes of their tree); with check, check()'s failure or None. */
PyObject *ipo_py_observe(PyObject *module, PyObject *args, PyObject *kwargs);

#endif /* IPO_PY_OBSERVE_H */

/* python/src/views.h — the live view types: lists, dicts and sets, objects' fields. */
#ifndef IPO_PY_VIEWS_H
#define IPO_PY_VIEWS_H

#include "encode.h"

/* The C types here carry the operations that must run at memory speed
 * (item and attribute reads and writes, len, in, append, pop); the Python
 * classes over them (ipc_py_objects/containers.py, objects.py) add the rest
 * of list's, dict's and set's behaviour out of these. */

/* list_view.c */
extern PyType_Spec ipo_list_view_spec;

/* map_view.c */
extern PyType_Spec ipo_dict_view_spec, ipo_set_view_spec, ipo_map_iter_spec;

/* object_view.c */
extern PyType_Spec ipo_object_ref_spec, ipo_field_spec;

#endif /* IPO_PY_VIEWS_H */

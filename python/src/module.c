/* python/src/module.c — the _ipo module on top of the others: its state, its types and its functions. */
#include "messages.h"
#include "observe.h"

#include <structmember.h>

#include <string.h>

static PyObject *mod_layout(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return Py_BuildValue(
        "{s:K,s:I,s:I,s:n,s:n,s:n,s:n,s:n,s:n,s:I,s:I}",
        "magic", (unsigned long long)IPO_MAGIC,
        "layout_version", (unsigned)IPO_LAYOUT_VERSION,
        "layout_hash", (unsigned)ipo_layout_hash(),
        "magic_offset", (Py_ssize_t)offsetof(ipo_header_t, magic),
        "layout_version_offset", (Py_ssize_t)offsetof(ipo_header_t, layout_version),
        "layout_hash_offset", (Py_ssize_t)offsetof(ipo_header_t, layout_hash),
        "total_size_offset", (Py_ssize_t)offsetof(ipo_header_t, total_size),
        "state_offset", (Py_ssize_t)offsetof(ipo_header_t, state),
        "header_size", (Py_ssize_t)sizeof(ipo_header_t),
        "default_slots", (unsigned)IPO_DEFAULT_SLOTS,
        "max_slots", (unsigned)IPO_MAX_SLOTS);
}

/* ---- what dead processes left ------------------------------------------------ */

/* The leftovers found so far, as (kind, path) tuples. */
typedef struct leftovers {
    PyObject *list;
    int       failed;   /* a Python error is set: add nothing more */
} leftovers_t;

static void add_leftover(void *ctx, int kind, const char *path)
{
    static const char *const kinds[] = {
        [IPO_LEFTOVER_REGION] = "region",
        [IPO_LEFTOVER_CREATING] = "creating",
        [IPO_LEFTOVER_DOORBELL] = "doorbell",
    };
    leftovers_t *found = ctx;
    if (found->failed)
        return;
    /* A path is bytes to the system: decoded as os.fsdecode() would. */
    PyObject *p = PyUnicode_DecodeFSDefault(path);
    PyObject *item = p ? Py_BuildValue("(sN)", kinds[kind], p) : NULL;
    if (!item || PyList_Append(found->list, item) < 0)
        found->failed = 1;
    Py_XDECREF(item);
}

/* Both sweeps, the core's (regions, hidden creation files) and loop/'s
 * (doorbells): each layer knows its own files. */
static PyObject *mod_cleanup(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "dry_run", NULL };
    int dry_run = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p:_cleanup", kwlist, &dry_run))
        return NULL;
    ipo_state *st = PyModule_GetState(module);
    leftovers_t found = { PyList_New(0), 0 };
    if (!found.list)
        return NULL;
    int rc = ipo_cleanup(dry_run, add_leftover, &found);
    int bells = found.failed || rc < 0 ? 0 : ipo_notify_sweep(dry_run, add_leftover, &found);
    if (found.failed) {
        Py_DECREF(found.list);
        return NULL;
    }
    if (rc < 0 || bells < 0) {
        Py_DECREF(found.list);
        if (bells == -IPO_EPERM)
            return ipo_py_raise(st, bells, IPO_DOORBELL_DIR_FMT " is not this user's alone: "
                                "its doorbells were left alone", (unsigned)geteuid());
        return ipo_py_raise(st, rc < 0 ? rc : bells, "cannot look through /dev/shm");
    }
    return found.list;
}

/* References the state holds besides the exceptions. */
#define STATE_TYPES(X) X(DecimalType) X(ZoneInfoType) \
    X(list_view_type) X(dict_view_type) X(set_view_type) X(object_ref_type) X(field_type) \
    X(map_iter_type) X(SharedList) X(SharedDict) X(SharedMapping) X(SharedSet) \
    X(describe) X(rebuild_object) X(rebuild_enum) X(rebuild_ndarray) X(rebuild_pickled) X(adopt) \
    X(object_classes) X(str_ipo_ref_offset) \
    X(aio_manager_type) X(aio_turn_type) X(aio_done_type) X(str_existence) X(str_aenter_queued) \
    X(str_release) X(str_release_if_held) X(str_pump) X(str_fail) X(str_after_readable) \
    X(str_future) X(str_done) X(str_pop) X(str_set_result) \
    X(aio_asleep_type) X(aio_entry_type) X(str_create_future) X(str_append) X(str_abandon) X(str_schedule_peer_check)

/* The names _register() takes, in the state's order. */
#define STATE_HOOKS(X) X(SharedList) X(SharedDict) X(SharedMapping) X(SharedSet) \
    X(describe) X(rebuild_object) X(rebuild_enum) X(rebuild_ndarray) X(rebuild_pickled) X(adopt)

/* ipc_py_objects registers the Python classes over the views and the hooks
 * for the types described in Python, once, at import. */
static PyObject *mod_register(PyObject *module, PyObject *args, PyObject *kwargs)
{
    ipo_state *st = PyModule_GetState(module);
    if (PyTuple_GET_SIZE(args)) {
        PyErr_SetString(PyExc_TypeError, "_register() takes keyword arguments only");
        return NULL;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (kwargs && PyDict_Next(kwargs, &pos, &key, &value)) {
        const char *name = PyUnicode_AsUTF8(key);
        if (!name)
            return NULL;
#define SET(field) \
        if (strcmp(name, #field) == 0) { Py_XSETREF(st->field, Py_NewRef(value)); continue; }
        STATE_HOOKS(SET)
#undef SET
        PyErr_Format(PyExc_TypeError, "_register() got an unexpected keyword '%s'", name);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Where a slot of a class lies in its instances: a generated class's Field
 * descriptors read the instance's link to shared memory from there. */
static PyObject *mod_member_offset(PyObject *module, PyObject *descr)
{
    (void)module;
    if (!PyObject_TypeCheck(descr, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "expected a slot's member descriptor, not '%.200s'",
                     Py_TYPE(descr)->tp_name);
        return NULL;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        PyErr_SetString(PyExc_TypeError, "expected the member descriptor of a __slots__ entry");
        return NULL;
    }
    return PyLong_FromSsize_t(member->offset);
}

static PyMethodDef module_methods[] = {
    { "_member_offset", mod_member_offset, METH_O,
      "_member_offset(descriptor)\n--\n\nFor ipc_py_objects itself: a slot's offset in instances." },
    { "_python_class", ipo_py_python_class, METH_O,
      "_python_class(cls)\n--\n\nFor ipc_py_objects itself: whether cls was made by a class statement." },
    { "_register", (PyCFunction)(void (*)(void))mod_register, METH_VARARGS | METH_KEYWORDS,
      "_register(**hooks)\n--\n\nFor ipc_py_objects itself: the classes and hooks the codec uses." },
    { "_cleanup", (PyCFunction)(void (*)(void))mod_cleanup, METH_VARARGS | METH_KEYWORDS,
      "_cleanup(dry_run=False)\n--\n\nRemoves (dry_run: only finds) this user's leftovers of dead "
      "processes in /dev/shm; a list of (kind, path)." },
    { "_observe", (PyCFunction)(void (*)(void))ipo_py_observe, METH_VARARGS | METH_KEYWORDS,
      "_observe(name, census=False, messages=0, check=False)\n--\n\nA region's figures, read "
      "through a read-only mapping without joining it: for the command line." },
    { "layout", mod_layout, METH_NOARGS,
      "layout()\n--\n\nOffsets and constants of the shared layout, for tools and tests." },
    { NULL, NULL, 0, NULL }
};

/* ---- state and init ------------------------------------------------------------ */

#define STATE_EXCEPTIONS(X) \
    X(SharedMemoryError) X(FreeMemoryChunkNotFoundError) X(NoMessagesInQueueError) \
    X(OperationTimedOutError) X(RegionNotFoundError) X(RegionExistsError) \
    X(RegionPermissionError) X(IncompatibleRegionError) X(RegionClosingError) \
    X(RegionFullError) X(NotEnoughSharedMemoryError) X(AccessNotHeldError) \
    X(RegionClosedError) X(InvalidOffsetError) X(ObjectInUseError) X(RegionCorruptedError) \
    X(WrongObjectTypeError) X(CreatorGoneError)

static int module_exec(PyObject *module)
{
    ipo_state *st = PyModule_GetState(module);
    if (ipo_py_decode_init() < 0 || ipo_py_keys_init() < 0 || ipo_py_encode_init() < 0)
        return -1;
    PyObject *errors = PyImport_ImportModule("ipc_py_objects.errors");
    if (!errors)
        return -1;
#define LOAD(name) \
    if (!(st->name = PyObject_GetAttrString(errors, #name))) { Py_DECREF(errors); return -1; }
    STATE_EXCEPTIONS(LOAD)
#undef LOAD
    Py_DECREF(errors);

    st->region_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ipo_region_spec, NULL);
    st->guard_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ipo_guard_spec, NULL);
    st->buffer_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ipo_buffer_spec, NULL);
    st->waiter_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ipo_waiter_spec, NULL);
    if (!st->region_type || !st->guard_type || !st->buffer_type || !st->waiter_type)
        return -1;
    /* The guards proper: subclasses of AccessGuard, which holds their behaviour. */
    PyObject *guard_base = (PyObject *)st->guard_type;
    st->wait_turn_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ipo_wait_my_turn_spec, guard_base);
    st->wait_messages_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ipo_wait_messages_spec, guard_base);
    st->get_in_line_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ipo_get_in_line_spec, guard_base);
    if (!st->wait_turn_type || !st->wait_messages_type || !st->get_in_line_type ||
        ipo_py_guard_types_ready(module, st) < 0)
        return -1;
    if (PyModule_AddType(module, st->region_type) < 0 || PyModule_AddType(module, st->guard_type) < 0 ||
        PyModule_AddType(module, st->wait_turn_type) < 0 ||
        PyModule_AddType(module, st->wait_messages_type) < 0 ||
        PyModule_AddType(module, st->get_in_line_type) < 0 ||
        PyModule_AddType(module, st->waiter_type) < 0 || ipo_py_aio_types_ready(module, st) < 0)
        return -1;
    struct { PyTypeObject **slot; PyType_Spec *spec; } views[] = {
        { &st->list_view_type, &ipo_list_view_spec },
        { &st->dict_view_type, &ipo_dict_view_spec },
        { &st->set_view_type, &ipo_set_view_spec },
        { &st->object_ref_type, &ipo_object_ref_spec },
        { &st->field_type, &ipo_field_spec },
        { &st->map_iter_type, &ipo_map_iter_spec },
    };
    if (!(st->str_ipo_ref_offset = PyUnicode_InternFromString("__ipo_ref_offset__")))
        return -1;
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        *views[i].slot = (PyTypeObject *)PyType_FromModuleAndSpec(module, views[i].spec, NULL);
        if (!*views[i].slot || PyModule_AddType(module, *views[i].slot) < 0)
            return -1;
    }
    if (PyModule_AddIntConstant(module, "WAIT_FOR_ACCESS", IPO_WAIT_FOR_ACCESS) < 0 ||
        PyModule_AddIntConstant(module, "WAIT_FOR_MESSAGES", IPO_WAIT_FOR_MESSAGES) < 0 ||
        PyModule_AddIntConstant(module, "WAIT_FOR_CHANGE", IPO_WAIT_FOR_CHANGE) < 0 ||
        PyModule_AddIntConstant(module, "WAIT_HELD", IPO_WAIT_HELD) < 0 ||
        PyModule_AddIntConstant(module, "WAIT_SLEEP", IPO_WAIT_SLEEP) < 0 ||
        PyModule_AddIntConstant(module, "WAIT_AGAIN", IPO_WAIT_AGAIN) < 0)
        return -1;
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
    ipo_state *st = PyModule_GetState(module);
    Py_VISIT(st->region_type);
    Py_VISIT(st->guard_type);
    Py_VISIT(st->wait_turn_type);
    Py_VISIT(st->wait_messages_type);
    Py_VISIT(st->get_in_line_type);
    Py_VISIT(st->guard_method_type);
    Py_VISIT(st->guard_slot_type);
    Py_VISIT(st->buffer_type);
    Py_VISIT(st->waiter_type);
#define VISIT(name) Py_VISIT(st->name);
    STATE_EXCEPTIONS(VISIT)
    STATE_TYPES(VISIT)
#undef VISIT
    return 0;
}

static int module_clear(PyObject *module)
{
    ipo_state *st = PyModule_GetState(module);
    Py_CLEAR(st->region_type);
    Py_CLEAR(st->guard_type);
    Py_CLEAR(st->wait_turn_type);
    Py_CLEAR(st->wait_messages_type);
    Py_CLEAR(st->get_in_line_type);
    ipo_py_guard_free_list_clear(st);
    Py_CLEAR(st->guard_method_type);
    Py_CLEAR(st->guard_slot_type);
    for (int i = 0; i < 3; i++)
        Py_CLEAR(st->guard_keywords[i]);
    Py_CLEAR(st->buffer_type);
    Py_CLEAR(st->waiter_type);
#define CLEAR(name) Py_CLEAR(st->name);
    STATE_EXCEPTIONS(CLEAR)
    STATE_TYPES(CLEAR)
#undef CLEAR
    return 0;
}

static void module_free(void *module)
{
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    { Py_mod_exec, (void *)module_exec },
    { 0, NULL }
};

struct PyModuleDef ipo_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ipc_py_objects._ipo",
    .m_doc = "The C core of ipc_py_objects: regions, access, messages and the object codec.",
    .m_size = sizeof(ipo_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__ipo(void);

PyMODINIT_FUNC PyInit__ipo(void)
{
    return PyModuleDef_Init(&ipo_module_def);
}

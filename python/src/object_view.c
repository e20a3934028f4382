/* python/src/object_view.c — ObjectRef, an instance's link to its shared fields; Field, one field's descriptor. */
#include "views.h"

/* A static object's fields are a VALUES block of fixed length; instances of
 * its generated class hold an ObjectRef (a view of that block), and each
 * field is a data descriptor that reads and writes one slot.
 *
 * An ObjectRef keeps, per field, the value its last read or write made
 * (memo.h): reading `thing.company_info` again gives the same instance, and
 * `thing.str_value` the same str, without decoding, while the slot still
 * holds that block of that generation; the memo is checked on every read.
 * The memos are one small array per ObjectRef, made on the first read of a
 * field that keeps one: at most one value per field, replaced when the
 * field changes, gone with the ObjectRef (so with the instance). */
typedef struct ObjectRefObject {
    ViewObject  view;
    ipo_memo_t *memos;   /* NULL until a field's value is kept */
    Py_ssize_t  nmemos;
} ObjectRefObject;

/* Fields past this many are read without a memo: a damaged block that
 * claims a huge length costs no huge array. */
#define REF_MEMOS_MAX 1024

/* The memo of field index, made on demand when `make`; NULL when none. */
static ipo_memo_t *ref_memo(ObjectRefObject *ref, Py_ssize_t index, const ipo_obj_t *values, int make)
{
    if (ref->memos)
        return index < ref->nmemos ? &ref->memos[index] : NULL;
    if (!make || index >= REF_MEMOS_MAX)
        return NULL;
    Py_ssize_t n = (Py_ssize_t)(values->v.len / sizeof(ipo_value_t));
    if (n > REF_MEMOS_MAX)
        n = REF_MEMOS_MAX;
    if (index >= n)
        return NULL;
    ref->memos = PyMem_Calloc((size_t)n, sizeof(ipo_memo_t));
    if (!ref->memos)
        return NULL; /* a memo only saves time: read without one */
    ref->nmemos = n;
    return &ref->memos[index];
}

static int ObjectRef_traverse(ObjectRefObject *ref, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < ref->nmemos; i++)
        Py_VISIT(ref->memos[i].value);
    return ipo_py_view_traverse(&ref->view, visit, arg);
}

static int ObjectRef_clear(ObjectRefObject *ref)
{
    /* The array goes first, so that a value whose deallocation reads this
     * ObjectRef again finds no memo. */
    ipo_memo_t *memos = ref->memos;
    Py_ssize_t n = ref->nmemos;
    ref->memos = NULL;
    ref->nmemos = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        ipo_py_memo_clear(&memos[i]);
    PyMem_Free(memos);
    return ipo_py_view_clear(&ref->view);
}

static void ObjectRef_dealloc(ObjectRefObject *ref)
{
    PyTypeObject *tp = Py_TYPE(ref);
    PyObject_GC_UnTrack(ref);
    ObjectRef_clear(ref);
    tp->tp_free(ref);
    Py_DECREF(tp);
}

static PyMethodDef object_ref_methods[] = {
    IPO_VIEW_METHODS,
    { NULL, NULL, 0, NULL }
};

static PyType_Slot object_ref_slots[] = {
    { Py_tp_traverse, (void *)ObjectRef_traverse },
    { Py_tp_clear, (void *)ObjectRef_clear },
    { Py_tp_dealloc, (void *)ObjectRef_dealloc },
    { Py_tp_getset, ipo_py_view_getset },
    { Py_tp_hash, (void *)PyObject_HashNotImplemented },
    { Py_tp_methods, object_ref_methods },
    { Py_tp_doc, (void *)"A reference from an instance to its shared fields." },
    { 0, NULL }
};

PyType_Spec ipo_object_ref_spec = {
    .name = "ipc_py_objects._ipo.ObjectRef",
    .basicsize = sizeof(ObjectRefObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = object_ref_slots,
};

typedef struct FieldObject {
    PyObject_HEAD
    Py_ssize_t    index;
    Py_ssize_t    ref_offset;  /* where instances keep their ObjectRef; 0: in __dict__ */
    PyObject     *name;
    PyObject     *ref_key;     /* the __dict__ key when ref_offset is 0 */
    PyTypeObject *ref_type;
} FieldObject;

static ObjectRefObject *instance_ref(FieldObject *f, PyObject *inst)
{
    PyObject *ref = NULL;
    if (f->ref_offset > 0) {
        ref = *(PyObject **)((char *)inst + f->ref_offset);
    } else {
        PyObject *dict = PyObject_GenericGetDict(inst, NULL);
        if (!dict)
            return NULL;
        ref = PyDict_GetItemWithError(dict, f->ref_key);
        Py_DECREF(dict); /* the instance keeps it, and ref, alive */
        if (!ref && PyErr_Occurred())
            return NULL;
    }
    if (!ref || Py_TYPE(ref) != f->ref_type) {
        PyErr_Format(PyExc_AttributeError,
                     "'%.200s' object has no shared fields (it was not made by ipc_py_objects)",
                     Py_TYPE(inst)->tp_name);
        return NULL;
    }
    return (ObjectRefObject *)ref;
}

/* The slot of this field in the block of ref (its VALUES, into *holder),
 * needs access. */
static inline __attribute__((always_inline)) ipo_value_t *field_slot(FieldObject *f, ObjectRefObject *ref,
                                                                      ipo_obj_t **holder)
{
    ipo_obj_t *values = ipo_py_view_obj(&ref->view);
    *holder = values;
    if (!values)
        return NULL;
    /* The block was checked when the view was made; its length is checked
     * against the mapping again, as another process may have written it. */
    if ((uint64_t)f->index >= values->v.len / sizeof(ipo_value_t) ||
        values->v.len > ref->view.region->r.size - ref->view.off - ipo_obj_data_rel(values)) {
        ipo_py_raise(ref->view.region->st, -IPO_EBADOBJ, "a shared object has fewer fields than its class");
        return NULL;
    }
    return (ipo_value_t *)ipo_obj_data(values) + f->index;
}

/* A read that its memo does not answer: decode, and keep the value when
 * it is of a kind kept. The decode may run Python code (a class's hook),
 * which may drop the instance's link to ref, or read this field again: ref
 * is held meanwhile, and its memo found again after. */
static __attribute__((noinline)) PyObject *field_get_decoding(FieldObject *f, ObjectRefObject *ref,
                                                             ipo_obj_t *values, ipo_value_t *slot)
{
    RegionObject *region = ref->view.region;
    ipo_memo_t key;
    int keep = ipo_py_memo_key(region, slot, &key);
    if (keep && !ref_memo(ref, f->index, values, 1))
        keep = 0;
    Py_INCREF(ref);
    /* Counted as running: a collection that decoding's allocations start
     * runs finalizers, which must not release or close the region under
     * the read. Here, not in Field_get, whose memo hits run no code. */
    region->running++;
    PyObject *value = ipo_py_decode_value(region, slot, 0);
    region->running--;
    ipo_memo_t *m;
    if (value && keep && (m = ref_memo(ref, f->index, values, 0)))
        ipo_py_memo_set(m, &key, value);
    Py_DECREF(ref);
    return value;
}

/* Reading and writing a field is one operation each, in the turn held or
 * in one taken for it (view_base.h), of the region of the instance's block. */
static PyObject *field_get(FieldObject *f, ObjectRefObject *ref)
{
    ipo_obj_t *values;
    ipo_value_t *slot = field_slot(f, ref, &values);
    if (!slot)
        return NULL;
    /* None, bools and small ints are made as fast as a memo is checked
     * (they are CPython's own, shared); any other int or a float is an
     * allocation, which a memo saves while the field keeps its bits (a
     * store keeps the object stored, so `obj.n += 1` reads back the int it
     * wrote, as plain Python does), and a block a decode. */
    switch (slot->type) {
    case IPO_T_NONE:
        Py_RETURN_NONE;
    case IPO_T_BOOL:
        return PyBool_FromLong(slot->v.u64 != 0);
    case IPO_T_INT64:
        if (IPO_PY_SMALL_INT(slot->v.i64))
            return PyLong_FromLongLong(slot->v.i64);
        break;
    default:
        break;
    }
    if (f->index < ref->nmemos) {
        PyObject *hit = ipo_py_memo_hit(ref->view.region, &ref->memos[f->index], slot);
        if (hit)
            return hit;
    }
    if (slot->type != IPO_T_FLOAT64 && slot->type != IPO_T_INT64)
        return field_get_decoding(f, ref, values, slot);
    PyObject *value = slot->type == IPO_T_FLOAT64 ? PyFloat_FromDouble(slot->v.f64)
                                                 : PyLong_FromLongLong(slot->v.i64);
    ipo_memo_t *m;
    if (value && (m = ref_memo(ref, f->index, values, 1))) {
        ipo_memo_t key = { NULL, slot->v.u64, 0, slot->type };
        ipo_py_memo_set(m, &key, value);
    }
    return value;
}

/* Outside a turn, out of line: the wait lets other threads run, so the
 * instance's reference to its block, borrowed, is held meanwhile (one of
 * them could replace it). */
static __attribute__((noinline, cold)) PyObject *field_get_taking_a_turn(FieldObject *f, ObjectRefObject *ref)
{
    Py_INCREF(ref);
    ipo_own_turn_t turn;
    PyObject *value = NULL;
    if (ipo_py_turn_take(ref->view.region, &turn) == 0) {
        value = field_get(f, ref);
        ipo_py_turn_end(&turn);
    }
    Py_DECREF(ref);
    return value;
}

static PyObject *Field_get(FieldObject *f, PyObject *inst, PyObject *owner)
{
    (void)owner;
    if (!inst)
        return Py_NewRef((PyObject *)f);
    ObjectRefObject *ref = instance_ref(f, inst);
    if (!ref)
        return NULL;
    RegionObject *region = ref->view.region;
    if (!ipo_py_turn_held(region))
        return field_get_taking_a_turn(f, ref);
    /* The instance keeps ref, and ref the region, for the read. Not
     * counted as running here: only a decode can run code of the user's
     * (its hooks, a collection's finalizers), and field_get_decoding()
     * counts it (counting here cost 10% on `thing.company_info`). */
    return field_get(f, ref);
}

/* Any store but a number over a number: the slot now of holder, found
 * already. */
static __attribute__((noinline)) int field_set_other(FieldObject *f, PyObject *inst, ObjectRefObject *ref,
                                                     PyObject *value, ipo_obj_t *holder, ipo_value_t *now)
{
    RegionObject *region = ref->view.region;
    ipo_value_t slot;
    if (!ipo_value_is_inline(now->type)) {
        /* Only a field that holds a block may hold what the store would
         * write already. A str stored again over itself (the memo shows the field holds
         * this very object, unchanged since) changes nothing: no block is
         * made and none freed. It still counts as a change of the turn, as
         * any store. So does a str or tuple equal to the one the field
         * holds, and a shared array stored back over its own block. */
        if (f->index < ref->nmemos && ref->memos[f->index].value == value && PyUnicode_CheckExact(value)) {
            PyObject *same = ipo_py_memo_hit(region, &ref->memos[f->index], now);
            if (same) {
                Py_DECREF(same);
                ipo_region_mark_changed(&region->r);
                return 0;
            }
        }
        if (ipo_py_store_is_unchanged(region, now, value) ||
            (now->type == IPO_T_NDARRAY && ipo_py_store_is_unchanged_array(region, now, value))) {
            ipo_region_mark_changed(&region->r);
            return 0;
        }
    }
    ipo_store_t st;
    ipo_py_store_init(&st);
    if (ipo_py_store_value(&st, region, value, &slot) < 0) {
        ipo_py_store_finish(&st, 0);
        return -1;
    }
    /* A value stored inline or a str ran no code and moved nothing: the
     * slot found above is the one. Else encoding may have run user code:
     * find the instance's block and the slot again, and write only into
     * the region the value was encoded in. */
    ipo_value_t *target = now;
    if (!ipo_value_is_inline(slot.type) && Py_TYPE(value) != &PyUnicode_Type) {
        ref = instance_ref(f, inst);
        target = NULL;
        if (ref && ref->view.region != region)
            PyErr_SetString(PyExc_RuntimeError,
                            "the object's shared fields moved to another region during the assignment");
        else if (ref)
            target = field_slot(f, ref, &holder);
    }
    if (!target) {
        ipo_value_release(&region->r, &slot);
        ipo_py_store_finish(&st, 0);
        return -1;
    }
    /* Old or new at every instruction, the old value released once
     * nothing names it (core/src/containers_value.c). */
    if (ipo_value_replace(&region->r, holder, target, &slot)) {
        ipo_value_release(&region->r, &slot);
        ipo_py_store_finish(&st, 0);
        ipo_py_raise_damaged(region, "a shared object's fields are not a VALUES block");
        return -1;
    }
    /* The next read of a str or an int (but a small one, which CPython
     * shares) gives back the object just stored, not a decoded copy or a
     * new int, while the field holds it. Not a float: CPython keeps freed
     * floats for the next, so making one costs less than keeping one here
     * (measured: `obj.x *= 1.1` ran 4% more instructions with it). */
    ipo_memo_t *m;
    if ((target->type == IPO_T_STR || (target->type == IPO_T_INT64 && !IPO_PY_SMALL_INT(target->v.i64))) &&
        (m = ref_memo(ref, f->index, holder, 1)))
        ipo_py_memo_stored(region, m, target, value);
    return ipo_py_store_finish(&st, 1);
}

/* A number, None or a bool over one (a field's commonest store) is written
 * from here, inline: its encode runs no code, so the slot found first is
 * the one, and nothing is allocated; over one of its own type it is one
 * store. The block is checked once, its slot found once. */
static inline int field_set(FieldObject *f, PyObject *inst, ObjectRefObject *ref, PyObject *value)
{
    RegionObject *region = ref->view.region;
    ipo_obj_t *holder = NULL;
    ipo_value_t *now = field_slot(f, ref, &holder);
    if (!now)
        return -1;
    ipo_value_t slot;
    if (!ipo_value_is_inline(now->type) || !ipo_py_encode_number(value, &slot))
        return field_set_other(f, inst, ref, value, holder, now);
    if (!ipo_value_replace_same_inline(&region->r, now, &slot)) {
        ipo_region_mark_changed(&region->r);
        if (ipo_value_replace(&region->r, holder, now, &slot)) {
            ipo_py_raise_damaged(region, "a shared object's fields are not a VALUES block");
            return -1;
        }
    }
    /* As field_set_other's: the next read of an int (but a small one)
     * gives back this one, an exact int (ipo_py_encode_number takes no
     * subclass) of the slot's bits now. */
    ipo_memo_t *m;
    if (slot.type == IPO_T_INT64 && !IPO_PY_SMALL_INT(slot.v.i64) && (m = ref_memo(ref, f->index, holder, 1))) {
        ipo_memo_t key = { NULL, slot.v.u64, 0, IPO_T_INT64 };
        ipo_py_memo_set(m, &key, value);
    }
    return 0;
}

static __attribute__((noinline, cold)) int field_set_taking_a_turn(FieldObject *f, PyObject *inst,
                                                                  ObjectRefObject *ref, PyObject *value)
{
    Py_INCREF(ref); /* borrowed from the instance, as in field_get_taking_a_turn */
    ipo_own_turn_t turn;
    int rc = -1;
    if (ipo_py_turn_take(ref->view.region, &turn) == 0) {
        rc = field_set(f, inst, ref, value);
        ipo_py_turn_end(&turn);
    }
    Py_DECREF(ref);
    return rc;
}

static int Field_set(FieldObject *f, PyObject *inst, PyObject *value)
{
    if (!value) {
        PyErr_Format(PyExc_AttributeError,
                     "cannot delete the shared field '%U': a static shared object has a fixed set "
                     "of fields (put it with ForceGeneralObjectCopy/Inplace to allow that)", f->name);
        return -1;
    }
    ObjectRefObject *ref = instance_ref(f, inst);
    if (!ref)
        return -1;
    RegionObject *region = ref->view.region;
    if (!ipo_py_turn_held(region))
        return field_set_taking_a_turn(f, inst, ref, value);
    region->running++;
    int rc = field_set(f, inst, ref, value);
    region->running--;
    return rc;
}

static PyObject *Field_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "index", "name", "ref_offset", "ref_key", NULL };
    Py_ssize_t index, ref_offset;
    PyObject *name, *ref_key;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nUnU", kwlist, &index, &name, &ref_offset, &ref_key))
        return NULL;
    if (index < 0 || ref_offset < 0) {
        PyErr_SetString(PyExc_ValueError, "index and ref_offset are non-negative");
        return NULL;
    }
    ipo_state *st = PyType_GetModuleState(type);
    if (!st)
        return NULL;
    FieldObject *f = (FieldObject *)type->tp_alloc(type, 0);
    if (!f)
        return NULL;
    f->index = index;
    f->ref_offset = ref_offset;
    f->name = Py_NewRef(name);
    f->ref_key = Py_NewRef(ref_key);
    f->ref_type = (PyTypeObject *)Py_NewRef((PyObject *)st->object_ref_type);
    return (PyObject *)f;
}

static int Field_traverse(FieldObject *f, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(f));
    Py_VISIT(f->name);
    Py_VISIT(f->ref_key);
    Py_VISIT(f->ref_type);
    return 0;
}

static int Field_clear(FieldObject *f)
{
    Py_CLEAR(f->name);
    Py_CLEAR(f->ref_key);
    Py_CLEAR(f->ref_type);
    return 0;
}

static void Field_dealloc(FieldObject *f)
{
    PyTypeObject *tp = Py_TYPE(f);
    PyObject_GC_UnTrack(f);
    Field_clear(f);
    tp->tp_free(f);
    Py_DECREF(tp);
}

static PyObject *Field_repr(FieldObject *f)
{
    return PyUnicode_FromFormat("<shared field %R #%zd>", f->name, f->index);
}

static PyType_Slot field_slots[] = {
    { Py_tp_new, (void *)Field_new },
    { Py_tp_descr_get, (void *)Field_get },
    { Py_tp_descr_set, (void *)Field_set },
    { Py_tp_traverse, (void *)Field_traverse },
    { Py_tp_clear, (void *)Field_clear },
    { Py_tp_dealloc, (void *)Field_dealloc },
    { Py_tp_repr, (void *)Field_repr },
    { Py_tp_doc, (void *)"Field(index, name, ref_offset, ref_key)\n--\n\n"
                         "A data descriptor for one field of a static shared object." },
    { 0, NULL }
};

PyType_Spec ipo_field_spec = {
    .name = "ipc_py_objects._ipo.Field",
    .basicsize = sizeof(FieldObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = field_slots,
};

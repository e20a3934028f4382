/* python/src/messages.c — the Region's methods on what it holds: messages, objects, buffers, check. */
#include "messages.h"
#include "turn.h"

#include <string.h>

/* ---- messages ------------------------------------------------------------------ */

static PyObject *queue_damaged(RegionObject *self)
{
    return ipo_py_raise_damaged(self, "its message queue's ring or counters do not check out");
}

/* (obj, off), as put_message_2 and the *_2 reads give them: built
 * directly, as Py_BuildValue would parse its format on every message.
 * Steals obj's reference. */
static PyObject *with_its_offset(PyObject *obj, ipo_off_t off)
{
    PyObject *offset = obj ? PyLong_FromUnsignedLongLong((unsigned long long)off) : NULL;
    PyObject *pair = offset ? PyTuple_New(2) : NULL;
    if (!pair) {
        Py_XDECREF(obj);
        Py_XDECREF(offset);
        return NULL;
    }
    PyTuple_SET_ITEM(pair, 0, obj);
    PyTuple_SET_ITEM(pair, 1, offset);
    return pair;
}

/* A put does everything that can fail (encoding, making the object that
 * put returns, mapping objects in place) before it queues the message, for
 * which room is reserved: a put that raises leaves no message and no block
 * behind, and every object as it was. */
static PyObject *put_running(RegionObject *self, PyObject *obj, int with_offset)
{
    /* Room in the queue first, so that queueing the encoded object cannot fail. */
    int rc = ipo_queue_reserve(&self->r);
    if (rc)
        return rc == -IPO_ECORRUPT ? queue_damaged(self) : ipo_py_raise_no_memory(self);
    ipo_off_t off;
    ipo_encoder_t enc;
    ipo_py_encoder_init(&enc, self, 1);
    if (ipo_py_encode(&enc, obj, &off) < 0) {
        ipo_py_encoder_finish(&enc, 0);
        return NULL;
    }
    /* Copies come back as they went in; live containers and objects as
     * views of their blocks, and an object put in place as itself. */
    PyObject *mapped, *result = NULL;
    uint8_t type = ((const ipo_obj_t *)(self->r.base + off))->type;
    PyObject *adopted = ipo_py_encoder_adopted(&enc, off);
    if (adopted)
        mapped = Py_NewRef(adopted);
    else if (ipo_py_type_is_live(type))
        mapped = ipo_py_decode(self, off);
    else
        mapped = Py_NewRef(obj);
    if (mapped)
        result = with_offset ? with_its_offset(Py_NewRef(mapped), off) : Py_NewRef(mapped);
    /* Code of the user's ran since the room was reserved (a __reduce__, a
     * Mapping's items, the hooks), and may have put messages of its own. */
    if (result && (rc = ipo_queue_reserve(&self->r))) {
        if (rc == -IPO_ECORRUPT)
            queue_damaged(self);
        else
            ipo_py_raise_no_memory(self);
        Py_CLEAR(result);
    }
    /* Mapping in place last: the hook maps every object or none. */
    if (ipo_py_encoder_finish(&enc, result != NULL) < 0)
        Py_CLEAR(result);
    /* Cannot fail now, but for a put made by code that mapping in place
     * ran (an attribute's __del__): then the objects just mapped name a
     * freed block, and raise InvalidOffsetError when used, as any view of
     * a destroyed object does. */
    if (result && (rc = ipo_queue_put(&self->r, off))) {
        if (rc == -IPO_ECORRUPT)
            queue_damaged(self);
        else
            ipo_py_raise_no_memory(self);
        Py_CLEAR(result);
    }
    if (!result) {
        /* The views made above go first, so that no buffer of theirs
         * (a numpy array's) holds the tree. */
        Py_XDECREF(mapped);
        ipo_obj_destroy(&self->r, off);
        return NULL;
    }
    Py_DECREF(mapped);
    return result;
}

/* A message of bytes, str, int or float: encoding it calls no method of
 * the user's and maps nothing in place, and it comes back as itself. So its
 * block is made straight by the encoder's leaves, with no encoder state,
 * and queued in the room reserved before (only a finalizer run by
 * put_message_2's allocation could have taken it, and the queueing
 * reserves again, or fails cleanly): the common small message pays
 * for the block and the queue alone. The
 * blocks are the ones encode_object() makes of these types. */
static PyObject *put_leaf(RegionObject *self, PyObject *obj, int with_offset)
{
    int rc = ipo_queue_reserve(&self->r);
    if (rc)
        return rc == -IPO_ECORRUPT ? queue_damaged(self) : ipo_py_raise_no_memory(self);
    PyTypeObject *type = Py_TYPE(obj);
    ipo_off_t off;
    if (type == &PyBytes_Type)
        rc = ipo_py_encode_bytes(self, IPO_T_BYTES, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj), 0, &off);
    else if (type == &PyUnicode_Type)
        rc = ipo_py_encode_str(self, obj, &off);
    else if (type == &PyLong_Type)
        rc = ipo_py_encode_int(self, obj, &off);
    else {
        double d = PyFloat_AS_DOUBLE(obj);
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        rc = ipo_py_encode_scalar(self, IPO_T_FLOAT64, bits, &off);
    }
    if (rc < 0)
        return NULL;
    PyObject *result = with_offset ? with_its_offset(Py_NewRef(obj), off) : Py_NewRef(obj);
    if (!result || (rc = ipo_queue_put(&self->r, off))) {
        if (result) {
            Py_CLEAR(result);
            if (rc == -IPO_ECORRUPT)
                queue_damaged(self);
            else
                ipo_py_raise_no_memory(self);
        }
        ipo_obj_destroy(&self->r, off);
        return NULL;
    }
    return result;
}

/* A put runs code of the user's (encoding's hooks, a __reduce__, a
 * Mapping's items): counted as running, so that it cannot release or close
 * the region under the put (view_base.h). A leaf's put runs none of its
 * own, but any allocation of a GC-tracked object (put_message_2's pair)
 * may start a collection, whose finalizers are code of the user's too
 * (and may let another thread run): it is counted as well. */
static PyObject *put(RegionObject *self, PyObject *obj, int with_offset)
{
    if (ipo_py_require_access(self) < 0)
        return NULL;
    PyTypeObject *type = Py_TYPE(obj);
    int leaf = type == &PyBytes_Type || type == &PyUnicode_Type || type == &PyLong_Type ||
               type == &PyFloat_Type;
    self->running++;
    PyObject *result = leaf ? put_leaf(self, obj, with_offset) : put_running(self, obj, with_offset);
    self->running--;
    return result;
}

PyObject *ipo_py_region_put_message(RegionObject *self, PyObject *obj)
{
    return put(self, obj, 0);
}

PyObject *ipo_py_region_put_message_2(RegionObject *self, PyObject *obj)
{
    return put(self, obj, 1);
}

/* How a read ends: whether the message stays, and what an empty queue gives. */
enum { READ_PEEK = 0, READ_TAKE = 1 };

/* Adds to the exception being raised that the message it concerns stays
 * queued, and how to skip it. */
static void note_message_stays(RegionObject *self, ipo_off_t off)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
#else
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
#endif
    PyObject *note = PyUnicode_FromFormat(
        "the message (object at offset %llu of region '%U') stays queued: discard_message() "
        "removes it without reading it", (unsigned long long)off, self->name);
    PyObject *r = note && exc ? PyObject_CallMethod(exc, "add_note", "O", note) : NULL;
    if (!r)
        PyErr_Clear(); /* a note is a courtesy: the error itself goes on */
    Py_XDECREF(r);
    Py_XDECREF(note);
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(type, exc, tb);
#endif
}


/* The message at the reader's end of the queue: the oldest (FIFO) or the
 * newest (LIFO). */
static int peek_at(RegionObject *self, int lifo, ipo_off_t *off)
{
    return lifo ? ipo_queue_peek_newest(&self->r, off) : ipo_queue_peek(&self->r, off);
}

static void take_at(RegionObject *self, int lifo, ipo_off_t *off)
{
    /* Cannot fail: the caller has just peeked at that end, holding access. */
    (void)(lifo ? ipo_queue_take_newest(&self->r, off) : ipo_queue_take(&self->r, off));
}

static PyObject *get(RegionObject *self, int take, int with_offset, PyObject *dflt, int lifo)
{
    if (ipo_py_require_access(self) < 0)
        return NULL;
    ipo_off_t off;
    int rc = peek_at(self, lifo, &off);
    if (rc == -IPO_ECORRUPT)
        return queue_damaged(self);
    if (rc) {
        if (dflt) {
            if (!with_offset)
                return Py_NewRef(dflt);
            return Py_BuildValue("(OO)", dflt, Py_None);
        }
        PyErr_Format(self->st->NoMessagesInQueueError,
                     "the message queue of region '%U' is empty", self->name);
        return NULL;
    }
    /* From the decode to the take, the read counts as running
     * (view_base.h): the code of the user's it runs is not only decoding's
     * hooks but any finalizer that a collection, started by one of its
     * allocations, calls, and none may release or close the region, nor
     * destroy the message's object, under the read. */
    self->running++;
    PyObject *obj = ipo_py_decode(self, off);
    if (!obj) {
        /* A message whose object was destroyed would fail every read from now
         * on: drop it, and say so. Other failures (a class that cannot be
         * imported here, a region not trusted with a pickle, out of memory)
         * keep it, for a process that can read it, or for discard_message(). */
        if (take && PyErr_ExceptionMatches(self->st->InvalidOffsetError))
            take_at(self, lifo, &off);
        else
            note_message_stays(self, off);
        self->running--;
        return NULL;
    }
    if (take)
        take_at(self, lifo, &off);
    self->running--;
    if (!with_offset)
        return obj;
    return with_its_offset(obj, off);
}

/* The reads' arguments, as the original package has them: `queue_type`
 * alone, or `default, queue_type` for the forms that give a default on an
 * empty queue; by position or keyword. A read without arguments (the common
 * case) parses nothing. queue_type is QueueType.fifo (0: the oldest message)
 * or QueueType.lifo (1: the newest); None, or left out, means the region's
 * own queue_type. */
static int read_args(RegionObject *self, const char *fname, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, int has_default, PyObject **dflt, int *lifo)
{
    static const char *const names[] = { "default", "queue_type" };
    const char *const *accepted = has_default ? names : names + 1;
    Py_ssize_t max = has_default ? 2 : 1;
    PyObject *given[2] = { NULL, NULL };
    if (nargs > max) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", fname, max, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        given[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        Py_ssize_t at = -1;
        for (Py_ssize_t i = 0; i < max; i++)
            if (PyUnicode_CompareWithASCIIString(key, accepted[i]) == 0)
                at = i;
        if (at < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname, key);
            return -1;
        }
        if (given[at]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, accepted[at]);
            return -1;
        }
        given[at] = args[nargs + k];
    }
    if (has_default)
        *dflt = given[0] ? given[0] : Py_None;
    PyObject *queue_type = given[max - 1];
    *lifo = self->queue_lifo;
    if (!queue_type || queue_type == Py_None)
        return 0;
    if (!PyLong_Check(queue_type)) {
        PyErr_Format(PyExc_TypeError, "%s(): queue_type must be a QueueType, not '%.200s'", fname,
                     Py_TYPE(queue_type)->tp_name);
        return -1;
    }
    long v = PyLong_AsLong(queue_type);
    if (v != 0 && v != 1) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s(): queue_type must be QueueType.fifo (0) or "
                         "QueueType.lifo (1), not %R", fname, queue_type);
        }
        return -1;
    }
    *lifo = (int)v;
    return 0;
}

/* One method body per read: which end, then get(). */
#define READ_METHOD(fn, pyname, take, with_offset, has_default)                                  \
    PyObject *fn(RegionObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) \
    {                                                                                            \
        PyObject *dflt = NULL;                                                                   \
        int lifo = self->queue_lifo;                                                             \
        if ((nargs || kwnames) &&                                                                \
            read_args(self, pyname, args, nargs, kwnames, has_default, &dflt, &lifo) < 0)        \
            return NULL;                                                                         \
        if ((has_default) && !dflt)                                                              \
            dflt = Py_None;                                                                      \
        return get(self, take, with_offset, dflt, lifo);                                         \
    }

READ_METHOD(ipo_py_region_take_message, "take_message", READ_TAKE, 0, 0)
READ_METHOD(ipo_py_region_take_message_2, "take_message_2", READ_TAKE, 1, 0)
READ_METHOD(ipo_py_region_read_message, "read_message", READ_PEEK, 0, 0)
READ_METHOD(ipo_py_region_read_message_2, "read_message_2", READ_PEEK, 1, 0)
READ_METHOD(ipo_py_region_pop_message, "pop_message", READ_TAKE, 0, 1)
READ_METHOD(ipo_py_region_pop_message_2, "pop_message_2", READ_TAKE, 1, 1)
READ_METHOD(ipo_py_region_get_message, "get_message", READ_PEEK, 0, 1)
READ_METHOD(ipo_py_region_get_message_2, "get_message_2", READ_PEEK, 1, 1)

#undef READ_METHOD

PyObject *ipo_py_region_discard_message(RegionObject *self, PyObject *const *args, Py_ssize_t nargs,
                                        PyObject *kwnames)
{
    /* It skips the message the reads would meet: at the end queue_type
     * names, as theirs does (the oldest, unless LIFO is asked for). */
    int lifo = self->queue_lifo;
    if ((nargs || kwnames) && read_args(self, "discard_message", args, nargs, kwnames, 0, NULL, &lifo) < 0)
        return NULL;
    if (ipo_py_require_access(self) < 0)
        return NULL;
    ipo_off_t off;
    int rc = peek_at(self, lifo, &off);
    if (rc == -IPO_ECORRUPT)
        return queue_damaged(self);
    if (rc) {
        PyErr_Format(self->st->NoMessagesInQueueError,
                     "the message queue of region '%U' is empty: there is no message to discard",
                     self->name);
        return NULL;
    }
    take_at(self, lifo, &off);
    /* Freed as a removed item is: the whole tree, but for blocks that a
     * live buffer still shows (another process's numpy array over it),
     * which stay rather than be freed under the buffer. Nothing is decoded,
     * so no class is imported and nothing is unpickled. */
    const ipo_obj_t *obj;
    if (ipo_obj_get(&self->r, off, &obj) == 0) {
        ipo_value_t value = { .type = obj->type, .v.off = off };
        ipo_value_release(&self->r, &value);
    }
    Py_RETURN_NONE;
}

PyObject *ipo_py_region_has_messages(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (ipo_py_require_access(self) < 0)
        return NULL;
    return PyBool_FromLong(ipo_queue_length(&self->r) != 0);
}

/* ---- objects -------------------------------------------------------------------- */

static int offset_arg(RegionObject *self, PyObject *arg, ipo_off_t *out)
{
    if (!PyLong_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "an object offset is an int, not '%.200s'", Py_TYPE(arg)->tp_name);
        return -1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(arg);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(self->st->InvalidOffsetError, "offset %R does not name an object in region '%U'",
                     arg, self->name);
        return -1;
    }
    *out = (ipo_off_t)v;
    return 0;
}

PyObject *ipo_py_region_destroy_obj(RegionObject *self, PyObject *arg)
{
    ipo_off_t off;
    if (ipo_py_require_access(self) < 0 || offset_arg(self, arg, &off) < 0)
        return NULL;
    /* The running operation may be reading the very tree freed here, and
     * would go on through freed blocks. */
    if (self->running) {
        ipo_py_refuse_while_running(self, "destroy an object of");
        return NULL;
    }
    int rc = ipo_obj_destroy(&self->r, off);
    const ipo_obj_t *obj;
    if (rc == -IPO_EBUSY && ipo_obj_get(&self->r, off, &obj) == 0) {
        if (obj->flags & IPO_OBJ_QUEUED)
            return ipo_py_raise(self->st, rc,
                                "the object at offset %llu in region '%U' is still named by a "
                                "queued message: take the message first",
                                (unsigned long long)off, self->name);
        return ipo_py_raise(self->st, rc,
                            "the object at offset %llu in region '%U' has %u buffers from "
                            "get_obj_buffer() in use (in this or another process): release "
                            "those memoryviews first", (unsigned long long)off, self->name,
                            /* Buffers are released without access, by any process:
                             * pairs with the fetch-sub in ipo_obj_unpin(). */
                            (unsigned)ipo_atomic_load_relaxed(&obj->pins));
    }
    if (rc == -IPO_ECORRUPT)
        return ipo_py_raise_damaged(self, "the object's blocks do not form a tree");
    if (rc)
        return ipo_py_raise(self->st, -IPO_EBADOBJ,
                            "offset %llu does not name a live object in region '%U' "
                            "(never an object's offset, or destroyed already)",
                            (unsigned long long)off, self->name);
    Py_RETURN_NONE;
}

static PyObject *get_obj_buffer(RegionObject *self, PyObject *arg);

/* Making the buffer's exporter may start a collection, whose finalizers
 * must not release or close the region before the export is counted. */
PyObject *ipo_py_region_get_obj_buffer(RegionObject *self, PyObject *arg)
{
    self->running++;
    PyObject *view = get_obj_buffer(self, arg);
    self->running--;
    return view;
}

static PyObject *get_obj_buffer(RegionObject *self, PyObject *arg)
{
    ipo_off_t off;
    const ipo_obj_t *obj;
    if (ipo_py_require_access(self) < 0 || offset_arg(self, arg, &off) < 0)
        return NULL;
    if (ipo_obj_get(&self->r, off, &obj))
        return ipo_py_raise(self->st, -IPO_EBADOBJ,
                            "offset %llu does not name a live object in region '%U'",
                            (unsigned long long)off, self->name);
    /* An array's or a tensor's buffer is its data block's. */
    if (obj->type == IPO_T_TENSOR || obj->type == IPO_T_NDARRAY) {
        const ipo_value_t *parts = ipo_py_array_parts(self, obj);
        if (!parts)
            return NULL;
        return ipo_py_obj_buffer(self, parts[IPO_NDARRAY_DATA].v.off, 0);
    }
    if (obj->type != IPO_T_BYTES && obj->type != IPO_T_BYTEARRAY && obj->type != IPO_T_STR) {
        PyErr_Format(self->st->WrongObjectTypeError,
                     "the object at offset %llu has no data buffer: only bytes, bytearray, str, "
                     "numpy arrays and torch tensors have one", (unsigned long long)off);
        return NULL;
    }
    /* Writing into a str's bytes could leave invalid UTF-8 behind. */
    return ipo_py_obj_buffer(self, off, obj->type == IPO_T_STR);
}

/* ---- tools ------------------------------------------------------------------------- */

PyObject *ipo_py_region_stats(RegionObject *self, PyObject *unused)
{
    (void)unused;
    if (ipo_py_require_access(self) < 0)
        return NULL;
    ipo_alloc_stats_t s;
    ipo_alloc_stats(&self->r.heap, &s);
    /* Sleepers register in the access word without holding access; figures
     * for a tool, so relaxed: no order with anything else is needed. */
    uint64_t word = ipo_atomic_load_relaxed(&self->r.hdr->access);
    /* Consumers attach without access: pairs with the fetch-add in
     * ipo_region_attach(), relaxed for the same reason. */
    uint64_t attached = ipo_atomic_load_relaxed(&self->r.hdr->attach_count);
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:I,s:K,s:K}",
                         "size", (unsigned long long)self->r.size,
                         "heap_size", (unsigned long long)s.heap_size,
                         "free_bytes", (unsigned long long)s.free_bytes,
                         "largest_free_chunk", (unsigned long long)s.largest_free,
                         "used_blocks", (unsigned long long)s.used_blocks,
                         "free_blocks", (unsigned long long)s.free_blocks,
                         "messages", (unsigned long long)ipo_queue_length(&self->r),
                         "slots", (unsigned)self->r.slot_count,
                         "slot", (unsigned)self->r.slot,
                         "consumers_attached", (unsigned long long)attached,
                         "sleepers", (unsigned long long)((word & IPO_ACCESS_SLEEPER_MASK) >> 16));
}

PyObject *ipo_py_region_check(RegionObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "check() takes at most one argument (an object's offset)");
        return NULL;
    }
    ipo_off_t off = 0;
    if (ipo_py_require_access(self) < 0 || (nargs && args[0] != Py_None && offset_arg(self, args[0], &off) < 0))
        return NULL;
    char why[256] = "";
    int rc = ipo_region_check(&self->r, why, sizeof(why));
    if (rc == 0 && off)
        rc = ipo_obj_check_tree(&self->r, off, 0, why, sizeof(why));
    if (rc)
        return ipo_py_raise(self->st, -IPO_ECORRUPT, "region '%U' is inconsistent: %s", self->name, why);
    Py_RETURN_NONE;
}

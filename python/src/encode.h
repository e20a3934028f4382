/* python/src/encode.h — the encoder: Python objects into format blocks, with the state of one put. */
#ifndef IPO_PY_ENCODE_H
#define IPO_PY_ENCODE_H

#include "encode_leaf.h"

#include <string.h>

/* Imports the datetime C API for encode.c, and learns how classes made by
 * a class statement look. */
int ipo_py_encode_init(void);

/* _ipo._python_class(cls): whether cls was made by a class statement (so
 * its instances are attributes only), not written in C. objects.py decides
 * with it what to project onto shared fields. */
PyObject *ipo_py_python_class(PyObject *module, PyObject *cls);

/* How deep the path of containers being encoded goes before it moves from
 * the encoder itself to the heap. */
#define IPO_ENCODER_PATH_INLINE 32

/* What one put needs besides the region, as msgspec's EncoderState: made on
 * the caller's C stack, passed through every encode_* function, finished
 * once. Nothing of it outlives the put, so two encodes (two threads, or a
 * store into a view from a hook while a put runs) never share it. It points
 * into itself: use it where it was made. */
typedef struct ipo_encoder {
    RegionObject *region;
    /* The containers and objects on the path from the root to the object in
     * hand, the ones that can make a cycle: meeting one again is a cycle,
     * which the format (one parent per block) cannot hold. */
    PyObject   **path;
    Py_ssize_t   depth, cap;
    PyObject    *path_inline[IPO_ENCODER_PATH_INLINE];
    /* Whether objects described as "adopt" are mapped in place once the put
     * or store succeeds, or only copied. */
    int          adopt;
    /* The objects to map in place, NULL until the first: a list of private
     * entries, looked up with ipo_py_encoder_adopted(). */
    PyObject    *adoptions;
} ipo_encoder_t;

void ipo_py_encoder_init(ipo_encoder_t *enc, RegionObject *region, int adopt);

/* Needs access. Encodes obj into a new block, its offset in *out; on
 * failure, -1 with an exception set and nothing left behind. */
int ipo_py_encode(ipo_encoder_t *enc, PyObject *obj, ipo_off_t *out);

/* The object that this put maps in place onto the block at root, borrowed;
 * NULL when none. What put_message returns for such an object. */
PyObject *ipo_py_encoder_adopted(const ipo_encoder_t *enc, ipo_off_t root);

/* Ends a put: with ok, maps the collected objects in place (which runs
 * Python code, and may fail: -1, with every object left as it was), else
 * drops them; frees the path. */
int ipo_py_encoder_finish(ipo_encoder_t *enc, int ok);

/* A store into a live view (an item, a field, a key) is an encode of its
 * own. As a put does, it maps objects described as "adopt" in place (their
 * class and attributes move to shared memory), once the store has written
 * the slot: begin with ipo_py_store_init (it costs nothing), encode each
 * value with ipo_py_store_value (numbers, None and bools inline, str as a
 * leaf: no encoder for them), write the slots, then always end with
 * ipo_py_store_finish(ok: the slots were written). Need access; a failed
 * encode leaves nothing behind. */
typedef struct ipo_store {
    ipo_encoder_t enc;
    int           used;   /* enc is initialised */
} ipo_store_t;

static inline void ipo_py_store_init(ipo_store_t *st)
{
    st->used = 0;
}

int ipo_py_store_value(ipo_store_t *st, RegionObject *self, PyObject *obj, ipo_value_t *slot);

/* A number, None or a bool as the slot holds it: 1 when obj is exactly one
 * of them that fits (an int of int64), 0 otherwise (a bigger int, any
 * other object: the caller goes the way of ipo_py_store_value). Runs no
 * code and never fails. A compact int (under 2^30, most of them) is read
 * from the object as it lies, without a call. */
static inline int ipo_py_encode_number(PyObject *obj, ipo_value_t *slot)
{
    PyTypeObject *type = Py_TYPE(obj);
    if (type == &PyFloat_Type) {
        slot->type = IPO_T_FLOAT64;
        slot->v.f64 = PyFloat_AS_DOUBLE(obj);
        return 1;
    }
    if (type == &PyLong_Type) {
        long long v;
#if PY_VERSION_HEX >= 0x030C0000
        if (PyUnstable_Long_IsCompact((PyLongObject *)obj)) {
            v = (long long)PyUnstable_Long_CompactValue((PyLongObject *)obj);
        } else
#else
        Py_ssize_t size = Py_SIZE(obj);
        if (size >= -1 && size <= 1) {
            /* a zero's digit need not be written: its size says it all */
            v = size ? (long long)size * (long long)((PyLongObject *)obj)->ob_digit[0] : 0;
        } else
#endif
        {
            int overflow;
            v = PyLong_AsLongLongAndOverflow(obj, &overflow);
            if (overflow)
                return 0; /* no error: an exact int past int64 is a BIGINT */
        }
        slot->type = IPO_T_INT64;
        slot->v.i64 = v;
        return 1;
    }
    if (obj == Py_None || type == &PyBool_Type) {
        slot->type = obj == Py_None ? IPO_T_NONE : IPO_T_BOOL;
        slot->v.u64 = obj == Py_True;
        return 1;
    }
    return 0;
}

/* The end of a store that used an encoder (ipo_py_store_finish). */
int ipo_py_store_end(ipo_store_t *st, int ok);

/* -1 when mapping an object in place failed (the store itself stands).
 * Inline: most stores (numbers, str) used no encoder and end here. */
static inline int ipo_py_store_finish(ipo_store_t *st, int ok)
{
    return st->used ? ipo_py_store_end(st, ok) : 0;
}

/* 1 when storing value over the slot now would write what it holds
 * already: value is a numpy array (exactly ndarray) over the data of the
 * slot's NDARRAY block, with the dtype and shape the last read of that
 * block gave (ipo_array_seen_t). The caller then writes nothing, as a
 * store of the same bytes over themselves; the turn counts as a change.
 * Else 0 (never an error). Needs access. */
int ipo_py_store_is_unchanged_array(RegionObject *self, const ipo_value_t *now, PyObject *value);

/* 1 when storing value over the slot now would write exactly what it
 * holds: value is an exact str (ASCII) or tuple, and the slot holds a STR
 * block of the same bytes or a TUPLE block whose elements are each what
 * the element would encode to (None, a bool, an int64, a float of the same
 * bits, such a str or tuple, nested up to 4 deep). The caller then writes
 * nothing: no block made, none freed; the turn counts as a change. Both
 * kinds are immutable, and their blocks are never written in place, so
 * the slot's old block and the one the store would make hold one value:
 * a reader's memo of that block (memo.h) stays true. Else 0 (never an
 * error). Needs access. */
int ipo_py_store_is_unchanged_block(RegionObject *self, const ipo_value_t *now, PyObject *value);

/* Its inline front: only a str over a STR or a tuple over a TUPLE is
 * compared, so other stores pay two compares. */
static inline int ipo_py_store_is_unchanged(RegionObject *self, const ipo_value_t *now, PyObject *value)
{
    PyTypeObject *type = Py_TYPE(value);
    if (!(now->type == IPO_T_STR && type == &PyUnicode_Type) &&
        !(now->type == IPO_T_TUPLE && type == &PyTuple_Type))
        return 0;
    return ipo_py_store_is_unchanged_block(self, now, value);
}

/* Whether value is exactly a numpy ndarray (numpy is never imported here:
 * by its type's name), the one kind ipo_py_store_is_unchanged_array takes. */
static inline int ipo_py_maybe_array(PyObject *value)
{
    const char *name = Py_TYPE(value)->tp_name;
    return name[0] == 'n' && strcmp(name, "numpy.ndarray") == 0;
}

/* Inserts or replaces key (and value: NULL for sets) in a map block: a
 * store of its own. */
int ipo_py_map_put(RegionObject *self, ipo_off_t map_off, PyObject *key, PyObject *value);

#endif /* IPO_PY_ENCODE_H */

/* python/src/memo.c — which slot values a memo may keep, and remembering what a store wrote. */
#include "memo.h"

/* Tuples nest; a memo looks this deep into one before it gives up on it. */
#define MEMO_TUPLE_DEPTH 4

static int kept_block(RegionObject *self, const ipo_obj_t *obj, int depth);

/* A value inside a tuple: inline, or a block of a kind kept. */
static int kept_value(RegionObject *self, const ipo_value_t *v, int depth)
{
    switch (v->type) {
    case IPO_T_NONE: case IPO_T_BOOL: case IPO_T_INT64: case IPO_T_FLOAT64:
        return 1;
    default: {
        const ipo_obj_t *child;
        return !ipo_obj_get(&self->r, v->v.off, &child) && child->type == v->type &&
               kept_block(self, child, depth);
    }
    }
}

static int kept_block(RegionObject *self, const ipo_obj_t *obj, int depth)
{
    const ipo_state *st = self->st;
    switch (obj->type) {
    /* Immutable Python objects of blocks never written in place. */
    case IPO_T_STR: case IPO_T_BIGINT: case IPO_T_COMPLEX: case IPO_T_DECIMAL:
    case IPO_T_DATE: case IPO_T_TIMEDELTA:
        return 1;
    /* Views, which check their block on every use; a list, dict or set read
     * before containers.py registered its class is a copy. */
    case IPO_T_LIST:
        return st->SharedList != NULL;
    case IPO_T_DICT:
        return st->SharedDict != NULL && st->SharedMapping != NULL;
    case IPO_T_SET:
        return st->SharedSet != NULL;
    case IPO_T_OBJECT:
        return 1;
    case IPO_T_TUPLE: {
        if (depth >= MEMO_TUPLE_DEPTH)
            return 0;
        ipo_value_t *values;
        size_t n = ipo_obj_values(obj, &values);
        for (size_t i = 0; i < n; i++)
            if (!kept_value(self, &values[i], depth + 1))
                return 0;
        return 1;
    }
    default:
        return 0;
    }
}

int ipo_py_memo_key(RegionObject *self, const ipo_value_t *slot, ipo_memo_t *key)
{
    key->value = NULL;
    key->type = slot->type;
    key->bits = slot->v.u64;
    key->gen = 0;
    switch (slot->type) {
    case IPO_T_NONE: case IPO_T_BOOL: case IPO_T_INT64: case IPO_T_FLOAT64:
        return 1;
    default: {
        /* The decode that follows checks the same and raises; a memo is
         * made only of a block that checks out. */
        const ipo_obj_t *child;
        if (ipo_obj_get(&self->r, slot->v.off, &child) || child->type != slot->type ||
            !kept_block(self, child, 0))
            return 0;
        key->gen = child->gen;
        return 1;
    }
    }
}

void ipo_py_memo_stored(RegionObject *self, ipo_memo_t *m, const ipo_value_t *slot, PyObject *value)
{
    /* Only objects the slot's decode would give back as they are: a str,
     * int or float of exactly the built-in type (a subclass is stored as
     * the plain value, and read back as one), a bool, None. The slot was
     * written by this store: its child, if any, is the block it just made,
     * so its generation is read without checking the block again. */
    PyTypeObject *tp = Py_TYPE(value);
    ipo_memo_t key = { NULL, slot->v.u64, 0, slot->type };
    switch (slot->type) {
    case IPO_T_NONE: case IPO_T_BOOL: case IPO_T_INT64: case IPO_T_FLOAT64:
        break;
    case IPO_T_STR: case IPO_T_BIGINT:
        key.gen = ((const ipo_obj_t *)(self->r.base + slot->v.off))->gen;
        break;
    default:
        ipo_py_memo_clear(m);
        return;
    }
    if (tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type || tp == &PyBool_Type ||
        value == Py_None)
        ipo_py_memo_set(m, &key, value);
    else
        ipo_py_memo_clear(m);
}

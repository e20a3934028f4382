/* python/src/memo.h — a slot's value decoded once, and handed out again while the slot names the same block. */
#ifndef IPO_PY_MEMO_H
#define IPO_PY_MEMO_H

#include "decode.h"

/* What a read of one container slot made, and the slot as it was then: its
 * type and 8 bytes (an inline value, or a child's offset) and, for a
 * child, the child's generation. The slot still holds that value while all
 * three match: another process that stores a new value writes a new type
 * or new bits (a new child is a new block, at a new offset or with a newer
 * generation, since blocks are never written over in place for these
 * types), and a freed child reads generation 0. So a memo can never show a
 * value the slot no longer holds, however long ago it was made.
 *
 * Kept are only values that cannot change behind the memo: Python objects
 * that are immutable (numbers, str, Decimal, dates, tuples of those) of
 * blocks that are never written in place, and views (live containers,
 * static and general objects), which read the region on every use and
 * check their block's generation themselves. Not kept: bytes and bytearray
 * (a writable buffer from get_obj_buffer changes their payload in place),
 * copies of mutable things (FastLimitedDict, a frozenset's elements may be
 * bytes, a list read as a copy), numpy arrays (a kept array would keep its
 * block pinned), pickles (whatever they unpickle to may be mutable). */
typedef struct ipo_memo {
    PyObject *value;   /* a reference; NULL: empty */
    uint64_t  bits;    /* the slot's payload: the inline value, or the child's offset */
    uint32_t  gen;     /* the child's generation; 0 for an inline value */
    uint8_t   type;    /* the slot's type */
} ipo_memo_t;

/* The ints CPython makes once and shares (-5 to 256): making one costs
 * less than checking a memo, so none is kept. */
#define IPO_PY_SMALL_INT(v) ((v) >= -5 && (v) <= 256)

/* Fills *key with the slot as it is now (type, bits, a child's generation)
 * and returns 1 when what it holds is of a kind a memo keeps, else 0. Called
 * before the decode, which may run Python code that changes the slot: the
 * memo then names the slot as it was when its value was read, and the next
 * read misses. Needs access. */
int ipo_py_memo_key(RegionObject *self, const ipo_value_t *slot, ipo_memo_t *key);

/* The memo's value while the slot still holds it (a new reference), else
 * NULL, without an exception. */
static inline PyObject *ipo_py_memo_hit(const RegionObject *self, const ipo_memo_t *m,
                                        const ipo_value_t *slot)
{
    /* The bits and the type are the slot's as it is now, read under access;
     * a child's header is read at an offset that checked out when the memo
     * was made, inside the mapping, which does not move. Plain loads: the
     * holder of access alone writes them, and this process holds it. */
    if (m->value && m->type == slot->type && m->bits == slot->v.u64 &&
        (m->gen == 0 || ((const ipo_obj_t *)(self->r.base + m->bits))->gen == m->gen))
        return Py_NewRef(m->value);
    return NULL;
}

/* Remembers value under key (from ipo_py_memo_key), dropping what the
 * memo held. */
static inline void ipo_py_memo_set(ipo_memo_t *m, const ipo_memo_t *key, PyObject *value)
{
    PyObject *old = m->value;
    m->bits = key->bits;
    m->gen = key->gen;
    m->type = key->type;
    m->value = Py_NewRef(value);
    Py_XDECREF(old); /* last: its deallocation may run code that reads the memo */
}

/* Remembers that the slot now holds value (what a store just wrote there,
 * for a store's next read to hand back the very object stored), if it is
 * of a kind kept; else empties the memo. Never fails. */
void ipo_py_memo_stored(RegionObject *self, ipo_memo_t *m, const ipo_value_t *slot, PyObject *value);

static inline void ipo_py_memo_clear(ipo_memo_t *m)
{
    Py_CLEAR(m->value);
}

#endif /* IPO_PY_MEMO_H */

/* python/src/view_base.h — ViewObject, the base of every live view, and its checked hot path. */
#ifndef IPO_PY_VIEW_BASE_H
#define IPO_PY_VIEW_BASE_H

#include "buffer.h"

/* A view of a live shared block: lists, dicts, sets, objects' fields. It
 * names the block by offset and generation, and checks both (and access)
 * on every use, so a view of a destroyed block raises instead of reading
 * reused memory. */
typedef struct ViewObject {
    PyObject_HEAD
    RegionObject *region;
    ipo_off_t     off;
    uint32_t      gen;
    uint8_t       type;
} ViewObject;

/* The out-of-line half of ipo_py_view_obj(): every check again, raising the
 * error that says which one failed. */
ipo_obj_t *ipo_py_view_obj_slow(ViewObject *v);

/* The view's block after checking access, generation and type; NULL with
 * an exception set. The hot path of every view operation, so inline: access
 * held by this process, the block still the one the view was made for.
 * Anything else goes the slow way. A block's generation and type are
 * written only by a holder of access (stamped at allocation, zeroed by
 * ipo__obj_free_block), and read here with access held: the handoff orders
 * them, so plain loads do. */
static inline ipo_obj_t *ipo_py_view_obj(ViewObject *v)
{
    RegionObject *self = v->region;
    if (self->holder_thread && self->attached && !self->closed && ipo_access_held(&self->r) &&
        !ipo_region_inherited(&self->r)) {
        ipo_obj_t *obj = (ipo_obj_t *)(self->r.base + v->off);
        if (obj->gen == v->gen && obj->type == v->type)
            return obj;
    }
    return ipo_py_view_obj_slow(v);
}

/* ---- a turn for one operation ------------------------------------------------
 *
 * A live object used while no thread of this process holds access (after
 * the last block, say, as the reference package's own example does) takes
 * a turn for that one operation and gives it back: every view operation
 * reads or writes the region only between ipo_py_turn_begin() and
 * ipo_py_turn_end(), so it is exactly as safe as inside a block. The wait
 * is wait_my_turn()'s (spin, then sleep on the doorbell, interruptible),
 * bounded by the region's turn_time_limit. A strict region raises
 * AccessNotHeldError instead. */
typedef struct ipo_own_turn {
    RegionObject *region;   /* a reference while a turn was taken here; NULL otherwise */
    uint64_t      count;    /* the access word's acquisition count of that turn */
} ipo_own_turn_t;

/* The out-of-line halves: taking a turn (or raising: strict, closed), and
 * giving it back if it is still the one taken, keeping any exception the
 * operation raised. */
int ipo_py_turn_take(RegionObject *self, ipo_own_turn_t *turn);
void ipo_py_turn_give_back(ipo_own_turn_t *turn);

/* Whether a thread of this process holds a turn (threads share access), so
 * that an operation runs in it: one load of a field that the operation's
 * own checks (ipo_py_view_obj) read next anyway. */
static inline int ipo_py_turn_held(const RegionObject *self)
{
    return self->holder_thread != 0;
}

/* 0, or -1 with an exception set. */
static inline int ipo_py_turn_begin(RegionObject *self, ipo_own_turn_t *turn)
{
    turn->region = NULL;
    return ipo_py_turn_held(self) ? 0 : ipo_py_turn_take(self, turn);
}

static inline void ipo_py_turn_end(ipo_own_turn_t *turn)
{
    if (turn->region)
        ipo_py_turn_give_back(turn);
}

/* Defines `name`, which runs impl(args) in a turn it takes of the region of
 * `view`, out of line and marked cold: the caller runs impl itself when a
 * turn is held, so that its hot path keeps no turn on its stack and ends in
 * a tail call. `fail` is what the slot returns with an exception set. */
#define IPO_TAKING_A_TURN(ret, fail, name, impl, view, params, args) \
    static __attribute__((noinline, cold)) ret name params        \
    {                                                             \
        ipo_own_turn_t turn_;                                     \
        if (ipo_py_turn_begin((view)->region, &turn_) < 0)        \
            return fail;                                          \
        ret result_ = impl args;                                  \
        ipo_py_turn_end(&turn_);                                  \
        return result_;                                           \
    }

/* Defines `name`, a view operation with parameters `params`: impl(args) in
 * the turn held, or else in one taken for it. The slots and methods of the
 * view types are all made this way, so none can forget. */
#define IPO_IN_TURN(ret, fail, name, impl, view, params, args)            \
    IPO_TAKING_A_TURN(ret, fail, name##_taking_a_turn, impl, view, params, args) \
    static ret name params                                                \
    {                                                                     \
        if (ipo_py_turn_held((view)->region))                             \
            return impl args;                                             \
        return name##_taking_a_turn args;                                 \
    }

/* view._in_turn(func, *args, **kwargs): func(*args, **kwargs) in one turn of
 * the view's region, for the operations that containers.py and objects.py
 * write over several C ones (sort, ==, update, repr...), so that outside a
 * turn they too see and change the object in one step. */
PyObject *ipo_py_view_in_turn(ViewObject *v, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames);

#define IPO_VIEW_METHODS                                                               \
    { "_in_turn", (PyCFunction)(void (*)(void))ipo_py_view_in_turn,                     \
      METH_FASTCALL | METH_KEYWORDS,                                                   \
      "_in_turn(func, *args, **kwargs)\n--\n\nCalls func in one turn of the view's region." }

/* A new view of type cls (a view type or a Python class over one) of the
 * block at off, which must be live. Needs access. */
PyObject *ipo_py_new_view(RegionObject *self, PyObject *cls, ipo_off_t off);

/* The slots every view type shares. */
int ipo_py_view_traverse(ViewObject *v, visitproc visit, void *arg);
int ipo_py_view_clear(ViewObject *v);
void ipo_py_view_dealloc(ViewObject *v);
extern PyGetSetDef ipo_py_view_getset[];

/* Views are unhashable (they change), and made only by the codec. */
#define IPO_VIEW_SLOTS                                          \
    { Py_tp_traverse, (void *)ipo_py_view_traverse },           \
    { Py_tp_clear, (void *)ipo_py_view_clear },                 \
    { Py_tp_dealloc, (void *)ipo_py_view_dealloc },             \
    { Py_tp_getset, ipo_py_view_getset },                       \
    { Py_tp_hash, (void *)PyObject_HashNotImplemented }

#define IPO_VIEW_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE | \
                        Py_TPFLAGS_DISALLOW_INSTANTIATION)

#endif /* IPO_PY_VIEW_BASE_H */

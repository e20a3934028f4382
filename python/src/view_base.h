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
 * A live object used while this thread holds no turn of its region (after
 * the last block, say, as the reference package's own example does) takes
 * a turn for that one operation and gives it back: every view operation
 * reads or writes the region only between ipo_py_turn_begin() and
 * ipo_py_turn_end(), so it is exactly as safe as inside a block. The wait
 * is wait_my_turn()'s (spin, then sleep on the doorbell, interruptible),
 * bounded by the region's turn_time_limit. A strict region raises
 * AccessNotHeldError instead.
 *
 * Turns are a thread's, as the guards' are: an operation in a thread while
 * another thread of the process holds the turn waits for its own, so a
 * block excludes the other threads' operations as it excludes other
 * processes'. While an operation runs (region->running), release(),
 * close() and destroy_obj() refuse: Python code that the operation calls
 * (an __eq__, a hook, a finalizer that a collection started by one of its
 * allocations runs) cannot leave it reading without access, reading an
 * unmapped region, or reading a freed tree. */
typedef struct ipo_own_turn {
    RegionObject *region;   /* the region; a reference of its own when a turn was taken */
    int           taken;    /* a turn was taken for this operation */
} ipo_own_turn_t;

/* The out-of-line halves: taking a turn (or raising: strict, closed) and
 * counting the operation, and giving that turn back, keeping any exception
 * the operation raised. */
int ipo_py_turn_take(RegionObject *self, ipo_own_turn_t *turn);
void ipo_py_turn_give_back(ipo_own_turn_t *turn);

/* Whether this thread holds a turn of the region, so that an operation runs
 * in it: a load of a field that the operation's own checks read next anyway,
 * and pthread_self(), which is PyThread_get_thread_ident() without its call. */
static inline int ipo_py_turn_held(const RegionObject *self)
{
    return self->holder_thread == ipo_py_thread_ident();
}

/* 0, or -1 with an exception set. The caller keeps the region alive until
 * ipo_py_turn_end() (a view it holds a reference to does): the held path
 * takes no reference, to cost no more than the count. */
static inline int ipo_py_turn_begin(RegionObject *self, ipo_own_turn_t *turn)
{
    if (!ipo_py_turn_held(self))
        return ipo_py_turn_take(self, turn);
    turn->region = self;
    turn->taken = 0;
    self->running++;
    return 0;
}

static inline void ipo_py_turn_end(ipo_own_turn_t *turn)
{
    if (turn->taken)
        ipo_py_turn_give_back(turn);
    else
        turn->region->running--;
}

/* Defines `name`, a view operation with parameters `params`: impl(args) in
 * the turn held, or else in one taken for it. The slots and methods of the
 * view types are all made this way, so none can forget. `fail` is what the
 * slot returns with an exception set. */
#define IPO_IN_TURN(ret, fail, name, impl, view, params, args) \
    static ret name params                                     \
    {                                                          \
        ipo_own_turn_t turn_;                                  \
        if (ipo_py_turn_begin((view)->region, &turn_) < 0)     \
            return fail;                                       \
        ret result_ = impl args;                               \
        ipo_py_turn_end(&turn_);                               \
        return result_;                                        \
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

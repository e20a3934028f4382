/* python/src/waiter_type.h — the Waiter type's object, for the asyncio manager's turn in C (aio_turn.c). */
#ifndef IPO_PY_WAITER_TYPE_H
#define IPO_PY_WAITER_TYPE_H

#include "handle.h"

typedef struct WaiterObject {
    PyObject_HEAD
    RegionObject *region;
    ipo_waiter_t  w;
    int           ready;      /* w is initialised (its eventfd open) */
} WaiterObject;

/* Waiter.start() without its argument parsing: an IPO_WAIT_* step, or -1
 * with an exception set (CreatorGoneError cancels the wait first). */
int ipo_py_waiter_start(WaiterObject *self, uint32_t what, uint64_t since, int64_t spin_ns);

/* Waiter.readable(): an IPO_WAIT_* step, or -1 with an exception set. */
int ipo_py_waiter_readable(WaiterObject *self);

/* Waiter.cancel(): stops a wait, passing a ring it had on; idempotent. */
void ipo_py_waiter_cancel(WaiterObject *self);

#endif /* IPO_PY_WAITER_TYPE_H */

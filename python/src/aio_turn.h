/* python/src/aio_turn.h — the asyncio manager's turn in C: the objects aio_turn.c and aio_await.c share. */
#ifndef IPO_PY_AIO_TURN_H
#define IPO_PY_AIO_TURN_H

#include "waiter_type.h"

typedef struct ManagerCoreObject {
    PyObject_HEAD
    ipo_state *st;
    PyObject *waiter;        /* _waiter: the manager's Waiter (None until ready) */
    PyObject *waiters;       /* _waiters: the queue of coroutines waiting (a deque) */
    PyObject *since;         /* _since: the change count at our last release (None) */
    PyObject *loop;          /* _loop: the event loop (None until ready) */
    PyObject *peer_check;    /* _peer_check: the timer of the next look at the peers (None) */
    double    spin_seconds;  /* _spin_seconds: the spin before a new wait sleeps */
    char      holding;       /* _holding: a coroutine of ours holds the turn */
    char      last_existence; /* _last_existence: what the last block to end said */
} ManagerCoreObject;

typedef struct TurnObject {
    PyObject_HEAD
    ipo_state *st;
    PyObject  *manager;      /* _manager */
    PyObject  *holder;       /* _holder: the ValueHolder `async with` gives */
    PyObject  *said;         /* _said: the existence its last block left (None: none yet) */
    char       entered;      /* _entered: its block runs */
    char       if_has_messages;         /* _if_has_messages: the next block waits for one */
    char       if_has_messages_default; /* _if_has_messages_default: what a block ends back at */
} TurnObject;

/* aio_await.c: what __aenter__ answers. A Done holding value (and, until
 * the value is given, the turn __aenter__ took for it: NULL for none). */
PyObject *ipo_py_aio_done_new(ipo_state *st, PyObject *value, PyObject *turn);
/* Queues turn's coroutine's entry on m's queue, the waiter asleep for it,
 * and answers the _Asleep that awaits the entry's future. */
PyObject *ipo_py_aio_queue_asleep(TurnObject *turn, ManagerCoreObject *m);
/* Makes the Done, _Entry and _Asleep types of st. */
int ipo_py_aio_await_types_ready(PyObject *module, ipo_state *st);

/* aio_turn.c: what __aenter__ took for an await that will never take it
 * goes back, without counting as a block. */
int ipo_py_aio_turn_give_back(PyObject *turn);

#endif

/* python/src/ipo_python.h — what every file of the extension shares: module state and the Region object. */
#ifndef IPO_PYTHON_H
#define IPO_PYTHON_H

/* The extension in layers, the bottom first. Each file calls only the
 * layers below its own, and includes the header of the layer just below,
 * which includes the ones under it (this one is under them all; it also
 * declares the access API of the top, which guard_type.c needs, and
 * view_base.c, whose views take a turn of their own when none is held):
 *
 *   errors.c       IPO_E* codes to exceptions, the messages that explain them
 *   observe.c      _observe(): figures of a region looked at from outside (the CLI)
 *   handle.c       whether a Region handle may be used; when its mapping goes
 *   buffer.c       _ObjectBuffer: memoryviews of shared payloads, which pin them
 *   view_base.c    ViewObject: a checked reference to a live block
 *   class_cache.c  static objects' generated classes, by block and by class
 *   decode.c       blocks to Python objects (copies, or views)
 *   memo.c         a slot's decoded value, handed out again while the slot holds it
 *   keys.c         the stable hash of keys, and equality with stored keys
 *   encode_leaf.c  blocks of values that hold no other (bytes, str, int...)
 *   encode.c       Python objects to blocks, with the state of one put
 *   list_view.c, map_view.c, object_view.c
 *                  the live view types (views.h)
 *   messages.c     the Region's methods on messages, objects, buffers
 *   turn.c         the turn engine of the sync API: acquire (spin, then sleep), release
 *   region_type.c  the Region type: its life, and its methods over the turn engine
 *   guard_type.c   the access guards (WaitMyTurn and friends), context managers over a turn
 *   waiter_type.c  Waiter: loop/'s waiter, for the asyncio manager to drive
 *   aio_turn.c     the asyncio manager's turn: `async with cm` alone in its queue, in C
 *   module.c       the module: state, init, type registration, functions
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>

#include "ipo/access.h"
#include "ipo/containers.h"
#include "ipo/errors.h"
#include "ipo/format.h"
#include "ipo/waiter.h"
#include "ipo/queue.h"
#include "ipo/region.h"

/* Everything the module owns; reached from objects through their module
 * reference, never through globals, so subinterpreters each get their own. */
typedef struct ipo_state {
    PyTypeObject *region_type;
    PyTypeObject *guard_type;          /* AccessGuard, the guards' base */
    PyTypeObject *wait_turn_type;      /* WaitMyTurn */
    PyTypeObject *wait_messages_type;  /* WaitMyTurnWhenHasMessages */
    PyTypeObject *get_in_line_type;    /* GetInLine */
    PyTypeObject *guard_method_type;   /* a guard's bound __enter__ and __exit__ (guard_type.c) */
    PyTypeObject *guard_slot_type;     /* AccessGuard.__enter__ and __exit__ */
    PyObject *guard_keywords[3];       /* the guards' keywords, interned, in their order */
    /* Guards dropped, kept for the next ones (guard_type.c): their memory
     * only, holding no reference. */
#define IPO_PY_GUARD_FREE 8
    PyObject *guard_free[IPO_PY_GUARD_FREE];
    int guard_free_count;
    /* Bound __enter__ and __exit__ dropped, kept the same way: two per
     * block in flight (nested blocks, threads). */
#define IPO_PY_GUARD_METHOD_FREE 16
    PyObject *guard_method_free[IPO_PY_GUARD_METHOD_FREE];
    int guard_method_free_count;
    PyTypeObject *buffer_type;
    PyTypeObject *waiter_type;
    /* Exception classes, defined in ipc_py_objects/errors.py. */
    PyObject *SharedMemoryError;
    PyObject *FreeMemoryChunkNotFoundError;
    PyObject *NoMessagesInQueueError;
    PyObject *OperationTimedOutError;
    PyObject *RegionNotFoundError;
    PyObject *RegionExistsError;
    PyObject *RegionPermissionError;
    PyObject *IncompatibleRegionError;
    PyObject *RegionClosingError;
    PyObject *RegionFullError;
    PyObject *NotEnoughSharedMemoryError;
    PyObject *AccessNotHeldError;
    PyObject *RegionClosedError;
    PyObject *InvalidOffsetError;
    PyObject *ObjectInUseError;
    PyObject *RegionCorruptedError;
    PyObject *WrongObjectTypeError;
    PyObject *CreatorGoneError;
    /* Types the codec meets by name, imported on first sight. */
    PyObject *DecimalType;
    PyObject *ZoneInfoType;
    /* The view types (views.h) and the Python classes over them that the
     * decoder makes (ipc_py_objects/containers.py registers them). */
    PyTypeObject *list_view_type;
    PyTypeObject *dict_view_type;
    PyTypeObject *set_view_type;
    PyTypeObject *object_ref_type;
    PyTypeObject *field_type;
    PyTypeObject *map_iter_type;
    PyObject *SharedList;
    PyObject *SharedDict;
    PyObject *SharedMapping;
    PyObject *SharedSet;
    /* ipc_py_objects/objects.py: how objects of the other types are stored
     * (describe) and rebuilt (rebuild_object, rebuild_enum, rebuild_ndarray,
     * rebuild_pickled, adopt); registered at import. */
    PyObject *describe;
    PyObject *rebuild_object;
    PyObject *rebuild_enum;
    PyObject *rebuild_ndarray;
    PyObject *rebuild_pickled;
    PyObject *adopt;
    /* Static objects' generated classes by (class key, field names), and
     * the name of the attribute that gives their link's slot (class_cache.c). */
    PyObject *object_classes;
    PyObject *str_ipo_ref_offset;
    /* aio_turn.c: the asyncio manager's turn, and the names it calls. */
    PyTypeObject *aio_manager_type;    /* AsyncManagerCore */
    PyTypeObject *aio_turn_type;       /* AsyncTurn */
    PyTypeObject *aio_done_type;       /* _Done */
    PyTypeObject *aio_asleep_type;     /* _Asleep */
    PyTypeObject *aio_entry_type;      /* _Entry */
    PyObject *str_existence;
    PyObject *str_aenter_queued;
    PyObject *str_release;
    PyObject *str_release_if_held;
    PyObject *str_pump;
    PyObject *str_fail;
    PyObject *str_after_readable;
    PyObject *str_future;
    PyObject *str_done;
    PyObject *str_pop;
    PyObject *str_set_result;
    PyObject *str_create_future;
    PyObject *str_append;
    PyObject *str_abandon;
    PyObject *str_schedule_peer_check;
} ipo_state;

/* One key's stable hash, kept by the object (keys.c). The entry holds a
 * reference to its key, so no other object can be at that address while
 * the entry names it; str and tuples of keys never change, so the hash
 * holds as long as the object lives. seed is the region's hash key it was
 * made with (a handle's key is the region's, read at attach). */
#define IPO_PY_KEY_MEMOS 32
typedef struct ipo_key_memo {
    PyObject *key;
    uint64_t  hash;
    uint64_t  seed;
} ipo_key_memo_t;

/* A small str read from a STR block (decode.c), by the block: offset and
 * generation (a STR block is never written in place, and one freed and
 * made again on its offset has a newer generation), and the region's hash
 * key, which tells one region from another. */
#define IPO_PY_STR_MEMOS 32
typedef struct ipo_str_memo {
    PyObject *value;  /* a reference; NULL: empty */
    ipo_off_t off;
    uint64_t  seed;
    uint32_t  gen;
} ipo_str_memo_t;

/* The last numpy array read here as a view of its block (decode.c): its
 * NDARRAY block (offset, generation), and the dtype (buffer format,
 * itemsize) and shape the read gave it. A block never changes in place
 * while its generation holds, so this stays true of that block; a store
 * of an array that shows exactly that block's data, dtype and shape
 * writes nothing (encode.c: `d['a'] += 1` on a shared array). */
#define IPO_PY_ARRAY_DIMS 8
typedef struct ipo_array_seen {
    ipo_off_t  off;          /* 0: none */
    uint32_t   gen;
    int        ndim;
    Py_ssize_t itemsize;
    Py_ssize_t shape[IPO_PY_ARRAY_DIMS];
    char       format[16];
} ipo_array_seen_t;

typedef struct RegionObject {
    PyObject_HEAD
    ipo_region_t r;
    ipo_waker_t  waker;       /* this participant's doorbell and its ringing side */
    int64_t      spin_ns;     /* how long a waiter spins before it sleeps */
    ipo_state   *st;          /* the module's state; `module` keeps it alive */
    PyObject    *module;
    PyObject    *name;        /* the name as the caller gave it */
    ipo_region_options_t opts;
    double       close_timeout;
    int          create;      /* this side created the region */
    int          attached;    /* r holds a slot */
    int          closed;
    int          attaching;   /* a thread is in init_consumer with the GIL released */
    /* Buffers handed out by get_obj_buffer and threads waiting with the GIL
     * released both use the mapping: unmapping waits until both are zero. */
    Py_ssize_t   exports;
    Py_ssize_t   waiters;
    unsigned long holder_thread; /* the thread that took access (ipo_py_thread_ident), 0 when none */
    /* Operations on this region's live objects and messages in progress
     * (view_base.h): release() and close() refuse while any runs. */
    Py_ssize_t   running;
    /* A read of shared blocks (decode.c) visits each block of a tree once;
     * blocks that a damaged region makes share children (a chain of
     * diamonds doubles at each level) would otherwise cost 2^depth. So a
     * read may decode at most as many blocks as the heap holds: what is
     * left of that, and how deep the read is (0: no read runs). */
    uint64_t     decode_left;
    unsigned     decode_depth;
    /* A live object used while no thread of this process holds access takes
     * a turn for that one operation (view_base.h), waiting at most
     * turn_time_limit seconds (-1: as long as it takes); with strict, it
     * raises AccessNotHeldError instead. */
    int          strict;
    double       turn_time_limit;
    int          queue_lifo;  /* the end reads take when given no queue_type: 1 the newest */
    /* A consumer asks the kernel whether the creator is alive (one fcntl)
     * whenever a wait begins to sleep or wakes with nothing to do, and on
     * a turn taken at once no sooner than this (CLOCK_MONOTONIC_COARSE
     * nanoseconds; handle.h). */
    int64_t      creator_check_ns;
    PyObject    *weakreflist;
    /* The stable hashes of the str and tuple keys looked up lately
     * (keys.c), by the key object: a loop that looks the same key up
     * hashes it once. */
    ipo_key_memo_t key_memos[IPO_PY_KEY_MEMOS];
    /* The small str values read lately, by block (decode.c): a dict value
     * or list item read again is not decoded again while its block holds. */
    ipo_str_memo_t str_memos[IPO_PY_STR_MEMOS];
    ipo_array_seen_t array_seen;
    /* The generated class of each static object block read here, by offset
     * (class_cache.c). */
    PyObject    *object_classes;
    /* Whether what this region names may be unpickled or imported here
     * (IPO_TRUST_*): given by the trust= option, else decided from the
     * region's file on first need (decode.c). */
    int          trust;
} RegionObject;

enum ipo_trust {
    IPO_TRUST_UNKNOWN = 0,  /* not decided yet: the file decides */
    IPO_TRUST_FILE    = 1,  /* owned by this user, and no other user may write it */
    IPO_TRUST_GIVEN   = 2,  /* trust=True */
    IPO_TRUST_NONE    = 3   /* another user can write it */
};

/* The calling thread, as holder_thread records it (and nothing else
 * does): the thread pointer, one register read where the compiler has it,
 * for the check every view operation makes; pthread_self() otherwise. Both
 * are unique among live threads. */
static inline unsigned long ipo_py_thread_ident(void)
{
#if defined(__has_builtin)
#if __has_builtin(__builtin_thread_pointer)
#define IPO_PY_THREAD_POINTER 1
    return (unsigned long)(uintptr_t)__builtin_thread_pointer();
#endif
#endif
#ifndef IPO_PY_THREAD_POINTER
    return (unsigned long)pthread_self();
#endif
}

/* Wait modes of ipo_py_acquire and of the access guards. */
enum ipo_wait_mode {
    IPO_WAIT_ACCESS   = 0,
    IPO_TRY_ACCESS    = 1,
    IPO_WAIT_MESSAGES = 2,
    IPO_TRY_MESSAGES  = 3   /* one attempt, only when a message is queued */
};

/* module.c: PyType_GetModuleByDef finds the module's state with it. */
extern struct PyModuleDef ipo_module_def;

/* turn.c: taking access and giving it back, with which every use of a
 * region begins and ends, declared beside RegionObject. The top of the
 * map calls them (region_type.c, guard_type.c, module.c), and the views'
 * base, for the turn a live object takes when used outside one. */
extern PyType_Spec ipo_region_spec;
/* 1 acquired, 0 not (IPO_TRY_ACCESS only), -1 with an exception set. */
int ipo_py_acquire(RegionObject *self, int mode, double time_limit);
int ipo_py_release(RegionObject *self);
/* 1 when this thread holds the region's turn now (so a guard entered here
 * runs inside that turn), else 0; never raises. As in the original
 * package, asking for a turn held already answers True and leaves the
 * turn as it is (one release() ends it): an error would break programs
 * written for it, and nothing waits, so nothing can deadlock. Inline: the
 * guards ask it at every entry and exit. */
static inline int ipo_py_held_here(RegionObject *self)
{
    return self->attached && !self->closed && ipo_access_held(&self->r) &&
           self->holder_thread == ipo_py_thread_ident();
}

/* waiter_type.c: loop/'s waiter for event loops driven from Python. */
extern PyType_Spec ipo_waiter_spec;

/* aio_turn.c: the bases of the asyncio manager and of its context
 * managers (ipc_py_objects/aio.py), whose common turn runs in C. */
int ipo_py_aio_types_ready(PyObject *module, ipo_state *st);

/* guard_type.c: AccessGuard and its three subclasses. */
extern PyType_Spec ipo_guard_spec;
extern PyType_Spec ipo_wait_my_turn_spec;
extern PyType_Spec ipo_wait_messages_spec;
extern PyType_Spec ipo_get_in_line_spec;
/* Gives the three guard classes (made from the specs above) their fast
 * calls, and AccessGuard its __enter__ and __exit__. */
int ipo_py_guard_types_ready(PyObject *module, ipo_state *st);
/* Frees the guards kept for reuse (module teardown). */
void ipo_py_guard_free_list_clear(ipo_state *st);

#endif /* IPO_PYTHON_H */

/* tests/c/test_crash.c — a process killed at each crash point in turn, as writer and as reader: every run recovers. */
/* Built against the crash-point variants of the core and the loop
 * (core/src/crash_point.h). For a scripted workload (allocations and frees
 * of various sizes and alignments, queue puts and takes at both ends with
 * ring growth, list inserts and removes at the ends and in the middle with
 * growth and trim, items replaced in place and the list reversed, dict
 * inserts, deletes and value replacements with resize and clear), the
 * harness first runs it once in a child to count the crash points it
 * passes; then, for each N of them, it forks a child that attaches to a
 * fresh region, runs the workload in turns and is killed at the N-th point.
 * The parent waits for access with the waiter meanwhile: it must get the
 * turn by takeover (the death watch wakes it), within a bound, and then
 * finds the region whole (ipo_region_check and each container's check) and
 * every structure in the state before the operation the kill cut short or
 * after it: every message released (and every one put or taken in the cut
 * turn before that operation) is there exactly once.
 *
 * The child reports each operation through a pipe before it starts it, so
 * the parent knows which operation was in flight: all before it completed
 * (a kill happens only at a crash point, inside an operation).
 *
 *   test_crash [--seed S] [--seeds K] [--turns T] [--mode writer|reader|relay|all] [--every M]
 *              [--at N] [--list]
 *
 * --every M kills at every M-th point only; --at N at point N only (to
 * replay a failure); --list prints every site killed at, with its count.
 * make test runs the defaults; make stress runs more seeds, longer. */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "crash_point.h"
#include "ipo/containers.h"
#include "ipo/hash.h"
#include "ipo/queue.h"
#include "ipo/recover.h"
#include "ipo/waiter.h"
#include "procs.h"
#include "task.h"

#ifndef IPO_CRASH_POINTS
#error "test_crash needs the crash-point build of the core (ipo_core_crash)"
#endif

/* Each wait for the takeover is bounded: the death watch must wake the
 * waiter at once, not a time-out. */
#define TAKEOVER_BOUND_NS (INT64_C(5) * 1000000000)
#define REGION_SIZE       (UINT64_C(1) << 20)

/* ---- the model: what the queue, the list and the dict must hold ---------------- */

enum { QMAX = 2048, LMAX = 1024, MMAX = 1024 };

typedef struct pair {
    int64_t key, value;
} pair_t;

typedef struct model {
    int64_t  q[QMAX];     /* message sequence numbers, oldest first */
    uint32_t qlen;
    int64_t  list[LMAX];
    uint32_t llen;
    pair_t   map[MMAX];   /* in insertion order, as the table keeps it */
    uint32_t mlen;
} model_t;

enum op_kind {
    OP_BEGIN = 1,      /* a turn began (access held) */
    OP_RELEASED,       /* the turn was released */
    OP_PUT,            /* a: the message's sequence number */
    OP_TAKE,           /* a: the oldest message's number */
    OP_TAKE_NEWEST,    /* a: the newest message's number */
    OP_DESTROY,        /* the message just taken is destroyed */
    OP_ALLOC,          /* a: size, b: alignment (a raw block, no model) */
    OP_FREE,           /* a raw block freed */
    OP_LIST_INSERT,    /* a: index, b: first value, n values b, b+1, ... */
    OP_LIST_REMOVE,    /* a: index, n items */
    OP_LIST_TRIM,
    OP_MAP_INSERT,     /* a: key, b: value */
    OP_MAP_DELETE,     /* a: key */
    OP_MAP_CLEAR,
    OP_LIST_SET,       /* a: index, b: the new value (ipo_list_set) */
    OP_LIST_REVERSE,   /* (ipo_list_permute) */
    OP_MAP_SET,        /* a: key, b: the new value (ipo_map_set_value) */
    OP_COUNT,          /* a: crash points passed by the whole run (counting run only) */
    OP_KINDS_
};

static const char *const op_names[OP_KINDS_] = {
    "?", "begin", "released", "put", "take", "take newest", "destroy", "alloc", "free",
    "list insert", "list remove", "list trim", "dict insert", "dict delete", "dict clear",
    "list set", "list reverse", "dict set", "count",
};

typedef struct op {
    uint32_t kind;
    uint32_t n;
    int64_t  a, b;
} op_t;

/* Applies one operation; 0, or -1 when the operation cannot apply (the
 * child's report disagrees with the model: a harness bug). */
static int model_apply(model_t *m, const op_t *op)
{
    switch (op->kind) {
    case OP_PUT:
        if (m->qlen == QMAX)
            return -1;
        m->q[m->qlen++] = op->a;
        return 0;
    case OP_TAKE:
        if (!m->qlen || m->q[0] != op->a)
            return -1;
        memmove(m->q, m->q + 1, (m->qlen - 1) * sizeof(m->q[0]));
        m->qlen--;
        return 0;
    case OP_TAKE_NEWEST:
        if (!m->qlen || m->q[m->qlen - 1] != op->a)
            return -1;
        m->qlen--;
        return 0;
    case OP_LIST_INSERT:
        if ((uint64_t)op->a > m->llen || m->llen + op->n > LMAX)
            return -1;
        memmove(m->list + op->a + op->n, m->list + op->a, (m->llen - (uint64_t)op->a) * sizeof(int64_t));
        for (uint32_t i = 0; i < op->n; i++)
            m->list[op->a + i] = op->b + i;
        m->llen += op->n;
        return 0;
    case OP_LIST_REMOVE:
        if ((uint64_t)op->a > m->llen || op->n > m->llen - (uint64_t)op->a)
            return -1;
        memmove(m->list + op->a, m->list + op->a + op->n,
                (m->llen - (uint64_t)op->a - op->n) * sizeof(int64_t));
        m->llen -= op->n;
        return 0;
    case OP_MAP_INSERT:
        if (m->mlen == MMAX)
            return -1;
        m->map[m->mlen++] = (pair_t){ op->a, op->b };
        return 0;
    case OP_MAP_DELETE:
        for (uint32_t i = 0; i < m->mlen; i++) {
            if (m->map[i].key == op->a) {
                memmove(m->map + i, m->map + i + 1, (m->mlen - i - 1) * sizeof(pair_t));
                m->mlen--;
                return 0;
            }
        }
        return -1;
    case OP_MAP_CLEAR:
        m->mlen = 0;
        return 0;
    case OP_LIST_SET:
        if ((uint64_t)op->a >= m->llen)
            return -1;
        m->list[op->a] = op->b;
        return 0;
    case OP_LIST_REVERSE:
        for (uint32_t i = 0, j = m->llen; i + 1 < j; i++, j--) {
            int64_t t = m->list[i];
            m->list[i] = m->list[j - 1];
            m->list[j - 1] = t;
        }
        return 0;
    case OP_MAP_SET:
        for (uint32_t i = 0; i < m->mlen; i++) {
            if (m->map[i].key == op->a) {
                m->map[i].value = op->b;
                return 0;
            }
        }
        return -1;
    default:
        return 0;
    }
}

/* ---- values: inline integers, or boxed in a BYTES child object ------------------- */

/* Every third value is a child object, so that removes, deletes and clears
 * release children (frees inside the containers' operations). */
static int boxed(int64_t v)
{
    return v % 3 == 0;
}

static int make_value(ipo_region_t *r, int64_t v, ipo_value_t *out)
{
    if (!boxed(v)) {
        *out = (ipo_value_t){ .type = IPO_T_INT64, .v.i64 = v };
        return 0;
    }
    ipo_off_t off;
    void *data;
    uint64_t len = 8 * (1 + (uint64_t)(v % 4)); /* various sizes */
    int rc = ipo_obj_new(r, IPO_T_BYTES, len, &off, &data);
    if (rc)
        return rc;
    memset(data, 0, len);
    memcpy(data, &v, sizeof(v));
    *out = (ipo_value_t){ .type = IPO_T_BYTES, .v.off = off };
    return 0;
}

/* The integer a value holds, or a note of what is wrong with it. */
static int read_value(const ipo_region_t *r, const ipo_value_t *v, int64_t *out)
{
    if (v->type == IPO_T_INT64) {
        *out = v->v.i64;
        return boxed(*out) ? -1 : 0;
    }
    const ipo_obj_t *obj;
    if (v->type != IPO_T_BYTES || ipo_obj_get(r, v->v.off, &obj) || obj->type != IPO_T_BYTES ||
        obj->v.len < 8)
        return -1;
    memcpy(out, ipo_obj_data(obj), sizeof(*out));
    return boxed(*out) && obj->v.len == 8 * (1 + (uint64_t)(*out % 4)) ? 0 : -1;
}

/* A message: sequence number s as an INT64 object, or for every fourth a
 * TUPLE of s and a BYTES child holding s, so that destroying a taken
 * message frees a tree. */
static int make_message(ipo_region_t *r, int64_t s, ipo_off_t *out)
{
    if (s % 4)
        return ipo_obj_new_scalar(r, IPO_T_INT64, (uint64_t)s, out);
    void *data;
    ipo_value_t child;
    int rc = ipo_obj_new(r, IPO_T_TUPLE, 2 * sizeof(ipo_value_t), out, &data);
    if (!rc && (rc = make_value(r, s * 3, &child)) != 0)
        ipo_obj_destroy(r, *out);
    if (rc)
        return rc;
    ipo_value_t *v = data;
    v[0] = (ipo_value_t){ .type = IPO_T_INT64, .v.i64 = s };
    v[1] = child;
    return 0;
}

/* A message's sequence number; -1 when it is not a message the workload made. */
static int read_message(const ipo_region_t *r, ipo_off_t off, int64_t *s)
{
    const ipo_obj_t *obj;
    if (ipo_obj_get(r, off, &obj))
        return -1;
    if (obj->type == IPO_T_INT64) {
        *s = obj->v.i64;
        return *s % 4 ? 0 : -1;
    }
    ipo_value_t *v;
    int64_t boxed_s;
    if (obj->type != IPO_T_TUPLE || ipo_obj_values(obj, &v) != 2 || v[0].type != IPO_T_INT64 ||
        read_value(r, &v[1], &boxed_s) || boxed_s != v[0].v.i64 * 3)
        return -1;
    *s = v[0].v.i64;
    return *s % 4 ? -1 : 0;
}

static int int_key_eq(void *ctx, const ipo_value_t *stored)
{
    return stored->type == IPO_T_INT64 && stored->v.i64 == *(const int64_t *)ctx;
}

/* ---- the workload, run by a child --------------------------------------------- */

/* RELAY: the writer's workload, and a second participant that takes the
 * dead writer's turn over is killed in turn during its repair; the parent
 * takes over from it and repairs again (a repair cut short is restartable). */
enum mode { WRITER = 0, READER = 1, RELAY = 2, MODES_ };
static const char *const mode_names[] = { "writer", "reader", "relay" };

typedef struct shared_roots {
    ipo_off_t list, map;
} shared_roots_t;

typedef struct workload {
    enum mode mode;
    uint64_t  seed;
    int       turns;
    int       prefill;     /* messages the parent puts before the child starts */
} workload_t;

enum { NOISE_MAX = 24 };

typedef struct child {
    ipo_region_t   r;
    ipo_waker_t    w;
    int            ops_fd;
    model_t        m;
    shared_roots_t roots;
    uint64_t       rng;
    int64_t        next_seq, next_value, next_key;
    ipo_off_t      noise[NOISE_MAX];
    int            nnoise;
} child_t;

static void child_die(int code)
{
    _exit(code);
}

static void emit(child_t *c, uint32_t kind, uint32_t n, int64_t a, int64_t b)
{
    op_t op = { kind, n, a, b };
    if (write(c->ops_fd, &op, sizeof(op)) != (ssize_t)sizeof(op))
        child_die(20);
    if (model_apply(&c->m, &op))
        child_die(21);
}

static uint64_t pick(child_t *c, uint64_t n)
{
    return n ? test_rand(&c->rng) % n : 0;
}

static ipo_obj_t *root_obj(child_t *c, ipo_off_t off)
{
    return (ipo_obj_t *)(c->r.base + off);
}

static void do_put(child_t *c)
{
    int64_t seq = c->next_seq++;
    emit(c, OP_PUT, 0, seq, 0);
    ipo_off_t off;
    if (make_message(&c->r, seq, &off) || ipo_queue_put(&c->r, off))
        child_die(30);
}

static void do_take(child_t *c, int newest)
{
    if (!c->m.qlen)
        return;
    ipo_off_t off;
    int64_t seq;
    if ((newest ? ipo_queue_peek_newest(&c->r, &off) : ipo_queue_peek(&c->r, &off)) ||
        read_message(&c->r, off, &seq))
        child_die(31);
    emit(c, newest ? OP_TAKE_NEWEST : OP_TAKE, 0, seq, 0);
    if ((newest ? ipo_queue_take_newest(&c->r, &off) : ipo_queue_take(&c->r, &off)))
        child_die(32);
    emit(c, OP_DESTROY, 0, 0, 0);
    if (ipo_obj_destroy(&c->r, off))
        child_die(33);
}

static void do_alloc(child_t *c)
{
    if (c->nnoise == NOISE_MAX)
        return;
    /* Sizes from a few bytes to a few KiB, log-uniform; alignments from the
     * granule to a page, so that splits leave gaps before payloads. */
    uint64_t size = (UINT64_C(1) << pick(c, 12)) + pick(c, 64);
    static const uint64_t aligns[] = { 16, 16, 16, 64, 256, 4096 };
    uint64_t align = aligns[pick(c, sizeof(aligns) / sizeof(aligns[0]))];
    emit(c, OP_ALLOC, 0, (int64_t)size, (int64_t)align);
    if (ipo_alloc(&c->r.heap, size, align, &c->noise[c->nnoise]))
        child_die(34);
    c->nnoise++;
}

static void do_free(child_t *c)
{
    if (!c->nnoise)
        return;
    uint64_t i = pick(c, (uint64_t)c->nnoise);
    emit(c, OP_FREE, 0, 0, 0);
    if (ipo_alloc_free(&c->r.heap, c->noise[i]))
        child_die(35);
    c->noise[i] = c->noise[--c->nnoise];
}

static void do_list_insert(child_t *c)
{
    /* At the end half of the time, else anywhere (the middle shifts). */
    uint64_t index = pick(c, 2) ? c->m.llen : pick(c, c->m.llen + 1);
    uint32_t n = 1 + (uint32_t)(pick(c, 4) == 0 ? pick(c, 3) : 0);
    if (c->m.llen + n > LMAX)
        return;
    int64_t first = c->next_value;
    c->next_value += n;
    emit(c, OP_LIST_INSERT, n, (int64_t)index, first);
    ipo_value_t values[3];
    for (uint32_t i = 0; i < n; i++)
        if (make_value(&c->r, first + i, &values[i]))
            child_die(36);
    if (ipo_list_insert(&c->r, root_obj(c, c->roots.list), index, values, n))
        child_die(37);
}

static void do_list_remove(child_t *c)
{
    if (!c->m.llen)
        return;
    uint64_t index = pick(c, 2) ? c->m.llen - 1 : pick(c, c->m.llen);
    uint32_t n = 1 + (uint32_t)pick(c, 3);
    if (n > c->m.llen - index)
        n = (uint32_t)(c->m.llen - index);
    emit(c, OP_LIST_REMOVE, n, (int64_t)index, 0);
    ipo_list_remove(&c->r, root_obj(c, c->roots.list), index, n, NULL);
}

static void do_list_trim(child_t *c)
{
    emit(c, OP_LIST_TRIM, 0, 0, 0);
    ipo_list_trim(&c->r, root_obj(c, c->roots.list));
}

static void do_map_insert(child_t *c)
{
    if (c->m.mlen == MMAX)
        return;
    int64_t key = c->next_key++, value = c->next_value++;
    emit(c, OP_MAP_INSERT, 0, key, value);
    ipo_value_t k = { .type = IPO_T_INT64, .v.i64 = key }, v;
    if (make_value(&c->r, value, &v) ||
        ipo_map_insert(&c->r, root_obj(c, c->roots.map), ipo_hash_int64(key), &k, &v))
        child_die(38);
}

static void do_map_delete(child_t *c)
{
    if (!c->m.mlen)
        return;
    int64_t key = c->m.map[pick(c, c->m.mlen)].key;
    emit(c, OP_MAP_DELETE, 0, key, 0);
    ipo_obj_t *map = root_obj(c, c->roots.map);
    int64_t e = ipo_map_find(&c->r, map, ipo_hash_int64(key), int_key_eq, &key);
    if (e < 0)
        child_die(39);
    ipo_map_delete(&c->r, map, (uint64_t)e, NULL, NULL);
}

static void do_map_clear(child_t *c)
{
    emit(c, OP_MAP_CLEAR, 0, 0, 0);
    ipo_map_clear(&c->r, root_obj(c, c->roots.map));
}

/* A replace in place: the new value is an inline integer or a boxed one
 * (every third), so that the slot keeps its type (one store: an integer
 * over an integer; under the note: a child over a child) or changes it
 * (an integer over a child and back), and old children are released. */
static void do_list_set(child_t *c)
{
    if (!c->m.llen)
        return;
    uint64_t index = pick(c, c->m.llen);
    int64_t value = c->next_value++;
    emit(c, OP_LIST_SET, 0, (int64_t)index, value);
    ipo_value_t v;
    if (make_value(&c->r, value, &v) || ipo_list_set(&c->r, root_obj(c, c->roots.list), index, &v))
        child_die(40);
}

static void do_list_reverse(child_t *c)
{
    static uint64_t order[LMAX];
    emit(c, OP_LIST_REVERSE, 0, 0, 0);
    for (uint32_t k = 0; k < c->m.llen; k++)
        order[k] = c->m.llen - 1 - k;
    if (ipo_list_permute(&c->r, root_obj(c, c->roots.list), order, c->m.llen))
        child_die(41);
}

static void do_map_set(child_t *c)
{
    if (!c->m.mlen)
        return;
    int64_t key = c->m.map[pick(c, c->m.mlen)].key, value = c->next_value++;
    emit(c, OP_MAP_SET, 0, key, value);
    ipo_obj_t *map = root_obj(c, c->roots.map);
    int64_t e = ipo_map_find(&c->r, map, ipo_hash_int64(key), int_key_eq, &key);
    ipo_value_t v;
    if (e < 0 || make_value(&c->r, value, &v) || ipo_map_set_value(&c->r, map, (uint64_t)e, &v))
        child_die(42);
}

/* Weights of the operations, by mode and phase: the first half of the
 * turns grows the containers (list and table resizes), the second shrinks
 * them (trims, a clear). The writer mostly puts (the ring grows), the
 * reader mostly takes, at both ends. */
typedef struct weights {
    int put, take, take_newest, alloc, free, list_insert, list_remove, list_trim,
        map_insert, map_delete, map_clear, list_set, list_reverse, map_set;
} weights_t;

enum { OP_WEIGHTS = sizeof(weights_t) / sizeof(int) };

static const weights_t weight_table[2][2] = {
    [WRITER] = {
        { 30, 5, 3, 8, 6, 12, 3, 1, 10, 3, 0, 12, 4, 10 },
        { 30, 5, 3, 6, 8, 3, 12, 3, 3, 8, 1, 12, 4, 10 },
    },
    [READER] = {
        { 5, 22, 10, 8, 6, 12, 3, 1, 10, 3, 0, 12, 4, 10 },
        { 5, 22, 10, 6, 8, 3, 12, 3, 3, 8, 1, 12, 4, 10 },
    },
};

static void one_op(child_t *c, const weights_t *wt)
{
    const int *w = &wt->put;
    int total = 0;
    for (int i = 0; i < OP_WEIGHTS; i++)
        total += w[i];
    int x = (int)pick(c, (uint64_t)total), i = 0;
    while (x >= w[i])
        x -= w[i++];
    switch (i) {
    case 0:  do_put(c); break;
    case 1:  do_take(c, 0); break;
    case 2:  do_take(c, 1); break;
    case 3:  do_alloc(c); break;
    case 4:  do_free(c); break;
    case 5:  do_list_insert(c); break;
    case 6:  do_list_remove(c); break;
    case 7:  do_list_trim(c); break;
    case 8:  do_map_insert(c); break;
    case 9:  do_map_delete(c); break;
    case 10: do_map_clear(c); break;
    case 11: do_list_set(c); break;
    case 12: do_list_reverse(c); break;
    default: do_map_set(c); break;
    }
}

static void child_main(const char *name, const workload_t *wl, const model_t *m0,
                       shared_roots_t roots, int ops_fd)
{
    static child_t c; /* large (the model): not on the stack */
    c.ops_fd = ops_fd;
    c.m = *m0;
    c.roots = roots;
    c.rng = wl->seed * 2 + 1;
    c.next_seq = wl->prefill + 1;
    c.next_value = 1;
    c.next_key = 1;
    c.nnoise = 0;
    if (ipo_region_attach(&c.r, name, NULL) || ipo_waker_init(&c.w, &c.r))
        child_die(2);
    for (int t = 0; t < wl->turns; t++) {
        if (ipo_handoff_acquire(&c.w, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_BOUND_NS, -1,
                                IPO_SPIN_NS_DEFAULT))
            child_die(3);
        emit(&c, OP_BEGIN, 0, t, 0);
        const weights_t *wt = &weight_table[wl->mode == READER][t >= wl->turns / 2];
        int ops = 4 + (int)pick(&c, 10);
        for (int i = 0; i < ops; i++)
            one_op(&c, wt);
        ipo_handoff_release(&c.w);
        emit(&c, OP_RELEASED, 0, t, 0);
    }
    /* Only the counting run gets here (a crash run dies on the way). */
    emit(&c, OP_COUNT, 0, (int64_t)ipo__crash_points_passed(), 0);
    ipo_waker_fini(&c.w);
    ipo_region_detach(&c.r);
    ipo_region_unmap(&c.r);
    _exit(0);
}

/* The relay's taker: waits for access beside the writer and the parent;
 * the writer's death hands it the turn by takeover, and the repair that
 * runs then passes its crash points (IPO_CRASH_AT names one of them, or
 * one past them: it survives then). A survivor says how many points the
 * repair passed, releases and leaves. */
static void taker_main(const char *name, int ready_fd, int where_fd)
{
    ipo_region_t r;
    ipo_waker_t w;
    if (ipo_region_attach(&r, name, NULL) || ipo_waker_init(&w, &r))
        child_die(2);
    if (write(ready_fd, "r", 1) != 1)
        child_die(4);
    int64_t deadline = ipo_now_ns() + TAKEOVER_BOUND_NS;
    for (;;) {
        if (ipo_handoff_acquire(&w, IPO_WAIT_FOR_ACCESS, deadline, -1, 0))
            child_die(3);
        if (ipo_access_cut_short(&r))
            break;
        ipo_handoff_release(&w);
    }
    char line[64];
    int len = snprintf(line, sizeof(line), "survived %llu\n", (unsigned long long)ipo__crash_points_passed());
    if (write(where_fd, line, (size_t)len) != len)
        child_die(5);
    ipo_handoff_release(&w);
    ipo_waker_fini(&w);
    ipo_region_detach(&r);
    ipo_region_unmap(&r);
    _exit(0);
}

/* ---- the parent: set up, wait for the takeover, verify ------------------------- */

typedef struct failure_note {
    char text[512];
} failure_note_t;

#define NOTE(f, ...) (snprintf((f)->text, sizeof((f)->text), __VA_ARGS__), -1)

/* Prints up to 8 numbers of a sequence, for a failure note. */
static void describe_seq(char *buf, size_t len, const int64_t *v, uint32_t n)
{
    int used = snprintf(buf, len, "[%u:", n);
    for (uint32_t i = 0; i < n && i < 8 && used > 0 && (size_t)used < len; i++)
        used += snprintf(buf + used, len - (size_t)used, " %lld", (long long)v[i]);
    if (used > 0 && (size_t)used < len)
        snprintf(buf + used, len - (size_t)used, "%s]", n > 8 ? " ..." : "");
}

static int same_seq(const int64_t *a, uint32_t na, const int64_t *b, uint32_t nb)
{
    return na == nb && !memcmp(a, b, na * sizeof(*a));
}

/* The queue's sequence numbers, oldest first. */
static int read_queue(const ipo_region_t *r, int64_t *out, uint32_t *n, failure_note_t *f)
{
    const ipo_queue_t *q = &r->hdr->queue;
    const ipo_ring_t *ring = (const ipo_ring_t *)(r->base + q->ring);
    if (q->tail - q->head > QMAX)
        return NOTE(f, "the queue holds %llu messages", (unsigned long long)(q->tail - q->head));
    *n = 0;
    for (uint64_t i = q->head; i != q->tail; i++) {
        const ipo_obj_t *obj;
        ipo_off_t off = ring->entries[i & (ring->capacity - 1)];
        int64_t seq;
        if (ipo_obj_get(r, off, &obj) || read_message(r, off, &seq))
            return NOTE(f, "message %llu names no message the workload made",
                        (unsigned long long)(i - q->head));
        if (!(obj->flags & IPO_OBJ_QUEUED))
            return NOTE(f, "message %llu (seq %lld) is not flagged queued",
                        (unsigned long long)(i - q->head), (long long)seq);
        out[(*n)++] = seq;
    }
    return 0;
}

static int read_list(const ipo_region_t *r, ipo_off_t off, int64_t *out, uint32_t *n, failure_note_t *f)
{
    uint64_t len;
    ipo_value_t *items = ipo_list_items(r, (const ipo_obj_t *)(r->base + off), &len);
    if (len > LMAX)
        return NOTE(f, "the list holds %llu items", (unsigned long long)len);
    for (uint64_t i = 0; i < len; i++)
        if (read_value(r, &items[i], &out[i]))
            return NOTE(f, "list item %llu is not a value the workload stored", (unsigned long long)i);
    *n = (uint32_t)len;
    return 0;
}

static int read_map(const ipo_region_t *r, ipo_off_t off, pair_t *out, uint32_t *n, failure_note_t *f)
{
    ipo_table_t *t = ipo_map_table(r, (const ipo_obj_t *)(r->base + off));
    if (!t)
        return NOTE(f, "the dict's table does not check out");
    ipo_entry_t *e = ipo_table_entries(t);
    *n = 0;
    for (uint64_t j = 0; j < t->nentries; j++) {
        if (!e[j].live)
            continue;
        if (*n == MMAX || e[j].key.type != IPO_T_INT64 || read_value(r, &e[j].value, &out[*n].value))
            return NOTE(f, "dict entry %llu is not one the workload stored", (unsigned long long)j);
        out[(*n)++].key = e[j].key.v.i64;
    }
    return 0;
}

/* Each structure must be as the model had it before the operation the
 * kill cut short, or after it. */
static int verify_state(const ipo_region_t *r, shared_roots_t roots, const model_t *before,
                        const model_t *after, failure_note_t *f)
{
    static int64_t seqs[QMAX], items[LMAX];
    static pair_t pairs[MMAX];
    uint32_t n;
    char got[160], want[160];
    if (read_queue(r, seqs, &n, f))
        return -1;
    /* Never twice: a message duplicated is a failure however the rest looks. */
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++)
            if (seqs[i] == seqs[j])
                return NOTE(f, "message %lld is queued twice", (long long)seqs[i]);
    if (!same_seq(seqs, n, before->q, before->qlen) && !same_seq(seqs, n, after->q, after->qlen)) {
        describe_seq(got, sizeof(got), seqs, n);
        describe_seq(want, sizeof(want), before->q, before->qlen);
        return NOTE(f, "the queue holds %s, not %s or the operation's result", got, want);
    }
    if (read_list(r, roots.list, items, &n, f))
        return -1;
    if (!same_seq(items, n, before->list, before->llen) && !same_seq(items, n, after->list, after->llen)) {
        describe_seq(got, sizeof(got), items, n);
        describe_seq(want, sizeof(want), before->list, before->llen);
        return NOTE(f, "the list holds %s, not %s or the operation's result", got, want);
    }
    if (read_map(r, roots.map, pairs, &n, f))
        return -1;
    if (!(n == before->mlen && !memcmp(pairs, before->map, n * sizeof(pair_t))) &&
        !(n == after->mlen && !memcmp(pairs, after->map, n * sizeof(pair_t))))
        return NOTE(f, "the dict holds %u entries, the model %u before the operation and %u after",
                    n, before->mlen, after->mlen);
    return 0;
}

static int check_all(const ipo_region_t *r, shared_roots_t roots, failure_note_t *f)
{
    char why[256] = "";
    if (ipo_region_check(r, why, sizeof(why)))
        return NOTE(f, "check: %s", why);
    if (ipo_obj_check_tree(r, roots.list, 0, why, sizeof(why)) ||
        ipo_obj_check_tree(r, roots.map, 0, why, sizeof(why)))
        return NOTE(f, "container check: %s", why);
    return 0;
}

/* After recovery the region must go on working: the parent takes every
 * message (in order, each once) and destroys it, changes both containers,
 * allocates and frees, and checks again. */
static int carry_on(ipo_region_t *r, shared_roots_t roots, const int64_t *expect, uint32_t nexpect,
                    uint64_t *rng, failure_note_t *f)
{
    for (uint32_t i = 0; i < nexpect; i++) {
        ipo_off_t off;
        int64_t seq;
        if (ipo_queue_take(r, &off) || read_message(r, off, &seq) || seq != expect[i])
            return NOTE(f, "taking message %u after recovery failed", i);
        int rc = ipo_obj_destroy(r, off);
        if (rc)
            return NOTE(f, "destroying message %lld after recovery: %s", (long long)expect[i],
                        ipo_strerror(rc));
    }
    if (ipo_queue_length(r))
        return NOTE(f, "the queue holds more messages than it showed");
    ipo_obj_t *list = (ipo_obj_t *)(r->base + roots.list), *map = (ipo_obj_t *)(r->base + roots.map);
    ipo_value_t v = { .type = IPO_T_INT64, .v.i64 = 1 };
    int64_t key = -1;
    if (ipo_list_insert(r, list, 0, &v, 1) ||
        ipo_map_insert(r, map, ipo_hash_int64(key), &(ipo_value_t){ .type = IPO_T_INT64, .v.i64 = key }, &v))
        return NOTE(f, "the containers refuse changes after recovery");
    uint64_t len;
    ipo_list_items(r, list, &len);
    ipo_list_remove(r, list, 0, len, NULL);
    ipo_list_trim(r, list);
    ipo_map_clear(r, map);
    ipo_off_t blocks[32];
    for (int i = 0; i < 32; i++) {
        uint64_t size = 1 + test_rand(rng) % 3000, align = UINT64_C(16) << (test_rand(rng) % 5);
        int rc = ipo_alloc(&r->heap, size, align, &blocks[i]);
        if (rc)
            return NOTE(f, "allocating %llu bytes after recovery: %s", (unsigned long long)size,
                        ipo_strerror(rc));
    }
    for (int i = 0; i < 32; i++)
        if (ipo_alloc_free(&r->heap, blocks[(i * 7) % 32]))
            return NOTE(f, "freeing a block after recovery failed");
    return check_all(r, roots, f);
}

/* Reads one record; 1, 0 at end of file, -1 on error. Waits at most
 * timeout_ms for it (-1: as long as it takes). */
static int read_op(int fd, op_t *op, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    if (timeout_ms >= 0 && poll(&p, 1, timeout_ms) != 1)
        return -1;
    size_t got = 0;
    while (got < sizeof(*op)) {
        ssize_t n = read(fd, (char *)op + got, sizeof(*op) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 && got == 0 ? 0 : -1;
        got += (size_t)n;
    }
    return 1;
}

typedef struct run_result {
    uint64_t count;          /* counting run: crash points passed */
    int      relay_killed;   /* relay: the taker was killed in its repair */
    uint64_t repair_points;  /* relay: points a surviving taker's repair passed */
    int64_t  recovery_ns;    /* kill to takeover */
    char     where[128];     /* file:line of the point the child died at */
    const char *cut_op;      /* the operation the kill cut short */
} run_result_t;

/* The relay's middle: a taker joins while the writer is in its turn, and
 * is killed at a crash point of its repair (one derived from `at`), or
 * survives it. The
 * parent waits for it to end before it waits for access itself, so that
 * the taker, not the parent, takes the writer's turn over. */
static int relay(const char *name, uint64_t at, ipo_region_t *r, run_result_t *res, failure_note_t *f)
{
    (void)r;
    int ready[2], where[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(where), 0);
    /* Points spread over the repair (some 10 to 60 for these heaps), and
     * some past its end. */
    uint64_t m = 1 + (at * UINT64_C(2654435761)) % 72;
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(where[0]);
        char num[32];
        snprintf(num, sizeof(num), "%llu", (unsigned long long)m);
        setenv("IPO_CRASH_AT", num, 1);
        snprintf(num, sizeof(num), "%d", where[1]);
        setenv("IPO_CRASH_WHERE_FD", num, 1);
        taker_main(name, ready[1], where[1]);
    }
    close(ready[1]);
    close(where[1]);
    int rc = 0, status = 0;
    char line[256];
    struct pollfd p = { .fd = ready[0], .events = POLLIN, .revents = 0 };
    if (poll(&p, 1, 20000) != 1 || read(ready[0], line, 1) != 1) {
        kill(pid, SIGKILL);
        rc = NOTE(f, "the taker did not attach");
    }
    if (waitpid(pid, &status, 0) != pid) {
        rc = rc ? rc : NOTE(f, "waitpid of the taker failed");
    } else if (!rc) {
        ssize_t n = read(where[0], line, sizeof(line) - 1);
        unsigned long long v = 0;
        char site[128];
        line[n > 0 ? n : 0] = 0;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
            sscanf(line, "%llu %127s", &v, site) == 2 && v == m) {
            res->relay_killed = 1;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && sscanf(line, "survived %llu", &v) == 1) {
            res->repair_points = v;
        } else {
            rc = NOTE(f, "the taker (crash point %llu) ended with status 0x%x: %s",
                      (unsigned long long)m, status, line);
        }
    }
    close(ready[0]);
    close(where[0]);
    return rc;
}

/* One run: a fresh region, a child running the workload (killed at its
 * at-th crash point, or never when at is 0), and the checks. 0, or -1 with
 * a note. */
static int run_once(const workload_t *wl, uint64_t at, run_result_t *res, failure_note_t *f)
{
    static model_t m0, before, after;
    char name[64];
    ipo_region_t r;
    test_region_name(name, sizeof(name), "crash");
    ipo_region_options_t o;
    memset(&o, 0, sizeof(o));
    o.size = REGION_SIZE;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));

    /* The roots, and the messages put before the child starts. */
    ASSERT(ipo_handoff_try(&w, 0));
    shared_roots_t roots;
    ASSERT_OK(ipo_list_new(&r, 0, &roots.list));
    ASSERT_OK(ipo_map_new(&r, IPO_T_DICT, 0, &roots.map));
    memset(&m0, 0, sizeof(m0));
    for (int i = 1; i <= wl->prefill; i++) {
        ipo_off_t off;
        ASSERT_OK(make_message(&r, i, &off));
        ASSERT_OK(ipo_queue_put(&r, off));
        m0.q[m0.qlen++] = i;
    }
    ipo_handoff_release(&w);

    int ops[2], where[2];
    ASSERT_EQ(pipe(ops), 0);
    ASSERT_EQ(pipe(where), 0);
    /* Room for every record, so that a child holding access never blocks
     * on a full pipe while the parent waits for access. */
    (void)fcntl(ops[1], F_SETPIPE_SZ, 1 << 20);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(ops[0]);
        close(where[0]);
        char num[32];
        snprintf(num, sizeof(num), "%llu", (unsigned long long)at);
        setenv("IPO_CRASH_AT", num, 1);
        snprintf(num, sizeof(num), "%d", where[1]);
        setenv("IPO_CRASH_WHERE_FD", num, 1);
        child_main(name, wl, &m0, roots, ops[1]);
    }
    close(ops[1]);
    close(where[1]);

    int rc = 0, status = 0, reaped = 0;
    op_t op;
    int64_t taken_at = 0;
    before = m0;
    after = m0;
    res->cut_op = "none";
    res->where[0] = 0;
    if (at) {
        /* The child's first turn has begun: wait for access beside it, as
         * any participant would. Turns it releases may come our way; only a
         * turn taken over ends the wait. */
        if (read_op(ops[0], &op, 20000) != 1 || op.kind != OP_BEGIN) {
            rc = NOTE(f, "the child did not begin its first turn");
            goto out;
        }
        if (wl->mode == RELAY && (rc = relay(name, at, &r, res, f)))
            goto out;
        int64_t deadline = ipo_now_ns() + TAKEOVER_BOUND_NS;
        for (;;) {
            if (wl->mode == RELAY && !res->relay_killed)
                break; /* the taker repaired and released: any turn will do */
            int wrc = ipo_handoff_acquire(&w, IPO_WAIT_FOR_ACCESS, deadline, -1, 0);
            if (wrc) {
                char why[256] = "";
                ipo_region_check(&r, why, sizeof(why));
                rc = NOTE(f, "no takeover within %lld ms: %s (check: %s)",
                          (long long)(TAKEOVER_BOUND_NS / 1000000), ipo_strerror(wrc), why);
                goto out;
            }
            if (ipo_access_cut_short(&r))
                break;
            ipo_handoff_release(&w);
        }
        if (wl->mode == RELAY && !res->relay_killed) {
            int wrc = ipo_handoff_acquire(&w, IPO_WAIT_FOR_ACCESS, deadline, -1, 0);
            if (wrc) {
                rc = NOTE(f, "no turn after the taker left: %s", ipo_strerror(wrc));
                goto out;
            }
        }
        taken_at = ipo_now_ns();
        if (waitpid(pid, &status, 0) != pid) {
            rc = NOTE(f, "waitpid failed");
            goto out;
        }
        reaped = 1;
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
            rc = NOTE(f, "the child was not killed at its crash point (status 0x%x)", status);
            goto out;
        }
        char line[256];
        ssize_t n = read(where[0], line, sizeof(line) - 1);
        unsigned long long point = 0;
        long long killed_at = 0;
        if (n <= 0 || (line[n] = 0, sscanf(line, "%llu %127s %lld", &point, res->where, &killed_at) != 3) ||
            point != at) {
            rc = NOTE(f, "the child did not say where it died");
            goto out;
        }
        /* A relay's recovery went through the taker: not timed. */
        res->recovery_ns = wl->mode == RELAY ? -1 : taken_at - killed_at;
        if (!ipo_region_takeovers(&r)) {
            rc = NOTE(f, "the header counts no takeover");
            goto out;
        }
    } else {
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            rc = NOTE(f, "the counting run failed (status 0x%x)", status);
            goto out;
        }
        reaped = 1;
        ASSERT(ipo_handoff_try(&w, 0));
        taken_at = 1;
    }

    /* Replay the child's report: all operations but the last completed. */
    const op_t *last = NULL;
    op_t prev_op;
    int got;
    while ((got = read_op(ops[0], &op, -1)) == 1) {
        if (op.kind == OP_COUNT) {
            res->count = (uint64_t)op.a;
            continue;
        }
        if (op.kind == OP_BEGIN || op.kind == OP_RELEASED)
            continue;
        if (last && model_apply(&before, last)) {
            rc = NOTE(f, "the child's report does not replay");
            goto out;
        }
        prev_op = op;
        last = &prev_op;
        after = before;
        if (model_apply(&after, last)) {
            rc = NOTE(f, "the child's report does not replay");
            goto out;
        }
    }
    if (got < 0) {
        rc = NOTE(f, "reading the child's report failed");
        goto out;
    }
    if (!at) {
        before = after; /* the counting run completed everything */
    } else if (last) {
        res->cut_op = op_names[last->kind < OP_KINDS_ ? last->kind : 0];
    }
    if ((rc = check_all(&r, roots, f)))
        goto out;
    if ((rc = verify_state(&r, roots, &before, &after, f)))
        goto out;
    static int64_t seqs[QMAX];
    uint32_t nseqs;
    if ((rc = read_queue(&r, seqs, &nseqs, f)))
        goto out;
    uint64_t rng = wl->seed ^ at;
    rc = carry_on(&r, roots, seqs, nseqs, &rng, f);

out:
    if (!reaped) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (taken_at && ipo_access_held(&r))
        ipo_handoff_release(&w);
    close(ops[0]);
    close(where[0]);
    ipo_waker_fini(&w);
    ipo_region_detach(&r);
    ipo_region_unmap(&r);
    return rc;
}

/* ---- the harness ------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct sites killed at, and failures by site. */
typedef struct site {
    char     where[128];
    uint64_t kills, failures;
} site_t;

static site_t sites[512];
static int nsites;

static site_t *site_of(const char *where)
{
    for (int i = 0; i < nsites; i++)
        if (!strcmp(sites[i].where, where))
            return &sites[i];
    if (nsites == (int)(sizeof(sites) / sizeof(sites[0])))
        return &sites[nsites - 1];
    snprintf(sites[nsites].where, sizeof(sites[nsites].where), "%s", where);
    return &sites[nsites++];
}

/* Kills the workload at every `every`-th point; the number of failures. */
static uint64_t run_workload(const workload_t *wl, uint64_t every, uint64_t only, int64_t **times,
                             uint64_t *ntimes)
{
    run_result_t res;
    failure_note_t f;
    memset(&res, 0, sizeof(res));
    if (run_once(wl, 0, &res, &f)) {
        fprintf(stderr, "    %s, seed %llu: the workload fails without a kill: %s\n",
                mode_names[wl->mode], (unsigned long long)wl->seed, f.text);
        return 1;
    }
    uint64_t count = res.count, failures = 0, printed = 0, tried = 0, relay_kills = 0, repair_max = 0;
    *times = realloc(*times, (*ntimes + count) * sizeof(int64_t));
    ASSERT(*times);
    int64_t start = ipo_now_ns();
    for (uint64_t at = only ? only : 1; at <= count; at += only ? count : every) {
        memset(&res, 0, sizeof(res));
        tried++;
        if (run_once(wl, at, &res, &f)) {
            failures++;
            site_t *s = site_of(res.where[0] ? res.where : "?");
            if (s->failures++ < 3 && printed++ < 40)
                fprintf(stderr, "    FAIL %s, seed %llu, point %llu at %s (in %s): %s\n",
                        mode_names[wl->mode], (unsigned long long)wl->seed, (unsigned long long)at,
                        res.where[0] ? res.where : "?", res.cut_op, f.text);
        } else {
            site_of(res.where)->kills++;
            if (res.recovery_ns >= 0)
                (*times)[(*ntimes)++] = res.recovery_ns;
            relay_kills += (uint64_t)res.relay_killed;
            if (!res.relay_killed && res.repair_points > repair_max)
                repair_max = res.repair_points;
        }
    }
    if (wl->mode == RELAY)
        fprintf(stderr, "    relay: the taker was killed in %llu repairs (a surviving repair passed up to %llu points)\n",
                (unsigned long long)relay_kills, (unsigned long long)repair_max);
    fprintf(stderr, "    %s, seed %llu: %llu points, %llu killed at, %llu failed, %.1f s\n",
            mode_names[wl->mode], (unsigned long long)wl->seed, (unsigned long long)count,
            (unsigned long long)tried, (unsigned long long)failures,
            (double)(ipo_now_ns() - start) / 1e9);
    return failures;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1, seeds = 1, every = 1, only = 0;
    int turns = 8, modes = 7, list_sites = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--seed") && v)
            seed = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--seeds") && v)
            seeds = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--turns") && v)
            turns = atoi(v), i++;
        else if (!strcmp(argv[i], "--list"))
            list_sites = 1;
        else if (!strcmp(argv[i], "--at") && v)
            only = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--every") && v)
            every = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--mode") && v)
            modes = !strcmp(v, "writer") ? 1 : !strcmp(v, "reader") ? 2 : !strcmp(v, "relay") ? 4 : 7, i++;
        else {
            fprintf(stderr, "usage: %s [--seed S] [--seeds K] [--turns T] [--every M] [--at N] [--list] "
                            "[--mode writer|reader|relay|all]\n", argv[0]);
            return 2;
        }
    }
    if (!every || turns < 1)
        return 2;
    srand((unsigned)getpid());
    /* A waiter's doorbell write to a dead child's FIFO must not kill us. */
    signal(SIGPIPE, SIG_IGN);

    int64_t *times = NULL;
    uint64_t ntimes = 0, failures = 0;
    for (uint64_t s = seed; s < seed + seeds; s++) {
        for (int mode = WRITER; mode < MODES_; mode++) {
            if (!(modes & (1 << mode)))
                continue;
            workload_t wl = { (enum mode)mode, s, turns, mode == READER ? 140 : 56 };
            failures += run_workload(&wl, every, only, &times, &ntimes);
        }
    }
    uint64_t kills = 0;
    for (int i = 0; i < nsites; i++)
        kills += sites[i].kills + sites[i].failures;
    fprintf(stderr, "    %llu kills at %d sites, %llu failed\n", (unsigned long long)kills, nsites,
            (unsigned long long)failures);
    if (failures || list_sites) {
        for (int i = 0; i < nsites; i++)
            if (sites[i].failures || list_sites)
                fprintf(stderr, "      %s: %llu of %llu kills failed\n", sites[i].where,
                        (unsigned long long)sites[i].failures,
                        (unsigned long long)(sites[i].failures + sites[i].kills));
    }
    if (ntimes) {
        qsort(times, ntimes, sizeof(*times), cmp_i64);
        fprintf(stderr, "    recovery (kill to takeover, %llu runs): p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, "
                        "max %.3f ms\n", (unsigned long long)ntimes,
                (double)times[ntimes / 2] / 1e6, (double)times[ntimes * 9 / 10] / 1e6,
                (double)times[ntimes * 99 / 100] / 1e6, (double)times[ntimes - 1] / 1e6);
    }
    free(times);
    return failures ? 1 : 0;
}

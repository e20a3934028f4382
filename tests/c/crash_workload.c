/* tests/c/crash_workload.c — test_crash's child: the scripted workload, run in turns until a crash point kills it. */
#include <stdio.h>
#include <unistd.h>

#include "crash_point.h"
#include "crash_scenario.h"
#include "ipo/alloc.h"
#include "ipo/hash.h"
#include "ipo/queue.h"
#include "ipo/recover.h"
#include "ipo/waiter.h"
#include "procs.h"
#include "task.h"

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

void child_main(const char *name, const workload_t *wl, const model_t *m0,
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
void taker_main(const char *name, int ready_fd, int where_fd)
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

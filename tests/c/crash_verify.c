/* tests/c/crash_verify.c — test_crash's parent checks: every structure as before the cut operation or after it. */
#include "crash_scenario.h"
#include "ipo/alloc.h"
#include "ipo/hash.h"
#include "ipo/queue.h"
#include "task.h"

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
int read_queue(const ipo_region_t *r, int64_t *out, uint32_t *n, failure_note_t *f)
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
int verify_state(const ipo_region_t *r, shared_roots_t roots, const model_t *before,
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

int check_all(const ipo_region_t *r, shared_roots_t roots, failure_note_t *f)
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
int carry_on(ipo_region_t *r, shared_roots_t roots, const int64_t *expect, uint32_t nexpect,
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

/* tests/fuzz/fuzz_region.c — libFuzzer target: a damaged region image, joined, checked, read and changed. */
/* A region is formatted in memory and filled with messages of every kind of
 * container (a list of lists, a dict of str keys, a set, tuples, a value
 * run), once. Each input is a list of patches written over a copy of that
 * image (so most of the structure stays sound and the fuzzer reaches deep
 * paths), standing for whatever another process, or a crash, may have
 * left. Then the harness does what a participant does: join (attach's
 * validation), check(), peek at both ends, walk every message's tree as a
 * reader does (lists by their checked length, tables by lookups of each
 * entry's hash), then change it (take, put, insert, delete, destroy) and
 * check again. Any outcome but a crash, a hang, or a sanitizer report is
 * fine: the region may be refused, or report itself damaged.
 *
 * Input: records of offset (u16 little-endian, times 8 bytes into the
 * image), length (u8, 1 to 16) and that many bytes. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ipo/access.h"
#include "ipo/alloc.h"
#include "ipo/containers.h"
#include "ipo/errors.h"
#include "ipo/format.h"
#include "ipo/hash.h"
#include "ipo/queue.h"
#include "ipo/region.h"

#define IMAGE_SIZE (UINT64_C(1) << 19)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
ssize_t getrandom(void *buf, size_t len, unsigned flags);

/* The region's random keys (hash key, block tags) come from getrandom():
 * this one answers the same bytes each time, so that an input replays the
 * same way in every run (the fuzzer's own binary wins over libc's). */
ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
    (void)flags;
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = (uint8_t)(0xA5 ^ (i * 29));
    return (ssize_t)len;
}

static uint8_t *pristine, *image;

/* ---- the image ------------------------------------------------------------------- */

/* The harness's own setup failed: not a finding, but no run either. */
static __attribute__((noreturn)) void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz_region: cannot %s (%d)\n", what, rc);
    abort();
}

static ipo_value_t str_value(ipo_region_t *r, const char *text)
{
    ipo_off_t off;
    void *payload;
    int rc = ipo_obj_new(r, IPO_T_STR, strlen(text), &off, &payload);
    if (rc)
        die("str", rc);
    memcpy(payload, text, strlen(text));
    return (ipo_value_t){ .type = IPO_T_STR, .v.off = off };
}

static ipo_value_t int_value(int64_t v)
{
    return (ipo_value_t){ .type = IPO_T_INT64, .v.i64 = v };
}

static uint64_t str_hash(const ipo_region_t *r, const char *text)
{
    return ipo_hash_bytes(r->hash_key, text, strlen(text));
}

static void put(ipo_region_t *r, ipo_off_t off)
{
    int rc = ipo_queue_put(r, off);
    if (rc)
        die("put", rc);
}

static void build_image(void)
{
    ipo_region_options_t o;
    memset(&o, 0, sizeof(o));
    o.slots = 4;
    if (ipo_region_format(pristine, IMAGE_SIZE, &o))
        die("format", 0);
    ipo_region_t r;
    if (ipo_region_join(&r, pristine, IMAGE_SIZE) || !ipo_access_try_acquire(&r))
        die("join", 0);

    /* A list of ints, strs and a nested list. */
    ipo_off_t list, inner;
    if (ipo_list_new(&r, 4, &list) || ipo_list_new(&r, 0, &inner))
        die("list", 0);
    for (int64_t i = 0; i < 6; i++) {
        ipo_value_t v = i % 2 ? int_value(i) : str_value(&r, "item");
        ipo_list_insert(&r, (ipo_obj_t *)(r.base + inner), i, &v, 1);
    }
    ipo_value_t items[3] = { int_value(7), str_value(&r, "seven"),
                             { .type = IPO_T_LIST, .v.off = inner } };
    ipo_list_insert(&r, (ipo_obj_t *)(r.base + list), 0, items, 3);
    put(&r, list);

    /* A dict of str keys: hashed with the region's key. */
    ipo_off_t dict;
    if (ipo_map_new(&r, IPO_T_DICT, 4, &dict))
        die("dict", 0);
    static const char *const keys[] = { "temp", "pressure", "humidity", "wind", "rain", "sun" };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ipo_value_t k = str_value(&r, keys[i]), v = int_value((int64_t)i * 10);
        ipo_map_insert(&r, (ipo_obj_t *)(r.base + dict), str_hash(&r, keys[i]), &k, &v);
    }
    put(&r, dict);

    /* A set of ints, a tuple of values, a bytes. */
    ipo_off_t set;
    if (ipo_map_new(&r, IPO_T_SET, 2, &set))
        die("set", 0);
    for (int64_t i = 0; i < 5; i++) {
        ipo_value_t k = int_value(i);
        ipo_map_insert(&r, (ipo_obj_t *)(r.base + set), ipo_hash_int64(i), &k, NULL);
    }
    put(&r, set);
    ipo_off_t tuple;
    void *payload;
    if (ipo_obj_new(&r, IPO_T_TUPLE, 3 * sizeof(ipo_value_t), &tuple, &payload))
        die("tuple", 0);
    ipo_value_t parts[3] = { int_value(1), str_value(&r, "two"), { .type = IPO_T_NONE } };
    memcpy(payload, parts, sizeof(parts));
    put(&r, tuple);
    ipo_off_t bytes;
    if (ipo_obj_new(&r, IPO_T_BYTES, 300, &bytes, &payload))
        die("bytes", 0);
    memset(payload, 0x42, 300);
    put(&r, bytes);
    /* One message taken already, so head is not 0. */
    ipo_off_t first;
    ipo_queue_take(&r, &first);
    put(&r, first);
    ipo_access_release(&r);
    ipo_region_leave(&r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    pristine = aligned_alloc(4096, IMAGE_SIZE);
    image = aligned_alloc(4096, IMAGE_SIZE);
    if (!pristine || !image)
        die("memory", 0);
    memset(pristine, 0, IMAGE_SIZE);
    build_image();
    return 0;
}

/* ---- what a participant does ------------------------------------------------------ */

/* A reader's equality for map lookups: the stored key has the type asked. */
static int same_type(void *ctx, const ipo_value_t *stored)
{
    return stored->type == *(const uint8_t *)ctx;
}

/* Reads an object's tree as a decoder does, within its own bounds. */
static void walk(ipo_region_t *r, ipo_off_t off, unsigned depth, unsigned *budget)
{
    const ipo_obj_t *obj;
    if (depth > 64 || *budget == 0 || ipo_obj_get(r, off, &obj))
        return;
    --*budget;
    volatile uint8_t sink = 0;
    if (ipo_type_has_payload(obj->type) && obj->v.len)
        sink ^= ((const uint8_t *)ipo_obj_data(obj))[obj->v.len - 1];
    (void)sink;
    switch (obj->type) {
    case IPO_T_LIST: {
        ipo_value_t *items;
        uint64_t len;
        if (ipo_list_get(r, obj, &items, &len) == 0)
            for (uint64_t i = 0; i < len; i++)
                if (!ipo_value_is_inline(items[i].type))
                    walk(r, items[i].v.off, depth + 1, budget);
        return;
    }
    case IPO_T_DICT:
    case IPO_T_SET:
    case IPO_T_FROZENSET: {
        ipo_table_t *t = ipo_map_table(r, obj);
        if (!t)
            return;
        ipo_entry_t *e = ipo_table_entries(t);
        for (uint64_t j = 0; j < t->nentries; j++) {
            if (!e[j].live)
                continue;
            uint8_t type = e[j].key.type;
            ipo_map_find(r, obj, e[j].hash, same_type, &type);
            if (!ipo_value_is_inline(e[j].value.type))
                walk(r, e[j].value.v.off, depth + 1, budget);
        }
        return;
    }
    default: {
        ipo_value_t *values;
        size_t n = ipo_obj_values(obj, &values);
        for (size_t i = 0; i < n; i++)
            if (!ipo_value_is_inline(values[i].type))
                walk(r, values[i].v.off, depth + 1, budget);
    }
    }
}

/* Changes the message's object as a writer would. */
static void change(ipo_region_t *r, ipo_off_t off, uint8_t how)
{
    const ipo_obj_t *obj;
    if (ipo_obj_get(r, off, &obj))
        return;
    ipo_obj_t *o = (ipo_obj_t *)obj;
    if (o->type == IPO_T_LIST) {
        ipo_value_t v = int_value(how);
        ipo_value_t *items;
        uint64_t len;
        if (ipo_list_get(r, o, &items, &len) == 0) {
            if (how & 1)
                ipo_list_insert(r, o, len / 2, &v, 1);
            else if (len)
                ipo_list_remove(r, o, 0, 1, NULL);
            ipo_list_trim(r, o);
        }
    } else if (o->type == IPO_T_DICT || o->type == IPO_T_SET) {
        ipo_value_t k = int_value(1000 + how);
        uint8_t type = IPO_T_INT64;
        int64_t e = ipo_map_find(r, o, ipo_hash_int64(1000 + how), same_type, &type);
        if (e == IPO_MAP_ABSENT)
            ipo_map_insert(r, o, ipo_hash_int64(1000 + how), &k, NULL);
        else if (e >= 0)
            ipo_map_delete(r, o, (uint64_t)e, NULL, NULL);
        if (how & 2)
            ipo_map_clear(r, o);
    }
}

static void run_one(const uint8_t *data, size_t size)
{
    memcpy(image, pristine, IMAGE_SIZE);
    uint8_t how = 0;
    while (size >= 4) {
        uint64_t at = (uint64_t)(data[0] | data[1] << 8) * 8;
        size_t len = (size_t)(data[2] % 16) + 1;
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        if (at + len <= IMAGE_SIZE)
            memcpy(image + at, data, len);
        how ^= data[0];
        data += len;
        size -= len;
    }

    ipo_region_t r;
    if (ipo_region_join(&r, image, IMAGE_SIZE))
        return;
    char why[256];
    ipo_region_check(&r, why, sizeof(why));
    /* The access word may name a holder: the damaged region's, not ours. */
    if (!ipo_access_try_acquire(&r)) {
        ipo_region_leave(&r);
        return;
    }
    ipo_off_t off;
    unsigned budget = 4096;
    if (ipo_queue_peek_newest(&r, &off) == 0)
        walk(&r, off, 0, &budget);
    for (int i = 0; i < 8 && ipo_queue_peek(&r, &off) == 0; i++) {
        walk(&r, off, 0, &budget);
        ipo_obj_check_tree(&r, off, 0, why, sizeof(why));
        change(&r, off, (uint8_t)(how + i));
        walk(&r, off, 0, &budget);
        if (ipo_queue_take(&r, &off))
            break;
        if (i % 3 == 0)
            ipo_queue_put(&r, off);
        else
            ipo_obj_destroy(&r, off);
    }
    ipo_off_t fresh;
    if (ipo_list_new(&r, 3, &fresh) == 0 && ipo_queue_put(&r, fresh))
        ipo_obj_destroy(&r, fresh);
    ipo_alloc_stats_t st;
    ipo_alloc_stats(&r.heap, &st);
    ipo_region_check(&r, why, sizeof(why));
    ipo_access_release(&r);
    ipo_region_leave(&r);
}

/* Trees are walked recursively to IPO_MAX_NESTING levels (a damaged region
 * can make a cycle that deep): about 100 to 250 bytes a level as the core
 * is built for use (-O2), 2.4 MB at most, but 400 to 900 bytes at -O0 under
 * AddressSanitizer, past the main thread's 8 MB. So each input runs on a
 * thread with a stack that holds what the sanitizer's frames need. */
typedef struct { const uint8_t *data; size_t size; } input_t;

static void *run_thread(void *arg)
{
    input_t *in = arg;
    run_one(in->data, in->size);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_t in = { data, size };
    pthread_attr_t attr;
    pthread_t thread;
    if (pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, (size_t)64 << 20) ||
        pthread_create(&thread, &attr, run_thread, &in))
        die("thread", 0);
    pthread_join(thread, NULL);
    pthread_attr_destroy(&attr);
    return 0;
}

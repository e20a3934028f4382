/* tests/c/test_format.c — object blocks: headers, payload alignment, validation, destruction. */
#include "ipo/format.h"
#include "ipo/region.h"
#include "region_twin.h"
#include "task.h"

static void test_objects(void)
{
    uint64_t size = 1 << 20;
    ipo_region_t r;
    void *mem = region_twin_new(size, &r);

    ipo_off_t small, big, scalar;
    void *data;
    ASSERT_OK(ipo_obj_new(&r, IPO_T_BYTES, 10, &small, &data));
    memcpy(data, "0123456789", 10);
    ASSERT_OK(ipo_obj_new(&r, IPO_T_STR, 1000, &big, &data));
    /* Long payloads start on a cache line. */
    ASSERT_EQ(((uintptr_t)data - (uintptr_t)mem) % 64, 0);
    ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_FLOAT64, 0, &scalar));
    ASSERT_ERR(ipo_obj_new_scalar(&r, IPO_T_BYTES, 0, &scalar), IPO_EINVAL);
    ASSERT_ERR(ipo_obj_new(&r, 0, 0, &scalar, NULL), IPO_EINVAL);
    ASSERT_ERR(ipo_obj_new(&r, 200, 0, &scalar, NULL), IPO_EINVAL);

    const ipo_obj_t *obj;
    ASSERT_OK(ipo_obj_get(&r, small, &obj));
    ASSERT_EQ(obj->type, IPO_T_BYTES);
    ASSERT_UEQ(obj->v.len, 10);
    ASSERT_EQ(memcmp(ipo_obj_data(obj), "0123456789", 10), 0);
    uint32_t gen_small = obj->gen;
    ASSERT_OK(ipo_obj_get(&r, big, &obj));
    ASSERT_NE(obj->gen, gen_small);

    /* Offsets that do not name objects are refused, never followed. */
    ASSERT_ERR(ipo_obj_get(&r, small + 16, &obj), IPO_EBADOBJ);
    ASSERT_ERR(ipo_obj_get(&r, 8, &obj), IPO_EBADOBJ);
    ASSERT_ERR(ipo_obj_destroy(&r, size * 2), IPO_EBADOBJ);
    ASSERT_OK(ipo_obj_destroy(&r, small));
    ASSERT_ERR(ipo_obj_destroy(&r, small), IPO_EBADOBJ);
    ASSERT_ERR(ipo_obj_get(&r, small, &obj), IPO_EBADOBJ);

    /* An impossible payload length is caught by get. */
    ipo_obj_t *raw = (ipo_obj_t *)((uint8_t *)mem + big);
    uint64_t saved = raw->v.len;
    raw->v.len = size;
    ASSERT_ERR(ipo_obj_get(&r, big, &obj), IPO_EBADOBJ);
    raw->v.len = saved;
    ASSERT_OK(ipo_obj_destroy(&r, big));
    ASSERT_OK(ipo_obj_destroy(&r, scalar));
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* A tuple owns its children: destroying it frees the tree; a child that
 * does not check out is left alone rather than followed. */
static void test_containers_free_their_tree(void)
{
    uint64_t size = 1 << 20;
    ipo_region_t r;
    void *mem = region_twin_new(size, &r);
    ipo_alloc_stats_t before, after;
    ipo_alloc_stats(&r.heap, &before);

    ipo_off_t inner, text, outer;
    void *data;
    ASSERT_OK(ipo_obj_new(&r, IPO_T_STR, 5, &text, &data));
    memcpy(data, "hello", 5);
    ASSERT_OK(ipo_obj_new(&r, IPO_T_TUPLE, 2 * sizeof(ipo_value_t), &inner, &data));
    ipo_value_t *v = data;
    v[0] = (ipo_value_t){ .type = IPO_T_STR, .v.off = text };
    v[1] = (ipo_value_t){ .type = IPO_T_INT64, .v.i64 = -7 };
    ASSERT_OK(ipo_obj_new(&r, IPO_T_TUPLE, 3 * sizeof(ipo_value_t), &outer, &data));
    v = data;
    v[0] = (ipo_value_t){ .type = IPO_T_TUPLE, .v.off = inner };
    v[1] = (ipo_value_t){ .type = IPO_T_NONE };
    v[2] = (ipo_value_t){ .type = IPO_T_BYTES, .v.off = 12345 }; /* not an object */

    const ipo_obj_t *obj;
    ASSERT_OK(ipo_obj_get(&r, outer, &obj));
    ipo_value_t *values;
    ASSERT_EQ(ipo_obj_values(obj, &values), 3);
    ASSERT_OK(ipo_obj_destroy(&r, outer));
    ASSERT_ERR(ipo_obj_get(&r, inner, &obj), IPO_EBADOBJ);
    ASSERT_ERR(ipo_obj_get(&r, text, &obj), IPO_EBADOBJ);
    ipo_alloc_stats(&r.heap, &after);
    ASSERT_UEQ(after.free_bytes, before.free_bytes);
    ASSERT_UEQ(after.used_blocks, before.used_blocks);

    /* Fixed-size payloads must have their size, when made and when read. */
    ipo_off_t bad;
    ASSERT_ERR(ipo_obj_new(&r, IPO_T_COMPLEX, 8, &bad, &data), IPO_EINVAL);
    ASSERT_ERR(ipo_obj_new(&r, IPO_T_TUPLE, 20, &bad, &data), IPO_EINVAL);
    ASSERT_OK(ipo_obj_new(&r, IPO_T_COMPLEX, 16, &bad, &data));
    ((ipo_obj_t *)((uint8_t *)mem + bad))->v.len = 8;
    ASSERT_ERR(ipo_obj_get(&r, bad, &obj), IPO_EBADOBJ);
    ((ipo_obj_t *)((uint8_t *)mem + bad))->v.len = 16;
    ASSERT_OK(ipo_obj_destroy(&r, bad));
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* A pinned object (a live zero-copy buffer shows it) is in use: it cannot
 * be destroyed until its last pin goes. The pin count is 16 bits: the
 * 65536th pin is refused as an overflow, not as "in use". */
static void test_pins(void)
{
    uint64_t size = 1 << 20;
    void *mem = aligned_alloc(4096, size);
    ipo_region_options_t o = { 0 };
    ASSERT_OK(ipo_region_format(mem, size, &o));
    ipo_region_t r;
    ASSERT_OK(ipo_region_join(&r, mem, size));

    ipo_off_t off, bytes, tuple;
    void *data;
    ASSERT_OK(ipo_obj_new(&r, IPO_T_BYTES, 100, &off, &data));
    static ipo_off_t many[UINT16_MAX];
    ipo_off_t pin;
    ASSERT_ERR(ipo_obj_pin(&r, off + 16, &pin), IPO_EBADOBJ);
    ASSERT_OK(ipo_obj_pin(&r, off, &pin));
    ASSERT_ERR(ipo_obj_destroy(&r, off), IPO_EBUSY);
    ipo_obj_unpin(&r, off, pin);
    for (unsigned i = 0; i < UINT16_MAX; i++)
        ASSERT_OK(ipo_obj_pin(&r, off, &many[i]));
    ASSERT_ERR(ipo_obj_pin(&r, off, &pin), IPO_EOVERFLOW);
    ASSERT_ERR(ipo_obj_destroy(&r, off), IPO_EBUSY);
    for (unsigned i = 0; i < UINT16_MAX; i++)
        ipo_obj_unpin(&r, off, many[i]);
    ASSERT_OK(ipo_obj_destroy(&r, off));

    /* A pinned child keeps its whole tree. */
    ASSERT_OK(ipo_obj_new(&r, IPO_T_BYTES, 10, &bytes, &data));
    ASSERT_OK(ipo_obj_new(&r, IPO_T_TUPLE, sizeof(ipo_value_t), &tuple, &data));
    *(ipo_value_t *)data = (ipo_value_t){ .type = IPO_T_BYTES, .v.off = bytes };
    ASSERT_OK(ipo_obj_pin(&r, bytes, &pin));
    ASSERT_ERR(ipo_obj_destroy(&r, tuple), IPO_EBUSY);
    ipo_obj_unpin(&r, bytes, pin);
    ASSERT_OK(ipo_obj_destroy(&r, tuple));
    const ipo_obj_t *obj;
    ASSERT_ERR(ipo_obj_get(&r, bytes, &obj), IPO_EBADOBJ);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ipo_region_leave(&r);
    free(mem);
}

/* A pickle is bytes to the format: any length, no values, refused by the
 * type check only past the last code the format knows. */
static void test_pickle_blocks(void)
{
    uint64_t size = 1 << 20;
    ipo_region_t r;
    void *mem = region_twin_new(size, &r);

    ipo_off_t off, empty, scalar;
    void *data;
    ASSERT_OK(ipo_obj_new(&r, IPO_T_PICKLE, 7, &off, &data));
    memcpy(data, "\x80\x05N.\0\0\0", 7);
    ASSERT_OK(ipo_obj_new(&r, IPO_T_PICKLE, 0, &empty, &data));
    ASSERT_EQ(ipo_type_has_payload(IPO_T_PICKLE), 1);
    ASSERT_ERR(ipo_obj_new_scalar(&r, IPO_T_PICKLE, 0, &scalar), IPO_EINVAL);
    ASSERT_ERR(ipo_obj_new(&r, IPO_T_PICKLE + 1, 8, &scalar, &data), IPO_EINVAL);

    const ipo_obj_t *obj;
    ipo_value_t *values;
    ASSERT_OK(ipo_obj_get(&r, off, &obj));
    ASSERT_EQ(obj->type, IPO_T_PICKLE);
    ASSERT_UEQ(obj->v.len, 7);
    ASSERT_EQ(memcmp(ipo_obj_data(obj), "\x80\x05N.", 4), 0);
    ASSERT_UEQ(ipo_obj_values(obj, &values), 0);
    /* A block whose type byte says a later code is no object. */
    ((ipo_obj_t *)obj)->type = IPO_T_PICKLE + 1;
    ASSERT_ERR(ipo_obj_get(&r, off, &obj), IPO_EBADOBJ);
    ((ipo_obj_t *)((uint8_t *)mem + off))->type = IPO_T_PICKLE;
    ASSERT_OK(ipo_obj_destroy(&r, off));
    ASSERT_OK(ipo_obj_destroy(&r, empty));
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

int main(void)
{
    RUN(test_objects);
    RUN(test_pins);
    RUN(test_containers_free_their_tree);
    RUN(test_pickle_blocks);
    return 0;
}

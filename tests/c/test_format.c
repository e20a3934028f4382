/* tests/c/test_format.c — object blocks: headers, payload alignment, validation, destruction. */
#include "ipo/format.h"
#include "ipo/region.h"
#include "task.h"

static void test_objects(void)
{
    uint64_t size = 1 << 20;
    void *mem = aligned_alloc(4096, size);
    ipo_region_options_t o = { 0 };
    ASSERT_OK(ipo_region_format(mem, size, &o));
    ipo_region_t r;
    ASSERT_OK(ipo_region_join(&r, mem, size));

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
    ipo_region_leave(&r);
    free(mem);
}

int main(void)
{
    RUN(test_objects);
    return 0;
}

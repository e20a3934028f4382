/* core/src/format.c — allocating, validating, pinning and destroying typed object blocks. */
#include "ipo/format.h"

#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "ipo/region.h"

int ipo_type_has_payload(uint8_t type)
{
    switch (type) {
    case IPO_T_BIGINT:
    case IPO_T_BYTES:
    case IPO_T_BYTEARRAY:
    case IPO_T_STR:
        return 1;
    default:
        return 0;
    }
}

static int type_known(uint8_t type)
{
    return type >= IPO_T_NONE && type <= IPO_T_LAST_BUILTIN_;
}

int ipo_obj_new(ipo_region_t *r, uint8_t type, uint64_t len, ipo_off_t *out, void **data)
{
    if (!type_known(type))
        return -IPO_EINVAL;
    int payload = ipo_type_has_payload(type);
    uint64_t rel = sizeof(ipo_obj_t), align = IPO_ALLOC_GRANULE;
    uint8_t flags = 0;
    if (!payload) {
        len = 0;
    } else if (len >= IPO_OBJ_ALIGN_THRESHOLD) {
        rel = align = IPO_OBJ_BIG_ALIGN;
        flags = IPO_OBJ_PAYLOAD_64;
    }
    if (len > r->size)
        return -IPO_ENOMEM;

    ipo_off_t off;
    int rc = ipo_alloc(&r->heap, rel + len, align, &off);
    if (rc)
        return rc;
    ipo_obj_t *obj = (ipo_obj_t *)(r->base + off);
    obj->type = type;
    obj->flags = flags;
    obj->pins = 0;
    /* Generations are for views compared within one region; a counter that
     * wraps after 2^32 objects is enough to tell a reused block apart. */
    obj->gen = (uint32_t)++r->hdr->next_gen;
    obj->v.len = len;
    *out = off;
    if (data)
        *data = payload ? (uint8_t *)obj + rel : NULL;
    return 0;
}

int ipo_obj_new_scalar(ipo_region_t *r, uint8_t type, uint64_t bits, ipo_off_t *out)
{
    if (ipo_type_has_payload(type))
        return -IPO_EINVAL;
    int rc = ipo_obj_new(r, type, 0, out, NULL);
    if (rc)
        return rc;
    ((ipo_obj_t *)(r->base + *out))->v.u64 = bits;
    return 0;
}

int ipo_obj_get(const ipo_region_t *r, ipo_off_t off, const ipo_obj_t **out)
{
    if (ipo_alloc_validate(&r->heap, off))
        return -IPO_EBADOBJ;
    const ipo_obj_t *obj = (const ipo_obj_t *)(r->base + off);
    if (!type_known(obj->type))
        return -IPO_EBADOBJ;
    uint64_t usable = ipo_alloc_usable_size(&r->heap, off);
    if (ipo_type_has_payload(obj->type)) {
        uint64_t rel = ipo_obj_data_rel(obj);
        if (rel > usable || obj->v.len > usable - rel)
            return -IPO_EBADOBJ;
    }
    *out = obj;
    return 0;
}

int ipo_obj_pin(ipo_region_t *r, ipo_off_t off)
{
    const ipo_obj_t *obj;
    if (ipo_obj_get(r, off, &obj))
        return -IPO_EBADOBJ;
    uint16_t *pins = &((ipo_obj_t *)obj)->pins;
    /* Pins are only added under access, so this read cannot race another add. */
    if (ipo__load_relaxed(pins) == UINT16_MAX)
        return -IPO_EBUSY;
    ipo__fetch_add(pins, (uint16_t)1);
    return 0;
}

void ipo_obj_unpin(ipo_region_t *r, ipo_off_t off)
{
    __atomic_fetch_sub(&((ipo_obj_t *)(r->base + off))->pins, (uint16_t)1, __ATOMIC_RELEASE);
}

int ipo_obj_destroy(ipo_region_t *r, ipo_off_t off)
{
    const ipo_obj_t *obj;
    int rc = ipo_obj_get(r, off, &obj);
    if (rc)
        return rc;
    /* Pairs with the release in ipo_obj_unpin(): once the last pin is seen
     * gone, the buffer's user is done with the payload. */
    if ((obj->flags & IPO_OBJ_QUEUED) || ipo__load_acquire(&obj->pins))
        return -IPO_EBUSY;
    /* Scalars, strings and byte strings own nothing but their block.
     * Containers will free their children here first. */
    return ipo_alloc_free(&r->heap, off);
}

/* core/src/format.c — allocating, validating, pinning and destroying typed object blocks. */
#include "ipo/format.h"

#include "ipo/containers.h"

#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "ipo/recover.h"
#include "ipo/region.h"
#include "crash_point.h"
#include "internal.h"

int ipo_type_has_payload(uint8_t type)
{
    return type > IPO_T_FLOAT64 && type <= IPO_T_LAST_BUILTIN_ && type != IPO_T_DATE;
}

/* The payload size a type must have, or 0 when it varies. */
static uint64_t fixed_payload(uint8_t type)
{
    switch (type) {
    case IPO_T_COMPLEX:   return 16;
    case IPO_T_SLICE:     return IPO_SLICE_PARTS * sizeof(ipo_value_t);
    case IPO_T_DATETIME:  return sizeof(ipo_datetime_t);
    case IPO_T_TIMEDELTA: return sizeof(ipo_timedelta_t);
    case IPO_T_TIMEZONE:  return sizeof(ipo_timezone_t);
    case IPO_T_TIME:      return sizeof(ipo_time_t);
    case IPO_T_LIST:      return sizeof(ipo_list_t);
    case IPO_T_DICT:
    case IPO_T_SET:
    case IPO_T_FROZENSET: return sizeof(ipo_map_t);
    case IPO_T_TENSOR:    return IPO_TENSOR_PARTS * sizeof(ipo_value_t);
    case IPO_T_ENUM:      return IPO_ENUM_PARTS * sizeof(ipo_value_t);
    case IPO_T_NDARRAY:   return IPO_NDARRAY_PARTS * sizeof(ipo_value_t);
    case IPO_T_OBJECT:    return IPO_OBJECT_PARTS * sizeof(ipo_value_t);
    default:              return 0;
    }
}

/* Types whose payload is a run of values, whatever its length. */
static int is_value_run(uint8_t type)
{
    return type == IPO_T_TUPLE || type == IPO_T_VALUES || type == IPO_T_FLDICT ||
           type == IPO_T_FLSET;
}

size_t ipo_obj_values(const ipo_obj_t *obj, ipo_value_t **values)
{
    uint8_t *data = ipo_obj_data(obj);
    *values = (ipo_value_t *)data;
    if (is_value_run(obj->type))
        return (size_t)(obj->v.len / sizeof(ipo_value_t));
    switch (obj->type) {
    case IPO_T_SLICE:
        return IPO_SLICE_PARTS;
    case IPO_T_NDARRAY:
        return IPO_NDARRAY_PARTS;
    case IPO_T_OBJECT:
        return IPO_OBJECT_PARTS;
    case IPO_T_ENUM:
        return IPO_ENUM_PARTS;
    case IPO_T_TENSOR:
        return IPO_TENSOR_PARTS;
    case IPO_T_DICT:
    case IPO_T_SET:
    case IPO_T_FROZENSET:
        *values = &((ipo_map_t *)data)->table;
        return 1;
    case IPO_T_LIST:
        *values = &((ipo_list_t *)data)->items;
        return 1;
    case IPO_T_DATETIME:
        *values = &((ipo_datetime_t *)data)->tzinfo;
        return 1;
    case IPO_T_TIME:
        *values = &((ipo_time_t *)data)->tzinfo;
        return 1;
    case IPO_T_TIMEZONE:
        *values = &((ipo_timezone_t *)data)->name;
        return 1;
    default:
        *values = NULL;
        return 0;
    }
}

static int bad_run_length(uint8_t type, uint64_t len)
{
    uint64_t unit = type == IPO_T_FLDICT ? 2 * sizeof(ipo_value_t) : sizeof(ipo_value_t);
    return is_value_run(type) && len % unit;
}

static int type_known(uint8_t type)
{
    return type >= IPO_T_NONE && type <= IPO_T_LAST_BUILTIN_;
}

int ipo_obj_new(ipo_region_t *r, uint8_t type, uint64_t len, ipo_off_t *out, void **data)
{
    return ipo_obj_new_aligned(r, type, len, 0, out, data);
}

int ipo_obj_new_aligned(ipo_region_t *r, uint8_t type, uint64_t len, int align64,
                        ipo_off_t *out, void **data)
{
    if (!type_known(type))
        return -IPO_EINVAL;
    int payload = ipo_type_has_payload(type);
    uint64_t fixed = fixed_payload(type);
    if ((fixed && len != fixed) || bad_run_length(type, len))
        return -IPO_EINVAL;
    uint64_t rel = sizeof(ipo_obj_t), align = IPO_ALLOC_GRANULE;
    uint8_t flags = 0;
    if (!payload) {
        len = 0;
    } else if (len >= IPO_OBJ_ALIGN_THRESHOLD || align64) {
        rel = align = IPO_OBJ_BIG_ALIGN;
        flags = IPO_OBJ_PAYLOAD_64;
    }
    if (len > r->size) {
        /* Refused before asking: recorded for the report all the same. */
        (void)ipo_alloc_refuse(&r->heap, len > UINT64_MAX - rel ? UINT64_MAX : rel + len, align);
        return -IPO_ENOMEM;
    }

    ipo_off_t off;
    int rc = ipo_alloc(&r->heap, rel + len, align, &off);
    if (rc == -IPO_ENOMEM && flags && !align64) {
        /* A large payload starts on a cache line for speed, not by need:
         * when no chunk holds it there, one that holds it 16 bytes after
         * the header will do (readers follow the flag, not the size), and
         * a failure then reports that smaller request. */
        rel = sizeof(ipo_obj_t);
        align = IPO_ALLOC_GRANULE;
        flags = 0;
        rc = ipo_alloc(&r->heap, rel + len, align, &off);
    }
    if (rc)
        return rc;
    ipo_obj_t *obj = (ipo_obj_t *)(r->base + off);
    IPO_CRASH_POINT();
    obj->type = type;
    obj->flags = flags;
    obj->pins = 0; /* plain: a fresh block, which no buffer can name yet */
    /* Generations are for views compared within one region; a counter that
     * wraps after 2^32 objects is enough to tell a reused block apart.
     * Plain: only holders of access stamp generations, and views compare
     * them only while holding access. */
    IPO_CRASH_POINT();
    uint32_t gen = (uint32_t)++r->hdr->next_gen;
    if (gen == 0) { /* 0 marks a destroyed block */
        IPO_CRASH_POINT();
        gen = (uint32_t)++r->hdr->next_gen;
    }
    obj->gen = gen;
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
    /* The allocator's check inline, which gives the block's usable size
     * with it: every decode and key compare of a child comes here. */
    uint64_t usable;
    if (!ipo_alloc_live(&r->heap, off, &usable))
        return -IPO_EBADOBJ;
    const ipo_obj_t *obj = (const ipo_obj_t *)(r->base + off);
    if (!type_known(obj->type))
        return -IPO_EBADOBJ;
    if (ipo_type_has_payload(obj->type)) {
        uint64_t rel = ipo_obj_data_rel(obj);
        if (rel > usable || obj->v.len > usable - rel)
            return -IPO_EBADOBJ;
        uint64_t fixed = fixed_payload(obj->type);
        if ((fixed && obj->v.len != fixed) || bad_run_length(obj->type, obj->v.len))
            return -IPO_EBADOBJ;
    }
    *out = obj;
    return 0;
}

void ipo__obj_free_block(ipo_region_t *r, ipo_off_t off)
{
    ipo_region_mark_changed(r);
    /* Only a live block is marked and freed: a stray offset (a damaged
     * container's) must not have its bytes written over. */
    if (ipo_alloc_validate(&r->heap, off))
        return;
    /* A view still naming this block sees generation 0 and a bad type,
     * whatever the allocator writes over the rest. Plain: views compare the
     * generation and type only while their process holds access (see
     * ipo_py_view_obj()), which orders them after this turn. */
    ipo_obj_t *obj = (ipo_obj_t *)(r->base + off);
    IPO_CRASH_POINT();
    obj->gen = 0;
    IPO_CRASH_POINT();
    obj->type = 0;
    ipo_alloc_free(&r->heap, off);
}

static void destroy_tree(ipo_region_t *r, const ipo_obj_t *obj, ipo_off_t off, unsigned depth);

static void destroy_values(ipo_region_t *r, ipo_value_t *values, size_t n, size_t stride, unsigned depth)
{
    for (size_t i = 0; i < n; i++) {
        ipo_value_t *v = (ipo_value_t *)((uint8_t *)values + i * stride);
        const ipo_obj_t *child;
        if (ipo_value_is_inline(v->type) || ipo_obj_get(r, v->v.off, &child))
            continue;
        IPO_CRASH_POINT();
        v->type = IPO_T_NONE; /* the parent never names freed memory */
        /* A child whose payload a live buffer still shows (a numpy array
         * over it) is left in place: leaking it is better than letting
         * that buffer show reused memory. SYNC POINT object pins: pairs
         * with the fetch-sub-release in ipo_obj_unpin() (core/src/pins.c). */
        if (ipo_atomic_load_acquire(&child->pins))
            continue;
        destroy_tree(r, child, v->v.off, depth + 1);
    }
}

/* Frees an object's children, then the object. Children were made by the
 * encoder, one parent each; one that does not check out is left alone
 * rather than followed. A value is cleared before its child is followed,
 * so a cycle in a damaged region ends; a tree deeper than
 * IPO_MAX_NESTING (only a damaged region's) is left in place below that
 * depth rather than run the stack out. */
static void destroy_tree(ipo_region_t *r, const ipo_obj_t *obj, ipo_off_t off, unsigned depth)
{
    if (depth > IPO_MAX_NESTING)
        return;
    if (obj->type == IPO_T_TABLE) {
        ipo_table_t *t = ipo__table_of(obj);
        if (t) {
            ipo_entry_t *e = ipo_table_entries(t);
            destroy_values(r, &e->key, (size_t)t->nentries, sizeof(ipo_entry_t), depth);
            destroy_values(r, &e->value, (size_t)t->nentries, sizeof(ipo_entry_t), depth);
        }
    } else {
        ipo_value_t *values;
        size_t n = ipo_obj_values(obj, &values);
        destroy_values(r, values, n, sizeof(ipo_value_t), depth);
    }
    ipo__obj_free_block(r, off);
}

/* Whether a buffer shows any block of the tree (a numpy array over a
 * child's data, say): 1, 0, or -1 when the tree is no tree (deeper than
 * IPO_MAX_NESTING, or reaching more blocks than *budget: blocks of a
 * damaged region that share children or form a cycle). */
static int tree_pinned(const ipo_region_t *r, const ipo_obj_t *obj, unsigned depth, uint64_t *budget)
{
    if (depth > IPO_MAX_NESTING || *budget == 0)
        return -1;
    --*budget;
    /* SYNC POINT object pins: pairs with the fetch-sub-release in
     * ipo_obj_unpin(): once the last pin is seen gone, the buffer's user is
     * done with the payload. */
    if (ipo_atomic_load_acquire(&obj->pins))
        return 1;
    ipo_value_t *values;
    size_t n = ipo_obj_values(obj, &values);
    ipo_entry_t *entries = NULL;
    if (obj->type == IPO_T_TABLE) {
        ipo_table_t *t = ipo__table_of(obj);
        if (!t)
            return 0;
        entries = ipo_table_entries(t);
        n = (size_t)t->nentries * 2;
    }
    for (size_t i = 0; i < n; i++) {
        const ipo_value_t *v = entries ? (i % 2 ? &entries[i / 2].value : &entries[i / 2].key)
                                       : &values[i];
        const ipo_obj_t *child;
        if (!ipo_value_is_inline(v->type) && !ipo_obj_get(r, v->v.off, &child)) {
            int pinned = tree_pinned(r, child, depth + 1, budget);
            if (pinned)
                return pinned;
        }
    }
    return 0;
}

/* The most blocks one tree can have: every allocated block, and never more
 * than the heap can hold, whatever its (shared) count says. */
static uint64_t tree_budget(const ipo_region_t *r)
{
    uint64_t used = r->heap.root->used_blocks, most = r->size / (2 * sizeof(ipo_block_t));
    return used < most ? used : most;
}

int ipo_obj_destroy(ipo_region_t *r, ipo_off_t off)
{
    ipo_region_mark_changed(r);
    const ipo_obj_t *obj;
    int rc = ipo_obj_get(r, off, &obj);
    if (rc)
        return rc;
    if (obj->flags & IPO_OBJ_QUEUED)
        return -IPO_EBUSY;
    uint64_t budget = tree_budget(r);
    int pinned = tree_pinned(r, obj, 0, &budget);
    if (pinned > 0 && ipo_region_drop_dead_pins(r)) {
        /* Some pins were of dead participants' buffers: look again. */
        budget = tree_budget(r);
        pinned = tree_pinned(r, obj, 0, &budget);
    }
    if (pinned)
        return pinned < 0 ? -IPO_ECORRUPT : -IPO_EBUSY;
    destroy_tree(r, obj, off, 0);
    ipo__pins_trim(r);
    return 0;
}

void ipo__obj_release(ipo_region_t *r, ipo_off_t off)
{
    ipo_region_mark_changed(r);
    const ipo_obj_t *obj;
    /* SYNC POINT object pins: pairs with the fetch-sub-release in
     * ipo_obj_unpin(). */
    if (ipo_obj_get(r, off, &obj) == 0 && !(obj->flags & IPO_OBJ_QUEUED) &&
        !ipo_atomic_load_acquire(&obj->pins)) {
        destroy_tree(r, obj, off, 0);
        ipo__pins_trim(r);
    }
}

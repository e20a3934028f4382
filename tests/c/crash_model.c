/* tests/c/crash_model.c — test_crash's model of the queue, the list and the dict, and the values it writes. */
#include <string.h>

#include "crash_scenario.h"
#include "ipo/format.h"

const char *const op_names[OP_KINDS_] = {
    "?", "begin", "released", "put", "take", "take newest", "destroy", "alloc", "free",
    "list insert", "list remove", "list trim", "dict insert", "dict delete", "dict clear",
    "list set", "list reverse", "dict set", "count",
};

/* Applies one operation; 0, or -1 when the operation cannot apply (the
 * child's report disagrees with the model: a harness bug). */
int model_apply(model_t *m, const op_t *op)
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

int make_value(ipo_region_t *r, int64_t v, ipo_value_t *out)
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
int read_value(const ipo_region_t *r, const ipo_value_t *v, int64_t *out)
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
int make_message(ipo_region_t *r, int64_t s, ipo_off_t *out)
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
int read_message(const ipo_region_t *r, ipo_off_t off, int64_t *s)
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

int int_key_eq(void *ctx, const ipo_value_t *stored)
{
    return stored->type == IPO_T_INT64 && stored->v.i64 == *(const int64_t *)ctx;
}

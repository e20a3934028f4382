/* python/src/observe.c — _observe(): a region's figures read from outside, for the command line. */
#include "observe.h"

#include "ipo/alloc.h"
#include "ipo/observe.h"
#include "ipo/recover.h"

/* Names of the format's type codes, as a user of the command line knows
 * them (the Python type each stands for). */
static const char *type_name(unsigned type)
{
    static const char *const names[] = {
        [0] = "(queue ring)",
        [IPO_T_NONE] = "None", [IPO_T_BOOL] = "bool", [IPO_T_INT64] = "int",
        [IPO_T_FLOAT64] = "float", [IPO_T_BIGINT] = "int (big)", [IPO_T_BYTES] = "bytes",
        [IPO_T_BYTEARRAY] = "bytearray", [IPO_T_STR] = "str", [IPO_T_COMPLEX] = "complex",
        [IPO_T_DECIMAL] = "Decimal", [IPO_T_SLICE] = "slice", [IPO_T_DATETIME] = "datetime",
        [IPO_T_TIMEDELTA] = "timedelta", [IPO_T_TIMEZONE] = "timezone", [IPO_T_DATE] = "date",
        [IPO_T_TIME] = "time", [IPO_T_TUPLE] = "tuple", [IPO_T_ZONEINFO] = "ZoneInfo",
        [IPO_T_LIST] = "list", [IPO_T_VALUES] = "(list items, fields)", [IPO_T_DICT] = "dict",
        [IPO_T_SET] = "set", [IPO_T_FROZENSET] = "frozenset", [IPO_T_TABLE] = "(dict/set table)",
        [IPO_T_FLDICT] = "FastLimitedDict", [IPO_T_FLSET] = "FastLimitedSet",
        [IPO_T_NDARRAY] = "numpy.ndarray", [IPO_T_TENSOR] = "torch.Tensor",
        [IPO_T_OBJECT] = "object", [IPO_T_ENUM] = "enum", [IPO_T_PICKLE] = "pickle",
    };
    if (type < sizeof(names) / sizeof(names[0]) && names[type])
        return names[type];
    return "(unknown)";
}

/* The class an object or enum block names ("module:qualname"), as text
 * for a person: never imported, at most 200 bytes, undecodable bytes
 * replaced. None when it names none. */
static PyObject *class_named(const ipo_region_t *r, const ipo_obj_t *obj)
{
    if (obj->type != IPO_T_OBJECT && obj->type != IPO_T_ENUM)
        Py_RETURN_NONE;
    /* Each field read once into a copy and bounded by its block: the
     * blocks may change while a tool reads them without access. */
    ipo_value_t *values;
    ipo_obj_t head;
    memcpy(&head, obj, sizeof(head));
    if (ipo_obj_values(&head, &values) < 1)
        Py_RETURN_NONE;
    ipo_value_t name;
    memcpy(&name, (const uint8_t *)obj + ((uint8_t *)values - (uint8_t *)&head), sizeof(name));
    const ipo_obj_t *s;
    if (name.type != IPO_T_STR || ipo_obj_get(r, name.v.off, &s))
        Py_RETURN_NONE;
    ipo_obj_t str;
    memcpy(&str, s, sizeof(str));
    uint64_t rel = (uint64_t)((uint8_t *)ipo_obj_data(&str) - (uint8_t *)&str);
    uint64_t usable = ipo_alloc_usable_size(&r->heap, name.v.off);
    if (str.type != IPO_T_STR || rel > usable)
        Py_RETURN_NONE;
    uint64_t len = str.v.len < 200 ? str.v.len : 200;
    if (len > usable - rel)
        len = usable - rel;
    return PyUnicode_DecodeUTF8((const char *)s + rel, (Py_ssize_t)len, "replace");
}

static PyObject *waits_list(uint32_t waiting_for)
{
    PyObject *list = PyList_New(0);
    static const struct { uint32_t bit; const char *name; } kinds[] = {
        { IPO_WAIT_FOR_ACCESS, "access" },
        { IPO_WAIT_FOR_MESSAGES, "messages" },
        { IPO_WAIT_FOR_CHANGE, "change" },
    };
    for (size_t i = 0; list && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (!(waiting_for & kinds[i].bit))
            continue;
        PyObject *s = PyUnicode_FromString(kinds[i].name);
        if (!s || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(s);
    }
    return list;
}

/* Appends a new dict built by Py_BuildValue's format to list; -1 on error. */
static int append_built(PyObject *list, PyObject *item)
{
    if (!item)
        return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

static PyObject *participants(const ipo_region_t *r, uint64_t owner)
{
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    for (uint32_t i = 0; i < r->slot_count; i++) {
        const ipo_slot_t *s = r->slots + i;
        /* Relaxed: figures for a person; each field is read once. */
        uint32_t state = ipo_atomic_load_relaxed(&s->state);
        uint32_t pid = ipo_atomic_load_relaxed(&s->pid);
        int alive = ipo_region_slot_alive(r, i);
        if (state != IPO_SLOT_ACTIVE && !alive)
            continue;
        PyObject *waits = waits_list(ipo_atomic_load_relaxed(&s->waiting_for));
        if (!waits || append_built(list, Py_BuildValue(
                "{s:I,s:I,s:s,s:O,s:N,s:K,s:O,s:K}",
                "slot", (unsigned)i, "pid", (unsigned)pid,
                "role", ipo_atomic_load_relaxed(&s->role) == IPO_ROLE_CREATOR ? "creator" : "consumer",
                "alive", alive ? Py_True : Py_False,
                "waiting_for", waits,
                "turns", (unsigned long long)ipo_atomic_load_relaxed(&s->turns),
                "holds_access", owner == (uint64_t)i + 1 ? Py_True : Py_False,
                "start_time", (unsigned long long)ipo_atomic_load_relaxed(&s->start_time))) < 0) {
            Py_DECREF(list);
            return NULL;
        }
    }
    return list;
}

static PyObject *census(const ipo_region_t *r)
{
    uint64_t counts[256], bytes[256];
    int rc = ipo_region_block_census(r, counts, bytes);
    PyObject *out = PyDict_New();
    if (!out)
        return NULL;
    if (rc) {
        /* A walk that met a change halfway: say so rather than half figures. */
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    for (unsigned t = 0; t < 256; t++) {
        if (!counts[t])
            continue;
        PyObject *v = Py_BuildValue("(KK)", (unsigned long long)counts[t], (unsigned long long)bytes[t]);
        if (!v || PyDict_SetItemString(out, type_name(t), v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(v);
    }
    return out;
}

static PyObject *messages(const ipo_region_t *r, Py_ssize_t most)
{
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    for (uint64_t i = 0; i < (uint64_t)most; i++) {
        ipo_off_t off;
        int64_t put_ns = 0;
        if (ipo_queue_at(r, i, &off, &put_ns))
            break;
        const ipo_obj_t *obj;
        if (ipo_obj_get(r, off, &obj)) {
            if (append_built(list, Py_BuildValue("{s:K,s:K,s:s}", "index", (unsigned long long)i,
                                                 "offset", (unsigned long long)off,
                                                 "type", "(no object: changing)")) < 0)
                goto fail;
            continue;
        }
        uint64_t bytes, blocks;
        int whole = ipo_region_tree_size(r, off, &bytes, &blocks) == 0;
        PyObject *cls = class_named(r, obj);
        if (!cls || append_built(list, Py_BuildValue(
                "{s:K,s:K,s:L,s:s,s:N,s:K,s:K,s:O}", "index", (unsigned long long)i,
                "put_ns", (long long)put_ns,
                "offset", (unsigned long long)off, "type", type_name(obj->type), "class", cls,
                "bytes", (unsigned long long)bytes, "blocks", (unsigned long long)blocks,
                "whole", whole ? Py_True : Py_False)) < 0)
            goto fail;
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

static const char *state_name(uint32_t state)
{
    switch (state) {
    case IPO_STATE_READY:   return "ready";
    case IPO_STATE_CLOSING: return "closing";
    default:                return "damaged";
    }
}

static PyObject *figures(const ipo_region_t *r, int with_census, Py_ssize_t most_messages,
                         int with_check)
{
    const ipo_header_t *hdr = r->hdr;
    /* Relaxed loads throughout: a snapshot for a person, read without
     * access while the holder works; no figure is used to follow memory
     * except through the core's checked functions. */
    uint64_t word = ipo_atomic_load_relaxed(&hdr->access);
    uint64_t owner = word & IPO_ACCESS_SLOT_MASK; /* a turn handed and not yet claimed: its recipient's */
    ipo_alloc_stats_t s;
    ipo_alloc_stats(&r->heap, &s);
    uint64_t length = ipo_queue_length(r);
    uint64_t taken = ipo_atomic_load_relaxed(&hdr->queue.taken);
    PyObject *parts = participants(r, owner);
    if (!parts)
        return NULL;
    PyObject *holder = owner && owner <= r->slot_count ? PyLong_FromUnsignedLongLong(owner - 1)
                                                        : Py_NewRef(Py_None);
    PyObject *out = Py_BuildValue(
        "{s:K,s:K,s:I,s:I,s:I,s:I,s:s,s:I,s:O,"
        "s:{s:N,s:K,s:K},"
        "s:{s:K,s:K,s:K,s:K,s:K,s:K},"
        "s:{s:K,s:K,s:K},"
        "s:K,s:K,s:K,s:N}",
        "size", (unsigned long long)r->size, "inode", (unsigned long long)r->inode,
        "owner_uid", (unsigned)hdr->owner_uid, "mode", (unsigned)hdr->mode,
        "layout_version", (unsigned)hdr->layout_version, "creator_pid", (unsigned)hdr->creator_pid,
        "state", state_name(ipo_atomic_load_relaxed(&hdr->state)),
        "slot_count", (unsigned)r->slot_count,
        "creator_alive", ipo_region_slot_alive(r, 0) ? Py_True : Py_False,
        "access", "holder", holder,
        "turns", (unsigned long long)(word >> IPO_ACCESS_COUNT_SHIFT),
        "sleepers", (unsigned long long)((word & IPO_ACCESS_SLEEPER_MASK) / IPO_ACCESS_SLEEPER_ONE),
        "heap", "size", (unsigned long long)s.heap_size, "free_bytes", (unsigned long long)s.free_bytes,
        "used_bytes", (unsigned long long)(s.heap_size > s.free_bytes ? s.heap_size - s.free_bytes : 0),
        "largest_free", (unsigned long long)s.largest_free,
        "used_blocks", (unsigned long long)s.used_blocks, "free_blocks", (unsigned long long)s.free_blocks,
        "queue", "length", (unsigned long long)length, "taken", (unsigned long long)taken,
        "put", (unsigned long long)(taken + length),
        "takeovers", (unsigned long long)ipo_atomic_load_relaxed(&hdr->takeovers),
        "changes", (unsigned long long)ipo_atomic_load_relaxed(&hdr->changes),
        "attach_count", (unsigned long long)ipo_atomic_load_relaxed(&hdr->attach_count),
        "participants", parts);
    if (!out)
        return NULL;
    if (with_census) {
        PyObject *c = census(r);
        if (!c || PyDict_SetItemString(out, "blocks_by_type", c) < 0) {
            Py_XDECREF(c);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(c);
    }
    if (most_messages > 0) {
        PyObject *m = messages(r, most_messages);
        if (!m || PyDict_SetItemString(out, "messages", m) < 0) {
            Py_XDECREF(m);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(m);
    }
    if (with_check) {
        char why[512] = "";
        /* Settled when nobody held access and no turn went by while it
         * looked: only then does a failure mean damage (a holder changing
         * the region meanwhile can show a state between two of its
         * stores). Relaxed: the count is compared, nothing is read
         * through it. */
        uint64_t before = ipo_atomic_load_relaxed(&hdr->access);
        int rc = ipo_region_check(r, why, sizeof(why));
        uint64_t after = ipo_atomic_load_relaxed(&hdr->access);
        int settled = !(before & IPO_ACCESS_OWNER_MASK) &&
                      (before >> IPO_ACCESS_COUNT_SHIFT) == (after >> IPO_ACCESS_COUNT_SHIFT) &&
                      !(after & IPO_ACCESS_OWNER_MASK);
        if (PyDict_SetItemString(out, "check_settled", settled ? Py_True : Py_False) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        PyObject *v = rc ? PyUnicode_DecodeUTF8(why, (Py_ssize_t)strlen(why), "replace")
                         : Py_NewRef(Py_None);
        if (!v || PyDict_SetItemString(out, "check_failure", v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(v);
    }
    return out;
}

PyObject *ipo_py_observe(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "name", "census", "messages", "check", NULL };
    const char *name;
    int with_census = 0, with_check = 0;
    Py_ssize_t most_messages = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|pnp:_observe", kwlist, &name, &with_census,
                                     &most_messages, &with_check))
        return NULL;
    ipo_state *st = PyModule_GetState(module);
    ipo_region_t r;
    int rc = ipo_region_observe(&r, name);
    if (rc == -IPO_ECORRUPT)
        return ipo_py_raise(st, rc, "region '%s' is damaged: %s", name, ipo_region_corrupt_reason());
    if (rc == -IPO_ELAYOUT)
        return ipo_py_raise(st, rc, "'%s' is no region of this version of ipc_py_objects "
                            "(layout %u)", name, (unsigned)IPO_LAYOUT_VERSION);
    if (rc == -IPO_EAGAIN)
        return ipo_py_raise(st, -IPO_EAGAIN, "region '%s' is still being created", name);
    if (rc)
        return ipo_py_raise(st, rc, "cannot look at region '%s'", name);
    PyObject *out = figures(&r, with_census, most_messages, with_check);
    ipo_region_unobserve(&r);
    return out;
}

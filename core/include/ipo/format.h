/* core/include/ipo/format.h — the language-neutral object format (see docs/format.md). */
#ifndef IPO_FORMAT_H
#define IPO_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "ipo/layout.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ipo_region;

/* Type codes. The format is the contract between languages: a C service and
 * a Python process read the same blocks. Codes 1-63 are the format's own;
 * 64-127 are set aside for applications' own types; 0 and 128-255 are never
 * used. Blocks of a code this build does not know are refused as bad. */
enum ipo_type {
    IPO_T_NONE      = 1,  /* no payload */
    IPO_T_BOOL      = 2,  /* v.u64 is 0 or 1 */
    IPO_T_INT64     = 3,  /* v.i64 */
    IPO_T_FLOAT64   = 4,  /* v.f64, IEEE 754 binary64 */
    IPO_T_BIGINT    = 5,  /* v.len bytes of two's complement, little-endian */
    IPO_T_BYTES     = 6,  /* v.len bytes */
    IPO_T_BYTEARRAY = 7,  /* v.len bytes */
    IPO_T_STR       = 8,  /* v.len bytes of UTF-8 (lone surrogates as in 'surrogatepass') */
    IPO_T_COMPLEX   = 9,  /* 16 bytes: real, imaginary (binary64) */
    IPO_T_DECIMAL   = 10, /* v.len bytes of ASCII: the number as Python's str(Decimal) writes it */
    IPO_T_SLICE     = 11, /* 3 ipo_value_t: start, stop, step */
    IPO_T_DATETIME  = 12, /* ipo_datetime_t */
    IPO_T_TIMEDELTA = 13, /* ipo_timedelta_t */
    IPO_T_TIMEZONE  = 14, /* ipo_timezone_t: a fixed offset from UTC */
    IPO_T_DATE      = 15, /* no payload: v.u64 = year << 16 | month << 8 | day */
    IPO_T_TIME      = 16, /* ipo_time_t */
    IPO_T_TUPLE     = 17, /* v.len / 16 ipo_value_t */
    IPO_T_ZONEINFO  = 18, /* v.len bytes of UTF-8: an IANA time zone key */
    /* Live containers (ipo/containers.h): every process sees every change. */
    IPO_T_LIST      = 19, /* ipo_list_t: a length and a VALUES array */
    IPO_T_VALUES    = 20, /* v.len / 16 ipo_value_t: a list's items (capacity), an object's fields */
    IPO_T_DICT      = 21, /* ipo_map_t: a TABLE of keys and values; IPO_OBJ_READONLY: a Mapping */
    IPO_T_SET       = 22, /* ipo_map_t: a TABLE of keys */
    IPO_T_FROZENSET = 23, /* ipo_map_t: a TABLE of keys, never changed */
    IPO_T_TABLE     = 24, /* ipo_table_t: the hash index and entries of a DICT or SET */
    /* Compact copies: built once, read back whole. */
    IPO_T_FLDICT    = 25, /* 2n ipo_value_t: key, value, key, value... (FastLimitedDict) */
    IPO_T_FLSET     = 26, /* n ipo_value_t (FastLimitedSet) */
    /* Python-level objects, described by language-neutral parts. */
    IPO_T_NDARRAY   = 27, /* 3 ipo_value_t: dtype (STR, numpy's descr), shape (TUPLE), data (BYTES) */
    IPO_T_TENSOR    = 28, /* 1 ipo_value_t: the NDARRAY a torch CPU tensor lies over */
    IPO_T_OBJECT    = 29, /* 3 ipo_value_t: class (STR "module:qualname"), field names
                             (TUPLE of STR) and VALUES, or NONE and a DICT of attributes */
    IPO_T_ENUM      = 30, /* 2 ipo_value_t: class (STR "module:qualname"), the member's value */
    /* A language's own serialization, for what the parts above cannot describe. */
    IPO_T_PICKLE    = 31, /* v.len bytes: a Python pickle (protocol 5); read back as a copy,
                             only from a region that no other user can write */
    IPO_T_LAST_BUILTIN_ = IPO_T_PICKLE
};

/* Flags of any type (high bits) and of one type (low bits). */
/* A queued message names this object. An object is in at most one message
 * at a time, and cannot be destroyed while it is. */
#define IPO_OBJ_QUEUED     0x80
/* The payload starts 64 bytes after the header, on a 64-byte boundary
 * (payloads of IPO_OBJ_ALIGN_THRESHOLD bytes and more, when the region has
 * such a chunk free; always for an ndarray's data); else 16 bytes after.
 * Readers follow the flag, never the payload's size. */
#define IPO_OBJ_PAYLOAD_64 0x40
/* IPO_T_STR: every byte is ASCII, so readers may skip UTF-8 decoding. */
#define IPO_OBJ_ASCII      0x01
/* IPO_T_DICT: a read-only Mapping; readers give no way to change it. */
#define IPO_OBJ_READONLY   0x02

/* Payloads at least this long start on a 64-byte boundary (cache line and
 * SIMD width), at the cost of up to 48 bytes of padding. */
#define IPO_OBJ_ALIGN_THRESHOLD 256
#define IPO_OBJ_BIG_ALIGN       64

/* Every object is one allocated block that starts with this header. Scalars
 * live in `v` and have no payload; the others have v.len payload bytes at
 * ipo_obj_data(). */
typedef struct ipo_obj {
    uint8_t  type;           /* ipo_type */
    uint8_t  flags;          /* IPO_OBJ_* */
    uint16_t pins;           /* zero-copy buffers of the payload alive in any process:
                                dropped without access, so read and written atomically */
    uint32_t gen;            /* stamped from the header's counter, never 0; zeroed when the
                                object is destroyed: lets views detect a freed or reused block */
    union {
        uint64_t len;
        uint64_t u64;
        int64_t  i64;
        double   f64;
    } v;
} ipo_obj_t;

_Static_assert(sizeof(ipo_obj_t) == 16, "object header layout");

/* A value inside another object (a tuple's element, a datetime's tzinfo):
 * None, bool, int64 and float64 are stored in the slot itself; anything else
 * is a child object, owned by its parent and destroyed with it, with its
 * type repeated here. */
typedef struct ipo_value {
    uint8_t type;            /* ipo_type */
    uint8_t reserved[7];
    union {
        uint64_t  u64;
        int64_t   i64;
        double    f64;
        ipo_off_t off;       /* the child object, for the other types */
    } v;
} ipo_value_t;

static inline int ipo_value_is_inline(uint8_t type)
{
    return type == IPO_T_NONE || type == IPO_T_BOOL || type == IPO_T_INT64 || type == IPO_T_FLOAT64;
}

/* The types whose payload is a fixed run of values name each value by its
 * position; readers and writers in every language use these names, never
 * bare indices. The _PARTS constant of each is the length of its run. */
enum ipo_slice_part {     /* IPO_T_SLICE */
    IPO_SLICE_START = 0,
    IPO_SLICE_STOP  = 1,
    IPO_SLICE_STEP  = 2,
    IPO_SLICE_PARTS = 3
};

enum ipo_ndarray_part {   /* IPO_T_NDARRAY */
    IPO_NDARRAY_DTYPE = 0, /* STR: numpy's descr, as repr writes it */
    IPO_NDARRAY_SHAPE = 1, /* TUPLE of INT64 */
    IPO_NDARRAY_DATA  = 2, /* BYTES, 64-byte aligned, C order */
    IPO_NDARRAY_PARTS = 3
};

enum ipo_tensor_part {    /* IPO_T_TENSOR */
    IPO_TENSOR_ARRAY = 0,  /* the NDARRAY a torch CPU tensor lies over */
    IPO_TENSOR_PARTS = 1
};

enum ipo_object_part {    /* IPO_T_OBJECT */
    IPO_OBJECT_CLASS = 0,  /* STR "module:qualname" */
    IPO_OBJECT_NAMES = 1,  /* TUPLE of STR (a static object), or NONE (a general one) */
    IPO_OBJECT_STATE = 2,  /* VALUES, one per name (static), or a DICT of attributes (general) */
    IPO_OBJECT_PARTS = 3
};

enum ipo_enum_part {      /* IPO_T_ENUM */
    IPO_ENUM_CLASS = 0,    /* STR "module:qualname" */
    IPO_ENUM_VALUE = 1,    /* the member's value */
    IPO_ENUM_PARTS = 2
};

/* Time of day, as datetime and time hold it. */
typedef struct ipo_clock {
    uint8_t  hour, minute, second, fold;
    uint32_t microsecond;
} ipo_clock_t;

typedef struct ipo_datetime {
    uint16_t    year;
    uint8_t     month, day;
    uint32_t    reserved;
    ipo_clock_t clock;
    ipo_value_t tzinfo;      /* None, IPO_T_TIMEZONE, IPO_T_ZONEINFO or IPO_T_PICKLE */
} ipo_datetime_t;

typedef struct ipo_time {
    ipo_clock_t clock;
    uint64_t    reserved;
    ipo_value_t tzinfo;
} ipo_time_t;

typedef struct ipo_timedelta {
    int32_t days, seconds, microseconds, reserved;
} ipo_timedelta_t;

typedef struct ipo_timezone {
    int64_t     offset_us;   /* UTC offset in microseconds */
    uint64_t    reserved;
    ipo_value_t name;        /* None or IPO_T_STR */
} ipo_timezone_t;

_Static_assert(sizeof(ipo_value_t) == 16, "value layout");
_Static_assert(sizeof(ipo_clock_t) == 8, "clock layout");
_Static_assert(sizeof(ipo_datetime_t) == 32 && offsetof(ipo_datetime_t, tzinfo) == 16, "datetime layout");
_Static_assert(sizeof(ipo_time_t) == 32 && offsetof(ipo_time_t, tzinfo) == 16, "time layout");
_Static_assert(sizeof(ipo_timedelta_t) == 16, "timedelta layout");
_Static_assert(sizeof(ipo_timezone_t) == 32 && offsetof(ipo_timezone_t, name) == 16, "timezone layout");

/* The values an object holds (a tuple's elements, a slice's bounds, a
 * datetime's tzinfo, a list's array), or 0 for an object without values or
 * whose values are not contiguous (a TABLE: see ipo/containers.h). */
size_t ipo_obj_values(const ipo_obj_t *obj, ipo_value_t **values);
_Static_assert(offsetof(ipo_obj_t, pins) == 2, "object header layout");
_Static_assert(offsetof(ipo_obj_t, gen) == 4, "object header layout");
_Static_assert(offsetof(ipo_obj_t, v) == 8, "object header layout");

/* Allocates an object of `type` with room for `len` payload bytes and fills
 * its header; *data points at the payload (NULL when len is 0 and the type
 * has none). Needs access. 0, -IPO_ENOMEM or -IPO_EINVAL. */
int ipo_obj_new(struct ipo_region *r, uint8_t type, uint64_t len,
                ipo_off_t *out, void **data);

/* As ipo_obj_new, and with align64 the payload starts on a 64-byte
 * boundary whatever its length (numpy arrays: SIMD loads of any size). */
int ipo_obj_new_aligned(struct ipo_region *r, uint8_t type, uint64_t len, int align64,
                        ipo_off_t *out, void **data);

/* Scalars in one call. */
int ipo_obj_new_scalar(struct ipo_region *r, uint8_t type, uint64_t bits, ipo_off_t *out);

/* Resolves `off` to a live object after checking that it names one: inside
 * the heap, allocated, a known type, its payload inside its block. 0 or
 * -IPO_EBADOBJ. */
int ipo_obj_get(const struct ipo_region *r, ipo_off_t off, const ipo_obj_t **obj);

static inline size_t ipo_obj_data_rel(const ipo_obj_t *obj)
{
    return (obj->flags & IPO_OBJ_PAYLOAD_64) ? IPO_OBJ_BIG_ALIGN : sizeof(ipo_obj_t);
}

static inline void *ipo_obj_data(const ipo_obj_t *obj)
{
    return (uint8_t *)obj + ipo_obj_data_rel(obj);
}

/* Objects nest at most this deep (a list in a list... counts each block:
 * a list and its VALUES array are two levels). Python's own recursion
 * limit keeps its trees far shallower; check() refuses a deeper tree, and
 * destroying one leaves the blocks below this depth in place, so that a
 * damaged region (a cycle) cannot run a process's stack out. */
#define IPO_MAX_NESTING 10000u

/* Frees the object and everything it owns (its child objects, to any depth).
 * 0, -IPO_EBADOBJ, -IPO_EBUSY while a queued message names it or a buffer
 * of it or of any block of its tree is pinned, or -IPO_ECORRUPT when its
 * tree is none (a damaged region: blocks that share a child, or a cycle). */
int ipo_obj_destroy(struct ipo_region *r, ipo_off_t off);

/* A zero-copy buffer of the payload is handed out: the object cannot be
 * destroyed until every pin is gone. The pin is also written in this
 * participant's pin log, so that its death does not keep it for good
 * (core/src/pins.c); *pin receives what ipo_obj_unpin() needs back (0 in a
 * region without a file). Needs access. 0, -IPO_EBADOBJ, -IPO_EOVERFLOW
 * when 65535 pins are taken already, or -IPO_ENOMEM when the log cannot
 * grow. */
int ipo_obj_pin(struct ipo_region *r, ipo_off_t off, ipo_off_t *pin);

/* Drops one pin: off and the *pin that ipo_obj_pin() gave. Atomic, so it
 * needs no access: buffers are released whenever their last user lets
 * go. */
void ipo_obj_unpin(struct ipo_region *r, ipo_off_t off, ipo_off_t pin);

/* Whether objects of this type carry v.len bytes of payload. */
int ipo_type_has_payload(uint8_t type);

#ifdef __cplusplus
}
#endif

#endif /* IPO_FORMAT_H */

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
 * a Python process read the same blocks. Codes 1-63 are the format's own
 * (those not listed yet are reserved for the seed's remaining types: complex,
 * decimal, date and time types, tuple, list, map, set, ndarray, object);
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
    IPO_T_LAST_BUILTIN_ = IPO_T_STR
};

/* Flags of any type (high bits) and of one type (low bits). */
/* A queued message names this object. An object is in at most one message
 * at a time, and cannot be destroyed while it is. */
#define IPO_OBJ_QUEUED     0x80
/* The payload starts 64 bytes after the header, on a 64-byte boundary
 * (payloads of IPO_OBJ_ALIGN_THRESHOLD bytes and more); else 16 bytes after. */
#define IPO_OBJ_PAYLOAD_64 0x40
/* IPO_T_STR: every byte is ASCII, so readers may skip UTF-8 decoding. */
#define IPO_OBJ_ASCII      0x01

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
    uint16_t pins;           /* zero-copy buffers of the payload alive in any process */
    uint32_t gen;            /* stamped from the header's counter: lets views detect reuse */
    union {
        uint64_t len;
        uint64_t u64;
        int64_t  i64;
        double   f64;
    } v;
} ipo_obj_t;

_Static_assert(sizeof(ipo_obj_t) == 16, "object header layout");
_Static_assert(offsetof(ipo_obj_t, pins) == 2, "object header layout");
_Static_assert(offsetof(ipo_obj_t, gen) == 4, "object header layout");
_Static_assert(offsetof(ipo_obj_t, v) == 8, "object header layout");

/* Allocates an object of `type` with room for `len` payload bytes and fills
 * its header; *data points at the payload (NULL when len is 0 and the type
 * has none). Needs access. 0, -IPO_ENOMEM or -IPO_EINVAL. */
int ipo_obj_new(struct ipo_region *r, uint8_t type, uint64_t len,
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

/* Frees the object and everything it owns. 0, -IPO_EBADOBJ, or -IPO_EBUSY
 * while a queued message names it or a buffer of it is pinned. */
int ipo_obj_destroy(struct ipo_region *r, ipo_off_t off);

/* A zero-copy buffer of the payload is handed out: the object cannot be
 * destroyed until every pin is gone. Needs access. 0, -IPO_EBADOBJ, or
 * -IPO_EBUSY when 65535 pins are taken already. */
int ipo_obj_pin(struct ipo_region *r, ipo_off_t off);

/* Drops one pin. Atomic, so it needs no access: buffers are released
 * whenever their last user lets go. The object must be pinned. */
void ipo_obj_unpin(struct ipo_region *r, ipo_off_t off);

/* Whether objects of this type carry v.len bytes of payload. */
int ipo_type_has_payload(uint8_t type);

#ifdef __cplusplus
}
#endif

#endif /* IPO_FORMAT_H */

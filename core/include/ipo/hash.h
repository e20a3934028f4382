/* core/include/ipo/hash.h — the format's stable hash of keys: the same in every process and language. */
#ifndef IPO_HASH_H
#define IPO_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Dict and set keys are found by these hashes, never by a process's own
 * (Python's str hash changes with PYTHONHASHSEED). Numbers hash as Python
 * hashes them (documented in Python's "Hashing of numeric types", no seed),
 * so 1, 1.0 and True are one key; str (its UTF-8) and bytes by SipHash-1-3
 * keyed with the region header's random hash_key; the rest by combining
 * the hashes of their parts. Hashes are 64-bit two's complement values and
 * never -1, as Python's. */

#define IPO_HASH_NONE ((uint64_t)0xFCA86420u)

uint64_t ipo_hash_int64(int64_t v);
uint64_t ipo_hash_double(double v);  /* NaN hashes as 0: it never equals itself anyway */
uint64_t ipo_hash_bytes(const uint64_t key[2], const void *data, size_t len);

/* Ordered parts (a tuple's elements, a date's fields): start from
 * ipo_hash_combine(IPO_HASH_SEQ_START, tag) with the kind's tag below, fold
 * each part's hash in with ipo_hash_combine, then ipo_hash_finish(acc, the
 * number of parts). The tag keeps a date from hashing as the tuple of its
 * fields (they are not equal). Fields are ints, hashed by ipo_hash_int64. */
#define IPO_HASH_SEQ_START ((uint64_t)0x27D4EB2F165667C5ull)
enum ipo_hash_tag {
    IPO_HASH_TAG_TUPLE     = 0,  /* the elements */
    IPO_HASH_TAG_DATE      = 1,  /* year, month, day */
    IPO_HASH_TAG_TIME      = 2,  /* one part: microseconds of the day, minus the UTC offset if aware */
    IPO_HASH_TAG_DATETIME  = 3,  /* year, month, day, hour, minute, second, microsecond; in UTC if aware */
    IPO_HASH_TAG_TIMEDELTA = 4   /* days, seconds, microseconds (as normalised by Python) */
};
uint64_t ipo_hash_combine(uint64_t acc, uint64_t part);
uint64_t ipo_hash_finish(uint64_t acc, uint64_t count);

/* Unordered parts (frozenset elements): sum ipo_hash_spread of each, then finish. */
uint64_t ipo_hash_spread(uint64_t part);

#ifdef __cplusplus
}
#endif

#endif /* IPO_HASH_H */

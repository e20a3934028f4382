/* tests/c/test_hash.c — the stable hash against known vectors: CPython's hash() and published SipHash-1-3. */
#include <math.h>

#include "ipo/hash.h"
#include "task.h"

/* The hash is part of the format on disk and the contract between
 * languages, so every expected value here comes from somewhere other than
 * core/src/hash.c: Python's own hash(), the SipHash-1-3 vectors Rust's
 * libcore checks its SipHasher13 against, or (for the combiners, which only
 * the format defines) a separate big-integer model of hash.h's definitions
 * whose results were found, bit for bit, among the hashes the Python
 * extension wrote into a region's tables. Hashes are compared as signed
 * 64-bit values, as Python prints them. */
#define ASSERT_HASH(got, python) ASSERT_EQ((int64_t)(got), (int64_t)(python))

/* A row of a table of vectors: says which one failed. */
#define ASSERT_VECTOR(got, python, ...)                                             \
    do {                                                                            \
        int64_t got_ = (int64_t)(got), python_ = (int64_t)(python);                 \
        if (got_ != python_) {                                                      \
            char what_[128];                                                        \
            snprintf(what_, sizeof(what_), __VA_ARGS__);                            \
            FAIL_AT("%s: %" PRId64 " vs %" PRId64 " expected", what_, got_, python_); \
        }                                                                           \
    } while (0)

/* ---- numbers: Python's numeric hash ----
 *
 * Expected values printed by CPython 3.11.7 (sys.hash_info: width 64,
 * modulus 2**61 - 1, inf 314159), e.g. python3 -c 'print(hash(2**62))'.
 * Python's numeric hash has no seed, so PYTHONHASHSEED does not matter. */

#define MODULUS INT64_C(2305843009213693951) /* 2**61 - 1 */

static void test_int64(void)
{
    static const struct { int64_t v, python; } cases[] = {
        { 0, 0 },
        { 1, 1 },
        { 7, 7 },
        { 1000, 1000 },
        { -1000, -1000 },
        { -3, -3 },
        { -2, -2 },
        /* -1 is Python's error value: hash(-1) is -2, as hash(-2). */
        { -1, -2 },
        /* Near the modulus: values reduce modulo 2**61 - 1, sign kept. */
        { MODULUS - 1, MODULUS - 1 },
        { MODULUS, 0 },
        { MODULUS + 1, 1 },
        { -(MODULUS - 1), -(MODULUS - 1) },
        { -MODULUS, 0 },
        { -(MODULUS + 1), -2 },
        { 2 * MODULUS, 0 },
        { 2 * MODULUS + 5, 5 },
        { INT64_C(1) << 60, INT64_C(1) << 60 },
        { INT64_C(1) << 61, 1 },
        { INT64_C(1) << 62, 2 },
        { INT64_MAX, 3 },
        { INT64_MIN, -4 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT_VECTOR(ipo_hash_int64(cases[i].v), cases[i].python, "hash(%" PRId64 ")", cases[i].v);
}

/* 1, 1.0 and True are one dict key in Python, so one hash here: a bool is
 * hashed as its int, an integral float as that int. */
static void test_equal_numbers_hash_alike(void)
{
    ASSERT_HASH(ipo_hash_int64(1), 1);
    ASSERT_HASH(ipo_hash_double(1.0), 1);
    ASSERT_HASH(ipo_hash_int64(0), 0);
    ASSERT_HASH(ipo_hash_double(0.0), 0);
    ASSERT_HASH(ipo_hash_double(-0.0), 0);
    ASSERT_UEQ(ipo_hash_double(7.0), ipo_hash_int64(7));
    ASSERT_UEQ(ipo_hash_double(-1.0), ipo_hash_int64(-1));
    ASSERT_UEQ(ipo_hash_double(9007199254740992.0), ipo_hash_int64(INT64_C(9007199254740992)));
    ASSERT_UEQ(ipo_hash_double(-9223372036854775808.0), ipo_hash_int64(INT64_MIN));
}

static void test_double(void)
{
    static const struct { double v; int64_t python; } cases[] = {
        { 0.5, INT64_C(1152921504606846976) },
        { -0.5, -INT64_C(1152921504606846976) },
        { 1.5, INT64_C(1152921504606846977) },
        { 0.0, 0 },
        { -0.0, 0 },
        { -1.0, -2 },
        { 0.1, INT64_C(230584300921369408) },
        { -2.5e-8, -INT64_C(789396629831109982) },
        { 3.141592653589793, INT64_C(326490430436040707) },
        { 1e16, INT64_C(10000000000000000) },
        { 1e300, INT64_C(1224995262755759164) },
        { -1e300, -INT64_C(1224995262755759164) },
        { 1e-300, INT64_C(482449582752280463) },
        { 0x1p61, 1 },
        { 0x1p62, 2 },
        { 0x1p63, 4 },
        { -0x1p63, -4 },
        { 0x1.ffffffffffffep+60, INT64_C(2305843009213693440) },
        { 0x1.fffffffffffffp+1023, INT64_C(2234066890152476671) }, /* the largest double */
        { 0x0.0000000000001p-1022, 16777216 },                      /* the smallest subnormal */
        { INFINITY, 314159 },
        { -INFINITY, -314159 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT_VECTOR(ipo_hash_double(cases[i].v), cases[i].python, "hash(%a)", cases[i].v);
}

/* NaN is where the format leaves Python: CPython 3.10+ hashes a NaN by the
 * object's identity, which no other process can reproduce, so the format
 * hashes every NaN as 0 (hash.h, docs/format.md). A NaN key is never found
 * anyway, since it equals nothing. Every NaN: quiet or signalling, either
 * sign, any payload. */
static double from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

static void test_nan(void)
{
    ASSERT_HASH(ipo_hash_double(NAN), 0);
    ASSERT_HASH(ipo_hash_double(-NAN), 0);
    ASSERT_HASH(ipo_hash_double(from_bits(UINT64_C(0x7ff8000000000000))), 0);
    ASSERT_HASH(ipo_hash_double(from_bits(UINT64_C(0xfff8000000000001))), 0);
    ASSERT_HASH(ipo_hash_double(from_bits(UINT64_C(0x7ff0000000000001))), 0);
    ASSERT_HASH(ipo_hash_double(from_bits(UINT64_C(0x7fffffffffffffff))), 0);
}

/* A complex number hashes as hash(re) + 1000003 * hash(im) (docs/format.md;
 * the Python extension composes it from ipo_hash_double): that composition
 * must give CPython's hash(complex(re, im)), -1 avoided as always. */
static uint64_t complex_hash(double re, double im)
{
    uint64_t h = ipo_hash_double(re) + UINT64_C(1000003) * ipo_hash_double(im);
    return h == (uint64_t)-1 ? (uint64_t)-2 : h;
}

static void test_complex(void)
{
    ASSERT_HASH(complex_hash(1.5, -2.0), INT64_C(1152921504604846971));
    ASSERT_HASH(complex_hash(0.0, 1.0), 1000003);
    ASSERT_HASH(complex_hash(-1.0, 0.0), -2);
    ASSERT_HASH(complex_hash(3.0, 0.0), ipo_hash_int64(3));
}

/* None's hash is a constant, CPython 3.12's (none_hash in Objects/object.c). */
static void test_none(void)
{
    ASSERT_UEQ(IPO_HASH_NONE, UINT64_C(0xFCA86420));
}

/* ---- bytes and str: SipHash-1-3 ---- */

/* The 64 SipHash-1-3 vectors of Rust's libcore, test_siphash_1_3 in
 * library/coretests/tests/hash/sip.rs (rust-lang/rust at commit
 * 193cc919ee4cf6e76ad3b610331e95da45455032), copied unchanged: vector i is
 * the hash, as 8 little-endian bytes, of the i bytes 00 01 02 ... under the
 * key 00 01 ... 0f, i.e. k0 = 0x0706050403020100, k1 = 0x0f0e0d0c0b0a0908.
 * Lengths 0 to 63 cover every tail length and up to seven full words. */
static const uint8_t siphash13_vectors[64][8] = {
    { 0xdc, 0xc4, 0x0f, 0x05, 0x58, 0x01, 0xac, 0xab },
    { 0x93, 0xca, 0x57, 0x7d, 0xf3, 0x9b, 0xf4, 0xc9 },
    { 0x4d, 0xd4, 0xc7, 0x4d, 0x02, 0x9b, 0xcb, 0x82 },
    { 0xfb, 0xf7, 0xdd, 0xe7, 0xb8, 0x0a, 0xf8, 0x8b },
    { 0x28, 0x83, 0xd3, 0x88, 0x60, 0x57, 0x75, 0xcf },
    { 0x67, 0x3b, 0x53, 0x49, 0x2f, 0xd5, 0xf9, 0xde },
    { 0xa7, 0x22, 0x9f, 0xc5, 0x50, 0x2b, 0x0d, 0xc5 },
    { 0x40, 0x11, 0xb1, 0x9b, 0x98, 0x7d, 0x92, 0xd3 },
    { 0x8e, 0x9a, 0x29, 0x8d, 0x11, 0x95, 0x90, 0x36 },
    { 0xe4, 0x3d, 0x06, 0x6c, 0xb3, 0x8e, 0xa4, 0x25 },
    { 0x7f, 0x09, 0xff, 0x92, 0xee, 0x85, 0xde, 0x79 },
    { 0x52, 0xc3, 0x4d, 0xf9, 0xc1, 0x18, 0xc1, 0x70 },
    { 0xa2, 0xd9, 0xb4, 0x57, 0xb1, 0x84, 0xa3, 0x78 },
    { 0xa7, 0xff, 0x29, 0x12, 0x0c, 0x76, 0x6f, 0x30 },
    { 0x34, 0x5d, 0xf9, 0xc0, 0x11, 0xa1, 0x5a, 0x60 },
    { 0x56, 0x99, 0x51, 0x2a, 0x6d, 0xd8, 0x20, 0xd3 },
    { 0x66, 0x8b, 0x90, 0x7d, 0x1a, 0xdd, 0x4f, 0xcc },
    { 0x0c, 0xd8, 0xdb, 0x63, 0x90, 0x68, 0xf2, 0x9c },
    { 0x3e, 0xe6, 0x73, 0xb4, 0x9c, 0x38, 0xfc, 0x8f },
    { 0x1c, 0x7d, 0x29, 0x8d, 0xe5, 0x9d, 0x1f, 0xf2 },
    { 0x40, 0xe0, 0xcc, 0xa6, 0x46, 0x2f, 0xdc, 0xc0 },
    { 0x44, 0xf8, 0x45, 0x2b, 0xfe, 0xab, 0x92, 0xb9 },
    { 0x2e, 0x87, 0x20, 0xa3, 0x9b, 0x7b, 0xfe, 0x7f },
    { 0x23, 0xc1, 0xe6, 0xda, 0x7f, 0x0e, 0x5a, 0x52 },
    { 0x8c, 0x9c, 0x34, 0x67, 0xb2, 0xae, 0x64, 0xf4 },
    { 0x79, 0x09, 0x5b, 0x70, 0x28, 0x59, 0xcd, 0x45 },
    { 0xa5, 0x13, 0x99, 0xca, 0xe3, 0x35, 0x3e, 0x3a },
    { 0x35, 0x3b, 0xde, 0x4a, 0x4e, 0xc7, 0x1d, 0xa9 },
    { 0x0d, 0xd0, 0x6c, 0xef, 0x02, 0xed, 0x0b, 0xfb },
    { 0xf4, 0xe1, 0xb1, 0x4a, 0xb4, 0x3c, 0xd9, 0x88 },
    { 0x63, 0xe6, 0xc5, 0x43, 0xd6, 0x11, 0x0f, 0x54 },
    { 0xbc, 0xd1, 0x21, 0x8c, 0x1f, 0xdd, 0x70, 0x23 },
    { 0x0d, 0xb6, 0xa7, 0x16, 0x6c, 0x7b, 0x15, 0x81 },
    { 0xbf, 0xf9, 0x8f, 0x7a, 0xe5, 0xb9, 0x54, 0x4d },
    { 0x3e, 0x75, 0x2a, 0x1f, 0x78, 0x12, 0x9f, 0x75 },
    { 0x91, 0x6b, 0x18, 0xbf, 0xbe, 0xa3, 0xa1, 0xce },
    { 0x06, 0x62, 0xa2, 0xad, 0xd3, 0x08, 0xf5, 0x2c },
    { 0x57, 0x30, 0xc3, 0xa3, 0x2d, 0x1c, 0x10, 0xb6 },
    { 0xa1, 0x36, 0x3a, 0xae, 0x96, 0x74, 0xf4, 0xb3 },
    { 0x92, 0x83, 0x10, 0x7b, 0x54, 0x57, 0x6b, 0x62 },
    { 0x31, 0x15, 0xe4, 0x99, 0x32, 0x36, 0xd2, 0xc1 },
    { 0x44, 0xd9, 0x1a, 0x3f, 0x92, 0xc1, 0x7c, 0x66 },
    { 0x25, 0x88, 0x13, 0xc8, 0xfe, 0x4f, 0x70, 0x65 },
    { 0xa6, 0x49, 0x89, 0xc2, 0xd1, 0x80, 0xf2, 0x24 },
    { 0x6b, 0x87, 0xf8, 0xfa, 0xed, 0x1c, 0xca, 0xc2 },
    { 0x96, 0x21, 0x04, 0x9f, 0xfc, 0x4b, 0x16, 0xc2 },
    { 0x23, 0xd6, 0xb1, 0x68, 0x93, 0x9c, 0x6e, 0xa1 },
    { 0xfd, 0x14, 0x51, 0x8b, 0x9c, 0x16, 0xfb, 0x49 },
    { 0x46, 0x4c, 0x07, 0xdf, 0xf8, 0x43, 0x31, 0x9f },
    { 0xb3, 0x86, 0xcc, 0x12, 0x24, 0xaf, 0xfd, 0xc6 },
    { 0x8f, 0x09, 0x52, 0x0a, 0xd1, 0x49, 0xaf, 0x7e },
    { 0x9a, 0x2f, 0x29, 0x9d, 0x55, 0x13, 0xf3, 0x1c },
    { 0x12, 0x1f, 0xf4, 0xa2, 0xdd, 0x30, 0x4a, 0xc4 },
    { 0xd0, 0x1e, 0xa7, 0x43, 0x89, 0xe9, 0xfa, 0x36 },
    { 0xe6, 0xbc, 0xf0, 0x73, 0x4c, 0xb3, 0x8f, 0x31 },
    { 0x80, 0xe9, 0xa7, 0x70, 0x36, 0xbf, 0x7a, 0xa2 },
    { 0x75, 0x6d, 0x3c, 0x24, 0xdb, 0xc0, 0xbc, 0xb4 },
    { 0x13, 0x15, 0xb7, 0xfd, 0x52, 0xd8, 0xf8, 0x23 },
    { 0x08, 0x8a, 0x7d, 0xa6, 0x4d, 0x5f, 0x03, 0x8f },
    { 0x48, 0xf1, 0xe8, 0xb7, 0xe5, 0xd0, 0x9c, 0xd8 },
    { 0xee, 0x44, 0xa6, 0xf7, 0xbc, 0xe6, 0xf4, 0xf6 },
    { 0xf2, 0x37, 0x18, 0x0f, 0xd8, 0x9a, 0xc5, 0xae },
    { 0xe0, 0x94, 0x66, 0x4b, 0x15, 0xf6, 0xb2, 0xc3 },
    { 0xa8, 0xb3, 0xbb, 0xb7, 0x62, 0x90, 0x19, 0x9d },
};

static void test_siphash13_reference_vectors(void)
{
    const uint64_t key[2] = { UINT64_C(0x0706050403020100), UINT64_C(0x0f0e0d0c0b0a0908) };
    uint8_t msg[64];
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++) {
        uint64_t expected = 0;
        for (int b = 7; b >= 0; b--)
            expected = (expected << 8) | siphash13_vectors[i][b];
        ASSERT_VECTOR(ipo_hash_bytes(key, msg, (size_t)i), expected, "vector %d", i);
    }
}

/* CPython 3.11 hashes bytes with SipHash-1-3 (sys.hash_info.algorithm is
 * 'siphash13', cutoff 0: no small-input shortcut), and PYTHONHASHSEED=0 makes
 * its key all zeros. So each value below is
 *     PYTHONHASHSEED=0 python3 -c 'print(hash(b"abc"))'
 * as printed by CPython 3.11.7. Python's bytes hash adds one rule of its
 * own, hash(b"") == 0, which the format does not share: the empty input is
 * covered by vector 0 above instead. A str is hashed as its UTF-8 bytes
 * (for non-ASCII text that is not CPython's str hash, which reads the
 * string's internal code units). */
static void test_siphash13_against_cpython(void)
{
    static const struct { const char *data; size_t len; int64_t python; } cases[] = {
        { "\0", 1, INT64_C(7541581120933061747) },
        { "a", 1, INT64_C(4644417185603328019) },
        { "abc", 3, -INT64_C(4594863902769663758) },
        { "temp", 4, -INT64_C(8254341018660273858) },
        { "hello", 5, -INT64_C(2096571579003691106) },
        { "abcdefg", 7, INT64_C(7904145750247929094) },
        { "abcdefgh", 8, INT64_C(4574395652268504554) },
        { "abcdefghi", 9, -INT64_C(532774252720507163) },
        { "\xc3\xa9", 2, -INT64_C(1266968099349302080) },                 /* "é".encode() */
        { "na\xc3\xafve caf\xc3\xa9", 12, INT64_C(8660156496556064382) }, /* "naïve café".encode() */
        { "The quick brown fox jumps over the lazy dog", 43, -INT64_C(8217249817990249186) },
    };
    const uint64_t zero[2] = { 0, 0 };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT_VECTOR(ipo_hash_bytes(zero, cases[i].data, cases[i].len), cases[i].python,
                      "hash of %zu bytes \"%s\"", cases[i].len, cases[i].data);
    /* bytes(range(16)) and bytes(range(64)), as printed by the same command. */
    uint8_t msg[64];
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    ASSERT_HASH(ipo_hash_bytes(zero, msg, 16), -INT64_C(8542738587087157833));
    ASSERT_HASH(ipo_hash_bytes(zero, msg, 64), INT64_C(8493894268803903686));
}

/* The key is the region's: another key, another hash; the length counts. */
static void test_keyed(void)
{
    const uint64_t k1[2] = { 1, 2 }, k2[2] = { 1, 3 }, k3[2] = { 2, 2 };
    ASSERT_UEQ(ipo_hash_bytes(k1, "hello", 5), ipo_hash_bytes(k1, "hello", 5));
    ASSERT(ipo_hash_bytes(k1, "hello", 5) != ipo_hash_bytes(k2, "hello", 5));
    ASSERT(ipo_hash_bytes(k1, "hello", 5) != ipo_hash_bytes(k3, "hello", 5));
    ASSERT(ipo_hash_bytes(k1, "hello", 5) != ipo_hash_bytes(k1, "hellp", 5));
    ASSERT(ipo_hash_bytes(k1, "", 0) != ipo_hash_bytes(k1, "\0", 1));
}

/* ---- tuples and frozensets: the format's combiners ----
 *
 * These are the format's own, not CPython's (CPython's tuple hash is an
 * xxHash-style fold and its frozenset hash a shuffle-and-xor; for example
 * CPython's hash((1, 2, 3)) is 529344067295497451, the format's below is
 * another value). Python's combiners are not part of any contract across
 * languages; the format's are defined in hash.h and docs/format.md.
 *
 * Expected values: computed by a Python model of hash.h's definitions in
 * big integers masked to 64 bits (mix64, ipo_hash_combine, ipo_hash_finish,
 * ipo_hash_spread, with Python's hash() for the numbers and a SipHash-1-3
 * checked against the vectors above), and each found among the hashes the
 * Python extension stored in a region's table for a dict with these keys.
 *
 * A tuple folds its tag, IPO_HASH_TAG_TUPLE (0), in before its elements;
 * a date its own tag before its fields, so that date(2024, 1, 2) and
 * (2024, 1, 2) differ (hash.h, docs/format.md). */
static uint64_t tagged_hash(uint64_t tag, const uint64_t *parts, size_t n)
{
    uint64_t acc = ipo_hash_combine(IPO_HASH_SEQ_START, tag);
    for (size_t i = 0; i < n; i++)
        acc = ipo_hash_combine(acc, parts[i]);
    return ipo_hash_finish(acc, n);
}

static uint64_t tuple_hash(const uint64_t *parts, size_t n)
{
    return tagged_hash(IPO_HASH_TAG_TUPLE, parts, n);
}

static uint64_t frozenset_hash(const uint64_t *parts, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ipo_hash_spread(parts[i]);
    return ipo_hash_finish(sum, n);
}

/* The parts' hashes as an array and its length, for the helpers above. */
#define PARTS(...)     (const uint64_t[]){ __VA_ARGS__ }, sizeof((const uint64_t[]){ __VA_ARGS__ }) / 8
#define TUPLE(...)     tuple_hash(PARTS(__VA_ARGS__))
#define FROZENSET(...) frozenset_hash(PARTS(__VA_ARGS__))
#define EMPTY_TUPLE    tuple_hash(NULL, 0)
#define EMPTY_SET      frozenset_hash(NULL, 0)
#define HI(v)          ipo_hash_int64(v)
#define HF(v)          ipo_hash_double(v)

static void test_tuple(void)
{
    /* () */
    ASSERT_UEQ(EMPTY_TUPLE, UINT64_C(0xfce128c4f7c6c13e));
    /* (1,) */
    ASSERT_UEQ(TUPLE(HI(1)), UINT64_C(0x06c1a2ec5d922c0d));
    /* (1, 2, 3), and (1.0, 2, 3) that equals it */
    ASSERT_UEQ(TUPLE(HI(1), HI(2), HI(3)), UINT64_C(0x24905c4e6672a50e));
    ASSERT_UEQ(TUPLE(HF(1.0), HI(2), HI(3)), UINT64_C(0x24905c4e6672a50e));
    /* (3, 2, 1): order counts */
    ASSERT_UEQ(TUPLE(HI(3), HI(2), HI(1)), UINT64_C(0x7da7c14f8928602c));
    /* (-1,) */
    ASSERT_UEQ(TUPLE(HI(-1)), UINT64_C(0x4937b9fba7f34c1a));
    /* (None,) */
    ASSERT_UEQ(TUPLE(IPO_HASH_NONE), UINT64_C(0xc43ff4ca1606b248));
    /* (1.5, -0.5, inf) */
    ASSERT_UEQ(TUPLE(HF(1.5), HF(-0.5), HF(INFINITY)), UINT64_C(0x906a92ca517072ee));
    /* ((1, 2), (3,)) and (1, (2, (3,))) */
    ASSERT_UEQ(TUPLE(TUPLE(HI(1), HI(2)), TUPLE(HI(3))), UINT64_C(0x6d9a132f14779434));
    ASSERT_UEQ(TUPLE(HI(1), TUPLE(HI(2), TUPLE(HI(3)))), UINT64_C(0xf28e0fd838b67121));
    /* (b"abc", "abc") under the zero key: a str hashes as its UTF-8 bytes. */
    const uint64_t zero[2] = { 0, 0 };
    uint64_t abc = ipo_hash_bytes(zero, "abc", 3);
    ASSERT_UEQ(TUPLE(abc, abc), UINT64_C(0xa5a48d3e278f3523));
}

static void test_frozenset(void)
{
    /* frozenset() */
    ASSERT_UEQ(EMPTY_SET, 0);
    /* {1, 2, 3}, in any order, and 1.0 is 1 */
    ASSERT_UEQ(FROZENSET(HI(1), HI(2), HI(3)), UINT64_C(0x5a094d4c631f1fb9));
    ASSERT_UEQ(FROZENSET(HI(3), HF(1.0), HI(2)), UINT64_C(0x5a094d4c631f1fb9));
    /* {-1, -2}: both elements hash as -2; the set still counts two. */
    ASSERT_UEQ(FROZENSET(HI(-1), HI(-2)), UINT64_C(0x1df1481eb23f62e2));
    /* {(1, 2), 3} */
    ASSERT_UEQ(FROZENSET(TUPLE(HI(1), HI(2)), HI(3)), UINT64_C(0x3d2eaa98b434b820));
    /* {frozenset({1}), frozenset()} */
    ASSERT_UEQ(FROZENSET(FROZENSET(HI(1)), EMPTY_SET), UINT64_C(0x68f1d22cbceff187));
    /* ((), frozenset()) */
    ASSERT_UEQ(TUPLE(EMPTY_TUPLE, EMPTY_SET), UINT64_C(0xf7ddc3bbdec9f590));
}

/* The datetime types, by the rule hash.h gives for each: the expected
 * values are the hashes the Python extension stored in a region's table
 * for a dict with these keys (read from the region file). */
#define TAGGED(tag, ...) tagged_hash(tag, PARTS(__VA_ARGS__))

static void test_dates_and_times(void)
{
    /* date(2024, 1, 2), date(1, 1, 1) */
    ASSERT_UEQ(TAGGED(IPO_HASH_TAG_DATE, HI(2024), HI(1), HI(2)), UINT64_C(0xb62cca611645dc33));
    ASSERT_UEQ(TAGGED(IPO_HASH_TAG_DATE, HI(1), HI(1), HI(1)), UINT64_C(0x92eafea2a1716148));
    ASSERT(TAGGED(IPO_HASH_TAG_DATE, HI(2024), HI(1), HI(2)) != TUPLE(HI(2024), HI(1), HI(2)));
    /* time(12, 30, 15, 250): microseconds of the day */
    ASSERT_UEQ(TAGGED(IPO_HASH_TAG_TIME, HI(((12 * 60 + 30) * 60 + 15) * INT64_C(1000000) + 250)),
               UINT64_C(0xda6d207b1f0b360d));
    /* time(12, 30, tzinfo=UTC+2): minus the offset */
    ASSERT_UEQ(TAGGED(IPO_HASH_TAG_TIME, HI((12 * 60 + 30) * INT64_C(60000000) - INT64_C(7200000000))),
               UINT64_C(0x6d4fbfa68124fc95));
    /* datetime(2024, 1, 2, 3, 4, 5, 6), and 05:04:05.000006 at UTC+2, the same instant */
    ASSERT_UEQ(TAGGED(IPO_HASH_TAG_DATETIME, HI(2024), HI(1), HI(2), HI(3), HI(4), HI(5), HI(6)),
               UINT64_C(0x6fe68b56b57e0e28));
    /* timedelta(days=1, seconds=2, microseconds=3), timedelta(days=-1) */
    ASSERT_UEQ(TAGGED(IPO_HASH_TAG_TIMEDELTA, HI(1), HI(2), HI(3)), UINT64_C(0xa71bb5d6a1fe49ee));
    ASSERT_UEQ(TAGGED(IPO_HASH_TAG_TIMEDELTA, HI(-1), HI(0), HI(0)), UINT64_C(0x793a9ec239ea57fc));
}

int main(void)
{
    RUN(test_int64);
    RUN(test_equal_numbers_hash_alike);
    RUN(test_double);
    RUN(test_nan);
    RUN(test_complex);
    RUN(test_none);
    RUN(test_siphash13_reference_vectors);
    RUN(test_siphash13_against_cpython);
    RUN(test_keyed);
    RUN(test_tuple);
    RUN(test_frozenset);
    RUN(test_dates_and_times);
    return 0;
}

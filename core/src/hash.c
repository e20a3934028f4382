/* core/src/hash.c — the format's stable hash: Python's numeric hash, SipHash-1-3, combiners. */
#include "ipo/hash.h"

#include <math.h>
#include <string.h>

/* Python's numeric hash reduces modulo the Mersenne prime 2^61 - 1. As
 * 2^61 is 1 modulo that prime, multiplying by 2^k is a rotation of the 61
 * low bits by k mod 61. */
#define MODULUS_BITS 61
#define MODULUS      (((uint64_t)1 << MODULUS_BITS) - 1)
#define HASH_INF     ((uint64_t)314159)

static uint64_t signed_result(uint64_t magnitude, int negative)
{
    uint64_t h = negative ? (uint64_t)0 - magnitude : magnitude;
    return h == (uint64_t)-1 ? (uint64_t)-2 : h;
}

static uint64_t rotate61(uint64_t x, unsigned k)
{
    k %= MODULUS_BITS;
    if (k == 0)
        return x;
    return ((x << k) & MODULUS) | (x >> (MODULUS_BITS - k));
}

uint64_t ipo_hash_int64(int64_t v)
{
    uint64_t magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    return signed_result(magnitude % MODULUS, v < 0);
}

uint64_t ipo_hash_double(double v)
{
    if (isnan(v))
        return 0;
    if (isinf(v))
        return signed_result(HASH_INF, v < 0);
    if (v == 0)
        return 0;
    /* |v| = mantissa * 2^exp with a 53-bit integer mantissa, exactly. */
    int exp;
    double fraction = frexp(fabs(v), &exp);
    uint64_t mantissa = (uint64_t)ldexp(fraction, 53);
    exp -= 53;
    /* 2^exp mod the prime is 2^(exp mod 61), for negative exp too. */
    int k = exp % MODULUS_BITS;
    if (k < 0)
        k += MODULUS_BITS;
    uint64_t h = rotate61(mantissa % MODULUS, (unsigned)k);
    return signed_result(h, v < 0);
}

/* ---- SipHash-1-3 (Aumasson and Bernstein), one compression round per word ---- */

static inline uint64_t rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                                   \
    do {                                                                            \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);                   \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                      \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                      \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);                   \
    } while (0)

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

uint64_t ipo_hash_bytes(const uint64_t key[2], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t v0 = key[0] ^ 0x736f6d6570736575ull;
    uint64_t v1 = key[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = key[0] ^ 0x6c7967656e657261ull;
    uint64_t v3 = key[1] ^ 0x7465646279746573ull;
    size_t words = len / 8;
    for (size_t i = 0; i < words; i++, p += 8) {
        uint64_t m = load_le64(p);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    /* The last word: the remaining bytes, and the length in the top byte. */
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)p[i] << (8 * i);
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    uint64_t h = v0 ^ v1 ^ v2 ^ v3;
    return h == (uint64_t)-1 ? (uint64_t)-2 : h;
}

/* ---- combining parts ---- */

/* A 64-bit finaliser (the murmur3 fmix64 constants): every input bit moves
 * about half the output bits, so combined hashes of nearby parts spread. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t ipo_hash_combine(uint64_t acc, uint64_t part)
{
    return rotl(acc ^ mix64(part), 27) * 0x9E3779B97F4A7C15ull + 0x52DCE729u;
}

uint64_t ipo_hash_finish(uint64_t acc, uint64_t count)
{
    uint64_t h = mix64(acc ^ count);
    return h == (uint64_t)-1 ? (uint64_t)-2 : h;
}

uint64_t ipo_hash_spread(uint64_t part)
{
    return mix64(part ^ 0x5BD1E9955BD1E995ull);
}

/* core/src/copy.c — payload copies into the region: cached while a turn's payloads fit, streamed past that. */
#include "ipo/copy.h"

#include <stdint.h>
#include <string.h>

#include "ipo/access.h"
#include "ipo/atomics.h"
#include "internal.h"

#if defined(__x86_64__)
#include <emmintrin.h>

static void stream_copy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    /* Stores must be 16-byte aligned: copy the head normally. */
    size_t head = (size_t)(-(uintptr_t)d & 15);
    if (head > n)
        head = n;
    memcpy(d, s, head);
    d += head;
    s += head;
    n -= head;
    size_t blocks = n / 64;
    for (size_t i = 0; i < blocks; i++, d += 64, s += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
        _mm_stream_si128((__m128i *)d, a);
        _mm_stream_si128((__m128i *)(d + 16), b);
        _mm_stream_si128((__m128i *)(d + 32), c);
        _mm_stream_si128((__m128i *)(d + 48), e);
    }
    memcpy(d, s, n % 64);
    /* Streaming stores are weakly ordered, and a release store does not
     * order them: fence them before whatever publishes the payload (the
     * tail's store-release in ipo_queue_put(), or the release of access). */
    _mm_sfence();
}
#endif

void ipo_copy_cached(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}

void ipo_copy_streaming(void *dst, const void *src, size_t n)
{
#if defined(__x86_64__)
    stream_copy(dst, src, n);
#else
    memcpy(dst, src, n);
#endif
}

void ipo_copy_in(ipo_region_t *r, void *dst, const void *src, size_t n)
{
    ipo__this_turn(r);
    r->turn_copied += n;
    if (n >= IPO_STREAM_THRESHOLD && r->turn_copied > IPO_STREAM_TURN_BUDGET)
        ipo_copy_streaming(dst, src, n);
    else
        ipo_copy_cached(dst, src, n);
}

/* tests/c/test_copy.c — payload copies: every size and misalignment lands byte for byte, each way, and the turn's budget. */
#include "ipo/access.h"
#include "ipo/copy.h"
#include "region_twin.h"
#include "task.h"

typedef void (*copy_fn)(void *dst, const void *src, size_t n);

static void check_copy(copy_fn copy, size_t n, size_t dst_skew, size_t src_skew)
{
    uint8_t *src = malloc(n + 64), *dst = malloc(n + 128);
    ASSERT(src && dst);
    for (size_t i = 0; i < n + 64; i++)
        src[i] = (uint8_t)(i * 131 + 7);
    memset(dst, 0xEE, n + 128);
    copy(dst + dst_skew, src + src_skew, n);
    ASSERT_EQ(memcmp(dst + dst_skew, src + src_skew, n), 0);
    /* Nothing written around the destination. */
    for (size_t i = 0; i < dst_skew; i++)
        ASSERT_EQ(dst[i], 0xEE);
    for (size_t i = dst_skew + n; i < n + 128; i++)
        ASSERT_EQ(dst[i], 0xEE);
    free(src);
    free(dst);
}

static void test_sizes_and_alignments(void)
{
    const size_t sizes[] = { 0, 1, 63, 64, 65, 4096, IPO_STREAM_THRESHOLD - 1, IPO_STREAM_THRESHOLD,
                             IPO_STREAM_THRESHOLD + 1, IPO_STREAM_THRESHOLD + 63, 1000003 };
    const copy_fn ways[] = { ipo_copy_cached, ipo_copy_streaming };
    for (size_t w = 0; w < 2; w++)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            for (size_t skew = 0; skew < 64; skew += 7)
                check_copy(ways[w], sizes[i], skew, (skew * 3) % 64);
}

/* ipo_copy_in counts a turn's payload bytes, and a new turn starts the
 * count again: a payload per turn (a ping-pong) is never streamed, a batch
 * is once it passed the budget; every copy lands whole either way. */
static void test_turn_budget(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(16u << 20, &r);
    const size_t n = 400000;
    uint8_t *src = malloc(n), *dst = malloc(n);
    ASSERT(src && dst);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i * 131 + 7);
    for (int turn = 0; turn < 3; turn++) {
        ASSERT(ipo_access_try_acquire(&r));
        uint64_t total = 0;
        for (int put = 0; put < 5; put++) {
            memset(dst, 0, n);
            ipo_copy_in(&r, dst, src, n);
            ASSERT_EQ(memcmp(dst, src, n), 0);
            total += n;
            ASSERT_EQ(r.turn_copied, total); /* counted from the turn's start */
        }
        ASSERT(total > IPO_STREAM_TURN_BUDGET); /* the last puts were streamed */
        ipo_access_release(&r);
    }
    free(src);
    free(dst);
    region_twin_free(mem, &r);
}

int main(void)
{
    RUN(test_sizes_and_alignments);
    RUN(test_turn_budget);
    return 0;
}

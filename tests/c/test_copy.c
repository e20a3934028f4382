/* tests/c/test_copy.c — payload copies: every size and misalignment lands byte for byte. */
#include "ipo/copy.h"
#include "task.h"

static void check_copy(size_t n, size_t dst_skew, size_t src_skew)
{
    uint8_t *src = malloc(n + 64), *dst = malloc(n + 128);
    ASSERT(src && dst);
    for (size_t i = 0; i < n + 64; i++)
        src[i] = (uint8_t)(i * 131 + 7);
    memset(dst, 0xEE, n + 128);
    ipo_copy_in(dst + dst_skew, src + src_skew, n);
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
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (size_t skew = 0; skew < 64; skew += 7)
            check_copy(sizes[i], skew, (skew * 3) % 64);
}

int main(void)
{
    RUN(test_sizes_and_alignments);
    return 0;
}

/* tests/c/task.h — the C tests' harness: value-printing assertions and a runner. */
#ifndef IPO_TEST_TASK_H
#define IPO_TEST_TASK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipo/errors.h"

#define TEST_SKIP 77

#define FAIL_AT(...)                                                        \
    do {                                                                    \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                     \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        abort();                                                            \
    } while (0)

#define ASSERT(cond)                                                        \
    do { if (!(cond)) FAIL_AT("assertion failed: %s", #cond); } while (0)

#define ASSERT_CMP_(a, op, b, type, fmt)                                    \
    do {                                                                    \
        type a_ = (type)(a), b_ = (type)(b);                                \
        if (!(a_ op b_))                                                    \
            FAIL_AT("%s %s %s: %" fmt " vs %" fmt, #a, #op, #b, a_, b_);    \
    } while (0)

#define ASSERT_EQ(a, b)  ASSERT_CMP_(a, ==, b, int64_t, PRId64)
#define ASSERT_NE(a, b)  ASSERT_CMP_(a, !=, b, int64_t, PRId64)
#define ASSERT_LE(a, b)  ASSERT_CMP_(a, <=, b, int64_t, PRId64)
#define ASSERT_GE(a, b)  ASSERT_CMP_(a, >=, b, int64_t, PRId64)
#define ASSERT_LT(a, b)  ASSERT_CMP_(a, <, b, int64_t, PRId64)
#define ASSERT_UEQ(a, b) ASSERT_CMP_(a, ==, b, uint64_t, PRIu64)

/* An ipo_ call that must succeed: prints the code's meaning if not. */
#define ASSERT_OK(expr)                                                     \
    do {                                                                    \
        int rc_ = (expr);                                                   \
        if (rc_ != 0)                                                       \
            FAIL_AT("%s returned %d (%s)", #expr, rc_, ipo_strerror(rc_));  \
    } while (0)

/* An ipo_ call that must fail with -code. */
#define ASSERT_ERR(expr, code)                                              \
    do {                                                                    \
        int rc_ = (expr);                                                   \
        if (rc_ != -(code))                                                 \
            FAIL_AT("%s returned %d (%s), expected -%s", #expr, rc_,        \
                    ipo_strerror(rc_), #code);                              \
    } while (0)

/* A heap check that must pass: prints what is broken. */
#define ASSERT_CHECK(call_with_why)                                         \
    do {                                                                    \
        char why[256] = "";                                                 \
        int rc_ = (call_with_why);                                          \
        if (rc_ != 0)                                                       \
            FAIL_AT("%s: %s", #call_with_why, why);                         \
    } while (0)

#define RUN(test)                                                           \
    do {                                                                    \
        fprintf(stderr, "  %s\n", #test);                                   \
        test();                                                             \
    } while (0)

/* A name for a region that no other test run uses, so tests may run at once. */
static inline void test_region_name(char *buf, size_t len, const char *what)
{
    snprintf(buf, len, "/ipo-test-%s-%ld-%d", what, (long)getpid(), rand());
}

/* xorshift64*: a small, seedable generator so failures replay from the seed. */
static inline uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(2685821657736338717);
}

#endif /* IPO_TEST_TASK_H */

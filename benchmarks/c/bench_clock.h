/* benchmarks/c/bench_clock.h — the one clock every C benchmark reads. */
#ifndef IPO_BENCH_CLOCK_H
#define IPO_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC: a run's figures must not jump with the wall clock. */
static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif

/* benchmarks/c/copy_limits.c — the physical limits of the transfer shapes, in plain C.
 *
 * Two processes (fork) share an anonymous mapping and hand off with a spin
 * flag: no region allocator, no queue, no Python, just the copies (in as a
 * put does, ipo_copy_in's rule: cached while the turn's payloads fit
 * IPO_STREAM_TURN_BUDGET, streamed past it; out with malloc and memcpy, as
 * a take does)
 * and the cache-line handoff. bench_transfer.py prints these beside ipc_py_objects'
 * figures.
 *
 *   copy_limits pingpong SIZE COUNT          one message in flight
 *   copy_limits batch SIZE COUNT REGION      as many as fit in REGION per turn
 *
 * Prints the seconds from the first copy in to the last copy out. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipo/copy.h"
#include "ipo/atomics.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ipo_copy_in's choice, for a turn that copied `before` bytes already (the
 * region's own function counts them through the access word, which this
 * program does not have). */
static void copy_in(void *dst, const void *src, size_t n, size_t before)
{
    if (n >= IPO_STREAM_THRESHOLD && before + n > IPO_STREAM_TURN_BUDGET)
        ipo_copy_streaming(dst, src, n);
    else
        ipo_copy_cached(dst, src, n);
}

/* The turn counter lives on its own cache line at the start of the mapping;
 * the sender owns even values, the receiver odd ones. */
static void wait_turn(uint64_t *turn, uint64_t want)
{
    while (__atomic_load_n(turn, __ATOMIC_ACQUIRE) != want)
        ipo_cpu_relax();
}

static void pass_turn(uint64_t *turn, uint64_t next)
{
    __atomic_store_n(turn, next, __ATOMIC_RELEASE);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "pingpong") && strcmp(argv[1], "batch"))) {
        fprintf(stderr, "usage: %s pingpong SIZE COUNT | batch SIZE COUNT REGION\n", argv[0]);
        return 2;
    }
    int batch = strcmp(argv[1], "batch") == 0;
    size_t size = strtoull(argv[2], NULL, 0);
    uint64_t count = strtoull(argv[3], NULL, 0);
    size_t region = batch && argc > 4 ? strtoull(argv[4], NULL, 0) : size;
    uint64_t per_turn = batch ? region / size : 1;
    if (!size || !count || !per_turn) {
        fprintf(stderr, "sizes and counts must be positive, REGION >= SIZE\n");
        return 2;
    }

    /* Populated up front, as the region is: no page fault while measuring. */
    uint8_t *shared = mmap(NULL, 4096 + region + sizeof(double), PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (shared == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    uint64_t *turn = (uint64_t *)shared;
    uint8_t *slots = shared + 4096;
    double *end_time = (double *)(slots + region);
    uint64_t turns = (count + per_turn - 1) / per_turn;

    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        uint64_t left = count;
        uint8_t check = 0;
        for (uint64_t t = 0; t < turns; t++) {
            wait_turn(turn, 2 * t + 1);
            uint64_t n = left < per_turn ? left : per_turn;
            for (uint64_t i = 0; i < n; i++) {
                /* A take makes a new bytes object: allocate, copy, let go. */
                uint8_t *dst = malloc(size);
                memcpy(dst, slots + i * size, size);
                check ^= dst[size - 1];
                free(dst);
            }
            left -= n;
            pass_turn(turn, 2 * t + 2);
        }
        *end_time = now();
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        _exit(check == 0xff ? 1 : 0);
    }

    uint8_t *src = malloc(size);
    memset(src, 0x5a, size);
    double start = now();
    uint64_t left = count;
    for (uint64_t t = 0; t < turns; t++) {
        wait_turn(turn, 2 * t);
        uint64_t n = left < per_turn ? left : per_turn;
        for (uint64_t i = 0; i < n; i++)
            copy_in(slots + i * size, src, size, i * size);
        left -= n;
        pass_turn(turn, 2 * t + 1);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("%.9f\n", *end_time - start);
    return 0;
}

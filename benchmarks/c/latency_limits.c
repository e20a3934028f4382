/* benchmarks/c/latency_limits.c — round-trip latency limits between two processes, in plain C.
 *
 *   latency_limits spin COUNT      a shared cache line, both sides spinning
 *   latency_limits eventfd COUNT   two eventfds, both sides sleeping in poll()
 *
 * Prints the round-trip times in nanoseconds, one per line, as the client
 * measured them. bench_latency.py prints their median and p99 beside
 * ipc_py_objects' figures. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench_clock.h"
#include "ipo/atomics.h"

/* Sleeps until the eventfd is readable, then consumes it. */
static void wait_event(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    uint64_t v;
    while (poll(&p, 1, -1) < 0)
        ;
    if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        exit(3);
}

static void signal_event(int fd)
{
    uint64_t one = 1;
    if (write(fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        exit(3);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "spin") && strcmp(argv[1], "eventfd"))) {
        fprintf(stderr, "usage: %s spin|eventfd COUNT\n", argv[0]);
        return 2;
    }
    int spin = strcmp(argv[1], "spin") == 0;
    long count = atol(argv[2]);
    int64_t *rtt = malloc((size_t)count * sizeof(*rtt));
    /* The ping and pong counters on their own cache lines. */
    uint64_t *line = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    uint64_t *ping = line, *pong = line + 8;
    int to_server = eventfd(0, EFD_CLOEXEC), to_client = eventfd(0, EFD_CLOEXEC);
    if (!rtt || line == MAP_FAILED || to_server < 0 || to_client < 0) {
        perror("setup");
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        for (uint64_t i = 1; i <= (uint64_t)count; i++) {
            if (spin) {
                while (__atomic_load_n(ping, __ATOMIC_ACQUIRE) != i)
                    ipo_cpu_relax();
                __atomic_store_n(pong, i, __ATOMIC_RELEASE);
            } else {
                wait_event(to_server);
                signal_event(to_client);
            }
        }
        _exit(0);
    }
    for (uint64_t i = 1; i <= (uint64_t)count; i++) {
        int64_t start = now_ns();
        if (spin) {
            __atomic_store_n(ping, i, __ATOMIC_RELEASE);
            while (__atomic_load_n(pong, __ATOMIC_ACQUIRE) != i)
                ipo_cpu_relax();
        } else {
            signal_event(to_server);
            wait_event(to_client);
        }
        rtt[i - 1] = now_ns() - start;
    }
    int status;
    waitpid(pid, &status, 0);
    for (long i = 0; i < count; i++)
        printf("%lld\n", (long long)rtt[i]);
    return 0;
}

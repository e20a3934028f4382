/* tests/c/spin_wait.c — the C tests' waits for access without doorbells: spin, yield, then nap. */
#include "spin_wait.h"

#include <sched.h>
#include <time.h>

#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "ipo/queue.h"

/* Spin this long first: a holder on another core usually releases within a
 * few microseconds, and a spinning waiter sees it within a cache-line
 * transfer. Then yield a few times (a holder on our own core gets to run),
 * then sleep in doubling steps up to the cap, each sleep followed by a short
 * burst of spinning: a holder that releases and re-takes access in a loop
 * leaves only brief gaps, and a waiter that only looked once per sleep would
 * rarely land in one. The cap bounds the latency a long wait adds. */
#define SPIN_NS        50000
#define YIELD_ROUNDS   64
#define SLEEP_FIRST_NS 20000
#define SLEEP_MAX_NS   200000
#define BURST_ROUNDS   256

void spin_backoff_wait(spin_backoff_t *b)
{
    if (b->rounds == 0)
        b->spin_until_ns = ipo_now_ns() + SPIN_NS;
    b->rounds++;
    if (b->yields == 0) {
        /* Reading the clock costs more than a pause; look every 64 rounds. */
        if ((b->rounds & 63) || ipo_now_ns() < b->spin_until_ns) {
            ipo_cpu_relax();
            return;
        }
    }
    if (b->yields < YIELD_ROUNDS) {
        b->yields++;
        sched_yield();
        return;
    }
    if (b->burst) {
        b->burst--;
        ipo_cpu_relax();
        return;
    }
    if (b->sleep_ns == 0)
        b->sleep_ns = SLEEP_FIRST_NS;
    struct timespec ts = { 0, (long)b->sleep_ns };
    nanosleep(&ts, NULL);
    if (b->sleep_ns < SLEEP_MAX_NS)
        b->sleep_ns *= 2;
    b->burst = BURST_ROUNDS;
}

static inline int past(int64_t deadline_ns)
{
    return deadline_ns >= 0 && ipo_now_ns() >= deadline_ns;
}

int spin_acquire(ipo_region_t *r, int64_t deadline_ns, spin_backoff_t *b)
{
    for (;;) {
        if (ipo_access_try_acquire(r))
            return 0;
        if (past(deadline_ns))
            return -IPO_ETIMEDOUT;
        spin_backoff_wait(b);
    }
}

int spin_acquire_with_messages(ipo_region_t *r, int64_t deadline_ns, spin_backoff_t *b)
{
    for (;;) {
        if (ipo_queue_length(r) && ipo_access_try_acquire(r)) {
            /* Another consumer may have taken the last message between our
             * look and our acquire: look again under access. */
            if (ipo_queue_length(r))
                return 0;
            ipo_access_release(r);
        }
        if (past(deadline_ns))
            return -IPO_ETIMEDOUT;
        spin_backoff_wait(b);
    }
}

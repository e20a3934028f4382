/* tests/c/spin_wait.h — the C tests' waits for access without doorbells: spin, yield, then nap. */
#ifndef IPO_TEST_SPIN_WAIT_H
#define IPO_TEST_SPIN_WAIT_H

#include <stdint.h>

#include "ipo/access.h"
#include "ipo/region.h"

/* The core offers one compare-and-swap (ipo_access_try_acquire) and the
 * release; waiting is the job of the waiter in loop/, which sleeps on the
 * participant's doorbell. These waits poll instead, which is all a test of
 * the access word itself needs: threads or forked processes hammering one
 * region, with no doorbell set up. They are test support, not a way for a
 * program to wait. */

/* How a waiter polls: spin with a pause instruction for a bounded budget
 * (lowest latency while the holder is on another core), then yield the CPU,
 * then sleep in growing steps. Keep one per wait and start it zeroed. */
typedef struct spin_backoff {
    int64_t  spin_until_ns;
    uint32_t rounds;
    uint32_t yields;
    uint32_t sleep_ns;
    uint32_t burst;
} spin_backoff_t;

void spin_backoff_wait(spin_backoff_t *b);

/* Waits for access until deadline_ns (ipo_now_ns() time; negative: no
 * deadline). 0 when held, -IPO_ETIMEDOUT. The backoff carries over between
 * calls, so a caller may wait in slices without restarting the spin phase. */
int spin_acquire(ipo_region_t *r, int64_t deadline_ns, spin_backoff_t *b);

/* Waits until the queue holds a message and this participant holds access.
 * Watches the queue's counters without taking access, so a waiter does not
 * steal the holder's turn while nothing is queued. */
int spin_acquire_with_messages(ipo_region_t *r, int64_t deadline_ns, spin_backoff_t *b);

#endif /* IPO_TEST_SPIN_WAIT_H */

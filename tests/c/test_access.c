/* tests/c/test_access.c — mutual exclusion and timeouts of the access word, under threads. */
#include <pthread.h>

#include "ipo/access.h"
#include "ipo/region.h"
#include "region_twin.h"
#include "spin_wait.h"
#include "task.h"

enum { THREADS = 4, ROUNDS = 200000 };

typedef struct shared_state {
    void    *mem;
    uint64_t size;
    uint64_t counter;     /* incremented non-atomically under access */
    int      inside;      /* how many threads are inside at once: must stay 1 */
    int      violations;
} shared_state_t;

static void *worker(void *arg)
{
    shared_state_t *s = arg;
    ipo_region_t r;
    ASSERT_OK(ipo_region_join(&r, s->mem, s->size));
    for (int i = 0; i < ROUNDS; i++) {
        spin_backoff_t b = { 0 };
        ASSERT_OK(spin_acquire(&r, -1, &b));
        ASSERT(ipo_access_held(&r));
        if (__atomic_add_fetch(&s->inside, 1, __ATOMIC_RELAXED) != 1)
            __atomic_add_fetch(&s->violations, 1, __ATOMIC_RELAXED);
        /* A plain read-modify-write: lost updates would show a broken lock. */
        uint64_t v = s->counter;
        s->counter = v + 1;
        __atomic_sub_fetch(&s->inside, 1, __ATOMIC_RELAXED);
        ipo_access_release(&r);
        ASSERT(!ipo_access_held(&r));
    }
    ipo_region_leave(&r);
    return NULL;
}

static void test_mutual_exclusion(void)
{
    shared_state_t s = { 0 };
    s.size = 1 << 20;
    s.mem = region_twin_new(s.size, NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, worker, &s), 0);
    for (int i = 0; i < THREADS; i++)
        ASSERT_EQ(pthread_join(t[i], NULL), 0);
    ASSERT_UEQ(s.counter, (uint64_t)THREADS * ROUNDS);
    ASSERT_EQ(s.violations, 0);
    /* Each acquisition bumped the generation above the owner bits. */
    uint64_t word = ((ipo_header_t *)s.mem)->access;
    ASSERT_UEQ(word & IPO_ACCESS_OWNER_MASK, 0);
    ASSERT_UEQ(word & IPO_ACCESS_SLEEPER_MASK, 0);
    ASSERT_UEQ(word >> IPO_ACCESS_COUNT_SHIFT, (uint64_t)THREADS * ROUNDS);
    region_twin_free(s.mem, NULL);
}

static void test_try_and_timeout(void)
{
    uint64_t size = 1 << 20;
    ipo_region_t a, b;
    void *mem = region_twin_new(size, &a);
    ASSERT_OK(ipo_region_join(&b, mem, size));
    ASSERT(ipo_access_try_acquire(&a));
    ASSERT(!ipo_access_try_acquire(&b));
    ASSERT(ipo_access_held(&a));
    ASSERT(!ipo_access_held(&b));
    spin_backoff_t bo = { 0 };
    int64_t start = ipo_now_ns();
    ASSERT_ERR(spin_acquire(&b, start + 20 * 1000000, &bo), IPO_ETIMEDOUT);
    ASSERT_GE(ipo_now_ns() - start, 20 * 1000000);
    /* Nothing queued: waiting for messages times out even once access is free. */
    ipo_access_release(&a);
    bo = (spin_backoff_t){ 0 };
    ASSERT_ERR(spin_acquire_with_messages(&b, ipo_now_ns() + 5 * 1000000, &bo), IPO_ETIMEDOUT);
    ASSERT(!ipo_access_held(&b));
    ASSERT(ipo_access_try_acquire(&b));
    ipo_access_release(&b);
    ipo_region_leave(&b);
    region_twin_free(mem, &a);
}

int main(void)
{
    RUN(test_mutual_exclusion);
    RUN(test_try_and_timeout);
    return 0;
}

/* core/include/ipo/atomics.h — named accessors for words shared between processes. */
#ifndef IPO_ATOMICS_H
#define IPO_ATOMICS_H

#include <stdint.h>

/* Shared structs keep plain integer fields (they are an ABI read from other
 * languages), so every access to a field that another process may touch at the
 * same time goes through one of these helpers. Each call site says, in a
 * comment, which store or load it pairs with. */

#define ipo__load_relaxed(p)       __atomic_load_n((p), __ATOMIC_RELAXED)
#define ipo__load_acquire(p)       __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ipo__store_relaxed(p, v)   __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ipo__store_release(p, v)   __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ipo__fetch_add(p, v)       __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define ipo__cas_acquire(p, expected, desired) \
    __atomic_compare_exchange_n((p), (expected), (desired), 0, \
                                __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)
#define ipo__cas_acq_rel(p, expected, desired) \
    __atomic_compare_exchange_n((p), (expected), (desired), 0, \
                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)

/* Tell the core we are in a spin loop: lets the sibling hyperthread run and
 * avoids the memory-order mis-speculation penalty when the loop exits. */
static inline void ipo__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

#endif /* IPO_ATOMICS_H */

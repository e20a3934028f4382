/* core/include/ipo/atomics.h — named accessors for words shared between processes. */
#ifndef IPO_ATOMICS_H
#define IPO_ATOMICS_H

#include <stdint.h>

/* Shared structs keep plain integer fields (they are an ABI read from other
 * languages), so every access to a field that another process may touch at
 * the same time goes through one of these helpers, whose name says its
 * memory order. Each call site says, in a comment, which store or load it
 * pairs with (or why it needs no partner). They are public because the
 * inline functions of access.h and queue.h use them; they are macros over
 * the GCC/Clang __atomic builtins, so they take any integer field. */

#define ipo_atomic_load_relaxed(p)        __atomic_load_n((p), __ATOMIC_RELAXED)
#define ipo_atomic_load_acquire(p)        __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ipo_atomic_store_relaxed(p, v)    __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ipo_atomic_store_release(p, v)    __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Read-modify-writes give the value as it was before. */
#define ipo_atomic_fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define ipo_atomic_fetch_add_release(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELEASE)
#define ipo_atomic_fetch_add_acq_rel(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define ipo_atomic_fetch_sub_relaxed(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)
#define ipo_atomic_fetch_sub_release(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELEASE)
#define ipo_atomic_fetch_sub_acq_rel(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_ACQ_REL)
#define ipo_atomic_fetch_or_release(p, v)  __atomic_fetch_or((p), (v), __ATOMIC_RELEASE)
#define ipo_atomic_fetch_or_acq_rel(p, v)  __atomic_fetch_or((p), (v), __ATOMIC_ACQ_REL)
#define ipo_atomic_fetch_and_release(p, v) __atomic_fetch_and((p), (v), __ATOMIC_RELEASE)
#define ipo_atomic_fetch_and_acq_rel(p, v) __atomic_fetch_and((p), (v), __ATOMIC_ACQ_REL)
#define ipo_atomic_exchange_relaxed(p, v)  __atomic_exchange_n((p), (v), __ATOMIC_RELAXED)
#define ipo_atomic_exchange_acq_rel(p, v)  __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)

/* Orders every load and store before it ahead of every store after it: for
 * a note that must reach memory before the changes it describes (a kill
 * stops a process between any two of its stores, and the stores that it
 * made stay). */
#define ipo_atomic_fence_release()         __atomic_thread_fence(__ATOMIC_RELEASE)

/* A full fence: a store before it and a load after it are not reordered.
 * For the store-then-load handshakes where each side must see the other's
 * store or have its own seen (the line in loop/src/handoff.c). */
#define ipo_atomic_fence_seq_cst()         __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* Keeps the compiler from moving loads and stores across it; emits no
 * instruction. For stores whose order matters only against a kill of this
 * process (which stops it between two instructions, and whatever stores it
 * executed stay), not against another thread: the allocator's walk-keeping
 * stores (core/src/alloc.c). */
#define ipo_compiler_order()               __atomic_signal_fence(__ATOMIC_SEQ_CST)

/* Compare-and-swap: 1 when *p held *expected and now holds desired; else 0
 * and *expected holds what *p held. A failed swap orders nothing. */
#define ipo_atomic_cas_acquire(p, expected, desired) \
    __atomic_compare_exchange_n((p), (expected), (desired), 0, \
                                __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)
#define ipo_atomic_cas_release(p, expected, desired) \
    __atomic_compare_exchange_n((p), (expected), (desired), 0, \
                                __ATOMIC_RELEASE, __ATOMIC_RELAXED)
#define ipo_atomic_cas_acq_rel(p, expected, desired) \
    __atomic_compare_exchange_n((p), (expected), (desired), 0, \
                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)

/* Tell the core we are in a spin loop: lets the sibling hyperthread run and
 * avoids the memory-order mis-speculation penalty when the loop exits. */
static inline void ipo_cpu_relax(void)
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

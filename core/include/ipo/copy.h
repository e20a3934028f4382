/* core/include/ipo/copy.h — copying payloads into the region. */
#ifndef IPO_COPY_H
#define IPO_COPY_H

#include <stddef.h>

#include "ipo/region.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Payloads below this size are always copied with ordinary stores:
 * streaming a small one saves nothing and leaves it out of every cache. */
#define IPO_STREAM_THRESHOLD ((size_t)256 * 1024)

/* How many payload bytes a turn writes with ordinary stores before it
 * streams: about one core's L2 (1 MiB on the machines measured, AMD EPYC
 * and Intel Xeon alike), and well under any last-level cache. A turn that
 * writes this much or less is read, right after it ends, from cache; one
 * that writes more (a batch) pushes its first payloads out before their
 * reader comes. */
#define IPO_STREAM_TURN_BUDGET ((size_t)1024 * 1024)

/* Copies a payload into r's heap during a turn of this participant. The
 * turn's payloads go with ordinary stores while they fit in
 * IPO_STREAM_TURN_BUDGET, so that a reader on another core (a ping-pong, a
 * message per turn) finds them in cache; past it, payloads of at least
 * IPO_STREAM_THRESHOLD bytes are streamed with non-temporal stores, since
 * their reader comes only after the batch, and ordinary stores would read
 * every destination line into this core's cache only to evict it (+24 % bulk
 * throughput, benchmarks/bench_transfer.py). */
void ipo_copy_in(ipo_region_t *r, void *dst, const void *src, size_t n);

/* The two ways, for callers (and tests) that know which they want. */
void ipo_copy_cached(void *dst, const void *src, size_t n);
void ipo_copy_streaming(void *dst, const void *src, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* IPO_COPY_H */

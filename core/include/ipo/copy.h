/* core/include/ipo/copy.h — copying payloads into the region. */
#ifndef IPO_COPY_H
#define IPO_COPY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* At and above this size, payloads are written with non-temporal stores. */
#define IPO_STREAM_THRESHOLD ((size_t)256 * 1024)

/* Copies a payload into the region. Large payloads bypass this core's
 * caches: the reader is another process, usually on another core, and
 * ordinary stores would first read every destination line only to evict
 * it again (measured: +24% bulk throughput, benchmarks/bench_transfer.py).
 * Smaller payloads are copied with memcpy, staying in cache for a reader
 * that comes soon. */
void ipo_copy_in(void *dst, const void *src, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* IPO_COPY_H */

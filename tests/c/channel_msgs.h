/* tests/c/channel_msgs.h — test support for channels: messages that show a tear, a loss or a reordering, and a turn taken by spinning. */
#ifndef IPO_TEST_CHANNEL_MSGS_H
#define IPO_TEST_CHANNEL_MSGS_H

#include <stdint.h>
#include <string.h>

#include "ipo/access.h"
#include "ipo/channel.h"
#include "task.h"

/* Message number seq, n bytes (n >= 16): seq at both ends, and every byte
 * between them derived from seq, so a message read while it was being
 * written (or written over) fails msg_ok. */
static inline void msg_fill(uint8_t *p, uint64_t n, uint64_t seq)
{
    memcpy(p, &seq, 8);
    memset(p + 8, (int)(seq * 131 + 7) & 0xff, (size_t)n - 16);
    memcpy(p + n - 8, &seq, 8);
}

/* 1 when p (n bytes) is message seq, whole. */
static inline int msg_ok(const uint8_t *p, uint64_t n, uint64_t seq)
{
    uint64_t a, b;
    if (n < 16)
        return 0;
    memcpy(&a, p, 8);
    memcpy(&b, p + n - 8, 8);
    if (a != seq || b != seq)
        return 0;
    uint8_t want = (uint8_t)((seq * 131 + 7) & 0xff);
    for (uint64_t i = 8; i < n - 8; i++)
        if (p[i] != want)
            return 0;
    return 1;
}

/* The length of message seq: varied, 16 to max. */
static inline uint64_t msg_len(uint64_t seq, uint64_t max)
{
    return 16 + (seq * 7919) % (max - 15);
}

/* Takes access by spinning (a test's participants hold it only to open a
 * channel): 0, or -1 past the bound. */
static inline int spin_acquire(ipo_region_t *r, int64_t bound_ns)
{
    int64_t end = ipo_now_ns() + bound_ns;
    while (!ipo_access_try_acquire(r)) {
        if (ipo_now_ns() > end)
            return -1;
        ipo_cpu_relax();
    }
    return 0;
}

/* Opens a channel in a turn of its own. */
static inline int open_in_turn(ipo_region_t *r, const char *name, uint32_t slots, uint64_t size,
                               ipo_channel_t *ch)
{
    if (spin_acquire(r, INT64_C(10) * 1000000000))
        return -IPO_ETIMEDOUT;
    int rc = ipo_channel_open(r, name, slots, size, ch);
    ipo_access_release(r);
    return rc;
}

#endif /* IPO_TEST_CHANNEL_MSGS_H */

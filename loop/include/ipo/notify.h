/* loop/include/ipo/notify.h — doorbells: an fd that becomes readable when rung. */
#ifndef IPO_NOTIFY_H
#define IPO_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "ipo/cleanup.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A participant's doorbell. It only says "look again": it never carries data,
 * and rings coalesce. It is a named FIFO in a private directory, so that any
 * process of the same user can ring it by name, whoever started it (an
 * eventfd could only be shared by passing the descriptor). The owner keeps
 * it open for reading and writing, so it never reports end-of-file. */
typedef struct ipo_doorbell {
    int  fd;            /* readable when rung; -1 when closed */
    char path[128];
} ipo_doorbell_t;

#define IPO_DOORBELL_DIR_FMT "/dev/shm/.ipo-bells-%u"  /* per user, mode 0700 */

/* Where the doorbell of (region inode, slot, slot generation) lives. */
int ipo_notify_path(char *buf, size_t len, uint64_t inode, uint32_t slot, uint32_t generation);

/* Creates and opens this participant's doorbell (replacing a leftover of the
 * same name). 0 or a negative IPO_E* code (-IPO_EPERM when the doorbell
 * directory is not ours alone). */
int ipo_notify_open(ipo_doorbell_t *d, uint64_t inode, uint32_t slot, uint32_t generation);

/* The descriptor to poll, or to hand to an event loop. */
static inline int ipo_notify_fd(const ipo_doorbell_t *d)
{
    return d->fd;
}

/* Empties the doorbell after a wakeup. */
void ipo_notify_drain(ipo_doorbell_t *d);

/* Closes the doorbell and removes its name. Idempotent. */
void ipo_notify_close(ipo_doorbell_t *d);

/* Opens a peer's doorbell for ringing: a descriptor, or -1 when the peer
 * has no doorbell (gone, or not sleeping yet). */
int ipo_notify_open_peer(uint64_t inode, uint32_t slot, uint32_t generation);

/* Removes (with dry_run: only reports) the doorbells of this user whose
 * owner is dead, and those a process killed while making its doorbell
 * left; never a live one. report (may be NULL) gets each, as
 * IPO_LEFTOVER_DOORBELL (ipo/cleanup.h). The count, -IPO_EPERM when the
 * doorbell directory is not this user's alone, or -IPO_ESYS. Each
 * participant runs it when it makes its doorbell; ipo_cleanup() leaves
 * doorbells to it. */
int ipo_notify_sweep(int dry_run, ipo_leftover_fn report, void *ctx);

/* Removes the doorbell of one participant known dead (region inode, slot,
 * generation) if it is there and dead (nobody reads it): what the death
 * watch does as it learns of a death. 1 when removed. */
int ipo_notify_remove_dead(uint64_t inode, uint32_t slot, uint32_t generation);

/* Rings through a peer descriptor: 0, or -1 when the peer is gone (its
 * reading end closed). A full pipe counts as rung. Never raises SIGPIPE. */
int ipo_notify_ring(int peer_fd);

#ifdef __cplusplus
}
#endif

#endif /* IPO_NOTIFY_H */

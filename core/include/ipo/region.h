/* core/include/ipo/region.h — creating, attaching to, checking and leaving a region. */
#ifndef IPO_REGION_H
#define IPO_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "ipo/alloc.h"
#include "ipo/layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A process-local handle on a region. Its fields are read by the inline
 * helpers of access.h on the hot path; treat them as read-only. A handle
 * with a file is registered while attached: do not move it in memory. */
typedef struct ipo_region {
    uint8_t      *base;          /* where the region is mapped in this process */
    uint64_t      size;
    ipo_header_t *hdr;
    ipo_slot_t   *me;            /* this participant's slot */
    ipo_slot_t   *slots;         /* the participant table, as validated at attach */
    uint32_t      slot_count;    /* its length, as validated at attach: later changes to the
                                    header's fields cannot send the handle outside the table */
    uint64_t      hash_key[2];   /* the header's hash key as validated at attach (against its
                                    digest): what this participant hashes keys with */
    ipo_heap_t    heap;
    uint32_t      slot;
    uint64_t      access_mine;   /* the owner field value that means "this participant" */
    unsigned      fork_gen;      /* the process's fork generation when attached */
    int           fd;            /* -1 for a region in process memory */
    int           is_creator;
    int           joined;        /* holds a slot */
    int           changed;       /* this turn changed shared state (ipo_region_mark_changed) */
    int           creator_gone;  /* ipo_region_creator_alive() found the creator gone (it stays so) */
    uint64_t      taken_over_at; /* the acquisition count of the last turn taken over, or 0 */
    ipo_off_t     pin_hint_chunk; /* where the next free entry of this participant's pin log */
    uint64_t      pin_hint_index; /* may be: a hint, looked at from there (core/src/pins.c) */
    uint64_t      turn_seen;      /* the turn the two figures below are of (ipo__this_turn) */
    uint64_t      turn_copied;    /* payload bytes ipo_copy_in copied in it: cached, or streamed past a budget */
    uint64_t      turn_put_ns;    /* when it first put a message (the queue's stamps), 0: not yet */
    uint64_t      pins_held;      /* entries of that log in use (any thread unpins: atomic) */
    int           pins_abandoned; /* left with buffers alive: the log is no longer ours */
    uint64_t      inode;         /* of the shm object, to unlink only our own */
    struct ipo_region *registry_next; /* handles a fork() child must close */
    char          shm_name[IPO_NAME_MAX + 2]; /* as passed to shm_open: "/name" */
} ipo_region_t;

typedef struct ipo_region_options {
    uint64_t size;       /* total bytes; rounded up to a page and to IPO_REGION_MIN_SIZE */
    uint32_t slots;      /* participant slots; 0 means IPO_DEFAULT_SLOTS */
    uint32_t mode;       /* file mode bits; 0 means 0600. Set whatever the umask */
    int      prefault;   /* map with page tables populated, so no fault on first touch */
    int      keep_stale; /* create: a name held by a region whose participants all died is
                            -IPO_EEXIST too, instead of being replaced */
    uint32_t consumer_slot; /* attach: 0 takes any free slot; else that slot only */
    int      trust_others; /* attach: accept a region that another user owns, or that other
                              users may write (group or other write bits), in any mode */
    int      tool;       /* attach: a tool that looks in a turn (the command line's check), not
                            a consumer: not counted in attach_count, so a creator waiting for
                            its first consumer does not take the tool for one */
} ipo_region_options_t;

/* 0 when name is usable: an optional leading '/', then 1 to IPO_NAME_MAX bytes
 * with no '/' and not "." or "..". Else -IPO_EINVAL. */
int ipo_region_name_check(const char *name);

/* Creates the named region with O_CREAT|O_EXCL and the mode given, reserves
 * its memory (a full /dev/shm is -IPO_ENOSPC here, never a SIGBUS later),
 * formats it, claims slot 0, and publishes it READY. A name held by a live
 * region, or by something that is not a region, is -IPO_EEXIST; a region
 * whose participants are all dead is removed and replaced (unless
 * opts->keep_stale: then it is -IPO_EEXIST too). */
int ipo_region_create(ipo_region_t *r, const char *name, const ipo_region_options_t *opts);

/* One attempt to attach as a consumer: -IPO_ENOENT when there is no such
 * region, -IPO_EAGAIN while its creator is still formatting it, -IPO_EPERM
 * on another owner, on a mode that lets other users write, or on another
 * mode than opts->mode (default 0600) — unless opts->trust_others —,
 * -IPO_ELAYOUT on a foreign or incompatible layout, -IPO_ECORRUPT when an
 * offset or size in its header does not fit the mapping
 * (ipo_region_corrupt_reason() says which), -IPO_ECLOSING, -IPO_EFULL,
 * -IPO_ECREATORGONE when the region's creator died (the name is removed
 * then if nobody else is left in it). With opts->consumer_slot, only that
 * slot: -IPO_EINVAL past the region's slots, -IPO_ETAKEN while another
 * participant holds it. Sweeps the hidden files of creations whose
 * creator died, at most once a second per process. */
int ipo_region_attach(ipo_region_t *r, const char *name, const ipo_region_options_t *opts);

/* Why the calling thread's last ipo_region_attach or ipo_region_join
 * returned -IPO_ECORRUPT: which field of the header did not fit. */
const char *ipo_region_corrupt_reason(void);

/* Consumers currently alive in the participant table. */
unsigned ipo_region_consumers_alive(const ipo_region_t *r);

/* Creator: mark the region CLOSING so that nobody new attaches. */
void ipo_region_begin_close(ipo_region_t *r);

/* Leaves the participant table; the creator also unlinks the name, if it
 * still names this region, and so does the last participant to leave a
 * region whose creator is gone. The mapping stays until ipo_region_unmap,
 * so buffers exported from it remain valid. */
void ipo_region_detach(ipo_region_t *r);

/* Unmaps and closes what detach left. Idempotent. */
void ipo_region_unmap(ipo_region_t *r);

/* The in-process twin: format caller-owned memory as a region, then join it
 * from any number of handles (threads standing in for processes). Join
 * checks what attach checks: -IPO_EAGAIN, -IPO_ELAYOUT, -IPO_ECORRUPT,
 * -IPO_EFULL. */
int ipo_region_format(void *mem, uint64_t size, const ipo_region_options_t *opts);
int ipo_region_join(ipo_region_t *r, void *mem, uint64_t size);
void ipo_region_leave(ipo_region_t *r);

/* Verifies the header (every offset and size, the hash key against its
 * digest), the allocator (a walk of every block and list) and the queue
 * (its ring, and that the messages between head and tail are exactly the
 * objects flagged as queued: a moved head or tail shows). 0 or
 * -IPO_ECORRUPT with a description in why. Needs access (or a quiet
 * region). */
int ipo_region_check(const ipo_region_t *r, char *why, size_t why_len);

/* Notes that the turn this participant holds changed shared state (an
 * object, a container, the queue): its release counts a change and rings
 * whoever waits for one (IPO_WAIT_FOR_CHANGE). The core's own mutators
 * call it; so must code that writes into a block itself. */
static inline void ipo_region_mark_changed(ipo_region_t *r)
{
    r->changed = 1;
}

/* 1 when another participant is alive in the region (its liveness lock is
 * held): one system call. A handle without a file (the in-process twin)
 * answers 1. */
int ipo_region_peers_alive(const ipo_region_t *r);

/* 1 while the region's creator is alive (its liveness lock on slot 0 is
 * held), 0 once it died or closed the region: then the region is gone for
 * its consumers. One system call; once 0, it stays 0 without one (a dead
 * creator never comes back: slot 0 is never taken again). The creator's
 * own handle, and a handle without a file, answer 1. */
int ipo_region_creator_alive(ipo_region_t *r);

/* The process's fork generation (core/src/process.c): moved by the
 * fork handler in each child, read here plain (the child runs one thread
 * when it moves). */
extern unsigned ipo__fork_gen;

/* 1 when this handle was inherited across fork(): it belongs to the
 * parent's slot, so the child must not use it (and must attach anew).
 * Inline: it is on the hot path of every view operation. Any handle that
 * holds a generation got it from ipo__fork_generation(), so the fork
 * handlers that move the counter are in place by then. */
static inline int ipo_region_inherited(const ipo_region_t *r)
{
    return r->fork_gen != ipo__fork_gen;
}

#ifdef __cplusplus
}
#endif

#endif /* IPO_REGION_H */

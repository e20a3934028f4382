/* core/include/ipo/channel.h — channels: named rings of slots that a sender and a receiver move through without the access turn. */
#ifndef IPO_CHANNEL_H
#define IPO_CHANNEL_H

#include <stdint.h>

#include "ipo/layout.h"
#include "ipo/region.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A channel carries messages from one sender to one receiver, each a
 * length and that many bytes (the object format, encoded by the caller:
 * core does not look inside). The sender copies into one slot while the
 * receiver copies out of another, so the two copies overlap, where the
 * queue's put and take run one after the other in turns.
 *
 * Sides: any participant may send or receive; the first send (or
 * ipo_channel_claim) claims the sending side for this handle, the first
 * receive the receiving side, by recording the participant's slot and
 * generation in the channel. A second live claimer of a side gets
 * -IPO_EBUSY; a claim whose participant died (its liveness lock is free,
 * or its slot was taken by someone else) is taken over by the next
 * claimer. One handle may hold both sides.
 *
 * Return codes of the calls that move messages: 0 (sent, received),
 * -IPO_ECHANFULL (no free slot: nothing was written), -IPO_EEMPTY (no
 * message), -IPO_EMSGSIZE (larger than a slot, or than the buffer given:
 * the message stays), -IPO_ECORRUPT (an index or a length read from the
 * region is out of bounds: nothing was followed), -IPO_EBUSY (the side is
 * another live participant's). None of them needs access, blocks, or makes
 * a system call, except a claim's look at a previous claimer's liveness. */

enum ipo_channel_side {
    IPO_CHANNEL_SEND    = 1,
    IPO_CHANNEL_RECEIVE = 2
};

/* A process-local handle. Everything that bounds the shared block (its
 * place, the number and size of slots) is kept as validated at open, so a
 * later write to the block's identity cannot send this handle outside it.
 * Treat the fields as read-only. It points into its region's mapping:
 * close it before ipo_region_unmap. Like the region's handle it does not
 * cross fork(): a child's claims would be its parent's. */
typedef struct ipo_channel {
    ipo_region_t *r;
    ipo_chan_t   *c;
    uint64_t     *lengths;     /* the lengths' table: slot i's message length */
    uint8_t      *slot0;       /* the first slot */
    uint64_t      mask;        /* slots - 1 */
    uint64_t      slots;
    uint64_t      slot_size;
    uint64_t      stride;
    uint64_t      claim;       /* this participant's claim word */
    unsigned      sides;       /* IPO_CHANNEL_SEND | IPO_CHANNEL_RECEIVE, as claimed */
    int           send_loaned; /* a send loan is out: the next commit publishes it */
    int           receive_loaned; /* a receive loan is out: the next release frees it */
    uint64_t      tail;        /* sender: the number of the next message (its own copy of c->tail) */
    uint64_t      head_seen;   /* sender: c->head as last loaded */
    uint64_t      head;        /* receiver: the number of the next message (its own copy of c->head) */
    uint64_t      tail_seen;   /* receiver: c->tail as last loaded */
} ipo_channel_t;

/* Opens the channel `name` (1 to IPO_CHANNEL_NAME_MAX bytes, else
 * -IPO_EINVAL) of r, creating it with `slots` slots (a power of two, 1 to
 * IPO_CHANNEL_MAX_SLOTS) of `slot_size` bytes each (1 to
 * IPO_CHANNEL_MAX_SLOT_SIZE) when the region has none of that name. A
 * channel that exists with other sizes is -IPO_EMISMATCH; slots and
 * slot_size both 0 open an existing channel whatever its sizes
 * (-IPO_ENOENT when there is none). Needs access (-IPO_ENOTHELD): the
 * directory and the allocator change only in a turn. -IPO_ENOMEM when the
 * heap has no room, -IPO_ECORRUPT when the directory or the channel block
 * does not fit the region. Claims no side. */
int ipo_channel_open(ipo_region_t *r, const char *name, uint32_t slots, uint64_t slot_size,
                     ipo_channel_t *ch);

/* Claims the sides named (IPO_CHANNEL_SEND, IPO_CHANNEL_RECEIVE) for this
 * handle, each with one compare-and-swap: 0, or -IPO_EBUSY when another
 * live participant (or another handle of this one) holds one of them
 * (then none is newly claimed), -IPO_ECORRUPT when a claim names no
 * participant slot. A side taken over from a dead claimer starts where
 * the channel's index says: a message the dead receiver was reading is
 * delivered again, a slot the dead sender was writing is written over. */
int ipo_channel_claim(ipo_channel_t *ch, unsigned sides);

/* Gives up the sides this handle claimed (a loan not committed is
 * dropped; a receive loan not released is delivered again) and forgets
 * the channel. The channel stays in the region. */
void ipo_channel_close(ipo_channel_t *ch);

/* Copies len bytes into the next free slot and publishes them. */
int ipo_channel_try_send(ipo_channel_t *ch, const void *data, uint64_t len);

/* The next free slot, to be written in place: *buf (64-byte aligned) and
 * its *capacity (the slot size). Nothing is published until
 * ipo_channel_send_commit; a second loan before it gives the same slot. */
int ipo_channel_send_loan(ipo_channel_t *ch, void **buf, uint64_t *capacity);

/* Publishes the loaned slot's first len bytes: 0, -IPO_EMSGSIZE past the
 * slot size (the loan stays), -IPO_EINVAL without a loan. */
int ipo_channel_send_commit(ipo_channel_t *ch, uint64_t len);

/* Copies the next message into buf (capacity bytes) and frees its slot;
 * *len is its length (also when -IPO_EMSGSIZE says buf is too small: the
 * message stays). */
int ipo_channel_try_receive(ipo_channel_t *ch, void *buf, uint64_t capacity, uint64_t *len);

/* The next message in place: *data and *len, valid until
 * ipo_channel_receive_release (which frees its slot). Peeking again
 * before the release gives the same message. */
int ipo_channel_receive_peek(ipo_channel_t *ch, const void **data, uint64_t *len);

/* Frees the slot of the message peeked: 0, -IPO_EINVAL without a peek. */
int ipo_channel_receive_release(ipo_channel_t *ch);

/* Messages published and not yet released: for tools. Two relaxed loads,
 * clamped to the slot count (the region's counters are not trusted). */
uint64_t ipo_channel_pending(const ipo_channel_t *ch);

/* Verifies the directory and every channel it names (blocks live and of
 * their size, names terminated and distinct, sizes in bounds, indices no
 * more than the slot count apart, claims naming participant slots). 0 or
 * -IPO_ECORRUPT with a description in why. Needs access (or a quiet
 * region); ipo_region_check calls it. */
int ipo_channel_check(const ipo_region_t *r, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* IPO_CHANNEL_H */

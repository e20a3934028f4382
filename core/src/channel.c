/* core/src/channel.c — channels: the directory, claims of a side, and the single-producer single-consumer ring. */
/* Who writes what. The directory and a channel's identity are written
 * under access and read under access (open, check): plain. The claims are
 * written by compare-and-swap without access. c->tail is written by the
 * sender alone, c->head by the receiver alone, each with a release store
 * that the other side's acquire load pairs with; a slot's bytes and length
 * are written by the sender while the slot is free (head has passed it)
 * and read by the receiver while it is published (tail has passed it), so
 * those two index stores are the only synchronisation the slot needs.
 *
 * Each side keeps its own index in its handle and never reads it back
 * from the region: a stray write to the region's copy cannot send the
 * side elsewhere, and the other side's index is checked against it (at
 * most `slots` apart) before it is used. */
#include "ipo/channel.h"

#include <stdio.h>
#include <string.h>

#include "crash_point.h"
#include "internal.h"
#include "ipo/access.h"
#include "ipo/alloc.h"
#include "ipo/atomics.h"
#include "ipo/errors.h"

#define DIR_FIRST_CAPACITY 8u
#define DIR_MAX_CAPACITY   (UINT64_C(1) << 20)

static uint64_t round_line(uint64_t n)
{
    return (n + IPO_CACHE_LINE - 1) & ~(uint64_t)(IPO_CACHE_LINE - 1);
}

static uint64_t stride_for(uint64_t slot_size)
{
    return round_line(slot_size);
}

/* The lengths' table, ahead of the slots: one u64 a slot, padded to a line. */
static uint64_t lengths_bytes(uint64_t slots)
{
    return round_line(slots * sizeof(uint64_t));
}

static int name_ok(const char *name, size_t *len)
{
    if (!name)
        return 0;
    *len = strnlen(name, IPO_CHANNEL_NAME_MAX + 1);
    return *len >= 1 && *len <= IPO_CHANNEL_NAME_MAX;
}

/* ---- validation of what the region holds ------------------------------- */

/* The directory at off, if it is a live block that holds what its own
 * fields say: else NULL. */
static ipo_channel_dir_t *dir_at(const ipo_region_t *r, ipo_off_t off)
{
    uint64_t usable;
    if (!ipo_alloc_live(&r->heap, off, &usable) || usable < sizeof(ipo_channel_dir_t))
        return NULL;
    ipo_channel_dir_t *d = (ipo_channel_dir_t *)(r->base + off);
    if (d->magic != IPO_CHANNEL_DIR_MAGIC || d->capacity > DIR_MAX_CAPACITY ||
        d->capacity > (usable - sizeof(*d)) / sizeof(ipo_channel_entry_t) || d->count > d->capacity)
        return NULL;
    return d;
}

/* The channel at off, if it is a live block whose identity is in bounds
 * and whose slots fit the block: else NULL. */
static ipo_chan_t *chan_at(const ipo_region_t *r, ipo_off_t off)
{
    uint64_t usable;
    if (!ipo_alloc_live(&r->heap, off, &usable) || usable < sizeof(ipo_chan_t) ||
        off % IPO_CACHE_LINE)
        return NULL;
    ipo_chan_t *c = (ipo_chan_t *)(r->base + off);
    uint64_t slots = c->slots, size = c->slot_size;
    if (c->magic != IPO_CHANNEL_MAGIC || slots == 0 || slots > IPO_CHANNEL_MAX_SLOTS ||
        (slots & (slots - 1)) || size == 0 || size > IPO_CHANNEL_MAX_SLOT_SIZE ||
        c->stride != stride_for(size))
        return NULL;
    /* slots <= 2^20 and stride <= 2^40: the sum of products cannot overflow. */
    if (lengths_bytes(slots) + slots * c->stride > usable - sizeof(ipo_chan_t))
        return NULL;
    return c;
}

static int entry_name_ok(const ipo_channel_entry_t *e)
{
    return e->name[0] != '\0' && e->name[IPO_CHANNEL_NAME_MAX] == '\0';
}

/* ---- open ------------------------------------------------------------------ */

static void bind(ipo_channel_t *ch, ipo_region_t *r, ipo_chan_t *c)
{
    memset(ch, 0, sizeof(*ch));
    ch->r = r;
    ch->c = c;
    ch->lengths = (uint64_t *)((uint8_t *)c + sizeof(ipo_chan_t));
    ch->slot0 = (uint8_t *)ch->lengths + lengths_bytes(c->slots);
    ch->slots = c->slots;
    ch->mask = ch->slots - 1;
    ch->slot_size = c->slot_size;
    ch->stride = c->stride;
    /* SYNC POINT slot generation: our own slot's, which only a claimer of
     * the slot writes (this participant, before it joined). */
    uint64_t gen = ipo_atomic_load_relaxed(&r->me->generation);
    ch->claim = gen << IPO_CHANNEL_CLAIM_GEN_SHIFT | ((uint64_t)r->slot + 1);
}

/* Builds a channel block aside: unreachable until a directory entry names it. */
static int chan_new(ipo_region_t *r, uint32_t slots, uint64_t slot_size, ipo_off_t *out)
{
    uint64_t stride = stride_for(slot_size);
    int rc = ipo_alloc(&r->heap, sizeof(ipo_chan_t) + lengths_bytes(slots) + (uint64_t)slots * stride,
                       IPO_CACHE_LINE, out);
    if (rc)
        return rc;
    ipo_chan_t *c = (ipo_chan_t *)(r->base + *out);
    memset(c, 0, sizeof(*c));
    c->magic = IPO_CHANNEL_MAGIC;
    c->slots = slots;
    c->slot_size = slot_size;
    c->stride = stride;
    return 0;
}

/* Adds (name, chan) to the directory: in place while it has room (the
 * entry first, then the count that covers it), else in a directory twice
 * as large built aside and published with one store of the header's
 * `channels`. A kill leaves the old directory or the new one, at worst with
 * the new channel block (and a new directory) unreachable. */
static int dir_add(ipo_region_t *r, ipo_channel_dir_t *d, const char *name, size_t len, ipo_off_t chan)
{
    ipo_channel_entry_t e;
    memset(&e, 0, sizeof(e));
    memcpy(e.name, name, len);
    e.chan = chan;
    if (d && d->count < d->capacity) {
        d->entries[d->count] = e;
        IPO_CRASH_POINT();
        /* SYNC POINT directory count: only holders of access read it, after
         * the access word's acquire; release keeps the entry ahead of the
         * count against a kill, as against the compiler. */
        ipo_atomic_store_release(&d->count, d->count + 1);
        return 0;
    }
    uint64_t cap = d ? d->capacity * 2 : DIR_FIRST_CAPACITY, count = d ? d->count : 0;
    if (cap > DIR_MAX_CAPACITY)
        return ipo_alloc_refuse(&r->heap, sizeof(ipo_channel_dir_t) + cap * sizeof(e), 16);
    ipo_off_t off;
    int rc = ipo_alloc(&r->heap, sizeof(ipo_channel_dir_t) + cap * sizeof(e), 16, &off);
    if (rc)
        return rc;
    ipo_channel_dir_t *n = (ipo_channel_dir_t *)(r->base + off);
    /* In a damaged heap the new block could overlap the old: refuse rather
     * than copy a block over itself. */
    uint8_t *nb = (uint8_t *)n, *ob = (uint8_t *)d;
    size_t nlen = sizeof(*n) + cap * sizeof(e), olen = d ? sizeof(*d) + d->capacity * sizeof(e) : 0;
    if (d && nb < ob + olen && ob < nb + nlen) {
        ipo_alloc_free(&r->heap, off);
        return -IPO_ECORRUPT;
    }
    n->magic = IPO_CHANNEL_DIR_MAGIC;
    n->capacity = cap;
    n->reserved = 0;
    if (count)
        memcpy(n->entries, d->entries, count * sizeof(e));
    n->entries[count] = e;
    n->count = count + 1;
    IPO_CRASH_POINT();
    /* SYNC POINT header channels: read by holders of access after the
     * access word's acquire, and by attach's validation (relaxed, an
     * offset check only); release keeps the new directory whole ahead of
     * its publication against a kill, as against the compiler. */
    ipo_atomic_store_release(&r->hdr->channels, off);
    if (d)
        ipo_alloc_free(&r->heap, (ipo_off_t)((uint8_t *)d - r->base));
    return 0;
}

int ipo_channel_open(ipo_region_t *r, const char *name, uint32_t slots, uint64_t slot_size,
                     ipo_channel_t *ch)
{
    size_t len;
    if (!name_ok(name, &len))
        return -IPO_EINVAL;
    int any_shape = slots == 0 && slot_size == 0;
    if (!any_shape && (slots == 0 || slots > IPO_CHANNEL_MAX_SLOTS || (slots & (slots - 1)) ||
                       slot_size == 0 || slot_size > IPO_CHANNEL_MAX_SLOT_SIZE))
        return -IPO_EINVAL;
    if (!ipo_access_held(r))
        return -IPO_ENOTHELD;

    /* SYNC POINT header channels: written under access (dir_add), which
     * we hold: the access word's acquire ordered it. */
    ipo_off_t dir_off = ipo_atomic_load_relaxed(&r->hdr->channels);
    ipo_channel_dir_t *d = NULL;
    if (dir_off) {
        d = dir_at(r, dir_off);
        if (!d)
            return -IPO_ECORRUPT;
        for (uint64_t i = 0; i < d->count; i++) {
            const ipo_channel_entry_t *e = &d->entries[i];
            if (!entry_name_ok(e))
                return -IPO_ECORRUPT;
            if (strncmp(e->name, name, sizeof(e->name)) != 0)
                continue;
            ipo_chan_t *c = chan_at(r, e->chan);
            if (!c)
                return -IPO_ECORRUPT;
            if (!any_shape && (c->slots != slots || c->slot_size != slot_size))
                return -IPO_EMISMATCH;
            bind(ch, r, c);
            return 0;
        }
    }
    if (any_shape)
        return -IPO_ENOENT;

    ipo_off_t off;
    int rc = chan_new(r, slots, slot_size, &off);
    if (rc)
        return rc;
    rc = dir_add(r, d, name, len, off);
    if (rc) {
        ipo_alloc_free(&r->heap, off);
        return rc;
    }
    ipo_region_mark_changed(r);
    bind(ch, r, (ipo_chan_t *)(r->base + off));
    return 0;
}

/* ---- claims ---------------------------------------------------------------- */

/* 1 when the participant a claim names is alive, 0 when it is gone, or
 * -IPO_ECORRUPT when the claim names no slot. */
static int claimer_alive(const ipo_region_t *r, uint64_t claim)
{
    uint64_t slot1 = claim & IPO_CHANNEL_CLAIM_SLOT_MASK;
    if (slot1 == 0 || slot1 > r->slot_count)
        return -IPO_ECORRUPT;
    uint32_t s = (uint32_t)(slot1 - 1);
    const ipo_slot_t *p = &r->slots[s];
    /* SYNC POINT slot state and generation: written by whoever occupies the
     * slot (ipo__occupy_slot); a value from before or after a change of
     * occupant both say the claimer is gone when they differ from the
     * claim's. */
    uint32_t state = ipo_atomic_load_acquire(&p->state);
    uint32_t gen = ipo_atomic_load_acquire(&p->generation);
    if (state != IPO_SLOT_ACTIVE || gen != (uint32_t)(claim >> IPO_CHANNEL_CLAIM_GEN_SHIFT))
        return 0;
    /* A process that died without leaving keeps its slot's fields: the
     * kernel's liveness lock says. (A region in process memory has no file;
     * its participants leave through ipo_region_leave, which frees the slot.) */
    if (r->fd >= 0 && s != r->slot && !ipo__slot_lock_held(r->fd, s))
        return 0;
    return 1;
}

static int claim_word(ipo_channel_t *ch, uint64_t *word)
{
    /* SYNC POINT channel claim: the acquire pairs with the release of the
     * previous claimer's compare-and-swap (or of its close), so what it
     * published through the indices is seen before we load them. */
    uint64_t cur = ipo_atomic_load_acquire(word);
    for (;;) {
        if (cur == ch->claim)
            return -IPO_EBUSY; /* this participant, through another handle */
        if (cur) {
            int alive = claimer_alive(ch->r, cur);
            if (alive < 0)
                return alive;
            if (alive)
                return -IPO_EBUSY;
        }
        /* From that exact word: two claimers racing for a dead one's side
         * cannot both win. */
        if (ipo_atomic_cas_acq_rel(word, &cur, ch->claim))
            return 0;
    }
}

static void unclaim_word(ipo_channel_t *ch, uint64_t *word)
{
    uint64_t mine = ch->claim;
    /* SYNC POINT channel claim: pairs with the next claimer's acquire. A
     * claim already taken over (we were taken for dead) stays theirs. */
    ipo_atomic_cas_release(word, &mine, 0);
}

static int start_sending(ipo_channel_t *ch)
{
    /* SYNC POINT channel tail: our own index as the previous sender left
     * it (its release store; a dead sender's unpublished slot is simply
     * written again). */
    uint64_t t = ipo_atomic_load_acquire(&ch->c->tail);
    /* SYNC POINT channel head: pairs with the receiver's release in
     * release_head(). */
    uint64_t h = ipo_atomic_load_acquire(&ch->c->head);
    if (t - h > ch->slots)
        return -IPO_ECORRUPT;
    ch->tail = t;
    ch->head_seen = h;
    ch->send_loaned = 0;
    return 0;
}

static void start_receiving(ipo_channel_t *ch)
{
    /* SYNC POINT channel head: our own index as the previous receiver left
     * it; a message it was reading (not released) is delivered again. */
    ch->head = ipo_atomic_load_acquire(&ch->c->head);
    ch->tail_seen = ch->head; /* the first receive loads the tail */
    ch->receive_loaned = 0;
}

int ipo_channel_claim(ipo_channel_t *ch, unsigned sides)
{
    unsigned want = sides & ~ch->sides;
    int rc;
    if (want & IPO_CHANNEL_SEND) {
        rc = claim_word(ch, &ch->c->sender);
        if (rc)
            return rc;
        rc = start_sending(ch);
        if (rc) {
            unclaim_word(ch, &ch->c->sender);
            return rc;
        }
        ch->sides |= IPO_CHANNEL_SEND;
    }
    if (want & IPO_CHANNEL_RECEIVE) {
        rc = claim_word(ch, &ch->c->receiver);
        if (rc) {
            if (want & IPO_CHANNEL_SEND) {
                unclaim_word(ch, &ch->c->sender);
                ch->sides &= ~(unsigned)IPO_CHANNEL_SEND;
            }
            return rc;
        }
        start_receiving(ch);
        ch->sides |= IPO_CHANNEL_RECEIVE;
    }
    return 0;
}

void ipo_channel_close(ipo_channel_t *ch)
{
    if (!ch->c)
        return;
    if (ch->sides & IPO_CHANNEL_SEND)
        unclaim_word(ch, &ch->c->sender);
    if (ch->sides & IPO_CHANNEL_RECEIVE)
        unclaim_word(ch, &ch->c->receiver);
    memset(ch, 0, sizeof(*ch));
}

/* ---- sending --------------------------------------------------------------- */

static inline uint8_t *slot_at(const ipo_channel_t *ch, uint64_t i)
{
    return ch->slot0 + (i & ch->mask) * ch->stride;
}

/* Room for message ch->tail: 0, or -IPO_ECHANFULL / -IPO_ECORRUPT. */
static inline int send_room(ipo_channel_t *ch)
{
    if (__builtin_expect(!(ch->sides & IPO_CHANNEL_SEND), 0)) {
        int rc = ipo_channel_claim(ch, IPO_CHANNEL_SEND);
        if (rc)
            return rc;
    }
    uint64_t t = ch->tail;
    if (t - ch->head_seen >= ch->slots) {
        /* SYNC POINT channel head: pairs with the receiver's release store
         * in release_head(): its reads of a slot are done before we write
         * into it again. */
        uint64_t h = ipo_atomic_load_acquire(&ch->c->head);
        if (t - h > ch->slots) /* ahead of us, or more than a ring behind */
            return -IPO_ECORRUPT;
        ch->head_seen = h;
        if (t - h == ch->slots)
            return -IPO_ECHANFULL;
    }
    return 0;
}

/* Publishes message ch->tail, len bytes already in its slot. */
static inline void publish(ipo_channel_t *ch, uint64_t len)
{
    uint64_t t = ch->tail;
    /* SYNC POINT slot length: ordered ahead of the tail by the release
     * below; the receiver loads it after its acquire of the tail. */
    ipo_atomic_store_relaxed(&ch->lengths[t & ch->mask], len);
    /* A sender killed here has written the slot and not published it: the
     * message is lost, nothing published is (tests/c/test_channel_crash.c). */
    IPO_CRASH_SITE("channel_send");
    /* SYNC POINT channel tail: pairs with the receiver's acquire load in
     * receive_next(): the slot's bytes and length are seen before it. */
    ipo_atomic_store_release(&ch->c->tail, t + 1);
    ch->tail = t + 1;
}

int ipo_channel_send_loan(ipo_channel_t *ch, void **buf, uint64_t *capacity)
{
    int rc = send_room(ch);
    if (rc)
        return rc;
    *buf = slot_at(ch, ch->tail);
    *capacity = ch->slot_size;
    ch->send_loaned = 1;
    return 0;
}

int ipo_channel_send_commit(ipo_channel_t *ch, uint64_t len)
{
    if (!ch->send_loaned)
        return -IPO_EINVAL;
    if (len > ch->slot_size)
        return -IPO_EMSGSIZE;
    publish(ch, len);
    ch->send_loaned = 0;
    return 0;
}

int ipo_channel_try_send(ipo_channel_t *ch, const void *data, uint64_t len)
{
    if (len > ch->slot_size)
        return -IPO_EMSGSIZE;
    int rc = send_room(ch);
    if (rc)
        return rc;
    memcpy(slot_at(ch, ch->tail), data, len);
    publish(ch, len);
    return 0;
}

/* ---- receiving ------------------------------------------------------------- */

/* The next published message's slot and length, without freeing it. */
static inline int receive_next(ipo_channel_t *ch, const uint8_t **slot, uint64_t *len)
{
    if (__builtin_expect(!(ch->sides & IPO_CHANNEL_RECEIVE), 0)) {
        int rc = ipo_channel_claim(ch, IPO_CHANNEL_RECEIVE);
        if (rc)
            return rc;
    }
    uint64_t h = ch->head;
    if (h == ch->tail_seen) {
        /* SYNC POINT channel tail: pairs with the sender's release store in
         * publish(): the slot's bytes and length are seen. */
        uint64_t t = ipo_atomic_load_acquire(&ch->c->tail);
        if (t - h > ch->slots) /* behind us, or more than a ring ahead */
            return -IPO_ECORRUPT;
        ch->tail_seen = t;
        if (t == h)
            return -IPO_EEMPTY;
    }
    const uint8_t *s = slot_at(ch, h);
    /* SYNC POINT slot length: after the tail's acquire (above, or an
     * earlier one that covered this message). */
    uint64_t n = ipo_atomic_load_relaxed(&ch->lengths[h & ch->mask]);
    if (n > ch->slot_size)
        return -IPO_ECORRUPT;
    *slot = s;
    *len = n;
    return 0;
}

int ipo_channel_receive_peek(ipo_channel_t *ch, const void **data, uint64_t *len)
{
    const uint8_t *s;
    int rc = receive_next(ch, &s, len);
    if (rc)
        return rc;
    *data = s;
    ch->receive_loaned = 1;
    return 0;
}

/* Frees the slot of message ch->head. */
static inline void release_head(ipo_channel_t *ch)
{
    /* SYNC POINT channel head: pairs with the sender's acquire load in
     * send_room(): our reads of the slot are done before the sender may
     * write it again. */
    ipo_atomic_store_release(&ch->c->head, ch->head + 1);
    ch->head++;
}

int ipo_channel_receive_release(ipo_channel_t *ch)
{
    if (!ch->receive_loaned)
        return -IPO_EINVAL;
    release_head(ch);
    ch->receive_loaned = 0;
    return 0;
}

int ipo_channel_try_receive(ipo_channel_t *ch, void *buf, uint64_t capacity, uint64_t *len)
{
    const uint8_t *s;
    int rc = receive_next(ch, &s, len);
    if (rc)
        return rc;
    if (*len > capacity)
        return -IPO_EMSGSIZE;
    memcpy(buf, s, *len);
    release_head(ch);
    return 0;
}

uint64_t ipo_channel_pending(const ipo_channel_t *ch)
{
    /* SYNC POINT channel tail and head: a statistic; no order needed. */
    uint64_t h = ipo_atomic_load_relaxed(&ch->c->head);
    uint64_t t = ipo_atomic_load_relaxed(&ch->c->tail);
    return t - h > ch->slots ? ch->slots : t - h;
}

/* ---- check ----------------------------------------------------------------- */

#define FAIL(...)                                   \
    do {                                            \
        if (why)                                    \
            snprintf(why, why_len, __VA_ARGS__);    \
        return -IPO_ECORRUPT;                       \
    } while (0)

int ipo_channel_check(const ipo_region_t *r, char *why, size_t why_len)
{
    /* SYNC POINT header channels: under access (or a quiet region). */
    ipo_off_t dir_off = ipo_atomic_load_relaxed(&r->hdr->channels);
    if (!dir_off)
        return 0;
    const ipo_channel_dir_t *d = dir_at(r, dir_off);
    if (!d)
        FAIL("the channel directory at offset %llu is not a live directory block",
             (unsigned long long)dir_off);
    for (uint64_t i = 0; i < d->count; i++) {
        const ipo_channel_entry_t *e = &d->entries[i];
        if (!entry_name_ok(e))
            FAIL("channel entry %llu has no terminated name", (unsigned long long)i);
        for (uint64_t j = 0; j < i; j++)
            if (strncmp(d->entries[j].name, e->name, sizeof(e->name)) == 0)
                FAIL("two channels are named '%s'", e->name);
        const ipo_chan_t *c = chan_at(r, e->chan);
        if (!c)
            FAIL("channel '%s' at offset %llu is not a live channel block of its sizes", e->name,
                 (unsigned long long)e->chan);
        /* SYNC POINT channel indices and claims: a check's snapshot; the
         * sides may move them meanwhile, within the bound checked. */
        uint64_t h = ipo_atomic_load_relaxed(&c->head), t = ipo_atomic_load_relaxed(&c->tail);
        if (t - h > c->slots)
            FAIL("channel '%s' has head %llu and tail %llu for %u slots", e->name,
                 (unsigned long long)h, (unsigned long long)t, c->slots);
        uint64_t claims[2] = { ipo_atomic_load_relaxed(&c->sender),
                               ipo_atomic_load_relaxed(&c->receiver) };
        for (int k = 0; k < 2; k++) {
            uint64_t s = claims[k] & IPO_CHANNEL_CLAIM_SLOT_MASK;
            if (claims[k] && (s == 0 || s > r->slot_count))
                FAIL("channel '%s''s %s claim names participant slot %llu of %u", e->name,
                     k ? "receiver" : "sender", (unsigned long long)s, r->slot_count);
        }
    }
    return 0;
}

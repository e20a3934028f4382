/* core/src/pins.c — pins, and the log of them each participant keeps so that a death does not keep them. */
#include <string.h>

#include "crash_point.h"
#include "internal.h"
#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "ipo/format.h"
#include "ipo/recover.h"
#include "ipo/region.h"

/* Why a log: an object's pins are one shared count, which says how many
 * buffers show it but not whose they are. A process killed with buffers
 * alive would keep its pins for good, and the object could never be
 * destroyed. So each participant also writes what it pins in a log its
 * slot names (slot->pin_log): a chain of BYTES objects, each a `next`
 * offset and then entries, an entry being the offset of a pinned object,
 * or 0 when free. Only the slot's occupant writes entries; once it is
 * dead, whoever holds the slot (a new occupant, or a holder of access
 * that took the slot's lock for the purpose) drops the pins its entries
 * name and clears them.
 *
 * A pin counts first and logs after; an unpin clears its entry first and
 * counts after. A kill between the two leaves the count one too high (that
 * pin stays, as before the log), never too low: a count too low would let
 * a live buffer's object be freed. */

#define FIRST_ENTRIES 31u  /* with the `next` word, a 256-byte payload */
#define MAX_CHUNKS    40u  /* each twice the last: far past 2^32 pins */

/* A chunk's words (next, then entries) and its number of entries, or NULL
 * when the offset names no log chunk. Chunks are read by their slot's
 * holder, which is the only one to free them (see the file comment), so
 * the block cannot go while it is read. */
static uint64_t *chunk_at(const ipo_region_t *r, ipo_off_t chunk, uint64_t *entries)
{
    const ipo_obj_t *o;
    if (!chunk || ipo_obj_get(r, chunk, &o) || o->type != IPO_T_BYTES || o->v.len < 16 ||
        o->v.len % 8)
        return NULL;
    *entries = o->v.len / 8 - 1;
    return (uint64_t *)ipo_obj_data(o);
}

/* A new chunk of n entries, all free, at the end of the chain (after
 * `last`, or as the slot's first). */
static int grow(ipo_region_t *r, ipo_off_t last, uint64_t *last_words, uint64_t n, ipo_off_t *out)
{
    void *data;
    int rc = ipo_obj_new(r, IPO_T_BYTES, (n + 1) * 8, out, &data);
    if (rc)
        return rc;
    memset(data, 0, (size_t)(n + 1) * 8);
    /* SYNC POINT pin log link: pairs with the acquire loads of the chain
     * in ipo__pins_drop(): whoever follows the link sees the zeroed chunk. */
    IPO_CRASH_POINT();
    if (last)
        ipo_atomic_store_release(&last_words[0], (uint64_t)*out);
    else
        ipo_atomic_store_release(&r->me->pin_log, (uint64_t)*out);
    return 0;
}

/* A free entry of this participant's log, looked for from where the last
 * pin stopped (pins are made under access, by one thread of the process at
 * a time); the log grows when every entry is taken. */
static int free_entry(ipo_region_t *r, uint64_t **entry)
{
    ipo_off_t first = ipo_atomic_load_relaxed(&r->me->pin_log);
    ipo_off_t chunk = r->pin_hint_chunk ? r->pin_hint_chunk : first;
    uint64_t at = r->pin_hint_chunk ? r->pin_hint_index : 0;
    ipo_off_t last = 0;
    uint64_t *last_words = NULL, last_n = 0;
    /* From the hint to the end of the chain, then from its start. */
    for (int pass = 0; pass < 2 && first; pass++) {
        unsigned chunks = 0;
        for (ipo_off_t c = chunk; c && chunks < MAX_CHUNKS; chunks++) {
            uint64_t n, *w = chunk_at(r, c, &n);
            if (!w)
                return -IPO_ECORRUPT;
            for (uint64_t i = at; i < n; i++) {
                if (!ipo_atomic_load_relaxed(&w[1 + i])) {
                    r->pin_hint_chunk = c;
                    r->pin_hint_index = i + 1;
                    *entry = &w[1 + i];
                    return 0;
                }
            }
            at = 0;
            last = c;
            last_words = w;
            last_n = n;
            c = ipo_atomic_load_relaxed(&w[0]);
        }
        chunk = first;
    }
    /* A chain longer than any log grows (a damaged or cyclic one): never
     * link past a link that names more. */
    if (last && ipo_atomic_load_relaxed(&last_words[0]))
        return -IPO_ECORRUPT;
    if (last && last_n >= (UINT64_MAX >> 4))
        return -IPO_EOVERFLOW;
    ipo_off_t fresh;
    int rc = grow(r, last, last_words, last ? 2 * last_n + 1 : FIRST_ENTRIES, &fresh);
    if (rc)
        return rc;
    uint64_t n;
    uint64_t *w = chunk_at(r, fresh, &n);
    r->pin_hint_chunk = fresh;
    r->pin_hint_index = 1;
    *entry = &w[1];
    return 0;
}

int ipo_obj_pin(ipo_region_t *r, ipo_off_t off, ipo_off_t *pin)
{
    const ipo_obj_t *obj;
    *pin = 0;
    if (ipo_obj_get(r, off, &obj))
        return -IPO_EBADOBJ;
    uint16_t *pins = &((ipo_obj_t *)obj)->pins;
    /* Pins are only added under access, so this read cannot race another
     * add; unpins (without access) only lower the count meanwhile. */
    if (ipo_atomic_load_relaxed(pins) == UINT16_MAX)
        return -IPO_EOVERFLOW;
    uint64_t *entry = NULL;
    if (r->me && r->fd >= 0) {
        /* Only a region in a file has participants that can die apart
         * from this one (a region in process memory dies with it). */
        int rc = free_entry(r, &entry);
        if (rc)
            return rc;
    }
    /* Relaxed: whoever acts on pins (tree_pinned(), destroy_values(),
     * ipo__obj_release()) holds access too, which orders this add before
     * its load. */
    IPO_CRASH_POINT();
    ipo_atomic_fetch_add_relaxed(pins, (uint16_t)1);
    /* The count before the entry, for a kill (no other thread reads the
     * entry): the compiler must not move the entry's store ahead. */
    ipo_compiler_order();
    if (entry) {
        /* SYNC POINT pin log entry: relaxed; read by this process's unpin,
         * or by ipo__pins_drop() once this process is dead (its lock's
         * release by the kernel orders it). */
        IPO_CRASH_POINT();
        ipo_atomic_store_relaxed(entry, (uint64_t)off);
        *pin = (ipo_off_t)((uint8_t *)entry - r->base);
        /* Process-local: counts this handle's entries, for trimming. */
        ipo_atomic_fetch_add_relaxed(&r->pins_held, UINT64_C(1));
    }
    return 0;
}

void ipo_obj_unpin(ipo_region_t *r, ipo_off_t off, ipo_off_t pin)
{
    /* A handle that left with buffers alive gave its log up (its entries
     * cleared, the pins kept: ipo__pins_abandon()); the entry may be a new
     * occupant's now, so only the count goes down. */
    if (pin && !r->pins_abandoned) {
        if (pin >= r->size - 8 || pin % 8)
            return; /* not a pin this handle gave out: leave the count */
        uint64_t *entry = (uint64_t *)(r->base + pin), expected = off;
        /* SYNC POINT pin log entry: the entry is this process's; the swap
         * only refuses an entry that does not name the object (a damaged
         * log), whose count is then left alone. */
        IPO_CRASH_POINT();
        if (!ipo_atomic_cas_release(entry, &expected, UINT64_C(0)))
            return;
        /* Process-local; release: pairs with the acquire load in
         * ipo__pins_trim(), which frees the log only after every cleared
         * entry's swap. */
        ipo_atomic_fetch_sub_release(&r->pins_held, UINT64_C(1));
        /* The entry cleared before the count goes down, for a kill. */
        ipo_compiler_order();
    }
    /* Without access: buffers go whenever their last user lets go.
     * SYNC POINT object pins: pairs with the acquire loads of pins in
     * tree_pinned(), destroy_values() and ipo__obj_release(), so the
     * buffer's last reads and writes of the payload come before anything a
     * destroyer then writes over the freed block. */
    IPO_CRASH_POINT();
    ipo_atomic_fetch_sub_release(&((ipo_obj_t *)(r->base + off))->pins, (uint16_t)1);
}

/* Clears every entry of slot s's log; with count_down, takes each entry's
 * pin from its object's count (never below zero), and with free_chunks
 * (the caller holds access) frees the log too. The pins counted down. */
static uint64_t clear_log(ipo_region_t *r, ipo_slot_t *s, int count_down, int free_chunks)
{
    uint64_t dropped = 0;
    /* SYNC POINT pin log link: pairs with the release stores in grow(). */
    ipo_off_t c = ipo_atomic_load_acquire(&s->pin_log);
    if (free_chunks) {
        IPO_CRASH_POINT();
        ipo_atomic_store_relaxed(&s->pin_log, UINT64_C(0));
    }
    for (unsigned chunks = 0; c && chunks < MAX_CHUNKS; chunks++) {
        uint64_t n, *w = chunk_at(r, c, &n);
        if (!w)
            break; /* a damaged link: what it named stays pinned */
        for (uint64_t i = 0; i < n; i++) {
            ipo_off_t off = ipo_atomic_load_relaxed(&w[1 + i]);
            if (!off)
                continue;
            /* Cleared first: a drop cut short by a kill leaves the count
             * one too high, never counts a pin down twice. */
            IPO_CRASH_POINT();
            ipo_atomic_store_relaxed(&w[1 + i], UINT64_C(0));
            ipo_compiler_order(); /* as in ipo_obj_unpin() */
            const ipo_obj_t *obj;
            if (!count_down || ipo_obj_get(r, off, &obj))
                continue;
            uint16_t *pins = &((ipo_obj_t *)obj)->pins;
            uint16_t now = ipo_atomic_load_relaxed(pins);
            /* Never below zero: another process's pins are not ours to drop. */
            while (now && !ipo_atomic_cas_release(pins, &now, (uint16_t)(now - 1)))
                ;
            dropped += now != 0;
        }
        /* SYNC POINT pin log link: as above. */
        ipo_off_t next = ipo_atomic_load_acquire(&w[0]);
        if (free_chunks)
            ipo__obj_free_block(r, c);
        c = next;
    }
    return dropped;
}

uint64_t ipo__pins_drop(ipo_region_t *r, ipo_slot_t *s, int free_chunks)
{
    return clear_log(r, s, 1, free_chunks);
}

void ipo__pins_abandon(ipo_region_t *r)
{
    if (!r->me || !ipo_atomic_load_relaxed(&r->pins_held))
        return;
    /* Its buffers outlive the slot, which the next occupant (or a holder
     * dropping dead participants' pins) will treat as a dead one's: clear
     * the entries so that nobody counts these pins down, and keep the pins
     * themselves, which the buffers' unpins drop (the count only: see
     * ipo_obj_unpin()). A process that dies before then leaves them, as it
     * would have before there was a log. */
    clear_log(r, r->me, 0, 0);
    r->pins_abandoned = 1;
}

void ipo__pins_trim(ipo_region_t *r)
{
    /* A participant that pinned once and let go keeps no log: what it
     * freed comes back whole (the log is made again at its next pin). Its
     * own log, under access, with no entry in use, so no unpin of this
     * process can touch it any more. */
    if (!r->me || !ipo_atomic_load_relaxed(&r->me->pin_log) ||
        ipo_atomic_load_acquire(&r->pins_held))
        return;
    ipo__pins_drop(r, r->me, 1);
    r->pin_hint_chunk = 0;
}

uint64_t ipo_region_drop_dead_pins(ipo_region_t *r)
{
    if (!r->hdr || r->fd < 0)
        return 0;
    uint64_t dropped = 0;
    /* From 1: the creator's lock held even for a moment would tell
     * attachers that it lives, and a dead creator's region is gone. */
    for (uint32_t i = 1; i < r->slot_count; i++) {
        ipo_slot_t *s = r->slots + i;
        if (s == r->me || !ipo_atomic_load_relaxed(&s->pin_log))
            continue;
        /* The slot's lock makes us its holder while we drop: no attacher
         * can claim it meanwhile (and one that had claimed it drops the
         * dead occupant's pins itself, on its way in). */
        if (ipo__slot_trylock(r->fd, i))
            continue;
        dropped += ipo__pins_drop(r, s, 1);
        ipo__slot_unlock(r->fd, i);
    }
    return dropped;
}

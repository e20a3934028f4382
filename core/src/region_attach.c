/* core/src/region_attach.c — attaching to a region by name: owner, mode and header checked, a free slot won. */
#define _GNU_SOURCE
#include "ipo/region.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "ipo/access.h"
#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "region_internal.h"

/* Hidden files of dead creators are swept by attaches too, not only by
 * creations, but at most this often per process: a scan of /dev/shm costs
 * 5 us empty and 20 us with 100 files, and a consumer waiting for its
 * region attaches every few milliseconds. */
#define SWEEP_INTERVAL_NS (INT64_C(1000) * 1000 * 1000)

static void sweep_creations_now_and_then(void)
{
    /* Process-wide; relaxed: two threads that both sweep do no harm. */
    static int64_t next_sweep_ns;
    int64_t now = ipo_now_ns();
    if (now < ipo_atomic_load_relaxed(&next_sweep_ns))
        return;
    ipo_atomic_store_relaxed(&next_sweep_ns, now + SWEEP_INTERVAL_NS);
    ipo__sweep_creations(0, NULL, NULL);
}

/* Whether the file's owner and mode let this process attach. Another
 * user's region, or one other users may write (group or other write bits),
 * could be rewritten under us at any moment: refused unless the caller
 * trusts the others who can write it. The mode must also be the one the
 * caller expects, unless it trusts whatever the creator chose. */
static int attach_permitted(const struct stat *st, uint32_t mode, int trust_others)
{
    if (trust_others)
        return 1;
    return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH)) &&
           (uint32_t)(st->st_mode & 07777) == mode;
}

/* The creator's liveness lock is free. A creator that closes its region
 * unlinks the name before it lets go of the lock, so if the name no longer
 * names this file the region was closed, and a new one may come under the
 * name: -IPO_ENOENT, on which the caller keeps waiting. Else its creator
 * died without closing: the region is gone for consumers (the original
 * package's meaning: the creator owns it), and removed if nobody is left in
 * it: -IPO_ECREATORGONE. */
static int creator_gone_at_attach(const char *shm_name, int fd)
{
    char path[SHM_PATH_MAX];
    struct stat held, named;
    snprintf(path, sizeof(path), SHM_DIR "%s", shm_name);
    if (fstat(fd, &held) < 0 || stat(path, &named) < 0 || held.st_ino != named.st_ino ||
        held.st_dev != named.st_dev)
        return -IPO_ENOENT;
    /* Another user's region (attached with trust) is never removed, but its
     * creator's death is reported all the same. */
    if (held.st_uid == geteuid())
        ipo__remove_if_nobody(shm_name, fd, 1, 0);
    return -IPO_ECREATORGONE;
}

int ipo_region_attach(ipo_region_t *r, const char *name, const ipo_region_options_t *opts)
{
    ipo__region_reset(r);
    int rc = ipo_region_name_check(name);
    if (rc)
        return rc;
    uint32_t mode = opts && opts->mode ? opts->mode : 0600;
    ipo__region_set_name(r, name);
    sweep_creations_now_and_then();

    r->fork_gen = ipo__fork_generation();
    int fd = shm_open(r->shm_name, O_RDWR, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return -IPO_ENOENT;
        if (errno == EACCES)
            return -IPO_EPERM;
        return -IPO_ESYS;
    }
    ipo__registry_add(r, fd);
    void *mem = NULL;
    uint64_t size = 0;
    int err = 0;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        err = errno;
        rc = -IPO_ESYS;
        goto fail;
    }
    int trust_others = opts && opts->trust_others;
    /* Owner first: never trust the contents of someone else's object
     * (unless told to). */
    if (st.st_uid != geteuid() && !trust_others) {
        rc = -IPO_EPERM;
        goto fail;
    }
    size = (uint64_t)st.st_size;
    if (size < sizeof(ipo_header_t)) {
        rc = -IPO_EAGAIN; /* created but not sized yet */
        goto fail;
    }
    rc = ipo__region_map(fd, size, 0, &mem);
    if (rc) {
        err = errno;
        goto fail;
    }
    const ipo_header_t *hdr = mem;
    /* SYNC POINT region magic: pairs with the store-release of magic in
     * ipo__region_format_memory(). Once it is seen, every identity field is (they are
     * written once, before it, so they are read plainly below), and the
     * creator's fchmod is done (a region only gets its name when ready;
     * this guards hand-made objects). */
    uint64_t magic = ipo_atomic_load_acquire(&hdr->magic);
    if (magic == 0) {
        rc = -IPO_EAGAIN; /* sized but not formatted yet */
        goto fail;
    }
    if (fstat(fd, &st) < 0) {
        err = errno;
        rc = -IPO_ESYS;
        goto fail;
    }
    if (!attach_permitted(&st, mode, trust_others)) {
        rc = -IPO_EPERM;
        goto fail;
    }
    if (magic != IPO_MAGIC || hdr->owner_uid != (uint32_t)st.st_uid) {
        rc = -IPO_ELAYOUT;
        goto fail;
    }
    /* A region whose creator is gone is gone: never join it. Its state may
     * say anything (a creator killed while closing left CLOSING). */
    if (!ipo__liveness_held(fd, 0, 1)) {
        rc = creator_gone_at_attach(r->shm_name, fd);
        goto fail;
    }
    /* SYNC POINT region ready: pairs with the store-release of READY in
     * ipo_region_create(); everything the creator formatted is visible. */
    uint32_t state = ipo_atomic_load_acquire(&hdr->state);
    if (state == IPO_STATE_INIT) {
        rc = -IPO_EAGAIN;
        goto fail;
    }
    /* Nothing the header points to is followed before it is checked. */
    rc = ipo__region_header_usable(hdr, size);
    if (rc)
        goto fail;
    if (state != IPO_STATE_READY) {
        if (state == IPO_STATE_CLOSING) {
            rc = -IPO_ECLOSING;
        } else {
            snprintf(ipo__corrupt_reason, sizeof(ipo__corrupt_reason),
                     "the region's state %u is none of its states", state);
            rc = -IPO_ECORRUPT;
        }
        goto fail;
    }
    ipo__region_bind(r, mem, size);
    /* Any free consumer slot, or the one asked for (the original package's
     * consumer_id), which nobody else may hold. */
    uint32_t first = 1, end = r->slot_count;
    rc = -IPO_EFULL;
    if (opts && opts->consumer_slot) {
        if (opts->consumer_slot >= r->slot_count) {
            rc = -IPO_EINVAL;
            goto fail;
        }
        first = opts->consumer_slot;
        end = first + 1;
        rc = -IPO_ETAKEN;
    }
    for (uint32_t i = first; i < end; i++) {
        /* A slot the access word names is not looked at, not even locked
         * for a moment: its occupant died holding access, and a waiter's
         * takeover (core/src/recover.c) tests its lock to tell that it is
         * dead. Relaxed: a hint; the look after locking decides. */
        if ((ipo_atomic_load_relaxed(&r->hdr->access) & IPO_ACCESS_SLOT_MASK) == (uint64_t)i + 1)
            continue;
        /* Winning the lock is winning the slot: whoever held it before us
         * has left or died, whatever its state field still says. */
        if (ipo__slot_trylock(fd, i) < 0)
            continue;
        /* A predecessor rung for access and gone: releasers must not hand
         * its turn to us. Before the look at the word below, which then
         * sees any handoff made to the predecessor (ipo__line_forget). */
        ipo__line_forget(r, i);
        /* A predecessor that died holding access left its slot number in the
         * access word; taking the slot would make us the holder without ever
         * acquiring; so did one that died after a releaser handed it the
         * turn (IPO_ACCESS_HANDED with its slot). Leave that slot to crash
         * recovery. Relaxed: only the
         * owner field is compared, and nobody but this slot's occupant (now
         * us, by the lock) can write our slot number into it. */
        if ((ipo_atomic_load_relaxed(&r->hdr->access) & IPO_ACCESS_SLOT_MASK) == (uint64_t)i + 1) {
            ipo__slot_unlock(fd, i);
            continue;
        }
        ipo__occupy_slot(r, i, IPO_ROLE_CONSUMER);
        rc = 0;
        break;
    }
    if (rc)
        goto fail;
    r->inode = (uint64_t)st.st_ino;
    if (opts && opts->prefault) {
#ifdef MADV_POPULATE_WRITE
        madvise(mem, size, MADV_POPULATE_WRITE);
#endif
    }
    /* SYNC POINT attach count: pairs with the acquire load of attach_count
     * in Region_wait_consumer_ready() (python/src/region_type.c), so a
     * creator that sees the count sees this consumer's slot filled. Release
     * is all it needs: nothing is read through the old count. */
    if (!(opts && opts->tool))
        ipo_atomic_fetch_add_release(&r->hdr->attach_count, UINT64_C(1));
    else
        /* Not a consumer, but a participant all the same: the others' death
         * watches must take it in (a tool killed in its turn is a dead
         * holder). SYNC POINT attach count: as attach_count, paired with
         * the acquire load in ipo_deathwatch_sync(). */
        ipo_atomic_fetch_add_release(&r->hdr->tool_attaches, 1u);
    return 0;

fail:
    ipo__registry_remove(r);
    if (mem)
        munmap(mem, size);
    close(fd);
    ipo__region_reset(r);
    errno = err;
    return rc;
}

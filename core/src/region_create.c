/* core/src/region_create.c — creating a region: formatted under a hidden name, then linked into place. */
#define _GNU_SOURCE
#include "ipo/region.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "region_internal.h"

#define CREATING_PREFIX IPO__CREATING_PREFIX

int ipo_region_create(ipo_region_t *r, const char *name, const ipo_region_options_t *opts)
{
    ipo__region_reset(r);
    int rc = ipo_region_name_check(name);
    if (rc)
        return rc;
    if (!opts || opts->size == 0 || opts->size > IPO_REGION_MAX_SIZE)
        return -IPO_EINVAL;
    uint32_t mode = opts->mode ? opts->mode : 0600;
    if ((mode & ~0777u) || (mode & 0600) != 0600)
        return -IPO_EINVAL;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t size = opts->size < IPO_REGION_MIN_SIZE ? IPO_REGION_MIN_SIZE : opts->size;
    size = round_up(size, page);
    layout_plan_t plan;
    rc = ipo__region_plan(opts, size, &plan);
    if (rc)
        return rc;
    ipo__region_set_name(r, name);
    r->fork_gen = ipo__fork_generation();
    ipo__sweep_creations(0, NULL, NULL);

    /* Build the region under a hidden name of its own, then link it into
     * place once it is ready. */
    char tmp_name[64];
    /* Process-local, shared by threads creating at once: relaxed, since only
     * the numbers' distinctness matters. */
    static unsigned counter;
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 8; attempt++) {
        unsigned salt;
        if (getrandom(&salt, sizeof(salt), GRND_NONBLOCK) != (ssize_t)sizeof(salt))
            salt = (unsigned)ipo__process_start_time(getpid()) ^ (unsigned)attempt;
        snprintf(tmp_name, sizeof(tmp_name), "/" CREATING_PREFIX "%ld-%u-%08x", (long)getpid(),
                 ipo_atomic_fetch_add_relaxed(&counter, 1u) + 1u, salt);
        fd = shm_open(tmp_name, O_RDWR | O_CREAT | O_EXCL, mode);
        if (fd < 0 && errno != EEXIST)
            return -IPO_ESYS;
    }
    if (fd < 0)
        return -IPO_ESYS;
    ipo__registry_add(r, fd);

    void *mem = NULL;
    int err;
    if (ipo__slot_trylock(fd, 0) < 0 || fchmod(fd, mode) < 0 || ftruncate(fd, (off_t)size) < 0) {
        err = errno;
        rc = -IPO_ESYS;
        goto fail;
    }
    /* Reserve every page now: tmpfs would otherwise allocate on first touch,
     * and a full /dev/shm would then be a SIGBUS in the middle of a put. */
    err = posix_fallocate(fd, 0, (off_t)size);
    if (err == ENOSPC || err == EFBIG || err == ENOMEM) {
        rc = -IPO_ENOSPC;
        goto fail;
    } else if (err && err != EOPNOTSUPP && err != EINVAL) {
        rc = -IPO_ESYS;
        goto fail;
    }
    rc = ipo__region_map(fd, size, opts->prefault, &mem);
    if (rc) {
        err = errno;
        goto fail;
    }
    rc = ipo__region_format_memory(mem, &plan, mode);
    struct stat st;
    if (rc || fstat(fd, &st) < 0) {
        err = rc ? 0 : errno;
        rc = rc ? rc : -IPO_ESYS;
        goto fail;
    }
    r->inode = (uint64_t)st.st_ino;
    r->is_creator = 1;
    ipo__region_bind(r, mem, size);
    ipo__occupy_slot(r, 0, IPO_ROLE_CREATOR);
    /* READY before the name. SYNC POINT region ready: pairs with the
     * acquire load of state in ipo_region_attach(), so whoever finds the
     * name finds the region whole, slot 0 taken. */
    ipo_atomic_store_release(&r->hdr->state, (uint32_t)IPO_STATE_READY);
    rc = ipo__region_publish_name(tmp_name, r->shm_name, opts->keep_stale);
    if (rc) {
        err = errno;
        r->joined = 0;
        goto fail;
    }
    shm_unlink(tmp_name);
    return 0;

fail:
    ipo__registry_remove(r);
    if (mem)
        munmap(mem, size);
    shm_unlink(tmp_name);
    close(fd);
    ipo__region_reset(r);
    errno = err;
    return rc;
}

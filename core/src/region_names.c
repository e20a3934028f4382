/* core/src/region_names.c — a region's name: published once the region is whole, unlinked only when ours and dead. */
#define _GNU_SOURCE
#include "ipo/region.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "ipo/errors.h"
#include "ipo/layout.h"
#include "region_internal.h"

/* Whether the name still names the object open at fd, and that object is
 * this user's: nothing of another user's is ever removed. */
static int names_own(const char *shm_name, int fd)
{
    char path[SHM_PATH_MAX];
    struct stat held, named;
    snprintf(path, sizeof(path), SHM_DIR "%s", shm_name);
    return fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_ino == named.st_ino &&
           held.st_dev == named.st_dev && held.st_uid == geteuid();
}

/* Unlinks the name if it still names the object open at fd. The caller holds
 * flock(fd) so that two processes cleaning the same stale name cannot unlink
 * a region a third has just created in its place. */
void ipo__region_unlink_if_same(const char *shm_name, int fd)
{
    if (names_own(shm_name, fd))
        shm_unlink(shm_name);
}

int ipo__remove_if_nobody(const char *shm_name, int fd, int wait, int dry_run)
{
    if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0)
        return 0;
    /* Any participant alive, of any layout version, keeps the region. */
    int removed = !ipo__liveness_held(fd, 0, IPO_MAX_SLOTS) && names_own(shm_name, fd);
    if (removed && !dry_run)
        shm_unlink(shm_name);
    flock(fd, LOCK_UN);
    return removed;
}

/* Closes fd without touching errno: a -IPO_ESYS caller reads the failed
 * call's errno afterwards, not close's. */
static void close_keeping_errno(int fd)
{
    int err = errno;
    close(fd);
    errno = err;
}

/* The name exists. Remove it if it is one of our regions whose creator is
 * gone (dead, or closing it this moment): 0 (retry creating), -IPO_EEXIST,
 * or -IPO_ESYS when a system call failed (never reported as "taken": that
 * would send the caller after the wrong cause). A region whose creator is
 * gone is gone for its consumers too (their next wait says so), so a
 * creator restarted under the name does not wait for them to notice. A
 * region appears under its name only once formatted (see
 * ipo_region_create), with its creator's lock taken, so an object without
 * our magic is never one of ours. */
static int remove_if_stale(const char *shm_name)
{
    int fd = shm_open(shm_name, O_RDWR, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        /* Another user's object, which we may not even open, is taken. */
        return errno == EACCES ? -IPO_EEXIST : -IPO_ESYS;
    }
    int rc = -IPO_ESYS;
    struct stat st;
    if (fstat(fd, &st) < 0)
        goto out;
    rc = -IPO_EEXIST;
    if (st.st_uid != geteuid())
        goto out;
    uint64_t magic = 0;
    if ((uint64_t)st.st_size < sizeof(ipo_header_t) ||
        pread(fd, &magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) || magic != IPO_MAGIC)
        goto out;
    if (flock(fd, LOCK_EX) < 0) {
        rc = -IPO_ESYS;
        goto out;
    }
    /* A live creator, of any layout version, keeps the region. */
    if (!ipo__liveness_held(fd, 0, 1)) {
        ipo__region_unlink_if_same(shm_name, fd);
        rc = 0;
    }
    flock(fd, LOCK_UN);
out:
    close_keeping_errno(fd);
    return rc;
}

/* Gives the formatted region at fd its name: link(2) fails on an existing
 * name atomically, so nobody ever sees the name on a half-made region. */
int ipo__region_publish_name(const char *tmp_name, const char *shm_name, int keep_stale)
{
    char from[SHM_PATH_MAX], to[SHM_PATH_MAX];
    snprintf(from, sizeof(from), SHM_DIR "%s", tmp_name);
    snprintf(to, sizeof(to), SHM_DIR "%s", shm_name);
    for (int attempt = 0; attempt < 3; attempt++) {
        if (link(from, to) == 0)
            return 0;
        if (errno != EEXIST)
            return -IPO_ESYS;
        if (keep_stale)
            return -IPO_EEXIST;
        int rc = remove_if_stale(shm_name);
        if (rc)
            return rc;
    }
    return -IPO_EEXIST;
}

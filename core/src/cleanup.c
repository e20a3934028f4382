/* core/src/cleanup.c — finding and removing what dead processes left in /dev/shm. */
#define _GNU_SOURCE
#include "ipo/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipo/errors.h"
#include "ipo/layout.h"
#include "internal.h"

/* A name in /dev/shm, as shm_open and shm_unlink take it: "/name". */
typedef struct shm_name {
    char text[NAME_MAX + 2];
} shm_name_t;

static shm_name_t shm_name_of(const char *file)
{
    shm_name_t n;
    snprintf(n.text, sizeof(n.text), "/%s", file);
    return n;
}

static void tell(ipo_leftover_fn report, void *ctx, int kind, const char *file)
{
    char path[sizeof(IPO__SHM_DIR) + NAME_MAX + 2];
    if (!report)
        return;
    snprintf(path, sizeof(path), IPO__SHM_DIR "/%s", file);
    report(ctx, kind, path);
}

/* Opens a file of /dev/shm that may be one of this user's: a regular file
 * owned by this uid (whatever our privileges, another user's files are
 * never ours to remove). -1 otherwise. Non-blocking and without following
 * links: a FIFO or a link someone planted there must not stall or redirect
 * the sweep. */
static int open_own(const shm_name_t *name, struct stat *st)
{
    int fd = shm_open(name->text, O_RDWR | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_uid != geteuid()) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- half-made regions ----------------------------------------------------- */

/* A creation's pid, from its hidden name; 0 when the name is not one. */
static long creating_pid(const char *file)
{
    const size_t prefix = sizeof(IPO__CREATING_PREFIX) - 1;
    if (strncmp(file, IPO__CREATING_PREFIX, prefix))
        return 0;
    char *end;
    long pid = strtol(file + prefix, &end, 10);
    return pid > 0 && *end == '-' ? pid : 0;
}

/* Whether the creation in the hidden file `file` was abandoned, and if so
 * removes it (unless dry_run). The pid comes first: between its shm_open
 * and taking its liveness lock, a live creator's file is unlocked, and
 * only its pid tells it is alive then. A reused pid keeps a dead creator's
 * file until that process ends too; that errs on the safe side. */
static int sweep_one_creation(const char *file, int dry_run)
{
    long pid = creating_pid(file);
    if (!pid || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
        return 0;
    shm_name_t name = shm_name_of(file);
    struct stat st;
    int fd = open_own(&name, &st);
    if (fd < 0)
        return 0;
    int removed = 0;
    /* Non-blocking: a file flocked by someone is being looked at. */
    if (!ipo__liveness_held(fd, 0, 1) && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        struct stat named;
        char path[sizeof(IPO__SHM_DIR) + NAME_MAX + 2];
        snprintf(path, sizeof(path), IPO__SHM_DIR "/%s", file);
        removed = stat(path, &named) == 0 && named.st_ino == st.st_ino && named.st_dev == st.st_dev;
        if (removed && !dry_run)
            shm_unlink(name.text);
        flock(fd, LOCK_UN);
    }
    close(fd);
    return removed;
}

int ipo__sweep_creations(int dry_run, ipo_leftover_fn report, void *ctx)
{
    DIR *dir = opendir(IPO__SHM_DIR);
    if (!dir)
        return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (creating_pid(e->d_name) && sweep_one_creation(e->d_name, dry_run)) {
            tell(report, ctx, IPO_LEFTOVER_CREATING, e->d_name);
            count++;
        }
    }
    closedir(dir);
    return count;
}

/* ---- regions nobody is left in ------------------------------------------------ */

/* Whether `file` is one of this user's regions whose every participant is
 * dead, and if so removes it (unless dry_run). Only a file that carries
 * our magic is looked at further: a name gets its region only once the
 * region is formatted, its creator's lock taken. */
static int sweep_one_region(const char *file, int dry_run)
{
    shm_name_t name = shm_name_of(file);
    struct stat st;
    int fd = open_own(&name, &st);
    if (fd < 0)
        return 0;
    uint64_t magic = 0;
    int removed = 0;
    if ((uint64_t)st.st_size >= sizeof(ipo_header_t) &&
        pread(fd, &magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) && magic == IPO_MAGIC)
        removed = ipo__remove_if_nobody(name.text, fd, 0, dry_run);
    close(fd);
    return removed;
}

int ipo_cleanup(int dry_run, ipo_leftover_fn report, void *ctx)
{
    int count = ipo__sweep_creations(dry_run, report, ctx);
    DIR *dir = opendir(IPO__SHM_DIR);
    if (!dir)
        return -IPO_ESYS;
    struct dirent *e;
    while ((e = readdir(dir))) {
        /* Creations were swept above; d_type spares opening what is no
         * regular file (".", "..", the doorbell directories). */
        if (creating_pid(e->d_name) || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
            continue;
        if (sweep_one_region(e->d_name, dry_run)) {
            tell(report, ctx, IPO_LEFTOVER_REGION, e->d_name);
            count++;
        }
    }
    closedir(dir);
    return count;
}

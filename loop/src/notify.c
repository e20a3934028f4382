/* loop/src/notify.c — doorbells as named FIFOs in a private per-user directory. */
/* Nothing here reads or writes the region: the pending flag that coalesces
 * rings (slot wake_pending) and the slot generation that names a doorbell
 * are read and written by the wakeup protocol, in handoff.c. */
#define _GNU_SOURCE
#include "ipo/notify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipo/errors.h"

/* The directory must be ours and closed to everyone else: a doorbell another
 * user could open would let them wake us at will, or squat on our names. */
static int private_dir(char *dir, size_t len)
{
    snprintf(dir, len, IPO_DOORBELL_DIR_FMT, (unsigned)geteuid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -IPO_ESYS;
    struct stat st;
    if (lstat(dir, &st) < 0)
        return -IPO_ESYS;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0777) != 0700)
        return -IPO_EPERM;
    return 0;
}

int ipo_notify_path(char *buf, size_t len, uint64_t inode, uint32_t slot, uint32_t generation)
{
    int n = snprintf(buf, len, IPO_DOORBELL_DIR_FMT "/%llx-%u-%u", (unsigned)geteuid(),
                     (unsigned long long)inode, slot, generation);
    return n > 0 && (size_t)n < len ? 0 : -IPO_EINVAL;
}

/* Removes the doorbells of participants that are gone. A live doorbell
 * always has its owner's reading end open, so opening it for writing
 * succeeds; a dead one fails with ENXIO. Names carry the slot's generation,
 * so a name, once dead, is never reused. */
static void sweep_dead(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", and doorbells still being made */
        char path[sizeof(((ipo_doorbell_t *)0)->path)];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
            continue;
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
        else if (errno == ENXIO)
            unlink(path);
    }
    closedir(d);
}

int ipo_notify_open(ipo_doorbell_t *d, uint64_t inode, uint32_t slot, uint32_t generation)
{
    char dir[64], tmp[sizeof(d->path)];
    d->fd = -1;
    int rc = private_dir(dir, sizeof(dir));
    if (rc)
        return rc;
    rc = ipo_notify_path(d->path, sizeof(d->path), inode, slot, generation);
    if (rc)
        return rc;
    sweep_dead(dir);
    /* Made under a hidden name and opened there, then renamed into place:
     * a sweeper never sees it without its reader. */
    snprintf(tmp, sizeof(tmp), "%s/.new-%ld-%llx-%u-%u", dir, (long)getpid(),
             (unsigned long long)inode, slot, generation);
    unlink(tmp);
    if (mkfifo(tmp, 0600) < 0)
        return -IPO_ESYS;
    /* Read and write: opening never blocks, and the FIFO always has a
     * writer, so reads say "empty" (EAGAIN), never end-of-file. */
    d->fd = open(tmp, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (d->fd < 0 || rename(tmp, d->path) < 0) {
        int err = errno;
        if (d->fd >= 0)
            close(d->fd);
        d->fd = -1;
        unlink(tmp);
        errno = err;
        return -IPO_ESYS;
    }
    return 0;
}

void ipo_notify_drain(ipo_doorbell_t *d)
{
    char buf[64];
    while (read(d->fd, buf, sizeof(buf)) > 0)
        ;
}

void ipo_notify_close(ipo_doorbell_t *d)
{
    if (d->fd >= 0) {
        unlink(d->path);
        close(d->fd);
        d->fd = -1;
    }
}

int ipo_notify_open_peer(uint64_t inode, uint32_t slot, uint32_t generation)
{
    char path[128];
    if (ipo_notify_path(path, sizeof(path), inode, slot, generation))
        return -1;
    /* Non-blocking write end: fails with ENXIO when nobody reads it. */
    return open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
}

int ipo_notify_ring(int peer_fd)
{
    /* A reader that died makes write() raise SIGPIPE: keep it from killing
     * a C service whose SIGPIPE is not ignored, and swallow it if pending. */
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    const char one = 1;
    ssize_t n = write(peer_fd, &one, 1);
    int gone = n < 0 && errno == EPIPE;
    if (gone) {
        const struct timespec zero = { 0, 0 };
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* EAGAIN: the pipe is full, so it is rung already. */
    return gone ? -1 : 0;
}

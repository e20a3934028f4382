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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipo/cleanup.h"
#include "ipo/errors.h"

/* The directory must be ours and closed to everyone else: a doorbell another
 * user could open would let them wake us at will, or squat on our names.
 * mkdir's mode passes through the umask, which may take the owner's bits
 * too (umask 0777 makes it 0000): a directory of ours that nobody else
 * may enter is set to 0700 by whoever finds it so, which also serves a
 * process that looks between another's mkdir and its chmod. One that
 * others may enter was not made by us: refused. */
static int private_dir(char *dir, size_t len)
{
    snprintf(dir, len, IPO_DOORBELL_DIR_FMT, (unsigned)geteuid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -IPO_ESYS;
    /* Opened, not looked up twice: the mode is checked and set on the
     * directory itself, never through a link someone put in its place. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOTDIR || errno == ELOOP ? -IPO_EPERM : -IPO_ESYS;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = -IPO_ESYS;
    else if (st.st_uid != geteuid() || (st.st_mode & 077))
        rc = -IPO_EPERM;
    else if ((st.st_mode & 0777) != 0700 && fchmod(fd, 0700) < 0)
        rc = -IPO_ESYS;
    close(fd);
    return rc;
}

int ipo_notify_path(char *buf, size_t len, uint64_t inode, uint32_t slot, uint32_t generation)
{
    int n = snprintf(buf, len, IPO_DOORBELL_DIR_FMT "/%llx-%u-%u", (unsigned)geteuid(),
                     (unsigned long long)inode, slot, generation);
    return n > 0 && (size_t)n < len ? 0 : -IPO_EINVAL;
}

/* Doorbells are made under ".new-<pid>-..." and renamed into place once
 * open; a process killed in between leaves that name. */
#define NEW_PREFIX ".new-"

/* Whether the doorbell `file` of the directory is dead. A live doorbell
 * always has its owner's reading end open, so opening it for writing
 * succeeds; a dead one fails with ENXIO. Names carry the slot's
 * generation, so a name, once dead, is never reused. One still being made
 * is dead once the pid in its name is gone: until then, its maker may be
 * between mkfifo and open. */
static int bell_dead(const char *dir, const char *file)
{
    char path[sizeof(((ipo_doorbell_t *)0)->path)];
    if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
        return 0;
    if (file[0] == '.') {
        if (strncmp(file, NEW_PREFIX, sizeof(NEW_PREFIX) - 1))
            return 0; /* ".", "..": nothing of ours */
        long pid = strtol(file + sizeof(NEW_PREFIX) - 1, NULL, 10);
        return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
    }
    /* Never blocks (O_NONBLOCK), and never follows a link elsewhere. */
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == ENXIO;
}

/* Removes (with dry_run: reports) the dead doorbells of dir. */
static int sweep_dir(const char *dir, int dry_run, ipo_leftover_fn report, void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!bell_dead(dir, e->d_name))
            continue;
        char path[sizeof(((ipo_doorbell_t *)0)->path)];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
            continue;
        if (!dry_run && unlink(path) < 0)
            continue;
        if (report)
            report(ctx, IPO_LEFTOVER_DOORBELL, path);
        count++;
    }
    closedir(d);
    return count;
}

static void sweep_dead(const char *dir)
{
    sweep_dir(dir, 0, NULL, NULL);
}

int ipo_notify_remove_dead(uint64_t inode, uint32_t slot, uint32_t generation)
{
    char dir[64], path[sizeof(((ipo_doorbell_t *)0)->path)];
    snprintf(dir, sizeof(dir), IPO_DOORBELL_DIR_FMT, (unsigned)geteuid());
    if (ipo_notify_path(path, sizeof(path), inode, slot, generation))
        return 0;
    /* The name's file part, as sweep_dir() passes it: checked dead the
     * same way, so a doorbell with a reader is never removed. */
    const char *file = path + strlen(dir) + 1;
    return bell_dead(dir, file) && unlink(path) == 0;
}

int ipo_notify_sweep(int dry_run, ipo_leftover_fn report, void *ctx)
{
    char dir[64];
    snprintf(dir, sizeof(dir), IPO_DOORBELL_DIR_FMT, (unsigned)geteuid());
    /* Only a directory that is ours alone is looked into (and none is made
     * for this). */
    struct stat st;
    if (lstat(dir, &st) < 0)
        return errno == ENOENT ? 0 : -IPO_ESYS;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return -IPO_EPERM;
    return sweep_dir(dir, dry_run, report, ctx);
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
    /* chmod as well: mkfifo's mode passes through the umask, which may take
     * the owner's own bits (the directory is ours alone, so nobody can
     * reach the FIFO in between). */
    if (mkfifo(tmp, 0600) < 0)
        return -IPO_ESYS;
    if (chmod(tmp, 0600) < 0) {
        int err = errno;
        unlink(tmp);
        errno = err;
        return -IPO_ESYS;
    }
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

/* A write to a FIFO whose reader is gone fails with EPIPE and raises
 * SIGPIPE, which by default kills the process: a C service that does not
 * ignore it must not die because a peer did. Where SIGPIPE is ignored
 * (CPython ignores it from startup, and so do most servers) EPIPE comes
 * alone, and the ring is one write. The disposition is asked at each ring,
 * never remembered: a program may set it back to the default at any time
 * (Python's documented cure for BrokenPipeError in command-line tools),
 * and a ring to a dead peer would then kill it. One question costs 0.14 us
 * here, blocking and restoring the mask 0.36 us. */
static int sigpipe_ignored(void)
{
    struct sigaction sa;
    return sigaction(SIGPIPE, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN;
}

int ipo_notify_ring(int peer_fd)
{
    const char one = 1;
    ssize_t n;
    int gone;
    if (sigpipe_ignored()) {
        n = write(peer_fd, &one, 1);
        gone = n < 0 && errno == EPIPE;
    } else {
        /* Keep SIGPIPE from killing us, and swallow it if it came. */
        sigset_t pipe_set, old;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        n = write(peer_fd, &one, 1);
        gone = n < 0 && errno == EPIPE;
        if (gone) {
            const struct timespec zero = { 0, 0 };
            sigtimedwait(&pipe_set, NULL, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    /* EAGAIN: the pipe is full, so it is rung already. */
    return gone ? -1 : 0;
}

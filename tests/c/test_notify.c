/* tests/c/test_notify.c — doorbells: ring, coalesce, drain, a full pipe, a gone peer. */
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ipo/notify.h"
#include "task.h"

static int readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    return poll(&p, 1, 0) == 1;
}

static void test_ring_and_drain(void)
{
    uint64_t inode = (uint64_t)getpid() << 20 | 1;
    ipo_doorbell_t d;
    ASSERT_OK(ipo_notify_open(&d, inode, 3, 7));
    struct stat st;
    ASSERT_EQ(stat(d.path, &st), 0);
    ASSERT(S_ISFIFO(st.st_mode));
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ASSERT(!readable(ipo_notify_fd(&d)));

    int peer = ipo_notify_open_peer(inode, 3, 7);
    ASSERT(peer >= 0);
    ASSERT_EQ(ipo_notify_open_peer(inode, 3, 8), -1); /* another generation: no such bell */
    ASSERT_OK(ipo_notify_ring(peer));
    ASSERT(readable(ipo_notify_fd(&d)));
    ipo_notify_drain(&d);
    ASSERT(!readable(ipo_notify_fd(&d)));

    /* A full pipe is "rung already", never an error. */
    for (int i = 0; i < 200000; i++)
        ASSERT_OK(ipo_notify_ring(peer));
    ASSERT(readable(ipo_notify_fd(&d)));
    ipo_notify_drain(&d);
    ASSERT(!readable(ipo_notify_fd(&d)));

    /* The owner leaves: its name goes, and ringing reports the peer gone
     * without a SIGPIPE killing us. */
    ipo_notify_close(&d);
    ASSERT_EQ(stat(d.path, &st), -1);
    ASSERT_EQ(ipo_notify_ring(peer), -1);
    ASSERT_EQ(ipo_notify_open_peer(inode, 3, 7), -1);
    close(peer);
    ipo_notify_close(&d); /* idempotent */
}

static volatile sig_atomic_t pipe_signals;

static void count_pipe_signal(int sig)
{
    (void)sig;
    pipe_signals++;
}

/* Ringing a peer that is gone reports it, whatever SIGPIPE's disposition:
 * ignored (as in CPython: the ring writes without touching the mask), the
 * default (the process must not die) or a handler of the program's (which
 * must not run for our ring); and the disposition is left as it was. */
static void test_gone_peer_under_each_sigpipe_disposition(void)
{
    void (*dispositions[])(int) = { SIG_IGN, SIG_DFL, count_pipe_signal };
    for (int i = 0; i < 3; i++) {
        uint64_t inode = (uint64_t)getpid() << 20 | (uint64_t)(2 + i);
        ipo_doorbell_t d;
        ASSERT_OK(ipo_notify_open(&d, inode, 1, 1));
        int peer = ipo_notify_open_peer(inode, 1, 1);
        ASSERT(peer >= 0);
        ASSERT(signal(SIGPIPE, dispositions[i]) != SIG_ERR);
        pipe_signals = 0;
        ASSERT_OK(ipo_notify_ring(peer)); /* alive: rung */
        ipo_notify_close(&d);
        ASSERT_EQ(ipo_notify_ring(peer), -1);
        ASSERT_EQ(ipo_notify_ring(peer), -1);
        ASSERT_EQ(pipe_signals, 0);
        void (*now)(int) = signal(SIGPIPE, SIG_DFL);
        ASSERT(now == dispositions[i]);
        sigset_t pending;
        ASSERT_EQ(sigpending(&pending), 0);
        ASSERT(!sigismember(&pending, SIGPIPE)); /* swallowed, not left pending */
        close(peer);
    }
}

/* A doorbell directory that is not ours alone is refused rather than used.
 * Checked for another user (as root: a child switches to uid 4242), so the
 * real directory of this user is never opened up, even for a moment. */
static void test_foreign_directory_is_refused(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "    (skipped: needs root)\n");
        return;
    }
    const unsigned uid = 4242;
    char dir[64];
    snprintf(dir, sizeof(dir), IPO_DOORBELL_DIR_FMT, uid);
    rmdir(dir);
    ASSERT_EQ(mkdir(dir, 0777), 0); /* owned by root, open to all */
    ASSERT_EQ(chmod(dir, 0777), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        if (setuid(uid) != 0)
            _exit(2);
        ipo_doorbell_t d;
        _exit(ipo_notify_open(&d, 42, 0, 0) == -IPO_EPERM ? 0 : 1);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ASSERT_EQ(rmdir(dir), 0);
}

/* A doorbell whose owner died without closing it is swept away when the
 * next one is made. */
static void test_dead_doorbells_are_swept(void)
{
    uint64_t inode = (uint64_t)getpid() << 20 | 2;
    char path[128];
    ASSERT_OK(ipo_notify_path(path, sizeof(path), inode, 5, 1));
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_doorbell_t d;
        _exit(ipo_notify_open(&d, inode, 5, 1) == 0 ? 0 : 1); /* dies holding it */
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_EQ(WEXITSTATUS(status), 0);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ipo_doorbell_t live;
    ASSERT_OK(ipo_notify_open(&live, inode, 6, 1));
    ASSERT_EQ(stat(path, &st), -1);
    /* A live one survives the next sweep. */
    ipo_doorbell_t other;
    ASSERT_OK(ipo_notify_open(&other, inode, 7, 1));
    ASSERT_EQ(stat(live.path, &st), 0);
    ipo_notify_close(&other);
    ipo_notify_close(&live);
}

int main(void)
{
    RUN(test_ring_and_drain);
    RUN(test_gone_peer_under_each_sigpipe_disposition);
    RUN(test_foreign_directory_is_refused);
    RUN(test_dead_doorbells_are_swept);
    return 0;
}

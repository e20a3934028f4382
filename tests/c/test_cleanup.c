/* tests/c/test_cleanup.c — ipo_cleanup() and ipo_notify_sweep(): what dead processes left goes, nothing else. */
/* Each test runs in a child with a /dev/shm of its own (a private mount
 * namespace with a fresh tmpfs): a cleanup removes every dead leftover of
 * this user, and the machine's /dev/shm may hold other test runs' regions
 * that they keep dead on purpose for a moment. Without the privileges to
 * mount one, the tests skip. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ipo/cleanup.h"
#include "ipo/notify.h"
#include "ipo/region.h"
#include "task.h"

/* What a cleanup reported. */
typedef struct found {
    int  count;
    int  kinds[16];
    char paths[16][128];
} found_t;

static void collect(void *ctx, int kind, const char *path)
{
    found_t *f = ctx;
    if (f->count < 16) {
        f->kinds[f->count] = kind;
        snprintf(f->paths[f->count], sizeof(f->paths[0]), "%s", path);
    }
    f->count++;
}

static int found_path(const found_t *f, int kind, const char *path)
{
    for (int i = 0; i < f->count && i < 16; i++)
        if (f->kinds[i] == kind && strcmp(f->paths[i], path) == 0)
            return 1;
    return 0;
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Forks a child that does what the caller says and _exits without closing
 * anything, as a killed process would leave it; reaps it. */
static pid_t spawn(void)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    return pid;
}

static void reap(pid_t pid)
{
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) || WIFSIGNALED(status));
}

/* A dead process's pid, for names that carry one. */
static pid_t dead_pid(void)
{
    pid_t pid = spawn();
    if (pid == 0)
        _exit(0);
    reap(pid);
    return pid;
}

/* A child that attaches to name (or creates it) and stays until killed. */
static pid_t spawn_participant(const char *name, int create)
{
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = spawn();
    if (pid == 0) {
        ipo_region_t r;
        ipo_region_options_t o;
        memset(&o, 0, sizeof(o));
        o.size = 1 << 20;
        int rc = create ? ipo_region_create(&r, name, &o) : ipo_region_attach(&r, name, NULL);
        char b = 1;
        if (rc || write(ready[1], &b, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char b;
    ASSERT_EQ(read(ready[0], &b, 1), 1);
    close(ready[0]);
    close(ready[1]);
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    reap(pid);
}

static void test_leftovers_go_and_nothing_else(void)
{
    /* A region whose participants all died. */
    kill_and_reap(spawn_participant("/dead", 1));
    /* A region whose creator died while a consumer lives: kept for the
     * consumer, whose leaving removes it. */
    pid_t creator = spawn_participant("/orphan", 1);
    pid_t consumer = spawn_participant("/orphan", 0);
    kill_and_reap(creator);
    /* A live region. */
    ipo_region_t live;
    ipo_region_options_t o;
    memset(&o, 0, sizeof(o));
    o.size = 1 << 20;
    ASSERT_OK(ipo_region_create(&live, "/live", &o));
    /* Another program's file, and a dead region given to another user. */
    int fd = shm_open("/foreign", O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(ftruncate(fd, 4096), 0);
    close(fd);
    kill_and_reap(spawn_participant("/theirs", 1));
    ASSERT_EQ(chown("/dev/shm/theirs", 4242, (gid_t)-1), 0);
    /* A live doorbell, then (since making one sweeps the dead) a dead
     * participant's, and one a process killed while making it left. */
    ipo_doorbell_t live_bell;
    ASSERT_OK(ipo_notify_open(&live_bell, 77, 2, 1));
    pid_t bell_owner = spawn();
    if (bell_owner == 0) {
        ipo_doorbell_t d;
        _exit(ipo_notify_open(&d, 77, 1, 1) == 0 ? 0 : 1);
    }
    reap(bell_owner);
    char dead_bell[128], half_bell[128];
    ASSERT_OK(ipo_notify_path(dead_bell, sizeof(dead_bell), 77, 1, 1));
    snprintf(half_bell, sizeof(half_bell), IPO_DOORBELL_DIR_FMT "/.new-%ld-4d-1-1",
             (unsigned)geteuid(), (long)dead_pid());
    ASSERT_EQ(mkfifo(half_bell, 0600), 0);

    /* A creation abandoned midway, and one under way (this process's);
     * last, since every creation sweeps the abandoned ones. */
    char dead_creation[64], live_creation[64];
    snprintf(dead_creation, sizeof(dead_creation), "/.ipo-creating-%ld-1-00000000", (long)dead_pid());
    snprintf(live_creation, sizeof(live_creation), "/.ipo-creating-%ld-9-00000000", (long)getpid());
    for (int i = 0; i < 2; i++) {
        int hidden = shm_open(i ? live_creation : dead_creation, O_RDWR | O_CREAT | O_EXCL, 0600);
        ASSERT(hidden >= 0);
        ASSERT_EQ(ftruncate(hidden, 1 << 16), 0);
        close(hidden);
    }

    const char *gone[] = { "/dev/shm/dead", dead_creation, dead_bell, half_bell };
    char creation_path[96];
    snprintf(creation_path, sizeof(creation_path), "/dev/shm%s", dead_creation);
    gone[1] = creation_path;
    const char *kept[] = { "/dev/shm/orphan", "/dev/shm/live", "/dev/shm/foreign", "/dev/shm/theirs",
                           live_bell.path };
    char live_creation_path[96];
    snprintf(live_creation_path, sizeof(live_creation_path), "/dev/shm%s", live_creation);

    /* A dry run finds them and removes nothing. */
    found_t f = { 0 };
    ASSERT_EQ(ipo_cleanup(1, collect, &f), 2);
    ASSERT_EQ(ipo_notify_sweep(1, collect, &f), 2);
    ASSERT_EQ(f.count, 4);
    ASSERT(found_path(&f, IPO_LEFTOVER_REGION, gone[0]));
    ASSERT(found_path(&f, IPO_LEFTOVER_CREATING, gone[1]));
    ASSERT(found_path(&f, IPO_LEFTOVER_DOORBELL, gone[2]));
    ASSERT(found_path(&f, IPO_LEFTOVER_DOORBELL, gone[3]));
    for (int i = 0; i < 4; i++)
        ASSERT(exists(gone[i]));

    /* The real one removes them, and only them. */
    memset(&f, 0, sizeof(f));
    ASSERT_EQ(ipo_cleanup(0, collect, &f), 2);
    ASSERT_EQ(ipo_notify_sweep(0, collect, &f), 2);
    for (int i = 0; i < 4; i++)
        ASSERT(!exists(gone[i]));
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        ASSERT(exists(kept[i]));
    ASSERT(exists(live_creation_path));
    ASSERT_EQ(ipo_cleanup(0, NULL, NULL), 0);
    ASSERT_EQ(ipo_notify_sweep(0, NULL, NULL), 0);

    /* The orphan's last participant gone, the next cleanup takes it. */
    kill_and_reap(consumer);
    memset(&f, 0, sizeof(f));
    ASSERT_EQ(ipo_cleanup(0, collect, &f), 1);
    ASSERT(found_path(&f, IPO_LEFTOVER_REGION, "/dev/shm/orphan"));
    ipo_notify_close(&live_bell);
    ipo_region_unmap(&live);
}

/* The doorbell directory and the doorbells are 0700 and 0600 whatever the
 * umask, even one that takes the owner's own bits. */
static void test_doorbells_ignore_the_umask(void)
{
    char dir[64];
    snprintf(dir, sizeof(dir), IPO_DOORBELL_DIR_FMT, (unsigned)geteuid());
    rmdir(dir); /* this namespace's own: nobody else uses it */
    mode_t old = umask(0777);
    ipo_doorbell_t d;
    int rc = ipo_notify_open(&d, 78, 1, 1);
    umask(old);
    ASSERT_OK(rc);
    struct stat st;
    ASSERT_EQ(stat(dir, &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 0700);
    ASSERT_EQ(stat(d.path, &st), 0);
    ASSERT(S_ISFIFO(st.st_mode));
    ASSERT_EQ(st.st_mode & 07777, 0600);
    ipo_notify_close(&d);
}

/* Runs test in a child with a private /dev/shm; 77 when none can be had. */
static int in_private_shm(void (*test)(void))
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=64m,mode=1777") < 0)
            _exit(TEST_SKIP);
        test();
        _exit(0);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status))
        FAIL_AT("the test died of signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

int main(void)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } tests[] = {
        { "test_leftovers_go_and_nothing_else", test_leftovers_go_and_nothing_else },
        { "test_doorbells_ignore_the_umask", test_doorbells_ignore_the_umask },
    };
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        fprintf(stderr, "  %s\n", tests[i].name);
        int rc = in_private_shm(tests[i].run);
        if (rc == TEST_SKIP) {
            fprintf(stderr, "skipped: no private /dev/shm can be mounted here (needs root)\n");
            return TEST_SKIP;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* tests/c/test_region.c — creating, attaching, validating and leaving regions across processes. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ipo/access.h"
#include "ipo/format.h"
#include "ipo/queue.h"
#include "ipo/region.h"
#include "procs.h"
#include "spin_wait.h"
#include "task.h"

static ipo_region_options_t opts_of(uint64_t size)
{
    ipo_region_options_t o;
    memset(&o, 0, sizeof(o));
    o.size = size;
    return o;
}

static void test_names(void)
{
    ASSERT_OK(ipo_region_name_check("objs"));
    ASSERT_OK(ipo_region_name_check("/objs"));
    ASSERT_ERR(ipo_region_name_check(""), IPO_EINVAL);
    ASSERT_ERR(ipo_region_name_check("/"), IPO_EINVAL);
    ASSERT_ERR(ipo_region_name_check("a/b"), IPO_EINVAL);
    ASSERT_ERR(ipo_region_name_check("//a"), IPO_EINVAL);
    ASSERT_ERR(ipo_region_name_check(".."), IPO_EINVAL);
    ASSERT_ERR(ipo_region_name_check(NULL), IPO_EINVAL);
    char longname[IPO_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ASSERT_ERR(ipo_region_name_check(longname), IPO_EINVAL);
    longname[IPO_NAME_MAX] = '\0';
    ASSERT_OK(ipo_region_name_check(longname));
}

static void test_create_sets_mode_whatever_the_umask(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "mode");
    mode_t old = umask(0077);
    ipo_region_options_t o = opts_of(1 << 20);
    o.mode = 0640;
    ipo_region_t r;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    umask(old);
    struct stat st;
    ASSERT_EQ(fstat(r.fd, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0640);
    ASSERT_EQ(st.st_size, 1 << 20);
    ASSERT_EQ(r.hdr->state, IPO_STATE_READY);
    ASSERT_EQ(r.slot, 0);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));

    /* A consumer expecting the default 0600 refuses it; one expecting 0640 attaches. */
    ipo_region_t c;
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_EPERM);
    ipo_region_options_t co = opts_of(0);
    co.mode = 0640;
    ASSERT_OK(ipo_region_attach(&c, name, &co));
    ipo_region_unmap(&c);
    ipo_region_unmap(&r);
}

static void test_create_validates_options(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "opts");
    ipo_region_t r;
    ipo_region_options_t o = opts_of(0);
    ASSERT_ERR(ipo_region_create(&r, name, &o), IPO_EINVAL);
    o = opts_of(1 << 20);
    o.slots = 1;
    ASSERT_ERR(ipo_region_create(&r, name, &o), IPO_EINVAL);
    o.slots = IPO_MAX_SLOTS + 1;
    ASSERT_ERR(ipo_region_create(&r, name, &o), IPO_EINVAL);
    o = opts_of(1 << 20);
    o.mode = 0444; /* the creator must be able to write */
    ASSERT_ERR(ipo_region_create(&r, name, &o), IPO_EINVAL);
    o.mode = 04600;
    ASSERT_ERR(ipo_region_create(&r, name, &o), IPO_EINVAL);
    ASSERT_ERR(ipo_region_create(&r, "bad/name", &o), IPO_EINVAL);
    /* Tiny sizes round up to the minimum. */
    o = opts_of(100);
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ASSERT_UEQ(r.size, IPO_REGION_MIN_SIZE);
    ipo_region_unmap(&r);
}

static void test_attach_missing_and_taken_names(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "missing");
    ipo_region_t r, c;
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ENOENT);

    ipo_region_options_t o = opts_of(1 << 20);
    ASSERT_OK(ipo_region_create(&r, name, &o));
    /* A live region's name is never taken over. */
    ipo_region_t r2;
    ASSERT_ERR(ipo_region_create(&r2, name, &o), IPO_EEXIST);
    ASSERT_OK(ipo_region_attach(&c, name, NULL));
    ASSERT_EQ(c.slot, 1);
    ASSERT_UEQ(c.hdr->attach_count, 1);
    ASSERT_EQ(ipo_region_consumers_alive(&r), 1);
    ipo_region_unmap(&c);
    ASSERT_EQ(ipo_region_consumers_alive(&r), 0);
    ipo_region_unmap(&r);
    /* The creator's leaving removed the name. */
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ENOENT);
}

static void test_foreign_object_is_not_taken(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "foreign");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(ftruncate(fd, 1 << 16), 0);
    ASSERT_EQ(pwrite(fd, "not a region of ours", 20, 0), 20);
    ipo_region_t r, c;
    ipo_region_options_t o = opts_of(1 << 20);
    ASSERT_ERR(ipo_region_create(&r, name, &o), IPO_EEXIST);
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ELAYOUT);
    /* A zero-filled object looks like a region still being created. */
    char zeros[64] = { 0 };
    ASSERT_EQ(pwrite(fd, zeros, sizeof(zeros), 0), (ssize_t)sizeof(zeros));
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_EAGAIN);
    /* Before the magic is written, a creator may not have set its mode yet:
     * still "not ready", never a final permission error. */
    ipo_region_options_t expect = opts_of(0);
    expect.mode = 0640;
    ASSERT_ERR(ipo_region_attach(&c, name, &expect), IPO_EAGAIN);
    /* An object without our magic is never ours to replace, however old. */
    ASSERT_ERR(ipo_region_create(&r, name, &o), IPO_EEXIST);
    close(fd);
    shm_unlink(name);
}

static void test_layout_mismatch_is_refused(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "layout");
    ipo_region_t r, c;
    ipo_region_options_t o = opts_of(1 << 20);
    ASSERT_OK(ipo_region_create(&r, name, &o));
    uint32_t saved = r.hdr->layout_hash;
    r.hdr->layout_hash ^= 1;
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ELAYOUT);
    r.hdr->layout_hash = saved;
    r.hdr->layout_version++;
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ELAYOUT);
    r.hdr->layout_version--;
    r.hdr->total_size++;
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ELAYOUT);
    r.hdr->total_size--;
    ASSERT_OK(ipo_region_attach(&c, name, NULL));
    ipo_region_unmap(&c);
    ipo_region_unmap(&r);
}

static void test_closing_region_takes_nobody(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "closing");
    ipo_region_t r, c;
    ipo_region_options_t o = opts_of(1 << 20);
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ipo_region_begin_close(&r);
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ECLOSING);
    ipo_region_unmap(&r);
}

static void test_slot_table_full(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "full");
    ipo_region_t r, c[3], extra;
    ipo_region_options_t o = opts_of(1 << 20);
    o.slots = 4;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(ipo_region_attach(&c[i], name, NULL));
        ASSERT_EQ(c[i].slot, i + 1);
    }
    ASSERT_ERR(ipo_region_attach(&extra, name, NULL), IPO_EFULL);
    ipo_region_unmap(&c[1]);
    ASSERT_OK(ipo_region_attach(&extra, name, NULL));
    ASSERT_EQ(extra.slot, 2);
    ipo_region_unmap(&extra);
    ipo_region_unmap(&c[0]);
    ipo_region_unmap(&c[2]);
    ipo_region_unmap(&r);
}

/* A consumer may ask for its slot by number (the original package's
 * consumer_id): it gets that one or an error, never another. */
static void test_consumer_slot_by_number(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "byslot");
    ipo_region_t r, a, b, any;
    ipo_region_options_t o = opts_of(1 << 20);
    o.slots = 4;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ipo_region_options_t want = opts_of(0);
    want.consumer_slot = 2;
    ASSERT_OK(ipo_region_attach(&a, name, &want));
    ASSERT_EQ(a.slot, 2);
    ASSERT_ERR(ipo_region_attach(&b, name, &want), IPO_ETAKEN);
    want.consumer_slot = 4; /* slots 0..3 */
    ASSERT_ERR(ipo_region_attach(&b, name, &want), IPO_EINVAL);
    /* Without a number, the first free slot, passing the one taken. */
    ASSERT_OK(ipo_region_attach(&any, name, NULL));
    ASSERT_EQ(any.slot, 1);
    ipo_region_unmap(&a);
    want.consumer_slot = 2;
    ASSERT_OK(ipo_region_attach(&b, name, &want));
    ASSERT_EQ(b.slot, 2);
    ipo_region_unmap(&b);
    ipo_region_unmap(&any);
    ipo_region_unmap(&r);
}

/* A child attaches and is killed without detaching: the kernel drops its
 * lock, so its slot is free for the next consumer and the creator counts no
 * live consumer. */
static void test_dead_consumer_frees_its_slot(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "dead");
    ipo_region_t r;
    ipo_region_options_t o = opts_of(1 << 20);
    o.slots = 2;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t c;
        if (ipo_region_attach(&c, name, NULL) != 0)
            _exit(1);
        char b = 1;
        if (write(ready[1], &b, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char b;
    ASSERT_EQ(read(ready[0], &b, 1), 1);
    ASSERT_EQ(ipo_region_consumers_alive(&r), 1);
    ipo_region_t c;
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_EFULL);
    kill(pid, SIGKILL);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_EQ(ipo_region_consumers_alive(&r), 0);
    ASSERT_OK(ipo_region_attach(&c, name, NULL));
    ASSERT_EQ(c.slot, 1);
    ipo_region_unmap(&c);
    ipo_region_unmap(&r);
    close(ready[0]);
    close(ready[1]);
}

/* A creator killed before it could leave leaves its name behind; the next
 * creator finds nobody alive in it and replaces it. */
static void test_stale_region_is_replaced(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "stale");
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t r;
        ipo_region_options_t o = opts_of(1 << 20);
        _exit(ipo_region_create(&r, name, &o) == 0 ? 0 : 1);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ipo_region_t r;
    ipo_region_options_t o = opts_of(1 << 20);
    /* Asked to keep what is there, the creator leaves even a dead region. */
    o.keep_stale = 1;
    ASSERT_ERR(ipo_region_create(&r, name, &o), IPO_EEXIST);
    char path[96];
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    ASSERT_EQ(access(path, F_OK), 0);
    o.keep_stale = 0;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ASSERT_EQ(r.hdr->creator_pid, getpid());
    ipo_region_unmap(&r);
}

/* A creator killed while building its region leaves a hidden file with its
 * memory reserved; the next creation anywhere sweeps it away. */
static void test_abandoned_creation_is_swept(void)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0)
        _exit(0);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    char hidden[64], path[96];
    snprintf(hidden, sizeof(hidden), "/.ipo-creating-%ld-1-deadbeef", (long)pid);
    snprintf(path, sizeof(path), "/dev/shm%s", hidden);
    int fd = shm_open(hidden, O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
    close(fd);
    ASSERT_EQ(access(path, F_OK), 0);

    char name[64];
    test_region_name(name, sizeof(name), "sweep");
    ipo_region_t r;
    ipo_region_options_t o = opts_of(1 << 20);
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ASSERT_EQ(access(path, F_OK), -1);
    /* Our own creation left no hidden file behind either. */
    char own[64];
    snprintf(own, sizeof(own), ".ipo-creating-%ld-", (long)getpid());
    DIR *dir = opendir("/dev/shm");
    ASSERT(dir != NULL);
    for (struct dirent *e; (e = readdir(dir));)
        ASSERT(strncmp(e->d_name, own, strlen(own)) != 0);
    closedir(dir);
    ipo_region_unmap(&r);
}

/* Messages put by one process are taken by another, in order. */
static void test_cross_process_queue(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "xq");
    ipo_region_t r;
    ipo_region_options_t o = opts_of(1 << 22);
    ASSERT_OK(ipo_region_create(&r, name, &o));
    enum { N = 5000 };
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t c;
        if (ipo_region_attach(&c, name, NULL))
            _exit(2);
        for (int i = 0; i < N; i++) {
            spin_backoff_t b = { 0 };
            spin_acquire(&c, -1, &b);
            ipo_off_t off;
            if (ipo_obj_new_scalar(&c, IPO_T_INT64, (uint64_t)i, &off) || ipo_queue_put(&c, off))
                _exit(3);
            ipo_access_release(&c);
        }
        ipo_region_unmap(&c);
        _exit(0);
    }
    for (int i = 0; i < N; i++) {
        spin_backoff_t b = { 0 };
        ASSERT_OK(spin_acquire_with_messages(&r, ipo_now_ns() + 20 * INT64_C(1000000000), &b));
        ipo_off_t off;
        const ipo_obj_t *obj;
        ASSERT_OK(ipo_queue_take(&r, &off));
        ASSERT_OK(ipo_obj_get(&r, off, &obj));
        ASSERT_UEQ(obj->v.u64, (uint64_t)i);
        ASSERT_OK(ipo_obj_destroy(&r, off));
        ipo_access_release(&r);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ipo_region_unmap(&r);
}

/* The in-process twin joins only a formatted, READY region: a thread that
 * joins while another formats sees "not ready yet", never a half-made one. */
static void test_join_waits_for_ready(void)
{
    uint64_t size = 1 << 20;
    void *mem = aligned_alloc(4096, size);
    ASSERT(mem != NULL);
    memset(mem, 0, size);
    ipo_region_t r;
    ASSERT_ERR(ipo_region_join(&r, mem, size), IPO_EAGAIN);
    ipo_region_options_t o = opts_of(size);
    ASSERT_OK(ipo_region_format(mem, size, &o));
    ipo_header_t *hdr = mem;
    hdr->state = IPO_STATE_INIT;
    ASSERT_ERR(ipo_region_join(&r, mem, size), IPO_EAGAIN);
    hdr->state = IPO_STATE_READY;
    hdr->magic ^= 1;
    ASSERT_ERR(ipo_region_join(&r, mem, size), IPO_ELAYOUT);
    hdr->magic ^= 1;
    ASSERT_ERR(ipo_region_join(&r, mem, size / 2), IPO_ELAYOUT);
    ASSERT_OK(ipo_region_join(&r, mem, size));
    ipo_region_leave(&r);
    free(mem);
}

/* Each header field that points somewhere, set past the mapping or out of
 * its range, makes join refuse the region with -IPO_ECORRUPT and a reason,
 * before anything is followed; the region joins again once restored. The
 * same fields, damaged under a joined handle, make check() say so. */
static void test_damaged_header_is_refused(void)
{
    uint64_t size = 1 << 20;
    void *mem = aligned_alloc(4096, size);
    ASSERT(mem != NULL);
    memset(mem, 0, size);
    ipo_region_options_t o = opts_of(size);
    ASSERT_OK(ipo_region_format(mem, size, &o));
    ipo_header_t *hdr = mem;
    ipo_alloc_root_t *root = (ipo_alloc_root_t *)((uint8_t *)mem + hdr->alloc_off);
    struct { void *field; unsigned width; uint64_t value; } damage[] = {
        { &hdr->slot_count, 4, 1 },
        { &hdr->slot_count, 4, IPO_MAX_SLOTS + 1 },
        { &hdr->slots_off, 8, size },
        { &hdr->slots_off, 8, UINT64_MAX - 63 },
        { &hdr->slots_off, 8, 264 },              /* not a cache line */
        { &hdr->alloc_off, 8, 0 },
        { &hdr->alloc_off, 8, size - 64 },
        { &hdr->alloc_off, 8, UINT64_MAX - 63 },
        { &hdr->hash_key[1], 8, 12345 },
        { &hdr->hash_key_check, 8, 0 },
        { &hdr->access, 8, 0xffff },
        { &hdr->queue.ring, 8, size + 4096 },
        { &hdr->queue.ring, 8, 8 },
        { &root->heap_start, 8, 0 },
        { &root->heap_end, 8, size },
        { &root->heap_end, 8, UINT64_MAX - 15 },
        { &root->free_bytes, 8, size },
        { &root->free_blocks, 8, UINT64_MAX },
        { &root->fl_bitmap, 8, UINT64_C(1) << 45 },
        { &root->free_heads[3][7], 8, size * 2 },
    };
    ipo_region_t r;
    for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
        uint64_t saved = 0;
        memcpy(&saved, damage[i].field, damage[i].width);
        memcpy(damage[i].field, &damage[i].value, damage[i].width);
        ASSERT_ERR(ipo_region_join(&r, mem, size), IPO_ECORRUPT);
        ASSERT(strlen(ipo_region_corrupt_reason()) > 0);
        memcpy(damage[i].field, &saved, damage[i].width);
    }
    /* A state that is none of the region's states. */
    hdr->state = 77;
    ASSERT_ERR(ipo_region_join(&r, mem, size), IPO_ECORRUPT);
    hdr->state = IPO_STATE_READY;

    /* Joined, the handle keeps the table it validated; check() tells. */
    ASSERT_OK(ipo_region_join(&r, mem, size));
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
        if (damage[i].field == &hdr->access)
            continue; /* our own slot then holds nothing: covered by join above */
        uint64_t saved = 0;
        memcpy(&saved, damage[i].field, damage[i].width);
        memcpy(damage[i].field, &damage[i].value, damage[i].width);
        char note[256] = "";
        ASSERT_ERR(ipo_region_check(&r, note, sizeof(note)), IPO_ECORRUPT);
        ASSERT(note[0] != 0);
        memcpy(damage[i].field, &saved, damage[i].width);
    }
    /* A changed hash key: this handle still hashes with the key it
     * validated, and check() reports the change. */
    uint64_t key = hdr->hash_key[0], digest = hdr->hash_key_check;
    hdr->hash_key[0] ^= 1;
    ASSERT_UEQ(r.hash_key[0], key);
    char note[256] = "";
    ASSERT_ERR(ipo_region_check(&r, note, sizeof(note)), IPO_ECORRUPT);
    hdr->hash_key[0] = key;
    hdr->hash_key_check ^= 1; /* the key as it was, its digest changed */
    ASSERT_ERR(ipo_region_check(&r, note, sizeof(note)), IPO_ECORRUPT);
    hdr->hash_key_check = digest;
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ipo_region_leave(&r);
    free(mem);
}

static uint64_t sleepers_in(const ipo_header_t *hdr)
{
    return (hdr->access & IPO_ACCESS_SLEEPER_MASK) / IPO_ACCESS_SLEEPER_ONE;
}

/* A slot claimed again starts clean: the waiting fields of an occupant that
 * died asleep are cleared, its registrations are taken back from the access
 * word (never more than the word holds), and its generation, which names its
 * doorbell, moves on. */
static void test_reclaimed_slot_starts_clean(void)
{
    uint64_t size = 1 << 20;
    void *mem = aligned_alloc(4096, size);
    ASSERT(mem != NULL);
    ipo_region_options_t o = opts_of(size);
    o.slots = 2;
    ASSERT_OK(ipo_region_format(mem, size, &o));
    ipo_region_t a, b;
    ASSERT_OK(ipo_region_join(&a, mem, size));
    ASSERT_OK(ipo_region_join(&b, mem, size));
    ASSERT_EQ(b.slot, 1);
    ipo_header_t *hdr = a.hdr;
    ipo_slot_t *s = b.me;
    uint32_t generation = s->generation;
    uint64_t count = hdr->access >> IPO_ACCESS_COUNT_SHIFT;

    /* b dies asleep, twice registered (in its slot and in the word), after
     * a ring found its doorbell gone. */
    s->waiting_for = IPO_WAIT_FOR_ACCESS | IPO_WAIT_FOR_MESSAGES;
    s->wake_pending = 1;
    s->sleep_ticket = 7;
    s->sleepers = 2;
    hdr->access += 2 * IPO_ACCESS_SLEEPER_ONE;
    ipo_region_leave(&b);
    ASSERT_OK(ipo_region_join(&b, mem, size));
    ASSERT_EQ(b.slot, 1);
    ASSERT_EQ(s->state, IPO_SLOT_ACTIVE);
    ASSERT_EQ(s->pid, getpid());
    ASSERT_UEQ(s->generation, generation + 1);
    ASSERT_UEQ(s->waiting_for, 0);
    ASSERT_UEQ(s->wake_pending, 0);
    ASSERT_UEQ(s->sleep_ticket, 0);
    ASSERT_UEQ(s->sleepers, 0);
    ASSERT_UEQ(sleepers_in(hdr), 0);
    ASSERT_UEQ(hdr->access >> IPO_ACCESS_COUNT_SHIFT, count);

    /* b is killed between counting a registration in its slot and adding it
     * to the word, the order register_sleeper() keeps: its slot holds one
     * more than the word. Taking that one back would borrow from the
     * acquisition count and leave 65535 phantom sleepers for every release. */
    s->sleepers = 1;
    ipo_region_leave(&b);
    ASSERT_OK(ipo_region_join(&b, mem, size));
    ASSERT_UEQ(s->sleepers, 0);
    ASSERT_UEQ(sleepers_in(hdr), 0);
    ASSERT_UEQ(hdr->access >> IPO_ACCESS_COUNT_SHIFT, count);
    ASSERT_UEQ(s->generation, generation + 2);

    /* Access still works: nobody owns the word. */
    ASSERT(ipo_access_try_acquire(&b));
    ipo_access_release(&b);
    ASSERT_UEQ(hdr->access & IPO_ACCESS_OWNER_MASK, 0);
    ipo_region_leave(&b);
    ipo_region_leave(&a);
    free(mem);
}

/* A child that creates the region, says so, and stays until killed. */
static pid_t spawn_creator(const char *name)
{
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t r;
        ipo_region_options_t o = opts_of(1 << 20);
        if (ipo_region_create(&r, name, &o) != 0)
            _exit(1);
        char b = 1;
        if (write(ready[1], &b, 1) != 1)
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
    int status;
    kill(pid, SIGKILL);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
}

static int name_exists(const char *name)
{
    char path[96];
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

/* A consumer learns that its creator was killed from the kernel (the
 * creator's lock on slot 0), and goes on knowing it without asking again.
 * A newcomer is refused with -IPO_ECREATORGONE; the last consumer to leave
 * removes the name. */
static void test_dead_creator_is_told(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "gone");
    pid_t creator = spawn_creator(name);
    ipo_region_t a, b, late;
    ASSERT_OK(ipo_region_attach(&a, name, NULL));
    ASSERT_OK(ipo_region_attach(&b, name, NULL));
    ASSERT_EQ(ipo_region_creator_alive(&a), 1);
    kill_and_reap(creator);
    ASSERT_EQ(ipo_region_creator_alive(&a), 0);
    ASSERT_EQ(a.creator_gone, 1);
    ASSERT_EQ(ipo_region_creator_alive(&a), 0);
    /* Two consumers are left in it: a newcomer is told, and leaves it. */
    ASSERT_ERR(ipo_region_attach(&late, name, NULL), IPO_ECREATORGONE);
    ASSERT(name_exists(name));
    ipo_region_unmap(&a);
    ASSERT(name_exists(name)); /* b is still in it */
    ipo_region_unmap(&b);
    ASSERT(!name_exists(name));
}

/* A region whose participants all died is removed by the next attach to
 * its name, which is told why it found none. */
static void test_attach_removes_a_dead_region(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "deadall");
    kill_and_reap(spawn_creator(name));
    ASSERT(name_exists(name));
    ipo_region_t c;
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ECREATORGONE);
    ASSERT(!name_exists(name));
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ENOENT);
}

/* A creator that closes removes the name before it lets go of its lock:
 * an attacher that opened the file in between is told the name is gone
 * (it may wait for a new creator), not that the creator died. */
static void test_closed_region_is_no_dead_creator(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "closed");
    ipo_region_t r, c;
    ipo_region_options_t o = opts_of(1 << 20);
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ASSERT_OK(ipo_region_attach(&c, name, NULL));
    ipo_region_unmap(&r);
    ASSERT(!name_exists(name));
    ASSERT_EQ(ipo_region_creator_alive(&c), 0);
    ipo_region_unmap(&c);
    ASSERT_ERR(ipo_region_attach(&c, name, NULL), IPO_ENOENT);
}

/* A creator restarted under the name replaces a region whose creator died,
 * even with consumers still in it: the region is gone for them. Their
 * leaving never removes the new region. */
static void test_restarted_creator_replaces_a_creatorless_region(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "restart");
    pid_t creator = spawn_creator(name);
    ipo_region_t old, fresh, c;
    ASSERT_OK(ipo_region_attach(&old, name, NULL));
    kill_and_reap(creator);
    ipo_region_options_t o = opts_of(1 << 20);
    o.keep_stale = 1; /* unlink_old=False keeps it */
    ASSERT_ERR(ipo_region_create(&fresh, name, &o), IPO_EEXIST);
    o.keep_stale = 0;
    ASSERT_OK(ipo_region_create(&fresh, name, &o));
    ASSERT_EQ(ipo_region_creator_alive(&old), 0);
    ipo_region_unmap(&old);
    ASSERT(name_exists(name));
    ASSERT_OK(ipo_region_attach(&c, name, NULL));
    ASSERT_EQ(ipo_region_creator_alive(&c), 1);
    ipo_region_unmap(&c);
    ipo_region_unmap(&fresh);
}

/* Many consumers leave a creatorless region at once: exactly one of them
 * (whichever leaves last) removes it, whatever the interleaving. */
static void test_consumers_leaving_at_once_remove_it(void)
{
    enum { N = 6 };
    for (int round = 0; round < 5; round++) {
        char name[64];
        test_region_name(name, sizeof(name), "leave");
        pid_t creator = spawn_creator(name);
        start_line_t line;
        start_line_init(&line);
        int attached[2];
        ASSERT_EQ(pipe(attached), 0);
        pid_t pids[N];
        for (int i = 0; i < N; i++) {
            pids[i] = fork();
            ASSERT(pids[i] >= 0);
            if (pids[i] == 0) {
                ipo_region_t c;
                char b = 1;
                if (ipo_region_attach(&c, name, NULL) || write(attached[1], &b, 1) != 1)
                    _exit(2);
                start_line_wait(&line);
                ipo_region_unmap(&c);
                _exit(0);
            }
        }
        for (int i = 0; i < N; i++) {
            char b;
            ASSERT_EQ(read(attached[0], &b, 1), 1);
        }
        kill_and_reap(creator);
        start_line_go(&line);
        wait_children(pids, N);
        close(attached[0]);
        close(attached[1]);
        ASSERT(!name_exists(name));
    }
}

/* Regions are 0600 whatever the umask, even one that takes the owner's own
 * bits; the hidden creation file is never left behind either. */
static void test_create_under_a_umask_of_0777(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "umask");
    mode_t old = umask(0777);
    ipo_region_t r, c;
    ipo_region_options_t o = opts_of(1 << 20);
    int rc = ipo_region_create(&r, name, &o);
    umask(old);
    ASSERT_OK(rc);
    struct stat st;
    ASSERT_EQ(fstat(r.fd, &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 0600);
    ASSERT_OK(ipo_region_attach(&c, name, NULL));
    ipo_region_unmap(&c);
    ipo_region_unmap(&r);
}

/* A region other users may write, or another user's, is refused unless
 * the attacher trusts them (trust_others): then any mode goes. */
static void test_writable_by_others_needs_trust(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "trust");
    ipo_region_t r, c;
    ipo_region_options_t o = opts_of(1 << 20);
    o.mode = 0660;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ipo_region_options_t co = opts_of(0);
    ASSERT_ERR(ipo_region_attach(&c, name, &co), IPO_EPERM);
    co.mode = 0660; /* expecting its mode is not enough: others may write it */
    ASSERT_ERR(ipo_region_attach(&c, name, &co), IPO_EPERM);
    co.mode = 0;
    co.trust_others = 1;
    ASSERT_OK(ipo_region_attach(&c, name, &co));
    ipo_region_unmap(&c);
    /* Another user's region (as root, whose files may be given away). */
    if (geteuid() == 0 && fchown(r.fd, 4242, (gid_t)-1) == 0) {
        ASSERT(fchmod(r.fd, 0600) == 0);
        r.hdr->owner_uid = 4242; /* as that user's creator would have written */
        co.trust_others = 0;
        ASSERT_ERR(ipo_region_attach(&c, name, &co), IPO_EPERM);
        co.trust_others = 1;
        ASSERT_OK(ipo_region_attach(&c, name, &co));
        ipo_region_unmap(&c);
        r.hdr->owner_uid = 0;
        ASSERT(fchown(r.fd, 0, (gid_t)-1) == 0);
    }
    ipo_region_unmap(&r);
}

/* A slot's start time is the process's starttime (field 22 of
 * /proc/<pid>/stat), which never changes while it lives: the death watch
 * and takeovers compare it against pid reuse. (It once read field 23, the
 * virtual memory size, which changes as the process grows.) */
static void test_slot_start_time_is_the_process_start(void)
{
    char name[64], buf[1024];
    test_region_name(name, sizeof(name), "start");
    ipo_region_t r;
    ipo_region_options_t o = opts_of(1 << 20);
    ASSERT_OK(ipo_region_create(&r, name, &o));
    FILE *f = fopen("/proc/self/stat", "r");
    ASSERT(f != NULL);
    ASSERT(fgets(buf, sizeof(buf), f) != NULL);
    fclose(f);
    char *p = strrchr(buf, ')');
    ASSERT(p != NULL);
    unsigned long long start = 0;
    /* Fields 3 to 21, then starttime. */
    ASSERT_EQ(sscanf(p + 2, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                            "%*s %*s %llu", &start), 1);
    ASSERT_UEQ(r.me->start_time, start);
    /* Growing the process's memory changes nothing. */
    void *more = mmap(NULL, 64 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(more != MAP_FAILED);
    ipo_region_t c;
    ASSERT_OK(ipo_region_attach(&c, name, NULL));
    ASSERT_UEQ(c.me->start_time, start);
    munmap(more, 64 << 20);
    ipo_region_unmap(&c);
    ipo_region_unmap(&r);
}

int main(void)
{
    srand((unsigned)getpid());
    RUN(test_names);
    RUN(test_create_sets_mode_whatever_the_umask);
    RUN(test_create_validates_options);
    RUN(test_attach_missing_and_taken_names);
    RUN(test_foreign_object_is_not_taken);
    RUN(test_layout_mismatch_is_refused);
    RUN(test_closing_region_takes_nobody);
    RUN(test_slot_table_full);
    RUN(test_consumer_slot_by_number);
    RUN(test_dead_consumer_frees_its_slot);
    RUN(test_stale_region_is_replaced);
    RUN(test_abandoned_creation_is_swept);
    RUN(test_cross_process_queue);
    RUN(test_join_waits_for_ready);
    RUN(test_damaged_header_is_refused);
    RUN(test_reclaimed_slot_starts_clean);
    RUN(test_dead_creator_is_told);
    RUN(test_attach_removes_a_dead_region);
    RUN(test_closed_region_is_no_dead_creator);
    RUN(test_restarted_creator_replaces_a_creatorless_region);
    RUN(test_consumers_leaving_at_once_remove_it);
    RUN(test_create_under_a_umask_of_0777);
    RUN(test_writable_by_others_needs_trust);
    RUN(test_slot_start_time_is_the_process_start);
    return 0;
}

/* core/src/region.c — the region's life: create, attach, liveness, detach, check. */
#define _GNU_SOURCE
#include "ipo/region.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipo/access.h"
#include "ipo/atomics.h"
#include "ipo/errors.h"
#include "ipo/format.h"
#include "ipo/queue.h"
#include "internal.h"

/* Where glibc keeps POSIX shared memory objects: used to compare the inode a
 * name points at with the one we hold, before unlinking. */
#define SHM_DIR IPO__SHM_DIR
/* A path under SHM_DIR: room for any file name the directory can hold. */
#define SHM_PATH_MAX (sizeof(SHM_DIR) + NAME_MAX + 2)

/* ---- small helpers ------------------------------------------------------ */

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static uint32_t fnv1a(uint32_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (uint8_t)(v >> (8 * i));
        h *= 16777619u;
    }
    return h;
}

uint32_t ipo_layout_hash(void)
{
    const uint64_t facts[] = {
        IPO_LAYOUT_VERSION,
        sizeof(ipo_header_t), offsetof(ipo_header_t, access), offsetof(ipo_header_t, queue),
        offsetof(ipo_header_t, attach_count), offsetof(ipo_header_t, next_gen),
        offsetof(ipo_header_t, changes), offsetof(ipo_header_t, takeovers),
        offsetof(ipo_header_t, hash_key_check), offsetof(ipo_header_t, note),
        offsetof(ipo_header_t, line), IPO_ACCESS_HANDED, IPO_LINE_DUE, IPO_LINE_AWAKE,
        sizeof(ipo_slot_t), offsetof(ipo_slot_t, waiting_for), offsetof(ipo_slot_t, sleepers),
        offsetof(ipo_slot_t, pin_log), offsetof(ipo_slot_t, turns), offsetof(ipo_queue_t, taken),
        sizeof(ipo_alloc_root_t), IPO_ALLOC_FL_COUNT, IPO_ALLOC_SL_COUNT, IPO_ALLOC_GRANULE,
        sizeof(ipo_block_t), IPO_BLOCK_TAG_SHIFT,
        sizeof(ipo_queue_t), sizeof(ipo_ring_t),
        sizeof(ipo_obj_t), offsetof(ipo_obj_t, v), IPO_T_LAST_BUILTIN_,
        IPO_LIVENESS_LOCK_BASE,
    };
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++)
        h = fnv1a(h, facts[i]);
    return h;
}

int ipo_region_name_check(const char *name)
{
    if (!name)
        return -IPO_EINVAL;
    if (name[0] == '/')
        name++;
    size_t len = strlen(name);
    if (len == 0 || len > IPO_NAME_MAX || strchr(name, '/'))
        return -IPO_EINVAL;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -IPO_EINVAL;
    return 0;
}

static void set_shm_name(ipo_region_t *r, const char *name)
{
    if (name[0] == '/')
        name++;
    snprintf(r->shm_name, sizeof(r->shm_name), "/%s", name);
}

static void handle_reset(ipo_region_t *r)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

/* ---- liveness: one OFD lock byte per slot -------------------------------- */

static struct flock liveness_range(short type, uint32_t first_slot, uint32_t n)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)(IPO_LIVENESS_LOCK_BASE + first_slot);
    fl.l_len = (off_t)n;
    return fl;
}

/* Takes slot's liveness lock without waiting: 0, or -1 when a live process holds it. */
static int slot_lock(int fd, uint32_t slot)
{
    struct flock fl = liveness_range(F_WRLCK, slot, 1);
    return fcntl(fd, F_OFD_SETLK, &fl);
}

static void slot_unlock(int fd, uint32_t slot)
{
    struct flock fl = liveness_range(F_UNLCK, slot, 1);
    fcntl(fd, F_OFD_SETLK, &fl);
}

/* Whether another open file description holds a lock on slots [first, first + n). */
int ipo__slot_trylock(int fd, uint32_t slot)
{
    return slot_lock(fd, slot);
}

void ipo__slot_unlock(int fd, uint32_t slot)
{
    slot_unlock(fd, slot);
}

static int locks_held(int fd, uint32_t first, uint32_t n)
{
    struct flock fl = liveness_range(F_WRLCK, first, n);
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return 1; /* cannot tell: assume alive, never remove a live region */
    return fl.l_type != F_UNLCK;
}

int ipo__liveness_held(int fd, uint32_t first, uint32_t n)
{
    return locks_held(fd, first, n);
}

int ipo__slot_lock_held(int fd, uint32_t slot)
{
    return locks_held(fd, slot, 1);
}

/* ---- formatting ---------------------------------------------------------- */

typedef struct layout_plan {
    uint64_t size, slots_off, alloc_off, heap_off;
    uint32_t slots;
} layout_plan_t;

static int plan_layout(const ipo_region_options_t *opts, uint64_t size, layout_plan_t *p)
{
    uint32_t slots = opts && opts->slots ? opts->slots : IPO_DEFAULT_SLOTS;
    if (slots < 2 || slots > IPO_MAX_SLOTS)
        return -IPO_EINVAL;
    p->slots = slots;
    p->size = size;
    p->slots_off = round_up(sizeof(ipo_header_t), IPO_CACHE_LINE);
    p->alloc_off = round_up(p->slots_off + (uint64_t)slots * sizeof(ipo_slot_t), IPO_CACHE_LINE);
    p->heap_off = round_up(p->alloc_off + sizeof(ipo_alloc_root_t), IPO_CACHE_LINE);
    /* Leave the heap room for the queue's ring and some objects. */
    if (size < p->heap_off + 4096)
        return -IPO_EINVAL;
    return 0;
}

/* Points the handle at a region whose header offsets were validated (or
 * just written, by format). The slot table's place and length are taken
 * once, here, as the allocator root's is: a later write to those header
 * fields cannot send this handle outside the mapping. */
static void bind_handle(ipo_region_t *r, void *mem, uint64_t size)
{
    r->base = mem;
    r->size = size;
    r->hdr = mem;
    r->heap.base = mem;
    r->heap.root = (ipo_alloc_root_t *)((uint8_t *)mem + r->hdr->alloc_off);
    r->heap.span = size;
    r->slots = (ipo_slot_t *)((uint8_t *)mem + r->hdr->slots_off);
    r->slot_count = r->hdr->slot_count;
    r->hash_key[0] = r->hdr->hash_key[0];
    r->hash_key[1] = r->hdr->hash_key[1];
    r->fork_gen = ipo__fork_generation();
}

/* Why the last attach or join of this thread found the region damaged. */
static _Thread_local char corrupt_reason[256];

const char *ipo_region_corrupt_reason(void)
{
    return corrupt_reason;
}

/* The identity fields (the caller has read the magic, with acquire), then
 * every offset and size the header holds: 0, -IPO_ELAYOUT, -IPO_ECORRUPT. */
static int header_usable(const ipo_header_t *hdr, uint64_t size)
{
    if (hdr->layout_version != IPO_LAYOUT_VERSION || hdr->layout_hash != ipo_layout_hash() ||
        hdr->total_size != size)
        return -IPO_ELAYOUT;
    return ipo__region_validate(hdr, size, corrupt_reason, sizeof(corrupt_reason));
}

int ipo__region_bind_observed(ipo_region_t *r, void *mem, uint64_t size)
{
    const ipo_header_t *hdr = mem;
    /* Acquire: pairs with the creator's release of the magic and of READY
     * (as an attacher's loads), so what they publish is seen whole. */
    if (ipo_atomic_load_acquire(&((ipo_header_t *)mem)->magic) != IPO_MAGIC)
        return -IPO_ELAYOUT;
    uint32_t state = ipo_atomic_load_acquire(&((ipo_header_t *)mem)->state);
    if (state == IPO_STATE_INIT)
        return -IPO_EAGAIN;
    corrupt_reason[0] = 0;
    int rc = header_usable(hdr, size);
    if (rc)
        return rc;
    handle_reset(r);
    bind_handle(r, mem, size);
    return 0;
}

/* Writes everything but the final READY state. The magic comes last among
 * the identity fields, so an attacher that sees it sees them all. */
static int format_memory(void *mem, const layout_plan_t *p, uint32_t mode)
{
    ipo_header_t *hdr = mem;
    memset(hdr, 0, p->heap_off);
    hdr->layout_version = IPO_LAYOUT_VERSION;
    hdr->layout_hash = ipo_layout_hash();
    hdr->total_size = p->size;
    hdr->state = IPO_STATE_INIT;
    hdr->creator_pid = (uint32_t)getpid();
    hdr->owner_uid = (uint32_t)geteuid();
    hdr->mode = mode;
    hdr->slot_count = p->slots;
    hdr->slots_off = p->slots_off;
    hdr->alloc_off = p->alloc_off;
    if (getrandom(hdr->hash_key, sizeof(hdr->hash_key), 0) != (ssize_t)sizeof(hdr->hash_key)) {
        /* No entropy yet (early boot): a fixed key still hashes stably. */
        hdr->hash_key[0] = UINT64_C(0x736f6d6570736575);
        hdr->hash_key[1] = UINT64_C(0x646f72616e646f6d);
    }
    hdr->hash_key_check = ipo__hash_key_digest(hdr->hash_key);

    ipo_region_t tmp;
    handle_reset(&tmp);
    bind_handle(&tmp, mem, p->size);
    int rc = ipo_alloc_init(&tmp.heap, p->heap_off, p->size - p->heap_off,
                            hdr->hash_key[0] ^ (hdr->hash_key[1] << 1));
    if (rc)
        return rc;
    rc = ipo_queue_init(&tmp);
    if (rc)
        return rc;
    /* SYNC POINT region magic: pairs with the acquire loads of magic in
     * ipo_region_attach() and ipo_region_join(). The identity fields above
     * are written once, before this, and only read after it, so they stay
     * plain; the allocator and the queue are later written only under access. */
    ipo_atomic_store_release(&hdr->magic, IPO_MAGIC);
    return 0;
}

static inline ipo_slot_t *slot_at(const ipo_region_t *r, uint32_t i)
{
    return r->slots + i;
}

/* Takes back the registrations a predecessor that died asleep left in the
 * access word: else every release would look for sleepers for good. Never
 * more than the word holds: register_sleeper() (loop/src/handoff.c) counts
 * a registration in the slot before it adds it to the word, so a
 * predecessor killed between the two left one more in its slot than in the
 * word, and subtracting that one would borrow from the acquisition count. */
void ipo__take_back_sleepers(ipo_region_t *r, ipo_slot_t *s)
{
    /* Relaxed: the predecessor is gone (we won its lock or its
     * compare-and-swap), so nobody else writes this field now. */
    uint64_t left = ipo_atomic_exchange_relaxed(&s->sleepers, 0u);
    uint64_t *word = &r->hdr->access;
    uint64_t cur = ipo_atomic_load_relaxed(word);
    while (left) {
        uint64_t held = (cur & IPO_ACCESS_SLEEPER_MASK) / IPO_ACCESS_SLEEPER_ONE;
        uint64_t take = left < held ? left : held;
        if (!take)
            break;
        /* SYNC POINT access word. Release: pairs with the acquire half of the
         * fetch-and in ipo_access_release(), so a releaser that reads the word
         * after this also reads the waiting_for that occupy_slot() cleared. */
        if (ipo_atomic_cas_release(word, &cur, cur - take * IPO_ACCESS_SLEEPER_ONE))
            break;
    }
}

void ipo__line_forget(ipo_region_t *r, uint32_t i)
{
    uint32_t *line = &r->hdr->line;
    /* SYNC POINT line: acquire pairs with the release of the compare-and-
     * swap with which a releaser that handed slot i the turn cleared the
     * line (ipo_handoff_release, loop/src/handoff.c): reading its 0 (or
     * later) makes its handoff visible to our look at the access word.
     * Our own swap, if it comes first, makes that releaser's fail, and it
     * takes the turn back. */
    uint32_t cur = ipo_atomic_load_acquire(line);
    while ((cur & IPO_LINE_SLOT_MASK) == i + 1)
        if (ipo_atomic_cas_acq_rel(line, &cur, 0u))
            break;
}

/* Fills a slot this process has just won and makes the handle use it.
 * Releasers read a slot without holding access, at any time: wake() and
 * ring() in loop/src/handoff.c read waiting_for, wake_pending, sleep_ticket
 * and generation. So every field goes through an atomic helper, and the
 * order of the stores is the order in which a releaser may see them. */
static void occupy_slot(ipo_region_t *r, uint32_t i, uint32_t role)
{
    ipo_slot_t *s = slot_at(r, i);
    /* First stop looking like the predecessor's sleepers. A releaser that
     * read the old waiting_for just before rings the old generation's
     * doorbell, finds nobody reading it, and passes over this slot. */
    ipo_atomic_store_relaxed(&s->waiting_for, 0u);
    ipo_atomic_store_relaxed(&s->sleep_ticket, UINT64_C(0));
    ipo__take_back_sleepers(r, s);
    /* The pins a dead predecessor's buffers left: dropped, its log kept
     * as ours (freeing it needs access, which a claimer does not hold). */
    ipo__pins_drop(r, s, 0);
    r->pin_hint_chunk = 0;
    uint32_t pid = (uint32_t)getpid();
    ipo_atomic_store_relaxed(&s->pid, pid);
    ipo_atomic_store_relaxed(&s->role, role);
    ipo_atomic_store_relaxed(&s->start_time, ipo__process_start_time((int)pid));
    ipo_atomic_store_relaxed(&s->turns, UINT64_C(0));
    /* A new generation names a new doorbell. Only claimers write it, and
     * we hold the slot, so our own relaxed read is exact.
     * SYNC POINT slot generation: pairs with the acquire load of generation
     * in ring() (loop/src/handoff.c); a ringer that reads the new generation
     * reads the cleared waiting fields and the new pid with it. */
    uint32_t generation = ipo_atomic_load_relaxed(&s->generation) + 1;
    ipo_atomic_store_release(&s->generation, generation);
    /* A ring that found the predecessor's doorbell gone left the flag set
     * (see ring()); clear it so that this occupant can be rung. It clears it
     * again itself each time it registers, so the order does not matter. */
    ipo_atomic_store_relaxed(&s->wake_pending, 0u);
    /* Relaxed: for processes, state is informative (the slot belongs to
     * whoever holds its lock), and ipo_region_join() claimed the slot with
     * its compare-and-swap already. The generation above publishes the slot. */
    ipo_atomic_store_relaxed(&s->state, (uint32_t)IPO_SLOT_ACTIVE);
    r->me = s;
    r->slot = i;
    r->access_mine = (uint64_t)i + 1;
    r->joined = 1;
}

int ipo_region_format(void *mem, uint64_t size, const ipo_region_options_t *opts)
{
    layout_plan_t plan;
    if (!mem)
        return -IPO_EINVAL;
    int rc = plan_layout(opts, size, &plan);
    if (rc)
        return rc;
    rc = format_memory(mem, &plan, 0600);
    if (rc)
        return rc;
    /* SYNC POINT region ready: pairs with the acquire load of state in
     * ipo_region_join(), so a thread that joins finds the region whole. */
    ipo_atomic_store_release(&((ipo_header_t *)mem)->state, (uint32_t)IPO_STATE_READY);
    return 0;
}

int ipo_region_join(ipo_region_t *r, void *mem, uint64_t size)
{
    handle_reset(r);
    ipo_header_t *hdr = mem;
    /* SYNC POINT region magic: pairs with the store-release of magic in
     * format_memory(); once it is seen, every identity field is. */
    uint64_t magic = ipo_atomic_load_acquire(&hdr->magic);
    if (magic == 0)
        return -IPO_EAGAIN; /* not formatted yet */
    if (magic != IPO_MAGIC || size < sizeof(ipo_header_t))
        return -IPO_ELAYOUT;
    /* SYNC POINT region ready: pairs with the store-release of READY in
     * ipo_region_format(). */
    uint32_t state = ipo_atomic_load_acquire(&hdr->state);
    if (state == IPO_STATE_INIT)
        return -IPO_EAGAIN;
    int rc = header_usable(hdr, size);
    if (rc)
        return rc;
    if (state != IPO_STATE_READY) {
        if (state == IPO_STATE_CLOSING)
            return -IPO_ECLOSING;
        snprintf(corrupt_reason, sizeof(corrupt_reason), "the region's state %u is none of its states", state);
        return -IPO_ECORRUPT;
    }
    bind_handle(r, mem, size);
    /* No file, no locks: threads claim slots with a compare-and-swap.
     * SYNC POINT slot claim: its acquire pairs with the store-release of
     * FREE in ipo_region_leave(), so the new occupant sees everything the
     * last one wrote to the slot. */
    for (uint32_t i = 0; i < r->slot_count; i++) {
        uint32_t expected = IPO_SLOT_FREE;
        if (ipo_atomic_cas_acquire(&slot_at(r, i)->state, &expected, (uint32_t)IPO_SLOT_ACTIVE)) {
            occupy_slot(r, i, i == 0 ? IPO_ROLE_CREATOR : IPO_ROLE_CONSUMER);
            return 0;
        }
    }
    return -IPO_EFULL;
}

void ipo_region_leave(ipo_region_t *r)
{
    /* SYNC POINT slot claim: pairs with the compare-and-swap in
     * ipo_region_join() by the next thread to claim this slot. */
    if (r->joined)
        ipo_atomic_store_release(&r->me->state, (uint32_t)IPO_SLOT_FREE);
    handle_reset(r);
}

/* ---- unlinking only what is ours, and only what is dead ------------------ */

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
static void unlink_if_same(const char *shm_name, int fd)
{
    if (names_own(shm_name, fd))
        shm_unlink(shm_name);
}

int ipo__remove_if_nobody(const char *shm_name, int fd, int wait, int dry_run)
{
    if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0)
        return 0;
    /* Any participant alive, of any layout version, keeps the region. */
    int removed = !locks_held(fd, 0, IPO_MAX_SLOTS) && names_own(shm_name, fd);
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
    if (!locks_held(fd, 0, 1)) {
        unlink_if_same(shm_name, fd);
        rc = 0;
    }
    flock(fd, LOCK_UN);
out:
    close_keeping_errno(fd);
    return rc;
}

/* ---- create --------------------------------------------------------------- */

static int map_region(int fd, uint64_t size, int prefault, void **out)
{
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED)
        return -IPO_ESYS;
    if (prefault) {
        /* Install every page-table entry now, so that no page fault lands on
         * the hot path. Best effort: an old kernel just faults later. */
#ifdef MADV_POPULATE_WRITE
        madvise(mem, size, MADV_POPULATE_WRITE);
#endif
    }
    *out = mem;
    return 0;
}

#define CREATING_PREFIX IPO__CREATING_PREFIX

/* Gives the formatted region at fd its name: link(2) fails on an existing
 * name atomically, so nobody ever sees the name on a half-made region. */
static int publish_name(const char *tmp_name, const char *shm_name, int keep_stale)
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

int ipo_region_create(ipo_region_t *r, const char *name, const ipo_region_options_t *opts)
{
    handle_reset(r);
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
    rc = plan_layout(opts, size, &plan);
    if (rc)
        return rc;
    set_shm_name(r, name);
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
    if (slot_lock(fd, 0) < 0 || fchmod(fd, mode) < 0 || ftruncate(fd, (off_t)size) < 0) {
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
    rc = map_region(fd, size, opts->prefault, &mem);
    if (rc) {
        err = errno;
        goto fail;
    }
    rc = format_memory(mem, &plan, mode);
    struct stat st;
    if (rc || fstat(fd, &st) < 0) {
        err = rc ? 0 : errno;
        rc = rc ? rc : -IPO_ESYS;
        goto fail;
    }
    r->inode = (uint64_t)st.st_ino;
    r->is_creator = 1;
    bind_handle(r, mem, size);
    occupy_slot(r, 0, IPO_ROLE_CREATOR);
    /* READY before the name. SYNC POINT region ready: pairs with the
     * acquire load of state in ipo_region_attach(), so whoever finds the
     * name finds the region whole, slot 0 taken. */
    ipo_atomic_store_release(&r->hdr->state, (uint32_t)IPO_STATE_READY);
    rc = publish_name(tmp_name, r->shm_name, opts->keep_stale);
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
    handle_reset(r);
    errno = err;
    return rc;
}

/* ---- attach --------------------------------------------------------------- */

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
    handle_reset(r);
    int rc = ipo_region_name_check(name);
    if (rc)
        return rc;
    uint32_t mode = opts && opts->mode ? opts->mode : 0600;
    set_shm_name(r, name);
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
    rc = map_region(fd, size, 0, &mem);
    if (rc) {
        err = errno;
        goto fail;
    }
    const ipo_header_t *hdr = mem;
    /* SYNC POINT region magic: pairs with the store-release of magic in
     * format_memory(). Once it is seen, every identity field is (they are
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
    if (!locks_held(fd, 0, 1)) {
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
    rc = header_usable(hdr, size);
    if (rc)
        goto fail;
    if (state != IPO_STATE_READY) {
        if (state == IPO_STATE_CLOSING) {
            rc = -IPO_ECLOSING;
        } else {
            snprintf(corrupt_reason, sizeof(corrupt_reason),
                     "the region's state %u is none of its states", state);
            rc = -IPO_ECORRUPT;
        }
        goto fail;
    }
    bind_handle(r, mem, size);
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
        if (slot_lock(fd, i) < 0)
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
            slot_unlock(fd, i);
            continue;
        }
        occupy_slot(r, i, IPO_ROLE_CONSUMER);
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
    ipo_atomic_fetch_add_release(&r->hdr->attach_count, UINT64_C(1));
    return 0;

fail:
    ipo__registry_remove(r);
    if (mem)
        munmap(mem, size);
    close(fd);
    handle_reset(r);
    errno = err;
    return rc;
}

/* ---- leaving --------------------------------------------------------------- */

int ipo_region_peers_alive(const ipo_region_t *r)
{
    if (r->fd < 0 || !r->hdr)
        return 1;
    /* Our own open file description's lock does not conflict with itself,
     * so one test over every slot's byte finds any other holder. */
    return locks_held(r->fd, 0, r->slot_count);
}

unsigned ipo_region_consumers_alive(const ipo_region_t *r)
{
    unsigned alive = 0;
    if (r->fd < 0 || !r->hdr)
        return 0;
    for (uint32_t i = 1; i < r->slot_count; i++)
        alive += locks_held(r->fd, i, 1) ? 1u : 0u;
    return alive;
}

int ipo_region_creator_alive(ipo_region_t *r)
{
    if (r->is_creator || r->fd < 0 || !r->hdr)
        return 1;
    /* Relaxed, process-local: threads sharing the handle may both look; a
     * dead creator stays dead, so any of them may set it. */
    if (ipo_atomic_load_relaxed(&r->creator_gone))
        return 0;
    /* Slot 0 is the creator's, and only its creator ever holds its lock:
     * attachers take slots from 1, and a new creator makes a new file. */
    if (locks_held(r->fd, 0, 1))
        return 1;
    ipo_atomic_store_relaxed(&r->creator_gone, 1);
    return 0;
}

void ipo_region_begin_close(ipo_region_t *r)
{
    /* Relaxed: an attacher that reads CLOSING (the acquire load of state in
     * ipo_region_attach()) gives up without reading anything else, so this
     * store publishes nothing. */
    if (r->is_creator && r->hdr)
        ipo_atomic_store_relaxed(&r->hdr->state, (uint32_t)IPO_STATE_CLOSING);
}

void ipo_region_detach(ipo_region_t *r)
{
    if (!r->joined)
        return;
    r->joined = 0;
    /* A child of fork() holds a copy of the parent's handle: the slot, the
     * access and the name are the parent's, and the child touches none. */
    if (!ipo__handle_is_ours(r)) {
        r->me = NULL;
        return;
    }
    /* Leaving while holding access would hang every other participant. This
     * release rings no sleeper (the core has no doorbells): a caller with a
     * waker releases through ipo_handoff_release() before detaching. */
    if (ipo_access_held(r))
        ipo_access_release(r);
    ipo__pins_abandon(r);
    /* For a process the slot is handed on by its lock (slot_unlock below,
     * which the kernel orders before the next claimer's slot_lock); the
     * release serves a handle joined in process memory, whose next claimer
     * is the compare-and-swap in ipo_region_join() (SYNC POINT slot claim). */
    ipo_atomic_store_release(&r->me->state, (uint32_t)IPO_SLOT_FREE);
    if (r->fd >= 0 && r->is_creator) {
        if (flock(r->fd, LOCK_EX) == 0) {
            unlink_if_same(r->shm_name, r->fd);
            flock(r->fd, LOCK_UN);
        }
        slot_unlock(r->fd, r->slot);
    } else if (r->fd >= 0) {
        /* A consumer leaving a region whose creator is gone (dead: it
         * removed nothing) removes it if it was the last one in it. Its own
         * lock goes first, under flock: of two consumers leaving at once,
         * the second to take flock sees the first's lock gone, so one of
         * them removes the region; a consumer attaching meanwhile holds a
         * lock, which keeps it. While the creator lives, this finds its
         * lock and removes nothing. */
        int locked = flock(r->fd, LOCK_EX) == 0;
        slot_unlock(r->fd, r->slot);
        if (locked) {
            if (!locks_held(r->fd, 0, IPO_MAX_SLOTS))
                unlink_if_same(r->shm_name, r->fd);
            flock(r->fd, LOCK_UN);
        }
    }
    r->me = NULL;
}

void ipo_region_unmap(ipo_region_t *r)
{
    if (r->joined)
        ipo_region_detach(r);
    if (r->fd >= 0) {
        if (r->base)
            munmap(r->base, r->size);
        /* In a child of fork() the descriptor was closed already, and its
         * number may have been reused since. */
        if (ipo__handle_is_ours(r)) {
            ipo__registry_remove(r);
            close(r->fd);
        }
    }
    handle_reset(r);
}

/* ---- check ----------------------------------------------------------------- */

int ipo_region_check(const ipo_region_t *r, char *why, size_t why_len)
{
    const ipo_header_t *hdr = r->hdr;
    if (!hdr) {
        if (why)
            snprintf(why, why_len, "the handle is not attached");
        return -IPO_EINVAL;
    }
    if (hdr->magic != IPO_MAGIC || hdr->layout_version != IPO_LAYOUT_VERSION ||
        hdr->layout_hash != ipo_layout_hash() || hdr->total_size != r->size) {
        if (why)
            snprintf(why, why_len, "the header's identity fields are damaged");
        return -IPO_ECORRUPT;
    }
    /* A participant sees the region ready, or closing. Relaxed: the
     * creator's store of CLOSING publishes nothing. */
    uint32_t state = ipo_atomic_load_relaxed(&hdr->state);
    if (state != IPO_STATE_READY && state != IPO_STATE_CLOSING) {
        if (why)
            snprintf(why, why_len, "the region's state %u is neither ready nor closing", state);
        return -IPO_ECORRUPT;
    }
    /* What an attacher checks; then what this handle took from the header
     * when it attached must still be what the header says. */
    int rc = ipo__region_validate(hdr, r->size, why, why_len);
    if (rc)
        return rc;
    struct stat st;
    if (r->fd >= 0 && fstat(r->fd, &st) == 0 && st.st_uid != hdr->owner_uid) {
        if (why)
            snprintf(why, why_len, "the header names uid %u as its owner, the file's is %u",
                     hdr->owner_uid, (unsigned)st.st_uid);
        return -IPO_ECORRUPT;
    }
    if (hdr->slot_count != r->slot_count || r->base + hdr->slots_off != (uint8_t *)r->slots ||
        r->base + hdr->alloc_off != (uint8_t *)r->heap.root ||
        hdr->hash_key[0] != r->hash_key[0] || hdr->hash_key[1] != r->hash_key[1]) {
        if (why)
            snprintf(why, why_len, "the header's slot table, allocator root or hash key changed "
                     "since this participant attached");
        return -IPO_ECORRUPT;
    }
    rc = ipo_alloc_check(&r->heap, why, why_len);
    if (rc)
        return rc;
    return ipo_queue_check(r, why, why_len);
}

/* tests/c/test_channel.c — channels: open and its refusals, order, full and empty, loans, claims of a side, the directory's growth, damaged rings, and two real processes. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel_msgs.h"
#include "ipo/access.h"
#include "ipo/channel.h"
#include "ipo/region.h"
#include "procs.h"
#include "region_twin.h"
#include "task.h"

static void *twin_with_access(uint64_t size, ipo_region_t *r)
{
    void *mem = region_twin_new(size, r);
    ASSERT(ipo_access_try_acquire(r));
    return mem;
}

static void test_open_and_refusals(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 20, &r);
    ipo_channel_t ch, again;
    /* Creating changes the directory and the heap: only in a turn. */
    ASSERT_ERR(ipo_channel_open(&r, "frames", 8, 1024, &ch), IPO_ENOTHELD);
    ASSERT(ipo_access_try_acquire(&r));
    char longest[IPO_CHANNEL_NAME_MAX + 2];
    memset(longest, 'n', sizeof(longest));
    longest[IPO_CHANNEL_NAME_MAX + 1] = '\0';
    ASSERT_ERR(ipo_channel_open(&r, longest, 8, 1024, &ch), IPO_EINVAL);
    longest[IPO_CHANNEL_NAME_MAX] = '\0';
    ASSERT_OK(ipo_channel_open(&r, longest, 1, 16, &ch));
    ASSERT_ERR(ipo_channel_open(&r, "", 8, 1024, &ch), IPO_EINVAL);
    ASSERT_ERR(ipo_channel_open(&r, "frames", 6, 1024, &ch), IPO_EINVAL);   /* not a power of two */
    ASSERT_ERR(ipo_channel_open(&r, "frames", 8, 0, &ch), IPO_EINVAL);
    ASSERT_ERR(ipo_channel_open(&r, "frames", 0, 0, &ch), IPO_ENOENT);     /* any shape: must exist */
    ASSERT_ERR(ipo_channel_open(&r, "frames", 1024, 1 << 20, &ch), IPO_ENOMEM);
    ASSERT_OK(ipo_channel_open(&r, "frames", 8, 1000, &ch));
    ASSERT_UEQ(ch.slots, 8);
    ASSERT_UEQ(ch.slot_size, 1000);
    ASSERT_UEQ(ch.stride, 1024);
    ASSERT_UEQ(((uintptr_t)ch.slot0 - (uintptr_t)r.base) % 64, 0);
    /* Later opens find it; other sizes are refused; "any shape" finds it. */
    ASSERT_OK(ipo_channel_open(&r, "frames", 8, 1000, &again));
    ASSERT(again.c == ch.c);
    ASSERT_ERR(ipo_channel_open(&r, "frames", 16, 1000, &again), IPO_EMISMATCH);
    ASSERT_ERR(ipo_channel_open(&r, "frames", 8, 1001, &again), IPO_EMISMATCH);
    ASSERT_OK(ipo_channel_open(&r, "frames", 0, 0, &again));
    ASSERT(again.c == ch.c);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* Messages come out in order, whole, across many wraps of the ring, with
 * the ring filled to its last slot and drained to empty. */
static void test_order_full_and_empty(void)
{
    ipo_region_t r;
    void *mem = twin_with_access(1 << 20, &r);
    ipo_channel_t ch;
    ASSERT_OK(ipo_channel_open(&r, "c", 4, 200, &ch));
    uint8_t buf[256];
    uint64_t len, sent = 0, got = 0, seed = 7;
    ASSERT_ERR(ipo_channel_try_receive(&ch, buf, sizeof(buf), &len), IPO_EEMPTY);
    ASSERT_ERR(ipo_channel_try_send(&ch, buf, 201), IPO_EMSGSIZE);
    for (int round = 0; round < 3000; round++) {
        int sends = (int)(test_rand(&seed) % 6), takes = (int)(test_rand(&seed) % 6);
        for (int i = 0; i < sends; i++) {
            uint8_t m[200];
            uint64_t n = msg_len(sent, sizeof(m));
            msg_fill(m, n, sent);
            int rc = ipo_channel_try_send(&ch, m, n);
            if (sent - got == 4) {
                ASSERT_EQ(rc, -IPO_ECHANFULL);
                break;
            }
            ASSERT_OK(rc);
            sent++;
        }
        ASSERT_UEQ(ipo_channel_pending(&ch), sent - got);
        for (int i = 0; i < takes; i++) {
            int rc = ipo_channel_try_receive(&ch, buf, sizeof(buf), &len);
            if (got == sent) {
                ASSERT_EQ(rc, -IPO_EEMPTY);
                break;
            }
            ASSERT_OK(rc);
            ASSERT_UEQ(len, msg_len(got, 200));
            ASSERT(msg_ok(buf, len, got));
            got++;
        }
    }
    ASSERT_GE(got, 1000);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

static void test_loans(void)
{
    ipo_region_t r;
    void *mem = twin_with_access(1 << 20, &r);
    ipo_channel_t ch;
    ASSERT_OK(ipo_channel_open(&r, "loans", 2, 100, &ch));
    void *w;
    uint64_t cap, len;
    const void *p;
    ASSERT_ERR(ipo_channel_send_commit(&ch, 10), IPO_EINVAL);
    ASSERT_ERR(ipo_channel_receive_release(&ch), IPO_EINVAL);
    ASSERT_OK(ipo_channel_send_loan(&ch, &w, &cap));
    ASSERT_UEQ(cap, 100);
    ASSERT_UEQ((uintptr_t)w % 64, 0);
    msg_fill(w, 50, 0);
    /* Nothing is published before the commit. */
    ASSERT_ERR(ipo_channel_receive_peek(&ch, &p, &len), IPO_EEMPTY);
    ASSERT_ERR(ipo_channel_send_commit(&ch, 101), IPO_EMSGSIZE); /* the loan stays */
    ASSERT_OK(ipo_channel_send_commit(&ch, 50));
    ASSERT_OK(ipo_channel_try_send(&ch, w, 16)); /* any bytes: the second slot */
    ASSERT_ERR(ipo_channel_send_loan(&ch, &w, &cap), IPO_ECHANFULL);
    /* A peek leaves the message; peeking again gives it again. */
    ASSERT_OK(ipo_channel_receive_peek(&ch, &p, &len));
    ASSERT_UEQ(len, 50);
    ASSERT(msg_ok(p, len, 0));
    const void *p2;
    ASSERT_OK(ipo_channel_receive_peek(&ch, &p2, &len));
    ASSERT(p2 == p);
    /* A buffer too small says how much is needed and leaves the message. */
    uint8_t small[8];
    ASSERT_ERR(ipo_channel_try_receive(&ch, small, sizeof(small), &len), IPO_EMSGSIZE);
    ASSERT_UEQ(len, 50);
    ASSERT_OK(ipo_channel_receive_release(&ch));
    /* The slot freed, the sender has room again. */
    ASSERT_OK(ipo_channel_send_loan(&ch, &w, &cap));
    msg_fill(w, 100, 2);
    ASSERT_OK(ipo_channel_send_commit(&ch, 100));
    uint8_t buf[100];
    ASSERT_OK(ipo_channel_try_receive(&ch, buf, sizeof(buf), &len));
    ASSERT_UEQ(len, 16);
    ASSERT_OK(ipo_channel_try_receive(&ch, buf, sizeof(buf), &len));
    ASSERT(msg_ok(buf, len, 2));
    region_twin_free(mem, &r);
}

/* A side is one live participant's: a second claimer gets EBUSY, whether
 * another participant or another handle of the same one; a closed side or
 * a side whose participant left is claimed by the next. */
static void test_claims(void)
{
    ipo_region_t a, b;
    void *mem = twin_with_access(1 << 20, &a);
    ASSERT_OK(ipo_region_join(&b, mem, 1 << 20));
    ipo_channel_t ca, ca2, cb;
    ASSERT_OK(ipo_channel_open(&a, "claims", 4, 64, &ca));
    ASSERT_OK(ipo_channel_open(&a, "claims", 4, 64, &ca2));
    ipo_access_release(&a);
    ASSERT(ipo_access_try_acquire(&b));
    ASSERT_OK(ipo_channel_open(&b, "claims", 4, 64, &cb));
    ipo_access_release(&b);
    ASSERT(ipo_access_try_acquire(&a));
    uint8_t m[64];
    msg_fill(m, 64, 0);
    ASSERT_OK(ipo_channel_try_send(&ca, m, 64));
    ASSERT_ERR(ipo_channel_try_send(&cb, m, 64), IPO_EBUSY);
    ASSERT_ERR(ipo_channel_try_send(&ca2, m, 64), IPO_EBUSY);
    ASSERT_ERR(ipo_channel_claim(&cb, IPO_CHANNEL_SEND | IPO_CHANNEL_RECEIVE), IPO_EBUSY);
    ASSERT_EQ(cb.sides, 0); /* all or nothing */
    /* The receiving side is free: b takes it. */
    uint8_t buf[64];
    uint64_t len;
    ASSERT_OK(ipo_channel_try_receive(&cb, buf, sizeof(buf), &len));
    ASSERT(msg_ok(buf, len, 0));
    ASSERT_ERR(ipo_channel_try_receive(&ca, buf, sizeof(buf), &len), IPO_EBUSY);
    /* a's handle gives the sending side up: its other handle sends next,
     * from where the first left. */
    ipo_channel_close(&ca);
    msg_fill(m, 64, 1);
    ASSERT_OK(ipo_channel_try_send(&ca2, m, 64));
    /* b leaves the region without closing its handle: its receiving side
     * is a gone participant's, taken over by a; the message waits for it. */
    ipo_region_leave(&b);
    ASSERT_OK(ipo_channel_try_receive(&ca2, buf, sizeof(buf), &len));
    ASSERT(msg_ok(buf, len, 1));
    ASSERT_CHECK(ipo_region_check(&a, why, sizeof(why)));
    region_twin_free(mem, &a);
}

/* More channels than the first directory holds: it is replaced, and every
 * channel is found again, with its own messages. */
static void test_directory_grows(void)
{
    ipo_region_t r;
    void *mem = twin_with_access(1 << 21, &r);
    enum { N = 40 };
    ipo_channel_t ch[N];
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "ch-%d", i);
        ASSERT_OK(ipo_channel_open(&r, name, 2, 32, &ch[i]));
        uint8_t m[32];
        msg_fill(m, 32, (uint64_t)i);
        ASSERT_OK(ipo_channel_try_send(&ch[i], m, 32));
    }
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    for (int i = 0; i < N; i++) {
        ipo_channel_t again;
        snprintf(name, sizeof(name), "ch-%d", i);
        ASSERT_OK(ipo_channel_open(&r, name, 0, 0, &again));
        ASSERT(again.c == ch[i].c);
        uint8_t buf[32];
        uint64_t len;
        ASSERT_OK(ipo_channel_try_receive(&again, buf, sizeof(buf), &len));
        ASSERT(msg_ok(buf, len, (uint64_t)i));
    }
    region_twin_free(mem, &r);
}

/* Every index, length and size read from the region is bounded first: a
 * damaged channel gives -IPO_ECORRUPT (and check() says why), never a read
 * or write outside it. Under ASan, a miss shows as a crash. */
static void test_damaged_channels(void)
{
    ipo_region_t r;
    void *mem = twin_with_access(1 << 20, &r);
    ipo_channel_t ch;
    ASSERT_OK(ipo_channel_open(&r, "hurt", 4, 64, &ch));
    ipo_chan_t *c = ch.c;
    uint8_t buf[64], m[64];
    uint64_t len;
    const void *p;
    msg_fill(m, 64, 0);
    ASSERT_OK(ipo_channel_try_send(&ch, m, 64));

    /* A tail more than a ring ahead of the receiver, or behind it. */
    uint64_t tail = c->tail;
    c->tail = 1000;
    ASSERT_ERR(ipo_channel_try_receive(&ch, buf, sizeof(buf), &len), IPO_ECORRUPT);
    ASSERT(ipo_region_check(&r, NULL, 0) == -IPO_ECORRUPT);
    c->tail = UINT64_MAX;
    ASSERT_ERR(ipo_channel_receive_peek(&ch, &p, &len), IPO_ECORRUPT);
    c->tail = tail;
    /* A length past the slot size. */
    uint64_t *slot_len = &ch.lengths[0];
    *slot_len = 65;
    ASSERT_ERR(ipo_channel_try_receive(&ch, buf, sizeof(buf), &len), IPO_ECORRUPT);
    *slot_len = UINT64_MAX;
    ASSERT_ERR(ipo_channel_receive_peek(&ch, &p, &len), IPO_ECORRUPT);
    *slot_len = 64;
    ASSERT_OK(ipo_channel_try_receive(&ch, buf, sizeof(buf), &len));
    ASSERT(msg_ok(buf, len, 0));
    /* A head ahead of the sender, or more than a ring behind it: fill the
     * ring so that the sender loads the head. */
    for (uint64_t i = 1; i <= 4; i++)
        ASSERT_OK(ipo_channel_try_send(&ch, m, 64));
    uint64_t head = c->head;
    c->head = head + 100;
    ASSERT_ERR(ipo_channel_try_send(&ch, m, 64), IPO_ECORRUPT);
    c->head = head - 1;
    ASSERT_ERR(ipo_channel_try_send(&ch, m, 64), IPO_ECORRUPT);
    c->head = head;
    ASSERT_ERR(ipo_channel_try_send(&ch, m, 64), IPO_ECHANFULL);

    /* A claim that names no participant slot. */
    ipo_channel_t other;
    ASSERT_OK(ipo_channel_open(&r, "hurt", 4, 64, &other));
    uint64_t claim = c->sender;
    c->sender = UINT64_C(5000);
    ASSERT_ERR(ipo_channel_claim(&other, IPO_CHANNEL_SEND), IPO_ECORRUPT);
    ASSERT(ipo_region_check(&r, NULL, 0) == -IPO_ECORRUPT);
    c->sender = claim;

    /* Identity: each field that bounds the slots. Open refuses the block. */
    struct { uint64_t *field; uint64_t bad; } ids[] = {
        { &c->magic, 1 }, { &c->slot_size, 0 }, { &c->slot_size, UINT64_MAX },
        { &c->stride, 128 }, { &c->stride, 0 }, { &c->stride, UINT64_C(1) << 50 },
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        uint64_t keep = *ids[i].field;
        *ids[i].field = ids[i].bad;
        ASSERT_ERR(ipo_channel_open(&r, "hurt", 0, 0, &other), IPO_ECORRUPT);
        ASSERT(ipo_region_check(&r, NULL, 0) == -IPO_ECORRUPT);
        *ids[i].field = keep;
    }
    uint32_t slots = c->slots;
    uint32_t bad_slots[] = { 0, 3, 1u << 21, 1u << 12 /* slots that outrun the block */ };
    for (size_t i = 0; i < sizeof(bad_slots) / sizeof(bad_slots[0]); i++) {
        c->slots = bad_slots[i];
        ASSERT_ERR(ipo_channel_open(&r, "hurt", 0, 0, &other), IPO_ECORRUPT);
        ASSERT(ipo_region_check(&r, NULL, 0) == -IPO_ECORRUPT);
    }
    c->slots = slots;

    /* The directory: its count past its capacity, an entry naming no
     * block, an unterminated name, and the header's offset itself. */
    ipo_channel_dir_t *d = (ipo_channel_dir_t *)(r.base + r.hdr->channels);
    uint64_t count = d->count;
    d->count = d->capacity + 1;
    ASSERT_ERR(ipo_channel_open(&r, "hurt", 0, 0, &other), IPO_ECORRUPT);
    d->count = count;
    ipo_off_t off = d->entries[0].chan;
    d->entries[0].chan = off + 64;
    ASSERT_ERR(ipo_channel_open(&r, "hurt", 0, 0, &other), IPO_ECORRUPT);
    ASSERT(ipo_region_check(&r, NULL, 0) == -IPO_ECORRUPT);
    d->entries[0].chan = r.size + 4096;
    ASSERT_ERR(ipo_channel_open(&r, "hurt", 0, 0, &other), IPO_ECORRUPT);
    d->entries[0].chan = off;
    memset(d->entries[0].name, 'x', sizeof(d->entries[0].name));
    ASSERT_ERR(ipo_channel_open(&r, "hurt", 0, 0, &other), IPO_ECORRUPT);
    ASSERT(ipo_region_check(&r, NULL, 0) == -IPO_ECORRUPT);
    memset(d->entries[0].name, 0, sizeof(d->entries[0].name));
    memcpy(d->entries[0].name, "hurt", 4);
    ipo_off_t dir = r.hdr->channels;
    r.hdr->channels = dir + 16;
    ASSERT_ERR(ipo_channel_open(&r, "hurt", 0, 0, &other), IPO_ECORRUPT);
    r.hdr->channels = r.size * 2;
    ASSERT_ERR(ipo_channel_open(&r, "hurt", 0, 0, &other), IPO_ECORRUPT);
    ASSERT(ipo_region_check(&r, NULL, 0) == -IPO_ECORRUPT);
    r.hdr->channels = dir;
    ASSERT_OK(ipo_channel_open(&r, "hurt", 0, 0, &other));
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* Two real processes: the parent sends, a child attached to the region
 * receives, both spinning on full and empty, with a ring much shorter
 * than the stream; every message arrives whole and in order. Then the
 * same the other way round, with loans. */
enum { STREAM = 20000, STREAM_SLOT = 4096 };

static int child_receive(const char *name, int loans)
{
    ipo_region_t c;
    if (ipo_region_attach(&c, name, NULL))
        return 2;
    ipo_channel_t ch;
    if (open_in_turn(&c, "stream", 8, STREAM_SLOT, &ch))
        return 3;
    static uint8_t buf[STREAM_SLOT];
    int64_t end = ipo_now_ns() + WAIT_BOUND_NS;
    for (uint64_t i = 0; i < STREAM;) {
        uint64_t len;
        const void *p;
        int rc = loans ? ipo_channel_receive_peek(&ch, &p, &len)
                       : ipo_channel_try_receive(&ch, buf, sizeof(buf), &len);
        if (rc == -IPO_EEMPTY) {
            if (ipo_now_ns() > end)
                return 4;
            ipo_cpu_relax();
            continue;
        }
        if (rc)
            return 5;
        if (len != msg_len(i, STREAM_SLOT) || !msg_ok(loans ? p : buf, len, i))
            return 6;
        if (loans && ipo_channel_receive_release(&ch))
            return 7;
        i++;
    }
    ipo_channel_close(&ch);
    ipo_region_detach(&c);
    ipo_region_unmap(&c);
    return 0;
}

static void stream_to_child(int loans)
{
    ipo_region_t r;
    char name[64];
    create_region(&r, name, sizeof(name), "chan");
    ipo_channel_t ch;
    ASSERT_OK(open_in_turn(&r, "stream", 8, STREAM_SLOT, &ch));
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0)
        _exit(child_receive(name, loans));
    static uint8_t m[STREAM_SLOT];
    int64_t end = ipo_now_ns() + WAIT_BOUND_NS;
    for (uint64_t i = 0; i < STREAM;) {
        uint64_t n = msg_len(i, STREAM_SLOT);
        int rc;
        if (loans) {
            void *w;
            uint64_t cap;
            rc = ipo_channel_send_loan(&ch, &w, &cap);
            if (!rc) {
                msg_fill(w, n, i);
                rc = ipo_channel_send_commit(&ch, n);
            }
        } else {
            msg_fill(m, n, i);
            rc = ipo_channel_try_send(&ch, m, n);
        }
        if (rc == -IPO_ECHANFULL) {
            if (ipo_now_ns() > end) {
                kill(pid, SIGKILL);
                FAIL_AT("the receiver stopped taking at message %llu", (unsigned long long)i);
            }
            ipo_cpu_relax();
            continue;
        }
        ASSERT_OK(rc);
        i++;
    }
    wait_children(&pid, 1);
    ASSERT_UEQ(ipo_channel_pending(&ch), 0);
    ipo_channel_close(&ch);
    ipo_region_detach(&r);
    ipo_region_unmap(&r);
}

static void test_two_processes(void)
{
    stream_to_child(0);
}

static void test_two_processes_with_loans(void)
{
    stream_to_child(1);
}

int main(void)
{
    RUN(test_open_and_refusals);
    RUN(test_order_full_and_empty);
    RUN(test_loans);
    RUN(test_claims);
    RUN(test_directory_grows);
    RUN(test_damaged_channels);
    RUN(test_two_processes);
    RUN(test_two_processes_with_loans);
    return 0;
}

/* tests/c/test_uv.c — the libuv adapter: callbacks from the loop, with access, for every message and after a dead holder. */
#include <signal.h>
#include <sys/wait.h>

#include "ipo/format.h"
#include "ipo/queue.h"
#include "ipo/recover.h"
#include "ipo/uv.h"
#include "task.h"

enum { MESSAGES = 2000 };

typedef struct state {
    ipo_region_t *r;
    int64_t       next;      /* the value the next message must carry */
    int           calls;
    int           in_start;  /* a callback from inside ipo_uv_start would see this set */
} state_t;

static void on_messages(ipo_uv_t *watch, int status)
{
    state_t *st = watch->data;
    ASSERT_EQ(status, 0);
    ASSERT(!st->in_start);
    ASSERT(ipo_access_held(st->r));
    st->calls++;
    ipo_off_t off;
    while (ipo_queue_take(st->r, &off) == 0) {
        const ipo_obj_t *obj;
        ASSERT_OK(ipo_obj_get(st->r, off, &obj));
        ASSERT_EQ(obj->v.i64, st->next);
        st->next++;
        ASSERT_OK(ipo_obj_destroy(st->r, off));
    }
    if (st->next == MESSAGES)
        ipo_uv_close(watch, NULL);
}

static void test_messages_reach_the_loop(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "uv");
    ipo_region_options_t o = { .size = 1 << 22 };
    ipo_region_t r;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    /* One message before the watcher starts: still delivered from the loop. */
    ipo_off_t first;
    ASSERT(ipo_access_try_acquire(&r));
    ASSERT_OK(ipo_obj_new_scalar(&r, IPO_T_INT64, 0, &first));
    ASSERT_OK(ipo_queue_put(&r, first));
    ipo_handoff_release(&w);

    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ipo_region_t c;
        ipo_waker_t cw;
        if (ipo_region_attach(&c, name, NULL) || ipo_waker_init(&cw, &c))
            _exit(2);
        for (int i = 1; i < MESSAGES; i++) {
            if (ipo_handoff_acquire(&cw, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + INT64_C(20000000000), -1, 1000))
                _exit(3);
            ipo_off_t off;
            if (ipo_obj_new_scalar(&c, IPO_T_INT64, (uint64_t)i, &off) || ipo_queue_put(&c, off))
                _exit(4);
            ipo_handoff_release(&cw);
        }
        ipo_waker_fini(&cw);
        ipo_region_unmap(&c);
        _exit(0);
    }

    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    ipo_uv_t watch;
    state_t st = { &r, 0, 0, 1 };
    ASSERT_EQ(ipo_uv_init(&loop, &watch, &w), 0);
    watch.data = &st;
    ASSERT_EQ(ipo_uv_start(&watch, 99, on_messages), UV_EINVAL);
    ASSERT_EQ(ipo_uv_start(&watch, IPO_WAIT_FOR_MESSAGES, on_messages), 0);
    st.in_start = 0;
    ASSERT_EQ(st.calls, 0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(st.next, MESSAGES);
    ASSERT(st.calls >= 1);
    ASSERT(!ipo_access_held(&r));
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    ASSERT_UEQ(r.hdr->access & IPO_ACCESS_SLEEPER_MASK, 0);
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

/* ---- a holder killed in its turn, taken over by a watcher on the loop ---------------- */

enum { TAKEOVER_BOUND_MS = 500, WATCHDOG_MS = 10000 };

typedef struct takeover {
    ipo_region_t *r;
    ipo_uv_t     *watch;
    uv_timer_t    timer;
    pid_t         holder;
    int64_t       started, killed, taken;
    int           calls, cut_short;
} takeover_t;

static void on_taken_over(ipo_uv_t *watch, int status)
{
    takeover_t *t = watch->data;
    ASSERT_EQ(status, 0);
    ASSERT(ipo_access_held(t->r));
    t->calls++;
    t->taken = ipo_now_ns();
    t->cut_short = ipo_access_cut_short(t->r);
    ASSERT(t->killed); /* no turn while the holder lived */
    ASSERT_UEQ(ipo_region_takeovers(t->r), 1);
    ASSERT_CHECK(ipo_region_check(t->r, why, sizeof(why)));
    /* The message the dead turn put is there, whole. */
    ipo_off_t off;
    const ipo_obj_t *obj;
    ASSERT_OK(ipo_queue_take(t->r, &off));
    ASSERT_OK(ipo_obj_get(t->r, off, &obj));
    ASSERT_EQ(obj->v.i64, 7);
    ASSERT_OK(ipo_obj_destroy(t->r, off));
    ipo_uv_close(watch, NULL);
    uv_close((uv_handle_t *)&t->timer, NULL);
}

/* Kills the holder once the watcher sleeps (registered in the access word),
 * so that only its death poll can wake it; fails the test if no turn came. */
static void on_tick(uv_timer_t *timer)
{
    takeover_t *t = timer->data;
    if (ipo_now_ns() - t->started > (int64_t)WATCHDOG_MS * 1000000)
        FAIL_AT("no turn %d ms after the start (killed: %s)", WATCHDOG_MS, t->killed ? "yes" : "no");
    if (t->killed || !t->watch->waiter.sleeper.what)
        return;
    ASSERT_EQ(kill(t->holder, SIGKILL), 0);
    t->killed = ipo_now_ns();
}

static void test_a_dead_holder_is_taken_over_from_the_loop(void)
{
    char name[64];
    test_region_name(name, sizeof(name), "uvtake");
    ipo_region_options_t o = { .size = 1 << 22 };
    ipo_region_t r;
    ASSERT_OK(ipo_region_create(&r, name, &o));
    ipo_waker_t w;
    ASSERT_OK(ipo_waker_init(&w, &r));
    int held[2];
    ASSERT_EQ(pipe(held), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(held[0]);
        ipo_region_t c;
        ipo_waker_t cw;
        if (ipo_region_attach(&c, name, NULL) || ipo_waker_init(&cw, &c))
            _exit(2);
        if (ipo_handoff_acquire(&cw, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + INT64_C(20000000000), -1, 0))
            _exit(3);
        ipo_off_t off;
        if (ipo_obj_new_scalar(&c, IPO_T_INT64, 7, &off) || ipo_queue_put(&c, off))
            _exit(4);
        if (write(held[1], "h", 1) != 1)
            _exit(5);
        for (;;)
            pause(); /* holding access until killed */
    }
    close(held[1]);
    char b;
    ASSERT_EQ(read(held[0], &b, 1), 1);
    close(held[0]);

    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    ipo_uv_t watch;
    ASSERT_EQ(ipo_uv_init(&loop, &watch, &w), 0);
    if (!watch.has_death_poll) {
        fprintf(stderr, "    no pidfds: a dead holder is not watched from the loop; skipped\n");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ipo_uv_close(&watch, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        ipo_waker_fini(&w);
        ipo_region_unmap(&r);
        return;
    }
    takeover_t t = { .r = &r, .watch = &watch, .holder = pid, .started = ipo_now_ns() };
    watch.data = &t;
    ASSERT_EQ(uv_timer_init(&loop, &t.timer), 0);
    t.timer.data = &t;
    ASSERT_EQ(uv_timer_start(&t.timer, on_tick, 1, 1), 0);
    ASSERT_EQ(ipo_uv_start(&watch, IPO_WAIT_FOR_ACCESS, on_taken_over), 0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(t.calls, 1);
    ASSERT(t.cut_short);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    fprintf(stderr, "    the loop's watcher held the dead holder's turn %.3f ms after kill(2), cut short\n",
            (double)(t.taken - t.killed) / 1e6);
    ASSERT_LT(t.taken - t.killed, (int64_t)TAKEOVER_BOUND_MS * 1000000);
    ASSERT(!ipo_access_held(&r));
    ASSERT_EQ(uv_loop_close(&loop), 0);
    ASSERT_UEQ(r.hdr->access & IPO_ACCESS_SLEEPER_MASK, 0);
    ipo_waker_fini(&w);
    ipo_region_unmap(&r);
}

int main(void)
{
    srand((unsigned)getpid());
    RUN(test_messages_reach_the_loop);
    RUN(test_a_dead_holder_is_taken_over_from_the_loop);
    return 0;
}

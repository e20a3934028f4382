/* tests/c/test_uv.c — the libuv adapter: callbacks from the loop, with access, for every message. */
#include <sys/wait.h>

#include "ipo/format.h"
#include "ipo/queue.h"
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

int main(void)
{
    srand((unsigned)getpid());
    RUN(test_messages_reach_the_loop);
    return 0;
}

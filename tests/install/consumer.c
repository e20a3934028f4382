/* tests/install/consumer.c — a C program built as a user builds one, against an installed copy.
 *
 *   consumer NAME LABEL
 *
 * tests/install/peer.py creates the regions NAME-in and NAME-out and starts
 * this program, which attaches to both as a consumer, sleeps on NAME-in's
 * doorbell through the libuv adapter until a message comes, takes it (a
 * str), and answers in NAME-out "LABEL got: " + the str, taking NAME-out's
 * access with the blocking waiter. Then it leaves. It includes only the
 * installed headers (<ipo/...>) and links only the installed libraries:
 * tests/install/run.sh builds it through pkg-config and through
 * find_package(IpcPyObjects), shared and static, outside the source tree's
 * build. Exit status 0 when the answer was put. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipo/errors.h>
#include <ipo/format.h>
#include <ipo/queue.h>
#include <ipo/uv.h>

/* A bound on every wait: a peer that went away fails the test, never hangs it. */
#define WAIT_NS (20 * 1000000000LL)

typedef struct consumer {
    const char  *label;
    ipo_region_t requests, replies;
    ipo_waker_t  requests_waker, replies_waker;
    ipo_uv_t     watch;
    int          failed;
} consumer_t;

/* Puts "LABEL got: " + text into the replies region, in a turn of its own. */
static int answer(consumer_t *c, const char *text, size_t len)
{
    int rc = ipo_handoff_acquire(&c->replies_waker, IPO_WAIT_FOR_ACCESS, ipo_now_ns() + WAIT_NS, -1,
                                 IPO_SPIN_NS_DEFAULT);
    if (rc) {
        fprintf(stderr, "consumer: no access to the replies region: %s\n", ipo_strerror(rc));
        return rc;
    }
    const char *sep = " got: ";
    size_t head = strlen(c->label) + strlen(sep);
    ipo_off_t off;
    void *data;
    rc = ipo_obj_new(&c->replies, IPO_T_STR, head + len, &off, &data);
    if (rc == 0) {
        memcpy(data, c->label, strlen(c->label));
        memcpy((char *)data + strlen(c->label), sep, strlen(sep));
        memcpy((char *)data + head, text, len);
        if ((rc = ipo_queue_put(&c->replies, off)) != 0)
            ipo_obj_destroy(&c->replies, off);
    }
    if (rc)
        fprintf(stderr, "consumer: cannot put the answer: %s\n", ipo_strerror(rc));
    ipo_handoff_release(&c->replies_waker);
    return rc;
}

/* On the loop's thread, with the requests region's access held. */
static void on_request(ipo_uv_t *watch, int status)
{
    consumer_t *c = watch->data;
    ipo_off_t off;
    const ipo_obj_t *obj;
    if (status < 0) {
        fprintf(stderr, "consumer: the watcher failed: %s\n", uv_strerror(status));
        c->failed = 1;
    } else if (ipo_queue_take(&c->requests, &off) != 0) {
        return; /* woken with nothing queued: wait on */
    } else if (ipo_obj_get(&c->requests, off, &obj) != 0 || obj->type != IPO_T_STR) {
        fprintf(stderr, "consumer: the request is not a str\n");
        c->failed = 1;
    } else {
        c->failed = answer(c, ipo_obj_data(obj), obj->v.len) != 0;
        ipo_obj_destroy(&c->requests, off);
    }
    ipo_uv_close(watch, NULL);
}

static int attach(const char *base, const char *suffix, ipo_region_t *r, ipo_waker_t *w)
{
    char name[IPO_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%s-%s", base, suffix);
    ipo_region_options_t opts;
    memset(&opts, 0, sizeof(opts));
    int rc = ipo_region_attach(r, name, &opts);
    if (rc == 0 && (rc = ipo_waker_init(w, r)) != 0)
        ipo_region_unmap(r);
    if (rc)
        fprintf(stderr, "consumer: cannot attach to %s: %s\n", name, ipo_strerror(rc));
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 || ipo_region_name_check(argv[1])) {
        fprintf(stderr, "usage: %s NAME LABEL\n", argv[0]);
        return 2;
    }
    consumer_t c;
    memset(&c, 0, sizeof(c));
    c.label = argv[2];
    if (attach(argv[1], "in", &c.requests, &c.requests_waker))
        return 1;
    if (attach(argv[1], "out", &c.replies, &c.replies_waker)) {
        ipo_waker_fini(&c.requests_waker);
        ipo_region_unmap(&c.requests);
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    int rc = ipo_uv_init(loop, &c.watch, &c.requests_waker);
    if (rc == 0) {
        c.watch.data = &c;
        rc = ipo_uv_start(&c.watch, IPO_WAIT_FOR_MESSAGES, on_request);
    }
    if (rc) {
        fprintf(stderr, "consumer: cannot watch the requests region: %s\n", uv_strerror(rc));
        c.failed = 1;
        if (c.watch.open_polls)
            ipo_uv_close(&c.watch, NULL); /* the loop run below completes the close */
    }
    uv_run(loop, UV_RUN_DEFAULT);

    uv_loop_close(loop);
    ipo_waker_fini(&c.requests_waker);
    ipo_waker_fini(&c.replies_waker);
    ipo_region_unmap(&c.requests);
    ipo_region_unmap(&c.replies);
    return c.failed;
}

/* loop/src/uv.c — the libuv adapter: a waiter driven by uv_poll_t, callbacks with access held. */
#include "ipo/uv.h"

#include "ipo/errors.h"

/* Every descriptor of the waiter is watched; whichever is readable, the
 * waiter decides what it means. A look the adapter schedules for itself
 * (the first callback, the next turn of a busy watcher) is a poke of the
 * waiter's eventfd, so every callback comes from the loop. */
static void on_readable(uv_poll_t *poll, int status, int events)
{
    (void)events;
    ipo_uv_t *h = poll->data;
    if (status < 0) {
        ipo_uv_stop(h);
        h->cb(h, status);
        return;
    }
    int step = ipo_waiter_readable(&h->waiter);
    if (step == IPO_WAIT_AGAIN && h->what)
        step = ipo_waiter_start(&h->waiter, h->what, 0, 0); /* a poke: begin the wait */
    if (step < 0) { /* -IPO_EFULL: too many waiters in this process */
        ipo_uv_stop(h);
        h->cb(h, step);
        return;
    }
    if (step != IPO_WAIT_HELD)
        return;
    ipo_region_t *r = h->waiter.waker->r;
    /* The turn is this callback's while the count stays: if the callback
     * released access itself, another thread of the process may hold it
     * by now, and that turn is not ours to end. */
    uint64_t turn = ipo_access_count(r);
    h->cb(h, 0);
    if (ipo_access_held(r) && ipo_access_count(r) == turn)
        ipo_handoff_release(h->waiter.waker);
    if (!h->what)
        return; /* the callback stopped (or closed) the watcher */
    if (h->what & IPO_WAIT_FOR_ACCESS) {
        ipo_waiter_poke(&h->waiter); /* busy: the next turn at once, from the loop */
        return;
    }
    /* Sleep until the next message. One that came meanwhile gives us a
     * turn here: give it back and take it from the loop, so that the
     * loop's other handles run between callbacks. */
    step = ipo_waiter_start(&h->waiter, h->what, 0, 0);
    if (step == IPO_WAIT_HELD) {
        ipo_handoff_release(h->waiter.waker);
        ipo_waiter_poke(&h->waiter);
    } else if (step < 0) {
        ipo_uv_stop(h);
        h->cb(h, step);
    }
}

int ipo_uv_init(uv_loop_t *loop, ipo_uv_t *h, ipo_waker_t *waker)
{
    h->cb = NULL;
    h->what = 0;
    h->open_polls = 0;
    h->close_cb = NULL;
    h->data = NULL;
    ipo_waiter_init(&h->waiter, waker);
    int fds[IPO_WAITER_FDS];
    if (ipo_waiter_fds(&h->waiter, fds))
        return -IPO_ESYS;
    h->has_death_poll = fds[2] >= 0;
    int rc = uv_poll_init(loop, &h->poll, fds[0]);
    if (rc == 0) {
        rc = uv_poll_init(loop, &h->wake_poll, fds[1]);
        if (rc)
            uv_close((uv_handle_t *)&h->poll, NULL);
    }
    if (rc == 0 && h->has_death_poll) {
        rc = uv_poll_init(loop, &h->death_poll, fds[2]);
        if (rc) {
            uv_close((uv_handle_t *)&h->poll, NULL);
            uv_close((uv_handle_t *)&h->wake_poll, NULL);
        }
    }
    if (rc) {
        ipo_waiter_fini(&h->waiter);
        return rc;
    }
    h->poll.data = h->wake_poll.data = h->death_poll.data = h;
    h->open_polls = h->has_death_poll ? 3 : 2;
    return 0;
}

int ipo_uv_start(ipo_uv_t *h, uint32_t what, ipo_uv_cb cb)
{
    if (!cb || (what != IPO_WAIT_FOR_ACCESS && what != IPO_WAIT_FOR_MESSAGES))
        return UV_EINVAL;
    int rc = uv_poll_start(&h->poll, UV_READABLE, on_readable);
    if (rc == 0 && (rc = uv_poll_start(&h->wake_poll, UV_READABLE, on_readable)) != 0)
        uv_poll_stop(&h->poll); /* all or nothing: a half-started watcher keeps the loop alive */
    if (rc == 0 && h->has_death_poll &&
        (rc = uv_poll_start(&h->death_poll, UV_READABLE, on_readable)) != 0) {
        uv_poll_stop(&h->poll);
        uv_poll_stop(&h->wake_poll);
    }
    if (rc)
        return rc;
    if (h->what && h->what != what)
        ipo_waiter_cancel(&h->waiter); /* restarting with another `what` */
    h->cb = cb;
    h->what = what;
    ipo_waiter_poke(&h->waiter); /* the first look, and callback, from the loop */
    return 0;
}

int ipo_uv_stop(ipo_uv_t *h)
{
    h->what = 0;
    ipo_waiter_cancel(&h->waiter);
    uv_poll_stop(&h->wake_poll);
    if (h->has_death_poll)
        uv_poll_stop(&h->death_poll);
    return uv_poll_stop(&h->poll);
}

static void on_closed(uv_handle_t *handle)
{
    ipo_uv_t *h = handle->data;
    if (--h->open_polls)
        return;
    ipo_waiter_fini(&h->waiter);
    if (h->close_cb)
        h->close_cb((uv_handle_t *)&h->poll);
}

void ipo_uv_close(ipo_uv_t *h, uv_close_cb close_cb)
{
    ipo_uv_stop(h);
    h->close_cb = close_cb;
    uv_close((uv_handle_t *)&h->poll, on_closed);
    uv_close((uv_handle_t *)&h->wake_poll, on_closed);
    if (h->has_death_poll)
        uv_close((uv_handle_t *)&h->death_poll, on_closed);
}

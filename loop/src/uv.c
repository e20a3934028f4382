/* loop/src/uv.c — the libuv adapter: uv_poll_t on the doorbell, callbacks with access held. */
#include "ipo/uv.h"

#include <unistd.h>

#include "ipo/errors.h"
#include "ipo/queue.h"

/* Makes the doorbell say "look again", for a look from the loop: a byte in
 * our own FIFO, through the descriptor we hold open anyway. */
static void look_again_soon(ipo_uv_t *h)
{
    ipo_notify_ring(ipo_notify_fd(&h->waker->bell));
}

/* Ends the registration, if any, reading what woke us; 1 when that was a
 * ring from the doorbell. */
static int stop_waiting(ipo_uv_t *h)
{
    return ipo_handoff_unregister(h->waker, &h->sleeper);
}

/* What the callback needs is not there: sleep on the doorbell for it. */
static void wait_for_it(ipo_uv_t *h)
{
    int rc = ipo_handoff_register(h->waker, &h->sleeper, h->what, 0);
    if (rc == 0)
        look_again_soon(h); /* already there: take it on the next turn of the loop */
}

static int try_take(ipo_uv_t *h)
{
    ipo_region_t *r = h->waker->r;
    int messages = (h->what & IPO_WAIT_FOR_MESSAGES) != 0;
    if (messages && !ipo_queue_length(r))
        return 0;
    if (!ipo_access_try_acquire(r))
        return 0;
    if (messages && !ipo_queue_length(r)) {
        ipo_handoff_release(h->waker);
        return 0;
    }
    return 1;
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
    (void)events;
    ipo_uv_t *h = poll->data;
    if (status < 0) {
        ipo_uv_stop(h);
        h->cb(h, status);
        return;
    }
    int rang = stop_waiting(h); /* empties both descriptors: level-triggered */
    if (!h->what) {
        if (rang)
            ipo_handoff_pass_on(h->waker);
        return;
    }
    if (!try_take(h)) {
        if (rang)
            ipo_handoff_pass_on(h->waker);
        wait_for_it(h);
        return;
    }
    h->cb(h, 0);
    if (ipo_access_held(h->waker->r))
        ipo_handoff_release(h->waker);
    if (!h->what)
        return; /* the callback stopped (or closed) the watcher */
    if (h->what & IPO_WAIT_FOR_ACCESS)
        look_again_soon(h); /* busy: the next turn at once, from the loop */
    else
        wait_for_it(h);
}

int ipo_uv_init(uv_loop_t *loop, ipo_uv_t *h, ipo_waker_t *waker)
{
    h->waker = waker;
    h->cb = NULL;
    h->what = 0;
    h->open_polls = 0;
    h->close_cb = NULL;
    h->data = NULL;
    if (ipo_sleeper_init(&h->sleeper))
        return -IPO_ESYS;
    int rc = uv_poll_init(loop, &h->poll, ipo_notify_fd(&waker->bell));
    if (rc == 0) {
        rc = uv_poll_init(loop, &h->wake_poll, h->sleeper.efd);
        if (rc)
            uv_close((uv_handle_t *)&h->poll, NULL);
    }
    if (rc) {
        ipo_sleeper_fini(&h->sleeper);
        return rc;
    }
    h->poll.data = h->wake_poll.data = h;
    h->open_polls = 2;
    return 0;
}

int ipo_uv_start(ipo_uv_t *h, uint32_t what, ipo_uv_cb cb)
{
    if (!cb || (what != IPO_WAIT_FOR_ACCESS && what != IPO_WAIT_FOR_MESSAGES))
        return UV_EINVAL;
    int rc = uv_poll_start(&h->poll, UV_READABLE, on_readable);
    if (rc == 0)
        rc = uv_poll_start(&h->wake_poll, UV_READABLE, on_readable);
    if (rc)
        return rc;
    if (h->what)
        stop_waiting(h); /* restarting with another `what` */
    h->cb = cb;
    h->what = what;
    wait_for_it(h);
    return 0;
}

int ipo_uv_stop(ipo_uv_t *h)
{
    h->what = 0;
    if (stop_waiting(h))
        ipo_handoff_pass_on(h->waker);
    uv_poll_stop(&h->wake_poll);
    return uv_poll_stop(&h->poll);
}

static void on_closed(uv_handle_t *handle)
{
    ipo_uv_t *h = handle->data;
    if (--h->open_polls)
        return;
    ipo_sleeper_fini(&h->sleeper);
    if (h->close_cb)
        h->close_cb((uv_handle_t *)&h->poll);
}

void ipo_uv_close(ipo_uv_t *h, uv_close_cb close_cb)
{
    ipo_uv_stop(h);
    h->close_cb = close_cb;
    uv_close((uv_handle_t *)&h->poll, on_closed);
    uv_close((uv_handle_t *)&h->wake_poll, on_closed);
}

/* loop/src/uv.c — the libuv adapter: uv_poll_t on the doorbell, callbacks with access held. */
#include "ipo/uv.h"

#include <unistd.h>

#include "ipo/errors.h"
#include "ipo/queue.h"

static void stop_waiting(ipo_uv_t *h)
{
    if (h->registered) {
        ipo_handoff_unregister(h->waker, h->registered);
        h->registered = 0;
    }
}

/* Makes the doorbell say "look again": for a first look from the loop, or
 * when there was nothing to wait for. A ring to ourselves is one byte. */
static void look_again_soon(ipo_uv_t *h)
{
    ipo_region_t *r = h->waker->r;
    int fd = ipo_notify_open_peer(r->inode, r->slot, r->me->generation);
    if (fd >= 0) {
        ipo_notify_ring(fd);
        close(fd);
    }
}

/* What the callback needs is not there: sleep on the doorbell for it (for
 * access too when a message waits but another holds access). */
static void wait_for_it(ipo_uv_t *h)
{
    stop_waiting(h);
    uint32_t what = h->what;
    if (ipo_handoff_register(h->waker, what, 0))
        h->registered = what;
    else
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
    ipo_uv_t *h = (ipo_uv_t *)poll;
    if (status < 0) {
        ipo_uv_stop(h);
        h->cb(h, status);
        return;
    }
    stop_waiting(h);
    ipo_notify_drain(&h->waker->bell); /* level-triggered: empty it, whoever rang */
    if (!h->what)
        return;
    if (try_take(h)) {
        h->cb(h, 0);
        if (ipo_access_held(h->waker->r))
            ipo_handoff_release(h->waker);
        if (!h->what)
            return; /* the callback stopped the watcher */
        if (h->what & IPO_WAIT_FOR_ACCESS) {
            look_again_soon(h); /* busy: the next turn at once, from the loop */
            return;
        }
    }
    wait_for_it(h);
}

int ipo_uv_init(uv_loop_t *loop, ipo_uv_t *h, ipo_waker_t *waker)
{
    h->waker = waker;
    h->cb = NULL;
    h->what = 0;
    h->registered = 0;
    h->close_cb = NULL;
    h->data = NULL;
    return uv_poll_init(loop, &h->poll, ipo_notify_fd(&waker->bell));
}

int ipo_uv_start(ipo_uv_t *h, uint32_t what, ipo_uv_cb cb)
{
    if (!cb || (what != IPO_WAIT_FOR_ACCESS && what != IPO_WAIT_FOR_MESSAGES))
        return UV_EINVAL;
    int rc = uv_poll_start(&h->poll, UV_READABLE, on_readable);
    if (rc)
        return rc;
    h->cb = cb;
    h->what = what;
    wait_for_it(h);
    return 0;
}

int ipo_uv_stop(ipo_uv_t *h)
{
    h->what = 0;
    stop_waiting(h);
    return uv_poll_stop(&h->poll);
}

static void on_closed(uv_handle_t *handle)
{
    ipo_uv_t *h = (ipo_uv_t *)handle;
    if (h->close_cb)
        h->close_cb(handle);
}

void ipo_uv_close(ipo_uv_t *h, uv_close_cb close_cb)
{
    ipo_uv_stop(h);
    h->close_cb = close_cb;
    uv_close((uv_handle_t *)&h->poll, on_closed);
}

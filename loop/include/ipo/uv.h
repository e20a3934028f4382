/* loop/include/ipo/uv.h — the libuv adapter: a region's doorbell on a uv_loop_t. */
#ifndef IPO_UV_H
#define IPO_UV_H

#include <uv.h>

#include "ipo/waiter.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipo_uv ipo_uv_t;

/* Called on the loop's thread with access held: status 0. Access is
 * released (and whoever waits is rung) when the callback returns, unless
 * the callback released it itself. A status below 0 reports an error
 * (-IPO_EFULL: IPO_WAITERS_MAX waiters of this process wait already); the
 * watcher is stopped then. The callback may
 * stop or close the watcher, but must not free the waker or the region:
 * do that from close_cb, or once the loop has ended. */
typedef void (*ipo_uv_cb)(ipo_uv_t *handle, int status);

/* Watches a participant's doorbell with a uv_poll_t, in the manner of libuv's
 * own handles: init, start, stop, close. While started, the callback runs
 * each time what it waits for is there: IPO_WAIT_FOR_MESSAGES, a message is
 * queued (and access granted); IPO_WAIT_FOR_ACCESS, access is granted (at
 * once again after every callback: a busy watcher, for draining work).
 * One watcher per waker: libuv watches a descriptor with one poll handle. */
struct ipo_uv {
    uv_poll_t     poll;        /* first: a ipo_uv_t is a uv_poll_t for libuv; the doorbell */
    uv_poll_t     wake_poll;   /* the waiter's eventfd */
    uv_poll_t     death_poll;  /* the death watch (a holder that dies is taken over) */
    int           has_death_poll; /* 0 when the kernel has no pidfds */
    ipo_waiter_t  waiter;      /* the wait itself: this adapter only drives it */
    ipo_uv_cb     cb;
    uint32_t      what;        /* IPO_WAIT_FOR_* while started, 0 when stopped */
    int           open_polls;  /* poll handles not closed yet */
    uv_close_cb   close_cb;
    void         *data;        /* the user's */
};

/* 0 or a negative libuv error code (or -IPO_ESYS). On a failure after the
 * first poll handle was made, that handle is closing: run the loop once
 * (its close completes) before freeing the ipo_uv_t. */
int ipo_uv_init(uv_loop_t *loop, ipo_uv_t *handle, ipo_waker_t *waker);

/* Starts (or restarts with another `what`). Never calls back from inside:
 * the first callback comes from the loop. 0, UV_EINVAL, or a libuv error. */
int ipo_uv_start(ipo_uv_t *handle, uint32_t what, ipo_uv_cb cb);

/* Stops: no callback after this returns. Idempotent. */
int ipo_uv_stop(ipo_uv_t *handle);

/* Stops and closes; close_cb (may be NULL) runs from the loop once the
 * handle's memory may be freed (it receives the handle, cast to uv_handle_t). */
void ipo_uv_close(ipo_uv_t *handle, uv_close_cb close_cb);

#ifdef __cplusplus
}
#endif

#endif /* IPO_UV_H */

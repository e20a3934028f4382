/* examples/c_service/echo_service.c — a C service on libuv that answers a Python peer.
 *
 *   ipo_echo_service NAME
 *
 * Creates two regions, NAME-in (requests) and NAME-out (replies), prints
 * "ready", then answers every request until a request "quit":
 *   a str   -> "echo: " + the str
 *   an int  -> the int + 1
 *   a float -> a dict {"value": x, "doubled": 2x, "unit": "C"}, built with
 *              the format's hash so that Python finds its keys
 *   else    -> None
 * The requests watcher sleeps on its doorbell until a message arrives; the
 * replies watcher runs only while replies wait to be put. Run
 * examples/c_service/peer.py beside it, or see tests/python/test_c_service.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipo/containers.h"
#include "ipo/errors.h"
#include "ipo/format.h"
#include "ipo/hash.h"
#include "ipo/queue.h"
#include "ipo/uv.h"

/* A reply waiting for access to the replies region. */
typedef struct reply {
    uint8_t  type;
    uint64_t value;     /* IPO_T_INT64 */
    double   number;    /* IPO_T_DICT: the float asked about */
    char    *text;      /* IPO_T_STR, malloc'd */
    size_t   len;
} reply_t;

typedef struct service {
    ipo_region_t requests, replies;
    ipo_waker_t  requests_waker, replies_waker;
    ipo_uv_t     requests_watch, replies_watch;
    reply_t     *pending;
    size_t       npending, cap;
    int          quitting;
    int          failed;
} service_t;

static void push_reply(service_t *s, reply_t r)
{
    if (s->npending == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->pending = realloc(s->pending, s->cap * sizeof(*s->pending));
        if (!s->pending) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    s->pending[s->npending++] = r;
}

static reply_t answer(const ipo_obj_t *obj)
{
    reply_t r = { IPO_T_NONE, 0, 0.0, NULL, 0 };
    if (obj->type == IPO_T_FLOAT64) {
        r.type = IPO_T_DICT;
        r.number = obj->v.f64;
    } else if (obj->type == IPO_T_INT64) {
        r.type = IPO_T_INT64;
        r.value = (uint64_t)(obj->v.i64 + 1);
    } else if (obj->type == IPO_T_STR) {
        static const char prefix[] = "echo: ";
        r.type = IPO_T_STR;
        r.len = sizeof(prefix) - 1 + obj->v.len;
        r.text = malloc(r.len ? r.len : 1);
        memcpy(r.text, prefix, sizeof(prefix) - 1);
        memcpy(r.text + sizeof(prefix) - 1, ipo_obj_data(obj), obj->v.len);
    }
    return r;
}

static int is_quit(const ipo_obj_t *obj)
{
    return obj->type == IPO_T_STR && obj->v.len == 4 && memcmp(ipo_obj_data(obj), "quit", 4) == 0;
}

static void finish_if_done(service_t *s)
{
    if (s->quitting && s->npending == 0) {
        ipo_uv_close(&s->requests_watch, NULL);
        ipo_uv_close(&s->replies_watch, NULL);
    }
}

/* A str value: a new STR object of the region. */
static int new_str(ipo_region_t *r, const char *text, ipo_value_t *out)
{
    void *data;
    size_t len = strlen(text);
    int rc = ipo_obj_new(r, IPO_T_STR, len, &out->v.off, &data);
    if (rc)
        return rc;
    memcpy(data, text, len);
    out->type = IPO_T_STR;
    return 0;
}

/* Puts key -> value into a map; the key's hash is the format's, which a
 * Python reader computes the same way (SipHash of the UTF-8, region key). */
static int map_put_str(ipo_region_t *r, ipo_off_t map, const char *key, ipo_value_t value)
{
    ipo_value_t k;
    int rc = new_str(r, key, &k);
    if (rc) {
        ipo_value_release(r, &value);
        return rc;
    }
    rc = ipo_map_insert(r, (ipo_obj_t *)(r->base + map), ipo_hash_bytes(r->hdr->hash_key, key, strlen(key)),
                        &k, &value);
    if (rc) {
        ipo_value_release(r, &k);
        ipo_value_release(r, &value);
    }
    return rc;
}

/* {"value": x, "doubled": 2x, "unit": "C"}: a live dict for the Python side. */
static int new_dict_reply(ipo_region_t *r, double x, ipo_off_t *off)
{
    int rc = ipo_map_new(r, IPO_T_DICT, 3, off);
    if (rc)
        return rc;
    ipo_value_t value = { .type = IPO_T_FLOAT64, .v.f64 = x };
    ipo_value_t doubled = { .type = IPO_T_FLOAT64, .v.f64 = 2 * x };
    ipo_value_t unit;
    if ((rc = map_put_str(r, *off, "value", value)) || (rc = map_put_str(r, *off, "doubled", doubled)) ||
        (rc = new_str(r, "C", &unit)) || (rc = map_put_str(r, *off, "unit", unit)))
        ipo_obj_destroy(r, *off);
    return rc;
}

/* Replies region: access granted, put every pending reply. */
static void on_replies_access(ipo_uv_t *watch, int status)
{
    service_t *s = watch->data;
    if (status < 0) {
        fprintf(stderr, "replies watcher: %s\n", uv_strerror(status));
        s->failed = 1;
        return;
    }
    size_t done = 0;
    for (; done < s->npending; done++) {
        reply_t *r = &s->pending[done];
        ipo_off_t off;
        int rc = r->type == IPO_T_STR    ? ipo_obj_new(&s->replies, IPO_T_STR, r->len, &off, NULL)
                 : r->type == IPO_T_DICT ? new_dict_reply(&s->replies, r->number, &off)
                                         : ipo_obj_new_scalar(&s->replies, r->type, r->value, &off);
        if (rc == -IPO_ENOMEM)
            break; /* full: the peer frees memory as it takes replies; next turn */
        if (rc == 0 && r->type == IPO_T_STR)
            memcpy(ipo_obj_data((const ipo_obj_t *)(s->replies.base + off)), r->text, r->len);
        if (rc == 0)
            rc = ipo_queue_put(&s->replies, off);
        if (rc) {
            fprintf(stderr, "cannot put a reply: %s\n", ipo_strerror(rc));
            s->failed = 1;
            break;
        }
        free(r->text);
    }
    memmove(s->pending, s->pending + done, (s->npending - done) * sizeof(*s->pending));
    s->npending -= done;
    if (s->npending == 0) {
        ipo_uv_stop(watch);
        finish_if_done(s);
    }
}

/* Requests region: a message is queued and access granted: take them all. */
static void on_requests(ipo_uv_t *watch, int status)
{
    service_t *s = watch->data;
    if (status < 0) {
        fprintf(stderr, "requests watcher: %s\n", uv_strerror(status));
        s->failed = 1;
        return;
    }
    ipo_off_t off;
    while (!s->quitting && ipo_queue_take(&s->requests, &off) == 0) {
        const ipo_obj_t *obj;
        if (ipo_obj_get(&s->requests, off, &obj) != 0)
            continue; /* destroyed by its sender: nothing to answer */
        if (is_quit(obj))
            s->quitting = 1;
        else
            push_reply(s, answer(obj));
        ipo_obj_destroy(&s->requests, off);
    }
    if (s->quitting)
        ipo_uv_stop(watch);
    if (s->npending)
        ipo_uv_start(&s->replies_watch, IPO_WAIT_FOR_ACCESS, on_replies_access);
    finish_if_done(s);
}

static int open_side(const char *base, const char *suffix, ipo_region_t *r, ipo_waker_t *w)
{
    char name[IPO_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%s-%s", base, suffix);
    ipo_region_options_t opts = { .size = 16u << 20, .slots = 4, .mode = 0600, .prefault = 1 };
    int rc = ipo_region_create(r, name, &opts);
    if (rc == 0 && (rc = ipo_waker_init(w, r)) != 0)
        ipo_region_unmap(r);
    if (rc)
        fprintf(stderr, "cannot create region %s: %s\n", name, ipo_strerror(rc));
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2 || ipo_region_name_check(argv[1])) {
        fprintf(stderr, "usage: %s NAME\n", argv[0]);
        return 2;
    }
    service_t s;
    memset(&s, 0, sizeof(s));
    if (open_side(argv[1], "in", &s.requests, &s.requests_waker))
        return 1;
    if (open_side(argv[1], "out", &s.replies, &s.replies_waker)) {
        ipo_waker_fini(&s.requests_waker);
        ipo_region_unmap(&s.requests);
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    ipo_uv_init(loop, &s.requests_watch, &s.requests_waker);
    ipo_uv_init(loop, &s.replies_watch, &s.replies_waker);
    s.requests_watch.data = s.replies_watch.data = &s;
    ipo_uv_start(&s.requests_watch, IPO_WAIT_FOR_MESSAGES, on_requests);
    printf("ready\n");
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);

    /* Leaving: the regions' names go; a peer still attached keeps its mapping. */
    ipo_waker_fini(&s.requests_waker);
    ipo_waker_fini(&s.replies_waker);
    ipo_region_unmap(&s.requests);
    ipo_region_unmap(&s.replies);
    uv_loop_close(loop);
    free(s.pending);
    printf("done\n");
    return s.failed;
}

/* tests/c/crash_scenario.h — what the files of test_crash share: the model, the workload's records, a run. */
#ifndef IPO_TEST_CRASH_SCENARIO_H
#define IPO_TEST_CRASH_SCENARIO_H

#include <stdint.h>

#include "ipo/containers.h"
#include "ipo/region.h"

/* Each wait for the takeover is bounded: the death watch must wake the
 * waiter at once, not a time-out. */
#define TAKEOVER_BOUND_NS (INT64_C(5) * 1000000000)

/* ---- the model: what the queue, the list and the dict must hold (crash_model.c) ---- */

enum { QMAX = 2048, LMAX = 1024, MMAX = 1024 };

typedef struct pair {
    int64_t key, value;
} pair_t;

typedef struct model {
    int64_t  q[QMAX];     /* message sequence numbers, oldest first */
    uint32_t qlen;
    int64_t  list[LMAX];
    uint32_t llen;
    pair_t   map[MMAX];   /* in insertion order, as the table keeps it */
    uint32_t mlen;
} model_t;

enum op_kind {
    OP_BEGIN = 1,      /* a turn began (access held) */
    OP_RELEASED,       /* the turn was released */
    OP_PUT,            /* a: the message's sequence number */
    OP_TAKE,           /* a: the oldest message's number */
    OP_TAKE_NEWEST,    /* a: the newest message's number */
    OP_DESTROY,        /* the message just taken is destroyed */
    OP_ALLOC,          /* a: size, b: alignment (a raw block, no model) */
    OP_FREE,           /* a raw block freed */
    OP_LIST_INSERT,    /* a: index, b: first value, n values b, b+1, ... */
    OP_LIST_REMOVE,    /* a: index, n items */
    OP_LIST_TRIM,
    OP_MAP_INSERT,     /* a: key, b: value */
    OP_MAP_DELETE,     /* a: key */
    OP_MAP_CLEAR,
    OP_LIST_SET,       /* a: index, b: the new value (ipo_list_set) */
    OP_LIST_REVERSE,   /* (ipo_list_permute) */
    OP_MAP_SET,        /* a: key, b: the new value (ipo_map_set_value) */
    OP_COUNT,          /* a: crash points passed by the whole run (counting run only) */
    OP_KINDS_
};

/* The operations' names, for reports. */
extern const char *const op_names[OP_KINDS_];

typedef struct op {
    uint32_t kind;
    uint32_t n;
    int64_t  a, b;
} op_t;

/* Applies one operation; 0, or -1 when the operation cannot apply (the
 * child's report disagrees with the model: a harness bug). */
int model_apply(model_t *m, const op_t *op);

/* ---- values and messages as the workload writes them (crash_model.c) -------------- */

/* An integer as a value: inline, or (every third) boxed in a BYTES child. */
int make_value(ipo_region_t *r, int64_t v, ipo_value_t *out);
/* The integer a value holds; -1 when it is not one make_value() wrote. */
int read_value(const ipo_region_t *r, const ipo_value_t *v, int64_t *out);
/* Message number s: an INT64 object, or (every fourth) a TUPLE with a child. */
int make_message(ipo_region_t *r, int64_t s, ipo_off_t *out);
/* A message's number; -1 when it is not a message the workload made. */
int read_message(const ipo_region_t *r, ipo_off_t off, int64_t *s);
/* ipo_map_find()'s key compare for an INT64 key at ctx. */
int int_key_eq(void *ctx, const ipo_value_t *stored);

/* ---- the workload, run by a child (crash_workload.c) ------------------------------ */

/* RELAY: the writer's workload, and a second participant that takes the
 * dead writer's turn over is killed in turn during its repair; the parent
 * takes over from it and repairs again (a repair cut short is restartable). */
enum mode { WRITER = 0, READER = 1, RELAY = 2, MODES_ };

typedef struct shared_roots {
    ipo_off_t list, map;
} shared_roots_t;

typedef struct workload {
    enum mode mode;
    uint64_t  seed;
    int       turns;
    int       prefill;     /* messages the parent puts before the child starts */
} workload_t;

/* The child: attaches, runs wl's turns reporting each operation on ops_fd
 * before it starts it, and exits 0 (the counting run) or dies at its crash
 * point. Never returns. */
void child_main(const char *name, const workload_t *wl, const model_t *m0, shared_roots_t roots,
                int ops_fd);
/* The relay's taker: takes the dead writer's turn over and repairs (and
 * may die in the repair); a survivor says "survived N" on where_fd. Never
 * returns. */
void taker_main(const char *name, int ready_fd, int where_fd);

/* ---- the parent's checks (crash_verify.c) ----------------------------------------- */

typedef struct failure_note {
    char text[512];
} failure_note_t;

#define NOTE(f, ...) (snprintf((f)->text, sizeof((f)->text), __VA_ARGS__), -1)

/* The queue's sequence numbers, oldest first. */
int read_queue(const ipo_region_t *r, int64_t *out, uint32_t *n, failure_note_t *f);
/* Each structure as the model had it before the cut operation, or after. */
int verify_state(const ipo_region_t *r, shared_roots_t roots, const model_t *before, const model_t *after,
                 failure_note_t *f);
/* check() and each container's check. */
int check_all(const ipo_region_t *r, shared_roots_t roots, failure_note_t *f);
/* The region goes on working after recovery: every message taken in order,
 * the containers changed, blocks allocated and freed, checked again. */
int carry_on(ipo_region_t *r, shared_roots_t roots, const int64_t *expect, uint32_t nexpect, uint64_t *rng,
             failure_note_t *f);

/* ---- one run (crash_run.c) -------------------------------------------------------- */

typedef struct run_result {
    uint64_t count;          /* counting run: crash points passed */
    int      relay_killed;   /* relay: the taker was killed in its repair */
    uint64_t repair_points;  /* relay: points a surviving taker's repair passed */
    int64_t  recovery_ns;    /* kill to takeover */
    char     where[128];     /* file:line of the point the child died at */
    const char *cut_op;      /* the operation the kill cut short */
} run_result_t;

/* One run: a fresh region, a child running the workload (killed at its
 * at-th crash point, or never when at is 0), and the checks. 0, or -1 with
 * a note. */
int run_once(const workload_t *wl, uint64_t at, run_result_t *res, failure_note_t *f);

#endif /* IPO_TEST_CRASH_SCENARIO_H */

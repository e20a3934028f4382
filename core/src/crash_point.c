/* core/src/crash_point.c — counting crash points and dying at the chosen one (test builds only). */
/* Compiled only into the crash-point variants of the core (ipo_core_crash);
 * see crash_point.h for what the environment says. Process-local state:
 * nothing here is shared between processes. */
#include "crash_point.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipo/access.h"

#ifndef IPO_CRASH_POINTS
#error "crash_point.c belongs to the crash-point builds only (-DIPO_CRASH_POINTS)"
#endif

static uint64_t passed;          /* points passed by this process */
static uint64_t kill_at;         /* the point to die at; 0: never */
static int      where_fd = -1;   /* where to say which point killed us */
static char    *count_file;      /* where exit() writes the count */
static char    *kill_site;       /* the named site to die at; NULL: none */
static int      armed;           /* the environment has been read in this process */
static int      hooks_set;       /* the fork and exit hooks are registered */

/* A child of fork() has passed no point yet, and reads the environment
 * again (its parent set IPO_CRASH_AT for it). */
static void forget_in_child(void)
{
    passed = 0;
    armed = 0;
}

static void write_count(void)
{
    if (!count_file)
        return;
    FILE *f = fopen(count_file, "w");
    if (f) {
        fprintf(f, "%llu\n", (unsigned long long)passed);
        fclose(f);
    }
}

static uint64_t env_number(const char *name, uint64_t otherwise)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return otherwise;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    return *end ? otherwise : (uint64_t)v;
}

static void arm(void)
{
    kill_at = env_number("IPO_CRASH_AT", 0);
    uint64_t fd = env_number("IPO_CRASH_WHERE_FD", UINT64_MAX);
    where_fd = fd <= INT32_MAX ? (int)fd : -1;
    free(count_file);
    const char *cf = getenv("IPO_CRASH_COUNT_FILE");
    count_file = cf && *cf ? strdup(cf) : NULL;
    free(kill_site);
    const char *site = getenv("IPO_CRASH_SITE");
    kill_site = site && *site ? strdup(site) : NULL;
    if (!hooks_set) {
        hooks_set = 1;
        pthread_atfork(NULL, NULL, forget_in_child);
        atexit(write_count);
    }
    armed = 1;
}

/* Writes "n file:line ns\n" with write(2) alone: nothing buffered is lost
 * to the kill that follows. */
static void say_where(uint64_t n, const char *file, int line)
{
    char buf[512];
    const char *base = strrchr(file, '/');
    int len = snprintf(buf, sizeof(buf), "%llu %s:%d %lld\n", (unsigned long long)n,
                       base ? base + 1 : file, line, (long long)ipo_now_ns());
    if (len > 0 && (size_t)len < sizeof(buf) && write(where_fd, buf, (size_t)len) < 0) {
        /* The harness went away; dying is all that is left to do. */
    }
}

void ipo__crash_point(const char *file, int line)
{
    if (!armed)
        arm();
    /* Relaxed: a count of this process's own points; threads of a process
     * pass points only under access, one at a time, but the count must not
     * tear if a test ever lets two threads run points. */
    uint64_t n = __atomic_add_fetch(&passed, 1, __ATOMIC_RELAXED);
    if (n != kill_at)
        return;
    if (where_fd >= 0)
        say_where(n, file, line);
    raise(SIGKILL);
}

void ipo__crash_site(const char *name, const char *file, int line)
{
    if (!armed)
        arm();
    if (!kill_site || strcmp(kill_site, name))
        return;
    if (where_fd >= 0)
        say_where(__atomic_load_n(&passed, __ATOMIC_RELAXED), file, line);
    raise(SIGKILL);
}

uint64_t ipo__crash_points_passed(void)
{
    return __atomic_load_n(&passed, __ATOMIC_RELAXED);
}

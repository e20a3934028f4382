/* core/src/process.c — what the core knows of processes: the handles a child of fork() inherits, a process's start time. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipo/region.h"
#include "internal.h"

/* Handles with an open region file, so that a child of fork() can close
 * the files it inherited: an inherited descriptor shares the parent's
 * open-file description, so it would keep the parent's liveness lock held
 * for as long as the child lives, even after the parent died. */
unsigned ipo__fork_gen; /* region.h */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static ipo_region_t *registry;

static void before_fork(void)
{
    pthread_mutex_lock(&registry_lock);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&registry_lock);
}

static void after_fork_child(void)
{
    for (ipo_region_t *r = registry; r; r = r->registry_next) {
        /* The child keeps a copy of the parent's mapping, and maybe views
         * into it: make it private, so that nothing the child writes there
         * (after the parent let the memory be reused) reaches the region. */
        if (r->base)
            mmap(r->base, r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, r->fd, 0);
        /* Closing our descriptor never drops the parent's lock: the parent's
         * own descriptor still refers to the open-file description. */
        close(r->fd);
    }
    registry = NULL;
    ipo__fork_gen++;
    pthread_mutex_unlock(&registry_lock);
}

static void install_fork_handlers(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

unsigned ipo__fork_generation(void)
{
    pthread_once(&fork_once, install_fork_handlers);
    return ipo__fork_gen;
}

/* Registered from the moment the file is open, so that a fork() in another
 * thread during create or attach cannot leak the descriptor to the child. */
void ipo__registry_add(ipo_region_t *r, int fd)
{
    ipo__fork_generation();
    pthread_mutex_lock(&registry_lock);
    r->fd = fd;
    r->registry_next = registry;
    registry = r;
    pthread_mutex_unlock(&registry_lock);
}

void ipo__registry_remove(ipo_region_t *r)
{
    pthread_mutex_lock(&registry_lock);
    for (ipo_region_t **p = &registry; *p; p = &(*p)->registry_next) {
        if (*p == r) {
            *p = r->registry_next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/* Whether this handle was made in this process, not inherited across fork. */
int ipo__handle_is_ours(const ipo_region_t *r)
{
    return r->fork_gen == ipo__fork_generation();
}


uint64_t ipo__process_start_time(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: count fields from
     * the last ')'. starttime is field 22; the state after ')' is field 3.
     * p starts at the space before field 3, and each step moves it to the
     * space before the next field. (Starting the count at 2 read field 23,
     * the virtual memory size, which changes as the process runs and is 0
     * once it is exiting: the death watch took live processes for dead.) */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

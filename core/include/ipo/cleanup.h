/* core/include/ipo/cleanup.h — removing what dead processes left in /dev/shm. */
#ifndef IPO_CLEANUP_H
#define IPO_CLEANUP_H

#ifdef __cplusplus
extern "C" {
#endif

/* What a leftover is. */
enum ipo_leftover {
    IPO_LEFTOVER_REGION   = 1,  /* a region whose every participant is dead */
    IPO_LEFTOVER_CREATING = 2,  /* the hidden file of a creation whose creator died */
    IPO_LEFTOVER_DOORBELL = 3   /* the doorbell of a dead participant (loop/: ipo_notify_sweep) */
};

/* Called for each leftover removed (or, on a dry run, that would be), with
 * its path. */
typedef void (*ipo_leftover_fn)(void *ctx, int kind, const char *path);

/* Removes from /dev/shm this user's regions whose every participant is
 * dead and the hidden files of creations whose creator died; never a file
 * of a live process, never another user's file. With dry_run, removes
 * nothing and reports what it would remove. report may be NULL. The count
 * of leftovers, or -IPO_ESYS when /dev/shm cannot be read. Doorbells are
 * loop/'s (ipo_notify_sweep). */
int ipo_cleanup(int dry_run, ipo_leftover_fn report, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* IPO_CLEANUP_H */

/* core/include/ipo/errors.h — the one table of error codes every ipo_ function returns. */
#ifndef IPO_ERRORS_H
#define IPO_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Functions return 0 on success or the negative of one of these codes.
 * IPO_ESYS means a system call failed for a reason not listed here; errno
 * still holds the system's code when the function returns. Each code has
 * one meaning, so that a caller can act on it without knowing which
 * function returned it: a new cause gets a new code (at the end: the
 * numbers are an ABI), never an old code stretched over it. */
enum ipo_error {
    IPO_EINVAL = 1,  /* an argument is out of its domain (bad name, size, offset) */
    IPO_ENOMEM,      /* no free chunk in the region is large enough */
    IPO_ENOENT,      /* no region of that name exists */
    IPO_EEXIST,      /* the name is taken by a live region or by a foreign object */
    IPO_EAGAIN,      /* the region exists but is not ready yet: try again */
    IPO_ETIMEDOUT,   /* the deadline passed */
    IPO_ELAYOUT,     /* magic, layout version, layout hash or size do not match */
    IPO_EPERM,       /* the region, or the doorbell directory, belongs to another user or has
                        another mode than expected */
    IPO_ENOSPC,      /* /dev/shm cannot hold a region of that size */
    IPO_EFULL,       /* every participant slot is taken */
    IPO_ENOTHELD,    /* the caller does not hold access */
    IPO_EEMPTY,      /* the message queue, or a channel, is empty */
    IPO_EBADOBJ,     /* the offset (given, or held by a container: a list's array, a map's
                        table) does not name a live object of the type it should */
    IPO_ECORRUPT,    /* a consistency check found a broken invariant */
    IPO_ECLOSING,    /* the region is closing and takes no new participants */
    IPO_EBUSY,       /* the object is in use: a queued message names it, or a live buffer
                        shows it (or a block of its tree); or a channel's side is claimed by
                        another live participant */
    IPO_ESYS,        /* another system error; see errno */
    IPO_EINTR,       /* a wait ended early (a signal, or the caller's wake-up time): call again */
    IPO_EOVERFLOW,   /* a counter in the region is at its limit (an object's 65535 pins) */
    IPO_ETAKEN,      /* the participant slot asked for by number is held by another */
    IPO_ECREATORGONE, /* the region's creator died or closed it: the region is gone for its
                         consumers (its liveness lock on slot 0 is released) */
    IPO_ECHANFULL,   /* the channel has no free slot: the receiver has not released enough */
    IPO_EMSGSIZE,    /* the message does not fit: larger than the channel's slot, or than the
                        caller's buffer (the message stays) */
    IPO_EMISMATCH,   /* a channel of that name exists with other sizes */
    IPO_ERROR_COUNT_
};

/* A static, human-readable description of code (positive or negative). */
const char *ipo_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* IPO_ERRORS_H */

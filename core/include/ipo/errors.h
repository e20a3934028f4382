/* core/include/ipo/errors.h — the one table of error codes every ipo_ function returns. */
#ifndef IPO_ERRORS_H
#define IPO_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Functions return 0 on success or the negative of one of these codes.
 * IPO_ESYS means a system call failed for a reason not listed here; errno
 * still holds the system's code when the function returns. */
enum ipo_error {
    IPO_EINVAL = 1,  /* an argument is out of its domain (bad name, size, offset) */
    IPO_ENOMEM,      /* no free chunk in the region is large enough */
    IPO_ENOENT,      /* no region of that name exists */
    IPO_EEXIST,      /* the name is taken by a live region or by a foreign object */
    IPO_EAGAIN,      /* the region exists but is not ready yet: try again */
    IPO_ETIMEDOUT,   /* the deadline passed */
    IPO_ELAYOUT,     /* magic, layout version, layout hash or size do not match */
    IPO_EPERM,       /* the region belongs to another user or has another mode */
    IPO_ENOSPC,      /* /dev/shm cannot hold a region of that size */
    IPO_EFULL,       /* every participant slot is taken */
    IPO_ENOTHELD,    /* the caller does not hold access */
    IPO_EEMPTY,      /* the message queue is empty */
    IPO_EBADOBJ,     /* the offset does not name a live object */
    IPO_ECORRUPT,    /* a consistency check found a broken invariant */
    IPO_ECLOSING,    /* the region is closing and takes no new participants */
    IPO_EBUSY,       /* the object is still named by a queued message */
    IPO_ESYS,        /* another system error; see errno */
    IPO_EINTR,       /* a wait ended early (a signal, or the caller's wake-up time): call again */
    IPO_ERROR_COUNT_
};

/* A static, human-readable description of code (positive or negative). */
const char *ipo_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* IPO_ERRORS_H */

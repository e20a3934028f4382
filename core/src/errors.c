/* core/src/errors.c — descriptions of the IPO_E* codes. */
#include "ipo/errors.h"

static const char *const descriptions[IPO_ERROR_COUNT_] = {
    [0]             = "success",
    [IPO_EINVAL]    = "invalid argument",
    [IPO_ENOMEM]    = "no free chunk of shared memory is large enough",
    [IPO_ENOENT]    = "no region of that name exists",
    [IPO_EEXIST]    = "the name is taken by a live region or by an object that is not a region",
    [IPO_EAGAIN]    = "the region is not ready yet",
    [IPO_ETIMEDOUT] = "the operation timed out",
    [IPO_ELAYOUT]   = "the region's layout is foreign or incompatible",
    [IPO_EPERM]     = "the region or the doorbell directory belongs to another user or has another mode",
    [IPO_ENOSPC]    = "not enough room in /dev/shm for a region of that size",
    [IPO_EFULL]     = "every participant slot of the region is taken",
    [IPO_ENOTHELD]  = "this participant does not hold access",
    [IPO_EEMPTY]    = "the message queue or channel is empty",
    [IPO_EBADOBJ]   = "the offset does not name a live object",
    [IPO_ECORRUPT]  = "the region is inconsistent",
    [IPO_ECLOSING]  = "the region is closing",
    [IPO_EBUSY]     = "the object is in use by a queued message or a live buffer",
    [IPO_ESYS]      = "system error",
    [IPO_EINTR]     = "the wait ended early",
    [IPO_EOVERFLOW] = "a counter in the region is at its limit",
    [IPO_ETAKEN]    = "the participant slot asked for is held by another participant",
    [IPO_ECREATORGONE] = "the region's creator died or closed it",
    [IPO_ECHANFULL] = "the channel has no free slot",
    [IPO_EMSGSIZE]  = "the message does not fit the channel's slot or the buffer given",
    [IPO_EMISMATCH] = "a channel of that name exists with other sizes",
};

const char *ipo_strerror(int code)
{
    if (code < 0)
        code = -code;
    if (code >= IPO_ERROR_COUNT_)
        return "unknown error";
    return descriptions[code];
}

"""The exceptions of ipc_py_objects. Every one derives from SharedMemoryError.

The C module raises these classes (it imports this module when it loads), so
each error has one definition, here.
"""

__all__ = [
    "SharedMemoryError",
    "FreeMemoryChunkNotFoundError",
    "NoMessagesInQueueError",
    "OperationTimedOutError",
    "RegionNotFoundError",
    "RegionExistsError",
    "RegionPermissionError",
    "UntrustedRegionError",
    "IncompatibleRegionError",
    "RegionClosingError",
    "RegionFullError",
    "NotEnoughSharedMemoryError",
    "AccessNotHeldError",
    "RegionClosedError",
    "InvalidOffsetError",
    "ObjectInUseError",
    "RegionCorruptedError",
    "CreatorGoneError",
    "UnknownClassError",
    "WrongObjectTypeError",
]


class SharedMemoryError(Exception):
    """The base of every error this package raises."""


class FreeMemoryChunkNotFoundError(SharedMemoryError):
    """No free chunk of the region is large enough for the object being stored.

    The region stays fully usable. The figures are the allocator's, taken
    when it refused: ``requested`` is the size it looked for (the block's
    payload: the object with its 16- or 64-byte header, rounded up to 16
    bytes), ``alignment`` the boundary that payload had to start on (16, or
    64 for payloads of 256 bytes and more and for array data), and
    ``largest_free`` the most a chunk could hold at that alignment, always
    less than ``requested``. ``largest_free_chunk`` is the largest free
    chunk at any alignment (it can exceed ``requested`` when no large chunk
    starts at a usable boundary), ``free_bytes`` the free total. A container
    that grows (a list, a dict's table, the message queue) asks for the
    smallest growth that does when its usual one does not fit, so these are
    that smallest request's figures. Destroy objects that are no longer
    needed, or create the region larger: fragmentation means the largest
    chunk can be much smaller than the free total.
    """

    requested: int = 0
    alignment: int = 16
    largest_free: int = 0
    largest_free_chunk: int = 0
    free_bytes: int = 0


class NoMessagesInQueueError(SharedMemoryError):
    """take_message() or read_message() found the queue empty."""


class OperationTimedOutError(SharedMemoryError, TimeoutError):
    """A wait (for access, messages, a consumer or a region) passed its time limit."""


class RegionNotFoundError(SharedMemoryError, FileNotFoundError):
    """No region of that name appeared within the time limit."""


class RegionExistsError(SharedMemoryError, FileExistsError):
    """The name is taken by a live region, or by an object that is not a region."""


class RegionPermissionError(SharedMemoryError, PermissionError):
    """The region belongs to another user, or its mode is not the one expected."""


class UntrustedRegionError(RegionPermissionError):
    """Reading an object would unpickle data, or import a class, that a region
    other users can write chose. Open the region with ``trust=True`` to allow it."""


class IncompatibleRegionError(SharedMemoryError):
    """The object under that name is not a region of this layout version."""


class RegionClosingError(SharedMemoryError):
    """The region's creator is leaving; it takes no new participants."""


class RegionFullError(SharedMemoryError):
    """Every participant slot of the region is taken."""


class NotEnoughSharedMemoryError(SharedMemoryError, OSError):
    """/dev/shm cannot hold a region of the size asked for."""


class AccessNotHeldError(SharedMemoryError):
    """A call that touches shared structures was made without holding access."""


class RegionClosedError(SharedMemoryError):
    """The handle is closed, not attached yet, or inherited across fork()."""


class InvalidOffsetError(SharedMemoryError, ValueError):
    """An offset does not name a live object (never one, or destroyed already)."""


class ObjectInUseError(SharedMemoryError):
    """The object cannot be destroyed yet: a queued message still names it."""


class RegionCorruptedError(SharedMemoryError):
    """check() found a broken invariant in the region."""


class CreatorGoneError(SharedMemoryError):
    """The region's creator died (or closed the region): the region is gone.

    The creator owns a region, as in the original package, so a consumer's
    waits (for access, for messages, for a turn of the asyncio manager)
    raise this once the creator is gone, and attaching to a region whose
    creator died raises it too. A turn held when the creator died runs to
    its end; the last consumer to close the region removes it. A consumer
    that wants to go on attaches again, to the region a restarted creator
    makes under the name.
    """


class UnknownClassError(SharedMemoryError, TypeError):
    """A shared object's class cannot be imported in this process."""


class WrongObjectTypeError(SharedMemoryError, TypeError):
    """The object at an offset is not of a type the call works on (say,
    get_obj_buffer() on a list, which has no data buffer)."""

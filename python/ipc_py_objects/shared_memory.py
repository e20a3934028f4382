"""SharedMemory: a region of shared memory with a message queue, and its sync API.

The work is done in C (``_ipo.Region``); this module adds the context-manager
protocol and closing at interpreter exit.
"""

import atexit
import weakref

from . import _ipo

__all__ = [
    "SharedMemory",
    "wait_my_turn",
    "wait_my_turn_when_has_messages",
    "get_in_line",
]

# Context managers taking the region: `with wait_my_turn(sm):` holds access for
# the block. They are C objects, so a turn costs two C calls.
wait_my_turn = _ipo.wait_my_turn
wait_my_turn_when_has_messages = _ipo.wait_my_turn_when_has_messages
get_in_line = _ipo.get_in_line

# Regions still open at exit are closed then, so that a creator that never
# called close() does not leave its region behind in /dev/shm.
_open_regions: "weakref.WeakSet[SharedMemory]" = weakref.WeakSet()


@atexit.register
def _close_open_regions() -> None:
    for region in list(_open_regions):
        try:
            region.close()
        except Exception:  # exit must go on whatever one region does
            pass


class SharedMemory(_ipo.Region):
    """A named region of shared memory holding objects and a queue of messages.

    ``SharedMemory(name, create=True, size=...)`` creates the region at once;
    ``SharedMemory(name)`` prepares a consumer, which attaches in
    ``init_consumer()`` (or on entering ``with``). Keyword options: ``slots``
    (participants, default 16), ``mode`` (file mode, default 0o600, set
    whatever the umask), ``prefault`` (map pages up front, default True) and
    ``close_timeout`` (how long a closing creator waits for its consumers to
    detach, default 5 s).

    Only one process holds access at a time; the calls of this class that
    touch shared structures raise ``AccessNotHeldError`` when made without
    it. A live object (list, dict, set, mapped object) used without it takes
    a turn for that one operation, waiting at most ``turn_time_limit``
    seconds (default None: as long as it takes); ``strict=True`` makes that
    an ``AccessNotHeldError`` too.
    """

    def __init__(self, name, create=False, size=None, **options):
        super().__init__(name, create, size, **options)
        _open_regions.add(self)

    def __enter__(self):
        if not self.create:
            self.init_consumer()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __repr__(self):
        state = "closed" if self.closed else ("attached" if self.attached else "not attached")
        role = "creator" if self.create else "consumer"
        return f"<SharedMemory {self.name!r} {role}, size={self.size}, {state}>"

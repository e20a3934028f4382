"""SharedMemory: a region of shared memory with a message queue, and its sync API.

The work is done in C (``_ipo.Region``); this module gives it the original
package's constructor (its parameters, positionally and by keyword, with their
meanings), the context-manager protocol, the original's waiting helpers, and
closing at interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import enum
import weakref
from types import TracebackType
from typing import Any, Optional, Type

from . import _ipo
from .aturn import acquire_turn, release_turn
from .errors import OperationTimedOutError

__all__ = [
    "SharedMemory",
    "QueueType",
    "WaitMyTurn",
    "WaitMyTurnWhenHasMessages",
    "GetInLine",
    "wait_my_turn",
    "wait_my_turn_when_has_messages",
    "get_in_line",
]


class QueueType(enum.IntEnum):
    """Which message a read takes: the oldest (``fifo``) or the newest (``lifo``)."""

    fifo = 0
    lifo = 1


# Context managers taking the region: `with wait_my_turn(sm):` holds access for
# the block. They are C types, so a turn costs two C calls; the lower-case
# names are the classes themselves, as in the original package.
WaitMyTurn = _ipo.WaitMyTurn
WaitMyTurnWhenHasMessages = _ipo.WaitMyTurnWhenHasMessages
GetInLine = _ipo.GetInLine
wait_my_turn = WaitMyTurn
wait_my_turn_when_has_messages = WaitMyTurnWhenHasMessages
get_in_line = GetInLine

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
    ``init_consumer()`` (or on entering ``with``).

    The original package's parameters, positionally as there:

    - ``queue_type``: the end reads take when given no ``queue_type`` of their
      own: ``QueueType.fifo`` (the oldest message) or ``QueueType.lifo`` (the
      newest).
    - ``zero_mem``: accepted; a new region is always zero (its pages are
      fresh from the kernel, and an old region is never reused).
    - ``consumer_id``: a consumer's number among the consumers (0 is the first
      slot after the creator's); None takes any free slot.
    - ``creator_destroy_timeout``: how long a closing creator waits for its
      consumers to detach before it removes the region (seconds).
    - ``unlink_old``: True replaces a region of the same name that the last
      run left behind (its participants all dead; a live one is never
      removed); False refuses any existing object of that name.

    Our keyword options: ``slots`` (participants, default 16), ``mode`` (file
    mode, default 0o600, set whatever the umask), ``prefault`` (map pages up
    front, default True), ``close_timeout`` (the same as
    creator_destroy_timeout), ``spin_budget`` (seconds a waiter spins
    before it sleeps), ``trust`` (unpickle and import what this region
    names even though another user may write it), ``strict`` and
    ``turn_time_limit`` (below).

    Only one process holds access at a time; the calls of this class that
    touch shared structures raise ``AccessNotHeldError`` when made without
    it. A live object (list, dict, set, mapped object) used without it takes
    a turn for that one operation, waiting at most ``turn_time_limit``
    seconds (default None: as long as it takes); ``strict=True`` makes that
    an ``AccessNotHeldError`` too.
    """

    # The ASharedMemoryManager using this region, if any (aio.py): one per region.
    _async_manager: Any = None

    def __init__(
        self,
        name: str,
        create: bool = False,
        size: Optional[int] = None,
        queue_type: QueueType = QueueType.fifo,
        zero_mem: bool = True,
        consumer_id: Optional[int] = None,
        creator_destroy_timeout: Optional[float] = 5.0,
        unlink_old: bool = True,
        *,
        slots: int = 16,
        mode: int = 0o600,
        prefault: bool = True,
        close_timeout: Optional[float] = None,
        spin_budget: Optional[float] = None,
        trust: bool = False,
        strict: bool = False,
        turn_time_limit: Optional[float] = None,
    ) -> None:
        try:
            lifo = QueueType(queue_type) is QueueType.lifo
        except ValueError:
            raise ValueError(
                f"queue_type must be QueueType.fifo or QueueType.lifo, not {queue_type!r}"
            ) from None
        if close_timeout is not None:
            if creator_destroy_timeout != 5.0:
                raise TypeError(
                    "creator_destroy_timeout and close_timeout are the same setting: give one"
                )
        else:
            close_timeout = creator_destroy_timeout
        super().__init__(
            name, create, size, replace_stale=bool(unlink_old), consumer_id=consumer_id,
            slots=slots, mode=mode, prefault=prefault, close_timeout=close_timeout,
            spin_budget=spin_budget, trust=trust, strict=strict, turn_time_limit=turn_time_limit,
        )
        self._queue_lifo = lifo
        _open_regions.add(self)

    @property
    def queue_type(self) -> QueueType:
        """The end reads take when given no queue_type: fifo, the oldest message."""
        return QueueType.lifo if self._queue_lifo else QueueType.fifo

    @queue_type.setter
    def queue_type(self, value: QueueType) -> None:
        self._queue_lifo = QueueType(value) is QueueType.lifo

    def __enter__(self) -> "SharedMemory":
        if not self.create:
            self.init_consumer()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    async def __aenter__(self) -> "SharedMemory":
        if not self.create:
            await self.ainit_consumer()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        # A creator waits for its consumers to leave: not on the loop's thread.
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    # ---- the original's waits, sync and async ------------------------------------

    def wait_for_messages(
        self, time_limit: Optional[float] = None, periodic_sleep_time: Any = None
    ) -> bool:
        """Waits until a message is queued, without keeping a turn: True, or
        False when time_limit passed first."""
        try:
            with WaitMyTurnWhenHasMessages(self, time_limit):
                return True
        except OperationTimedOutError:
            return False

    async def await_my_turn(self, time_limit: Optional[float] = None) -> bool:
        """Waits for access without blocking the event loop: True once held
        (release() gives it back), False when time_limit passed first."""
        return await acquire_turn(self, False, time_limit)

    async def await_for_messages(self, time_limit: Optional[float] = None) -> bool:
        """As wait_for_messages, without blocking the event loop."""
        if self.is_in_line():  # a turn of this thread's own: looked at, and left as it is
            return await acquire_turn(self, True, time_limit)
        if not await acquire_turn(self, True, time_limit):
            return False
        release_turn(self)
        return True

    async def ainit_consumer(self, time_limit: Optional[float] = None) -> bool:
        """init_consumer without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.init_consumer, time_limit)

    async def await_consumer_ready(self, time_limit: Optional[float] = None) -> bool:
        """wait_consumer_ready without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            None, self.wait_consumer_ready, time_limit
        )

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("attached" if self.attached else "not attached")
        role = "creator" if self.create else "consumer"
        return f"<SharedMemory {self.name!r} {role}, size={self.size}, {state}>"

"""A turn for one coroutine without an ASharedMemoryManager: await_my_turn.

The original package lets a coroutine take a turn on its own
(``await sm.await_my_turn()``, ``async with await_my_turn(sm):``). The wait
is the C waiter's (try, spin, sleep on the doorbell, pass an unused ring on),
as for the sync API and the manager; this module only drives it from the
event loop with ``loop.add_reader``, so the loop runs while a peer holds
access. Cancelling the coroutine (Ctrl-C under ``asyncio.run`` does) ends the
wait and gives back a turn granted meanwhile.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, Optional, Type

from . import _ipo
from .errors import OperationTimedOutError, SharedMemoryError

if TYPE_CHECKING:
    from .shared_memory import SharedMemory

__all__ = ["await_my_turn"]

# Before it sleeps, a wait spins this long at most (with the loop's thread
# busy), as the manager's waits do.
SPIN_SECONDS = 20e-6

# While it sleeps, a wait looks this often whether the region's creator is
# alive (the waiter asks, one system call): a dead creator never rings.
LOOK_SECONDS = 1.0


async def acquire_turn(sm: "SharedMemory", messages: bool, time_limit: Optional[float]) -> bool:
    """Waits for access (with a message queued, if `messages`): True once
    this thread holds it, False when time_limit passed first. A turn this
    thread holds already counts as taken, unless the wait is for a message
    and none is queued (nobody else could queue one: an error, at once)."""
    if time_limit is not None and not time_limit >= 0:
        raise ValueError(f"time_limit must be None or a number of seconds >= 0, not {time_limit!r}")
    if sm.is_in_line():
        if messages and not sm._queue_length():
            raise SharedMemoryError(
                f"this thread holds access to region {sm.name!r} and its queue is empty: "
                f"waiting for a message here would never end. Release first"
            )
        return True
    # The uncontended case: one compare-and-swap, no waiter made.
    if not messages and sm.get_in_line():
        return True
    loop = asyncio.get_running_loop()
    waiter = _ipo.Waiter(sm)
    what = _ipo.WAIT_FOR_MESSAGES if messages else _ipo.WAIT_FOR_ACCESS
    outcome: "asyncio.Future[bool]" = loop.create_future()

    def look(step: int) -> None:
        # AGAIN: the waiter was idle (a ring meant for somebody else): wait on.
        while step == _ipo.WAIT_AGAIN:
            step = waiter.start(what, 0, 0.0)
        if step == _ipo.WAIT_HELD and not outcome.done():
            outcome.set_result(True)

    def on_readable() -> None:
        if outcome.done():
            return
        try:
            look(waiter.readable())
        except BaseException as exc:  # reported to the waiting coroutine
            outcome.set_exception(exc)

    def on_time_limit() -> None:
        if not outcome.done():
            # The creator's death, rather than a time limit, if it died.
            try:
                sm._check_creator()
            except BaseException as exc:
                outcome.set_exception(exc)
                return
            outcome.set_result(False)

    def on_look() -> None:
        nonlocal looker
        looker = None
        if not outcome.done():
            on_readable()  # a look with nothing read: the waiter asks after the creator
            looker = loop.call_later(LOOK_SECONDS, on_look)

    fds: tuple = ()
    timer = None
    looker = None
    try:
        look(waiter.start(what, 0, SPIN_SECONDS))
        if not outcome.done():
            fds = waiter.fds
            for fd in fds:
                loop.add_reader(fd, on_readable)
            if time_limit is not None:
                timer = loop.call_later(time_limit, on_time_limit)
            looker = loop.call_later(LOOK_SECONDS, on_look)
        return await outcome
    except BaseException:
        # Cancelled (or failed) after the turn was granted: give it back.
        if outcome.done() and not outcome.cancelled() and outcome.exception() is None and outcome.result():
            release_turn(sm)
        raise
    finally:
        if timer is not None:
            timer.cancel()
        if looker is not None:
            looker.cancel()
        for fd in fds:
            loop.remove_reader(fd)
        # A wait that ends without its turn passes a ring it may hold on;
        # after a turn the waiter is idle and this does nothing.
        waiter.cancel()


def release_turn(sm: "SharedMemory") -> None:
    """Gives back a turn this thread holds (and nothing else)."""
    sm._release_if_held()


class await_my_turn:
    """``async with await_my_turn(sm, time_limit=None):`` holds access for the
    block, the event loop running while it waits; OperationTimedOutError once
    time_limit passes. Inside a turn this thread holds already, the block
    runs in that turn and leaves it to its owner, as the original's does."""

    __slots__ = ("shared_memory", "time_limit", "is_in_line")

    def __init__(self, shared_memory: "SharedMemory", time_limit: Optional[float] = None) -> None:
        if not isinstance(shared_memory, _ipo.Region):
            raise TypeError(f"expected a SharedMemory, got {type(shared_memory).__name__!r}")
        self.shared_memory = shared_memory
        self.time_limit = time_limit
        self.is_in_line = False

    async def __aenter__(self) -> "SharedMemory":
        sm = self.shared_memory
        self.is_in_line = sm.is_in_line()
        if not self.is_in_line and not await acquire_turn(sm, False, self.time_limit):
            raise OperationTimedOutError(
                f"access to region {sm.name!r} was not granted within {self.time_limit} s"
            )
        return sm

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if not self.is_in_line:
            release_turn(self.shared_memory)

"""The asyncio API: ASharedMemoryManager and its per-coroutine context managers.

The manager watches its participant's doorbell with ``loop.add_reader``, so the
same code runs on asyncio and uvloop, and the event loop is never blocked
while another process holds access: a coroutine that waits for access awaits
a future, which the doorbell's reader resolves once a releaser rings.

``existence``, as the seed defines it: each block starts with
``shared_memory.existence`` True. If every coroutine's last block set it False,
the manager does not take access again for them until another process has
released access since our last turn (that release rings our doorbell): a
process that loops over shared state costs nothing while nothing changes. A
coroutine that has not finished a block yet is not held back.
``if_has_messages()`` waits until a message is queued, whatever ``existence``
says. Several coroutines of one process share the manager; one of them holds
access at a time.
"""

import asyncio
import collections
import weakref
from typing import Any, Deque, Optional

from . import _ipo
from .errors import SharedMemoryError
from .shared_memory import SharedMemory

__all__ = [
    "ASharedMemoryManager",
    "ASharedMemoryContextManager",
    "ASMM",
    "ASMCM",
    "ValueHolder",
]

WAIT_FOR_ACCESS = _ipo.WAIT_FOR_ACCESS
WAIT_FOR_MESSAGES = _ipo.WAIT_FOR_MESSAGES
WAIT_FOR_RELEASE = _ipo.WAIT_FOR_RELEASE

# Before registering on the doorbell, an acquisition spins this long at most
# (with the loop's thread busy): a holder on another core is usually done by
# then, and the turn starts without a round trip through the event loop.
SPIN_SECONDS = 20e-6


class ValueHolder:
    """What ``async with cm as shared_memory`` gives: ``.value`` is the
    SharedMemory, ``.existence`` is True at the start of each block."""

    __slots__ = ("value", "existence")

    def __init__(self, value: Any, existence: bool = True) -> None:
        self.value = value
        self.existence = existence

    def __repr__(self) -> str:
        return f"ValueHolder(value={self.value!r}, existence={self.existence!r})"


class _Waiter:
    __slots__ = ("future", "cm", "messages")

    def __init__(self, future: "asyncio.Future[None]", cm: "ASharedMemoryContextManager", messages: bool):
        self.future = future
        self.cm = cm
        self.messages = messages


class ASharedMemoryManager:
    """Shares one SharedMemory between the coroutines of an event loop.

    ``async with ASharedMemoryManager(sm) as asmm`` prepares the region: the
    creator waits for a consumer, a consumer for the region (bounded by
    ``time_limit`` seconds, None for no bound), without blocking the loop.
    Leaving the block closes the region. ``asmm()`` gives a context manager;
    create one per coroutine.
    """

    def __init__(self, shared_memory: SharedMemory, time_limit: Optional[float] = None) -> None:
        if not isinstance(shared_memory, _ipo.Region):
            raise TypeError(f"expected a SharedMemory, got {type(shared_memory).__name__!r}")
        self.shared_memory = shared_memory
        self._time_limit = time_limit
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._fds: tuple = ()
        self._waiters: Deque[_Waiter] = collections.deque()
        self._holding = False
        self._registered = 0  # the WAIT_FOR_* bits we sleep on now
        self._since: Optional[int] = None  # the access count at our last release
        self._owed_pass_on = False  # we read a ring and have not used it
        # The existence each context manager left at the end of its last block.
        self._existence: "weakref.WeakKeyDictionary[ASharedMemoryContextManager, bool]" = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self) -> "ASharedMemoryContextManager":
        return ASharedMemoryContextManager(self)

    async def __aenter__(self) -> "ASharedMemoryManager":
        loop = asyncio.get_running_loop()
        sm = self.shared_memory
        if getattr(sm, "_async_manager", None) is not None:
            raise SharedMemoryError(
                f"region {sm.name!r} has an ASharedMemoryManager already: share that one"
            )
        sm._async_manager = self
        try:
            # Both waits release the GIL in C: a worker thread keeps the loop free.
            if sm.create:
                await loop.run_in_executor(None, sm.wait_consumer_ready, self._time_limit)
            else:
                await loop.run_in_executor(None, sm.init_consumer, self._time_limit)
            # The doorbell, and the eventfd through which this process's other
            # sleepers hand on a ring they read from it.
            self._fds = sm._event_fds()
        except BaseException:
            sm._async_manager = None
            raise
        self._loop = loop
        for fd in self._fds:
            loop.add_reader(fd, self._on_doorbell)
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        loop = self._loop
        sm = self.shared_memory
        if loop is not None:
            for fd in self._fds:
                loop.remove_reader(fd)
        self._fds = ()
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(SharedMemoryError("the manager was closed"))
        self._waiters.clear()
        if sm.attached:
            self._stop_waiting()
            sm._release_if_held()
            self._settle_pass_on()
        sm._async_manager = None
        if loop is not None:
            # A creator waits for its consumers to leave: not on the loop's thread.
            await loop.run_in_executor(None, sm.close)
        self._loop = None
        return False

    # ---- taking turns -----------------------------------------------------------

    async def _acquire(self, cm: "ASharedMemoryContextManager", messages: bool) -> None:
        if self._loop is None:
            raise SharedMemoryError("use the manager in `async with` before taking turns")
        future = self._loop.create_future()
        waiter = _Waiter(future, cm, messages)
        self._waiters.append(waiter)
        try:
            self._pump()
            await future
        except BaseException:
            # Cancelled (or the manager closed): give back a turn granted
            # meanwhile, without counting it as a block of this coroutine.
            if future.done() and not future.cancelled() and future.exception() is None:
                self._release(cm, None)
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
                self._pump()
            raise

    def _release(self, cm: "ASharedMemoryContextManager", existence: Optional[bool]) -> None:
        if existence is not None:
            self._existence[cm] = existence
        self._holding = False
        sm = self.shared_memory
        if sm.attached:
            # The count is ours while we hold access: read it before letting go.
            since = sm._access_count()
            sm._release_if_held()
            self._since = since
        self._pump()

    def _idle(self) -> bool:
        """Every coroutine's last block set existence False, and no other
        process has taken access since our last turn."""
        if self._since is None or not self._existence:
            return False
        if any(self._existence.values()):
            return False
        return self.shared_memory._access_count() == self._since

    def _gated(self, cm: "ASharedMemoryContextManager", idle: bool) -> bool:
        """Whether cm's next turn waits for another process's release: its
        own last block said so, and so did everyone else's. A context manager
        that has not finished a block yet has said nothing."""
        return idle and self._existence.get(cm) is False

    def _pump(self) -> None:
        """Gives access to the first waiter that can have it, or registers on
        the doorbell for what the waiters need."""
        sm = self.shared_memory
        try:
            while not self._holding and self._waiters and sm.attached:
                chosen = None
                needs = 0
                idle = self._idle()
                for waiter in self._waiters:
                    if waiter.future.done():
                        continue
                    if waiter.messages:
                        if not sm._queue_length():
                            needs |= WAIT_FOR_MESSAGES
                            continue
                    elif self._gated(waiter.cm, idle):
                        needs |= WAIT_FOR_RELEASE
                        continue
                    chosen = waiter
                    break
                if chosen is None:
                    self._waiters = collections.deque(w for w in self._waiters if not w.future.done())
                    if not self._waiters:
                        break
                    if self._sleep_for(needs):
                        return
                    continue  # the wait is over already: look again
                if sm._try_acquire(chosen.messages, SPIN_SECONDS):
                    self._holding = True
                    self._owed_pass_on = False  # the ring, if any, was our turn
                    self._waiters.remove(chosen)
                    self._stop_waiting()
                    chosen.future.set_result(None)
                    return
                needs |= WAIT_FOR_MESSAGES if chosen.messages else WAIT_FOR_ACCESS
                if self._sleep_for(needs):
                    return
            self._stop_waiting()
        finally:
            if not self._holding:
                self._settle_pass_on()

    def _sleep_for(self, what: int) -> bool:
        """Sleeps on the doorbell for `what`. False when there is nothing to
        wait for (the caller looks again)."""
        if what == self._registered:
            return True
        self._stop_waiting()
        # A ring we read and will not use goes on before we line up again.
        self._settle_pass_on()
        sm = self.shared_memory
        since = self._since if self._since is not None else sm._access_count()
        if sm._register(what, since):
            self._registered = what
            return True
        return False

    def _stop_waiting(self) -> None:
        if self._registered:
            self._registered = 0
            if self.shared_memory._unregister():
                self._owed_pass_on = True

    def _settle_pass_on(self) -> None:
        if self._owed_pass_on:
            self._owed_pass_on = False
            if self.shared_memory.attached:
                self.shared_memory._pass_on()

    def _on_doorbell(self) -> None:
        # Whoever rang (a releaser, or another sleeper of this process passing
        # a ring on), read it all: the descriptors are level-triggered.
        self._registered = 0
        sm = self.shared_memory
        if not sm.attached:
            return
        if sm._unregister():
            self._owed_pass_on = True
        self._pump()


class ASharedMemoryContextManager:
    """``async with cm as shared_memory`` holds access for the block;
    ``async with cm.if_has_messages() as shared_memory`` waits for a message
    first. Create one per coroutine, and reuse it."""

    def __init__(self, manager: ASharedMemoryManager) -> None:
        self._manager = manager
        self._holder = ValueHolder(manager.shared_memory, True)

    async def __aenter__(self) -> ValueHolder:
        await self._manager._acquire(self, messages=False)
        self._holder.existence = True
        return self._holder

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        self._manager._release(self, bool(self._holder.existence))
        return False

    def if_has_messages(self) -> "_IfHasMessages":
        return _IfHasMessages(self)


class _IfHasMessages:
    __slots__ = ("_cm",)

    def __init__(self, cm: ASharedMemoryContextManager) -> None:
        self._cm = cm

    async def __aenter__(self) -> ValueHolder:
        cm = self._cm
        await cm._manager._acquire(cm, messages=True)
        cm._holder.existence = True
        return cm._holder

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        cm = self._cm
        cm._manager._release(cm, bool(cm._holder.existence))
        return False


ASMM = ASharedMemoryManager
ASMCM = ASharedMemoryContextManager

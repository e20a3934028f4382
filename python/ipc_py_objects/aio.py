"""The asyncio API: ASharedMemoryManager and its per-coroutine context managers.

The manager watches its participant's doorbell with ``loop.add_reader``, so the
same code runs on asyncio and uvloop, and the event loop is never blocked
while another process holds access: a coroutine that waits for access awaits
a future, which the doorbell's reader resolves once a releaser rings.

``existence``, as the seed defines it: each block starts with
``shared_memory.existence`` True; a coroutine sets it False to "release CPU
for a small time portion before shared memory will be acquired next time".
Here that portion lasts exactly as long as nothing happens: if every
coroutine's last block set it False, the next block waits until a turn of
another participant changed shared state (a put, a take, a destroy, a write
to a shared object, or a turn while it held buffers of shared data), or a
participant left, or no other participant is alive any more (a dead one is
noticed within PEER_CHECK_SECONDS); then it proceeds. A change rings our
doorbell, so two processes that both poll this way sleep while nothing
changes, and see a change within a sleeping round trip. A coroutine that has
not finished a block yet is not held back. ``if_has_messages()`` waits until
a message is queued, whatever ``existence`` says. Several coroutines of one
process share the manager; one of them holds access at a time.

Every wait is a coroutine waiting on a future (or, while the manager gets
ready, on a worker thread in short slices), so cancelling the task, as
asyncio.run and uvloop.run do on Ctrl-C, ends it at once; a creator whose
manager is interrupted before it is ready removes its region.

``save_cpu_time``, as the original's: it trades latency for CPU time. The
original's idle polling sleeps a minimal interval instead of yielding once;
here every wait sleeps on the doorbell anyway, and ``save_cpu_time=True``
drops the short spin before that sleep, so a wait never burns CPU, at the
cost of a wakeup through the loop for a turn that a spin would have caught.
"""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Deque, Generic, Iterator, Optional, Type, TypeVar, overload

from . import _ipo
from .errors import OperationTimedOutError, RegionNotFoundError, SharedMemoryError
from .shared_memory import SharedMemory

__all__ = [
    "ASharedMemoryManager",
    "ASharedMemoryContextManager",
    "ASMM",
    "ASMCM",
    "ValueHolder",
]

VT = TypeVar("VT")

WAIT_FOR_ACCESS = _ipo.WAIT_FOR_ACCESS
WAIT_FOR_MESSAGES = _ipo.WAIT_FOR_MESSAGES
WAIT_FOR_CHANGE = _ipo.WAIT_FOR_CHANGE
HELD = _ipo.WAIT_HELD
SLEEP = _ipo.WAIT_SLEEP

# Before it sleeps, a wait spins this long at most (with the loop's thread
# busy): a holder on another core is usually done by then, and the turn
# starts without a round trip through the event loop.
SPIN_SECONDS = 20e-6

# While its waiter sleeps, the manager looks this often whether the creator
# and, for a coroutine waiting for another participant's change, any other
# participant are still alive: a dead one never rings (one system call a
# look).
PEER_CHECK_SECONDS = 1.0

# Waits for a consumer or for the region run on a worker thread in slices
# this long, so that a cancelled wait (Ctrl-C) leaves within one slice.
PREPARE_SLICE_SECONDS = 0.1


class ValueHolder(Generic[VT], Sequence):
    """What ``async with cm as shared_memory`` gives: ``.value`` is the
    SharedMemory, ``.existence`` is True at the start of each block.

    The original's ValueHolder (from Cengal): ``ValueHolder(existence=False,
    value=None)``, true exactly when ``existence`` is; setting ``value`` sets
    ``existence`` True; it is also the pair ``(existence, value)``."""

    __slots__ = ("existence", "_value")

    def __init__(self, existence: bool = False, value: Optional[VT] = None) -> None:
        self.existence = existence
        self._value = value

    @property
    def value(self) -> VT:
        return self._value  # type: ignore[return-value]

    @value.setter
    def value(self, value: VT) -> None:
        self.existence = True
        self._value = value

    def __bool__(self) -> bool:
        return bool(self.existence)

    def __len__(self) -> int:
        return 2

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> Any: ...

    def __getitem__(self, index: Any) -> Any:
        return (self.existence, self._value)[index]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.existence, self._value))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ValueHolder):
            return self.existence == other.existence and self._value == other._value
        return bool(self.existence) and self._value == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ValueHolder({self.existence!r}, {self._value!r})"


class _Waiter:
    """A coroutine's entry in the manager's queue. AsyncTurn.__aenter__ (C)
    makes the same, ``_ipo._Entry``, for a coroutine it put the waiter to
    sleep for, and queues it at once."""

    __slots__ = ("future", "cm", "messages")

    def __init__(self, future: "asyncio.Future[None]", cm: "ASharedMemoryContextManager", messages: bool):
        self.future = future
        self.cm = cm
        self.messages = messages


class ASharedMemoryManager(_ipo.AsyncManagerCore):
    """Shares one SharedMemory between the coroutines of an event loop.

    ``async with ASharedMemoryManager(sm) as asmm`` prepares the region: the
    creator waits for a consumer, a consumer for the region (bounded by
    ``time_limit`` seconds, None for no bound), without blocking the loop.
    Leaving the block closes the region. ``asmm()`` gives a context manager;
    create one per coroutine.

    The waiting itself (try, spin, sleep on the doorbell, pass a ring on) is
    the C waiter's, as for the sync API and the libuv adapter; this class
    keeps the futures, the order of its coroutines and the ``existence``
    gating, and tells the waiter what they need.
    """

    def __init__(
        self,
        shared_memory: SharedMemory,
        save_cpu_time: bool = False,
        time_limit: Optional[float] = None,
    ) -> None:
        if not isinstance(shared_memory, _ipo.Region):
            raise TypeError(f"expected a SharedMemory, got {type(shared_memory).__name__!r}")
        if time_limit is not None and not (isinstance(time_limit, (int, float)) and time_limit >= 0):
            raise ValueError(f"time_limit must be None or a number of seconds >= 0, not {time_limit!r}")
        self.shared_memory = shared_memory
        self.save_cpu_time = save_cpu_time
        self._time_limit = time_limit
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._waiter: Optional[_ipo.Waiter] = None
        self._fds: tuple = ()
        self._waiters: Deque[_Waiter] = collections.deque()
        self._holding = False
        self._since: Optional[int] = None  # the change count at our last release
        self._peer_check: Optional[asyncio.TimerHandle] = None
        self._preparing: Optional[asyncio.Future] = None  # a slice of _prepare's wait
        self._last_existence = True  # what the last block to end left
        # The existence each context manager left at the end of its last block.
        self._existence: "weakref.WeakKeyDictionary[ASharedMemoryContextManager, bool]" = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self, if_has_messages: Optional[bool] = None) -> "ASharedMemoryContextManager":
        """A context manager for one coroutine; ``if_has_messages=True`` makes
        its every block wait for a message first."""
        return ASharedMemoryContextManager(self, if_has_messages)

    @property
    def time_limit(self) -> Optional[float]:
        """How long ``async with`` waits for the consumer (or the region): None, for ever."""
        return self._time_limit

    @property
    def save_cpu_time(self) -> bool:
        """True: waits sleep at once instead of spinning first (less CPU, more latency)."""
        return self._spin_seconds == 0.0

    @save_cpu_time.setter
    def save_cpu_time(self, value: bool) -> None:
        self._spin_seconds = 0.0 if value else SPIN_SECONDS

    def high_performance(self) -> "_SaveCPUTime":
        """``with asmm.high_performance():`` save_cpu_time False for the block."""
        return _SaveCPUTime(self, False)

    def save_cpu(self) -> "_SaveCPUTime":
        """``with asmm.save_cpu():`` save_cpu_time True for the block."""
        return _SaveCPUTime(self, True)

    async def has_messages(self) -> bool:
        """Waits until a message is queued (taking no turn from the
        coroutines, whose existence it leaves alone); True."""
        cm = ASharedMemoryContextManager(self)
        queued = self._acquire(cm, messages=True)
        if queued is not None:
            try:
                await queued.future
            except BaseException:
                self._abandon(queued)
                raise
        self._release(cm, None)
        return True

    async def __aenter__(self) -> "ASharedMemoryManager":
        loop = asyncio.get_running_loop()
        sm = self.shared_memory
        if getattr(sm, "_async_manager", None) is not None:
            raise SharedMemoryError(
                f"region {sm.name!r} has an ASharedMemoryManager already: share that one"
            )
        sm._async_manager = self
        try:
            await self._prepare(loop, sm.wait_consumer_ready if sm.create else sm.init_consumer)
            self._waiter = _ipo.Waiter(sm)
            self._fds = self._waiter.fds
        except BaseException:
            sm._async_manager = None
            if sm.create:
                # Interrupted (Ctrl-C, a time limit) before any consumer came:
                # the region goes with us rather than stay in /dev/shm, once
                # the worker's slice of waiting is over (a region is not
                # closed under a waiting thread).
                if self._preparing is not None:
                    await asyncio.wait([self._preparing])
                sm.close()
            raise
        finally:
            self._preparing = None
        self._loop = loop
        for fd in self._fds:
            loop.add_reader(fd, self._on_readable)
        return self

    async def _prepare(self, loop: asyncio.AbstractEventLoop, wait) -> None:
        """Runs wait (wait_consumer_ready or init_consumer, which release the
        GIL in C) on a worker thread, in slices, until it succeeds or the
        manager's time limit passes: the loop stays free, and a cancelled
        wait leaves its thread within a slice. A slice that ends without
        success (no consumer yet, no region yet, not ready yet) is no error
        until the time limit; then the last slice's error is raised."""
        deadline = None if self._time_limit is None else loop.time() + self._time_limit
        while True:
            left = PREPARE_SLICE_SECONDS if deadline is None else deadline - loop.time()
            step = max(0.0, min(PREPARE_SLICE_SECONDS, left))
            # Shielded: a cancelled wait leaves the slice running, and
            # __aenter__ waits for it before it closes the region.
            self._preparing = loop.run_in_executor(None, wait, step)
            try:
                ready = await asyncio.shield(self._preparing)
            except (OperationTimedOutError, RegionNotFoundError):
                if deadline is not None and loop.time() >= deadline:
                    raise
                continue
            if ready is not False:
                return
            if deadline is not None and loop.time() >= deadline:
                what = "no consumer attached to" if self.shared_memory.create else "no ready region"
                raise OperationTimedOutError(
                    f"{what} {self.shared_memory.name!r} within {self._time_limit} s"
                )

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        loop = self._loop
        sm = self.shared_memory
        self._cancel_peer_check()
        self._unwatch()
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(SharedMemoryError("the manager was closed"))
        self._waiters.clear()
        if sm.attached and self._waiter is not None:
            self._waiter.cancel()
            sm._release_if_held()
        self._waiter = None
        sm._async_manager = None
        if loop is not None:
            # A creator waits for its consumers to leave: not on the loop's thread.
            await loop.run_in_executor(None, sm.close)
        self._loop = None

    def _unwatch(self) -> None:
        if self._loop is not None:
            for fd in self._fds:
                self._loop.remove_reader(fd)
        self._fds = ()

    # ---- taking turns -----------------------------------------------------------

    def _acquire(
        self, cm: "ASharedMemoryContextManager", messages: bool, started: Optional[int] = None
    ) -> Optional[_Waiter]:
        """Takes a turn for cm: None when it holds one now, or else its entry
        in the queue, whose future to await (and to _abandon if that await
        ends otherwise). started: the step of the waiter started for cm
        alone already (by AsyncTurn.__aenter__, in C)."""
        step = started
        if step is None and not self._waiters and not self._holding:
            step = self._start_alone(cm, messages)
            if step == HELD:
                self._holding = True
                return None
        if self._loop is None or self._waiter is None:
            raise SharedMemoryError(
                "use the manager in `async with` before taking turns (and not after it closed)"
            )
        waiter = _Waiter(self._loop.create_future(), cm, messages)
        self._waiters.append(waiter)
        if step == SLEEP and self._waiter.registered & (WAIT_FOR_MESSAGES if messages else WAIT_FOR_ACCESS):
            # The waiter sleeps for this coroutine's need already.
            self._schedule_peer_check()
        else:
            # Not started, or started by a call that did not queue cm at
            # once (a sleep AsyncTurn.__aenter__ starts is queued in C, so
            # only a step other than SLEEP comes here): the waiter may sleep
            # for another need since, or have stopped. The pump has it wait
            # for what the queue needs.
            self._pump()
        return waiter

    def _abandon(self, waiter: _Waiter) -> None:
        """The await of a queued turn ended otherwise (cancelled, or the
        manager closed): give back a turn granted meanwhile, without
        counting it as a block of this coroutine, or leave the queue."""
        future = waiter.future
        if future.done() and not future.cancelled() and future.exception() is None:
            self._release(waiter.cm, None)
        elif waiter in self._waiters:
            self._waiters.remove(waiter)
            self._pump()

    def _start_alone(self, cm: "ASharedMemoryContextManager", messages: bool) -> Optional[int]:
        """What the pump does for a coroutine when nobody is queued (the
        common case), without queueing it: starts the waiter for its need,
        and answers the step (HELD: the turn is its own), or None when it
        must go through the queue (gated, the manager not ready, or its
        waiter asleep already)."""
        waiter = self._waiter
        if waiter is None or waiter.registered:
            # Asleep with nobody queued: every sleep started for a coroutine
            # queues it at once, so this one sleeps for a need a failed
            # path left; the queue (the pump) settles it and hears this one.
            return None
        if messages:
            what = WAIT_FOR_MESSAGES
        elif self._last_existence or cm._said is not False or not self._idle():
            what = WAIT_FOR_ACCESS
        else:
            return None  # gated: it waits for a change
        # A new wait (none asleep, above): it spins (none at all to save
        # CPU time), unless, as the pump, for a message while none is queued.
        spin = self._spin_seconds
        if messages and not self.shared_memory._queue_length():
            spin = 0.0
        try:
            return waiter.start(what, self._since or 0, spin)
        except Exception as exc:  # CreatorGoneError: the region is gone
            self._fail(exc)
            raise

    def _release(self, cm: "ASharedMemoryContextManager", existence: Optional[bool]) -> None:
        if existence is not None:
            # The weak dictionary is written only when cm's word changes
            # (a weak reference made per write costs more than the turn).
            if cm._said is not existence:
                cm._said = existence
                self._existence[cm] = existence
            self._last_existence = existence
        self._holding = False
        sm = self.shared_memory
        if sm.attached:
            # The change count as of our release: our own change is counted
            # in it, so it does not wake us.
            since = sm._release_if_held()
            if since is not None:
                self._since = since
        if self._waiters:
            self._pump()
        elif self._waiter is not None:
            self._waiter.cancel()  # nobody waits: nor does the waiter

    @property
    def _registered(self) -> int:
        """The WAIT_FOR_* bits the waiter sleeps on now (0: none)."""
        return self._waiter.registered if self._waiter is not None else 0

    def _idle(self) -> bool:
        """Every coroutine's last block set existence False, no change came
        since our last turn, and another participant is alive to make one."""
        # The last block to end said True: not every one said False (the
        # common case, answered without looking at them all).
        if self._since is None or self._last_existence or not self._existence:
            return False
        if any(self._existence.values()):
            return False
        sm = self.shared_memory
        return sm._change_count() == self._since and sm._peers_alive()

    def _gated(self, cm: "ASharedMemoryContextManager", idle: bool) -> bool:
        """Whether cm's next turn waits for another participant's change: its
        own last block said so, and so did everyone else's. A context manager
        that has not finished a block yet has said nothing."""
        return idle and self._existence.get(cm) is False

    def _choose(self):
        """The first waiter that can have a turn now, and what the ones
        before it wait for (WAIT_FOR_* bits)."""
        sm = self.shared_memory
        idle = self._idle()
        needs = 0
        for waiter in self._waiters:
            if waiter.future.done():
                continue
            if waiter.messages:
                if not sm._queue_length():
                    needs |= WAIT_FOR_MESSAGES
                    continue
            elif self._gated(waiter.cm, idle):
                needs |= WAIT_FOR_CHANGE
                continue
            return waiter, needs
        return None, needs

    def _pump(self) -> None:
        """Has the waiter wait for what the first coroutine that could go
        needs (and the ones before it), and grants a turn it takes."""
        waiter = self._waiter
        if waiter is None:
            return
        sm = self.shared_memory
        waiters = self._waiters
        while not self._holding:
            # Granted and cancelled waiters leave the queue as they go; a
            # future failed by __aexit__ may be left at its front.
            while waiters and waiters[0].future.done():
                waiters.popleft()
            if not waiters:
                waiter.cancel()
                return
            if not sm.attached:
                return
            chosen, needs = self._choose()
            spin = 0.0
            if chosen is not None:
                ahead = needs
                needs |= WAIT_FOR_MESSAGES if chosen.messages else WAIT_FOR_ACCESS
                # Spin only into a new wait: one already asleep spun before
                # (and none at all to save CPU time).
                spin = 0.0 if waiter.registered else self._spin_seconds
            since = self._since if self._since is not None else 0
            try:
                step = waiter.start(needs, since, spin)
            except Exception as exc:  # CreatorGoneError: the region is gone
                self._fail(exc)
                return
            if step == SLEEP:
                self._schedule_peer_check()
                return
            if step == HELD:
                if chosen is not None and not ahead:
                    # It waited for chosen's turn alone, and no Python code
                    # ran since: the turn is chosen's.
                    self._give(chosen)
                else:
                    self._grant()
            # AGAIN: a change came; the gates may be open now.

    def _give(self, chosen: _Waiter) -> None:
        self._holding = True
        self._waiters.remove(chosen)
        chosen.future.set_result(None)

    def _grant(self) -> None:
        """We hold access: the first coroutine that can use it gets it."""
        chosen, _ = self._choose()
        if chosen is not None:
            self._give(chosen)
            return
        # Nobody can use it any more (its coroutine was cancelled): give it
        # back. An unused turn changes nothing, and leaves the gate as it was.
        self.shared_memory._release_if_held()

    def _fail(self, exc: BaseException) -> None:
        """The waiter failed (its region's creator is gone): every coroutine
        waiting for a turn gets the error, and the manager waits no more."""
        self._cancel_peer_check()
        waiters, self._waiters = self._waiters, collections.deque()
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(exc)

    def _schedule_peer_check(self) -> None:
        if self._peer_check is None and self._loop is not None:
            self._peer_check = self._loop.call_later(PEER_CHECK_SECONDS, self._check_peers)

    def _cancel_peer_check(self) -> None:
        if self._peer_check is not None:
            self._peer_check.cancel()
            self._peer_check = None

    def _check_peers(self) -> None:
        # A participant that died never rings: look whether the gate should
        # open (no other participant alive), and whether the creator lives
        # (the waiter asks, when told to look again); the pump schedules
        # the next look while the wait goes on.
        self._peer_check = None
        if self._waiter is not None and self.shared_memory.attached and not self.shared_memory.closed:
            self._pump()

    # _on_readable, the loop's reader on the waiter's descriptors, is
    # AsyncManagerCore's (C): it has the waiter read the ring and gives a
    # turn to the one coroutine queued; the rest comes here.

    def _after_readable(self, step: Optional[int]) -> None:
        """What a ring meant, when not a turn for the one coroutine queued:
        step, or None when the region was closed under us."""
        if step is None:
            # Closed under us (sm.close() outside the manager): its doorbell
            # is going; stop watching it rather than fail on every ring.
            self._unwatch()
            return
        if step == HELD:
            self._grant()
        if step != SLEEP:
            self._pump()


class _SaveCPUTime:
    """Sets a manager's save_cpu_time for a with-block, and restores it."""

    __slots__ = ("manager", "value", "saved")

    def __init__(self, manager: ASharedMemoryManager, value: bool) -> None:
        self.manager = manager
        self.value = value
        self.saved = manager.save_cpu_time

    def __enter__(self) -> bool:
        self.saved = self.manager.save_cpu_time
        self.manager.save_cpu_time = self.value
        return self.saved

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.manager.save_cpu_time = self.saved


class ASharedMemoryContextManager(_ipo.AsyncTurn):
    """``async with cm as shared_memory`` holds access for the block;
    ``async with cm.if_has_messages() as shared_memory`` waits for a message
    first. Create one per coroutine (``asmm()``), and reuse it.

    As in the original: ``if_has_messages(value=True)`` sets that for the
    next block only and returns the context manager itself; a block ends
    back at what the constructor's ``if_has_messages`` said (None: False)."""

    def __init__(self, manager: ASharedMemoryManager, if_has_messages: Optional[bool] = None) -> None:
        self._manager = manager
        self._if_has_messages_default = bool(if_has_messages)
        self.if_has_messages_value = if_has_messages
        self._holder: ValueHolder[SharedMemory] = ValueHolder(True, manager.shared_memory)
        self._entered = False
        self._said: Optional[bool] = None  # the existence its last block left (None: none yet)

    @property
    def if_has_messages_value(self) -> bool:
        """Whether the next block waits for a message first."""
        return self._if_has_messages

    @if_has_messages_value.setter
    def if_has_messages_value(self, value: Optional[bool]) -> None:
        self._if_has_messages = bool(value)

    @property
    def shared_memory(self) -> SharedMemory:
        return self._manager.shared_memory

    @property
    def save_cpu_time(self) -> bool:
        """The manager's save_cpu_time (shared by its context managers)."""
        return self._manager.save_cpu_time

    @save_cpu_time.setter
    def save_cpu_time(self, value: bool) -> None:
        self._manager.save_cpu_time = value

    def if_has_messages(self, value: bool = True) -> "ASharedMemoryContextManager":
        """``async with cm.if_has_messages():`` the next block waits for a message first."""
        self.if_has_messages_value = value
        return self

    def anyway(self) -> "ASharedMemoryContextManager":
        """``async with cm.anyway():`` the next block does not wait for a message."""
        self.if_has_messages_value = False
        return self

    async def has_messages(self) -> bool:
        """Waits until a message is queued; True. Not inside a block: nobody
        could queue one while this process holds the turn."""
        if self._entered:
            raise RuntimeError(
                "cannot wait for has_messages() inside the block: nobody could queue a message "
                "while this process holds the turn"
            )
        return await self._manager.has_messages()

    # __aenter__ and __aexit__ are AsyncTurn's (C): a coroutine alone in
    # its manager's queue takes its turn there; the rest comes here.
    if TYPE_CHECKING:

        async def __aenter__(self) -> ValueHolder[SharedMemory]: ...

        async def __aexit__(
            self,
            exc_type: Optional[Type[BaseException]],
            exc: Optional[BaseException],
            tb: Optional[TracebackType],
        ) -> None: ...

    async def _aenter_queued(self, started: Optional[int] = None) -> ValueHolder[SharedMemory]:
        """__aenter__ through the manager's queue (others are queued, a gate
        holds this one back, or a change came as it started: `started`).
        A sleep AsyncTurn.__aenter__ started is queued there, in C."""
        manager = self._manager
        try:
            queued = manager._acquire(self, self._if_has_messages, started)
            if queued is not None:
                try:
                    await queued.future
                except BaseException:
                    manager._abandon(queued)
                    raise
        except BaseException:
            self._if_has_messages = self._if_has_messages_default
            raise
        self._holder.existence = True
        self._entered = True
        return self._holder


ASMM = ASharedMemoryManager
ASMCM = ASharedMemoryContextManager

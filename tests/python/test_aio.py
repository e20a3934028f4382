"""The asyncio API on asyncio's loop and on uvloop's (each test runs on both):
the loop keeps running while a peer holds access, existence semantics,
if_has_messages, coroutines sharing a manager, cancellation."""

import asyncio
import queue

import pytest

import workers
from conftest import join_all
from ipc_py_objects import _ipo, aio
from ipc_py_objects import (
    ASMCM,
    wait_my_turn,
    ASMM,
    ASharedMemoryContextManager,
    ASharedMemoryManager,
    SharedMemory,
    SharedMemoryError,
    ValueHolder,
)

MiB = 1024 * 1024
WAIT_FOR_CHANGE = _ipo.WAIT_FOR_CHANGE
pytestmark = pytest.mark.asyncio


async def reply(replies, timeout=30):
    """A peer's reply, awaited without blocking the loop."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(None, replies.get, True, timeout)
    except queue.Empty:
        pytest.fail(f"no reply from the peer within {timeout} s")


class Peer:
    """A sync participant in another process, driven step by step."""

    def __init__(self, spawn, name):
        self.commands, self.replies = spawn.Queue(), spawn.Queue()
        self.process = spawn.Process(target=workers.peer_on_command,
                                     args=(name, self.commands, self.replies))
        self.process.start()

    async def do(self, command):
        self.commands.put(command)
        return await reply(self.replies)

    def stop(self):
        self.commands.put("stop")
        join_all([self.process], timeout=30)


async def started(spawn, name):
    """A creator's manager with one peer attached."""
    manager = ASharedMemoryManager(SharedMemory(name, create=True, size=MiB, close_timeout=0.5),
                                   time_limit=30)
    peer = Peer(spawn, name)
    await manager.__aenter__()
    assert await reply(peer.replies) == "ready"
    return manager, peer


async def ticks_until(condition, limit=2000):
    """Lets the loop run 1 ms ticks until condition() holds; how many it took."""
    for tick in range(limit):
        if condition():
            return tick
        await asyncio.sleep(0.001)
    pytest.fail("the condition never held")


async def test_aliases_and_holder():
    assert ASMM is ASharedMemoryManager and ASMCM is ASharedMemoryContextManager
    # The original's ValueHolder: (existence, value), true when existence is.
    holder = ValueHolder(True, "v")
    assert holder.value == "v" and holder.existence is True and holder
    holder.existence = False
    assert not holder and tuple(holder) == (False, "v") and holder[1] == "v"
    holder.value = "w"  # a value set is a value that exists
    assert holder and holder.existence is True
    with pytest.raises(TypeError, match="SharedMemory"):
        ASharedMemoryManager(object())


async def test_loop_keeps_running_while_a_peer_holds_access(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        assert await peer.do("hold") == "holding"
        cm = manager()
        order = []

        async def take_turn():
            async with cm as shared_memory:
                order.append("turn")
                assert shared_memory.value is manager.shared_memory
                shared_memory.value.put_message("mine")

        task = asyncio.create_task(take_turn())
        ticks = 0

        async def ticker():
            nonlocal ticks
            while not task.done():
                ticks += 1
                await asyncio.sleep(0.001)

        ticking = asyncio.create_task(ticker())
        await ticks_until(lambda: ticks >= 30)  # the loop runs while we wait
        assert not task.done()
        order.append("release")
        assert await peer.do("release") == "released"
        await asyncio.wait_for(task, 10)
        await ticking
        assert order == ["release", "turn"]
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_existence_true_takes_the_next_turn_at_once(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        cm = manager()
        for _ in range(3):
            async with cm as shared_memory:
                assert shared_memory.existence is True
        before = manager.shared_memory._access_count()
        await asyncio.wait_for(cm.__aenter__(), 5)
        await cm.__aexit__(None, None, None)
        assert manager.shared_memory._access_count() == before + 1
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_existence_false_waits_for_another_process_to_change_something(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        cm = manager()
        async with cm as shared_memory:
            shared_memory.existence = False
        task = asyncio.create_task(cm.__aenter__())
        # Nothing changed since our turn: the manager stays asleep (and
        # every block starts with existence True again).
        for _ in range(50):
            await asyncio.sleep(0.001)
        assert not task.done()
        assert manager._registered == WAIT_FOR_CHANGE
        # A turn that changes nothing does not wake it either.
        assert await peer.do("turn") == "turned"
        for _ in range(50):
            await asyncio.sleep(0.001)
        assert not task.done()
        assert await peer.do(("put", "news")) == "put"  # a change rings us
        holder = await asyncio.wait_for(task, 10)
        assert holder.existence is True
        assert holder.value.take_message() == "news"
        await cm.__aexit__(None, None, None)
        # Left True, the next turn comes at once again.
        await asyncio.wait_for(cm.__aenter__(), 5)
        await cm.__aexit__(None, None, None)
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_existence_false_proceeds_when_the_peer_leaves(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        cm = manager()
        async with cm as shared_memory:
            shared_memory.existence = False
        task = asyncio.create_task(cm.__aenter__())
        await ticks_until(lambda: manager._registered == WAIT_FOR_CHANGE)
        peer.stop()  # it detaches: nobody is left to change anything
        await asyncio.wait_for(task, 10)
        await cm.__aexit__(None, None, None)
        # Alone, a block that sets existence False never waits.
        async with cm as shared_memory:
            shared_memory.existence = False
        await asyncio.wait_for(cm.__aenter__(), 5)
        await cm.__aexit__(None, None, None)
    finally:
        await manager.__aexit__(None, None, None)


async def test_existence_false_proceeds_when_the_peer_dies(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        cm = manager()
        async with cm as shared_memory:
            shared_memory.existence = False
        task = asyncio.create_task(cm.__aenter__())
        await ticks_until(lambda: manager._registered == WAIT_FOR_CHANGE)
        peer.process.kill()  # it can ring nobody any more
        await asyncio.wait_for(task, 10)
        await cm.__aexit__(None, None, None)
    finally:
        peer.process.join(30)
        await manager.__aexit__(None, None, None)


async def test_one_coroutine_left_true_keeps_the_manager_awake(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        lazy, busy = manager(), manager()
        async with lazy as shared_memory:
            shared_memory.existence = False
        async with busy:
            pass  # left True
        await asyncio.wait_for(lazy.__aenter__(), 5)
        await lazy.__aexit__(None, None, None)
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_if_has_messages_waits_for_a_message_whatever_existence(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        cm = manager()
        async with cm as shared_memory:
            shared_memory.existence = False
        got = []

        async def receive():
            async with cm.if_has_messages() as shared_memory:
                got.append(shared_memory.value.take_message())

        task = asyncio.create_task(receive())
        for _ in range(30):
            await asyncio.sleep(0.001)
        assert not task.done()
        assert await peer.do(("put", "hello, async")) == "put"
        await asyncio.wait_for(task, 10)
        assert got == ["hello, async"]
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_coroutines_share_one_manager(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        inside = 0
        most_inside = 0
        turns = 0

        async def worker():
            nonlocal inside, most_inside, turns
            cm = manager()
            for _ in range(100):
                async with cm as shared_memory:
                    inside += 1
                    most_inside = max(most_inside, inside)
                    await asyncio.sleep(0)  # others run, but cannot enter
                    turns += 1
                    shared_memory.value.has_messages()
                    inside -= 1

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(5))), 30)
        assert turns == 500
        assert most_inside == 1
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_a_free_turn_is_taken_without_a_trip_through_the_loop(spawn, region_name):
    """Alone in its manager's queue, a coroutine takes a free turn at once
    (AsyncTurn, in C): nothing the loop has scheduled runs before its block."""
    manager, peer = await started(spawn, region_name)
    try:
        cm = manager()
        ran = []
        asyncio.get_running_loop().call_soon(ran.append, "the loop")
        async with cm as shared_memory:
            assert ran == []
            assert shared_memory is cm._holder and shared_memory.existence is True
            assert manager._holding and cm._entered
            shared_memory.value.put_message("taken at once")
        assert not manager._holding and not cm._entered
        ran.clear()
        asyncio.get_running_loop().call_soon(ran.append, "the loop")
        async with cm:  # again, at once
            assert ran == [] and manager._holding
        # What __aenter__ answers goes wherever a coroutine goes.
        holder = await asyncio.create_task(cm.__aenter__())
        assert holder is cm._holder and manager._holding
        await cm.__aexit__(None, None, None)
        assert not manager._holding
        pending = cm.__aenter__()  # the turn is taken here already
        assert manager._holding
        with pytest.raises(ValueError, match="thrown"):
            pending.throw(ValueError("thrown"))
        # Its await never took the turn: it went back, as for a coroutine
        # function thrown into before it ran.
        assert not manager._holding and not cm._entered
        pending.close()
        pending = cm.__aenter__()
        assert manager._holding
        pending.close()
        assert not manager._holding
        pending = cm.__aenter__()
        assert manager._holding
        del pending  # dropped, never awaited
        assert not manager._holding
        # The peer gets the turn: it was given back, and the waiter stopped.
        assert await peer.do("hold") == "holding"
        assert await peer.do("release") == "released"
        assert manager._registered == 0
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_a_task_of_aenter_cancelled_before_it_ran_gives_the_turn_back(spawn, region_name):
    """create_task(cm.__aenter__()) cancelled before its first step: the
    turn __aenter__() took at once goes back (its await never took it),
    to another coroutine of ours and to the peer."""
    manager, peer = await started(spawn, region_name)
    try:
        cm = manager()
        task = asyncio.create_task(cm.__aenter__())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not manager._holding and not cm._entered
        async with asyncio.timeout(10):
            async with manager():
                pass
        assert await peer.do("turn") == "turned"
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_pending_aenters_are_all_heard(spawn, region_name, monkeypatch):
    """Two __aenter__() called before either task ran: the first put the
    manager's waiter to sleep in C for its need (access) and queued its
    entry at once; the second (for a message) goes through the queue at its
    first step. The first's need must be heard, not only at the next peer
    check (made an hour here): the peer's release, with no message, takes
    the first in."""
    monkeypatch.setattr(aio, "PEER_CHECK_SECONDS", 3600.0)
    manager, peer = await started(spawn, region_name)
    try:
        assert await peer.do("hold") == "holding"
        for_access, for_a_message = manager(), manager(if_has_messages=True)
        first = asyncio.create_task(for_access.__aenter__())
        second = asyncio.create_task(for_a_message.__aenter__())
        await ticks_until(lambda: len(manager._waiters) == 2)
        assert await peer.do("release") == "released"
        holder = await asyncio.wait_for(first, 10)
        assert holder is for_access._holder and manager._holding
        await for_access.__aexit__(None, None, None)
        # The one left waits for a message: the peer's turn brings it.
        assert await peer.do(("put", "after")) == "put"
        holder = await asyncio.wait_for(second, 10)
        assert holder.value.take_message() == "after"
        await for_a_message.__aexit__(None, None, None)
        assert not manager._waiters and manager._registered == 0
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_an_aenter_awaited_after_its_ring_still_gets_the_turn(spawn, region_name, monkeypatch):
    """__aenter__() started the waiter, asleep, and queued its entry; the
    ring came before the await began, and granted the turn to that entry.
    The await, beginning only then, must end with it, not wait for a peer
    check (made an hour here)."""
    monkeypatch.setattr(aio, "PEER_CHECK_SECONDS", 3600.0)
    manager, peer = await started(spawn, region_name)
    try:
        assert await peer.do("hold") == "holding"
        cm = manager()
        pending = cm.__aenter__()
        assert manager._registered
        assert await peer.do("release") == "released"
        await ticks_until(lambda: manager._registered == 0)
        holder = await asyncio.wait_for(pending, 10)
        assert holder is cm._holder and manager._holding
        await cm.__aexit__(None, None, None)
        assert await peer.do("turn") == "turned"
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_a_sleeping_aenter_that_is_never_awaited_leaves_the_queue(spawn, region_name):
    """What __aenter__() answers for a sleep is the coroutine's queue entry,
    queued at once: closed, dropped, thrown into or cancelled before or
    during its await, it leaves the queue, and the waiter stops."""
    manager, peer = await started(spawn, region_name)
    try:
        assert await peer.do("hold") == "holding"
        cm = manager()
        pending = cm.__aenter__()
        assert len(manager._waiters) == 1 and manager._registered
        assert pending.entry.cm is cm and pending.entry.messages is False
        assert manager._waiters[0] is pending.entry
        pending.close()
        assert not manager._waiters and manager._registered == 0
        pending = cm.__aenter__()
        assert len(manager._waiters) == 1
        del pending  # dropped, never awaited
        assert not manager._waiters and manager._registered == 0
        pending = cm.__aenter__()
        with pytest.raises(ValueError, match="thrown"):
            pending.throw(ValueError("thrown"))
        assert not manager._waiters and manager._registered == 0
        task = asyncio.create_task(cm.if_has_messages().__aenter__())
        task.cancel()  # before it ran
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not manager._waiters and not cm._if_has_messages
        task = asyncio.create_task(cm.__aenter__())
        await ticks_until(lambda: task._fut_waiter is not None)
        task.cancel()  # while it awaits
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not manager._waiters and manager._registered == 0 and not manager._holding
        assert await peer.do("release") == "released"
        assert await peer.do("turn") == "turned"
        async with asyncio.timeout(10):
            async with cm as shared_memory:
                assert shared_memory is cm._holder and manager._holding
        assert not manager._holding
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_a_stopiteration_thrown_into_a_sleeping_aenter_takes_no_turn(spawn, region_name):
    """A StopIteration thrown into the await of a sleeping __aenter__() (the
    coroutine that awaits it thrown into, say) is no grant: as in a
    coroutine (PEP 479) it comes out as RuntimeError, the entry leaves the
    queue, and the block never believes it holds a turn it was not given.
    Taken for the await's end, it answered the ValueHolder with the entry
    still queued, and the turn granted to that entry later was held for
    good: the peer's next turn never came."""
    manager, peer = await started(spawn, region_name)
    try:
        assert await peer.do("hold") == "holding"
        cm = manager()
        pending = cm.__aenter__()
        assert pending.send(None) is pending.entry.future  # its await has begun
        with pytest.raises(RuntimeError) as raised:
            pending.throw(StopIteration("thrown"))
        assert isinstance(raised.value.__cause__, StopIteration)
        assert not cm._entered
        assert not manager._waiters and manager._registered == 0
        # Before its await began, the same.
        pending = cm.__aenter__()
        with pytest.raises(RuntimeError):
            pending.throw(StopIteration)
        assert not cm._entered and not manager._waiters and manager._registered == 0
        assert await peer.do("release") == "released"
        assert await peer.do("turn") == "turned"
        assert not manager._holding
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_a_sleeping_aenter_that_cannot_queue_leaves_the_waiter_idle(spawn, region_name):
    """__aenter__() put the waiter to sleep for its coroutine, then failed
    to queue the entry (no future to be had): the error comes out, and the
    waiter does not stay registered for nobody (rung by every release of
    the peer for a turn nobody here wants)."""
    manager, peer = await started(spawn, region_name)
    loop = manager._loop

    class NoFutures:
        def __getattr__(self, name):
            return getattr(loop, name)

        def create_future(self):
            raise MemoryError("no future")

    try:
        assert await peer.do("hold") == "holding"
        cm = manager()
        manager._loop = NoFutures()
        try:
            with pytest.raises(MemoryError):
                cm.__aenter__()
        finally:
            manager._loop = loop
        assert not manager._waiters and manager._registered == 0
        assert await peer.do("release") == "released"
        async with asyncio.timeout(10):
            async with cm:
                assert manager._holding
        assert await peer.do("turn") == "turned"
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_a_turn_after_the_region_closed_under_the_manager_raises(spawn, region_name):
    """sm.close() outside the manager unmaps the region: a turn then raises
    (the Python path), and never reads the unmapped header."""
    manager, peer = await started(spawn, region_name)
    sm = manager.shared_memory
    try:
        cm = manager()
        async with cm:
            pass
        peer.stop()
        await asyncio.get_running_loop().run_in_executor(None, sm.close)
        with pytest.raises(Exception):
            async with cm.if_has_messages():
                pass
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_a_bare_turn_base_refuses_rather_than_crash():
    turn = _ipo.AsyncTurn()
    with pytest.raises(TypeError, match="manager"):
        turn.__aenter__()
    with pytest.raises(TypeError, match="manager"):
        turn.__aexit__(None, None, None)


async def test_an_error_in_a_block_goes_on_and_the_turn_is_given_back(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        cm = manager()
        with pytest.raises(ValueError, match="in the block"):
            async with cm.if_has_messages(False):
                raise ValueError("in the block")
        assert not manager._holding and not cm._entered
        assert await peer.do("hold") == "holding"
        # Held by the peer now: the next block waits for it (the queue's path).
        task = asyncio.create_task(cm.__aenter__())
        await ticks_until(lambda: manager._registered != 0)
        assert not task.done()
        assert await peer.do("release") == "released"
        holder = await asyncio.wait_for(task, 30)
        assert holder is cm._holder and manager._holding
        await cm.__aexit__(None, None, None)
        assert not manager._holding
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_cancelled_waiter_leaves_nothing_behind(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        assert await peer.do("hold") == "holding"
        cm = manager()
        task = asyncio.create_task(cm.__aenter__())
        for _ in range(10):
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await peer.do("release") == "released"
        async with cm as shared_memory:
            shared_memory.value.put_message("after a cancel")
        assert manager._registered == 0
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_messages_from_an_async_sender_arrive_in_order(spawn, region_name):
    loop_kind = "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
    results = spawn.Queue()
    manager = ASharedMemoryManager(SharedMemory(region_name, create=True, size=4 * MiB), time_limit=30)
    sender = spawn.Process(target=workers.async_sender, args=(region_name, 500, loop_kind, results))
    sender.start()
    got = []
    async with manager as asmm:
        cm = asmm()
        while len(got) < 500:
            async with cm.if_has_messages() as shared_memory:
                while shared_memory.value.has_messages():
                    text, offset = shared_memory.value.take_message_2()
                    shared_memory.value.destroy_obj(offset)
                    got.append(text)
        assert await reply(results) == "sent"
    join_all([sender], timeout=30)
    assert got == [f"message {i}" for i in range(500)]


async def test_turns_need_the_manager_entered(region_name):
    manager = ASharedMemoryManager(SharedMemory(region_name, create=True, size=MiB))
    with pytest.raises(SharedMemoryError, match="async with"):
        async with manager():
            pass
    manager.shared_memory.close()


async def test_a_cancelled_waiter_passes_its_ring_on(spawn, region_name):
    """Our coroutine waits for access and is rung as the oldest waiter, but
    is cancelled before it takes its turn: the ring goes on to the next
    waiter, a process asleep behind it."""
    manager, peer = await started(spawn, region_name)
    sm = manager.shared_memory
    try:
        assert await peer.do("hold") == "holding"
        cm = manager()
        ours = asyncio.create_task(cm.__aenter__())
        await ticks_until(lambda: manager._registered)
        loop = asyncio.get_running_loop()
        ready, results = spawn.Queue(), spawn.Queue()
        behind = spawn.Process(target=workers.sleep_for_access, args=(sm.name, ready, results, 10.0))
        behind.start()
        await reply(ready)
        # The peer releases while the loop is blocked (a plain get, on
        # purpose), and ours is cancelled before the loop reads the doorbell:
        # it was rung, but it never takes the turn.
        peer.commands.put("release")
        assert peer.replies.get(timeout=30) == "released"
        ours.cancel()
        outcome = await reply(results)
        assert outcome[0] == "acquired", outcome
        await loop.run_in_executor(None, behind.join, 30)
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_a_turn_held_by_this_thread_outside_the_manager(spawn, region_name):
    """The loop's thread took access with the sync API: the manager waits
    (it does not fail, nor lose the waiter) and goes on once it is released."""
    manager, peer = await started(spawn, region_name)
    sm = manager.shared_memory
    try:
        sm.wait_my_turn()
        cm = manager()
        task = asyncio.create_task(cm.__aenter__())
        for _ in range(20):
            await asyncio.sleep(0.001)
        assert not task.done()
        sm.release()
        await asyncio.wait_for(task, 10)
        await cm.__aexit__(None, None, None)
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_a_sync_thread_and_the_loop_share_the_doorbell(spawn, region_name):
    """A worker thread and a coroutine of this process wait at the same time
    while a peer holds access; both get their turns."""
    manager, peer = await started(spawn, region_name)
    sm = manager.shared_memory
    loop = asyncio.get_running_loop()
    try:
        assert await peer.do("hold") == "holding"
        cm = manager()
        ours = asyncio.create_task(cm.__aenter__())

        def thread_turn():
            with wait_my_turn(sm, time_limit=10):
                return "thread"

        theirs = loop.run_in_executor(None, thread_turn)
        await ticks_until(lambda: manager._registered)
        assert await peer.do("release") == "released"
        await asyncio.wait_for(ours, 10)
        await cm.__aexit__(None, None, None)
        assert await asyncio.wait_for(theirs, 10) == "thread"
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


async def test_one_manager_per_shared_memory(region_name):
    sm = SharedMemory(region_name, create=True, size=MiB)
    first = ASharedMemoryManager(sm)
    sm.wait_consumer_ready = lambda time_limit=None: True  # no consumer needed here
    async with first:
        with pytest.raises(SharedMemoryError, match="has an ASharedMemoryManager already"):
            async with ASharedMemoryManager(sm):
                pass


async def test_leaving_the_manager_while_it_waits_leaves_no_sleeper(spawn, region_name):
    manager, peer = await started(spawn, region_name)
    try:
        assert await peer.do("hold") == "holding"
        task = asyncio.create_task(manager().__aenter__())
        await ticks_until(lambda: manager._registered)
        await manager.__aexit__(None, None, None)
        with pytest.raises(SharedMemoryError):
            await task
        # Looked at in the turn the peer still holds: the creator has closed
        # the region, so a new turn would raise CreatorGoneError.
        assert await peer.do(("stats",)) == 0
        assert await peer.do("release") == "released"
    finally:
        peer.stop()

"""The original package's signatures and names, each called positionally the
original's way, with the original's meanings: SharedMemory's parameters, the
reads' queue_type, the guard classes, await_my_turn, the async manager's
save_cpu_time and if_has_messages, ValueHolder, the IntEnum helpers, the
wrappers' short names, and False at time limits."""

import asyncio
import enum
import os
import time

import pytest

import ipc_py_objects
import workers
from conftest import join_all
from ipc_py_objects import *  # the star import the original's programs use
from ipc_py_objects import _ipo
from ipc_py_objects.versions import v_1

MiB = 1024 * 1024


@pytest.fixture
def sm(region_name):
    region = SharedMemory(region_name, True, 4 * MiB)
    yield region
    region.close()


# ---- names -------------------------------------------------------------------------------


def test_every_public_name_is_exported_by_both_addresses():
    from ipc_py_objects import aio, aturn, compat, containers, errors, objects, shared_memory

    exported = set(ipc_py_objects.__all__)
    assert exported == set(v_1.__all__)
    for module in (aio, aturn, compat, containers, errors, objects, shared_memory):
        missing = set(module.__all__) - exported
        assert not missing, f"{module.__name__} names {sorted(missing)} that the API does not export"
    for name in exported:
        assert getattr(ipc_py_objects, name) is getattr(v_1, name)
        assert name in globals(), f"{name} does not come with the star import"


def test_the_wrappers_short_names_are_the_classes():
    assert FStaticObjectCopy is forcestaticobjectcopy is fstaticobjectcopy is ForceStaticObjectCopy
    assert FStaticObjectInplace is forcestaticobjectinplace is fstaticobjectinplace is ForceStaticObjectInplace
    assert FGeneralObjectCopy is forcegeneralobjectcopy is fgeneralobjectcopy is ForceGeneralObjectCopy
    assert FGeneralObjectInplace is forcegeneralobjectinplace is fgeneralobjectinplace is ForceGeneralObjectInplace
    assert FMapping is forcemapping is fmapping is ForceMapping
    assert wait_my_turn is WaitMyTurn and get_in_line is GetInLine
    assert wait_my_turn_when_has_messages is WaitMyTurnWhenHasMessages
    assert ASMM is ASharedMemoryManager and ASMCM is ASharedMemoryContextManager
    assert Offset is int and Size is int
    assert (QueueType.fifo, QueueType.lifo) == (0, 1)
    thing = object()
    assert ForceGeneralObjectInplace(thing).obj is thing  # the original's attribute


def test_force_mapping_is_stored_read_only(sm):
    with wait_my_turn(sm):
        fm = fmapping({"hp": 10, "name": "p1"})
        assert dict(fm) == {"hp": 10, "name": "p1"} and len(fm) == 2
        mapped = sm.put_message([fm])
        taken = sm.take_message()
        assert isinstance(taken[0], SharedMapping) and dict(taken[0]) == {"hp": 10, "name": "p1"}
        with pytest.raises(TypeError):
            taken[0]["hp"] = 1
        assert mapped[0]["name"] == "p1"


def test_ensure_adjusted_pythonhashseed_needs_nothing():
    before = dict(os.environ)
    assert ensure_adjusted_pythonhashseed(pythonhashseed=0) is None
    assert ensure_adjusted_pythonhashseed() is None
    assert dict(os.environ) == before


def test_wrong_object_type_error(sm):
    with wait_my_turn(sm):
        _, offset = sm.put_message_2([1, 2])
        with pytest.raises(WrongObjectTypeError, match="no data buffer") as info:
            sm.get_obj_buffer(offset)
        assert isinstance(info.value, SharedMemoryError) and isinstance(info.value, TypeError)


# ---- IntEnum-indexed lists ------------------------------------------------------------------


class Metric(enum.IntEnum):
    income = 0
    employees = 1
    avg_salary = 2
    websites = 3


class Gappy(enum.IntEnum):
    one = 1
    three = 3


def test_intenum_dict_to_list_takes_the_enum_second():
    # As long as the enum, whatever the mapping holds.
    assert intenum_dict_to_list({Metric.employees: 10}, Metric) == [None, 10, None, None]
    assert intenum_dict_to_list({}, Metric) == [None] * 4
    assert intenum_dict_to_list({1: "b", 0: "a"}, Metric) == ["a", "b", None, None]
    # Without it, the first key's enum; without an enum, the keys.
    assert intenum_dict_to_list({Metric.avg_salary: 3.5}) == [None, None, 3.5, None]
    assert intenum_dict_to_list({2: "c"}) == [None, None, "c"]
    assert intenum_dict_to_list({}) == []
    assert intenum_dict_to_list({Metric.income: 1}, default=0) == [1, 0, 0, 0]
    with pytest.raises(TypeError, match="IntEnum"):
        intenum_dict_to_list({0: 1}, dict)
    with pytest.raises(ValueError, match="negative"):
        intenum_dict_to_list({-1: 1})


def test_intenum_list_to_dict_is_the_inverse():
    values = intenum_dict_to_list({Metric.websites: ["a.com"], Metric.employees: 3}, Metric)
    assert intenum_list_to_dict(values, Metric) == {
        Metric.income: None, Metric.employees: 3, Metric.avg_salary: None, Metric.websites: ["a.com"]}
    assert all(type(key) is Metric for key in intenum_list_to_dict(values, Metric))
    assert intenum_list_to_dict(["a", "b"]) == {0: "a", 1: "b"}
    # An enum with gaps: its list has empty places, which stay out.
    gappy = intenum_dict_to_list({Gappy.one: "x", Gappy.three: "z"})
    assert gappy == [None, "x", None, "z"]
    assert intenum_list_to_dict(gappy, Gappy) == {Gappy.one: "x", Gappy.three: "z"}
    with pytest.raises(ValueError, match="no member 2"):
        intenum_list_to_dict([None, "x", "y"], Gappy)


# ---- SharedMemory's parameters ----------------------------------------------------------------


def test_queue_type_is_the_reads_default(region_name):
    # name, create, size, queue_type: the newest message first.
    with SharedMemory(region_name, True, MiB, QueueType.lifo) as sm:
        assert sm.queue_type is QueueType.lifo
        with wait_my_turn(sm):
            for i in range(6):
                sm.put_message(i)
            assert sm.read_message() == 5
            assert sm.take_message() == 5
            assert sm.take_message(QueueType.fifo) == 0  # a read's own queue_type wins
            sm.queue_type = QueueType.fifo
            assert sm.take_message() == 1
            assert [sm.pop_message() for _ in range(4)] == [2, 3, 4, None]
    with pytest.raises(ValueError, match="queue_type"):
        SharedMemory(region_name, True, MiB, 2)


def test_every_read_takes_queue_type_positionally(sm):
    with wait_my_turn(sm):
        for i in range(8):
            sm.put_message(f"m{i}")
        lifo = QueueType.lifo
        assert sm.read_message(lifo) == "m7" and sm.read_message_2(lifo)[0] == "m7"
        assert sm.get_message(None, lifo) == "m7" and sm.get_message_2(None, lifo)[0] == "m7"
        assert sm.take_message(lifo) == "m7"
        assert sm.take_message_2(lifo)[0] == "m6"
        assert sm.pop_message(None, lifo) == "m5"
        assert sm.pop_message_2(None, lifo)[0] == "m4"
        assert sm.read_message(QueueType.fifo) == "m0"
        assert sm.take_message(queue_type=QueueType.fifo) == "m0"
        assert sm.get_message(default="d", queue_type=lifo) == "m3"
        for _ in range(3):
            sm.take_message()
        # Empty: the defaults, given positionally.
        assert sm.get_message("d", lifo) == "d" and sm.get_message_2("d", lifo) == ("d", None)
        assert sm.pop_message("p", lifo) == "p" and sm.pop_message_2("p", lifo) == ("p", None)
        with pytest.raises(NoMessagesInQueueError):
            sm.take_message(lifo)
        with pytest.raises(ValueError, match="queue_type"):
            sm.take_message(3)
        with pytest.raises(TypeError, match="queue_type"):
            sm.read_message("lifo")
        with pytest.raises(TypeError, match="at most 2 arguments"):
            sm.pop_message(1, 0, 0)
        with pytest.raises(TypeError, match="multiple values"):
            sm.get_message(1, default=2)


def test_creator_destroy_timeout_bounds_the_creators_close(region_name):
    # name, create, size, queue_type, zero_mem, consumer_id, creator_destroy_timeout
    sm = SharedMemory(region_name, True, MiB, QueueType.fifo, True, None, 0.3)
    stays = SharedMemory(region_name)
    assert stays.init_consumer(5) is True
    start = time.monotonic()
    sm.close()  # a consumer is still there: the creator waits for it, this long
    assert 0.3 <= time.monotonic() - start < 3
    stays.close()
    with pytest.raises(TypeError, match="give one"):
        SharedMemory(region_name, True, MiB, QueueType.fifo, True, None, 1.0, close_timeout=2)


def test_consumer_id_picks_the_consumer_slot(sm, region_name):
    # name, create, size, queue_type, zero_mem, consumer_id
    second = SharedMemory(region_name, False, None, QueueType.fifo, True, 2)
    assert second.consumer_id == 2 and sm.consumer_id is None
    assert second.init_consumer(5) is True
    taken = SharedMemory(region_name, False, None, QueueType.fifo, True, 2)
    with pytest.raises(RegionFullError, match="consumer_id 2 .* is taken"):
        taken.init_consumer(5)
    taken.close()
    anyone = SharedMemory(region_name)
    assert anyone.init_consumer(5) and anyone.consumer_id == 0
    past = SharedMemory(region_name, consumer_id=40)  # the region has 16 slots
    with pytest.raises(ValueError, match="consumer_id 40 is past"):
        past.init_consumer(5)
    past.close()
    with pytest.raises(ValueError, match="consumer_id"):
        SharedMemory(region_name, False, None, QueueType.fifo, True, -1)
    with wait_my_turn(sm):
        assert sm.stats()["consumers_attached"] == 2
    anyone.close()
    second.close()


def test_zero_mem_is_accepted(region_name):
    with SharedMemory(region_name, True, MiB, QueueType.fifo, False) as sm:
        with wait_my_turn(sm):
            _, offset = sm.put_message_2(bytearray(4096))
            assert bytes(sm.get_obj_buffer(offset)) == bytes(4096)


def test_unlink_old_false_keeps_a_stale_region(spawn, region_name):
    # A creator that died without closing leaves its region behind.
    p = spawn.Process(target=workers.create_and_die, args=(region_name, MiB))
    p.start()
    join_all([p], timeout=30)
    assert os.path.exists(f"/dev/shm/{region_name}")
    with pytest.raises(RegionExistsError, match="unlink_old=False"):
        SharedMemory(region_name, True, MiB, QueueType.fifo, True, None, 5.0, False)
    assert os.path.exists(f"/dev/shm/{region_name}")
    # unlink_old=True (the default) replaces it: its participants are all dead.
    with SharedMemory(region_name, True, MiB, QueueType.fifo, True, None, 5.0, True) as sm:
        assert sm.attached


def test_time_limits_answer_false(sm, region_name):
    assert sm.wait_consumer_ready(0.05) is False
    missing = SharedMemory(f"{region_name}-missing")
    start = time.monotonic()
    assert missing.init_consumer(0.1) is False
    assert time.monotonic() - start >= 0.1 and not missing.attached
    missing.close()
    with SharedMemory(region_name) as other:
        assert sm.wait_consumer_ready(0.05) is True
        with wait_my_turn(sm):
            assert other.wait_my_turn(0.05) is False
            assert other.wait_for_messages(0.05) is False
            sm.put_message("here")
        assert other.wait_for_messages(5) is True
        assert not other.is_in_line()  # it looked, and kept no turn


# ---- the guard classes -----------------------------------------------------------------------


def test_guards_are_the_originals_classes(sm, region_name):
    guard = WaitMyTurn(sm, 5, None)  # shared_memory, time_limit, periodic_sleep_time
    assert isinstance(guard, WaitMyTurn) and isinstance(wait_my_turn(sm), WaitMyTurn)
    assert (guard.shared_memory, guard.time_limit, guard.periodic_sleep_time) == (sm, 5.0, None)
    with guard as region:
        assert region is sm and sm.is_in_line() and guard.is_in_line is False
        # Nested in a turn this thread holds: the block runs in it and leaves it.
        with WaitMyTurn(sm) as inner_region:
            assert inner_region is sm
        with GetInLine(sm) as got:
            assert got is True
        assert sm.is_in_line()
        sm.put_message(1)
        with WaitMyTurnWhenHasMessages(sm, 1, None) as region:
            assert region is sm and sm.take_message() == 1
        with pytest.raises(SharedMemoryError, match="never end"):
            with WaitMyTurnWhenHasMessages(sm, 1):
                pass
        assert sm.is_in_line()
    assert not sm.is_in_line()
    with GetInLine(sm) as got:
        assert got is True and sm.is_in_line()
    assert not sm.is_in_line()
    with pytest.raises(TypeError):
        GetInLine(sm, 5)  # one attempt: no time limit, as in the original
    with pytest.raises(TypeError):
        _ipo.AccessGuard(sm)


def test_guards_take_their_arguments_by_keyword(sm):
    """The fast call reads keywords itself; what it does not know, or gets
    twice, goes the general way and raises as the signature says."""
    for guard in (WaitMyTurn(sm, time_limit=5), WaitMyTurn(shared_memory=sm, time_limit=5),
                  WaitMyTurn(sm, periodic_sleep_time=0.1, time_limit=5),
                  WaitMyTurnWhenHasMessages(sm, time_limit=5, periodic_sleep_time=None)):
        assert guard.shared_memory is sm and guard.time_limit == 5.0
    assert WaitMyTurn(sm, periodic_sleep_time=0.25).periodic_sleep_time == 0.25
    assert WaitMyTurn(sm, time_limit=None).time_limit is None
    with WaitMyTurn(sm, time_limit=5) as region:
        assert region is sm and sm.is_in_line()
    assert not sm.is_in_line()
    with GetInLine(shared_memory=sm) as got:
        assert got is True
    for bad in (lambda: WaitMyTurn(sm, sm, time_limit=5),  # time_limit twice
                lambda: WaitMyTurn(sm, shared_memory=sm),
                lambda: WaitMyTurn(sm, timeout=5),
                lambda: WaitMyTurn(time_limit=5),
                lambda: GetInLine(sm, time_limit=5)):
        with pytest.raises(TypeError):
            bad()
    with pytest.raises(TypeError):
        WaitMyTurn(sm, time_limit="soon")


def test_a_guard_subclass_keeps_its_init(sm):
    class Turn(WaitMyTurn):
        def __init__(self, shared_memory, label):
            super().__init__(shared_memory, 5)
            self.label = label

    turn = Turn(sm, "x")
    assert turn.label == "x" and turn.time_limit == 5.0
    with turn as region:
        assert region is sm and sm.is_in_line()
    assert not sm.is_in_line()

    class Forgetful(WaitMyTurn):
        def __init__(self, shared_memory):
            pass

    with pytest.raises(TypeError, match="super"):
        with Forgetful(sm):
            pass


def test_a_guard_times_out_raising_while_another_holds(sm, region_name):
    with SharedMemory(region_name) as other:
        with wait_my_turn(sm):
            with pytest.raises(OperationTimedOutError):
                with WaitMyTurn(other, 0.05):
                    pass
            with GetInLine(other) as got:
                assert got is False and not other.is_in_line()


# ---- await_my_turn ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_await_my_turn(region_name):
    sm = SharedMemory(region_name, True, MiB)
    other = SharedMemory(region_name)
    assert other.init_consumer(5)
    loop = asyncio.get_running_loop()
    try:
        assert await other.await_my_turn() is True and other.is_in_line()
        assert await other.await_my_turn(0) is True  # held already
        other.release()
        async with await_my_turn(other, 5) as region:
            assert region is other and other.is_in_line()
            async with await_my_turn(other) as inner:  # nested: left to the outer block
                assert inner is other
            assert other.is_in_line()
        assert not other.is_in_line()

        sm.wait_my_turn()
        assert await other.await_my_turn(0.05) is False
        with pytest.raises(OperationTimedOutError):
            async with await_my_turn(other, 0.05):
                pass
        # A wait in progress while the loop runs; the release rings it.
        loop.call_later(0.05, sm.release)
        assert await other.await_my_turn(5) is True
        other.release()

        # Cancelled while waiting: it leaves no turn and no waiter behind.
        sm.wait_my_turn()
        task = asyncio.ensure_future(other.await_my_turn())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        sm.release()
        assert not other.is_in_line() and sm.get_in_line() is True
        sm.release()

        # Messages: waits for one, keeps no turn.
        assert await other.await_for_messages(0.05) is False
        loop.call_later(0.05, lambda: (sm.wait_my_turn(), sm.put_message("m"), sm.release()))
        assert await other.await_for_messages(5) is True and not other.is_in_line()
    finally:
        other.close()
        sm.close()


@pytest.mark.asyncio
async def test_shared_memory_as_an_async_context_manager(region_name):
    async with SharedMemory(region_name, True, MiB) as sm:
        async with SharedMemory(region_name) as other:
            assert other.attached and await sm.await_consumer_ready(1) is True
        assert other.closed
    assert sm.closed and not os.path.exists(f"/dev/shm/{region_name}")


# ---- the async manager -------------------------------------------------------------------------


def test_manager_takes_save_cpu_time_second_and_time_limit_third(sm):
    manager = ASharedMemoryManager(sm, True)
    assert manager.save_cpu_time is True and manager.time_limit is None
    manager = ASharedMemoryManager(sm, False, 5)
    assert manager.save_cpu_time is False and manager.time_limit == 5
    with manager.save_cpu() as before:
        assert before is False and manager.save_cpu_time is True
        with manager.high_performance():
            assert manager.save_cpu_time is False
        assert manager.save_cpu_time is True
    assert manager.save_cpu_time is False
    cm = manager()
    cm.save_cpu_time = True  # a context manager's is its manager's
    assert manager.save_cpu_time is True
    with pytest.raises(ValueError, match="time_limit"):
        ASharedMemoryManager(sm, False, -1)


def test_if_has_messages_as_the_original(sm):
    manager = ASharedMemoryManager(sm)
    cm = manager(True)  # if_has_messages, positionally
    assert isinstance(cm, ASharedMemoryContextManager) and cm.if_has_messages_value is True
    plain = manager()
    assert plain.if_has_messages_value is False
    assert plain.if_has_messages() is plain and plain.if_has_messages_value is True
    assert plain.if_has_messages(False) is plain and plain.if_has_messages_value is False
    assert cm.anyway() is cm and cm.if_has_messages_value is False


def test_value_holder_is_the_originals():
    holder = ValueHolder(False, "v")  # existence, value
    assert not holder and holder.existence is False and holder.value == "v"
    assert ValueHolder() == ValueHolder(False, None) and not ValueHolder()
    holder.existence = True
    assert holder and holder == "v" and list(holder) == [True, "v"] and len(holder) == 2
    holder.existence = False
    assert holder != "v"  # a value that does not exist equals nothing


async def manager_with_peer(spawn, name, save_cpu_time):
    from test_aio import Peer, reply

    manager = ASharedMemoryManager(SharedMemory(name, True, MiB, close_timeout=0.5), save_cpu_time, 30)
    peer = Peer(spawn, name)
    await manager.__aenter__()
    assert await reply(peer.replies) == "ready"
    return manager, peer


@pytest.mark.asyncio
@pytest.mark.parametrize("save_cpu_time", [False, True])
async def test_a_block_ends_back_at_the_constructors_if_has_messages(spawn, region_name, save_cpu_time):
    manager, peer = await manager_with_peer(spawn, region_name, save_cpu_time)
    try:
        cm = manager()
        # One block that waits for a message, the next does not.
        waiting = asyncio.ensure_future(cm.if_has_messages().__aenter__())
        await asyncio.sleep(0.1)
        assert not waiting.done()  # no message yet
        assert await peer.do(("put", "hello")) == "put"
        holder = await asyncio.wait_for(waiting, 30)
        assert holder.value.take_message() == "hello"
        await cm.__aexit__(None, None, None)
        assert cm.if_has_messages_value is False
        async with cm as holder:  # the queue is empty, and it does not wait
            assert not holder.value.has_messages()
        # The manager's and the context manager's has_messages() wait for one.
        waiting = asyncio.ensure_future(cm.has_messages())
        await asyncio.sleep(0.1)
        assert not waiting.done()
        assert await peer.do(("put", "again")) == "put"
        assert await asyncio.wait_for(waiting, 30) is True
        async with cm as holder:
            with pytest.raises(RuntimeError, match="inside the block"):
                await cm.has_messages()
            assert holder.value.take_message() == "again"
    finally:
        peer.stop()
        await manager.__aexit__(None, None, None)


@pytest.mark.asyncio
async def test_the_manager_raises_when_nobody_comes_in_time(region_name):
    manager = ASharedMemoryManager(SharedMemory(region_name, True, MiB), False, 0.1)
    with pytest.raises(OperationTimedOutError, match="no consumer"):
        await manager.__aenter__()
    manager.shared_memory.close()
    manager = ASharedMemoryManager(SharedMemory(f"{region_name}-missing"), False, 0.1)
    with pytest.raises(OperationTimedOutError, match="no ready region"):
        await manager.__aenter__()
    manager.shared_memory.close()

"""The sync API of SharedMemory within one process: lifecycle, access rules,
messages, object round trips, buffers, exhaustion, bad input."""

import math
import os
import struct
import sys

import pytest

from ipc_py_objects import (
    AccessNotHeldError,
    FreeMemoryChunkNotFoundError,
    InvalidOffsetError,
    NoMessagesInQueueError,
    ObjectInUseError,
    OperationTimedOutError,
    RegionClosedError,
    RegionExistsError,
    SharedMemory,
    SharedMemoryError,
    get_in_line,
    wait_my_turn,
    wait_my_turn_when_has_messages,
)
from ipc_py_objects import _ipo

MiB = 1024 * 1024


@pytest.fixture
def sm(region_name):
    region = SharedMemory(region_name, create=True, size=4 * MiB)
    yield region
    region.close()


# ---- lifecycle ---------------------------------------------------------------------


def test_creator_properties_and_close(region_name):
    sm = SharedMemory(region_name, True, 3 * MiB)  # positional, as in the seed
    assert sm.name == region_name
    assert sm.create is True
    assert sm.size == 3 * MiB
    assert os.path.exists(f"/dev/shm/{region_name}")
    assert oct(os.stat(f"/dev/shm/{region_name}").st_mode & 0o777) == "0o600"
    sm.close()
    sm.close()  # idempotent
    assert sm.closed
    assert not os.path.exists(f"/dev/shm/{region_name}")


def test_both_import_paths_give_the_same_api():
    import ipc_py_objects
    import ipc_py_objects.versions.v_1 as v1

    assert ipc_py_objects.SharedMemory is v1.SharedMemory
    assert set(ipc_py_objects.__all__) == set(v1.__all__)
    for name in v1.__all__:
        assert getattr(ipc_py_objects, name) is getattr(v1, name)


def test_context_manager_closes(region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        assert sm.attached
    assert sm.closed
    assert not os.path.exists(f"/dev/shm/{region_name}")


def test_consumer_in_same_process_gets_its_own_slot(sm, region_name):
    with SharedMemory(region_name) as consumer:
        assert consumer.create is False
        assert consumer.size == sm.size
        with wait_my_turn(consumer):
            assert consumer.stats()["slot"] == 1
    # The consumer left, so the creator's wait for consumers is immediate.
    assert sm.wait_consumer_ready(time_limit=0) is True


def test_name_taken_by_live_region(sm, region_name):
    with pytest.raises(RegionExistsError, match="pick another name"):
        SharedMemory(region_name, create=True, size=MiB)


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        (dict(name="a/b", create=True, size=MiB), ValueError, "invalid region name"),
        (dict(name="", create=True, size=MiB), ValueError, "invalid region name"),
        (dict(name="x" * 201, create=True, size=MiB), ValueError, "invalid region name"),
        (dict(name="nul\0byte", create=True, size=MiB), ValueError, "invalid region name"),
        (dict(name=42, create=True, size=MiB), TypeError, "name must be a str"),
        (dict(name="ok", create=True), ValueError, "size is required"),
        (dict(name="ok", create=True, size=0), ValueError, "size must be"),
        (dict(name="ok", create=True, size=-5), ValueError, "size must be"),
        (dict(name="ok", create=True, size=1.5), TypeError, "size must be an int"),
        (dict(name="ok", create=True, size=MiB, slots=1), ValueError, "slots"),
        (dict(name="ok", create=True, size=MiB, mode=0o400), ValueError, "mode"),
        (dict(name="ok", create=True, size=MiB, close_timeout=-1), ValueError, "time_limit"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, text):
    with pytest.raises(error, match=text):
        SharedMemory(**kwargs)


def test_small_sizes_round_up(region_name):
    with SharedMemory(region_name, create=True, size=100) as sm:
        assert sm.size == 64 * 1024


def test_not_attached_consumer_raises(region_name):
    sm = SharedMemory(region_name)
    assert sm.size is None
    with pytest.raises(RegionClosedError, match="init_consumer"):
        sm.wait_my_turn()
    sm.close()
    with pytest.raises(RegionClosedError, match="closed"):
        sm.init_consumer()


# ---- access --------------------------------------------------------------------------


CALLS_NEEDING_ACCESS = [
    ("put_message", (1,)),
    ("put_message_2", (1,)),
    ("take_message", ()),
    ("take_message_2", ()),
    ("read_message", ()),
    ("read_message_2", ()),
    ("pop_message", ()),
    ("pop_message_2", ()),
    ("has_messages", ()),
    ("destroy_obj", (64,)),
    ("destroy_object", (64,)),
    ("get_obj_buffer", (64,)),
    ("stats", ()),
    ("check", ()),
    ("release", ()),
]


@pytest.mark.parametrize("method, args", CALLS_NEEDING_ACCESS)
def test_calls_without_access_raise(sm, method, args):
    with pytest.raises(AccessNotHeldError, match="does not hold access"):
        getattr(sm, method)(*args)
    # After a turn is over, the same holds.
    with wait_my_turn(sm):
        pass
    with pytest.raises(AccessNotHeldError):
        getattr(sm, method)(*args)


def test_turns_between_two_handles(sm, region_name):
    with SharedMemory(region_name) as other:
        assert sm.get_in_line() is True
        assert other.get_in_line() is False
        # The method answers False at its time limit, as the original's does;
        # the guard raises, since its block must not run without access.
        assert other.wait_my_turn(time_limit=0.05) is False
        with pytest.raises(OperationTimedOutError, match="not granted within 0 s"):
            with wait_my_turn(other, time_limit=0):
                pass
        with get_in_line(other) as got:
            assert got is False
        sm.release()
        with get_in_line(other) as got:
            assert got is True
            assert sm.get_in_line() is False
        assert other.wait_my_turn(time_limit=1) is True
        other.release()


def test_a_waiter_sleeps_instead_of_spinning(sm, region_name):
    import time

    with SharedMemory(region_name) as other:
        def wait_for_messages():
            with pytest.raises(OperationTimedOutError):
                wait_my_turn_when_has_messages(other, time_limit=0.5).__enter__()

        for wait in (lambda: other.wait_my_turn(time_limit=0.5) is False, wait_for_messages):
            with wait_my_turn(sm):  # held throughout: the wait cannot end early
                cpu = time.process_time()
                assert wait() in (True, None)
                # Half a second of waiting costs almost no CPU: it slept.
                assert time.process_time() - cpu < 0.1


def test_spin_budget_option(region_name):
    with SharedMemory(region_name, create=True, size=MiB, spin_budget=0) as sm:
        with wait_my_turn(sm):
            pass
    with pytest.raises(ValueError, match="time_limit"):
        SharedMemory(region_name, create=True, size=MiB, spin_budget=-1)


def test_waiting_for_messages_times_out_on_empty_queue(sm, region_name):
    with SharedMemory(region_name) as other:
        with pytest.raises(OperationTimedOutError, match="no message arrived"):
            with wait_my_turn_when_has_messages(other, time_limit=0.05):
                pass
        with wait_my_turn(sm):
            sm.put_message("here")
        with wait_my_turn_when_has_messages(other, time_limit=5) as region:
            assert region is other
            assert other.take_message() == "here"


def test_asking_again_in_the_holding_thread_keeps_the_turn(sm):
    # As in the original package: the turn is held already, so asking again
    # answers True and waits for nothing; one release ends the turn.
    with wait_my_turn(sm):
        assert sm.wait_my_turn() is True
        assert sm.get_in_line() is True
        assert sm.is_in_line() is True and sm.has_messages() is False
    assert sm.is_in_line() is False
    with pytest.raises(AccessNotHeldError):
        sm.has_messages()


def test_block_that_released_itself_leaves_another_threads_turn_alone(sm):
    import threading

    released, taken, done = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def other_thread():
        released.wait(10)
        with wait_my_turn(sm, time_limit=10):
            taken.set()
            done.wait(10)
            seen.append(sm.has_messages())  # still this thread's turn

    t = threading.Thread(target=other_thread)
    t.start()
    with wait_my_turn(sm):
        sm.release()
        released.set()
        assert taken.wait(10)
    # Leaving the block did not release the other thread's turn.
    done.set()
    t.join(10)
    assert seen == [False]


def test_block_may_release_itself(sm):
    with wait_my_turn(sm):
        sm.release()
    with pytest.raises(AccessNotHeldError):
        sm.has_messages()


def test_time_limit_validation(sm):
    with pytest.raises(ValueError, match="time_limit"):
        sm.wait_my_turn(time_limit=-1)
    with pytest.raises(TypeError, match="time_limit"):
        wait_my_turn(sm, time_limit="soon")
    with pytest.raises(TypeError, match="SharedMemory"):
        wait_my_turn(object())


def test_seed_keyword_periodic_sleep_time_is_accepted(sm):
    with wait_my_turn(sm, periodic_sleep_time=None):
        pass
    assert sm.wait_my_turn(periodic_sleep_time=0.000000001) is True
    sm.release()


# ---- messages -------------------------------------------------------------------------


def test_fifo_read_take_pop(sm):
    with wait_my_turn(sm):
        assert sm.has_messages() is False
        with pytest.raises(NoMessagesInQueueError):
            sm.take_message()
        with pytest.raises(NoMessagesInQueueError):
            sm.read_message_2()
        assert sm.pop_message() is None
        assert sm.pop_message("nothing") == "nothing"
        assert sm.pop_message_2() == (None, None)
        offsets = [sm.put_message_2(i)[1] for i in range(5)]
        assert sm.read_message() == 0
        assert sm.read_message_2() == (0, offsets[0])
        assert sm.take_message() == 0
        assert sm.take_message_2() == (1, offsets[1])
        assert sm.pop_message() == 2
        assert sm.pop_message_2() == (3, offsets[3])
        assert sm.has_messages() is True
        assert sm.take_message() == 4
        assert sm.has_messages() is False
        for off in offsets:
            sm.destroy_obj(off)
        sm.check()


def test_put_returns_the_object_itself(sm):
    value = b"payload"
    with wait_my_turn(sm):
        assert sm.put_message(value) is value
        mapped, offset = sm.put_message_2(value)
        assert mapped is value and isinstance(offset, int)


def test_queue_grows_past_its_first_ring(sm):
    with wait_my_turn(sm):
        for i in range(1000):
            sm.put_message(i)
        assert sm.stats()["messages"] == 1000
        assert [sm.take_message() for _ in range(1000)] == list(range(1000))
        sm.check()


# ---- round trips -----------------------------------------------------------------------

ROUND_TRIP_VALUES = [
    None, True, False,
    0, 1, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64, 10**400, -(10**400),
    0.0, -0.0, 1.5, math.inf, -math.inf, sys.float_info.max, sys.float_info.min, 5e-324,
    "", "a", "ascii text", "héllo", "\U0001F600 non-BMP", "\ud800 lone surrogate", "x" * 100_000,
    "\x00 nul inside",
    b"", b"\x00\xff", bytes(range(256)) * 300,
    bytearray(), bytearray(b"mutable"),
]


@pytest.mark.parametrize("value", ROUND_TRIP_VALUES, ids=lambda v: f"{type(v).__name__}-{repr(v)[:20]}")
def test_round_trip_is_exact(sm, value):
    with wait_my_turn(sm):
        sm.put_message(value)
        got, offset = sm.take_message_2()
        assert type(got) is type(value)
        if isinstance(value, float):
            assert struct.pack("<d", got) == struct.pack("<d", value)
        else:
            assert got == value
        sm.destroy_obj(offset)
        sm.check()


def test_nan_payload_survives(sm):
    nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]
    with wait_my_turn(sm):
        sm.put_message(nan)
        got = sm.take_message()
    assert math.isnan(got)
    assert struct.pack("<d", got) == struct.pack("<d", nan)


def test_taken_bytearray_is_a_copy(sm):
    with wait_my_turn(sm):
        sm.put_message(bytearray(b"abc"))
        got, offset = sm.take_message_2()
        got[0] = ord("z")
        assert bytes(sm.get_obj_buffer(offset)) == b"abc"


def _generator():
    yield 1


# What neither the format describes nor pickle takes (what pickles is stored
# pickled: test_pickled.py).
@pytest.mark.parametrize("value", [pytest, lambda: None, _generator(), memoryview(b"x"),
                                   (1, "two", (3.0, b"four", lambda: None)),
                                   [1, {"k": [_generator()]}]])
def test_unsupported_types_raise_and_leave_nothing(sm, value):
    with wait_my_turn(sm):
        before = sm.stats()
        with pytest.raises(TypeError, match="cannot put an object of type"):
            sm.put_message(value)
        after = sm.stats()
        assert after["messages"] == before["messages"] == 0
        assert after["used_blocks"] == before["used_blocks"]
        sm.check()


# ---- objects and buffers ----------------------------------------------------------------


def test_destroy_returns_the_memory(sm):
    with wait_my_turn(sm):
        before = sm.stats()
        _, offset = sm.put_message_2(b"x" * 500_000)
        assert sm.stats()["free_bytes"] < before["free_bytes"] - 500_000
        assert sm.take_message() == b"x" * 500_000
        sm.destroy_obj(offset)
        after = sm.stats()
        assert after["free_bytes"] == before["free_bytes"]
        assert after["largest_free_chunk"] == before["largest_free_chunk"]
        assert after["used_blocks"] == before["used_blocks"]
        sm.check()


def test_bad_offsets_are_refused(sm):
    with wait_my_turn(sm):
        _, offset = sm.put_message_2(b"data")
        for bad in (0, 8, offset + 16, offset + 1, sm.size, 2**64 - 16, -1, 2**70):
            with pytest.raises(InvalidOffsetError):
                sm.destroy_obj(bad)
            with pytest.raises(InvalidOffsetError):
                sm.get_obj_buffer(bad)
        with pytest.raises(TypeError, match="offset is an int"):
            sm.destroy_obj("64")
        with pytest.raises(ObjectInUseError, match="take the message first"):
            sm.destroy_obj(offset)
        sm.take_message()
        sm.destroy_object(offset)
        with pytest.raises(InvalidOffsetError, match="destroyed already"):
            sm.destroy_obj(offset)
        sm.check()


def test_object_buffers(sm):
    with wait_my_turn(sm):
        _, b_off = sm.put_message_2(b"hello bytes")
        _, s_off = sm.put_message_2("héllo str")
        _, i_off = sm.put_message_2(12345)
        view = sm.get_obj_buffer(b_off)
        assert view.readonly is False and bytes(view) == b"hello bytes"
        view[0:5] = b"HELLO"
        assert sm.take_message() == b"HELLO bytes"  # zero-copy: the write is the object
        sview = sm.get_obj_buffer(s_off)
        assert sview.readonly is True
        assert bytes(sview).decode() == "héllo str"
        with pytest.raises(TypeError, match="no data buffer"):
            sm.get_obj_buffer(i_off)
        big = sm.put_message_2(b"\x01" * 4096)[1]
        # Large payloads are 64-byte aligned in the region.
        assert sm.get_obj_buffer(big).nbytes == 4096


def test_region_held_only_by_its_own_buffer_is_collected(region_name):
    import gc
    import weakref

    sm = SharedMemory(region_name, create=True, size=MiB)
    with wait_my_turn(sm):
        sm.put_message(b"cycle")
        _, offset = sm.take_message_2()
        sm.view = sm.get_obj_buffer(offset)  # region -> view -> region
    ref = weakref.ref(sm)
    del sm
    gc.collect()
    assert ref() is None
    assert not os.path.exists(f"/dev/shm/{region_name}")


def test_attaching_from_two_threads_at_once(region_name):
    import threading

    consumer = SharedMemory(region_name)
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(consumer.init_consumer(time_limit=30)))
    waiter.start()
    try:
        # While the first thread waits for the region, a second attach of the
        # same handle is refused instead of racing it.
        for _ in range(100_000):
            try:
                consumer.init_consumer(time_limit=0)
            except SharedMemoryError as e:
                if "another thread is attaching" in str(e):
                    break
        else:
            pytest.fail("the second attach was never refused")
        creator = SharedMemory(region_name, create=True, size=MiB)
        waiter.join(30)
        assert outcome == [True] and consumer.attached
        with wait_my_turn(creator):
            assert creator.stats()["consumers_attached"] == 1
        consumer.close()
        creator.close()
    finally:
        waiter.join(30)


def test_buffer_outlives_close_without_crashing(region_name):
    sm = SharedMemory(region_name, create=True, size=MiB)
    with wait_my_turn(sm):
        _, offset = sm.put_message_2(b"still readable")
        view = sm.get_obj_buffer(offset)
    sm.close()
    assert not os.path.exists(f"/dev/shm/{region_name}")
    # The mapping lives until the last view is released.
    assert bytes(view) == b"still readable"
    view.release()


def test_destroying_an_object_with_a_live_buffer_is_refused(sm):
    with wait_my_turn(sm):
        sm.put_message(b"zero-copy")
        _, offset = sm.take_message_2()
        view = sm.get_obj_buffer(offset)
        other = sm.get_obj_buffer(offset)
        with pytest.raises(ObjectInUseError, match="2 buffers"):
            sm.destroy_obj(offset)
        view.release()
        with pytest.raises(ObjectInUseError, match="1 buffers"):
            sm.destroy_obj(offset)
        del other
        sm.destroy_obj(offset)
        sm.check()


# ---- exhaustion -------------------------------------------------------------------------


def test_exhaustion_then_recovery(region_name):
    with SharedMemory(region_name, create=True, size=2 * MiB) as sm, wait_my_turn(sm):
        offsets = []
        chunk = b"\xab" * 100_000
        with pytest.raises(FreeMemoryChunkNotFoundError) as info:
            while True:
                offsets.append(sm.put_message_2(chunk)[1])
        err = info.value
        assert err.requested > len(chunk)
        assert err.largest_free < err.requested
        assert "largest free chunk" in str(err) and region_name in str(err)
        assert len(offsets) >= 15
        sm.check()
        # The failed put left no message behind: every queued one is whole.
        assert sm.stats()["messages"] == len(offsets)
        # Small objects still fit in the remaining gaps.
        sm.put_message(b"small")
        taken = []
        while sm.has_messages():
            taken.append(sm.take_message_2())
        assert [obj for obj, _ in taken] == [chunk] * len(offsets) + [b"small"]
        for _, off in taken:
            sm.destroy_obj(off)
        stats = sm.stats()
        assert stats["used_blocks"] == 1  # the queue's ring
        # Everything coalesced: one object nearly the size of the heap fits.
        sm.put_message(b"\0" * (stats["largest_free_chunk"] - 4096))
        sm.destroy_obj(sm.take_message_2()[1])
        sm.check()


def test_layout_constants_are_exposed():
    layout = _ipo.layout()
    assert layout["header_size"] == 256
    assert layout["default_slots"] >= 16
    assert layout["layout_hash_offset"] == 12

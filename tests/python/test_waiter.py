"""_ipo.Waiter, loop/'s waiter as the asyncio manager drives it: its steps,
bad input, and its life beside its region's (the protocol itself is tested in
tests/c/test_waiter.c and proven in tests/model/waiter.pml)."""

import select
import threading

import pytest

from ipc_py_objects import AccessNotHeldError, RegionClosedError, SharedMemory, _ipo

MiB = 1024 * 1024
ACCESS, MESSAGES, CHANGE = _ipo.WAIT_FOR_ACCESS, _ipo.WAIT_FOR_MESSAGES, _ipo.WAIT_FOR_CHANGE
HELD, SLEEP, AGAIN = _ipo.WAIT_HELD, _ipo.WAIT_SLEEP, _ipo.WAIT_AGAIN


def readable(waiter, timeout):
    ready, _, _ = select.select(list(waiter.fds), [], [], timeout)
    return bool(ready)


def test_a_turn_taken_by_the_waiter_is_this_threads(region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        waiter = _ipo.Waiter(sm)
        # The doorbell, the eventfd and the death watch (absent without pidfds).
        assert len(waiter.fds) in (2, 3) and all(isinstance(fd, int) and fd >= 0 for fd in waiter.fds)
        assert waiter.start(ACCESS, 0, 0.0) == HELD
        assert not waiter.waiting and waiter.registered == 0
        sm.put_message("mine")  # holding access, as after wait_my_turn()
        assert sm.take_message() == "mine"
        sm.release()
        with pytest.raises(AccessNotHeldError):
            sm.put_message("not mine")


def test_a_wait_for_messages_sleeps_until_one_is_put(region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        waiter = _ipo.Waiter(sm)
        assert waiter.start(MESSAGES, 0, 0.0) == SLEEP
        assert waiter.waiting and waiter.registered == MESSAGES
        assert not readable(waiter, 0)

        def put():
            with _ipo.WaitMyTurn(sm):
                sm.put_message(1)

        thread = threading.Thread(target=put)  # another thread, the same process
        thread.start()
        thread.join(30)
        assert readable(waiter, 30)
        assert waiter.readable() == HELD
        assert sm.take_message() == 1
        sm.release()
        # An idle waiter that is rung (or poked) says look again.
        assert waiter.readable() == AGAIN


def test_a_wait_for_a_change_ends_with_a_turn_that_changed_something(region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        waiter = _ipo.Waiter(sm)
        since = sm._change_count()
        assert waiter.start(CHANGE, since, 0.0) == SLEEP
        with _ipo.WaitMyTurn(sm):  # a turn that only looks changes nothing
            sm.has_messages()
        assert sm._change_count() == since
        assert waiter.start(CHANGE, since, 0.0) == SLEEP
        with _ipo.WaitMyTurn(sm):  # a put does
            sm.put_message(1)
        assert sm._change_count() != since
        assert waiter.start(CHANGE, since, 0.0) == AGAIN
        assert not waiter.waiting and waiter.registered == 0
        with _ipo.WaitMyTurn(sm):
            sm.take_message()


def test_bad_input_is_refused(region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        waiter = _ipo.Waiter(sm)
        for what in (0, 8, ACCESS | 16, 1 << 40):
            with pytest.raises(ValueError, match="WAIT_FOR"):
                waiter.start(what, 0, 0.0)
        with pytest.raises(ValueError, match="spin_seconds"):
            waiter.start(ACCESS, 0, -1.0)
        with pytest.raises(ValueError, match="spin_seconds"):
            waiter.start(ACCESS, 0, float("nan"))
        with pytest.raises(TypeError):
            waiter.start(ACCESS, 0)
        with pytest.raises(OverflowError):
            waiter.start(ACCESS, -1, 0.0)
        with pytest.raises(TypeError, match="SharedMemory"):
            _ipo.Waiter(object())
        assert not waiter.waiting  # nothing half-started


def test_a_waiter_outlives_its_region_harmlessly(region_name):
    sm = SharedMemory(region_name, create=True, size=MiB)
    with pytest.raises(RegionClosedError):
        _ipo.Waiter(SharedMemory(region_name + "-never"))  # not attached
    waiter = _ipo.Waiter(sm)
    sm.wait_my_turn()
    assert waiter.start(ACCESS, 0, 0.0) == SLEEP  # this process holds it
    sm.release()
    sm.close()  # unregisters the waiter with the rest of the doorbell
    assert not waiter.waiting and waiter.registered == 0
    waiter.cancel()  # nothing left to cancel
    with pytest.raises(RegionClosedError):
        waiter.start(ACCESS, 0, 0.0)
    with pytest.raises(RegionClosedError):
        waiter.readable()
    with pytest.raises(RegionClosedError):
        waiter.fds
    del waiter  # and its eventfd goes without touching the closed region

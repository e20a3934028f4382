"""The access guards (python/src/guard_type.c) as objects that are reused:
a guard dropped is kept and made again for the next call, and each guard
hands out its own bound __enter__ and __exit__ rather than new ones. What
is reused must never carry one turn's state into another."""

import contextlib
import gc
import os
import threading
import uuid

import pytest

from ipc_py_objects import (
    GetInLine,
    SharedMemory,
    WaitMyTurn,
    WaitMyTurnWhenHasMessages,
    wait_my_turn,
    wait_my_turn_when_has_messages,
)

MiB = 1024 * 1024


@pytest.fixture
def sm(region_name):
    region = SharedMemory(region_name, create=True, size=4 * MiB)
    yield region
    region.close()


@pytest.fixture
def second():
    """Another region of this process, for guards that must not mix them up."""
    name = f"ipo-test-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    region = SharedMemory(name, create=True, size=4 * MiB)
    yield region
    region.close()


def test_a_guard_is_entered_again_after_an_exception_in_its_block(sm):
    guard = wait_my_turn(sm, time_limit=5)
    for _ in range(3):
        with pytest.raises(KeyError):
            with guard as region:
                assert region is sm and sm.is_in_line()
                raise KeyError("in the block")
        assert not sm.is_in_line()
    with guard:
        sm.put_message(1)
    with wait_my_turn_when_has_messages(sm, time_limit=5):
        assert sm.take_message() == 1
    assert not sm.is_in_line()


def test_an_entered_guard_refuses_a_second_entry_and_leaves_the_turn(sm):
    guard = wait_my_turn(sm, time_limit=5)
    with guard:
        with pytest.raises(RuntimeError, match="already entered"):
            guard.__enter__()
        assert sm.is_in_line()
    assert not sm.is_in_line()


def test_nested_guards_run_in_the_outer_turn(sm, second):
    with wait_my_turn(sm) as outer:
        with wait_my_turn(sm) as inner:
            assert inner is outer is sm
        with GetInLine(sm) as got:
            assert got is True
        assert sm.is_in_line()  # the inner blocks left the turn to its owner
        with wait_my_turn(second, time_limit=5) as other:
            assert other is second and second.is_in_line() and sm.is_in_line()
        assert not second.is_in_line() and sm.is_in_line()
    assert not sm.is_in_line()


def test_a_dropped_guard_is_never_used_for_another_region(sm, second):
    """Guards made and dropped in turn on two regions: each holds the
    region it was made for, and its entry takes that region's turn only."""
    for i in range(200):
        region, other = (sm, second) if i % 2 else (second, sm)
        kind = (WaitMyTurn, WaitMyTurnWhenHasMessages)[i % 3 == 0]
        if kind is WaitMyTurnWhenHasMessages:
            with wait_my_turn(region):
                region.put_message(i)
        guard = kind(region, time_limit=5)
        assert guard.shared_memory is region and guard.time_limit == 5.0
        with guard as got:
            assert got is region and region.is_in_line() and not other.is_in_line()
            if kind is WaitMyTurnWhenHasMessages:
                assert region.take_message() == i
        assert not region.is_in_line()
        del guard
    # A guard kept across the others' making and dropping is unchanged.
    kept = wait_my_turn(second, periodic_sleep_time=0.25)
    for _ in range(20):
        wait_my_turn(sm, time_limit=1)
    assert kept.shared_memory is second and kept.periodic_sleep_time == 0.25 and kept.time_limit is None
    with kept:
        assert second.is_in_line() and not sm.is_in_line()


def test_a_bound_enter_or_exit_keeps_its_guard(sm):
    enter = wait_my_turn(sm, time_limit=5).__enter__  # the guard's only holder
    gc.collect()
    guard = enter.__self__
    assert isinstance(guard, WaitMyTurn) and guard.shared_memory is sm
    assert guard.__enter__ == enter and guard.__exit__ != enter and "WaitMyTurn.__enter__" in repr(enter)
    assert hash(guard.__enter__) == hash(enter)
    assert enter() is sm and sm.is_in_line()
    exit_ = guard.__exit__
    del guard, enter
    gc.collect()
    assert exit_(None, None, None) is False and not sm.is_in_line()
    with pytest.raises(TypeError):
        exit_.__self__.__enter__(1)
    with pytest.raises(TypeError):
        exit_.__self__.__enter__(sm=1)


def test_the_class_methods_take_the_guard_first(sm):
    """contextlib.ExitStack looks __enter__ and __exit__ up on the class."""
    with contextlib.ExitStack() as stack:
        assert stack.enter_context(wait_my_turn(sm, time_limit=5)) is sm
        assert sm.is_in_line()
    assert not sm.is_in_line()
    guard = WaitMyTurn(sm)
    assert WaitMyTurn.__enter__(guard) is sm and sm.is_in_line()
    assert WaitMyTurn.__exit__(guard, None, None, None) is False and not sm.is_in_line()
    with pytest.raises(TypeError):
        WaitMyTurn.__enter__(sm)
    with pytest.raises(TypeError):
        WaitMyTurn.__enter__()


def test_a_subclass_enters_through_super(sm):
    class Counted(WaitMyTurn):
        entries = 0

        def __enter__(self):
            type(self).entries += 1
            return super().__enter__()

        def __exit__(self, *exc):
            return super().__exit__(*exc)

    for _ in range(3):
        with Counted(sm, 5) as region:
            assert region is sm and sm.is_in_line()
        assert not sm.is_in_line()
    assert Counted.entries == 3


def test_threads_taking_turns_with_guards(sm):
    """Several threads make, enter and drop guards at once on one region:
    each block holds the turn alone, and every turn ends released."""
    threads, turns = 4, 300
    inside, most, errors = [0], [0], []

    def take_turns():
        try:
            for i in range(turns):
                with wait_my_turn(sm, time_limit=30):
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                    sm.put_message(i)
                    sm.take_message()
                    inside[0] -= 1
        except BaseException as e:  # reported below, with the thread's traceback
            errors.append(e)

    workers = [threading.Thread(target=take_turns) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    assert not any(t.is_alive() for t in workers)
    assert not errors, errors
    assert most[0] == 1
    with GetInLine(sm) as got:
        assert got is True and not sm.has_messages()


def test_a_bound_exit_kept_in_its_region_is_collected(region_name):
    """A guard's bound __exit__ kept in its region's __dict__ is a cycle
    (region -> bound method -> guard -> region), which the GC collects: the
    region is closed and its mapping let go of."""
    import weakref

    sm = SharedMemory(region_name, create=True, size=MiB)
    sm.leave = wait_my_turn(sm, time_limit=5).__exit__
    sm.leave.__self__.__enter__()
    assert sm.is_in_line()
    sm.leave(None, None, None)
    assert not sm.is_in_line()
    gone = weakref.ref(sm)
    del sm
    gc.collect()
    assert gone() is None


def test_a_subclass_guard_that_keeps_its_own_exit_is_collected(sm):
    """A guard of a Python subclass that keeps one of its own bound methods
    (self.leave = self.__exit__) is a cycle, which the GC collects as it
    does any other: the bound method it is handed is one the GC sees."""
    import weakref

    class Keeping(WaitMyTurn):
        def __init__(self, shared_memory):
            super().__init__(shared_memory, time_limit=5)
            self.leave = self.__exit__

    guard = Keeping(sm)
    with guard:
        assert sm.is_in_line()
    gone = weakref.ref(guard)
    del guard
    gc.collect()
    assert gone() is None
    assert not sm.is_in_line()

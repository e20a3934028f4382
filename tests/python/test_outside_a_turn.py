"""Live objects used while this process holds no turn (view_base.h): each
operation takes a turn of its own and gives it back, waits as wait_my_turn()
does, and a strict region raises AccessNotHeldError instead."""

import os
import pickle
import queue
import select
import signal
import threading
import time

import pytest

import turn_workers
import workers
from conftest import join_all
from ipc_py_objects import (
    AccessNotHeldError,
    ForceGeneralObjectCopy,
    OperationTimedOutError,
    RegionClosedError,
    SharedMemory,
    _ipo,
    wait_my_turn,
)
from shared_types import Company, Employee, Plain, Point

MiB = 1024 * 1024


def get(results, timeout=60):
    """A result from a worker, or a failure if none comes in time."""
    try:
        return results.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"no result from the worker within {timeout} s")


def until(condition, limit=30.0):
    """Polls a condition, failing after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.001)


@pytest.fixture
def pair(region_name):
    """A creator and, in the same process, a second handle on its region:
    the second can tell whether the first left access free."""
    with SharedMemory(region_name, create=True, size=4 * MiB) as sm:
        with SharedMemory(region_name) as other:
            yield sm, other


def access_is_free(other):
    """Whether no participant holds access (one try by the second handle)."""
    if other.get_in_line():
        other.release()
        return True
    return False


def plain_values():
    return {
        "list": [3, 1, 2],
        "dict": {"a": 1, "b": [1]},
        "set": {1, 2},
        "company": Company("ACME", 10, ["x"]),
        "point": Point(1.0, 2.0),
        "general": Plain(a=1),
    }


def put_values(sm):
    """The same values, live in the region (put, then taken off the queue)."""
    values = plain_values()
    values["general"] = ForceGeneralObjectCopy(values["general"])
    with wait_my_turn(sm):
        root = sm.put_message(values)
        sm.take_message()
        return {kind: root[kind] for kind in plain_values()}


def snapshot(kind, value):
    """What a value holds, as plain data (read inside a turn)."""
    if kind in ("list", "dict", "set"):
        return value._copy_out() if hasattr(value, "_copy_out") else value
    if kind == "company":
        return (value.name, value.employees, list(value.tags))
    if kind == "point":
        return (value.x, value.y)
    return {name: getattr(value, name) for name in ("a", "b") if hasattr(value, name)}


# Each operation, as a user would write it outside any block. The C ones are
# one operation each; the ones containers.py and objects.py write over
# several C operations (sort, ==, repr, update, the set algebra, a
# dataclass's ==) run whole in one turn too.
OPERATIONS = {
    "list": [
        lambda l: l[0], lambda l: l[-1], lambda l: l[0:2], lambda l: len(l), lambda l: 2 in l,
        lambda l: l.index(2), lambda l: l.count(1), lambda l: l.append(4),
        lambda l: l.insert(0, 9), lambda l: l.extend([5, 6]), lambda l: l.pop(),
        lambda l: l.remove(1), lambda l: l.reverse(), lambda l: l.clear(),
        lambda l: l.__setitem__(0, "x"), lambda l: l.__delitem__(0),
        lambda l: l.__setitem__(slice(0, 2), [7]), lambda l: l.sort(), lambda l: l == [3, 1, 2],
        lambda l: l < [4], lambda l: repr(l), lambda l: l.copy(), lambda l: l + [0],
        lambda l: [0] + l, lambda l: l * 2, lambda l: l.__iadd__([7]), lambda l: l.__imul__(2),
        lambda l: l.sort(key=lambda x: -x, reverse=True),
    ],
    "dict": [
        lambda d: d["a"], lambda d: d.get("z", 0), lambda d: len(d), lambda d: "a" in d,
        lambda d: d.__setitem__("c", 3), lambda d: d.__delitem__("a"),
        lambda d: d.setdefault("e", 5), lambda d: d.pop("a"), lambda d: d.popitem(),
        lambda d: d.clear(), lambda d: d.update({"x": 1}, y=2), lambda d: d == {"a": 1, "b": [1]},
        lambda d: repr(d), lambda d: d.copy(), lambda d: d | {"z": 0}, lambda d: {"z": 0} | d,
        lambda d: d.__ior__({"q": 1}),
    ],
    "set": [
        lambda s: 1 in s, lambda s: len(s), lambda s: s.add(3), lambda s: s.discard(1),
        lambda s: s.remove(2), lambda s: s.clear(), lambda s: s | {9}, lambda s: {1} & s,
        lambda s: s.union([5]), lambda s: s.issubset({1, 2, 3}), lambda s: s.update([7]),
        lambda s: s.intersection_update({1}), lambda s: s.symmetric_difference_update({2, 8}),
        lambda s: s == {1, 2}, lambda s: s.__isub__({1}), lambda s: repr(s),
    ],
    "company": [
        lambda c: c.employees, lambda c: c.name, lambda c: setattr(c, "employees", 11),
        lambda c: setattr(c, "name", "ACME 2"), lambda c: c == Company("ACME", 10, ["x"]),
        lambda c: c.tags,
    ],
    "point": [lambda p: p.x, lambda p: setattr(p, "y", 5.0), lambda p: p == Point(1.0, 2.0)],
    "general": [lambda g: g.a, lambda g: setattr(g, "b", 2), lambda g: setattr(g, "a", [1])],
}

CASES = [(kind, i) for kind, ops in OPERATIONS.items() for i in range(len(ops))]


@pytest.mark.parametrize("kind, index", CASES, ids=[f"{k}-{i}" for k, i in CASES])
def test_an_operation_outside_a_turn_takes_exactly_one_turn(pair, kind, index):
    sm, other = pair
    op = OPERATIONS[kind][index]
    shared, plain = put_values(sm)[kind], plain_values()[kind]
    before = sm._access_count()
    got = op(shared)
    # One turn, taken and given back: access is free again.
    assert sm._access_count() == before + 1
    assert access_is_free(other)
    expected = op(plain)
    with wait_my_turn(sm):
        if got is shared:
            got = plain  # an in-place operator's result is the object itself
        if kind in ("list", "dict", "set"):
            assert snapshot(kind, got) == snapshot(kind, expected)
        else:
            assert got == expected
        assert snapshot(kind, shared) == snapshot(kind, plain)


def test_inside_a_turn_no_turn_is_taken_or_given_back(pair):
    sm, other = pair
    for kind, ops in OPERATIONS.items():
        for op in ops:
            shared = put_values(sm)[kind]
            with wait_my_turn(sm):
                before = sm._access_count()
                op(shared)
                assert sm._access_count() == before
                assert not access_is_free(other)
    with wait_my_turn(sm):
        sm.check()


def test_iteration_and_methods_take_a_turn_per_step(pair):
    """Iterating, or a method of the user's class, is several operations:
    each takes its own turn, and the result is right."""
    sm, other = pair
    values = put_values(sm)
    assert list(values["list"]) == [3, 1, 2]
    assert sorted(values["dict"].items()) == [("a", 1), ("b", [1])]
    assert set(values["set"]) == {1, 2}
    assert [x for x in reversed(values["list"])] == [2, 1, 3]
    company = values["company"]
    assert company.hire(5) == 15 and company.employees == 15
    assert "ACME" in repr(company) and company.tags == ["x"]
    plain = pickle.loads(pickle.dumps(company))
    assert type(plain) is Company and plain == Company("ACME", 15, ["x"])
    assert access_is_free(other)


def test_an_object_put_inside_a_block_is_usable_after_it(pair):
    """The reference package's own example reads its object after its last
    block; here, in one process."""
    sm, other = pair
    employee = Employee("John Doe", 2, Company("ACME", 10))
    with wait_my_turn(sm):
        mapped = sm.put_message(employee)
    assert mapped is employee  # mapped in place, as the reference does
    employee.increase_years_of_employment()
    employee.company.tags.append("new")
    assert (employee.years_of_employment, employee.company.tags) == (3, ["new"])
    with wait_my_turn(sm):
        taken = sm.take_message()
        assert taken.years_of_employment == 3 and taken.company.tags == ["new"]
    assert access_is_free(other)


def test_a_strict_region_raises_outside_a_turn(region_name):
    with SharedMemory(region_name, create=True, size=MiB, strict=True) as sm:
        values = put_values(sm)
        company, general = values["company"], values["general"]
        actions = [lambda: values["list"][0], lambda: len(values["list"]), lambda: values["list"].append(1),
                   lambda: values["list"].sort(), lambda: values["dict"]["a"], lambda: "a" in values["dict"],
                   lambda: values["dict"] == {}, lambda: 2 in values["set"], lambda: list(values["set"]),
                   lambda: company.employees, lambda: setattr(company, "employees", 1),
                   lambda: company == company, lambda: general.a, lambda: iter(values["dict"])]
        before = sm._access_count()
        for action in actions:
            with pytest.raises(AccessNotHeldError, match="strict"):
                action()
        assert sm._access_count() == before  # nothing took a turn
        # Comparing with what is not a container of the kind answers without
        # looking at the region, so it needs no turn, strict or not.
        assert values["list"] != None and values["dict"] != 5 and values["set"] != "x"  # noqa: E711
        assert values["list"] not in [None, 5] and values["dict"] != [("a", 1)]
        with pytest.raises(TypeError):
            values["list"] + 5
        assert sm._access_count() == before
        with wait_my_turn(sm):
            assert values["list"][0] == 3 and company.employees == 10 and general.a == 1


def test_strict_and_turn_time_limit_are_checked(region_name):
    with pytest.raises(TypeError, match="turn_time_limit"):
        SharedMemory(region_name, create=True, size=MiB, turn_time_limit="soon")
    with pytest.raises(ValueError, match="turn_time_limit"):
        SharedMemory(region_name, create=True, size=MiB, turn_time_limit=-1)
    with pytest.raises(TypeError, match="no_such_option"):
        SharedMemory(region_name, create=True, size=MiB, strict=True, no_such_option=1)
    with SharedMemory(region_name, create=True, size=MiB, strict=0, turn_time_limit=None) as sm:
        values = put_values(sm)
        assert values["list"][0] == 3  # strict=0 is not strict


def test_a_view_of_a_closed_region_raises_instead_of_waiting(region_name):
    sm = SharedMemory(region_name, create=True, size=MiB)
    values = put_values(sm)
    sm.close()
    with pytest.raises(RegionClosedError):
        values["list"][0]
    with pytest.raises(RegionClosedError):
        values["company"].employees


class Calls:
    """Compares (and hashes, and pickles) by calling what it was given:
    code of the user's that an operation runs."""

    def __init__(self, call):
        self.call = call

    def __eq__(self, other):
        self.call()
        return False

    __hash__ = object.__hash__

    def __reduce__(self):
        self.call()
        return (int, (0,))


def test_release_or_close_from_inside_an_operation_is_refused(pair):
    sm, other = pair
    values = put_values(sm)
    shared = values["list"]
    # Outside a turn: the operation's own turn is not released under it, and
    # is given back when the refused operation ends.
    with pytest.raises(RuntimeError, match="cannot release"):
        Calls(sm.release) in shared
    assert access_is_free(other)
    with pytest.raises(RuntimeError, match="cannot close"):
        Calls(sm.close) in shared
    assert not sm.closed and access_is_free(other)
    with pytest.raises(RuntimeError, match="cannot release"):
        shared.sort(key=lambda item: sm.release())
    assert access_is_free(other)
    # Inside a block: the block keeps its turn, and nothing was queued by
    # the put whose encoding tried to release.
    with wait_my_turn(sm):
        with pytest.raises(RuntimeError, match="cannot release"):
            Calls(sm.release) in shared
        with pytest.raises(TypeError, match="cannot release"):  # pickling it failed
            sm.put_message(Calls(sm.release))
        assert sm.is_in_line() and not sm.has_messages()
        assert shared[0] == 3
    assert access_is_free(other)


def test_a_block_keeps_other_threads_operations_out(pair):
    """A turn is a thread's: another thread's operation waits for a turn of
    its own, so it sees the block's last write and never one in between."""
    sm, other = pair
    shared = put_values(sm)["list"]
    results = []
    with wait_my_turn(sm):
        shared[0] = "first write"
        t = threading.Thread(target=lambda: results.append(shared[0]))
        t.start()
        t.join(0.2)  # bounded: a thread that shared this turn would be done
        assert t.is_alive() and results == []
        shared[0] = "last write"
    t.join(30)
    assert results == ["last write"]
    assert access_is_free(other)


def test_a_turn_taken_for_an_operation_is_not_shared_with_other_threads(pair):
    """Thread A's operation (outside a block) runs code of the user's in the
    turn it took; thread B's operation meanwhile waits for its own turn
    instead of running in A's and losing it when A's ends."""
    sm, other = pair
    shared = put_values(sm)["list"]
    inside, go_on = threading.Event(), threading.Event()

    def wait_inside():
        inside.set()
        assert go_on.wait(30)

    results = []
    a = threading.Thread(target=lambda: results.append(("a", Calls(wait_inside) in shared)))
    a.start()
    assert inside.wait(30)
    b = threading.Thread(target=lambda: results.append(("b", shared[0])))
    b.start()
    b.join(0.2)  # bounded: B running in A's turn would be done
    assert b.is_alive() and results == []
    go_on.set()
    a.join(30)
    b.join(30)
    assert sorted(results) == [("a", False), ("b", 3)]
    assert access_is_free(other)


def test_an_operation_waits_for_the_holder_and_sees_its_last_write(spawn, region_name):
    with SharedMemory(region_name, create=True, size=MiB, spin_budget=0) as sm:
        with wait_my_turn(sm):
            shared = sm.put_message(["not written yet"])
        ready, done = spawn.Queue(), spawn.Queue()
        p = spawn.Process(target=turn_workers.hold_until_waited_for_then_write,
                          args=(region_name, ready, done))
        p.start()
        assert get(ready) == "holding"
        # The peer holds access until this read sleeps waiting for it; its
        # last write before releasing is what the read sees.
        assert shared[0] == "written at the end of the holder's turn"
        assert get(done) == "released"
        join_all([p], timeout=30)
        with wait_my_turn(sm):
            sm.check()


def test_the_wait_is_bounded_by_the_turn_time_limit(spawn, region_name):
    with SharedMemory(region_name, create=True, size=MiB, turn_time_limit=0.2) as sm:
        with wait_my_turn(sm):
            shared = sm.put_message([1])
        commands, replies = spawn.Queue(), spawn.Queue()
        p = spawn.Process(target=workers.peer_on_command, args=(region_name, commands, replies))
        p.start()
        try:
            assert get(replies) == "ready"
            commands.put("hold")
            assert get(replies) == "holding"
            start = time.monotonic()
            with pytest.raises(OperationTimedOutError, match=r"not granted within 0.2 s.*turn_time_limit"):
                shared[0]
            assert 0.2 <= time.monotonic() - start < 10
            commands.put("release")
            assert get(replies) == "released"
            assert shared[0] == 1  # the peer released: the next turn is granted
        finally:
            commands.put("stop")
            join_all([p], timeout=30)


def test_the_wait_is_interruptible(spawn, region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        with wait_my_turn(sm):
            sm.put_message(["value"])
        ready, go, results = spawn.Queue(), spawn.Queue(), spawn.Queue()
        p = spawn.Process(target=turn_workers.read_outside_a_turn_until_interrupted,
                          args=(region_name, ready, go, results))
        p.start()
        pid = get(ready)
        with wait_my_turn(sm):  # held while the worker's read waits for it
            go.put("go")
            until(lambda: sm.stats()["sleepers"] == 1)
            os.kill(pid, signal.SIGINT)
            assert get(results, timeout=10) == "KeyboardInterrupt"
        assert get(results) == ("turn after the interrupt", "value")
        join_all([p], timeout=30)


def test_operations_outside_a_turn_and_blocks_of_two_processes_lose_nothing(spawn, region_name):
    rounds = 300
    with SharedMemory(region_name, create=True, size=4 * MiB) as sm:
        with wait_my_turn(sm):
            shared = sm.put_message([0])
        results = spawn.Queue()
        p = spawn.Process(target=turn_workers.change_outside_a_turn, args=(region_name, rounds, results))
        p.start()
        for _ in range(rounds):
            shared.append(1)
            with wait_my_turn(sm):
                shared[0] += 1
        assert get(results) == "done"
        join_all([p], timeout=30)
        assert len(shared) == 1 + 2 * rounds and shared[0] == 2 * rounds
        with wait_my_turn(sm):
            sm.check()


def test_an_event_loops_waiter_and_an_operation_outside_a_turn(spawn, region_name):
    """The asyncio manager's waiter sleeps for access in the same thread that
    then uses an object outside a turn: the release rings the waiter, older
    in line, but the loop's thread is busy in the operation; the operation
    gets the turn, and the waiter the next one. No ring is lost."""
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        with wait_my_turn(sm):
            shared = sm.put_message(["not written yet"])
        ready, done = spawn.Queue(), spawn.Queue()
        p = spawn.Process(target=turn_workers.hold_until_waited_for_then_write,
                          args=(region_name, ready, done, 2))
        p.start()
        assert get(ready) == "holding"
        waiter = _ipo.Waiter(sm)
        assert waiter.start(_ipo.WAIT_FOR_ACCESS, 0, 0.0) == _ipo.WAIT_SLEEP
        assert shared[0] == "written at the end of the holder's turn"
        assert get(done) == "released"
        deadline = time.monotonic() + 30
        step = _ipo.WAIT_SLEEP
        while step != _ipo.WAIT_HELD:
            assert time.monotonic() < deadline, "the waiter never got its turn"
            if select.select(list(waiter.fds), [], [], 1.0)[0]:
                step = waiter.readable()
        assert shared[0] == "written at the end of the holder's turn"  # in the waiter's turn
        sm.release()
        join_all([p], timeout=30)

"""Objects stored pickled (what the format cannot describe but pickle can),
what cannot be stored at all, and the trust rule for unpickling and for
classes a region names."""

import collections
import copyreg
import dataclasses
import decimal
import enum
import re
import threading
import types
from fractions import Fraction

import pytest

import codec_workers
from conftest import join_all
from ipc_py_objects import (
    RegionPermissionError,
    SharedMemory,
    UnknownClassError,
    UntrustedRegionError,
    wait_my_turn,
)

MiB = 1024 * 1024

Point = collections.namedtuple("Point", "x y")


class Celsius:
    """Says how it is rebuilt: pickled, never projected."""

    def __init__(self, degrees):
        self.degrees = degrees
        self.rebuilt = False

    def __reduce__(self):
        return (_celsius, (self.degrees,))

    def __eq__(self, other):
        return type(other) is Celsius and other.degrees == self.degrees


def _celsius(degrees):
    value = Celsius(degrees)
    value.rebuilt = True
    return value


class Registered:
    """Pickled through a copyreg entry rather than a method of its own."""

    def __init__(self, tag):
        self.tag = tag


copyreg.pickle(Registered, lambda r: (Registered, (r.tag,)))


class Shouty(str):
    pass


class Big(int):
    pass


@dataclasses.dataclass
class Reading:
    sensor: str
    ratio: Fraction
    where: Point


class Refusing:
    def __reduce__(self):
        raise RuntimeError("not today")


@pytest.fixture
def sm(region_name):
    region = SharedMemory(region_name, create=True, size=8 * MiB)
    yield region
    region.close()


def same(a, b):
    if isinstance(a, BaseException):
        return type(a) is type(b) and a.args == b.args
    if isinstance(a, re.Pattern):
        return type(b) is re.Pattern and (a.pattern, a.flags) == (b.pattern, b.flags)
    if isinstance(a, decimal.Context):
        return type(b) is decimal.Context and repr(a) == repr(b)
    return type(a) is type(b) and a == b


PICKLED = [
    Point(1, "two"),
    types.SimpleNamespace(a=1, b=[2, 3]),
    ValueError("bad", 2),
    range(1, 10, 3),
    Fraction(3, 7),
    Celsius(21.5),
    Shouty("hi"),
    Big(2**80),
    decimal.Context(prec=5),
    re.compile(r"a+b", re.I),
    len,
    int,
]


@pytest.mark.parametrize("value", PICKLED, ids=lambda v: type(v).__name__)
def test_what_pickles_comes_back_as_a_copy_and_frees_whole(sm, value):
    with wait_my_turn(sm):
        before = sm.stats()
        assert sm.put_message(value) is value  # a copy went in: put returns the object itself
        got, offset = sm.take_message_2()
        assert same(value, got)
        sm.destroy_obj(offset)
        after = sm.stats()
        assert (after["used_blocks"], after["free_bytes"]) == (before["used_blocks"], before["free_bytes"])
        sm.check()


def test_a_class_that_rebuilds_itself_is_pickled_not_projected(sm):
    value, registered = Celsius(3), Registered("x")
    with wait_my_turn(sm):
        sm.put_message(value)
        sm.put_message(registered)
        assert type(value) is Celsius and vars(value) == {"degrees": 3, "rebuilt": False}
        got = sm.take_message()
        assert got.rebuilt and got == value  # made by its own __reduce__
        assert type(sm.take_message()) is Registered and type(registered) is Registered


def test_pickled_items_of_live_containers_are_copies(sm):
    with wait_my_turn(sm):
        shared = sm.put_message([Point(1, 2), types.SimpleNamespace(v=1), Fraction(1, 3)])
        assert shared[0] == Point(1, 2) and type(shared[0]) is Point
        shared[1].v = 99  # changes the copy in hand, not the shared item
        assert shared[1].v == 1
        shared[2] = Fraction(2, 3)
        shared.append(range(4))
        assert shared[2] == Fraction(2, 3) and shared[3] == range(4)
        reading = sm.put_message(Reading("t", Fraction(5, 2), Point(0, 1)))
        assert type(reading).__mro__[1] is Reading  # projected; its fields pickled
        reading.ratio += 1
        assert reading.ratio == Fraction(7, 2) and reading.where == Point(0, 1)
        assert sm.take_message()[3] == range(4)
        copy = sm.take_message()
        assert copy.ratio == Fraction(7, 2) and copy.where.y == 1
        sm.check()


@pytest.mark.parametrize("value, named", [
    (threading.Lock(), "_thread.lock"),
    ((i for i in range(2)), "generator"),
    (types, "module"),
    (Refusing(), "Refusing"),
    ([1, {"k": threading.RLock()}], "_thread.RLock"),
], ids=["lock", "generator", "module", "reduce-raises", "nested"])
def test_what_cannot_be_stored_raises_type_error_naming_it(sm, value, named):
    with wait_my_turn(sm):
        before = sm.stats()
        with pytest.raises(TypeError, match=f"cannot put an object of type '[^']*{re.escape(named)}'") as info:
            sm.put_message(value)
        assert "acceptable base type" not in str(info.value)
        after = sm.stats()
        assert after["messages"] == 0 and after["used_blocks"] == before["used_blocks"]
        sm.check()


def test_a_reduce_that_raises_is_the_cause(sm):
    with wait_my_turn(sm):
        with pytest.raises(TypeError) as info:
            sm.put_message(Refusing())
        assert isinstance(info.value.__cause__, RuntimeError)


def test_the_region_itself_cannot_be_put(sm):
    with wait_my_turn(sm):
        for value in (sm, [1, sm], Point(sm, 1)):
            with pytest.raises(TypeError, match="region handle|SharedMemory"):
                sm.put_message(value)
        assert not sm.has_messages() and sm.stats()["used_blocks"] == 1
        sm.check()


# ---- trust ---------------------------------------------------------------------------------


def test_a_region_others_can_write_is_not_unpickled(region_name):
    shared = SharedMemory(region_name, create=True, size=4 * MiB, mode=0o660)
    trusting = SharedMemory(region_name, mode=0o660, trust=True)
    try:
        trusting.init_consumer(10)
        with wait_my_turn(shared):
            shared.put_message(Point(1, 2))
            listed = shared.put_message([Fraction(1, 2), 7])
            for read in (shared.take_message, shared.read_message, shared.pop_message):
                with pytest.raises(UntrustedRegionError, match="trust=True") as info:
                    read()
                assert isinstance(info.value, RegionPermissionError)
                assert any("discard_message()" in note for note in info.value.__notes__)
            assert shared.stats()["messages"] == 2  # both still queued
            with pytest.raises(UntrustedRegionError):
                listed[0]
            assert listed[1] == 7  # what needs no trust reads as ever
        with wait_my_turn(trusting):
            assert trusting.take_message() == Point(1, 2)
            assert trusting.take_message()[0] == Fraction(1, 2)
    finally:
        trusting.close()
        shared.close()


def run_taker(spawn, name, trust):
    results = spawn.Queue()
    taker = spawn.Process(target=codec_workers.take_one, args=(name, trust, results))
    taker.start()
    try:
        return results.get(timeout=60)
    finally:
        join_all([taker], 60)


def test_an_untrusted_region_names_no_class_this_process_does_not_know(spawn, region_name):
    shared = SharedMemory(region_name, create=True, size=4 * MiB, mode=0o660)
    try:
        results = spawn.Queue()
        child = spawn.Process(target=codec_workers.put_foreign, args=(region_name, 0o660, results))
        child.start()
        assert results.get(timeout=60) == "done"
        join_all([child], 60)
        with wait_my_turn(shared):
            with pytest.raises(UntrustedRegionError, match="import class 'foreign_types.Gadget'"):
                shared.take_message()
            shared.discard_message()
            with pytest.raises(UntrustedRegionError, match="import class 'foreign_types.Shade'"):
                shared.take_message()
            shared.discard_message()
            assert shared.take_message() == "after"
        # Trusted, the same classes are imported.
        trusting = SharedMemory(region_name, mode=0o660, trust=True)
        trusting.init_consumer(10)
        child = spawn.Process(target=codec_workers.put_foreign, args=(region_name, 0o660, results))
        child.start()
        assert results.get(timeout=60) == "done"
        join_all([child], 60)
        with wait_my_turn(trusting):
            gadget = trusting.take_message()
            assert type(gadget).__name__ == "Gadget" and gadget.weight == 1.5
            assert trusting.take_message().name == "dark"
            assert trusting.take_message() == "after"
        trusting.close()
        # Known here now, the classes can be named by any region.
        child = spawn.Process(target=codec_workers.put_foreign, args=(region_name, 0o660, results))
        child.start()
        assert results.get(timeout=60) == "done"
        join_all([child], 60)
        with wait_my_turn(shared):
            assert shared.take_message().name == "lamp"
            assert shared.take_message().name == "dark"
    finally:
        shared.close()


def test_another_process_of_this_user_reads_pickles(spawn, region_name):
    with SharedMemory(region_name, create=True, size=4 * MiB) as sm:  # mode 0o600: trusted
        with wait_my_turn(sm):
            sm.put_message([Fraction(1, 3), Point(1, "two")])
        assert run_taker(spawn, region_name, False) == ("ok", "[Fraction(1, 3), Point(x=1, y='two')]")


def test_a_class_a_region_names_is_never_called_on_its_say_so(spawn, region_name):
    class Disguised(enum.Enum):
        member = "ls"

    class InC:
        pass

    # Classes that give themselves the names of classes a reader imports:
    # the reader must not call subprocess.Popen("ls"), nor make a lock.
    Disguised.__module__, Disguised.__qualname__ = "subprocess", "Popen"
    InC.__module__, InC.__qualname__ = "_thread", "LockType"
    with SharedMemory(region_name, create=True, size=4 * MiB) as sm:
        with wait_my_turn(sm):
            sm.put_message(Disguised.member)
        assert run_taker(spawn, region_name, False) == (
            "UnknownClassError",
            "a shared enum member names class 'subprocess.Popen', which is not an enum: refusing to call it")
        with wait_my_turn(sm):
            assert sm.stats()["messages"] == 1  # left for a process that can read it, as this one
            assert sm.take_message() is Disguised.member
            sm.put_message(InC())
        kind, text = run_taker(spawn, region_name, False)
        assert kind == "UnknownClassError" and "'_thread.lock', which is not a class written in Python" in text


def test_unknown_class_error_is_a_type_error():
    assert issubclass(UnknownClassError, TypeError)

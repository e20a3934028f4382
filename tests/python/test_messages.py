"""The queue never wedges: a put that fails leaves nothing queued, whatever
failed; a message that cannot be read here stays for a process that can,
and discard_message() removes it unread."""

import dataclasses
import threading
from collections.abc import Mapping

import pytest

import codec_workers
from conftest import join_all
from ipc_py_objects import (
    FreeMemoryChunkNotFoundError,
    ForceStaticObjectCopy,
    NoMessagesInQueueError,
    SharedMemory,
    UnknownClassError,
    wait_my_turn,
)

MiB = 1024 * 1024


class RefusesGeneratedSubclasses:
    """A base that refuses the classes the codec derives from its subclasses
    (a metaclass or __init_subclass__ with rules of its own)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__ipo_user_class__" in cls.__dict__:
            raise RuntimeError("no generated subclasses here")


@dataclasses.dataclass
class Plain:
    v: int


@dataclasses.dataclass
class Picky(RefusesGeneratedSubclasses):
    v: int


class BrokenMapping(Mapping):
    def __getitem__(self, key):
        raise KeyError(key)

    def __len__(self):
        return 1

    def __iter__(self):
        raise ValueError("cannot list my keys")


class BrokenReduce:
    def __reduce__(self):
        raise RuntimeError("not today")


@pytest.fixture
def sm(region_name):
    region = SharedMemory(region_name, create=True, size=4 * MiB)
    yield region
    region.close()


def snapshot(sm):
    s = sm.stats()
    return s["messages"], s["used_blocks"], s["free_bytes"]


FAILING_PUTS = [
    pytest.param(lambda: threading.Lock(), TypeError, id="type"),
    pytest.param(lambda: [1, "two", {"k": threading.Lock()}], TypeError, id="type-nested"),
    pytest.param(lambda: b"x" * (8 * MiB), FreeMemoryChunkNotFoundError, id="size"),
    pytest.param(lambda: [b"y" * MiB for _ in range(8)], FreeMemoryChunkNotFoundError, id="size-halfway"),
    pytest.param(lambda: BrokenMapping(), ValueError, id="hook-iter"),
    pytest.param(lambda: [Plain(1), BrokenReduce()], TypeError, id="hook-reduce"),
    # Made at encode time: the class the object would take in place.
    pytest.param(lambda: Picky(1), RuntimeError, id="hook-class-in-place"),
    # Made after encoding, for the object put returns (the cause of the old
    # "raises yet queues" bug): it must fail the put all the same.
    pytest.param(lambda: ForceStaticObjectCopy(Picky(2)), RuntimeError, id="hook-class-copy"),
]


@pytest.mark.parametrize("make, error", FAILING_PUTS)
@pytest.mark.parametrize("put", ["put_message", "put_message_2"])
def test_a_failed_put_leaves_the_queue_and_region_unchanged(sm, make, error, put):
    with wait_my_turn(sm):
        sm.put_message("first")
        before = snapshot(sm)
        value = make()
        with pytest.raises(error):
            getattr(sm, put)(value)
        assert snapshot(sm) == before
        sm.check()
        # The queue goes on as if the put had never been tried.
        sm.put_message("second")
        assert [sm.take_message(), sm.take_message()] == ["first", "second"]
        assert not sm.has_messages()


def test_a_failed_put_leaves_every_object_as_it_was(sm):
    """Objects a put would map in place are mapped only once it succeeds."""
    first, last = Plain(1), Picky(3)
    with wait_my_turn(sm):
        with pytest.raises(RuntimeError):
            sm.put_message([first, last])
        assert type(first) is Plain and vars(first) == {"v": 1}
        assert type(last) is Picky and vars(last) == {"v": 3}
        assert not sm.has_messages()
        mapped = sm.put_message([first])
        assert mapped[0].v == 1 and type(first) is not Plain  # now it is mapped


class PutsWhilePickled:
    """A __reduce__ that puts messages of its own, more than the queue's
    first ring holds, while the outer put is under way."""

    def __init__(self, sm, count):
        self.sm, self.count = sm, count

    def __reduce__(self):
        for i in range(self.count):
            self.sm.put_message(i)
        return (int, (-1,))


def test_a_put_inside_a_put_keeps_both_whole(sm):
    with wait_my_turn(sm):
        sm.put_message(PutsWhilePickled(sm, 100))
        assert [sm.take_message() for _ in range(101)] == [*range(100), -1]
        assert not sm.has_messages()
        sm.check()


def test_mapping_in_place_is_all_or_nothing():
    """The adopt hook, given objects to map where a later one fails, leaves
    the earlier ones as they were (a store or put that fails that late
    changes nothing either)."""
    from ipc_py_objects import objects

    class Slots:
        __slots__ = ("a", "b")

        def __init__(self):
            self.a, self.b = 1, 2

    plain, slotted, picky = Plain(1), Slots(), Picky(2)
    link = object()  # stands for the view of the shared fields; never read here
    with pytest.raises(RuntimeError):
        objects.adopt([(plain, link, ("v",), 0), (slotted, link, ("a", "b"), 0), (picky, link, ("v",), 0)])
    assert type(plain) is Plain and vars(plain) == {"v": 1}
    assert type(slotted) is Slots and (slotted.a, slotted.b) == (1, 2)
    assert type(picky) is Picky and vars(picky) == {"v": 2}


def test_discard_message_frees_the_whole_tree_unread(sm):
    with wait_my_turn(sm):
        before = snapshot(sm)
        sm.put_message({"a": [1, (2, b"x" * 1000)], "b": Plain(4), "c": {1, 2}})
        sm.put_message("next")
        assert sm.discard_message() is None
        got, offset = sm.take_message_2()
        assert got == "next"
        sm.destroy_obj(offset)
        assert snapshot(sm) == before
        sm.check()


def test_discard_message_on_an_empty_queue_raises(sm):
    with wait_my_turn(sm):
        with pytest.raises(NoMessagesInQueueError, match="no message to discard"):
            sm.discard_message()
        assert snapshot(sm)[0] == 0


def test_discard_message_leaves_blocks_a_buffer_shows(sm):
    """A block under a live buffer is never freed: discarding its message
    leaves it in place, as removing it from a container does."""
    with wait_my_turn(sm):
        base = snapshot(sm)
        _, offset = sm.put_message_2(b"z" * 5000)
        buffer = sm.get_obj_buffer(offset)
        sm.discard_message()
        assert not sm.has_messages() and bytes(buffer[:3]) == b"zzz"
        sm.check()
        buffer.release()
        sm.destroy_obj(offset)  # whoever held the buffer can free it then
        assert snapshot(sm) == base


def test_a_message_that_cannot_be_read_here_stays_until_discarded(spawn, region_name, tmp_path):
    with SharedMemory(region_name, create=True, size=4 * MiB) as sm:
        with wait_my_turn(sm):
            base = snapshot(sm)
        results = spawn.Queue()
        child = spawn.Process(target=codec_workers.put_unreadable, args=(region_name, str(tmp_path), results))
        child.start()
        module = results.get(timeout=60)
        join_all([child], 60)
        with wait_my_turn(sm):
            # A dataclass from a module only the child could import; then a
            # pickle of such a class; then an object of a class local to a
            # function; then a list holding one. Each raises, every time, and
            # stays; discarding it moves on to the next.
            queued = 5
            for name in (f"{module}.Probe", module, "put_unreadable.<locals>.Local"):
                for read in (sm.read_message, sm.take_message, sm.take_message_2, sm.pop_message):
                    with pytest.raises(UnknownClassError, match=name) as info:
                        read()
                    assert any("stays queued" in note for note in info.value.__notes__)
                assert sm.stats()["messages"] == queued
                sm.discard_message()
                queued -= 1
            listed, offset = sm.take_message_2()  # the list itself reads; its item does not
            with pytest.raises(UnknownClassError, match=module):
                listed[0]
            sm.destroy_obj(offset)
            after, offset = sm.take_message_2()
            assert after == "after"
            sm.destroy_obj(offset)
            assert snapshot(sm) == base
            sm.check()


def test_leaf_messages_come_back_as_themselves_and_as_stored(sm):
    """bytes, str, int and float take put's short way (messages.c,
    put_leaf): the put gives the object itself, the read an equal copy, and
    a full queue or region refuses the put as the general way does."""
    values = [b"", b"\x00ping" * 20, "", "ascii", "ünïcödé \U0001f600", "\ud800", 0, -5, 2**80, -(2**70),
              1.5, float("inf"), True, None]
    with wait_my_turn(sm):
        for v in values:
            assert sm.put_message(v) is v
            got, offset = sm.put_message_2(v)
            assert got is v and isinstance(offset, int)
        for v in values:
            for _ in range(2):
                got, offset = sm.take_message_2()
                assert type(got) is type(v) and got == v
                sm.destroy_obj(offset)
        assert not sm.has_messages()
        sm.check()


@pytest.mark.parametrize("what", ["release", "close"])
def test_a_leaf_put_cannot_be_released_or_closed_under_it(region_name, what):
    """put_message_2 of a leaf makes its (object, offset) pair between the
    block and the queueing; a collection the pair's allocation starts runs
    finalizers, and one that releases or closes the region must be refused
    there, as during any put: else the message is queued without access, or
    into an unmapped region (a crash). Run in a process of its own."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import gc
        from ipc_py_objects import SharedMemory
        sm = SharedMemory({region_name!r}, create=True, size=4 * 1024 * 1024)
        seen = []
        class Finalizer:
            def __del__(self):
                try:
                    sm.{what}()
                    seen.append("done")
                except RuntimeError:
                    seen.append("refused")
        sm.wait_my_turn()
        a = Finalizer(); a.me = a; del a      # garbage for the next collection
        gc.disable()
        keep = [(i, -i) for i in range(5000)]  # no 2-tuple left in CPython's free list
        gc.set_threshold(1)
        more = [[] for _ in range(3)]
        gc.enable()                            # the pair's tuple starts a collection
        obj, offset = sm.put_message_2(b"x")
        gc.set_threshold(700)
        assert seen == ["refused"], seen
        assert sm.is_in_line()
        assert sm.take_message() == b"x"
        sm.check()
        sm.close()
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]

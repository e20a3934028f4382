"""SharedMemory gets the Region's methods as descriptors of its own
(region_type.c, __init_subclass__), so that CPython calls them without a
subtype check. A user's subclass of it is an ordinary Python class: it
looks them up in SharedMemory, keeps what it and the classes between define,
and passes __init_subclass__ on along its MRO."""

import pytest

from ipc_py_objects import SharedMemory, _ipo, wait_my_turn

MiB = 1024 * 1024


def test_shared_memory_has_the_regions_methods_as_its_own():
    for name in ("put_message", "take_message_2", "destroy_obj", "release", "has_messages"):
        method = SharedMemory.__dict__[name]
        assert method.__objclass__ is SharedMemory
        assert method.__doc__ == getattr(_ipo.Region, name).__doc__


def test_a_subclass_keeps_what_it_and_the_classes_between_define(region_name):
    class Counting(SharedMemory):
        puts = 0

        def put_message(self, obj):
            Counting.puts += 1
            return super().put_message(obj)

    class Below(Counting):
        pass

    assert "take_message" not in Below.__dict__
    assert "put_message" not in Below.__dict__
    with Below(region_name, create=True, size=4 * MiB) as sm:
        with wait_my_turn(sm):
            sm.put_message("x")
            assert sm.take_message() == "x"
    assert Counting.puts == 1


def test_class_keywords_are_refused():
    with pytest.raises(TypeError):
        class Odd(SharedMemory, flavour=1):  # noqa: F841
            pass


def test_a_mixins_init_subclass_still_runs():
    """Region.__init_subclass__ passes the class on, as object's would: a
    mixin after SharedMemory in the bases sees the class and its keywords
    (a registry, a plugin base), as it did when SharedMemory had none."""
    seen = []

    class Registered:
        def __init_subclass__(cls, tag=None, **kwargs):
            super().__init_subclass__(**kwargs)
            seen.append((cls.__name__, tag))

    class Plain(SharedMemory, Registered):  # noqa: F841
        pass

    class Tagged(SharedMemory, Registered, tag="t"):  # noqa: F841
        pass

    assert seen == [("Plain", None), ("Tagged", "t")]


def test_a_method_patched_on_shared_memory_reaches_its_subclasses(region_name, monkeypatch):
    """A user's subclass looks SharedMemory's methods up, as on any Python
    class: a method replaced on SharedMemory (a spy, a mock, an
    instrumentation) is the one a subclass's instance calls."""
    class Mine(SharedMemory):
        pass

    calls = []
    original = SharedMemory.put_message

    def spy(self, obj):
        calls.append(obj)
        return original(self, obj)

    monkeypatch.setattr(SharedMemory, "put_message", spy)
    with Mine(region_name, create=True, size=4 * MiB) as sm:
        with wait_my_turn(sm):
            sm.put_message("x")
            assert sm.take_message() == "x"
    assert calls == ["x"]

"""A subclass of the Region (SharedMemory, and a user's subclass of it) gets
the Region's methods as descriptors of its own (region_type.c,
__init_subclass__), so that CPython calls them without a subtype check:
what a class between defines itself stays its own."""

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

    assert Below.__dict__["take_message"].__objclass__ is Below
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

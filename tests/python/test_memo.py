"""A field's value read once and handed out again (python/src/memo.c): the
same object while the field holds the same block, never a stale one after
another process, another instance or a destroy changed it."""

import os
import subprocess
import sys

import pytest

from ipc_py_objects import ForceStaticObjectCopy, InvalidOffsetError, SharedMemory, wait_my_turn
from shared_types import Company, Employee

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = 30


def test_a_field_read_again_is_the_same_object(held):
    held.put_message(Employee("ann", 3, Company("acme", 10, ["t"])))
    e = held.take_message()
    assert e.company is e.company  # one instance, not a new one per access
    assert e.company.tags is e.company.tags
    assert e.name is e.name
    name = "ann" + "é" * 3
    e.name = name
    assert e.name is name  # a store's next read gives back the stored str
    e.name = name  # stored over itself: nothing to write
    assert e.name is name
    big = 10**6 + 1
    e.years_of_employment = big
    assert e.years_of_employment is big  # a store's next read gives back the int stored
    e.years_of_employment += 1
    assert e.years_of_employment == 10**6 + 2 and e.years_of_employment is e.years_of_employment
    e.years_of_employment = 7  # a small int: CPython's own
    assert e.years_of_employment == 7
    e.years_of_employment = 1.5
    assert e.years_of_employment is e.years_of_employment
    e.years_of_employment = -0.0
    assert str(e.years_of_employment) == "-0.0"  # other bits than the memo's 1.5
    e.company = ("cd", 1, 2.5, ("z", None))
    assert e.company is e.company and e.company == ("cd", 1, 2.5, ("z", None))


def test_a_change_through_another_instance_is_seen(held):
    """Two instances of one block keep a memo each: a change made through
    one is read by the other, which checks the slot, not its memo alone."""
    mapped, offset = held.put_message_2(ForceStaticObjectCopy(Employee("ann", 3, Company("acme", 10))))
    a = held.read_message()
    b = held.take_message()
    assert a is not b and a.company is a.company and a.name == b.name == "ann"
    company = a.company
    b.company = Company("globex", 1)
    assert a.company is not company and a.company.name == "globex"
    with pytest.raises(InvalidOffsetError):
        company.name  # noqa: B018  (its block was freed when the field was replaced)
    b.name = None
    b.name = "bob"  # perhaps on the freed block's offset, with a newer generation
    assert a.name == "bob"
    b.company = None
    b.company = Company("initech", 2)
    assert a.company.name == "initech"
    held.destroy_obj(offset)
    with pytest.raises(InvalidOffsetError):
        a.name  # noqa: B018  (destroyed: the object's own check comes before any memo)


def test_bytes_are_read_anew(held):
    """A bytes payload can change in place (a writable get_obj_buffer), so
    bytes, and tuples that hold them, are never kept."""
    held.put_message(Employee("e", 1, (b"ab", "x")))
    e = held.take_message()
    assert e.company == (b"ab", "x") and e.company is not e.company
    e.name = b"cd"
    assert e.name == b"cd" and e.name is not e.name


def test_an_equal_str_or_tuple_stored_again_writes_nothing(held):
    """A str or tuple equal to the one a slot holds, stored again, leaves
    the slot's block in place (a memo of it still answers); anything that
    would encode otherwise is written: 1, True and 1.0, 0.0 and -0.0 are
    not taken for each other, nor are a str and bytes, or tuples of them."""
    held.put_message(Employee("ann", 3, ("cd", 1, 2.5, ("z", None), True)))
    e = held.take_message()
    kept = e.company
    e.company = ("c" + "d", 1, 2.5, ("z", None), True)  # equal, another object
    assert e.company is kept  # the same block: its memo still answers
    name = e.name
    e.name = "".join(["a", "nn"])
    assert e.name is name
    for other in [("cd", True, 2.5, ("z", None), True), ("cd", 1.0, 2.5, ("z", None), True),
                  ("cd", 1, 2.5, ("z", None), 1), ("cd", 1, 2.5, ("z",), True),
                  ("cd", 1, 2.5, ("z", None, None), True), (b"cd", 1, 2.5, ("z", None), True),
                  ("cé", 1, 2.5, ("z", None), True), ("cd", 1, 2.5, ["z", None], True)]:
        e.company = other
        got = e.company
        assert got == other, other
        # Each element of the type stored; a list in a tuple is read as a live list.
        assert [type(x) for x in got[:3] + got[4:]] == [type(x) for x in other[:3] + other[4:]], other
        assert type(got[3]) is tuple if isinstance(other[3], tuple) else hasattr(got[3], "append")
    e.company = (0.0,)
    zero = e.company
    e.company = (-0.0,)
    assert e.company is not zero and str(e.company[0]) == "-0.0"
    e.company = ()
    empty = e.company
    e.company = ()
    assert e.company is empty


def test_an_equal_item_stored_again_keeps_its_value(held):
    """Lists and dicts skip the same stores; what they read back is the
    value stored, of the types stored."""
    holder = held.put_message({"t": ("a", 1), "l": [("a", 1), "x", ()]})
    held.take_message()
    cases = [("a", 1), ("a", True), ("a", 1.0), ("a",), (), "x", "y", ("a", 1)]
    for value in cases:
        holder["t"] = value
        holder["l"][0] = value
        for got in (holder["t"], holder["l"][0]):
            assert got == value and type(got) is type(value)
            if isinstance(value, tuple):
                assert [type(x) for x in got] == [type(x) for x in value]
    holder["l"][2] = ()
    assert holder["l"][2] == ()
    held.check()


def worker(region):
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "memo_workers", region], env=env, cwd=HERE,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_another_process_changes_are_never_hidden_by_a_memo(region_name):
    sm = SharedMemory(region_name, create=True, size=16 * 1024 * 1024)
    child = worker(region_name)
    try:
        def order(what):
            child.stdin.write(what + "\n")
            child.stdin.flush()
            answer = child.stdout.readline()
            assert answer == "done\n", child.stderr.read()

        assert sm.wait_consumer_ready(LIMIT)
        with wait_my_turn(sm, LIMIT):
            sm.put_message(ForceStaticObjectCopy(Employee("ann", 3, Company("acme", 10, ["t"]))))
            e = sm.read_message()
        order("take")

        def read():
            with wait_my_turn(sm, LIMIT):
                # Each read twice: the second comes from the memo the first made.
                first = (e.name, e.company, e.company.name, e.years_of_employment, e.company.employees)
                again = (e.name, e.company, e.company.name, e.years_of_employment, e.company.employees)
                assert all(x is y for x, y in zip(first, again))
                return first

        name, company, company_name, years, employees = read()
        assert (name, company_name, years, employees) == ("ann", "acme", 3, 10)
        order("new strings")
        name, company2, company_name, *_ = read()
        assert (name, company_name) == ("bob", "globex") and company2 is company
        order("strings again")
        name, _, company_name, *_ = read()
        assert (name, company_name) == ("eve", "umbrella")
        order("new company")
        _, company3, company_name, *_ = read()
        assert company3 is not company and company_name == "initech"
        with wait_my_turn(sm, LIMIT):
            assert company3.tags == ["x"]
            with pytest.raises(InvalidOffsetError):
                company.name  # noqa: B018  (the instance of the block the other process freed)
        order("numbers")
        *_, years, employees = read()
        assert (years, employees) == (2.5, 1.25)
        with wait_my_turn(sm, LIMIT):
            e.company = ("t", 1)
            kept = e.company
        order("equal tuple")  # stored again by the other process: nothing written
        with wait_my_turn(sm, LIMIT):
            assert e.company is kept
        order("other tuple")
        with wait_my_turn(sm, LIMIT):
            assert e.company == ("t", True) and e.company[1] is True
            e.years_of_employment = 10**6
            assert e.years_of_employment == 10**6  # kept: the int just stored
        order("big int")
        with wait_my_turn(sm, LIMIT):
            assert e.years_of_employment == 10**6 + 7
        # A str item is kept by its block: the same object while the block
        # holds, never once another process stored another.
        with wait_my_turn(sm, LIMIT):
            e.company = Company("hooli", 1, ["item one"])
            tags = e.company.tags
            assert tags[0] is tags[0] and tags[0] == "item one"
        order("new item")
        with wait_my_turn(sm, LIMIT):
            assert tags[0] == "item two" and tags[0] is tags[0]
        order("item again")
        with wait_my_turn(sm, LIMIT):
            assert tags[0] == "item 3"
        child.stdin.write("end\n")
        child.stdin.flush()
        assert child.wait(LIMIT) == 0, child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
        sm.close()


def test_a_shared_array_stored_back_where_it_was_read_writes_nothing(held):
    """`d[k] += 1` on a shared array changes its data in place, then stores
    the array back: that store writes nothing (the slot holds those very
    bytes). A view with another shape or dtype, a part or a copy is stored
    as any value is."""
    np = pytest.importorskip("numpy")
    holder = held.put_message({"a": np.arange(6, dtype=np.int32), "l": [np.ones(2)],
                               "e": Employee("e", np.zeros(3), None)})
    held.take_message()
    a = holder["a"]
    holder["a"] += 10
    again = holder["a"]
    assert again.tolist() == list(range(10, 16)) and np.shares_memory(a, again)
    holder["l"][0] += 1
    assert holder["l"][0].tolist() == [2.0, 2.0]
    e = holder["e"]
    e.years_of_employment += 5
    assert e.years_of_employment.tolist() == [5.0, 5.0, 5.0]
    holder["a"] = holder["a"].reshape(2, 3)
    assert holder["a"].shape == (2, 3) and holder["a"].tolist() == [[10, 11, 12], [13, 14, 15]]
    holder["a"] = holder["a"].view(np.float32)
    assert holder["a"].dtype == np.float32 and holder["a"].shape == (2, 3)
    holder["a"] = holder["a"].view(np.int32)[1:]
    assert holder["a"].tolist() == [[13, 14, 15]]
    kept = holder["a"]
    kept.shape = (3,)  # in place: the same bytes, another shape than the read gave
    holder["a"] = kept
    assert holder["a"].shape == (3,) and holder["a"].tolist() == [13, 14, 15]
    copy = holder["a"].copy()
    holder["a"] = copy
    assert holder["a"].tolist() == [13, 14, 15] and not np.shares_memory(holder["a"], copy)
    other = held.put_message({"b": np.arange(3, dtype=np.int32)})
    held.take_message()
    holder["a"] = other["b"]  # another block's array, same dtype and shape
    assert holder["a"].tolist() == [0, 1, 2] and not np.shares_memory(holder["a"], other["b"])

"""Dict and set keys (python/src/keys.c): the stable hash, kept per key
object for the region's last keys, and equality with stored keys without
decoding them. A kept hash is of the key alone: a dict emptied, refilled,
resized or replaced, or changed by another process with another hash seed,
is looked up afresh."""

import datetime as dt
import decimal
import os
import subprocess
import sys

import pytest

from ipc_py_objects import SharedMemory, wait_my_turn

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = 30
MiB = 1024 * 1024


def test_a_key_looked_up_again_finds_its_entry_after_the_dict_changes(held):
    d = held.put_message({"key1": 1, ("key", 2): "value2"})
    held.take_message()
    s, t = "key1", ("key", 2)
    for _ in range(3):  # the second and third from the kept hash
        assert d[s] == 1 and d[t] == "value2" and s in d and t in d
    d.clear()
    assert s not in d and t not in d
    with pytest.raises(KeyError):
        d[s]  # noqa: B018
    for i in range(300):  # a resize or more: a new table, entries elsewhere
        d[f"k{i}"] = i
    d[t] = "again"
    d[s] = 11
    assert d[s] == 11 and d[t] == "again" and d.get(s) == 11
    del d[s]
    assert d.get(s, "gone") == "gone" and d[t] == "again"
    holder = held.put_message([{t: "in a new dict"}])
    assert holder[0][t] == "in a new dict"
    holder[0] = {t: "replaced"}
    assert holder[0][t] == "replaced" and t in holder[0]
    held.take_message()


def test_tuple_keys_compare_as_python_does(held):
    nested = ((((("deep", 1),),),),)
    d = held.put_message({("a", 1): "int", ("b", b"x"): "bytes", ("c", "x"): "str",
                          ("f", frozenset({1, "s"})): "frozenset", ("big", 2**70): "big",
                          ("dec", decimal.Decimal("1.5")): "decimal", nested: "nested",
                          ("day", dt.date(2024, 1, 2)): "date", (): "empty"})
    held.take_message()
    assert d[("a", 1)] == d[("a", 1.0)] == d[("a", True)] == "int"
    assert d[("b", b"x")] == "bytes" and ("b", "x") not in d
    assert d[("c", "x")] == "str" and ("c", b"x") not in d
    assert ("a", "1") not in d and ("a", 1, 2) not in d and ("a",) not in d
    assert d[("f", frozenset({"s", 1}))] == "frozenset"
    assert d[("big", 2**70)] == "big" and ("big", 2**70 + 1) not in d
    assert d[("dec", decimal.Decimal("1.50"))] == "decimal" and d[("dec", 1.5)] == "decimal"
    assert d[((((("deep", 1),),),),)] == "nested" and ((((("deep", 2),),),),) not in d
    assert d[("day", dt.date(2024, 1, 2))] == "date" and d[()] == "empty"
    s = held.put_message({("x", 1), ("y", "z")})
    held.take_message()
    assert ("x", 1) in s and ("x", 1.0) in s and ("y", "z") in s and ("y", b"z") not in s


def test_keys_that_compare_decoded_read_and_write_their_entry(held):
    """A lookup whose compare decodes the stored key (a float or a date in
    a tuple) reads and sets its entry through the table checked again; str,
    int and tuple-of-them keys through the table the lookup checked."""
    shared = held.put_message({("f", 1.5): 1, ("d", dt.date(2024, 1, 2)): 2, "s": 3, 7: 4, ("t", 1): 5})
    held.take_message()
    for key, value in [(("f", 1.5), 1), (("d", dt.date(2024, 1, 2)), 2), ("s", 3), (7, 4), (("t", 1), 5)]:
        assert shared[key] == value
        shared[key] += 10
        assert shared[key] == value + 10
    assert len(shared) == 5
    held.check()


def test_one_key_object_in_two_regions(region_name):
    """Each region has its own hash key, and keeps the hashes made with it:
    one key object looked up in both is found in both."""
    one = SharedMemory(region_name, create=True, size=4 * MiB)
    two = SharedMemory(region_name + "-2", create=True, size=4 * MiB)
    try:
        one.wait_my_turn()
        two.wait_my_turn()
        d1 = one.put_message({"key1": 1, ("key", 2): 2})
        d2 = two.put_message({"key1": "a", ("key", 2): "b"})
        s, t = "key1", ("key", 2)
        for _ in range(3):
            assert (d1[s], d2[s], d1[t], d2[t]) == (1, "a", 2, "b")
        one.release()
        two.release()
    finally:
        one.close()
        two.close()


def worker(region, seed):
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONHASHSEED=str(seed))
    return subprocess.Popen([sys.executable, "-m", "keys_workers", region], env=env, cwd=HERE,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("seed", [1, 424242])
def test_another_process_changes_the_dict_under_kept_hashes(region_name, seed):
    sm = SharedMemory(region_name, create=True, size=16 * MiB)
    child = worker(region_name, seed)
    keys = ["key1", ("key", 2), "é-key", (("nested", 1), b"b")]
    try:
        def order(what):
            child.stdin.write(what + "\n")
            child.stdin.flush()
            answer = child.stdout.readline()
            assert answer == "done\n", child.stderr.read()

        def read():
            with wait_my_turn(sm, LIMIT):
                # Each key object twice: the second lookup from its kept hash.
                first = [table.get(k, "absent") for k in keys]
                assert first == [table.get(k, "absent") for k in keys]
                return first

        assert sm.wait_consumer_ready(LIMIT)
        with wait_my_turn(sm, LIMIT):
            sm.put_message({k: i for i, k in enumerate(keys)})
            table = sm.read_message()
        assert read() == [0, 1, 2, 3]
        order("take")
        order("values")
        assert read() == [f"child {i}" for i in range(4)]
        order("rebuild")
        assert read() == [103, 102, 101, 100]
        with wait_my_turn(sm, LIMIT):
            assert len(table) == 204 and table["filler 7"] == 7
        child.stdin.write("end\n")
        child.stdin.flush()
        assert child.wait(LIMIT) == 0, child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
        sm.close()


def test_a_key_eq_that_rebuilds_the_dict_does_not_store_into_another_key(held):
    """A lookup whose compare ran Python code (the key's __eq__) that
    cleared the dict and refilled it: the entry number the lookup found now
    names another key. The store must not go to (or be skipped because of)
    that entry: as CPython's dict restarts such a lookup, the key is looked
    up again, here absent, and inserted."""
    import decimal

    shared = held.put_message({5: "old"})
    held.take_message()
    mutated = []

    def __eq__(self, other):
        if not mutated:
            mutated.append(1)
            shared.clear()
            shared["b"] = "v"  # entry 0 now: another key, the value stored below
        return decimal.Decimal.__eq__(self, other)

    # Hashed as a Decimal (by its type's name), compared by its __eq__.
    K = type("decimal.Decimal", (decimal.Decimal,), {"__eq__": __eq__, "__hash__": decimal.Decimal.__hash__,
                                                  "__reduce__": lambda self: (decimal.Decimal, (str(self),))})
    key = K(5)
    shared[key] = "v"
    assert mutated
    assert dict(shared) == {"b": "v", 5: "v"}
    held.check()


def test_a_key_eq_that_rebuilds_the_dict_does_not_read_another_key(held):
    """The same for a read: the entry the lookup found names another key
    once the compare's __eq__ refilled the dict; the key is absent."""
    shared = held.put_message({5: "old"})
    held.take_message()
    mutated = []

    def __eq__(self, other):
        if not mutated:
            mutated.append(1)
            shared.clear()
            shared["b"] = "other"
        return decimal.Decimal.__eq__(self, other)

    K = type("decimal.Decimal", (decimal.Decimal,), {"__eq__": __eq__, "__hash__": decimal.Decimal.__hash__})
    with pytest.raises(KeyError):
        shared[K(5)]
    assert mutated
    assert dict(shared) == {"b": "other"}
    held.check()


def test_a_value_hook_that_rebuilds_the_dict_does_not_store_into_another_key(held):
    """Encoding the value ran Python code (its pickling's __reduce__) that
    cleared the dict and refilled it: the entry the lookup found now names
    another key, whose value must stay; the key gets the new value."""
    shared = held.put_message({5: "old"})
    held.take_message()

    class Value:
        def __reduce__(self):
            shared.clear()
            shared["b"] = "kept"
            return (str, ("new",))

    shared[5] = Value()
    assert dict(shared) == {"b": "kept", 5: "new"}
    held.check()

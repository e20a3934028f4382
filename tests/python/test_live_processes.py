"""Live containers and objects across real processes: what one changes the
other sees; keys found whatever each process's PYTHONHASHSEED; every type
round-trips through another interpreter."""

import datetime as dt
import decimal
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ipc_py_objects import (
    FastLimitedDict,
    FastLimitedSet,
    SharedMemory,
    intenum_dict_to_list,
    wait_my_turn,
    wait_my_turn_when_has_messages,
)
from shared_types import Color, Company, Employee, Metric, Mixed, Plain, Slotted

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1024 * 1024


def start(function, region, seed=None):
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if seed is not None:
        env["PYTHONHASHSEED"] = str(seed)
    return subprocess.Popen([sys.executable, "-m", "live_workers", function, region], env=env,
                            cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"worker still running after {timeout} s: {err}")
    assert proc.returncode == 0, err


@pytest.fixture
def sm(region_name):
    region = SharedMemory(region_name, create=True, size=64 * MiB)
    yield region
    region.close()


def test_changes_made_by_one_process_are_seen_by_the_other(sm):
    child = start("mutate", sm.name)
    sm.wait_consumer_ready(30)
    with wait_my_turn(sm, 30):
        state = sm.put_message({
            "metrics": intenum_dict_to_list({Metric.employees: 10, Metric.avg_salary: 3000.0}),
            "employee": Employee("ann", 3, Company("acme", 10)),
            "by_key": {"gone": 1, ("a", 1): 2, 3.5: 3, b"k": 4},
            "set": {1, "x"},
            "array": np.arange(4, dtype=np.int32),
            "nested": [{"deep": [1, 2]}],
        })
    finish(child)  # it took the state, changed it, answered, and left
    with wait_my_turn(sm, 30):
        reply = sm.take_message()
        assert reply[0] == "done"
        assert state["metrics"] == [None, 15, 3000.0, None, "from child"]
        assert state["employee"].years_of_employment == 4
        assert state["employee"].company.employees == 12
        assert state["by_key"] == {("a", 1): 2, 3.5: 3, b"k": 4, ("child", 1): frozenset({"c"})}
        assert state["set"] == {1, "x", "child"}
        assert state["array"].tolist() == [0, 2, 4, 6]
        assert state["nested"][0]["deep"] == [1, 2, 3]


@pytest.mark.parametrize("seeds", [(1, 2), (0, 987654)])
def test_keys_are_found_whatever_the_hash_seed(sm, seeds):
    """Two processes with different PYTHONHASHSEED share one dict. (This
    process's own seed is whatever pytest got; the children set theirs.)"""
    keys = ["", "a", "key-" * 10, "é\U0001F600", b"", b"bytes", ("tuple", 1, b"x"),
            frozenset({"f", 1, (2, "g")}), 1, 2.5, None, True and "t", (("nested",),),
            dt.date(2020, 2, 2), dt.timedelta(seconds=5)]
    first = start("lookup", sm.name, seed=seeds[0])
    sm.wait_consumer_ready(30)
    with wait_my_turn(sm, 30):
        # One message: the child gets the very table this process holds.
        table, _ = sm.put_message([{k: i for i, k in enumerate(keys)}, keys])
    finish(first)
    with wait_my_turn(sm, 30):
        done, child_hash = sm.take_message()
        assert done == "done"
        assert table["child-" + "x" * 20] == "c1"
        assert table[("child", b"bytes", 2.5)] == "c2"
        assert table[frozenset({7, "child"})] == "c3"
        for k in ["child-" + "x" * 20, ("child", b"bytes", 2.5), frozenset({"child", 7})]:
            del table[k]
        # A second process with another seed, on a table this one copies.
        sm.put_message([table, keys])
    second = start("lookup", sm.name, seed=seeds[1])
    finish(second)
    with wait_my_turn(sm, 30):
        done, other_hash = sm.take_message()
        # The two children really hashed str differently.
        assert other_hash != child_hash
        assert len(table) == len(keys)


def every_type():
    return [
        None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**200, -(2**200), 0.0, -0.0, 1e308,
        float("inf"), 1 + 2j, "", "ascii", "é\U0001F600", b"", b"\x00\xff", bytearray(b"ba"),
        decimal.Decimal("-1.5E+10"), slice(1, None, -2), dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=ZoneInfo("Europe/Kyiv")),
        dt.time(1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=-5), "EST")),
        dt.timedelta(days=-3, microseconds=7), dt.timezone.utc, (1, ("t", [2])),
        [1, [2, [3]], {"k": {4}}], {"a": 1, (1, 2): [3], None: {"n": None}}, {1, "s", (2,)},
        frozenset({"f"}), Employee("e", 1, Company("c", 2, ["t"])), Slotted(1, 2),
        Mixed(1, 2, [3]), Metric.avg_salary, Color.green,
        FastLimitedDict({1: "a"}), FastLimitedSet({"b"}),
    ]


def plain(value):
    """What a value reads back as, in comparable form."""
    if isinstance(value, (FastLimitedDict, FastLimitedSet)):
        return plain(value.value)
    if isinstance(value, Slotted):
        return (type(value).__mro__[-2].__name__, value.x, value.y, getattr(value, "z", None))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__ if isinstance(value, tuple) else "list", [plain(v) for v in value])
    return (type(value).__name__, value)


def test_every_type_round_trips_through_another_process(sm):
    child = start("echo", sm.name)
    sm.wait_consumer_ready(30)
    values = every_type()
    with wait_my_turn(sm, 30):
        for v in values:
            sm.put_message(v)
        sm.put_message("END")
    finish(child)  # it took every value and put it back, in order
    with wait_my_turn(sm, 30):
        got = [sm.take_message() for _ in values]
        assert not sm.has_messages()
        # Fresh values to compare with: objects put are mapped in place, and
        # the child destroyed those blocks once it had put copies back.
        for g, v in zip(got, every_type()):
            if isinstance(v, (FastLimitedDict, FastLimitedSet)):
                assert g == v.value  # the child read a plain copy and put it back as such
            elif isinstance(v, Slotted):
                assert (g.x, g.y, getattr(g, "z", None)) == (v.x, v.y, getattr(v, "z", None))
                assert isinstance(g, type(v))
            elif isinstance(v, (dict, list, set)):
                assert g == v
            else:
                assert g == v and type(g).__name__ == type(v).__name__, (g, v)

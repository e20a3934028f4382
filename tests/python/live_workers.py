"""Code the cross-process tests of live containers run in their own interpreters:
``python -m live_workers <function> <region name>``, so each test can give
each process its own environment (PYTHONHASHSEED)."""

import sys

import numpy as np

from ipc_py_objects import SharedMemory, wait_my_turn, wait_my_turn_when_has_messages
from shared_types import Company, Employee, Metric

LIMIT = 30.0


def echo(name):
    """Takes messages and puts each value back, until 'END'."""
    with SharedMemory(name) as sm:
        while True:
            with wait_my_turn_when_has_messages(sm, LIMIT):
                value, offset = sm.take_message_2()
                if value == "END":
                    return
                sm.put_message(value)
                del value
                sm.destroy_obj(offset)


def mutate(name):
    """Takes the shared state the parent put, changes it through its views,
    and answers 'done' with what it read."""
    with SharedMemory(name) as sm:
        with wait_my_turn_when_has_messages(sm, LIMIT):
            state = sm.take_message()
            seen = {
                "metrics": list(state["metrics"]),
                "employee": state["employee"].years_of_employment,
                "keys": sorted(map(repr, state["by_key"])),
            }
            state["metrics"][Metric.employees] += 5
            state["metrics"].append("from child")
            state["employee"].increase_years_of_employment()
            state["employee"].company.hire(2)
            state["by_key"][("child", 1)] = frozenset({"c"})
            del state["by_key"]["gone"]
            state["set"].add("child")
            state["array"][:] *= 2
            state["nested"][0]["deep"].append(3)
            sm.put_message(("done", repr(seen)))


def lookup(name):
    """Looks up every key the parent stored, under this process's own hash
    seed, and stores keys of its own for the parent to find."""
    with SharedMemory(name) as sm:
        with wait_my_turn_when_has_messages(sm, LIMIT):
            table, keys = sm.take_message()  # a list: the table in it is live
            found = [table[k] for k in keys]
            assert found == list(range(len(keys))), found
            assert all(k in table for k in keys)
            table["child-" + "x" * 20] = "c1"
            table[("child", b"bytes", 2.5)] = "c2"
            table[frozenset({"child", 7})] = "c3"
            sm.put_message(("done", hash("seed check")))


if __name__ == "__main__":
    globals()[sys.argv[1]](sys.argv[2])

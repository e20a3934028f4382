"""Peers for test_outside_a_turn.py, run in spawned processes (importable by name)."""

import os
import time

from ipc_py_objects import SharedMemory, wait_my_turn


def until(condition, limit=30.0):
    """Polls a condition, raising after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition never held")
        time.sleep(0.001)


def hold_until_waited_for_then_write(name, ready, done, sleepers=1):
    """Takes a turn and keeps it until `sleepers` waiters of other processes
    sleep waiting for access; then writes into the queued list, as the last
    thing of its turn, and releases."""
    with SharedMemory(name) as sm:
        with wait_my_turn(sm, time_limit=30):
            shared = sm.read_message()
            ready.put("holding")
            until(lambda: sm.stats()["sleepers"] >= sleepers)
            shared[0] = "written at the end of the holder's turn"
        done.put("released")


def read_outside_a_turn_until_interrupted(name, ready, go, results):
    """Reads the queued list outside a turn once the test holds access (it
    says go), and reports how Ctrl-C ended the wait, and whether any turn is
    left held."""
    with SharedMemory(name) as sm:
        with wait_my_turn(sm, time_limit=30):
            shared = sm.read_message()
        ready.put(os.getpid())
        go.get(timeout=30)
        try:
            shared[0]
            results.put("read")
        except KeyboardInterrupt:
            results.put("KeyboardInterrupt")
        # Once the test releases, this process gets a turn: it gave up its
        # wait, and holds nothing that would keep the test's next turn out.
        with wait_my_turn(sm, time_limit=30):
            results.put(("turn after the interrupt", shared[0]))


def change_outside_a_turn(name, rounds, results):
    """Increments the queued list's first item `rounds` times, each a turn
    of its own taken by the list (no block), and the second inside blocks."""
    with SharedMemory(name) as sm:
        with wait_my_turn(sm, time_limit=30):
            shared = sm.read_message()
        for _ in range(rounds):
            shared.append(1)  # one operation: one turn, never lost
            with wait_my_turn(sm, time_limit=30):
                shared[0] += 1  # a read and a write: a block makes them one step
        results.put("done")

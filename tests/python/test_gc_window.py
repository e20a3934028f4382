"""A collection that a read's own allocations start runs finalizers: code of
the user's, in the middle of the read. Whatever such a finalizer does to the
region (close it, release the turn, destroy the object being read) must not
crash the process nor damage the region: close() and release() refuse as
they do for a hook that an operation calls, and the read ends in its turn.

Each case runs in a process of its own, since the bad outcome is a crash."""

import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

# Each read: what to set up (with access held; `off` names the object the
# read decodes), the statement that reads, what it must give, and how many
# allocations of tracked objects start a collection (1: the read's first).
READS = {
    "read_message": (
        "_, off = sm.put_message_2(([1, 2], 'a' * 100))",
        "result = sm.read_message()",
        "([1, 2], 'a' * 100)",
    ),
    "take_message": (
        "_, off = sm.put_message_2(([1, 2], 'a' * 100))",
        "result = sm.take_message()",
        "([1, 2], 'a' * 100)",
    ),
    "list_item": (
        "shared, off = sm.put_message_2([[1, 2], ('a' * 100, 3)]); sm.take_message()",
        "result = (shared[0], shared[1])",
        "([1, 2], ('a' * 100, 3))",
    ),
    "dict_item": (
        "shared, off = sm.put_message_2({'k': ('a' * 100, [1])}); sm.take_message()",
        "result = shared['k']",
        "('a' * 100, [1])",
    ),
    "attribute": (
        "shared, off = sm.put_message_2(Company('acme', 10, ['x', 'y'])); sm.take_message()",
        "result = shared.tags",
        "['x', 'y']",
    ),
    "get_obj_buffer": (
        "_, off = sm.put_message_2(b'abc' * 10); sm.take_message()",
        "result = bytes(sm.get_obj_buffer(off))",
        "b'abc' * 10",
    ),
    "list_iteration": (
        # Each step calls __getitem__ through a method-wrapper, an allocation
        # of its own before the step's turn: the collection is let wait
        # until the step decodes an item of many tuples.
        "shared, off = sm.put_message_2([(1, 'a' * 100), BIG, [2]]); sm.take_message()\n"
        "it = iter(shared); result = []",
        "for x in it: result.append(x)",
        "[(1, 'a' * 100), BIG, [2]]",
        100,
    ),
    "dict_iteration": (
        "shared, off = sm.put_message_2({'a': (1,), 'b': [2], 'c': ('c' * 50,)}); sm.take_message()\n"
        "it = iter(shared.items()); result = []",
        "for x in it: result.append(x)",
        "[('a', (1,)), ('b', [2]), ('c', ('c' * 50,))]",
    ),
}

# What the finalizer does to the region.
ACTIONS = {
    "close": "sm.close()",
    "release": "sm.release()",
    "destroy": "sm.destroy_obj(off)",
}

SCRIPT = """
import gc, sys
sys.path.insert(0, {here!r})
from ipc_py_objects import SharedMemory
from shared_types import Company

sm = SharedMemory({name!r}, create=True, size=8 << 20)
sm.wait_my_turn()
BIG = tuple((i,) for i in range(400))
{setup}
expected = {expected}
outcome = []

class Finalizer:
    def __init__(self):
        self.cycle = self  # freed only by a collection

    def __del__(self):
        try:
            {action}
            outcome.append("done")
        except Exception as e:
            outcome.append(f"{{type(e).__name__}}: {{e}}")

gc.collect()
gc.disable()
Finalizer()
gc.set_threshold({threshold})
gc.enable()  # from the read's first allocation of a tracked object on, one collects
{read}
gc.disable()
assert outcome, "the finalizer did not run during the read"
print("outcome:", outcome[0])
assert not sm.closed
print("result ok:", result == expected)
print("holds:", sm.is_in_line())
sm.check()
print("check ok: yes")
del result
sm.close()
print("closed")
"""


def run_case(region_name, read, action):
    setup, statement, expected, *threshold = READS[read]
    script = SCRIPT.format(here=HERE, name=region_name, setup=setup, read=statement,
                           expected=expected, action=ACTIONS[action], threshold=(threshold or [1])[0])
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)


@pytest.mark.parametrize("read", sorted(READS))
@pytest.mark.parametrize("action", ["close", "release", "destroy"])
def test_a_finalizer_cannot_close_release_or_destroy_under_a_read(region_name, read, action):
    out = run_case(region_name, read, action)
    verb = {"close": "close", "release": "release", "destroy": "destroy an object of"}[action]
    assert out["outcome"].startswith("RuntimeError") and f"cannot {verb} region" in out["outcome"]
    assert "finalizer" in out["outcome"]
    assert out["result ok"] == "True"
    assert out["holds"] == "True"  # the turn is still the block's
    assert out["check ok"] is not None


def test_the_same_finalizer_outside_a_read_closes(region_name):
    """The refusal is the read's, not the finalizer's: run between two
    operations, the same close happens."""
    script = textwrap.dedent(f"""
        import gc
        from ipc_py_objects import SharedMemory, RegionClosedError
        sm = SharedMemory({region_name!r}, create=True, size=8 << 20)
        sm.wait_my_turn()
        sm.put_message(([1, 2], 'a' * 100))
        class Finalizer:
            def __init__(self):
                self.cycle = self
            def __del__(self):
                sm.release()
                sm.close()
        Finalizer()
        gc.collect()
        assert sm.closed
        try:
            sm.read_message()
        except RegionClosedError:
            print("closed")
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["closed"]


def test_a_read_whose_block_a_finalizer_frees_and_reuses_raises(region_name):
    """A finalizer may also free what is read through another view (clear
    the list whose item is being decoded) and put a new object in its room:
    the read then raises, and hands out nothing that names the new object."""
    script = textwrap.dedent(f"""
        import gc
        from ipc_py_objects import SharedMemory
        sm = SharedMemory({region_name!r}, create=True, size=8 << 20)
        sm.wait_my_turn()
        shared, off = sm.put_message_2([[1, [2, 3]], 4]); sm.take_message()
        outcome = []
        class Finalizer:
            def __init__(self):
                self.cycle = self
            def __del__(self):
                shared.clear()
                sm.put_message([[7] * 4] * 50)  # in the room just freed
                outcome.append("reused")
        gc.collect()
        gc.disable()
        Finalizer()
        gc.set_threshold(1)
        gc.enable()
        try:
            item = shared[0]  # the view of [1, [2, 3]] is the read's first tracked allocation
        except RuntimeError as e:
            print("raised" if "destroyed or replaced while it was read" in str(e) else e)
        gc.disable()
        assert outcome == ["reused"], outcome
        assert sm.read_message() == [[7] * 4] * 50 and shared == []
        sm.check()
        sm.close()
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["raised"]


@pytest.mark.parametrize("kind", ["dict", "set"])
@pytest.mark.parametrize("key", ["K.A", "(1, 'two')", "frozenset({3})"])
def test_a_key_a_finalizer_stores_while_it_is_encoded_is_stored_once(region_name, kind, key):
    """A new key that goes through the encoder (an IntEnum member, a tuple,
    a frozenset) allocates while it is encoded, and a collection so started
    may run a finalizer that stores the same key into the same dict or set.
    The store then finds the key there and replaces its value: the map holds
    each key once, as a dict does."""
    script = textwrap.dedent(f"""
        import enum, gc
        from ipc_py_objects import SharedMemory, wait_my_turn

        class K(enum.IntEnum):
            A = 1

        sm = SharedMemory({region_name!r}, create=True, size=8 << 20)
        key = {key}
        with wait_my_turn(sm):
            shared, _ = sm.put_message_2({{}} if {kind!r} == 'dict' else set())
            sm.take_message()
            store = (lambda: shared.__setitem__(key, 'finalizer')) if {kind!r} == 'dict' else (lambda: shared.add(key))

            class Bomb:
                def __del__(self):
                    store()

            raced = 0
            for _ in range(50):
                shared.clear()
                bomb = Bomb(); bomb.me = bomb; del bomb  # garbage, left for a collection
                gc.set_threshold(1)
                if {kind!r} == 'dict':
                    shared[key] = 'direct'
                else:
                    shared.add(key)
                gc.set_threshold(700)
                gc.collect()
                keys = list(shared)
                assert keys.count(key) == 1 and len(shared) == 1, keys
                if {kind!r} == 'dict':
                    raced += shared[key] == 'direct'
            print('ok', raced)
        sm.close()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stdout + out.stderr

"""Code that the codec's tests (pickled types, trust, messages that cannot be read) run in spawned processes."""

import os
import sys
import textwrap

from ipc_py_objects import SharedMemory, wait_my_turn


def _put_all(name, mode, values):
    # A region that other users may write (mode 0o660) is attached only
    # with trust; the writer's trust says nothing of the readers'.
    sm = SharedMemory(name, mode=mode, trust=bool(mode & 0o022))
    sm.init_consumer(30)
    with wait_my_turn(sm, 30):
        for value in values:
            sm.put_message(value)
    sm.close()


def put_foreign(name, mode, results):
    """Puts a dataclass and an enum member of classes the test process has
    not met, then a plain message."""
    from foreign_types import Gadget, Shade

    _put_all(name, mode, [Gadget("lamp", 1.5), Shade.dark, "after"])
    results.put("done")


def put_unreadable(name, module_dir, results):
    """Puts objects whose classes live in a module that only this process
    can import (written into module_dir), one whose class is local to a
    function, then a plain message."""
    module = f"ipo_child_only_{os.getpid()}"
    with open(os.path.join(module_dir, module + ".py"), "w") as f:
        f.write(textwrap.dedent("""
            import collections
            import dataclasses

            Reading = collections.namedtuple("Reading", "sensor value")

            @dataclasses.dataclass
            class Probe:
                depth: int
        """))
    sys.path.insert(0, module_dir)
    child_only = __import__(module)

    class Local:
        def __init__(self):
            self.x = 1

    values = [child_only.Probe(3), child_only.Reading("t", 21.5), Local(), [child_only.Reading("u", 1.0)],
              "after"]
    _put_all(name, 0o600, values)
    results.put(module)


GADGET_MODULE = """
import dataclasses
import enum


@dataclasses.dataclass
class Gizmo:
    name: str
    weight: float


class Hue(enum.Enum):
    light = 1
    dark = 2
"""


def write_gadget_module(module_dir):
    """Writes a module of a dataclass and an enum under a name no process
    has met, into module_dir; returns the name."""
    module = f"ipo_gadgets_{os.getpid()}_{os.urandom(4).hex()}"
    with open(os.path.join(module_dir, module + ".py"), "w") as f:
        f.write(GADGET_MODULE)
    return module


def put_gadgets(name, module_dir, module, results):
    """Puts a Gizmo and a Hue member of the module written by
    write_gadget_module, then a plain message, into a region of mode 0660."""
    sys.path.insert(0, module_dir)
    types = __import__(module)
    _put_all(name, 0o660, [types.Gizmo("gear", 2.5), types.Hue.dark, "after"])
    results.put("done")


def take_one(name, trust, results):
    """Takes the oldest message and reports what came: its repr, or the
    error's class and text."""
    sm = SharedMemory(name, trust=trust)
    sm.init_consumer(30)
    try:
        with wait_my_turn(sm, 30):
            try:
                results.put(("ok", repr(sm.take_message())))
            except Exception as exc:
                results.put((type(exc).__name__, str(exc)))
    finally:
        sm.close()

"""Smoke test of an installed ipc_py_objects: what a library user does first.

    VENV/bin/python smoke.py

Run with the interpreter of a fresh venv where the package was installed
(tests/install/wheel.sh), from outside the source tree. Checks that the
package is the installed one, that its version and extras are declared,
then creates a region and hands a message to a second process, which takes
it, and that the installed `ipc-py-objects` command lists that region.
Exits non-zero saying what failed.
"""

import importlib.metadata
import json
import os
import subprocess
import sys

import ipc_py_objects
from ipc_py_objects import SharedMemory, wait_my_turn, wait_my_turn_when_has_messages

TIME_LIMIT = 20.0
MESSAGE = ("hello", b"\x00\x01" * 50_000, 2**70, {"key": [1.5, None]})


def fail(what: str) -> None:
    sys.exit(f"smoke test: {what}")


def take(name: str) -> None:
    """The second process: attaches, takes the message, checks it."""
    sm = SharedMemory(name)
    if not sm.init_consumer(time_limit=TIME_LIMIT):
        fail(f"no region {name} within {TIME_LIMIT} s")
    with sm, wait_my_turn_when_has_messages(sm, time_limit=TIME_LIMIT):
        got = sm.take_message()
        if got != MESSAGE:
            fail(f"took {got!r:.200}, expected {MESSAGE!r:.200}")


def main() -> None:
    if not ipc_py_objects.__file__.startswith(sys.prefix):
        fail(f"imported {ipc_py_objects.__file__}, not the copy installed in {sys.prefix}")
    meta = importlib.metadata.metadata("ipc_py_objects")
    if meta["Version"] != ipc_py_objects.__version__:
        fail(f"installed version {meta['Version']}, but ipc_py_objects.__version__ is {ipc_py_objects.__version__}")
    extras = set(meta.get_all("Provides-Extra") or ())
    if not {"numpy", "torch", "uvloop", "all"} <= extras:
        fail(f"extras {sorted(extras)}: numpy, torch, uvloop and all are missing")

    name = f"ipo_smoke_{os.getpid()}"
    with SharedMemory(name, create=True, size=4 << 20) as sm:
        taker = subprocess.Popen([sys.executable, __file__, "take", name])
        with wait_my_turn(sm, time_limit=TIME_LIMIT):
            sm.put_message(MESSAGE)
        if taker.wait(TIME_LIMIT * 2) != 0:
            fail(f"the second process exited with status {taker.returncode}")
        # The console script pip made beside the interpreter.
        command = os.path.join(os.path.dirname(sys.executable), "ipc-py-objects")
        listed = subprocess.run([command, "list", "--json"], capture_output=True, text=True, timeout=TIME_LIMIT)
        if listed.returncode != 0 or name not in {r.get("name") for r in json.loads(listed.stdout or "[]")}:
            fail(f"`ipc-py-objects list --json` (status {listed.returncode}) does not list {name}: "
                 f"{listed.stdout[:500]}{listed.stderr[-500:]}")
    print(f"smoke test: ipc_py_objects {meta['Version']} from {os.path.dirname(ipc_py_objects.__file__)}: "
          "a message put in one process, taken in another; ipc-py-objects lists the region")


if __name__ == "__main__":
    if sys.argv[1:2] == ["take"]:
        take(sys.argv[2])
    else:
        main()

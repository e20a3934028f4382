"""mypy on programs that use the package: the original-style programs under
tests/programs type-check, a fully annotated one passes --strict, every name
of the star import is visible to mypy, and wrong calls are caught (so the
signatures are really typed, not Any)."""

import os
import subprocess
import sys

import pytest

import ipc_py_objects

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PROGRAMS = os.path.join(ROOT, "tests", "programs")
CACHE = os.path.join(ROOT, "build", "mypy-cache")


def mypy(*args, cwd=PROGRAMS):
    """Runs mypy on the installed package, as a user's program sees it."""
    run = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", CACHE, "--no-color-output",
                          "--hide-error-context", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=600)
    return run.returncode, run.stdout + run.stderr


def test_the_programs_type_check():
    code, out = mypy("--check-untyped-defs",
                     "original_example/sender.py", "original_example/receiver.py",
                     "original_example/station_types.py",
                     "transfer/sync_sender.py", "transfer/sync_receiver.py",
                     "transfer/async_sender.py", "transfer/async_receiver.py")
    assert code == 0, out


def test_an_annotated_program_passes_strict():
    code, out = mypy("--strict", "typed/typed_example.py")
    assert code == 0, out


def test_every_name_of_the_star_import_is_visible(tmp_path):
    program = tmp_path / "every_name.py"
    names = sorted(ipc_py_objects.__all__)
    program.write_text("from ipc_py_objects import *\n\nseen = [\n"
                       + "".join(f"    {name},\n" for name in names) + "]\n")
    code, out = mypy("--strict", str(program), cwd=tmp_path)
    assert code == 0, out


WRONG_CALLS = {
    "SharedMemory(1)": "SharedMemory",
    "SharedMemory('r', True, 'big')": "SharedMemory",
    "SharedMemory('r', strcit=True)": "SharedMemory",
    "SharedMemory('r', turn_time_limit='soon')": "SharedMemory",
    "SharedMemory('r').take_message(queue_type='lifo')": "take_message",
    "ASharedMemoryManager(SharedMemory('r'), True, 'soon')": "ASharedMemoryManager",
    "ASharedMemoryManager(SharedMemory('r'))(if_has_messages='yes')": "__call__",
    "WaitMyTurn(SharedMemory('r'), 'soon')": "WaitMyTurn",
    "GetInLine(SharedMemory('r'), 1.0)": "GetInLine",
    "intenum_dict_to_list([1, 2])": "intenum_dict_to_list",
    "ensure_adjusted_pythonhashseed(pythonhashseed='0')": "ensure_adjusted_pythonhashseed",
}


def test_wrong_calls_are_caught(tmp_path):
    program = tmp_path / "wrong_calls.py"
    lines = ["from ipc_py_objects import *", ""] + list(WRONG_CALLS)
    program.write_text("\n".join(lines) + "\n")
    code, out = mypy(str(program), cwd=tmp_path)
    assert code == 1, out
    for number, (call, callee) in enumerate(WRONG_CALLS.items(), start=3):
        flagged = [line for line in out.splitlines() if line.startswith(f"wrong_calls.py:{number}: error")]
        assert flagged, f"mypy let `{call}` pass:\n{out}"
        assert callee in flagged[0], flagged

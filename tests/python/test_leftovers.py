"""cleanup(): what dead processes left in /dev/shm goes, what live ones use stays.

The scenario runs in a private mount namespace with a /dev/shm of its own:
cleanup() removes every dead leftover of this user, and the machine's
/dev/shm may hold other test runs' regions, dead on purpose for a moment."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from ipc_py_objects import Leftover, cleanup

SCENARIO = r"""
import json, os, signal, subprocess, sys, time
from ipc_py_objects import SharedMemory, cleanup

CREATE_AND_STAY = '''
import signal, sys
from ipc_py_objects import SharedMemory
sm = SharedMemory(sys.argv[1], create=sys.argv[2] == "create", size=1 << 20)
if not sm.create:
    sm.init_consumer(30)
print("ready", flush=True)
while True:
    signal.pause()
'''

def participant(name, role):
    p = subprocess.Popen([sys.executable, "-c", CREATE_AND_STAY, name, role],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p

def kill(p):
    p.kill()
    p.wait()

def dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid

# Everybody dead in "dead"; the creator dead, a consumer alive in "orphan".
kill(participant("dead", "create"))
creator = participant("orphan", "create")
consumer = participant("orphan", "consume")
kill(creator)
live = SharedMemory("live", create=True, size=1 << 20)
# A hidden creation file of a dead creator (made last: creations sweep them).
hidden = "/dev/shm/.ipo-creating-%d-1-0000abcd" % dead_pid()
with open(hidden, "wb") as f:
    f.truncate(1 << 16)
os.chmod(hidden, 0o600)

out = {}
out["dry"] = sorted(map(tuple, cleanup(dry_run=True)))
out["after_dry"] = sorted(os.listdir("/dev/shm"))
out["removed"] = sorted(map(tuple, cleanup()))
out["after"] = sorted(os.listdir("/dev/shm"))
out["again"] = cleanup()
kill(consumer)
out["orphan"] = sorted(map(tuple, cleanup()))
out["bells_left"] = sorted(os.listdir("/dev/shm/.ipo-bells-%d" % os.geteuid()))
live.close()
print(json.dumps(out))
"""


def test_cleanup_removes_only_what_the_dead_left(tmp_path):
    unshare = shutil.which("unshare")
    if not unshare or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to mount a private /dev/shm")
    script = tmp_path / "scenario.py"
    script.write_text(SCENARIO)
    setup = "mount -t tmpfs -o size=64m tmpfs /dev/shm || exit 77; exec \"$0\" \"$1\""
    proc = subprocess.run([unshare, "--mount", "--propagation", "private", "sh", "-c", setup,
                           sys.executable, str(script)],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode == 77 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot mount a private /dev/shm here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])

    kinds = {kind for kind, _ in out["removed"]}
    paths = {path for _, path in out["removed"]}
    # The dead region and the hidden file. The doorbells of the participants
    # killed so far are gone already: each participant that made its own
    # doorbell afterwards swept the dead ones.
    assert kinds == {"region", "creating"}
    assert "/dev/shm/dead" in paths
    assert any(p.startswith("/dev/shm/.ipo-creating-") for p in paths)
    assert len(out["removed"]) == 2
    # A dry run found the same and removed nothing.
    assert out["dry"] == out["removed"]
    assert "dead" in out["after_dry"]
    # Afterwards: the live region and the orphan (its consumer lives) stay.
    assert "live" in out["after"] and "orphan" in out["after"]
    assert "dead" not in out["after"]
    assert not any(f.startswith(".ipo-creating-") for f in out["after"])
    assert out["again"] == []
    # Its last participant killed (after every doorbell was made, so that
    # nobody swept its doorbell since), the orphan goes at the next cleanup,
    # with that doorbell.
    assert sorted(kind for kind, _ in out["orphan"]) == ["doorbell", "region"]
    assert ("region", "/dev/shm/orphan") in [tuple(x) for x in out["orphan"]]
    # Only the live region's doorbell is left.
    assert len(out["bells_left"]) == 1


def test_cleanup_returns_leftovers():
    # Whatever this machine holds, a dry run removes nothing and answers
    # in the documented shape.
    found = cleanup(dry_run=True)
    assert isinstance(found, list)
    for item in found:
        assert isinstance(item, Leftover)
        assert item.kind in ("region", "creating", "doorbell")
        assert item.path.startswith("/dev/shm/")

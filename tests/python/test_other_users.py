"""Regions other users own or may write are refused unless trusted; what is
another user's is never removed; files are 0600 whatever the umask.

The tests of another user's region run as root, making the region as user
nobody (setpriv), and skip elsewhere."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import join_all
from ipc_py_objects import (
    CreatorGoneError,
    RegionPermissionError,
    SharedMemory,
    cleanup,
    wait_my_turn,
)

MiB = 1024 * 1024

AS_NOBODY = """
import sys
from ipc_py_objects import SharedMemory, wait_my_turn
sm = SharedMemory(sys.argv[1], create=True, size=1 << 20, mode=int(sys.argv[2], 8), close_timeout=0)
with wait_my_turn(sm):
    sm.put_message({"from": "nobody"})
print("ready", flush=True)
sys.stdin.readline()
sm.close()
"""


@pytest.fixture
def nobody_creator(region_name):
    """Starts a creator running as user nobody: a function of the mode, giving the process."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        pytest.skip("needs root and setpriv(1) to run a creator as another user")
    procs = []

    def start(mode):
        p = subprocess.Popen([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              sys.executable, "-c", AS_NOBODY, region_name, oct(mode)[2:]],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(p)
        line = p.stdout.readline().strip()
        if line != "ready":
            pytest.skip("cannot run Python as user nobody here")
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(30)
    # The region is nobody's: the test process removes it (root may).
    try:
        os.unlink(f"/dev/shm/{region_name}")
    except FileNotFoundError:
        pass


@pytest.mark.parametrize("mode", [0o600, 0o666])
def test_another_users_region_needs_trust(nobody_creator, region_name, mode):
    creator = nobody_creator(mode)
    assert os.stat(f"/dev/shm/{region_name}").st_uid != 0
    sm = SharedMemory(region_name)
    with pytest.raises(RegionPermissionError, match="belongs to another user.*trust=True"):
        sm.init_consumer(5)
    sm.close()
    with SharedMemory(region_name, trust=True) as trusting:
        with wait_my_turn(trusting, 10):
            assert trusting.take_message() == {"from": "nobody"}
    creator.stdin.write("done\n")
    creator.stdin.flush()
    assert creator.wait(30) == 0


def test_another_users_dead_region_is_never_removed(nobody_creator, region_name):
    creator = nobody_creator(0o600)
    trusting = SharedMemory(region_name, trust=True)
    trusting.init_consumer(5)
    creator.send_signal(signal.SIGKILL)
    creator.wait(30)
    with pytest.raises(CreatorGoneError):
        trusting.wait_my_turn(5)
    # The last participant out, but of another user's region: it stays.
    trusting.close()
    assert os.path.exists(f"/dev/shm/{region_name}")
    later = SharedMemory(region_name, trust=True)
    with pytest.raises(CreatorGoneError):
        later.init_consumer(5)
    later.close()
    assert os.path.exists(f"/dev/shm/{region_name}")
    assert f"/dev/shm/{region_name}" not in [path for _, path in cleanup(dry_run=True)]


def test_a_region_others_may_write_needs_trust(region_name):
    with SharedMemory(region_name, create=True, size=MiB, mode=0o660) as sm:
        for options in ({}, {"mode": 0o660}):
            consumer = SharedMemory(region_name, **options)
            with pytest.raises(RegionPermissionError, match=r"other users may write.*0o660.*trust=True"):
                consumer.init_consumer(5)
            consumer.close()
        # Trusted: whatever mode the creator chose.
        with SharedMemory(region_name, trust=True) as trusting:
            assert trusting.attached
        # A mode no other user can write is still checked against the one expected.
        assert sm.attached


def test_files_are_0600_whatever_the_umask(spawn, region_name):
    results = spawn.Queue()
    p = spawn.Process(target=_create_under_umask, args=(region_name, results))
    p.start()
    region_mode, bell_modes = results.get(timeout=60)
    join_all([p], 30)
    assert region_mode == 0o600
    assert bell_modes and set(bell_modes) == {0o600}


def _create_under_umask(name, results):
    os.umask(0o777)
    with SharedMemory(name, create=True, size=MiB) as sm:
        region_mode = os.stat(f"/dev/shm/{name}").st_mode & 0o7777
        bells = f"/dev/shm/.ipo-bells-{os.geteuid()}"
        inode = os.stat(f"/dev/shm/{name}").st_ino
        bell_modes = [os.stat(os.path.join(bells, f)).st_mode & 0o7777
                      for f in os.listdir(bells) if f.startswith(f"{inode:x}-")]
        assert sm.attached
    results.put((region_mode, bell_modes))

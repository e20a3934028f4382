"""Ctrl-C (SIGINT) ends every wait of the asyncio manager, on asyncio and on
uvloop, and a creator interrupted before its consumer came removes its region.
Real programs in real processes, sent a real SIGINT."""

import os
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

PROGRAM = r"""
import asyncio, sys
from ipc_py_objects import ASharedMemoryManager, SharedMemory, wait_my_turn

name, role, loop_kind = sys.argv[1:4]

async def main():
    if role == "creator":  # waits for a consumer that never comes
        sm = SharedMemory(name, create=True, size=1 << 20)
        print("waiting", flush=True)
        async with ASharedMemoryManager(sm):
            pass
    elif role == "consumer":  # waits for a region that never comes
        print("waiting", flush=True)
        async with ASharedMemoryManager(SharedMemory(name)):
            pass
    else:  # waits for a turn that a peer never gives back
        async with ASharedMemoryManager(SharedMemory(name)) as asmm:
            print("waiting", flush=True)
            async with asmm():
                pass

if loop_kind == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


def start(name, role, loop_kind):
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, name, role, loop_kind],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "waiting"
    return proc


def interrupt(proc, bound=10.0):
    """Sends SIGINT once the program waits; it must end within bound."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"the program did not end within {bound} s of Ctrl-C")
    assert "KeyboardInterrupt" in err, err
    return err


def wait_until(condition, bound=10.0):
    until = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < until, "the condition never held"
        time.sleep(0.01)


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_a_creator_waiting_for_its_consumer_stops_and_removes_its_region(region_name, loop_kind):
    proc = start(region_name, "creator", loop_kind)
    wait_until(lambda: os.path.exists(f"/dev/shm/{region_name}"))
    interrupt(proc)
    assert not os.path.exists(f"/dev/shm/{region_name}")


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_a_consumer_waiting_for_its_region_stops(region_name, loop_kind):
    interrupt(start(region_name, "consumer", loop_kind))


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_a_coroutine_waiting_for_its_turn_stops(region_name, loop_kind):
    from ipc_py_objects import SharedMemory

    with SharedMemory(region_name, create=True, size=1 << 20, close_timeout=0.5) as sm:
        sm.wait_my_turn()  # held for good: the program's turn never comes
        proc = start(region_name, "turn", loop_kind)
        interrupt(proc)
        sm.release()

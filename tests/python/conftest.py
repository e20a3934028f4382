"""Shared fixtures: a unique region name per test, and bounded real processes."""

import asyncio
import multiprocessing
import os
import time
import uuid

import pytest
import uvloop


def pytest_asyncio_loop_factories(config, item):
    """Every asyncio test runs twice: on asyncio's loop and on uvloop's."""
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture
def region_name():
    """A region name no other test uses; whatever the test leaves is removed."""
    name = f"ipo-test-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        os.unlink(f"/dev/shm/{name}")
    except FileNotFoundError:
        pass


@pytest.fixture(scope="module")
def held():
    """One 64 MiB region for a whole test module, with access held throughout."""
    from ipc_py_objects import SharedMemory

    name = f"ipo-test-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    region = SharedMemory(name, create=True, size=64 * 1024 * 1024)
    region.wait_my_turn()
    yield region
    region.release()
    region.close()


@pytest.fixture(scope="session")
def spawn():
    """Processes started fresh, as a user's separate programs would be."""
    return multiprocessing.get_context("spawn")


def join_all(procs, timeout):
    """Waits for every process, at most `timeout` seconds in all; kills and
    fails on overrun, and fails on a non-zero exit."""
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    late = [p for p in procs if p.is_alive()]
    for p in late:
        p.kill()
        p.join()
    assert not late, f"{len(late)} process(es) still running after {timeout} s"
    codes = [p.exitcode for p in procs]
    assert codes == [0] * len(procs), f"exit codes {codes}"

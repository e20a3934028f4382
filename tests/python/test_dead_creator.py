"""A creator killed with kill -9: its consumers' waits raise CreatorGoneError,
a consumer started afterwards is refused, and the region file goes once the
last participant has left (or the next one comes); a creator killed while it
creates leaves a hidden file that the next attach sweeps."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import lifecycle_workers
from conftest import join_all
from ipc_py_objects import (
    CreatorGoneError,
    SharedMemory,
    SharedMemoryError,
    wait_my_turn,
    wait_my_turn_when_has_messages,
)

MiB = 1024 * 1024


def get(queue, timeout=60):
    return queue.get(timeout=timeout)


def exists(name):
    return os.path.exists(f"/dev/shm/{name}")


def start(spawn, target, *args, **kwargs):
    p = spawn.Process(target=target, args=args, kwargs=kwargs)
    p.start()
    return p


def kill(p):
    """kill -9, and reap."""
    os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    assert not p.is_alive()


def started_creator(spawn, name, **kwargs):
    ready = spawn.Queue()
    creator = start(spawn, lifecycle_workers.create_and_stay, name, ready, **kwargs)
    assert get(ready) == creator.pid
    return creator


def test_a_consumers_next_waits_raise(spawn, region_name):
    creator = started_creator(spawn, region_name)
    sm = SharedMemory(region_name)
    other = SharedMemory(region_name)
    try:
        assert sm.init_consumer(10) and other.init_consumer(10)
        for handle in (sm, other):
            with wait_my_turn(handle):
                pass
        kill(creator)
        # A wait that would sleep asks the kernel first: it raises at once,
        # not at its time limit.
        t0 = time.monotonic()
        with pytest.raises(CreatorGoneError, match="has died"):
            with wait_my_turn_when_has_messages(sm, 30):
                pass
        # Known now: every wait raises, free turns too.
        with pytest.raises(CreatorGoneError):
            sm.wait_my_turn(30)
        with pytest.raises(CreatorGoneError):
            sm.get_in_line()
        with pytest.raises(CreatorGoneError):
            sm.wait_consumer_ready(1)
        assert time.monotonic() - t0 < 5
        assert isinstance(CreatorGoneError("x"), SharedMemoryError)
        # A free turn is taken without a system call, and asks the kernel
        # now and then (every 0.1 s): a loop of free turns learns of it too,
        # here the other handle, which took its last turn before the kill.
        t0 = time.monotonic()
        with pytest.raises(CreatorGoneError):
            while time.monotonic() - t0 < 10:
                with wait_my_turn(other):
                    pass
        assert time.monotonic() - t0 < 5
    finally:
        sm.close()
        other.close()
    # The last consumer out removed the region.
    assert not exists(region_name)


def test_a_sleeping_consumer_learns_within_a_bound(spawn, region_name):
    creator = started_creator(spawn, region_name)
    started, results = spawn.Queue(), spawn.Queue()
    consumer = start(spawn, lifecycle_workers.wait_for_messages_then_report, region_name, started, results)
    assert get(started) == "waiting"
    killed_at = time.monotonic()
    kill(creator)
    (kind, message), ended_at = get(results)
    join_all([consumer], 30)
    assert kind == "CreatorGoneError", message
    # A sleeper wakes once a second to look, if nothing else wakes it.
    assert ended_at - killed_at < 5
    assert not exists(region_name)


def test_a_turn_taken_over_from_the_creator_raises(spawn, region_name):
    """The creator dies holding access: the consumer waiting for it takes the
    turn over (crash recovery), and gives it back with CreatorGoneError
    instead of holding a turn of a region that is gone."""
    creator = started_creator(spawn, region_name, hold=True)
    started, results = spawn.Queue(), spawn.Queue()
    consumer = start(spawn, lifecycle_workers.wait_for_a_turn_then_report, region_name, started, results)
    assert get(started) == "waiting"
    killed_at = time.monotonic()
    kill(creator)
    (kind, message), ended_at = get(results)
    join_all([consumer], 30)
    assert kind == "CreatorGoneError", message
    assert ended_at - killed_at < 5
    assert not exists(region_name)


def asleep(tid):
    """Whether thread tid of this process is blocked in poll() (its wait's sleep)."""
    with open(f"/proc/self/task/{tid}/syscall") as f:
        return f.read().split()[0] in ("7", "271")  # poll, ppoll on x86-64


def test_a_sleeper_is_told_by_the_kernel_not_by_its_periodic_wake(spawn, region_name):
    """The death watch (a pidfd of each participant) wakes a sleeping wait
    when the creator dies: it raises well before its periodic wake (1 s)."""
    creator = started_creator(spawn, region_name)
    sm = SharedMemory(region_name)
    sm.init_consumer(10)
    got = {}

    def wait():
        got["tid"] = threading.get_native_id()
        try:
            with wait_my_turn_when_has_messages(sm, 30):
                got["outcome"] = "a message"
        except CreatorGoneError:
            got["outcome"] = "CreatorGoneError"
        got["at"] = time.monotonic()

    t = threading.Thread(target=wait)
    t.start()
    deadline = time.monotonic() + 10
    while "tid" not in got or not asleep(got["tid"]):
        assert time.monotonic() < deadline, "the wait never went to sleep"
        time.sleep(0.001)
    killed = time.monotonic()
    kill(creator)
    t.join(15)
    sm.close()
    assert got["outcome"] == "CreatorGoneError"
    assert got["at"] - killed < 0.5, f"told {got['at'] - killed:.3f} s after the kill"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("messages", [True, False], ids=["for-messages", "free-turns"])
def test_the_asyncio_managers_turns_raise(spawn, region_name, loop, messages):
    creator = started_creator(spawn, region_name)
    started, results = spawn.Queue(), spawn.Queue()
    consumer = start(spawn, lifecycle_workers.manager_waits_then_report, region_name, started, results,
                     messages, loop)
    assert get(started) == "waiting"
    killed_at = time.monotonic()
    kill(creator)
    (kind, message), ended_at = get(results)
    join_all([consumer], 30)
    assert kind == "CreatorGoneError", message
    assert ended_at - killed_at < 5


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_await_for_messages_raises(spawn, region_name, loop):
    creator = started_creator(spawn, region_name)
    started, results = spawn.Queue(), spawn.Queue()
    consumer = start(spawn, lifecycle_workers.await_messages_then_report, region_name, started, results, loop)
    assert get(started) == "waiting"
    killed_at = time.monotonic()
    kill(creator)
    (kind, message), ended_at = get(results)
    join_all([consumer], 30)
    assert kind == "CreatorGoneError", message
    assert ended_at - killed_at < 5


def attach_outcome(spawn, name, time_limit=10, **options):
    results = spawn.Queue()
    p = start(spawn, lifecycle_workers.attach_outcome, name, results, time_limit, **options)
    outcome = get(results)
    join_all([p], 30)
    return outcome


def test_a_consumer_started_afterwards_is_refused(spawn, region_name):
    creator = started_creator(spawn, region_name)
    ready = spawn.Queue()
    stayer = start(spawn, lifecycle_workers.attach_and_stay, region_name, ready)
    get(ready)
    kill(creator)
    # Another consumer is still in it: the newcomer is told, and the region stays.
    (kind, message), seconds = attach_outcome(spawn, region_name)
    assert kind == "CreatorGoneError" and "has died" in message
    assert seconds < 5  # at once, not at its time limit
    assert exists(region_name)
    # Everybody dead now: the region stays in /dev/shm until somebody comes.
    kill(stayer)
    assert exists(region_name)
    # The next participant (a consumer) is told, and removes it.
    (kind, _), _ = attach_outcome(spawn, region_name)
    assert kind == "CreatorGoneError"
    assert not exists(region_name)


def test_a_restarted_creator_takes_the_name_over(spawn, region_name):
    creator = started_creator(spawn, region_name)
    with SharedMemory(region_name) as old:
        kill(creator)
        # Its consumer is still attached, but the region is gone for it:
        # the name goes to the new creator.
        with SharedMemory(region_name, create=True, size=MiB) as fresh:
            with pytest.raises(CreatorGoneError):
                old.wait_my_turn(5)
            old.close()  # the last of the old region: it never removes the new one
            assert exists(region_name)
            (kind, _), _ = attach_outcome(spawn, region_name)
            assert kind == "ok"
            assert fresh.attached
    assert not exists(region_name)


def test_a_creator_closing_normally_is_told_as_closed(spawn, region_name):
    sm = SharedMemory(region_name, create=True, size=MiB, close_timeout=0)
    consumer = SharedMemory(region_name)
    consumer.init_consumer(10)
    sm.close()
    with pytest.raises(CreatorGoneError, match="has closed it"):
        consumer.wait_my_turn(5)
    consumer.close()


CREATE_SLOWLY = """
import sys
from ipc_py_objects import SharedMemory
SharedMemory(sys.argv[1], create=True, size=int(sys.argv[2]), prefault=True)
"""


def test_a_creator_killed_while_creating_leaves_a_file_the_next_attach_sweeps(spawn, region_name):
    """kill -9 while a large region is being reserved and prefaulted: its
    hidden file stays, holding the memory, until the next attach of any name
    (here, in a new process) sweeps it."""
    size = 512 * MiB
    for attempt in range(4):
        creator = subprocess.Popen([sys.executable, "-c", CREATE_SLOWLY, region_name, str(size)])
        prefix = f".ipo-creating-{creator.pid}-"
        deadline = time.monotonic() + 30
        hidden = []
        while not hidden and creator.poll() is None and time.monotonic() < deadline:
            hidden = [f for f in os.listdir("/dev/shm") if f.startswith(prefix)]
        creator.kill()
        creator.wait(30)
        hidden = [f for f in os.listdir("/dev/shm") if f.startswith(prefix)]
        if hidden:
            break
        # Created before we looked: a larger region takes longer.
        if exists(region_name):
            os.unlink(f"/dev/shm/{region_name}")
        size *= 2
    else:
        pytest.skip("could not catch a creator in the middle of its creation")
    assert not exists(region_name)
    assert os.path.exists(f"/dev/shm/{hidden[0]}")
    # An attach to a name that does not exist: one look, which answers
    # False (no region), and sweeps on its way.
    assert attach_outcome(spawn, f"{region_name}-other", time_limit=0)[0] == ("ok", False)
    assert not os.path.exists(f"/dev/shm/{hidden[0]}")

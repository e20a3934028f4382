"""Behaviour across real processes: exchange with order kept, attach errors,
mutual exclusion, peeking, dead participants, interrupts."""

import collections
import multiprocessing
import os
import queue
import signal
import time

import pytest

import workers
from conftest import join_all
from ipc_py_objects import (
    AccessNotHeldError,
    FreeMemoryChunkNotFoundError,
    ObjectInUseError,
    RegionClosedError,
    SharedMemory,
    wait_my_turn,
)
from ipc_py_objects import _ipo

MiB = 1024 * 1024


def is_subsequence(part, whole):
    it = iter(whole)
    return all(any(x == y for y in it) for x in part)


def get(results, timeout=60):
    """A result from a worker, or a failure if none comes in time."""
    try:
        return results.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"no result from the worker within {timeout} s")


def exchange(spawn, name, consumers, started_first):
    """The creator (this process) puts 10,000 mixed messages through a 16 MiB
    region, waiting when it is full; consumers take them. FIFO: each consumer
    sees its messages in sending order, and together they see all, once."""
    count = 10_000
    results = spawn.Queue()
    started = spawn.Queue()
    procs = []
    if started_first:
        procs = [spawn.Process(target=workers.consume_until_end, args=(name, results, started))
                 for _ in range(consumers)]
        for p in procs:
            p.start()
        # Each consumer is about to wait, and saw no region yet.
        assert [get(started) for _ in procs] == [False] * consumers

    with SharedMemory(name, create=True, size=16 * MiB) as sm:
        if not started_first:
            procs = [spawn.Process(target=workers.consume_until_end, args=(name, results))
                     for _ in range(consumers)]
            for p in procs:
                p.start()
        sent = 0
        full_turns = 0
        while sent < count:
            with wait_my_turn(sm, time_limit=60):
                try:
                    while sent < count:
                        sm.put_message(workers.mixed_message(sent))
                        sent += 1
                except FreeMemoryChunkNotFoundError:
                    full_turns += 1  # consumers free memory; try again next turn
        with wait_my_turn(sm, time_limit=60):
            for _ in procs:
                sm.put_message(workers.END)
        received = [get(results) for _ in procs]
        join_all(procs, timeout=60)
        with wait_my_turn(sm):
            assert sm.has_messages() is False
            stats = sm.stats()
            assert stats["used_blocks"] == 1  # only the queue's ring is left
            sm.check()

    expected = [workers.digest(workers.mixed_message(i)) for i in range(count)]
    for got in received:
        assert is_subsequence(got, expected), "a consumer saw messages out of order"
    merged = collections.Counter(d for got in received for d in got)
    assert merged == collections.Counter(expected)
    return full_turns, received


def test_creator_and_two_consumers_exchange_10000_messages(spawn, region_name):
    full_turns, received = exchange(spawn, region_name, consumers=2, started_first=False)
    # The region filled up at least once, and put recovered each time.
    assert full_turns > 0


def test_consumers_started_before_the_creator(spawn, region_name):
    exchange(spawn, region_name, consumers=2, started_first=True)


def attach_outcome(spawn, name, time_limit, **options):
    results = spawn.Queue()
    p = spawn.Process(target=workers.attach_outcome, args=(name, time_limit, options, results))
    p.start()
    outcome = get(results)
    join_all([p], timeout=30)
    return outcome


def test_attaching_to_a_missing_name_answers_false_at_its_time_limit(spawn, region_name):
    error, message, seconds = attach_outcome(spawn, region_name, 0.5)
    assert error == "False"
    assert 0.5 <= seconds < 5


def test_attaching_to_a_wrong_layout_fails_at_once(spawn, region_name):
    layout = _ipo.layout()
    with SharedMemory(region_name, create=True, size=MiB):
        with open(f"/dev/shm/{region_name}", "r+b") as f:
            f.seek(layout["layout_hash_offset"])
            f.write((layout["layout_hash"] ^ 0xFFFF).to_bytes(4, "little"))
        error, message, seconds = attach_outcome(spawn, region_name, 10)
        assert error == "IncompatibleRegionError"
        assert "not a region of this version" in message
        assert seconds < 5


def test_attaching_to_a_foreign_object_fails_at_once(spawn, region_name):
    with open(f"/dev/shm/{region_name}", "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(b"some other program's data".ljust(4096, b"\0"))
    error, _, seconds = attach_outcome(spawn, region_name, 10)
    assert error == "IncompatibleRegionError"
    assert seconds < 5


def test_attaching_to_a_region_of_another_mode(spawn, region_name):
    with SharedMemory(region_name, create=True, size=MiB, mode=0o640):
        error, message, _ = attach_outcome(spawn, region_name, 10)
        assert error == "RegionPermissionError"
        assert "mode" in message
        assert attach_outcome(spawn, region_name, 10, mode=0o640)[0] is None


def test_attaching_to_a_region_of_another_owner(spawn, region_name):
    path = f"/dev/shm/{region_name}"
    with SharedMemory(region_name, create=True, size=MiB):
        os.chown(path, 4242, -1)
        try:
            error, _, _ = attach_outcome(spawn, region_name, 10)
        finally:
            os.chown(path, os.geteuid(), -1)
        assert error == "RegionPermissionError"


def test_access_is_exclusive_across_processes(spawn, region_name):
    rounds, procs_count = 3000, 3
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        with wait_my_turn(sm):
            _, offset = sm.put_message_2(bytes(8))
        results = spawn.Queue()
        procs = [spawn.Process(target=workers.increment_counter, args=(region_name, offset, rounds, results))
                 for _ in range(procs_count)]
        for p in procs:
            p.start()
        assert sum(get(results) for _ in procs) == rounds * procs_count
        join_all(procs, timeout=60)
        with wait_my_turn(sm):
            assert sm.take_message() == (rounds * procs_count).to_bytes(8, "little")


def test_read_message_leaves_the_message(spawn, region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        results = spawn.Queue()
        p = spawn.Process(target=workers.read_then_take, args=(region_name, results))
        p.start()
        with wait_my_turn(sm):
            sm.put_message("peek at me")
        first, second, still_there, taken, same_offset, empty = get(results)
        join_all([p], timeout=30)
    assert first == second == taken == "peek at me"
    assert still_there and same_offset and empty


def test_dead_consumer_does_not_hold_up_the_creator(spawn, region_name):
    sm = SharedMemory(region_name, create=True, size=MiB, slots=2, close_timeout=30)
    ready = spawn.Queue()
    p = spawn.Process(target=workers.attach_and_hang, args=(region_name, ready))
    p.start()
    get(ready)
    sm.wait_consumer_ready(time_limit=10)
    os.kill(p.pid, signal.SIGKILL)
    p.join(10)
    # Its slot is free again for the next consumer (the table has one).
    with SharedMemory(region_name) as again:
        assert again.attached
    start = time.monotonic()
    sm.close()  # no live consumer: the creator does not wait its 30 s
    assert time.monotonic() - start < 10
    assert not os.path.exists(f"/dev/shm/{region_name}")


def test_creator_waits_for_a_live_consumer_then_leaves(spawn, region_name):
    sm = SharedMemory(region_name, create=True, size=MiB, close_timeout=0.3)
    ready = spawn.Queue()
    p = spawn.Process(target=workers.attach_and_hang, args=(region_name, ready))
    p.start()
    try:
        get(ready)
        start = time.monotonic()
        sm.close()
        assert time.monotonic() - start >= 0.3
        assert not os.path.exists(f"/dev/shm/{region_name}")
    finally:
        p.kill()
        p.join()


def test_region_of_a_dead_creator_is_replaced(spawn, region_name):
    p = spawn.Process(target=workers.create_and_die, args=(region_name, MiB))
    p.start()
    join_all([p], timeout=30)
    assert os.path.exists(f"/dev/shm/{region_name}")
    with SharedMemory(region_name, create=True, size=2 * MiB) as sm:
        assert sm.size == 2 * MiB


def test_waiting_for_access_is_interruptible(spawn, region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        ready, results = spawn.Queue(), spawn.Queue()
        p = spawn.Process(target=workers.wait_for_access_until_interrupted,
                          args=(region_name, ready, results))
        with wait_my_turn(sm):  # held for the whole test: the worker waits forever
            p.start()
            pid = get(ready)
            os.kill(pid, signal.SIGINT)
            assert get(results, timeout=10) == "KeyboardInterrupt"
        join_all([p], timeout=30)


def _use_inherited(sm, results):
    try:
        with wait_my_turn(sm, time_limit=1):
            pass
        results.put("used")
    except RegionClosedError as e:
        results.put(str(e))


def test_handle_inherited_across_fork_is_refused(region_name):
    fork = multiprocessing.get_context("fork")
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        results = fork.Queue()
        p = fork.Process(target=_use_inherited, args=(sm, results))
        p.start()
        assert "inherited across fork" in get(results)
        join_all([p], timeout=30)


FULL_SHM_SCRIPT = """
import sys
from ipc_py_objects import SharedMemory, NotEnoughSharedMemoryError
try:
    SharedMemory("too-big", create=True, size=64 * 1024 * 1024)
except NotEnoughSharedMemoryError as e:
    print("refused:", e)
    sys.exit(0)
print("created a region larger than /dev/shm")
sys.exit(1)
"""


def test_full_dev_shm_is_a_clear_error_at_creation(tmp_path):
    """In a private mount namespace with an 8 MiB /dev/shm, asking for 64 MiB
    fails at creation, instead of a SIGBUS when a page is first touched."""
    import shutil
    import subprocess
    import sys

    unshare = shutil.which("unshare")
    if not unshare or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to mount a small /dev/shm")
    script = tmp_path / "full_shm.py"
    script.write_text(FULL_SHM_SCRIPT)
    setup = "mount -t tmpfs -o size=8m tmpfs /dev/shm || exit 77; exec \"$0\" \"$1\""
    proc = subprocess.run([unshare, "--mount", "--propagation", "private", "sh", "-c", setup,
                           sys.executable, str(script)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode == 77 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot mount a private /dev/shm here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "refused:" in proc.stdout and "/dev/shm cannot hold" in proc.stdout


def test_forked_child_dropping_its_copy_leaves_the_parent_whole(region_name):
    """A child of fork() that drops (or exits with) the handle it inherited
    must not release the parent's access, free its slot or remove the name."""
    import gc

    from ipc_py_objects import RegionExistsError
    from ipc_py_objects.shared_memory import _close_open_regions

    sm = SharedMemory(region_name, create=True, size=MiB)
    try:
        sm.wait_my_turn()
        pid = os.fork()
        if pid == 0:  # the child: drop the copy every way it can go
            try:
                del sm
                gc.collect()
                _close_open_regions()
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert status == 0
        assert sm.has_messages() is False  # still our turn
        sm.release()
        assert os.path.exists(f"/dev/shm/{region_name}")
        with pytest.raises(RegionExistsError):  # still alive to others
            SharedMemory(region_name, create=True, size=MiB)
        with SharedMemory(region_name) as consumer, wait_my_turn(consumer, time_limit=5):
            consumer.put_message("after the fork")
    finally:
        sm.close()


def test_forked_child_writes_through_inherited_views_stay_private(region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        with wait_my_turn(sm):
            sm.put_message(b"parent's bytes")
            _, offset = sm.take_message_2()
            view = sm.get_obj_buffer(offset)
        pid = os.fork()
        if pid == 0:
            try:
                view[0:5] = b"CHILD"
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert status == 0
        assert bytes(view) == b"parent's bytes"
        view.release()


def test_buffers_pin_their_object_across_processes(spawn, region_name):
    with SharedMemory(region_name, create=True, size=MiB) as sm:
        with wait_my_turn(sm):
            sm.put_message(b"pinned bytes")
            _, offset = sm.take_message_2()
            view = sm.get_obj_buffer(offset)
            with pytest.raises(ObjectInUseError, match="release those memoryviews"):
                sm.destroy_obj(offset)
        results = spawn.Queue()
        p = spawn.Process(target=workers.try_destroy, args=(region_name, offset, results))
        p.start()
        assert get(results).startswith("ObjectInUseError")
        join_all([p], timeout=30)
        assert bytes(view) == b"pinned bytes"
        view.release()
        with wait_my_turn(sm):
            sm.destroy_obj(offset)
            sm.check()


def test_new_consumer_does_not_inherit_a_dead_holders_access(spawn, region_name):
    with SharedMemory(region_name, create=True, size=MiB, slots=3) as sm:
        ready = spawn.Queue()
        p = spawn.Process(target=workers.hold_access_and_die, args=(region_name, ready))
        p.start()
        get(ready)
        os.kill(p.pid, signal.SIGKILL)
        p.join(10)
        with SharedMemory(region_name) as late:
            with pytest.raises(AccessNotHeldError):
                late.has_messages()
            assert late.get_in_line() is False


def until(condition, limit=30.0):
    """Polls a condition, failing after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.001)


def test_a_waiter_killed_asleep_does_not_swallow_the_next_turn(spawn, region_name):
    """The oldest waiter dies asleep; a release still lets the next one in,
    and a new occupant of the dead one's slot takes back its registration."""
    with SharedMemory(region_name, create=True, size=MiB, slots=3) as sm:
        ready, results = spawn.Queue(), spawn.Queue()
        sm.wait_my_turn()  # held while the waiters line up
        first = spawn.Process(target=workers.sleep_for_access, args=(region_name, ready, results))
        first.start()
        get(ready)
        until(lambda: sm.stats()["sleepers"] == 1)
        second = spawn.Process(target=workers.sleep_for_access, args=(region_name, ready, results, 10.0))
        second.start()
        get(ready)
        until(lambda: sm.stats()["sleepers"] == 2)
        os.kill(first.pid, signal.SIGKILL)
        first.join(10)
        sm.release()  # the dead one is the oldest: the live one must get in
        outcome = get(results)
        assert outcome[0] == "acquired" and outcome[1] < 5, outcome
        join_all([second], timeout=30)
        with SharedMemory(region_name) as again, wait_my_turn(again, time_limit=10):
            assert again.stats()["sleepers"] == 0


def test_threads_of_one_process_do_not_steal_each_others_turn(region_name):
    """Three threads of this process sleep on its one doorbell while another
    handle holds access; each gets a turn soon after it is released."""
    import threading

    with SharedMemory(region_name, create=True, size=MiB, spin_budget=0) as sm, \
            SharedMemory(region_name, spin_budget=0) as other:
        other.init_consumer(time_limit=10)
        other.wait_my_turn()
        took = []

        def waiter():
            start = time.monotonic()
            with wait_my_turn(sm, time_limit=10):
                took.append(time.monotonic() - start)

        threads = [threading.Thread(target=waiter) for _ in range(3)]
        for t in threads:
            t.start()
        until(lambda: other.stats()["sleepers"] == 3)
        other.release()
        for t in threads:
            t.join(15)
        assert len(took) == 3 and max(took) < 5, took

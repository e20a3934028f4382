"""Code that tests run in separate processes (spawned, so importable by name)."""

import hashlib
import os
import signal
import time

from ipc_py_objects import (
    SharedMemory,
    SharedMemoryError,
    wait_my_turn,
    wait_my_turn_when_has_messages,
)

END = "END"


def mixed_message(i):
    """Message i of a deterministic mix of every type and of sizes up to 64 KiB."""
    import datetime

    k = i % 11
    if k == 9:
        return (i, f"t{i}", (None, i * 0.5, (b"x" * (i % 300),)), 2**70 + i)
    if k == 10:
        tz = datetime.timezone(datetime.timedelta(minutes=i % 600 - 300))
        return datetime.datetime(2000 + i % 100, 1 + i % 12, 1 + i % 28, i % 24, i % 60, i % 60, i, tzinfo=tz)
    if k == 0:
        return i
    if k == 1:
        return -i * 1.25
    if k == 2:
        return f"msg {i} " + "é" * (i % 40) + "\U0001F600"
    if k == 3:
        return bytes([i % 256]) * ((i * 7919) % 65536)
    if k == 4:
        return (i << 80) - 1
    if k == 5:
        return None
    if k == 6:
        return i % 2 == 0
    if k == 7:
        return bytearray(b"%d," % i) * (i % 100)
    return "ascii " * (i % 500)


def digest(obj):
    """A short fingerprint of type and value, cheap to send back to the parent."""
    if isinstance(obj, (bytes, bytearray)):
        data = bytes(obj)
    else:
        data = repr(obj).encode("utf-8", "surrogatepass")
    return type(obj).__name__ + ":" + hashlib.sha1(data).hexdigest()[:16]


def consume_until_end(name, results, started=None, time_limit=60.0):
    """Attaches, takes and destroys messages until END, sends their digests."""
    sm = SharedMemory(name)
    if started is not None:
        # Tell the parent we are about to wait, and whether the region existed.
        started.put(os.path.exists(f"/dev/shm/{name}"))
    sm.init_consumer(time_limit=time_limit)
    got = []
    try:
        while True:
            with wait_my_turn_when_has_messages(sm, time_limit=time_limit):
                obj, offset = sm.take_message_2()
                sm.destroy_obj(offset)
            if obj == END and type(obj) is str:
                break
            got.append(digest(obj))
    finally:
        sm.close()
    results.put(got)


def attach_outcome(name, time_limit, options, results):
    """Tries to attach; sends (exception class name or None, message, seconds)."""
    start = time.monotonic()
    sm = SharedMemory(name, **options)
    try:
        # False: the time limit passed first (as the original package answers).
        attached = sm.init_consumer(time_limit=time_limit)
        outcome = (None if attached else "False", "", time.monotonic() - start)
    except SharedMemoryError as e:
        outcome = (type(e).__name__, str(e), time.monotonic() - start)
    finally:
        sm.close()
    results.put(outcome)


def increment_counter(name, offset, rounds, results):
    """Read-modify-write of an 8-byte counter under access: lost updates would
    show that two processes held access at once."""
    with SharedMemory(name) as sm:
        for _ in range(rounds):
            with wait_my_turn(sm, time_limit=60):
                buf = sm.get_obj_buffer(offset)
                value = int.from_bytes(buf[:8], "little")
                buf[:8] = (value + 1).to_bytes(8, "little")
                buf.release()
    results.put(rounds)


def read_then_take(name, results):
    """Peeks twice, then takes: the peeks must leave the message queued."""
    with SharedMemory(name) as sm:
        with wait_my_turn_when_has_messages(sm, time_limit=30):
            first = sm.read_message()
            second, offset = sm.read_message_2()
            still_there = sm.has_messages()
            taken, taken_offset = sm.take_message_2()
            empty = not sm.has_messages()
            sm.destroy_obj(taken_offset)
    results.put((first, second, still_there, taken, offset == taken_offset, empty))


def attach_and_hang(name, ready):
    """Attaches and never leaves: the parent kills it."""
    sm = SharedMemory(name)
    sm.init_consumer(time_limit=30)
    ready.put(os.getpid())
    while True:
        signal.pause()


def create_and_die(name, size):
    """Creates a region and exits without closing it, as a crash would."""
    sm = SharedMemory(name, create=True, size=size)  # noqa: F841 (kept alive to the end)
    os._exit(0)


def wait_for_access_until_interrupted(name, ready, results):
    """Waits for access that never comes; reports how Ctrl-C ended the wait."""
    sm = SharedMemory(name)
    sm.init_consumer(time_limit=30)
    try:
        ready.put(os.getpid())
        sm.wait_my_turn()
        results.put("acquired")
    except KeyboardInterrupt:
        results.put("KeyboardInterrupt")
    finally:
        sm.close()


def hold_access_and_die(name, ready):
    """Attaches, takes access and waits to be killed while holding it."""
    sm = SharedMemory(name)
    sm.init_consumer(time_limit=30)
    sm.wait_my_turn(time_limit=30)
    ready.put(os.getpid())
    while True:
        signal.pause()


def try_destroy(name, offset, results):
    """Tries to destroy an object another process has a buffer of."""
    with SharedMemory(name) as sm:
        with wait_my_turn(sm, time_limit=30):
            try:
                sm.destroy_obj(offset)
                results.put("destroyed")
            except SharedMemoryError as e:
                results.put(f"{type(e).__name__}: {e}")


def peer_on_command(name, commands, replies):
    """A sync peer driven by the test: 'hold' takes access and keeps it until
    'release'; 'turn' takes one turn; 'put X' puts X in one turn; 'stop'."""
    sm = SharedMemory(name)
    sm.init_consumer(time_limit=30)
    try:
        replies.put("ready")
        while True:
            command = commands.get(timeout=60)
            if command == "stop":
                break
            if command == "hold":
                sm.wait_my_turn(time_limit=30)
                replies.put("holding")
            elif command == "release":
                sm.release()
                replies.put("released")
            elif command == "turn":
                with wait_my_turn(sm, time_limit=30):
                    pass
                replies.put("turned")
            elif isinstance(command, tuple) and command[0] == "put":
                with wait_my_turn(sm, time_limit=30):
                    sm.put_message(command[1])
                replies.put("put")
            elif command == ("stats",):
                with wait_my_turn(sm, time_limit=30):
                    replies.put(sm.stats()["sleepers"])
    finally:
        sm.close()


def async_sender(name, count, loop_kind, results):
    """Sends `count` numbered messages with the async API, on asyncio or uvloop."""
    import asyncio

    from ipc_py_objects import ASharedMemoryManager

    async def main():
        async with ASharedMemoryManager(SharedMemory(name), time_limit=30) as asmm:
            cm = asmm()
            for i in range(count):
                async with cm as shared_memory:
                    shared_memory.value.put_message(f"message {i}")
            results.put("sent")

    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def sleep_for_access(name, ready, results, time_limit=30.0):
    """Waits for access (asleep at once: no spin budget); reports how it went."""
    sm = SharedMemory(name, spin_budget=0)
    sm.init_consumer(time_limit=30)
    ready.put(os.getpid())
    try:
        start = time.monotonic()
        sm.wait_my_turn(time_limit=time_limit)
        results.put(("acquired", time.monotonic() - start))
        sm.release()
    except SharedMemoryError as e:
        results.put((type(e).__name__, str(e)))
    finally:
        sm.close()

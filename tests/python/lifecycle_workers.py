"""Code that the tests of a region's life (a creator's death, leftovers, other users) run in spawned processes."""

import asyncio
import os
import signal
import time

from ipc_py_objects import (
    ASharedMemoryManager,
    SharedMemory,
    wait_my_turn,
    wait_my_turn_when_has_messages,
)


def create_and_stay(name, ready, size=1024 * 1024, put=(), hold=False):
    """Creates the region, puts each of `put` as a message, says so, and
    stays until killed (it never closes: a kill -9 is its end), holding
    access if `hold`."""
    sm = SharedMemory(name, create=True, size=size)
    with wait_my_turn(sm):
        for value in put:
            sm.put_message(value)
    if hold:
        sm.wait_my_turn()
    ready.put(os.getpid())
    while True:
        signal.pause()


def attach_and_stay(name, ready):
    """Attaches, says so, and stays until killed."""
    sm = SharedMemory(name)
    sm.init_consumer(30)
    ready.put(os.getpid())
    while True:
        signal.pause()


def _outcome(call):
    """What call() ended with: ("ok", result) or (exception class name, message)."""
    try:
        return ("ok", call())
    except Exception as exc:  # the test compares the class by name
        return (type(exc).__name__, str(exc))


def wait_for_messages_then_report(name, started, results):
    """Attaches, then waits (asleep: the queue stays empty) for a message;
    sends what the wait ended with and when (time.monotonic())."""
    sm = SharedMemory(name)
    sm.init_consumer(30)
    started.put("waiting")

    def wait():
        with wait_my_turn_when_has_messages(sm, 60):
            return "a message came"

    outcome = _outcome(wait)
    results.put((outcome, time.monotonic()))
    sm.close()


def _run(coro, loop):
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def wait_for_a_turn_then_report(name, started, results):
    """Attaches, then waits for a turn (asleep: the creator holds it); sends
    what the wait ended with and when."""
    sm = SharedMemory(name)
    sm.init_consumer(30)
    started.put("waiting")
    outcome = _outcome(lambda: sm.wait_my_turn(60))
    results.put((outcome, time.monotonic()))
    sm.close()


def manager_waits_then_report(name, started, results, messages, loop):
    """The asyncio manager of a consumer waits in a loop: for a message
    (asleep, the queue staying empty) or, with messages False, for turn
    after turn (free ones); sends what its wait ended with and when. loop:
    "asyncio" or "uvloop"."""

    async def outer():
        sm = SharedMemory(name)
        try:
            async with ASharedMemoryManager(sm, time_limit=30) as asmm:
                cm = asmm(if_has_messages=messages)
                started.put("waiting")
                while True:
                    async with cm:
                        await asyncio.sleep(0.001)
        except Exception as exc:
            return (type(exc).__name__, str(exc))

    outcome = _run(outer(), loop)
    results.put((outcome, time.monotonic()))


def await_messages_then_report(name, started, results, loop):
    """await_for_messages (await_my_turn's wait, no manager), asleep; sends
    what it ended with and when."""

    async def outer():
        sm = SharedMemory(name)
        sm.init_consumer(30)
        started.put("waiting")
        try:
            return ("ok", await sm.await_for_messages(60))
        except Exception as exc:
            return (type(exc).__name__, str(exc))
        finally:
            sm.close()

    outcome = _run(outer(), loop)
    results.put((outcome, time.monotonic()))


def attach_outcome(name, results, time_limit, **options):
    """Attaches (waiting at most time_limit); sends what that ended with and
    how long it took."""
    start = time.monotonic()
    sm = SharedMemory(name, **options)
    outcome = _outcome(lambda: sm.init_consumer(time_limit))
    results.put((outcome, time.monotonic() - start))
    sm.close()

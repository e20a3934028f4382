"""Idle CPU: what a consumer costs while it waits for messages that do not come.

Each mode runs a consumer process for --seconds (10 by default) beside an
idle creator, and prints the CPU seconds the consumer used per wall second:
  sync sleep                  wait_my_turn_when_has_messages (spin budget, then the doorbell)
  asyncio, existence False    a coroutine looping over `async with cm` that sets existence False
  uvloop, existence False     the same on uvloop
  asyncio, if_has_messages    a coroutine waiting in `async with cm.if_has_messages()`
  sync spin (contrast)        the same sync wait with a spin budget longer than the wait
Target: under 0.001 (0.1% of a core) for every mode but the contrast.

Then both sides poll (benchmarks/both_poll.py): two processes, each looping
over `async with cm` with existence False and nothing to do, as the seed's
README advises desktop apps; the CPU of the busier one, for ours on asyncio
and uvloop and, with --reference, for the reference package on asyncio.
Last, the same pollers hand a message back and forth
(benchmarks/poll_ping_pong.py): how soon a change by one wakes the other,
as a round trip, beside the sleeping round trips of bench_latency.py.

Usage: python benchmarks/bench_idle.py [--seconds S] [--reference PYTHON]
"""

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import time
import uuid

from ipc_py_objects import (
    ASharedMemoryManager,
    OperationTimedOutError,
    SharedMemory,
    wait_my_turn_when_has_messages,
)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sync_consumer(name, seconds, spin, results):
    sm = SharedMemory(name, spin_budget=seconds * 2 if spin else None)
    sm.init_consumer(time_limit=30)
    with sm:
        cpu, wall = cpu_seconds(), time.monotonic()
        try:
            with wait_my_turn_when_has_messages(sm, time_limit=seconds):
                pass
        except OperationTimedOutError:
            pass
        results.put((cpu_seconds() - cpu) / (time.monotonic() - wall))


def async_consumer(name, seconds, loop_kind, gate, results):
    async def main():
        async with ASharedMemoryManager(SharedMemory(name), time_limit=30) as asmm:
            cm = asmm()

            async def idle_loop():
                while True:
                    if gate == "existence":
                        async with cm as shm:
                            shm.value.has_messages()
                            shm.existence = False
                    else:
                        async with cm.if_has_messages() as shm:
                            shm.value.take_message()

            cpu, wall = cpu_seconds(), time.monotonic()
            task = asyncio.create_task(idle_loop())
            await asyncio.sleep(seconds)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            return (cpu_seconds() - cpu) / (time.monotonic() - wall)

    if loop_kind == "uvloop":
        import uvloop

        results.put(uvloop.run(main()))
    else:
        results.put(asyncio.run(main()))


def idle_creator(name, seconds, ready):
    with SharedMemory(name, create=True, size=1024 * 1024, close_timeout=seconds + 30) as sm:
        ready.put(True)
        sm.wait_consumer_ready(time_limit=30)
        # Stays attached and idle until the consumer leaves (close waits).


def run(target, args, seconds):
    ctx = mp.get_context("spawn")
    name = f"ipo-idle-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    results, ready = ctx.Queue(), ctx.Queue()
    creator = ctx.Process(target=idle_creator, args=(name, seconds, ready))
    creator.start()
    ready.get(timeout=30)
    consumer = ctx.Process(target=target, args=(name, seconds, *args, results))
    consumer.start()
    value = results.get(timeout=seconds + 60)
    consumer.join(30)
    creator.join(seconds + 60)
    return value


def both_poll(python, loop_kind, seconds):
    """The CPU share of the busier of two processes that both poll."""
    here = os.path.dirname(os.path.abspath(__file__))
    name = f"ipo-poll-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    end = time.time() + 10.0 + seconds  # room for both to start and attach (the reference imports slowly)
    procs = [subprocess.Popen([python, os.path.join(here, "both_poll.py"), name, role, str(end), loop_kind],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for role in ("creator", "consumer")]
    shares = []
    for p in procs:
        out, err = p.communicate(timeout=seconds + 120)
        if p.returncode != 0:
            raise SystemExit(f"both_poll.py failed:\n{err}")
        shares.append(float(out.split()[-1]))
    try:
        os.unlink(f"/dev/shm/{name}")
    except FileNotFoundError:
        pass
    return max(shares)


def ping_pong(python, loop_kind, count):
    """Median and 99th percentile round trip (µs) of two pollers that hand a
    message back and forth (benchmarks/poll_ping_pong.py)."""
    here = os.path.dirname(os.path.abspath(__file__))
    name = f"ipo-pingpong-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    procs = [subprocess.Popen([python, os.path.join(here, "poll_ping_pong.py"), name, role, str(count), loop_kind],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for role in ("creator", "consumer")]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        if p.returncode != 0:
            raise SystemExit(f"poll_ping_pong.py failed:\n{err}")
        outs.append(out)
    try:
        os.unlink(f"/dev/shm/{name}")
    except FileNotFoundError:
        pass
    median, p99 = (float(x) for x in outs[0].split())
    return median, p99


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--reference", help="the interpreter of the reference package's venv")
    args = parser.parse_args()
    s = args.seconds
    print(f"idle consumers, {s:g} s each: CPU seconds per wall second (target < 0.001)")
    modes = [
        ("sync sleep", sync_consumer, (False,)),
        ("asyncio, existence False", async_consumer, ("asyncio", "existence")),
        ("uvloop, existence False", async_consumer, ("uvloop", "existence")),
        ("asyncio, if_has_messages", async_consumer, ("asyncio", "messages")),
        ("uvloop, if_has_messages", async_consumer, ("uvloop", "messages")),
        ("sync spin (contrast)", sync_consumer, (True,)),
    ]
    for label, target, extra in modes:
        share = run(target, extra, s)
        verdict = "" if "contrast" in label else ("  ok" if share < 0.001 else "  over target")
        print(f"  {label:28} {share:9.5f}{verdict}")
    print(f"both sides poll with existence False, {s:g} s: CPU seconds per wall second of the busier")
    rows = [("ours, asyncio", sys.executable, "asyncio"), ("ours, uvloop", sys.executable, "uvloop")]
    if args.reference:
        rows.append(("reference package, asyncio", args.reference, "asyncio"))
    for label, python, loop_kind in rows:
        share = both_poll(python, loop_kind, s)
        verdict = "" if "reference" in label else ("  ok" if share <= 0.001 else "  over target")
        print(f"  {label:28} {share:9.5f}{verdict}")
    count = 2000
    print(f"both sides poll with existence False and hand a message back and forth, {count} times: "
          "round trip in µs (a change wakes the other poller)")
    for label, python, loop_kind in rows:
        median, p99 = ping_pong(python, loop_kind, count)
        print(f"  {label:28} median {median:9.1f}   p99 {p99:9.1f}")


if __name__ == "__main__":
    main()

"""Round-trip latency of a small message between two processes, in each
waiting mode, beside raw C ping-pongs measured in the same run.

A client puts a message into a request region; the server takes it and puts
an answer into a reply region; the client takes the answer. Modes:
  sync spin     both sides spin (a spin budget longer than any wait)
  sync sleep    both sides sleep on their doorbells at once (spin budget 0)
  asyncio       both sides in an asyncio loop (ASharedMemoryManager)
  uvloop        the same on uvloop
  C service     a sync client (spin budget 0) and the libuv echo service
Baselines (benchmarks/c/latency_limits.c): a shared cache line with both sides
spinning, for the spinning mode; two eventfds with both sides in poll(), for
the sleeping ones. Printed: median and p99, and their ratio to the baseline
of the same kind.

With --pieces, it first times each piece of one side's path alone, in
one process (so no other core's cache is involved): a guard made and
dropped, an empty `with wait_my_turn(sm, time_limit=60)`, the put, take
and destroy of a 64-byte message in a turn held, and the whole half of a
round trip, each beside the baseline of what two C calls cost here
(`sm.wait_my_turn(); sm.release()`).

Usage: python benchmarks/bench_latency.py [--count N] [--c-dir build/c] [--pieces]
"""

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import subprocess
import time
import uuid

from ipc_py_objects import (
    ASharedMemoryManager,
    SharedMemory,
    wait_my_turn,
    wait_my_turn_when_has_messages,
)

MiB = 1024 * 1024
QUIT = "quit"


def spin_budget(mode):
    return 10.0 if mode == "sync spin" else 0.0


# ---- the sync server and client ---------------------------------------------------


def sync_server(name, mode):
    budget = spin_budget(mode)
    requests = SharedMemory(f"{name}-in", spin_budget=budget)
    replies = SharedMemory(f"{name}-out", spin_budget=budget)
    requests.init_consumer(time_limit=30)
    replies.init_consumer(time_limit=30)
    with requests, replies:
        while True:
            with wait_my_turn_when_has_messages(requests, time_limit=60):
                value, offset = requests.take_message_2()
                requests.destroy_obj(offset)
            if value == QUIT:
                break
            with wait_my_turn(replies, time_limit=60):
                replies.put_message(value + 1)  # as the C service answers


def sync_round_trips(requests, replies, count):
    rtt = []
    for i in range(count):
        start = time.perf_counter_ns()
        with wait_my_turn(requests, time_limit=60):
            requests.put_message(i)
        with wait_my_turn_when_has_messages(replies, time_limit=60):
            value, offset = replies.take_message_2()
            replies.destroy_obj(offset)
        rtt.append(time.perf_counter_ns() - start)
        assert value == i + 1
    return rtt


def sync_client(name, mode, count, results):
    budget = spin_budget(mode)
    with SharedMemory(f"{name}-in", create=True, size=4 * MiB, spin_budget=budget) as requests, \
            SharedMemory(f"{name}-out", create=True, size=4 * MiB, spin_budget=budget) as replies:
        requests.wait_consumer_ready(time_limit=30)
        sync_round_trips(requests, replies, count // 10)  # warm up
        rtt = sync_round_trips(requests, replies, count)
        with wait_my_turn(requests):
            requests.put_message(QUIT)
        results.put(rtt)


# ---- the asyncio server and client -------------------------------------------------


def run_loop(loop_kind, coro):
    if loop_kind == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def async_server(name, mode):
    async def main():
        async with ASharedMemoryManager(SharedMemory(f"{name}-in"), time_limit=30) as a_in, \
                ASharedMemoryManager(SharedMemory(f"{name}-out"), time_limit=30) as a_out:
            cm_in, cm_out = a_in(), a_out()
            while True:
                async with cm_in.if_has_messages() as shm:
                    value, offset = shm.value.take_message_2()
                    shm.value.destroy_obj(offset)
                if value == QUIT:
                    break
                async with cm_out as shm:
                    shm.value.put_message(value + 1)

    run_loop(mode, main())


def async_client(name, mode, count, results):
    async def round_trips(cm_in, cm_out, n):
        rtt = []
        for i in range(n):
            start = time.perf_counter_ns()
            async with cm_in as shm:
                shm.value.put_message(i)
            async with cm_out.if_has_messages() as shm:
                value, offset = shm.value.take_message_2()
                shm.value.destroy_obj(offset)
            rtt.append(time.perf_counter_ns() - start)
            assert value == i + 1
        return rtt

    async def main():
        requests = SharedMemory(f"{name}-in", create=True, size=4 * MiB)
        replies = SharedMemory(f"{name}-out", create=True, size=4 * MiB)
        async with ASharedMemoryManager(requests, time_limit=30) as a_in, \
                ASharedMemoryManager(replies, time_limit=30) as a_out:
            cm_in, cm_out = a_in(), a_out()
            await round_trips(cm_in, cm_out, count // 10)
            rtt = await round_trips(cm_in, cm_out, count)
            async with cm_in as shm:
                shm.value.put_message(QUIT)
            return rtt

    results.put(run_loop(mode, main()))


# ---- runs ----------------------------------------------------------------------------


def run_python_pair(mode, count):
    ctx = mp.get_context("spawn")
    name = f"ipo-lat-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    results = ctx.Queue()
    if mode.startswith("sync"):
        server, client = sync_server, sync_client
    else:
        server, client = async_server, async_client
    procs = [ctx.Process(target=client, args=(name, mode, count, results)),
             ctx.Process(target=server, args=(name, mode))]
    for p in procs:
        p.start()
    rtt = results.get(timeout=300)
    for p in procs:
        p.join(60)
    return rtt


def run_c_service(binary, count):
    name = f"ipo-lat-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    service = subprocess.Popen([binary, name], stdout=subprocess.PIPE, text=True)
    try:
        if service.stdout.readline().strip() != "ready":
            raise RuntimeError("the C service did not start")
        requests = SharedMemory(f"{name}-in", spin_budget=0)
        replies = SharedMemory(f"{name}-out", spin_budget=0)
        requests.init_consumer(time_limit=30)
        replies.init_consumer(time_limit=30)
        with requests, replies:
            sync_round_trips(requests, replies, count // 10)
            rtt = sync_round_trips(requests, replies, count)
            with wait_my_turn(requests):
                requests.put_message(QUIT)
        service.wait(30)
        return rtt
    finally:
        if service.poll() is None:
            service.kill()  # a killed service leaves its regions: remove them
            service.wait(30)
            for side in ("in", "out"):
                try:
                    os.unlink(f"/dev/shm/{name}-{side}")
                except FileNotFoundError:
                    pass


def run_c_limit(binary, kind, count):
    out = subprocess.run([binary, kind, str(count)], check=True, capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def time_pieces(loops=100_000, rounds=5):
    """The one-process pieces of one side's path, ns per loop (median of
    `rounds`), beside two plain C method calls measured in the same run."""
    name = f"ipo-lat-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    msg = bytes(range(64))
    sm = SharedMemory(name, create=True, size=4 * MiB)

    def two_c_calls():
        for _ in range(loops):
            sm.wait_my_turn()
            sm.release()

    def guard_made():
        for _ in range(loops):
            wait_my_turn(sm, time_limit=60)

    def empty_with():
        for _ in range(loops):
            with wait_my_turn(sm, time_limit=60):
                pass

    def put_take_destroy():
        sm.wait_my_turn()
        for _ in range(loops):
            sm.put_message(msg)
            _, offset = sm.take_message_2()
            sm.destroy_obj(offset)
        sm.release()

    def half_round_trip():
        for _ in range(loops):
            with wait_my_turn(sm, time_limit=60):
                sm.put_message(msg)
            with wait_my_turn_when_has_messages(sm, time_limit=60):
                _, offset = sm.take_message_2()
                sm.destroy_obj(offset)

    def empty_loop():
        for _ in range(loops):
            pass

    pieces = [("loop alone", empty_loop), ("wait_my_turn(); release()", two_c_calls),
              ("guard made, dropped", guard_made), ("empty with-block", empty_with),
              ("put, take_2, destroy", put_take_destroy), ("half a round trip", half_round_trip)]
    figures = {}
    try:
        for _ in range(rounds):  # alternated, so that a change of load moves all
            for label, fn in pieces:
                t = time.perf_counter_ns()
                fn()
                figures.setdefault(label, []).append((time.perf_counter_ns() - t) / loops)
    finally:
        sm.close()
    loop = statistics.median(figures["loop alone"])
    base = statistics.median(figures["wait_my_turn(); release()"]) - loop
    print(f"one side's pieces, one process, ns per loop less the loop's {loop:.0f} ns "
          f"(median of {rounds} rounds of {loops:,})")
    for label, _ in pieces[1:]:
        ns = statistics.median(figures[label]) - loop
        print(f"  {label:28} {ns:8.0f} ns   {ns / base:5.2f} x two C calls")


def summary(rtt):
    ordered = sorted(rtt)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--c-dir", default=os.path.join("build", "c"),
                        help="where latency_limits and ipo_echo_service were built")
    parser.add_argument("--pieces", action="store_true",
                        help="first time each piece of one side's path alone, in one process")
    args = parser.parse_args()
    if args.pieces:
        time_pieces()
    limits = os.path.join(args.c_dir, "latency_limits")
    service = os.path.join(args.c_dir, "ipo_echo_service")

    baselines = {}
    if os.access(limits, os.X_OK):
        baselines["spin"] = summary(run_c_limit(limits, "spin", args.count))
        baselines["sleep"] = summary(run_c_limit(limits, "eventfd", args.count))
    else:
        print(f"(no C baselines: {limits} is not built; `make bench` builds it)")

    print(f"round trips of a small message, {args.count} per mode, {os.cpu_count()} CPUs")
    print(f"  {'mode':22} {'median':>10} {'p99':>10}   ratio to the raw figure (median, p99)")
    rows = [("sync spin", "spin"), ("sync sleep", "sleep"), ("asyncio", "sleep"), ("uvloop", "sleep")]
    for mode, kind in rows:
        med, p99 = summary(run_python_pair(mode, args.count))
        line = f"  {mode:22} {med / 1000:8.1f}us {p99 / 1000:8.1f}us"
        if kind in baselines:
            bmed, bp99 = baselines[kind]
            line += f"   {med / bmed:6.1f} {p99 / bp99:6.1f}   (vs raw {kind})"
        print(line)
    if os.access(service, os.X_OK):
        med, p99 = summary(run_c_service(service, args.count))
        line = f"  {'C service (libuv)':22} {med / 1000:8.1f}us {p99 / 1000:8.1f}us"
        if "sleep" in baselines:
            bmed, bp99 = baselines["sleep"]
            line += f"   {med / bmed:6.1f} {p99 / bp99:6.1f}   (vs raw sleep)"
        print(line)
    for kind, label in (("spin", "raw C, shared cache line"), ("sleep", "raw C, eventfd + poll()")):
        if kind in baselines:
            med, p99 = baselines[kind]
            print(f"  {label:22} {med / 1000:8.1f}us {p99 / 1000:8.1f}us")


if __name__ == "__main__":
    main()

"""Recovery after a holder is killed: how long a waiter that sleeps on its
doorbell takes to get the turn by takeover, beside the sleeping round trip
measured in the same run.

Each round starts a process that takes access and holds it; this process's
waiter goes to sleep (spin budget 0); then the holder gets SIGKILL. Timed:
  kill -> turn   from the kill(2) call to the waiter holding the turn
  exit -> turn   from the moment the holder's own pidfd (polled here) says
                 it exited, to the turn: what the takeover itself costs
                 (the kernel's teardown of the dead process comes before)
The takeover includes the repair: the allocator's lists are rebuilt from a
walk of a heap holding `--blocks` live objects. Baseline: the sleeping round
trip (a put and a take each way, both sides asleep between) in this run.

Usage: python benchmarks/bench_recovery.py [--rounds N] [--blocks N]
"""

import argparse
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid

from ipc_py_objects import SharedMemory, wait_my_turn, wait_my_turn_when_has_messages

MiB = 1024 * 1024
HOLDER = """
import sys
from ipc_py_objects import SharedMemory
sm = SharedMemory(sys.argv[1], create=False)
assert sm.init_consumer(30)
assert sm.wait_my_turn(30)
print("held", flush=True)
sys.stdin.readline()
"""
ECHO = """
import sys
from ipc_py_objects import SharedMemory, wait_my_turn_when_has_messages, wait_my_turn
a = SharedMemory(sys.argv[1] + "-a", create=False, spin_budget=0)
b = SharedMemory(sys.argv[1] + "-b", create=False, spin_budget=0)
assert a.init_consumer(30) and b.init_consumer(30)
while True:
    with wait_my_turn_when_has_messages(a, 60):
        v, off = a.take_message_2()
        a.destroy_obj(off)
    with wait_my_turn(b, 60):
        b.put_message(v)
    if v < 0:
        break
"""


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def asleep(tid):
    with open(f"/proc/self/task/{tid}/syscall") as f:
        return f.read().split()[0] in ("7", "271")


def recovery(rounds, blocks):
    name = f"ipo-bench-rec-{uuid.uuid4().hex[:8]}"
    from_kill, from_exit = [], []
    with SharedMemory(name, create=True, size=64 * MiB, spin_budget=0) as sm:
        with wait_my_turn(sm, 10):
            for i in range(blocks):
                sm.put_message([i, str(i)])
        for _ in range(rounds):
            holder = subprocess.Popen([sys.executable, "-c", HOLDER, name], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
            assert holder.stdout.readline().strip() == "held"
            pidfd = os.pidfd_open(holder.pid)
            got = {}

            def wait():
                got["tid"] = threading.get_native_id()
                assert sm.wait_my_turn(10)
                got["at"] = time.perf_counter()
                assert sm.turn_cut_short
                sm.release()

            t = threading.Thread(target=wait)
            t.start()
            deadline = time.monotonic() + 10
            while "tid" not in got or not asleep(got["tid"]):
                if time.monotonic() > deadline:
                    raise RuntimeError("the waiter never slept")
                time.sleep(0.0005)
            killed = time.perf_counter()
            os.kill(holder.pid, signal.SIGKILL)
            select.select([pidfd], [], [], 10)
            exited = time.perf_counter()
            t.join(10)
            os.close(pidfd)
            holder.wait()
            from_kill.append(got["at"] - killed)
            from_exit.append(max(0.0, got["at"] - exited))
    return from_kill, from_exit


def round_trips(count):
    name = f"ipo-bench-rt-{uuid.uuid4().hex[:8]}"
    times = []
    with SharedMemory(name + "-a", create=True, size=MiB, spin_budget=0) as a, \
            SharedMemory(name + "-b", create=True, size=MiB, spin_budget=0) as b:
        echo = subprocess.Popen([sys.executable, "-c", ECHO, name])
        a.wait_consumer_ready(30)
        b.wait_consumer_ready(30)
        for i in range(count + 20):
            start = time.perf_counter()
            with wait_my_turn(a, 10):
                a.put_message(i)
            with wait_my_turn_when_has_messages(b, 10):
                v, off = b.take_message_2()
                b.destroy_obj(off)
            if i >= 20:
                times.append(time.perf_counter() - start)
        with wait_my_turn(a, 10):
            a.put_message(-1)
        with wait_my_turn_when_has_messages(b, 10):
            b.take_message()
        echo.wait(30)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--blocks", type=int, default=20000)
    args = ap.parse_args()
    print(f"recovery after kill -9 of the holder ({args.rounds} rounds, "
          f"{args.blocks} messages in the region), beside the sleeping round trip")
    rt = round_trips(500)
    from_kill, from_exit = recovery(args.rounds, args.blocks)
    rows = [("sleeping round trip (baseline)", rt), ("kill -> turn", from_kill),
            ("exit -> turn (the takeover)", from_exit)]
    print(f"  {'':34} {'p50':>10} {'p99':>10}")
    for label, v in rows:
        print(f"  {label:34} {pct(v, 0.5) * 1e6:8.0f} µs {pct(v, 0.99) * 1e6:8.0f} µs")
    print(f"  takeover p99 / (round trip p99): {pct(from_exit, 0.99) / pct(rt, 0.99):.2f}")


if __name__ == "__main__":
    main()

"""Bulk transfer and handoff between two processes, each figure beside its
baseline measured in the same run.

Shapes (1,000 messages each):
  batch       bytes(400_000): the sender puts as many as fit per turn, the
              receiver takes (a bytes copy) and destroys each. Baseline: the
              same copies, in the same order, in one process through a
              pre-faulted buffer of the region's size.
  ping-pong   bytes(400_000), one message in flight. Baselines:
              multiprocessing.shared_memory with two semaphores, and the same
              two copies in one process.
  ping-pong   64-byte payloads, where the handoff is the whole cost: messages
              per second against the semaphores.

Beside each shape, benchmarks/c/copy_limits runs the same copies between two
processes in plain C with a spin flag (copy in as a put does, with streaming
stores for large payloads; copy out into a new buffer, as a take does): a
reference for what moving the data between two processes costs on this
machine, where that costs more than the copies in one process do.

Each figure is the median of several runs (the machine is shared and noisy).
Usage: python benchmarks/bench_transfer.py [--runs N] [--messages N] [--c-limits PATH]
"""

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import time
import uuid
from multiprocessing import shared_memory

from ipc_py_objects import (
    FreeMemoryChunkNotFoundError,
    SharedMemory,
    wait_my_turn,
    wait_my_turn_when_has_messages,
)

MiB = 1024 * 1024
BULK = 400_000
SMALL = 64
REGION_SIZE = 200 * MiB


# ---- ipc_py_objects: the two processes -------------------------------------------


def make_payload(size):
    """Not zeros: a region's fresh pages are zero, so zeros would hide a copy
    that never happened."""
    return bytes(range(251)) * (size // 251) + bytes(range(size % 251))


def ipo_receiver(name, count, results):
    sm = SharedMemory(name)
    sm.init_consumer(time_limit=60)
    with sm:
        received = 0
        first = last = None
        while received < count:
            with wait_my_turn_when_has_messages(sm, time_limit=60):
                while sm.has_messages():
                    data, offset = sm.take_message_2()  # a bytes copy out of the region
                    sm.destroy_obj(offset)
                    received += 1
                    first = first or data
        end = time.perf_counter()
        last = data
        if first != last or first != make_payload(len(first)):
            raise AssertionError("a message arrived damaged")
        results.put(("end", end, len(data)))


def ipo_sender(name, count, payload_size, batch, go, results):
    """batch: put as many as fit per turn; else one message in flight."""
    payload = make_payload(payload_size)
    with SharedMemory(name, create=True, size=REGION_SIZE) as sm:
        sm.wait_consumer_ready(time_limit=60)
        go.wait(60)
        start = time.perf_counter()
        sent = 0
        while sent < count:
            with wait_my_turn(sm, time_limit=60):
                if batch:
                    try:
                        while sent < count:
                            sm.put_message(payload)
                            sent += 1
                    except FreeMemoryChunkNotFoundError:
                        pass  # full: the receiver's turn frees memory
                elif not sm.has_messages():  # the last one was taken
                    sm.put_message(payload)
                    sent += 1
        results.put(("start", start, sent))


def run_ipo(batch, count, payload_size):
    """Seconds from the first put to the last take, across two processes."""
    ctx = mp.get_context("spawn")
    name = f"ipo-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    results, go = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=ipo_receiver, args=(name, count, results)),
             ctx.Process(target=ipo_sender, args=(name, count, payload_size, batch, go, results))]
    for p in procs:
        p.start()
    go.set()
    got = dict((kind, (t, n)) for kind, t, n in (results.get(timeout=300) for _ in procs))
    for p in procs:
        p.join(60)
        if p.exitcode != 0:
            raise RuntimeError(f"a benchmark process failed with exit code {p.exitcode}")
    return got["end"][0] - got["start"][0]


# ---- baseline: multiprocessing.shared_memory and two semaphores ---------------------


def sem_receiver(shm_name, count, size, ready, done, results):
    shm = shared_memory.SharedMemory(name=shm_name)
    try:
        for _ in range(count):
            ready.acquire()
            data = bytes(shm.buf[:size])
            done.release()
        results.put(("end", time.perf_counter(), len(data)))
    finally:
        shm.close()


def sem_sender(shm_name, count, size, ready, done, go, results):
    shm = shared_memory.SharedMemory(name=shm_name)
    payload = make_payload(size)
    try:
        go.wait(60)
        start = time.perf_counter()
        for _ in range(count):
            shm.buf[:size] = payload
            ready.release()
            done.acquire()
        results.put(("start", start, count))
    finally:
        shm.close()


def run_semaphores(count, payload_size):
    ctx = mp.get_context("spawn")
    shm = shared_memory.SharedMemory(create=True, size=max(payload_size, 4096))
    try:
        results, go = ctx.Queue(), ctx.Event()
        ready, done = ctx.Semaphore(0), ctx.Semaphore(0)
        procs = [ctx.Process(target=sem_receiver, args=(shm.name, count, payload_size, ready, done, results)),
                 ctx.Process(target=sem_sender, args=(shm.name, count, payload_size, ready, done, go, results))]
        for p in procs:
            p.start()
        go.set()
        got = dict((kind, t) for kind, t, _ in (results.get(timeout=300) for _ in procs))
        for p in procs:
            p.join(60)
        return got["end"] - got["start"]
    finally:
        shm.close()
        shm.unlink()


# ---- baselines: the same copies in one process, and in C between two ----------------


def run_one_process_copies(count, payload_size, buffer_size):
    """Copy in, copy out, like put and take, in the shape's order: as many
    copies in as fit in a pre-faulted buffer of `buffer_size` bytes, then as
    many out. With buffer_size == payload_size that is one in, one out."""
    buf = bytearray(buffer_size)  # bytearray() zero-fills: every page is faulted in
    view = memoryview(buf)
    payload = make_payload(payload_size)
    per_turn = max(1, buffer_size // payload_size)
    start = time.perf_counter()
    done = 0
    while done < count:
        n = min(per_turn, count - done)
        for i in range(n):
            view[i * payload_size:(i + 1) * payload_size] = payload
        for i in range(n):
            data = bytes(view[i * payload_size:(i + 1) * payload_size])
        done += n
    seconds = time.perf_counter() - start
    assert len(data) == payload_size
    return seconds


def run_c_limit(binary, shape, count, payload_size, region_size=None):
    args = [binary, shape, str(payload_size), str(count)]
    if region_size:
        args.append(str(region_size))
    return float(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def median_time(runs, fn, *args):
    """The median time of `runs` runs: steadier than the best on a shared
    machine, where the scheduler sometimes puts both processes on one core."""
    return statistics.median(fn(*args) for _ in range(runs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--c-limits", default=os.path.join("build", "c", "copy_limits"),
                        help="the built benchmarks/c/copy_limits (make bench builds it)")
    args = parser.parse_args()
    n, runs = args.messages, args.runs
    c_limits = args.c_limits if os.access(args.c_limits, os.X_OK) else None
    gib = 1024 ** 3

    def gibs(seconds, count=n, size=BULK):
        return f"{count * size / seconds / gib:7.2f} GiB/s"

    print(f"{n} messages per figure, median of {runs} runs; region {REGION_SIZE // MiB} MiB; "
          f"{os.cpu_count()} CPUs")
    if not c_limits:
        print(f"(no C limits: {args.c_limits} is not built; `make bench` builds it)")
    print()

    batch = median_time(runs, run_ipo, True, n, BULK)
    batch_one = median_time(runs, run_one_process_copies, n, BULK, REGION_SIZE)
    print(f"batch, {BULK:,}-byte messages")
    print(f"  ipc_py_objects            {gibs(batch)}")
    print(f"  one-process copies        {gibs(batch_one)}   ratio {batch_one / batch:5.2f}  (target >= 0.80)")
    if c_limits:
        batch_c = median_time(runs, run_c_limit, c_limits, "batch", n, BULK, REGION_SIZE)
        print(f"  C, two processes          {gibs(batch_c)}   ratio {batch_c / batch:5.2f}")
    print()

    pp = median_time(runs, run_ipo, False, n, BULK)
    pp_sem = median_time(runs, run_semaphores, n, BULK)
    pp_one = median_time(runs, run_one_process_copies, n, BULK, BULK)
    print(f"ping-pong, {BULK:,}-byte messages, one in flight")
    print(f"  ipc_py_objects            {gibs(pp)}")
    print(f"  shared_memory+semaphores  {gibs(pp_sem)}   ratio {pp_sem / pp:5.2f}  (target > 1)")
    print(f"  one-process copies        {gibs(pp_one)}   ratio {pp_one / pp:5.2f}  (target >= 0.80)")
    if c_limits:
        pp_c = median_time(runs, run_c_limit, c_limits, "pingpong", n, BULK)
        print(f"  C, two processes          {gibs(pp_c)}   ratio {pp_c / pp:5.2f}")
    print()

    small_n = n * 20
    small = median_time(runs, run_ipo, False, small_n, SMALL)
    small_sem = median_time(runs, run_semaphores, small_n, SMALL)
    print(f"ping-pong, {SMALL}-byte messages, one in flight ({small_n} messages)")
    print(f"  ipc_py_objects            {small_n / small:12,.0f} messages/s")
    print(f"  shared_memory+semaphores  {small_n / small_sem:12,.0f} messages/s   "
          f"ratio {small_sem / small:6.2f}  (target >= 10)")
    if c_limits:
        small_c = median_time(runs, run_c_limit, c_limits, "pingpong", small_n, SMALL)
        print(f"  C, two processes          {small_n / small_c:12,.0f} messages/s   "
              f"ratio {small_c / small:6.2f}")
    print()
    print("ratio: the baseline's time over ipc_py_objects' (above 1: ipc_py_objects is faster)")


if __name__ == "__main__":
    main()

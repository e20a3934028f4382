"""One side of the poll ping-pong: two processes that both loop over
`async with cm as shm: ...; shm.existence = False`, as the seed's README
advises, and hand a message back and forth. How soon a change by one wakes
the other, measured as a round trip: the creator puts a message, the
consumer's next block sees it and puts one back, the creator's next block
sees that. Runs on our package and on the reference package alike (both are
imported as ipc_py_objects).

    python poll_ping_pong.py NAME creator|consumer COUNT LOOP

The creator prints the median and the 99th percentile round trip in
microseconds; the consumer prints nothing. Both leave after COUNT round
trips (the creator's last message, None, says so).
"""

import asyncio
import statistics
import sys
import time

from ipc_py_objects import ASharedMemoryManager, SharedMemory

WARMUP = 50


async def main(name, role, count):
    creator = role == "creator"
    sm = SharedMemory(name, create=True, size=4 * 1024 * 1024) if creator else SharedMemory(name)
    trips = []
    async with ASharedMemoryManager(sm) as asmm:
        cm = asmm()
        sent_at = None
        if creator:
            async with cm as shm:
                sent_at = time.perf_counter()
                shm.value.put_message(0)
        done = False
        while not done:
            async with cm as shm:
                region = shm.value
                if region.has_messages():
                    seen = region.take_message()
                    if creator:
                        now = time.perf_counter()
                        trips.append(now - sent_at)
                        last = len(trips) >= count + WARMUP
                        sent_at = now
                        region.put_message(None if last else seen + 1)
                        done = last
                    elif seen is None:
                        done = True
                    else:
                        region.put_message(seen)
                shm.existence = False
    if creator:
        trips = sorted(trips[WARMUP:])
        p99 = trips[min(len(trips) - 1, int(len(trips) * 0.99))]
        print(f"{statistics.median(trips) * 1e6:.1f} {p99 * 1e6:.1f}", flush=True)


if __name__ == "__main__":
    name, role, count, loop_kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main(name, role, count))
    else:
        asyncio.run(main(name, role, count))

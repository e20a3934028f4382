"""One side of the both-poll program: a coroutine that loops over
`async with cm as shm: shm.existence = False` with nothing to do, as the
seed's README advises desktop apps to. Runs on our package and on the
reference package alike (both are imported as ipc_py_objects).

    python both_poll.py NAME creator|consumer END LOOP

Polls until the wall-clock time END (time.time(), the same for both sides),
prints the CPU seconds this process used per wall second while polling,
and leaves a second later, so that neither side sees the other leave while
it measures.
"""

import asyncio
import resource
import sys
import time

from ipc_py_objects import ASharedMemoryManager, SharedMemory


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main(name, role, end):
    sm = SharedMemory(name, create=True, size=4 * 1024 * 1024) if role == "creator" else SharedMemory(name)
    async with ASharedMemoryManager(sm) as asmm:
        cm = asmm()

        stop = False

        async def poll():
            while not stop:
                async with cm as shm:
                    shm.existence = False

        cpu, wall = cpu_seconds(), time.monotonic()
        task = asyncio.create_task(poll())
        await asyncio.sleep(max(0.0, end - time.time()))
        # A loop that keeps turning (the reference package's) sees the flag;
        # one asleep until a change comes (ours) is cancelled.
        stop = True
        done, _ = await asyncio.wait([task], timeout=0.5)
        if not done:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        share = (cpu_seconds() - cpu) / (time.monotonic() - wall)
        await asyncio.sleep(max(0.0, end + 1.0 - time.time()))
    print(f"{share:.6f}", flush=True)


if __name__ == "__main__":
    name, role, end, loop_kind = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main(name, role, end))
    else:
        asyncio.run(main(name, role, end))

"""The sender of the original-style example: the same calls, in the same
order and from the same places, as the original package's example/sender.py
(our own program, about a station instead of a company).

It puts one dataclass holding the others, lets the manager sleep between its
polls (existence = False) until the receiver flags the job done, then reads
the shared object after its last block, outside any turn."""

import asyncio
import sys

import numpy as np

from ipc_py_objects import *
from station_types import *

REGION = sys.argv[1]

# Positionally, as the original: name, create, size.
ashared_memory_manager: ASharedMemoryManager = ASharedMemoryManager(SharedMemory(REGION, True, 200 * 1024**2))


def printval(name, value):
    print(f"> {name}:\n\t{value}\n")


def printtitle(name):
    title = f"<<< {name}: >>>"
    print("=" * len(title))
    print(title)
    print("=" * len(title))
    print()


async def sender():
    job: SharedJob = SharedJob(
        job_done=False,
        counter=18,
        label="Hello, ",
        readings={
            "r1": 1,
            ("r", 2): "value2",
            "r3": np.array([1, 2, 3], dtype=np.int32),
        },
        station=StationInfo(
            station_id=1,
            contacts=("ops@station.example", "desk@station.example"),
            urls=["http://station.example", "http://station.example/status"],
            output=1_000_000.0,
            staff=10,
            on_duty=Operator("Ada Smith", 30, Shift.early, 2),
            metrics=intenum_dict_to_list({
                StationMetrics.urls: ["http://station.example", "http://station.example/status"],
                StationMetrics.avg_load: 3_000.0,
                StationMetrics.staff: 10,
                StationMetrics.healthy: True,
            }),
        ),
    )

    async with ashared_memory_manager as asmm:
        print("Sender is ready.")
        ashared_memory_context_manager: ASharedMemoryContextManager = asmm()

        async with ashared_memory_context_manager as shared_memory:
            job_mapped: SharedJob = shared_memory.value.put_message(job)  # `job` is `job_mapped`

        while True:
            async with ashared_memory_context_manager as shared_memory:
                shared_memory.existence = False  # sleep until another process changes something
                if job.job_done:
                    break

        # The receiver is done and may have left: read what it changed,
        # outside any block, as the original example does.
        printtitle("Fields changed by the receiver")
        printval("job.job_done", job.job_done)
        printval("job.counter", job.counter)
        printval("job.label", job.label)
        printval("job.readings", job.readings)
        printval("job.station.output", job.station.output)
        printval("job.station.on_duty.shifts_done", job.station.on_duty.shifts_done)
        printval("job.station.on_duty.age", job.station.on_duty.age)
        printval("job.station.metrics[StationMetrics.yearly_output]", job.station.metrics[StationMetrics.yearly_output])
        printval("job.station.metrics[StationMetrics.contacts]", job.station.metrics[StationMetrics.contacts])
        printval("job.station.metrics[StationMetrics.urls]", job.station.metrics[StationMetrics.urls])
        printval("job.station.metrics[StationMetrics.avg_load]", job.station.metrics[StationMetrics.avg_load])
        printval("job.station.metrics[StationMetrics.staff]", job.station.metrics[StationMetrics.staff])
        printval("job.station.metrics[StationMetrics.healthy]", job.station.metrics[StationMetrics.healthy])

        printtitle("Resulting content")
        printval("job", job)
        printval("job.station", job.station)
        printval("job.station.on_duty", job.station.on_duty)


if __name__ == "__main__":
    print("Sender is starting its work.")
    asyncio.run(sender())
    print("Sender has finished its work.")

"""The receiver of the original-style example: the same calls, in the same
order and from the same places, as the original package's
example/receiver.py (our own program, about a station).

It takes the message, keeps local references to shared parts, changes them
in three blocks (through locals, then through chains of attributes), and
flags the job done in a last block."""

import asyncio
import sys

import numpy as np

from ipc_py_objects import *
from station_types import *

REGION = sys.argv[1]

ashared_memory_manager: ASharedMemoryManager = ASharedMemoryManager(SharedMemory(REGION))


async def receiver():
    async with ashared_memory_manager as asmm:
        print("Receiver is ready.")
        ashared_memory_context_manager: ASharedMemoryContextManager = asmm()

        async with ashared_memory_context_manager.if_has_messages() as shared_memory:
            job: SharedJob = shared_memory.value.take_message()
            metrics: list = job.station.metrics
            on_duty: Operator = job.station.on_duty
            readings: dict = job.readings
            samples: np.ndarray = readings["r3"]

        # Through the local references.
        async with ashared_memory_context_manager as shared_memory:
            k = metrics[StationMetrics.avg_load]
            k = metrics[StationMetrics.staff]
            k = metrics[StationMetrics.healthy]
            k = metrics[StationMetrics.urls]
            metrics[StationMetrics.yearly_output] = 2_000_000.0
            metrics[StationMetrics.staff] = 20
            metrics[StationMetrics.avg_load] = 5_000.0
            metrics[StationMetrics.healthy] = None
            metrics[StationMetrics.healthy] = False
            metrics[StationMetrics.avg_load] += 1.1
            metrics[StationMetrics.staff] += 1
            metrics[StationMetrics.contacts] = tuple()
            metrics[StationMetrics.contacts] = ("ops@station.example",)
            metrics[StationMetrics.contacts] = ("ops@station.example", "desk@station.example")
            metrics[StationMetrics.urls] = ["http://station.example", "http://station.example/status"]

            on_duty.log_shift()  # a method changes shared fields

            k = job.counter
            k = job.label
            job.counter = 200
            job.counter += 1
            job.label = "Hello. "
            job.label += "!"

            samples += 10
            samples -= 15

            k = readings["r1"]
            k = readings[("r", 2)]
            readings["r1"] = 200
            readings["r1"] += 3
            readings["r1"] *= 1
            readings[("r", 2)] = "value2"
            readings[("r", 2)] = readings[("r", 2)] + "d"
            readings[("r", 2)] = "value2"
            readings[("r", 2)] += "d"

        # Through chains of attributes.
        async with ashared_memory_context_manager as shared_memory:
            job.station.on_duty.log_shift()
            k = job.station.output
            job.station.output = 3_000_000.0
            job.station.output *= 1.1
            job.station.output += 500_000.0
            readings["r3"] += 10

        # Tell the sender the job is done.
        async with ashared_memory_context_manager as shared_memory:
            job.job_done = True


if __name__ == "__main__":
    print("Receiver is starting its work.")
    asyncio.run(receiver())
    print("Receiver has finished its work.")

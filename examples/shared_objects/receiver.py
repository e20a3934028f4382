"""The shared-objects example, receiver side (asyncio): takes the report,
changes it through the views, and marks it reviewed. See sender.py."""

import asyncio
import sys

from ipc_py_objects import ASharedMemoryManager, SharedMemory
from model import Metric

REGION = sys.argv[1] if len(sys.argv) > 1 else "ipc_py_objects_shared_objects"


async def main() -> int:
    manager = ASharedMemoryManager(SharedMemory(REGION))
    async with manager as asmm:  # waits for the sender's region
        access = asmm()
        async with access.if_has_messages() as shared:
            report = shared.value.take_message()
            # Views taken once and kept: each later access is one C call.
            metrics = report.company.metrics
            lead = report.company.lead
            data = report.data
            samples = data["samples"]  # a numpy array over shared memory

        async with access as shared:
            metrics[Metric.headcount] = 20
            metrics[Metric.headcount] += 1
            metrics[Metric.contacts] = ("office@example.com",)
            metrics[Metric.avg_salary] += 1.5
            lead.celebrate_anniversary()  # the class's own method, shared fields
            report.counter = 200
            report.counter += 1
            report.title += ", reviewed!"
            samples += 10  # numpy arithmetic, in place, in shared memory
            data[("region", 2)] += "-east"
            report.company.revenue *= 1.5
            report.company.revenue += 150_000.0
            print(f"receiver: reviewed {report.title!r} of company {report.company.company_id}")

        async with access as shared:
            report.reviewed = True  # the sender is waiting for this
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

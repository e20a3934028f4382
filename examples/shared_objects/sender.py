"""The shared-objects example, sender side (asyncio).

It puts one Report (a dataclass holding a dict with a numpy array, a plain
class with a method, an IntEnum-indexed list) into shared memory, then idles
until the receiver has reviewed it, and prints what the receiver changed.
`make demo` runs both sides; by hand: `python receiver.py NAME &` then
`python sender.py NAME`, from this folder.
"""

import asyncio
import sys

import numpy as np

from ipc_py_objects import ASharedMemoryManager, SharedMemory, intenum_dict_to_list
from model import Company, Employee, Metric, Report, Role

REGION = sys.argv[1] if len(sys.argv) > 1 else "ipc_py_objects_shared_objects"


def build_report() -> Report:
    return Report(
        reviewed=False,
        counter=18,
        title="Quarterly",
        data={"visits": 1, ("region", 2): "north", "samples": np.array([1, 2, 3], dtype=np.int32)},
        company=Company(
            company_id=7,
            contacts=("office@example.com", "help@example.com"),
            websites=["https://example.com"],
            revenue=1_000_000.0,
            lead=Employee("Ada", 36, Role.manager, years=4),
            metrics=intenum_dict_to_list({
                Metric.headcount: 10,
                Metric.avg_salary: 3_000.0,
                Metric.healthy: True,
                Metric.websites: ["https://example.com"],
            }),
        ),
    )


async def main() -> int:
    report = build_report()
    manager = ASharedMemoryManager(SharedMemory(REGION, create=True, size=64 * 1024**2))
    async with manager as asmm:  # creates the region and waits for the receiver
        access = asmm()
        async with access as shared:
            mapped = shared.value.put_message(report)
        # The dataclass was mapped in place: `report` itself now lives in shared memory.
        assert mapped is report
        print("sender: put the report; waiting for the review")
        while True:
            async with access as shared:
                if not report.reviewed:
                    # Nothing to do until the receiver has had a turn: sleep
                    # (no CPU) until another process releases access.
                    shared.existence = False
                    continue
                company = report.company
                print(f"sender: counter {report.counter}, title {report.title!r}")
                print(f"sender: data {dict(report.data.items())!r}")
                print(f"sender: lead {company.lead!r}")
                print(f"sender: metrics {list(company.metrics)!r}")
                print(f"sender: revenue {company.revenue:.1f}")
                ok = (report.counter == 201 and report.title == "Quarterly, reviewed!"
                      and company.lead.years == 5 and company.lead.age == 37
                      and company.metrics[Metric.headcount] == 21
                      and company.metrics[Metric.contacts] == ("office@example.com",)
                      and report.data["samples"].tolist() == [11, 12, 13]
                      and report.data[("region", 2)] == "north-east"
                      and company.revenue == 1_650_000.0)
                break
    print("sender: every change arrived" if ok else "sender: some change is missing")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

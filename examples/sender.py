"""The demo's sender: creates a region, waits for the receiver, sends messages.

Run examples/receiver.py in another terminal (either one first), or `make demo`.
"""

import sys
import time

from ipc_py_objects import SharedMemory, FreeMemoryChunkNotFoundError, wait_my_turn

REGION = sys.argv[1] if len(sys.argv) > 1 else "ipc_py_objects_demo"
MiB = 1024 * 1024

GREETINGS = [
    "Hello from the sender!",
    "Grüße, こんにちは, 🙂",
    42,
    2**100 + 1,
    3.141592653589793,
    True,
    None,
    b"\x00\x01raw bytes\xff",
    bytearray(b"a mutable bytearray"),
]
BULK_COUNT = 200
BULK = bytes(range(256)) * 4096  # 1 MiB


def main() -> None:
    with SharedMemory(REGION, create=True, size=64 * MiB) as sm:
        print(f"sender: created region {sm.name!r} of {sm.size // MiB} MiB; waiting for the receiver")
        if not sm.wait_consumer_ready(time_limit=30):
            sys.exit("sender: no receiver attached within 30 s")

        with wait_my_turn(sm):
            for value in GREETINGS:
                sm.put_message(value)
        print(f"sender: sent {len(GREETINGS)} greetings of {len({type(v) for v in GREETINGS})} types")

        # Bulk: as many 1 MiB messages as fit per turn; when the region is
        # full, give the receiver a turn to take (and free) some.
        start = time.perf_counter()
        sent = 0
        while sent < BULK_COUNT:
            with wait_my_turn(sm, time_limit=30):
                try:
                    while sent < BULK_COUNT:
                        sm.put_message(BULK)
                        sent += 1
                except FreeMemoryChunkNotFoundError:
                    pass
        with wait_my_turn(sm):
            sm.put_message("END")
        seconds = time.perf_counter() - start
        print(f"sender: sent {sent} messages of 1 MiB in {seconds * 1000:.1f} ms")
    print("sender: closed the region")


if __name__ == "__main__":
    main()

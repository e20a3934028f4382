"""The demo's receiver: attaches to the sender's region and prints what arrives."""

import sys
import time

from ipc_py_objects import SharedMemory, wait_my_turn_when_has_messages

REGION = sys.argv[1] if len(sys.argv) > 1 else "ipc_py_objects_demo"


def main() -> None:
    sm = SharedMemory(REGION)
    # Waits for the sender to create the region; False if it did not in time.
    if not sm.init_consumer(time_limit=30):
        sys.exit(f"receiver: no region {REGION!r} appeared within 30 s: is the sender running?")
    with sm:  # closes (detaches) on leaving
        print(f"receiver: attached to {sm.name!r} ({sm.size // (1024 * 1024)} MiB)")
        bulk_count = bulk_bytes = 0
        start = None
        done = False
        while not done:
            with wait_my_turn_when_has_messages(sm, time_limit=30):
                while sm.has_messages():
                    value, offset = sm.take_message_2()
                    sm.destroy_obj(offset)  # its memory goes back to the region
                    if value == "END":
                        done = True
                        break
                    if isinstance(value, bytes) and len(value) >= 1024 * 1024:
                        start = start or time.perf_counter()
                        bulk_count += 1
                        bulk_bytes += len(value)
                    else:
                        print(f"receiver: got {type(value).__name__:9} {value!r}")
        seconds = time.perf_counter() - start if start else 0.0
        print(f"receiver: got {bulk_count} bulk messages, {bulk_bytes / 2**30:.2f} GiB"
              + (f", {bulk_bytes / seconds / 2**30:.2f} GiB/s" if seconds else ""))


if __name__ == "__main__":
    main()

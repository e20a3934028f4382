"""Sync bulk transfer, receiver, in the style of the original author's
shared_objects__transfer_sync__receiver.py (our own program): takes and
destroys every message, checks each payload, reports the throughput."""

import sys
import time

from ipc_py_objects import *

REGION = sys.argv[1]
PAYLOAD = bytes(range(256)) * 1562 + bytes(range(128))

# Made and never used, as the original's receiver does: a consumer that is
# never attached costs nothing and holds no slot.
ashared_memory_manager: ASharedMemoryManager = ASharedMemoryManager(SharedMemory(REGION))


def receiver():
    with SharedMemory(REGION) as sm:
        sm.init_consumer()
        print("Receiver is ready.")

        done = False
        received = intact = 0
        with wait_my_turn_when_has_messages(sm):
            flags = sm.take_message()
            flags[0] = True
            done = flags[1]

        start = time.perf_counter()
        while not done:
            with wait_my_turn_when_has_messages(sm, periodic_sleep_time=None):
                while sm.has_messages():
                    data, offset = sm.take_message_2()
                    sm.destroy_obj(offset)
                    received += 1
                    intact += data == PAYLOAD
                    flags[0] = True
                    done = flags[1]
        seconds = time.perf_counter() - start
        print(f"received {received} messages of {len(PAYLOAD)} bytes, {intact} intact, "
              f"{received * len(PAYLOAD) / seconds / 2**30:.2f} GiB/s")
        print("Receiver is done.")


if __name__ == "__main__":
    ensure_adjusted_pythonhashseed(pythonhashseed=0)
    print("Receiver is starting its work.")
    receiver()
    print("Receiver has finished its work.")

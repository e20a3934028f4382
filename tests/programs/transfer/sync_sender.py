"""Sync bulk transfer, sender, in the style of the original author's
shared_objects__transfer_sync__sender.py (our own program): a shared flag
list, then as many 400 kB messages per turn as fit, until all are sent."""

import sys

from ipc_py_objects import *

REGION = sys.argv[1]
COUNT = int(sys.argv[2])
PAYLOAD = bytes(range(256)) * 1562 + bytes(range(128))  # 400_000 bytes, not zeros


def sender():
    with SharedMemory(REGION, True, 64 * 1024**2) as sm:
        sm.wait_consumer_ready()
        with wait_my_turn(sm):
            flags = sm.put_message([False, False])  # [receiver wants more, all sent]

        to_send = COUNT
        while to_send:
            with wait_my_turn(sm, periodic_sleep_time=None):
                if flags[0]:
                    try:
                        while to_send:
                            sm.put_message(PAYLOAD)
                            to_send -= 1
                            if not to_send:
                                flags[1] = True
                    except FreeMemoryChunkNotFoundError:
                        pass  # full: the receiver frees what it takes
                    finally:
                        flags[0] = False

        # Wait for the receiver's last word before the region goes.
        while True:
            with wait_my_turn(sm):
                if flags[0]:
                    flags[0] = False
                    break
        print("Sender is done.")


if __name__ == "__main__":
    ensure_adjusted_pythonhashseed(pythonhashseed=0)
    print("Sender is starting its work.")
    sender()
    print("Sender has finished its work.")
